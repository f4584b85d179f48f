/**
 * The Anthropic adapter: the Messages API on `@anthropic-ai/sdk`.
 *
 * System entries are joined into `system`; consecutive tool results (and any user text that
 * follows them) are grouped into one user message with several `tool_result` blocks; tool choice
 * maps to `auto`/`none`/`any`/`tool`; stop reasons are mapped (unknown ones are `"other"`);
 * usage comes from `message_start` and `message_delta`; thinking blocks become reasoning, and
 * the signed thinking and redacted thinking blocks are kept as the answer's metadata (key
 * `anthropic`) and sent back, as they came, before the text of that turn on the next request;
 * `max_tokens` is the request's or the configured default. The SDK's retries are off. Streamed
 * tool inputs are written as `JSON.stringify` writes the non-streaming `input` object, so `chat`
 * and an accumulated `stream` record the same argument text.
 *
 * @since 0.1.0
 */
import type Anthropic from "@anthropic-ai/sdk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
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
   * Request timeout in milliseconds (default 10 minutes, the SDK's). `chat`: the whole call, from
   * sending the request to the last byte of the body. `stream`: the wait for the response headers,
   * then the longest silence between two events. A call past it fails with reason `Timeout`.
   */
  readonly timeoutMillis?: number | undefined
  /**
   * The largest response body read, in bytes (default 64 MiB): a larger answer (a streamed one
   * counts all its events) fails with reason `InvalidResponse`.
   */
  readonly maxResponseBytes?: number | undefined
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
 * The key of the Messages API's continuation metadata in an answer's `metadata`
 * (`Entry.ProviderMetadata`): `{ blocks: [...] }`, the answer's signed `thinking` blocks and its
 * `redacted_thinking` blocks, in order, as the API sent them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const METADATA_KEY = "anthropic"

/**
 * A reasoning block the API needs back to continue from an answer: signed thinking, or redacted
 * thinking (encrypted; its text is never shown).
 *
 * @since 0.1.0
 * @category models
 */
export type ReasoningBlock =
  | { readonly type: "thinking"; readonly thinking: string; readonly signature: string }
  | { readonly type: "redacted_thinking"; readonly data: string }

/**
 * The reasoning blocks kept in an answer's metadata (blocks of another shape are left out).
 *
 * @since 0.1.0
 * @category getters
 */
export const reasoningBlocks = (metadata: Entry.ProviderMetadata | undefined): Array<ReasoningBlock> => {
  const value = metadata?.[METADATA_KEY]
  if (!isObject(value) || !Array.isArray(value.blocks)) return []
  const out: Array<ReasoningBlock> = []
  for (const block of value.blocks as ReadonlyArray<unknown>) {
    if (!isObject(block)) continue
    if (block.type === "thinking" && typeof block.thinking === "string" && typeof block.signature === "string") {
      out.push({ type: "thinking", thinking: block.thinking, signature: block.signature })
    } else if (block.type === "redacted_thinking" && typeof block.data === "string") {
      out.push({ type: "redacted_thinking", data: block.data })
    }
  }
  return out
}

/** The metadata that keeps these reasoning blocks (none without a signed or redacted block). */
const metadataOf = (blocks: ReadonlyArray<ReasoningBlock>): Entry.ProviderMetadata | undefined =>
  blocks.length === 0 ? undefined : { [METADATA_KEY]: { blocks } }

/**
 * Renders a request's messages as Messages API `system` text and messages.
 *
 * Reasoning of an earlier assistant turn is sent back when its entry kept the signed thinking and
 * redacted thinking blocks (`metadata.anthropic`, see {@link reasoningBlocks}): they open that
 * turn's content, as the API requires. Reasoning without a signature (another vendor's, or an
 * older entry's) is not sent: the API refuses unsigned thinking. Consecutive user-side blocks
 * (tool results, user text) form one user message, tool results first, as the API requires.
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
          ...reasoningBlocks(message.metadata),
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

// -----------------------------------------------------------------------------
// the wire shapes rath reads (other fields, block types and event types are ignored; a field rath
// reads with the wrong type, or a required one missing, is `InvalidResponse`)
// -----------------------------------------------------------------------------

const nullable = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

const TokenCount = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const Index = TokenCount

const usageFields = {
  cache_read_input_tokens: nullable(TokenCount),
  cache_creation_input_tokens: nullable(TokenCount),
  output_tokens_details: nullable(Schema.Struct({ reasoning_tokens: nullable(TokenCount) }))
}

/** Usage in a stream event: every count may be absent (`message_start` has no final output count). */
const EventUsageWire = Schema.Struct({
  input_tokens: nullable(TokenCount),
  output_tokens: nullable(TokenCount),
  ...usageFields
})

/** Usage of a whole message: both counts required. */
const MessageUsageWire = Schema.Struct({ input_tokens: TokenCount, output_tokens: TokenCount, ...usageFields })

const Tagged = Schema.Struct({ type: Schema.String })

/** A tool input is a JSON object (the API's `input`), never an array or a string. */
const ToolInput = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const TextBlock = Schema.Struct({ text: Schema.String })
const ThinkingBlock = Schema.Struct({ thinking: Schema.String, signature: nullable(Schema.String) })
const RedactedThinkingBlock = Schema.Struct({ data: Schema.String })
const ToolUseBlock = Schema.Struct({ id: Schema.String, name: Schema.String, input: ToolInput })
const ToolUseStart = Schema.Struct({ id: Schema.String, name: Schema.String, input: Schema.optional(ToolInput) })

const MessageWire = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  content: Schema.Array(Schema.Unknown),
  stop_reason: Schema.String,
  usage: nullable(MessageUsageWire)
})

const MessageStartWire = Schema.Struct({
  message: Schema.Struct({
    id: Schema.optional(Schema.String),
    model: Schema.optional(Schema.String),
    usage: nullable(EventUsageWire)
  })
})
const BlockStartWire = Schema.Struct({ index: Index, content_block: Tagged })
const BlockDeltaWire = Schema.Struct({ index: Index, delta: Tagged })
const BlockStopWire = Schema.Struct({ index: Index })
const MessageDeltaWire = Schema.Struct({
  delta: Schema.Struct({ stop_reason: nullable(Schema.String) }),
  usage: nullable(EventUsageWire)
})
const TextDelta = Schema.Struct({ text: Schema.String })
const InputDelta = Schema.Struct({ partial_json: Schema.String })
const ThinkingDelta = Schema.Struct({ thinking: Schema.String })
const SignatureDelta = Schema.Struct({ signature: Schema.String })

const isToolUse = (type: string) => type === "tool_use" || type === "server_tool_use"

/**
 * The argument text of a non-streamed tool input: its `JSON.stringify`. An input nested so deep
 * that it cannot be written (thousands of levels) gives `undefined`.
 */
const inputText = (input: unknown): string | undefined => {
  try {
    return JSON.stringify(input)
  } catch {
    return undefined
  }
}

/** What a stream's content block is, by its index. */
type BlockKind = "text" | "thinking" | "tool" | "other"

interface EventState {
  events: number
  started: boolean
  /** `message_stop` arrived: the answer is whole */
  stopped: boolean
  model: string | undefined
  messageId: string | undefined
  finish: Entry.FinishReason | undefined
  usage: RawUsage
  /** whether `message_delta` carried the final output count */
  finalOutput: boolean
  blocks: Map<number, BlockKind>
  /** content block index -> tool call index */
  tools: Map<number, number>
  /** content block index -> the writer of its streamed input */
  inputs: Map<number, ArgumentWriter>
  /** content block index -> a thinking block (its text and signature so far) or redacted thinking */
  reasoning: Map<number, { thinking: string; signature: string } | { data: string }>
}

/** The signed and redacted reasoning blocks of a stream, in content order. */
const streamReasoning = (state: EventState): Array<ReasoningBlock> =>
  [...state.reasoning.entries()].sort(([a], [b]) => a - b).flatMap(([, block]): Array<ReasoningBlock> =>
    "data" in block
      ? [{ type: "redacted_thinking", data: block.data }]
      : block.signature === ""
      ? []
      : [{ type: "thinking", thinking: block.thinking, signature: block.signature }]
  )

/** The usage of a stream, if complete: the input count, and the output count of `message_delta`. */
const streamUsage = (state: EventState): Entry.Usage | undefined =>
  state.finalOutput && state.usage.input !== undefined ? normaliseUsage(state.usage) : undefined

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The SDK client for these options (retries off, its log lines sent to the Effect logger), made on
 * first use: a function that gives the same client every time. `@anthropic-ai/sdk` itself is
 * imported then too, so a program that never calls an Anthropic provider never loads it.
 */
const lazyClient = (options: Omit<Options, "model" | "maxTokens">): () => Promise<Anthropic> =>
  Lazy.lazy(() =>
    import("@anthropic-ai/sdk").then(({ default: Anthropic }) =>
      new Anthropic({
        apiKey: Redacted.value(options.apiKey),
        baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
        maxRetries: 0,
        logger: Http.sdkLogger("anthropic"),
        timeout: options.timeoutMillis ?? Http.DEFAULT_TIMEOUT_MILLIS,
        ...(options.headers === undefined ? {} : { defaultHeaders: options.headers })
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
    path: "/v1/messages",
    timeoutMillis: options.timeoutMillis,
    maxResponseBytes: options.maxResponseBytes
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
  const load = Http.sdkClient(sdk, { provider: options.kind ?? "anthropic", sdk: "Anthropic" })
  const decodeMessage = http.decode(MessageWire)
  const decodeTagged = http.decode(Tagged)
  const decodeText = http.decode(TextBlock)
  const decodeThinking = http.decode(ThinkingBlock)
  const decodeRedacted = http.decode(RedactedThinkingBlock)
  const decodeSignatureDelta = http.decode(SignatureDelta)
  const decodeToolUse = http.decode(ToolUseBlock)
  const decodeToolStart = http.decode(ToolUseStart)
  const decodeMessageStart = http.decode(MessageStartWire)
  const decodeBlockStart = http.decode(BlockStartWire)
  const decodeBlockDelta = http.decode(BlockDeltaWire)
  const decodeBlockStop = http.decode(BlockStopWire)
  const decodeMessageDelta = http.decode(MessageDeltaWire)
  const decodeTextDelta = http.decode(TextDelta)
  const decodeInputDelta = http.decode(InputDelta)
  const decodeThinkingDelta = http.decode(ThinkingDelta)

  const chat = (request: Provider.Request): Effect.Effect<Provider.Response, Provider.ProviderError> =>
    Effect.gen(function*() {
      yield* unsupported(request)
      const body = { ...renderRequest(request, options), stream: false }
      // the client's `post` is what `messages.create` sends, without its `console.warn` about
      // deprecated model names (no logger option reaches that one)
      // the SDK is loaded (on first use) before the call's timeout starts
      const anthropic = yield* load
      const { body: raw, response } = yield* http.json(
        request,
        (signal) => anthropic.post("/v1/messages", { body, stream: false, signal }).asResponse()
      )
      const status = response.status
      const message = yield* decodeMessage(request, status, "the message", raw)
      let text = ""
      let reasoning = ""
      const blocks: Array<ReasoningBlock> = []
      const toolCalls: Array<Entry.ToolCall> = []
      for (let i = 0; i < message.content.length; i++) {
        const block = message.content[i]
        const where = `content block ${i}`
        const { type } = yield* decodeTagged(request, status, where, block)
        if (type === "text") text += (yield* decodeText(request, status, where, block)).text
        else if (type === "thinking") {
          const thinking = yield* decodeThinking(request, status, where, block)
          reasoning += thinking.thinking
          if (typeof thinking.signature === "string" && thinking.signature !== "") {
            blocks.push({ type: "thinking", thinking: thinking.thinking, signature: thinking.signature })
          }
        } else if (type === "redacted_thinking") {
          blocks.push({ type: "redacted_thinking", data: (yield* decodeRedacted(request, status, where, block)).data })
        } else if (isToolUse(type)) {
          const use = yield* decodeToolUse(request, status, where, block)
          const argumentText = inputText(use.input)
          if (argumentText === undefined) {
            return yield* http.invalid(request, status, `${where}: the tool input nests too deep to be written`)
          }
          toolCalls.push(Provider.toolCall(use.id, use.name, argumentText))
        }
      }
      const requestId = response.headers.get("request-id") ??
        (message.id !== undefined && message.id !== "" ? message.id : undefined)
      const normalised = message.usage === undefined || message.usage === null
        ? undefined
        : usage(message.usage)
      const metadata = metadataOf(blocks)
      return {
        ...(metadata === undefined ? {} : { metadata }),
        text,
        ...(reasoning === "" ? {} : { reasoning }),
        toolCalls,
        finishReason: finishReason(message.stop_reason),
        ...(normalised === undefined ? { missing: ["usage"] as const } : { usage: normalised }),
        model: message.model !== undefined && message.model !== "" ? message.model : request.model ?? options.model,
        provider: http.providerInfo(requestId)
      } satisfies Provider.Response
    })

  const stream = (request: Provider.Request): Stream.Stream<Provider.StreamPart, Provider.ProviderError> => {
    const body = { ...renderRequest(request, options), stream: true }
    const event = (state: EventState, sse: Http.SseEvent, status: number): Http.EventResult => {
      const parsed = http.parseJson(request, status, "a Messages API event", sse.data)
      if (Either.isLeft(parsed)) return Either.left(parsed.left)
      const raw = parsed.right
      const tagged = decodeTagged(request, status, "a Messages API event", raw)
      if (Either.isLeft(tagged)) return Either.left(tagged.left)
      const type = tagged.right.type
      const where = `the ${type} event`
      const invalid = (detail: string) => Either.left(http.invalid(request, status, `${where}: ${detail}`))
      if (type === "error") return Either.left(Http.streamError(http.context(request), status, raw))
      if (type === "ping") return Either.right([])
      state.events++
      if (type !== "message_start" && !state.started) return invalid("it came before message_start")
      const parts: Array<Provider.StreamPart> = []
      switch (type) {
        case "message_start": {
          if (state.started) return invalid("a second message_start")
          const start = decodeMessageStart(request, status, where, raw)
          if (Either.isLeft(start)) return Either.left(start.left)
          state.started = true
          const message = start.right.message
          if (message.id !== undefined) state.messageId = message.id
          if (message.model !== undefined && message.model !== "") {
            state.model = message.model
            parts.push({ _tag: "Metadata", model: message.model })
          }
          if (message.usage !== undefined && message.usage !== null) mergeUsage(state.usage, message.usage)
          return Either.right(parts)
        }
        case "content_block_start": {
          const start = decodeBlockStart(request, status, where, raw)
          if (Either.isLeft(start)) return Either.left(start.left)
          const { content_block: block, index } = start.right
          if (state.blocks.has(index)) return invalid(`content block ${index} started twice`)
          const blockRaw = (raw as { readonly content_block: unknown }).content_block
          if (isToolUse(block.type)) {
            const use = decodeToolStart(request, status, where, blockRaw)
            if (Either.isLeft(use)) return Either.left(use.left)
            state.blocks.set(index, "tool")
            const toolIndex = state.tools.size
            state.tools.set(index, toolIndex)
            parts.push({ _tag: "ToolCallStart", index: toolIndex, id: use.right.id, name: use.right.name })
            // a non-empty input in the start block (non-streamed tools) is the whole argument text
            if (use.right.input !== undefined && Object.keys(use.right.input).length > 0) {
              const text = inputText(use.right.input)
              if (text === undefined) return invalid("the tool input nests too deep to be written")
              parts.push({ _tag: "ToolCallDelta", index: toolIndex, argumentsDelta: text })
            } else {
              state.inputs.set(index, argumentWriter())
            }
          } else if (block.type === "text") {
            const text = decodeText(request, status, where, blockRaw)
            if (Either.isLeft(text)) return Either.left(text.left)
            state.blocks.set(index, "text")
            if (text.right.text !== "") parts.push({ _tag: "TextDelta", text: text.right.text })
          } else if (block.type === "thinking") {
            const thinking = decodeThinking(request, status, where, blockRaw)
            if (Either.isLeft(thinking)) return Either.left(thinking.left)
            state.blocks.set(index, "thinking")
            state.reasoning.set(index, { thinking: thinking.right.thinking, signature: thinking.right.signature ?? "" })
            if (thinking.right.thinking !== "") parts.push({ _tag: "ReasoningDelta", text: thinking.right.thinking })
          } else if (block.type === "redacted_thinking") {
            const redacted = decodeRedacted(request, status, where, blockRaw)
            if (Either.isLeft(redacted)) return Either.left(redacted.left)
            state.blocks.set(index, "other")
            state.reasoning.set(index, { data: redacted.right.data })
          } else {
            state.blocks.set(index, "other")
          }
          return Either.right(parts)
        }
        case "content_block_delta": {
          const decoded = decodeBlockDelta(request, status, where, raw)
          if (Either.isLeft(decoded)) return Either.left(decoded.left)
          const { delta, index } = decoded.right
          const kind = state.blocks.get(index)
          if (kind === undefined) return invalid(`a delta for content block ${index}, which never started`)
          const deltaRaw = (raw as { readonly delta: unknown }).delta
          const expect = (wanted: BlockKind) =>
            kind === wanted ? undefined : invalid(`a ${delta.type} for content block ${index}, a ${kind} block`)
          if (delta.type === "text_delta") {
            const wrong = expect("text")
            if (wrong !== undefined) return wrong
            const text = decodeTextDelta(request, status, where, deltaRaw)
            if (Either.isLeft(text)) return Either.left(text.left)
            if (text.right.text !== "") parts.push({ _tag: "TextDelta", text: text.right.text })
          } else if (delta.type === "thinking_delta") {
            const wrong = expect("thinking")
            if (wrong !== undefined) return wrong
            const thinking = decodeThinkingDelta(request, status, where, deltaRaw)
            if (Either.isLeft(thinking)) return Either.left(thinking.left)
            if (thinking.right.thinking !== "") parts.push({ _tag: "ReasoningDelta", text: thinking.right.thinking })
            const kept = state.reasoning.get(index)
            if (kept !== undefined && "thinking" in kept) kept.thinking += thinking.right.thinking
          } else if (delta.type === "signature_delta") {
            const wrong = expect("thinking")
            if (wrong !== undefined) return wrong
            const signature = decodeSignatureDelta(request, status, where, deltaRaw)
            if (Either.isLeft(signature)) return Either.left(signature.left)
            const kept = state.reasoning.get(index)
            if (kept !== undefined && "signature" in kept) kept.signature += signature.right.signature
          } else if (delta.type === "input_json_delta") {
            const wrong = expect("tool")
            if (wrong !== undefined) return wrong
            const input = decodeInputDelta(request, status, where, deltaRaw)
            if (Either.isLeft(input)) return Either.left(input.left)
            const toolIndex = state.tools.get(index)!
            const writer = state.inputs.get(index)
            if (writer === undefined) return invalid(`input for content block ${index}, whose input was complete`)
            const text = writer.write(input.right.partial_json)
            if (text !== "") parts.push({ _tag: "ToolCallDelta", index: toolIndex, argumentsDelta: text })
          }
          return Either.right(parts)
        }
        case "content_block_stop": {
          const stop = decodeBlockStop(request, status, where, raw)
          if (Either.isLeft(stop)) return Either.left(stop.left)
          const index = stop.right.index
          if (!state.blocks.has(index)) return invalid(`content block ${index} never started`)
          const toolIndex = state.tools.get(index)
          const writer = state.inputs.get(index)
          if (toolIndex !== undefined && writer !== undefined) {
            state.inputs.delete(index)
            const text = writer.end()
            if (text !== "") parts.push({ _tag: "ToolCallDelta", index: toolIndex, argumentsDelta: text })
          }
          return Either.right(parts)
        }
        case "message_delta": {
          const decoded = decodeMessageDelta(request, status, where, raw)
          if (Either.isLeft(decoded)) return Either.left(decoded.left)
          const { delta, usage: raw2 } = decoded.right
          if (delta.stop_reason !== undefined && delta.stop_reason !== null) {
            state.finish = finishReason(delta.stop_reason)
          }
          if (raw2 !== undefined && raw2 !== null) {
            mergeUsage(state.usage, raw2)
            if (typeof raw2.output_tokens === "number") state.finalOutput = true
          }
          return Either.right(parts)
        }
        case "message_stop": {
          if (state.finish === undefined) return invalid("the message stopped without a stop_reason")
          const open = [...state.inputs.keys()]
          if (open.length > 0) return invalid(`tool input block ${open[0]} never stopped`)
          state.stopped = true
          return Either.right("end")
        }
        default:
          // an event type newer than this adapter: the API says to ignore it
          return Either.right(parts)
      }
    }
    return Stream.unwrap(Effect.map(
      Effect.zipRight(unsupported(request), load),
      (anthropic) =>
        http.stream(request, {
          open: (signal) => anthropic.post("/v1/messages", { body, stream: true, signal }).asResponse(),
          requestIdHeader: "request-id",
          decoder: () => {
            const state: EventState = {
              events: 0,
              started: false,
              stopped: false,
              model: undefined,
              messageId: undefined,
              finish: undefined,
              usage: {
                input: undefined,
                cacheRead: undefined,
                cacheWrite: undefined,
                output: undefined,
                reasoning: undefined
              },
              finalOutput: false,
              blocks: new Map(),
              tools: new Map(),
              inputs: new Map(),
              reasoning: new Map()
            }
            return {
              event: (sse, status) => event(state, sse, status),
              end: (response, headerId, broken) => {
                if (state.events === 0) {
                  return Either.left(
                    broken ?? http.invalid(request, response.status, "no Messages API events in the response")
                  )
                }
                // the answer ends at message_stop; any other end is a cut
                if (!state.stopped || state.finish === undefined) {
                  return Either.left(Http.truncated(http.context(request), broken))
                }
                const tail: Array<Provider.StreamPart> = []
                const metadata = metadataOf(streamReasoning(state))
                if (metadata !== undefined) tail.push({ _tag: "Metadata", metadata })
                const complete = streamUsage(state)
                if (complete !== undefined) tail.push({ _tag: "Usage", usage: complete })
                tail.push({
                  _tag: "Finish",
                  finishReason: state.finish,
                  provider: http.providerInfo(headerId ?? state.messageId),
                  // the Messages API always reports usage: a stream without the final counts is flagged
                  ...(complete === undefined ? { missing: ["usage"] } : {})
                })
                return Either.right(tail)
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
