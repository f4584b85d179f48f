/**
 * The two vendor wire formats, written by hand from the vendors' documented shapes, so that the
 * conformance suite can script one normalised scenario and have each local server speak it.
 */
import { Redacted } from "effect"
import type { Provider } from "rath"
import { Anthropic, OpenAi } from "rath"
import { sse } from "./server.js"

export interface Scenario {
  readonly id: string
  readonly model: string
  readonly reasoning?: string
  readonly text?: ReadonlyArray<string>
  readonly toolCalls?: ReadonlyArray<
    { readonly id: string; readonly name: string; readonly args: ReadonlyArray<string> }
  >
  readonly usage: {
    readonly input: number
    readonly output: number
    readonly cached?: number
    /** Output tokens spent on reasoning (OpenAI's `completion_tokens_details`; Anthropic has none). */
    readonly reasoning?: number
  }
  readonly finish: "stop" | "tool_calls" | "length" | "unknown"
}

export interface Wire {
  readonly kind: string
  readonly path: string
  readonly requestIdHeader: string
  readonly make: (
    url: string,
    options?: { readonly timeoutMillis?: number; readonly model?: string; readonly maxResponseBytes?: number }
  ) => Provider.Service
  /** SSE frames for a scenario; `cutAfterMetadata` stops after the opening frame. */
  readonly stream: (scenario: Scenario) => Array<string>
  readonly opening: (scenario: Scenario) => Array<string>
  readonly json: (scenario: Scenario) => unknown
  readonly error: (message: string, type: string) => unknown
  /** The model named in a request body the server received. */
  readonly maxTokensOf: (body: any) => unknown
}

export const KEY = "sk-test-0123456789-SECRET"

const openAiFinish = { stop: "stop", tool_calls: "tool_calls", length: "length", unknown: "eos_weird" } as const

const openAiChunk = (s: Scenario, delta: unknown, finish: string | null = null) => ({
  id: s.id,
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: s.model,
  choices: [{ index: 0, delta, finish_reason: finish }]
})

const openAiUsage = (s: Scenario) => ({
  prompt_tokens: s.usage.input,
  completion_tokens: s.usage.output,
  total_tokens: s.usage.input + s.usage.output,
  ...(s.usage.cached === undefined ? {} : { prompt_tokens_details: { cached_tokens: s.usage.cached } }),
  ...(s.usage.reasoning === undefined ? {} : { completion_tokens_details: { reasoning_tokens: s.usage.reasoning } })
})

export const openAiWire: Wire = {
  kind: "openai",
  path: "/v1/chat/completions",
  requestIdHeader: "x-request-id",
  make: (url, options) =>
    OpenAi.make({
      apiKey: Redacted.make(KEY),
      baseUrl: `${url}/v1`,
      model: options?.model ?? "default-model",
      ...(options?.timeoutMillis === undefined ? {} : { timeoutMillis: options.timeoutMillis }),
      ...(options?.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes })
    }),
  opening: (s) => [sse(openAiChunk(s, { role: "assistant", content: "" }))],
  stream: (s) => {
    const frames = openAiWire.opening(s)
    if (s.reasoning !== undefined) frames.push(sse(openAiChunk(s, { reasoning_content: s.reasoning })))
    for (const text of s.text ?? []) frames.push(sse(openAiChunk(s, { content: text })))
    ;(s.toolCalls ?? []).forEach((call, index) => {
      frames.push(sse(openAiChunk(s, {
        tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }]
      })))
      for (const piece of call.args) {
        frames.push(sse(openAiChunk(s, { tool_calls: [{ index, function: { arguments: piece } }] })))
      }
    })
    frames.push(sse(openAiChunk(s, {}, openAiFinish[s.finish])))
    frames.push(sse({
      id: s.id,
      object: "chat.completion.chunk",
      created: 1_700_000_000,
      model: s.model,
      choices: [],
      usage: openAiUsage(s)
    }))
    frames.push(sse("[DONE]"))
    return frames
  },
  json: (s) => ({
    id: s.id,
    object: "chat.completion",
    created: 1_700_000_000,
    model: s.model,
    choices: [{
      index: 0,
      finish_reason: openAiFinish[s.finish],
      message: {
        role: "assistant",
        content: (s.text ?? []).join("") === "" ? null : (s.text ?? []).join(""),
        ...(s.reasoning === undefined ? {} : { reasoning_content: s.reasoning }),
        ...(s.toolCalls === undefined ? {} : {
          tool_calls: s.toolCalls.map((call) => ({
            id: call.id,
            type: "function",
            function: { name: call.name, arguments: call.args.join("") }
          }))
        })
      }
    }],
    usage: openAiUsage(s)
  }),
  error: (message, type) => ({ error: { message, type, code: type } }),
  maxTokensOf: (body) => body.max_tokens
}

const anthropicFinish = {
  stop: "end_turn",
  tool_calls: "tool_use",
  length: "max_tokens",
  unknown: "weird_reason"
} as const

const anthropicUsage = (s: Scenario, output: number) => ({
  input_tokens: s.usage.input - (s.usage.cached ?? 0),
  cache_read_input_tokens: s.usage.cached ?? 0,
  cache_creation_input_tokens: 0,
  output_tokens: output
})

export const anthropicWire: Wire = {
  kind: "anthropic",
  path: "/v1/messages",
  requestIdHeader: "request-id",
  make: (url, options) =>
    Anthropic.make({
      apiKey: Redacted.make(KEY),
      baseUrl: url,
      model: options?.model ?? "default-model",
      maxTokens: 1024,
      ...(options?.timeoutMillis === undefined ? {} : { timeoutMillis: options.timeoutMillis }),
      ...(options?.maxResponseBytes === undefined ? {} : { maxResponseBytes: options.maxResponseBytes })
    }),
  opening: (s) => [
    sse({
      type: "message_start",
      message: {
        id: s.id,
        type: "message",
        role: "assistant",
        model: s.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: anthropicUsage(s, 1)
      }
    }, "message_start")
  ],
  stream: (s) => {
    const frames = anthropicWire.opening(s)
    let index = 0
    const block = (start: unknown, deltas: Array<unknown>) => {
      frames.push(sse({ type: "content_block_start", index, content_block: start }, "content_block_start"))
      for (const delta of deltas) frames.push(sse({ type: "content_block_delta", index, delta }, "content_block_delta"))
      frames.push(sse({ type: "content_block_stop", index }, "content_block_stop"))
      index++
    }
    frames.push(sse({ type: "ping" }, "ping"))
    if (s.reasoning !== undefined) {
      block({ type: "thinking", thinking: "", signature: "" }, [
        { type: "thinking_delta", thinking: s.reasoning },
        { type: "signature_delta", signature: "sig" }
      ])
    }
    if (s.text !== undefined) {
      block({ type: "text", text: "" }, s.text.map((text) => ({ type: "text_delta", text })))
    }
    for (const call of s.toolCalls ?? []) {
      block(
        { type: "tool_use", id: call.id, name: call.name, input: {} },
        ["", ...call.args].map((partial_json) => ({ type: "input_json_delta", partial_json }))
      )
    }
    frames.push(sse({
      type: "message_delta",
      delta: { stop_reason: anthropicFinish[s.finish], stop_sequence: null },
      usage: { output_tokens: s.usage.output }
    }, "message_delta"))
    frames.push(sse({ type: "message_stop" }, "message_stop"))
    return frames
  },
  json: (s) => ({
    id: s.id,
    type: "message",
    role: "assistant",
    model: s.model,
    content: [
      ...(s.reasoning === undefined ? [] : [{ type: "thinking", thinking: s.reasoning, signature: "sig" }]),
      ...(s.text === undefined ? [] : [{ type: "text", text: s.text.join("") }]),
      ...(s.toolCalls ?? []).map((call) => ({
        type: "tool_use",
        id: call.id,
        name: call.name,
        input: call.args.join("") === "" ? {} : JSON.parse(call.args.join(""))
      }))
    ],
    stop_reason: anthropicFinish[s.finish],
    stop_sequence: null,
    usage: anthropicUsage(s, s.usage.output)
  }),
  error: (message, type) => ({ type: "error", error: { type, message } }),
  maxTokensOf: (body) => body.max_tokens
}

export const wires: ReadonlyArray<Wire> = [openAiWire, anthropicWire]
