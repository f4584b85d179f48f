/**
 * The Anthropic adapter: the Messages API on `@anthropic-ai/sdk`.
 *
 * System entries are joined into `system`; consecutive tool results (and any user text that
 * follows them) are grouped into one user message with several `tool_result` blocks; tool choice
 * maps to `auto`/`none`/`any`/`tool`; stop reasons are mapped (unknown ones are `"other"`);
 * usage comes from `message_start` and `message_delta`; thinking blocks become reasoning;
 * `max_tokens` is the request's or the configured default. The SDK's retries are off. Streamed
 * tool inputs are written as `JSON.stringify` writes the non-streaming `input` object, so `chat`
 * and an accumulated `stream` record the same argument text.
 *
 * @since 0.1.0
 */
import type Anthropic from "@anthropic-ai/sdk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as Entry from "../Entry.js"
import * as Lazy from "../internal/lazy.js"
import * as Http from "../internal/providerHttp.js"
import * as Provider from "../Provider.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly apiKey: Redacted.Redacted<string>
  /** Default `https://api.anthropic.com`. */
  readonly baseUrl?: string | undefined
  readonly model: string
  /** `max_tokens` when a request sets none (the Messages API requires one). */
  readonly maxTokens: number
  readonly headers?: Record<string, string> | undefined
  /**
   * Request timeout in milliseconds (default 10 minutes, the SDK's): the wait for the response,
   * and for streams also the longest silence between two events.
   */
  readonly timeoutMillis?: number | undefined
  /** The kind recorded in entries (default `"anthropic"`). */
  readonly kind?: string | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const DEFAULT_BASE_URL = "https://api.anthropic.com"

/**
 * The `max_tokens` that `ProviderConfig` uses for an Anthropic provider whose configuration sets
 * none (`maxTokens` in the config file overrides it; a request's `maxTokens` overrides both).
 *
 * @since 0.1.0
 * @category constructors
 */
export const DEFAULT_MAX_TOKENS = 4096

// -----------------------------------------------------------------------------
// request rendering
// -----------------------------------------------------------------------------

type Block = Record<string, unknown>
interface Message {
  role: "user" | "assistant"
  content: Array<Block>
}

/**
 * Renders a request's messages as Messages API `system` text and messages.
 *
 * Reasoning of earlier assistant turns is not sent back (Anthropic needs the signature of a
 * thinking block to accept it, and rath keeps only its text). Consecutive user-side blocks (tool
 * results, user text) form one user message, tool results first, as the API requires.
 *
 * @since 0.1.0
 * @category combinators
 */
export const renderMessages = (
  messages: ReadonlyArray<Provider.Message>
): { readonly system: string | undefined; readonly messages: Array<Message> } => {
  const system: Array<string> = []
  const out: Array<Message> = []
  const push = (role: Message["role"], blocks: Array<Block>) => {
    if (blocks.length === 0) return
    const last = out[out.length - 1]
    if (last !== undefined && last.role === role) {
      // tool_result blocks go before any text in a user message
      last.content = role === "user"
        ? [
          ...last.content.filter((b) => b.type === "tool_result"),
          ...blocks.filter((b) => b.type === "tool_result"),
          ...last.content.filter((b) => b.type !== "tool_result"),
          ...blocks.filter((b) => b.type !== "tool_result")
        ]
        : [...last.content, ...blocks]
    } else {
      out.push({ role, content: blocks })
    }
  }
  for (const message of messages) {
    switch (message._tag) {
      case "System":
        system.push(message.text)
        break
      case "User":
        push("user", [{ type: "text", text: message.text }])
        break
      case "Assistant":
        push("assistant", [
          ...(message.text === "" ? [] : [{ type: "text", text: message.text }]),
          ...message.toolCalls.map((call) => ({
            type: "tool_use",
            id: call.id,
            name: call.name,
            input: typeof call.parsed === "object" && call.parsed !== null ? call.parsed : {}
          }))
        ])
        break
      case "ToolResult":
        push("user", [{
          type: "tool_result",
          tool_use_id: message.callId,
          content: Provider.toolResultText(message),
          ...(message.error === undefined ? {} : { is_error: true })
        }])
        break
    }
  }
  return { system: system.length === 0 ? undefined : system.join("\n\n"), messages: out }
}

/**
 * The Messages API body for a request (without `stream`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const renderRequest = (
  request: Provider.Request,
  options: Pick<Options, "model" | "maxTokens">
): Record<string, unknown> => {
  const rendered = renderMessages(request.messages)
  const body: Record<string, unknown> = {
    model: request.model ?? options.model,
    max_tokens: request.maxTokens ?? options.maxTokens,
    messages: rendered.messages
  }
  if (rendered.system !== undefined) body.system = rendered.system
  if (request.tools !== undefined && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      input_schema: tool.parameters
    }))
  }
  if (request.toolChoice !== undefined) {
    const choice = request.toolChoice
    body.tool_choice = choice === "auto"
      ? { type: "auto" }
      : choice === "none"
      ? { type: "none" }
      : choice === "required"
      ? { type: "any" }
      : { type: "tool", name: choice.tool }
  }
  if (request.temperature !== undefined) body.temperature = request.temperature
  if (request.topP !== undefined) body.top_p = request.topP
  if (request.stop !== undefined && request.stop.length > 0) body.stop_sequences = [...request.stop]
  if (request.responseFormat?.type === "json_schema") {
    body.output_config = { format: { type: "json_schema", schema: request.responseFormat.schema } }
  }
  return { ...body, ...request.extra }
}

// -----------------------------------------------------------------------------
// response normalisation
// -----------------------------------------------------------------------------

/**
 * Maps a Messages API stop reason; unknown reasons are `"other"`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const finishReason = (reason: unknown): Entry.FinishReason => {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool_calls"
    case "refusal":
      return "content_filter"
    default:
      return "other"
  }
}

const isObject = (u: unknown): u is Record<string, any> => typeof u === "object" && u !== null
const num = (u: unknown): number | undefined => typeof u === "number" && Number.isFinite(u) ? u : undefined

interface RawUsage {
  input: number | undefined
  cacheRead: number | undefined
  cacheWrite: number | undefined
  output: number | undefined
  reasoning: number | undefined
}

const mergeUsage = (into: RawUsage, raw: unknown): void => {
  if (!isObject(raw)) return
  into.input = num(raw.input_tokens) ?? into.input
  into.cacheRead = num(raw.cache_read_input_tokens) ?? into.cacheRead
  into.cacheWrite = num(raw.cache_creation_input_tokens) ?? into.cacheWrite
  into.output = num(raw.output_tokens) ?? into.output
  into.reasoning = num(raw.output_tokens_details?.reasoning_tokens) ?? into.reasoning
}

/**
 * Normalised usage: `inputTokens` counts every input token (uncached + cache reads + cache
 * writes, which Anthropic reports apart); `cachedInputTokens` are the cache reads.
 */
const normaliseUsage = (raw: RawUsage): Entry.Usage | undefined => {
  if (raw.input === undefined && raw.output === undefined) return undefined
  const input = (raw.input ?? 0) + (raw.cacheRead ?? 0) + (raw.cacheWrite ?? 0)
  const output = raw.output ?? 0
  return {
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output,
    ...(raw.cacheRead === undefined ? {} : { cachedInputTokens: raw.cacheRead }),
    ...(raw.reasoning === undefined ? {} : { reasoningTokens: raw.reasoning })
  }
}

/**
 * Normalises a Messages API `usage` object.
 *
 * @since 0.1.0
 * @category combinators
 */
export const usage = (raw: unknown): Entry.Usage | undefined => {
  const into: RawUsage = {
    input: undefined,
    cacheRead: undefined,
    cacheWrite: undefined,
    output: undefined,
    reasoning: undefined
  }
  mergeUsage(into, raw)
  return normaliseUsage(into)
}

// -----------------------------------------------------------------------------
// tool-call arguments
// -----------------------------------------------------------------------------

/**
 * Writes a streamed tool input (`input_json_delta` pieces) in the form the non-streaming API's
 * `input` object has once serialised (`JSON.stringify`), piece by piece, so that a plain run
 * (`chat`) and a streamed one record the same argument text and watchers still see the
 * arguments as they arrive: whitespace between tokens is dropped, and each number and string
 * escape is rewritten the way `JSON.stringify` writes it once the token is complete (it is held
 * back until then). What this cannot do is reorder keys: `JSON.stringify` puts integer-like keys
 * (`"2"`) first and keeps the last of duplicate keys, so an object written otherwise keeps the
 * model's order in the streamed text (the parsed arguments are the same).
 */
interface ArgumentWriter {
  /** The canonical text for this piece (possibly empty while a token is incomplete). */
  readonly write: (piece: string) => string
  /** What is still held back, or `{}` for an input that never had any text. */
  readonly end: () => string
}

const escapeOf = (char: string): string => JSON.stringify(char).slice(1, -1)

const isHighSurrogate = (char: string) => char.length === 1 && char >= "\ud800" && char <= "\udbff"
const isLowSurrogate = (char: string) => char.length === 1 && char >= "\udc00" && char <= "\udfff"

const argumentWriter = (): ArgumentWriter => {
  let mode: "value" | "number" | "string" = "value"
  let token = "" // a number, or a string escape being read
  let high = "" // a decoded high surrogate waiting for its low half
  let written = false
  const decode = (escape: string): string | undefined => {
    try {
      return JSON.parse(`"${escape}"`) as string
    } catch {
      return undefined
    }
  }
  const flushHigh = () => {
    const out = high === "" ? "" : escapeOf(high)
    high = ""
    return out
  }
  const number = () => {
    const text = token
    token = ""
    mode = "value"
    try {
      return JSON.stringify(JSON.parse(text))
    } catch {
      return text
    }
  }
  const write = (piece: string): string => {
    let out = ""
    for (const char of piece) {
      if (mode === "number") {
        if (/[0-9eE+\-.]/.test(char)) {
          token += char
          continue
        }
        out += number()
      }
      if (mode === "string") {
        if (token !== "") {
          token += char
          if ((token[1] === "u" && token.length < 6) || token.length < 2) continue
          const escape = token
          const decoded = decode(escape)
          token = ""
          if (decoded === undefined) {
            out += flushHigh() + escape
          } else if (isLowSurrogate(decoded) && high !== "") {
            out += high + decoded
            high = ""
          } else if (isHighSurrogate(decoded)) {
            out += flushHigh()
            high = decoded
          } else {
            out += flushHigh() + escapeOf(decoded)
          }
        } else if (char === "\\") {
          token = char
        } else {
          out += flushHigh() + char
          if (char === "\"") mode = "value"
        }
        continue
      }
      if (char === " " || char === "\n" || char === "\r" || char === "\t") continue
      if (char === "-" || (char >= "0" && char <= "9")) {
        mode = "number"
        token = char
        continue
      }
      if (char === "\"") mode = "string"
      out += char
    }
    if (out !== "") written = true
    return out
  }
  const end = (): string => {
    const out = (mode === "number" ? number() : "") + flushHigh() + token
    token = ""
    if (out !== "") written = true
    return written ? out : "{}"
  }
  return { write, end }
}

interface EventState {
  events: number
  model: string | undefined
  messageId: string | undefined
  stopped: boolean
  finish: Entry.FinishReason | undefined
  usage: RawUsage
  /** content block index -> tool call index */
  tools: Map<number, number>
  /** content block index -> the writer of its streamed input */
  inputs: Map<number, ArgumentWriter>
}

const eventParts = (state: EventState, event: unknown): Array<Provider.StreamPart> => {
  const parts: Array<Provider.StreamPart> = []
  if (!isObject(event)) return parts
  state.events++
  switch (event.type) {
    case "message_start": {
      const message: Record<string, any> = isObject(event.message) ? event.message : {}
      if (typeof message.id === "string") state.messageId = message.id
      if (typeof message.model === "string" && message.model !== "") {
        state.model = message.model
        parts.push({ _tag: "Metadata", model: message.model })
      }
      mergeUsage(state.usage, message.usage)
      break
    }
    case "content_block_start": {
      const block: Record<string, any> = isObject(event.content_block) ? event.content_block : {}
      const index = num(event.index) ?? 0
      if (block.type === "tool_use" || block.type === "server_tool_use") {
        const toolIndex = state.tools.size
        state.tools.set(index, toolIndex)
        parts.push({
          _tag: "ToolCallStart",
          index: toolIndex,
          id: typeof block.id === "string" ? block.id : `toolu_${toolIndex}`,
          name: typeof block.name === "string" ? block.name : ""
        })
        // a non-empty input in the start block (non-streamed tools) is the whole argument text
        if (isObject(block.input) && Object.keys(block.input).length > 0) {
          parts.push({ _tag: "ToolCallDelta", index: toolIndex, argumentsDelta: JSON.stringify(block.input) })
        } else {
          state.inputs.set(index, argumentWriter())
        }
      } else if (block.type === "text" && typeof block.text === "string" && block.text !== "") {
        parts.push({ _tag: "TextDelta", text: block.text })
      } else if (block.type === "thinking" && typeof block.thinking === "string" && block.thinking !== "") {
        parts.push({ _tag: "ReasoningDelta", text: block.thinking })
      }
      break
    }
    case "content_block_delta": {
      const delta: Record<string, any> = isObject(event.delta) ? event.delta : {}
      const index = num(event.index) ?? 0
      if (delta.type === "text_delta" && typeof delta.text === "string") {
        if (delta.text !== "") parts.push({ _tag: "TextDelta", text: delta.text })
      } else if (delta.type === "thinking_delta" && typeof delta.thinking === "string") {
        if (delta.thinking !== "") parts.push({ _tag: "ReasoningDelta", text: delta.thinking })
      } else if (delta.type === "input_json_delta" && typeof delta.partial_json === "string") {
        const toolIndex = state.tools.get(index)
        const writer = state.inputs.get(index)
        if (toolIndex !== undefined && writer !== undefined) {
          const text = writer.write(delta.partial_json)
          if (text !== "") parts.push({ _tag: "ToolCallDelta", index: toolIndex, argumentsDelta: text })
        }
      }
      break
    }
    case "content_block_stop": {
      const index = num(event.index) ?? 0
      const toolIndex = state.tools.get(index)
      const writer = state.inputs.get(index)
      if (toolIndex !== undefined && writer !== undefined) {
        state.inputs.delete(index)
        const text = writer.end()
        if (text !== "") parts.push({ _tag: "ToolCallDelta", index: toolIndex, argumentsDelta: text })
      }
      break
    }
    case "message_delta": {
      const delta: Record<string, any> = isObject(event.delta) ? event.delta : {}
      if (delta.stop_reason !== undefined && delta.stop_reason !== null) {
        state.finish = finishReason(delta.stop_reason)
      }
      mergeUsage(state.usage, event.usage)
      break
    }
    case "message_stop":
      state.stopped = true
      break
  }
  return parts
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The SDK client for these options (retries off), made on first use: a function that gives the
 * same client every time. `@anthropic-ai/sdk` itself is imported then too, so a program that never
 * calls an Anthropic provider never loads it.
 */
const lazyClient = (options: Omit<Options, "model" | "maxTokens">): () => Promise<Anthropic> =>
  Lazy.lazy(() =>
    import("@anthropic-ai/sdk").then(({ default: Anthropic }) =>
      new Anthropic({
        apiKey: Redacted.value(options.apiKey),
        baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
        maxRetries: 0,
        ...(options.headers === undefined ? {} : { defaultHeaders: options.headers }),
        ...(options.timeoutMillis === undefined ? {} : { timeout: options.timeoutMillis })
      })
    )
  )

/**
 * The SDK client rath uses for these options (retries off); `@anthropic-ai/sdk` is imported when
 * this runs, not when rath is imported.
 *
 * @since 0.1.0
 * @category constructors
 */
export const client = (
  options: Omit<Options, "model" | "maxTokens">
): Effect.Effect<Anthropic, Provider.ProviderError> =>
  Http.sdkClient(lazyClient(options), { provider: options.kind ?? "anthropic", sdk: "Anthropic" })

/**
 * An Anthropic Messages provider.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Anthropic } from "rath"
 *
 * const provider = Anthropic.make({
 *   apiKey: Redacted.make("sk-ant-..."),
 *   model: "claude-sonnet-4-5",
 *   maxTokens: 4096
 * })
 * ```
 */
export const make = (options: Options): Provider.Service => {
  const sdk = lazyClient(options)
  const http = Http.adapter({
    kind: options.kind ?? "anthropic",
    model: options.model,
    baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
    timeoutMillis: options.timeoutMillis
  })
  const unsupported = (request: Provider.Request) =>
    request.responseFormat?.type === "json_object"
      ? Effect.fail(
        new Provider.ProviderError({
          ...http.context(request),
          reason: "BadRequest",
          detail: "the Messages API has no json_object mode: use a json_schema response format or a forced tool"
        })
      )
      : Effect.void

  const chat = (request: Provider.Request): Effect.Effect<Provider.Response, Provider.ProviderError> =>
    Effect.gen(function*() {
      yield* unsupported(request)
      const body = { ...renderRequest(request, options), stream: false }
      const { data, response } = yield* http.call(
        request,
        async (signal) =>
          (await sdk()).messages.create(body as unknown as Anthropic.MessageCreateParamsNonStreaming, { signal })
            .withResponse()
      )
      const raw: unknown = data
      if (!isObject(raw) || !Array.isArray(raw.content)) {
        return yield* http.invalid(
          request,
          response.status,
          `expected a message object, got ${typeof raw === "string" ? JSON.stringify(raw.slice(0, 120)) : typeof raw}`
        )
      }
      let text = ""
      let reasoning = ""
      const toolCalls: Array<Entry.ToolCall> = []
      for (const block of raw.content) {
        if (!isObject(block)) continue
        if (block.type === "text" && typeof block.text === "string") text += block.text
        else if (block.type === "thinking" && typeof block.thinking === "string") reasoning += block.thinking
        else if (block.type === "tool_use" || block.type === "server_tool_use") {
          toolCalls.push(
            Provider.toolCall(
              typeof block.id === "string" ? block.id : `toolu_${toolCalls.length}`,
              typeof block.name === "string" ? block.name : "",
              JSON.stringify(block.input ?? {})
            )
          )
        }
      }
      const normalised = usage(raw.usage)
      const requestId = response.headers.get("request-id") ??
        (typeof raw.id === "string" && raw.id !== "" ? raw.id : undefined)
      return {
        text,
        ...(reasoning === "" ? {} : { reasoning }),
        toolCalls,
        finishReason: finishReason(raw.stop_reason),
        ...(normalised === undefined ? {} : { usage: normalised }),
        model: typeof raw.model === "string" && raw.model !== "" ? raw.model : request.model ?? options.model,
        provider: http.providerInfo(requestId)
      } satisfies Provider.Response
    })

  const stream = (request: Provider.Request): Stream.Stream<Provider.StreamPart, Provider.ProviderError> => {
    const body = { ...renderRequest(request, options), stream: true }
    return Stream.unwrap(Effect.as(
      unsupported(request),
      http.stream(request, {
        open: async (signal) =>
          (await sdk()).messages.create(body as unknown as Anthropic.MessageCreateParamsStreaming, { signal })
            .withResponse(),
        requestIdHeader: "request-id",
        decoder: () => {
          const state: EventState = {
            events: 0,
            model: undefined,
            messageId: undefined,
            stopped: false,
            finish: undefined,
            usage: {
              input: undefined,
              cacheRead: undefined,
              cacheWrite: undefined,
              output: undefined,
              reasoning: undefined
            },
            tools: new Map(),
            inputs: new Map()
          }
          return {
            parts: (event) => eventParts(state, event),
            end: (response, headerId) => {
              if (state.events === 0) {
                return Effect.fail(http.invalid(
                  request,
                  response.status,
                  `no Messages API events in the response (content-type ${
                    response.headers.get("content-type") ?? "none"
                  })`
                ))
              }
              if (!state.stopped || state.finish === undefined) {
                return Effect.fail(Http.truncated(http.context(request)))
              }
              const tail: Array<Provider.StreamPart> = []
              const normalised = normaliseUsage(state.usage)
              if (normalised !== undefined) tail.push({ _tag: "Usage", usage: normalised })
              tail.push({
                _tag: "Finish",
                finishReason: state.finish,
                provider: http.providerInfo(headerId ?? state.messageId)
              })
              return Effect.succeed(tail)
            }
          }
        }
      })
    ))
  }

  return Provider.make({ info: http.info, chat, stream })
}

/**
 * A layer providing an Anthropic provider (no retries: wrap with `Provider.withRetry`, or use
 * `ProviderConfig.layer`, which does).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Provider.Provider> =>
  Layer.sync(Provider.Provider, () => make(options))
