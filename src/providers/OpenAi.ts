/**
 * The OpenAI-compatible adapter: Chat Completions on the `openai` SDK, so every gateway that
 * speaks that wire format works (OpenAI, Azure-style proxies, vLLM, Ollama, OpenRouter, ...) by
 * its base URL.
 *
 * The SDK's own retries are off (`maxRetries: 0`): `Provider.withRetry` is the one retry policy.
 * Streams ask for `include_usage`; tool-call deltas are joined by index; unknown finish reasons
 * are kept as `"other"`; `reasoning_content` (or `reasoning`) deltas become reasoning. Gateways
 * that return `reasoning_details` (OpenRouter's signed and encrypted reasoning) have them kept as
 * the answer's metadata (key `openai`) and sent back on that assistant message next turn. Every
 * response records the kind (`"openai"`), the endpoint host, the model the server reported and
 * the request id (`x-request-id`, or the completion id). Interrupting a call aborts its HTTP
 * request.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type OpenAI from "openai"
import * as Embedder from "../Embedder.js"
import type * as Entry from "../Entry.js"
import * as Lazy from "../internal/lazy.js"
import * as Http from "../internal/providerHttp.js"
import * as Provider from "../Provider.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The API key; some local gateways accept any value. */
  readonly apiKey: Redacted.Redacted<string>
  /** Default `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  /** The model used when a request names none. */
  readonly model: string
  readonly organization?: string | undefined
  readonly project?: string | undefined
  /** Extra HTTP headers sent with every request (gateway routing, tracing, ...). */
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
  /**
   * The field that carries `maxTokens`: `max_tokens` (default; what most compatible gateways
   * read) or `max_completion_tokens` (what OpenAI's reasoning models require).
   */
  readonly maxTokensField?: "max_tokens" | "max_completion_tokens" | undefined
  /** The kind recorded in entries (default `"openai"`). */
  readonly kind?: string | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const DEFAULT_BASE_URL = "https://api.openai.com/v1"

// -----------------------------------------------------------------------------
// request rendering
// -----------------------------------------------------------------------------

/**
 * The key of this wire format's continuation metadata in an answer's `metadata`
 * (`Entry.ProviderMetadata`): `{ host, reasoning_details: [...] }`, as a gateway that sends them
 * (OpenRouter: reasoning text with its signature, encrypted reasoning, summaries) returned them,
 * and the endpoint host that did (they go back only to that host: OpenAI itself refuses the field).
 * Chat Completions itself has no reasoning items; OpenAI's own reasoning ids and encrypted content
 * belong to the Responses API, which `rath/EffectAi` reaches through `@effect/ai-openai`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const METADATA_KEY = "openai"

/**
 * The `reasoning_details` kept in an answer's metadata (empty when there are none, or when `host`
 * is given and they came from another endpoint host).
 *
 * @since 0.1.0
 * @category getters
 */
export const reasoningDetails = (
  metadata: Entry.ProviderMetadata | undefined,
  host?: string | undefined
): ReadonlyArray<unknown> => {
  const value = metadata?.[METADATA_KEY]
  if (!isObject(value) || !Array.isArray(value.reasoning_details)) return []
  return host !== undefined && typeof value.host === "string" && value.host !== host ? [] : value.reasoning_details
}

const metadataOf = (details: ReadonlyArray<unknown>, host: string): Entry.ProviderMetadata | undefined =>
  details.length === 0 ? undefined : { [METADATA_KEY]: { host, reasoning_details: details } }

/**
 * Joins streamed `reasoning_details` pieces into the items a whole answer has: a piece with the
 * `index` and `type` of an item already begun continues it (its `text`, `summary` and `data` are
 * appended, other fields such as `signature` and `id` are set); any other piece begins an item.
 */
const joinDetails = (items: Array<Record<string, unknown>>, pieces: ReadonlyArray<unknown>): void => {
  for (const piece of pieces) {
    if (!isObject(piece)) continue
    const same = typeof piece.index === "number"
      ? items.find((item) => item.index === piece.index && item.type === piece.type)
      : undefined
    if (same === undefined) {
      items.push({ ...piece })
      continue
    }
    for (const [key, value] of Object.entries(piece)) {
      if (value === undefined || value === null) continue
      if ((key === "text" || key === "summary" || key === "data") && typeof value === "string") {
        same[key] = (typeof same[key] === "string" ? same[key] : "") + value
      } else {
        same[key] = value
      }
    }
  }
}

/**
 * Renders a request's messages as Chat Completions messages. System messages stay system
 * messages in place; tool results become `tool` messages; an assistant message whose answer kept
 * `reasoning_details` (see {@link METADATA_KEY}) sends them back, to the host they came from
 * (`options.host`; any host when it is not given).
 *
 * @since 0.1.0
 * @category combinators
 */
export const renderMessages = (
  messages: ReadonlyArray<Provider.Message>,
  options?: { readonly host?: string | undefined }
): Array<Record<string, unknown>> =>
  messages.map((message): Record<string, unknown> => {
    switch (message._tag) {
      case "System":
        return { role: "system", content: message.text }
      case "User":
        return { role: "user", content: message.text }
      case "Assistant": {
        const details = reasoningDetails(message.metadata, options?.host)
        const reasoning = details.length === 0 ? {} : { reasoning_details: details }
        return message.toolCalls.length === 0
          ? { role: "assistant", content: message.text, ...reasoning }
          : {
            role: "assistant",
            content: message.text === "" ? null : message.text,
            ...reasoning,
            tool_calls: message.toolCalls.map((call) => ({
              id: call.id,
              type: "function",
              function: { name: call.name, arguments: call.arguments.trim() === "" ? "{}" : call.arguments }
            }))
          }
      }
      case "ToolResult":
        return { role: "tool", tool_call_id: message.callId, content: Provider.toolResultText(message) }
    }
  })

/**
 * The Chat Completions body for a request (without `stream`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const renderRequest = (
  request: Provider.Request,
  options: Pick<Options, "model" | "maxTokensField" | "baseUrl">
): Record<string, unknown> => {
  const body: Record<string, unknown> = {
    model: request.model ?? options.model,
    messages: renderMessages(request.messages, { host: Http.hostOf(options.baseUrl ?? DEFAULT_BASE_URL) })
  }
  if (request.tools !== undefined && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: "function",
      function: { name: tool.name, description: tool.description, parameters: tool.parameters }
    }))
  }
  if (request.toolChoice !== undefined) {
    body.tool_choice = typeof request.toolChoice === "string"
      ? request.toolChoice
      : { type: "function", function: { name: request.toolChoice.tool } }
  }
  if (request.temperature !== undefined) body.temperature = request.temperature
  if (request.topP !== undefined) body.top_p = request.topP
  if (request.maxTokens !== undefined) body[options.maxTokensField ?? "max_tokens"] = request.maxTokens
  if (request.stop !== undefined && request.stop.length > 0) body.stop = [...request.stop]
  if (request.seed !== undefined) body.seed = request.seed
  if (request.responseFormat !== undefined) {
    const format = request.responseFormat
    body.response_format = format.type === "json_schema"
      ? {
        type: "json_schema",
        json_schema: {
          name: format.name,
          schema: format.schema,
          ...(format.strict === undefined ? {} : { strict: format.strict })
        }
      }
      : { type: format.type }
  }
  return { ...body, ...request.extra }
}

// -----------------------------------------------------------------------------
// response normalisation
// -----------------------------------------------------------------------------

/**
 * Maps a Chat Completions finish reason; unknown reasons are `"other"`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const finishReason = (reason: unknown): Entry.FinishReason => {
  switch (reason) {
    case "stop":
      return "stop"
    case "length":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool_calls"
    case "content_filter":
      return "content_filter"
    default:
      return "other"
  }
}

const isObject = (u: unknown): u is Record<string, any> => typeof u === "object" && u !== null
const num = (u: unknown): number | undefined => typeof u === "number" && Number.isFinite(u) ? u : undefined

/**
 * Normalises a Chat Completions `usage` object.
 *
 * @since 0.1.0
 * @category combinators
 */
export const usage = (raw: unknown): Entry.Usage | undefined => {
  if (!isObject(raw)) return undefined
  const input = num(raw.prompt_tokens) ?? 0
  const output = num(raw.completion_tokens) ?? 0
  const cached = num(raw.prompt_tokens_details?.cached_tokens)
  const reasoning = num(raw.completion_tokens_details?.reasoning_tokens)
  return {
    inputTokens: input,
    outputTokens: output,
    totalTokens: num(raw.total_tokens) ?? input + output,
    ...(cached === undefined ? {} : { cachedInputTokens: cached }),
    ...(reasoning === undefined ? {} : { reasoningTokens: reasoning })
  }
}

// -----------------------------------------------------------------------------
// the wire shapes rath reads (other fields are ignored; a field rath reads with the wrong type,
// or a required one missing, is `InvalidResponse`)
// -----------------------------------------------------------------------------

const nullable = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

const TokenCount = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

const UsageWire = Schema.Struct({
  prompt_tokens: TokenCount,
  completion_tokens: TokenCount,
  total_tokens: nullable(TokenCount),
  prompt_tokens_details: nullable(Schema.Struct({ cached_tokens: nullable(TokenCount) })),
  completion_tokens_details: nullable(Schema.Struct({ reasoning_tokens: nullable(TokenCount) }))
})

/**
 * Tool-call arguments are JSON *text*. Some gateways send them as a JSON object instead; rath
 * refuses that (`InvalidResponse`) rather than re-serialise it: the recorded argument text would
 * then be rath's, not the model's, and differ between `chat` and `stream` and across replays.
 */
const ArgumentText = Schema.String.annotations({
  message: () => ({
    message: "tool-call arguments must be a string of JSON text (an object or another type here is a gateway bug)",
    override: true
  })
})

const ToolCallWire = Schema.Struct({
  id: Schema.String,
  type: Schema.optional(Schema.String),
  function: Schema.Struct({ name: Schema.String, arguments: ArgumentText })
})

const reasoningFields = {
  reasoning_content: nullable(Schema.String),
  reasoning: nullable(Schema.String),
  reasoning_details: nullable(Schema.Array(Schema.Unknown))
}

const CompletionWire = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  choices: Schema.NonEmptyArray(Schema.Struct({
    message: Schema.Struct({
      content: nullable(Schema.String),
      ...reasoningFields,
      tool_calls: nullable(Schema.Array(ToolCallWire))
    }),
    finish_reason: Schema.String
  })),
  usage: nullable(UsageWire)
})

const ChunkWire = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  choices: Schema.Array(Schema.Struct({
    index: Schema.optional(Schema.Number),
    delta: Schema.Struct({
      content: nullable(Schema.String),
      ...reasoningFields,
      tool_calls: nullable(Schema.Array(Schema.Struct({
        index: Schema.optional(TokenCount),
        id: nullable(Schema.String),
        function: nullable(Schema.Struct({ name: nullable(Schema.String), arguments: nullable(ArgumentText) }))
      })))
    }),
    finish_reason: nullable(Schema.String)
  })),
  usage: nullable(UsageWire)
})

const normaliseUsage = (raw: typeof UsageWire.Type): Entry.Usage => {
  const cached = raw.prompt_tokens_details?.cached_tokens ?? undefined
  const reasoning = raw.completion_tokens_details?.reasoning_tokens ?? undefined
  return {
    inputTokens: raw.prompt_tokens,
    outputTokens: raw.completion_tokens,
    totalTokens: raw.total_tokens ?? raw.prompt_tokens + raw.completion_tokens,
    ...(cached === undefined ? {} : { cachedInputTokens: cached }),
    ...(reasoning === undefined ? {} : { reasoningTokens: reasoning })
  }
}

const reasoningOf = (
  delta: { readonly reasoning_content?: string | null | undefined; readonly reasoning?: string | null | undefined }
) => delta.reasoning_content ?? delta.reasoning ?? undefined

/**
 * The state of one streamed completion being turned into parts: tool calls are announced once
 * their id and name are known (some gateways send the name before the id, or arguments first).
 */
interface ChunkState {
  chunks: number
  model: string | undefined
  bodyId: string | undefined
  finish: Entry.FinishReason | undefined
  usage: Entry.Usage | undefined
  calls: Map<number, { id: string | undefined; name: string | undefined; started: boolean; pending: string }>
  /** the index of the call the last tool-call delta was for */
  lastCall: number | undefined
  /** `reasoning_details` joined so far */
  details: Array<Record<string, unknown>>
}

/**
 * The index of a tool-call delta. Some gateways send none; calls stream one after the other, so a
 * delta with a new id starts the next call and one without continues the last.
 */
const callIndex = (
  state: ChunkState,
  call: { readonly index?: number | undefined; readonly id?: string | null | undefined }
): number => {
  if (call.index !== undefined) return call.index
  const last = state.lastCall === undefined ? undefined : state.calls.get(state.lastCall)
  if (last !== undefined && (call.id === undefined || call.id === null || call.id === "" || call.id === last.id)) {
    return state.lastCall!
  }
  return state.calls.size === 0 ? 0 : Math.max(...state.calls.keys()) + 1
}

const chunkParts = (state: ChunkState, chunk: typeof ChunkWire.Type): Array<Provider.StreamPart> => {
  const parts: Array<Provider.StreamPart> = []
  state.chunks++
  if (chunk.model !== undefined && chunk.model !== "" && chunk.model !== state.model) {
    state.model = chunk.model
    parts.push({ _tag: "Metadata", model: chunk.model })
  }
  if (state.bodyId === undefined && chunk.id !== undefined && chunk.id !== "") state.bodyId = chunk.id
  if (chunk.usage !== undefined && chunk.usage !== null) state.usage = normaliseUsage(chunk.usage)
  for (const choice of chunk.choices) {
    if (choice.index !== undefined && choice.index !== 0) continue
    const delta = choice.delta
    const reasoning = reasoningOf(delta)
    if (reasoning !== undefined && reasoning !== "") parts.push({ _tag: "ReasoningDelta", text: reasoning })
    if (delta.reasoning_details !== undefined && delta.reasoning_details !== null) {
      joinDetails(state.details, delta.reasoning_details)
    }
    if (typeof delta.content === "string" && delta.content !== "") {
      parts.push({ _tag: "TextDelta", text: delta.content })
    }
    for (const call of delta.tool_calls ?? []) {
      const index = callIndex(state, call)
      state.lastCall = index
      const slot = state.calls.get(index) ?? { id: undefined, name: undefined, started: false, pending: "" }
      state.calls.set(index, slot)
      if (typeof call.id === "string" && call.id !== "") slot.id ??= call.id
      const name = call.function?.name
      if (typeof name === "string" && name !== "") slot.name ??= name
      const args = call.function?.arguments ?? undefined
      if (!slot.started && slot.id !== undefined && slot.name !== undefined) {
        slot.started = true
        parts.push({ _tag: "ToolCallStart", index, id: slot.id, name: slot.name })
        if (slot.pending !== "") parts.push({ _tag: "ToolCallDelta", index, argumentsDelta: slot.pending })
        slot.pending = ""
      }
      if (args !== undefined) {
        if (slot.started) parts.push({ _tag: "ToolCallDelta", index, argumentsDelta: args })
        else slot.pending += args
      }
    }
    if (typeof choice.finish_reason === "string") state.finish = finishReason(choice.finish_reason)
  }
  return parts
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The SDK client for these options (retries off, its log lines sent to the Effect logger), made on
 * first use: a function that gives the same client every time. The `openai` module itself is
 * imported then too, so a program that never calls an OpenAI-compatible provider never loads it.
 */
const lazyClient = (options: Omit<Options, "model">): () => Promise<OpenAI> =>
  Lazy.lazy(() =>
    import("openai").then(({ default: OpenAI }) =>
      new OpenAI({
        apiKey: Redacted.value(options.apiKey),
        baseURL: options.baseUrl ?? DEFAULT_BASE_URL,
        maxRetries: 0,
        logger: Http.sdkLogger("openai"),
        timeout: options.timeoutMillis ?? Http.DEFAULT_TIMEOUT_MILLIS,
        ...(options.organization === undefined ? {} : { organization: options.organization }),
        ...(options.project === undefined ? {} : { project: options.project }),
        ...(options.headers === undefined ? {} : { defaultHeaders: options.headers })
      })
    )
  )

/**
 * The SDK client rath uses for these options (retries off); the `openai` module is imported when
 * this runs, not when rath is imported.
 *
 * @since 0.1.0
 * @category constructors
 */
export const client = (options: Omit<Options, "model">): Effect.Effect<OpenAI, Provider.ProviderError> =>
  Http.sdkClient(lazyClient(options), { provider: options.kind ?? "openai", sdk: "openai" })

/**
 * An OpenAI-compatible provider.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { OpenAi } from "rath"
 *
 * const provider = OpenAi.make({
 *   apiKey: Redacted.make("sk-..."),
 *   baseUrl: "http://127.0.0.1:11434/v1",
 *   model: "llama3.2"
 * })
 * ```
 */
export const make = (options: Options): Provider.Service => {
  const sdk = lazyClient(options)
  const http = Http.adapter({
    kind: options.kind ?? "openai",
    model: options.model,
    baseUrl: options.baseUrl ?? DEFAULT_BASE_URL,
    path: "/chat/completions",
    timeoutMillis: options.timeoutMillis,
    maxResponseBytes: options.maxResponseBytes
  })
  const load = Http.sdkClient(sdk, { provider: options.kind ?? "openai", sdk: "openai" })
  const decodeCompletion = http.decode(CompletionWire)
  const decodeChunk = http.decode(ChunkWire)

  const chat = (request: Provider.Request): Effect.Effect<Provider.Response, Provider.ProviderError> =>
    Effect.gen(function*() {
      const body = { ...renderRequest(request, options), stream: false }
      // the SDK is loaded (on first use) before the call's timeout starts
      const openai = yield* load
      const { body: raw, response } = yield* http.json(
        request,
        (signal) =>
          openai.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal })
            .asResponse()
      )
      const completion = yield* decodeCompletion(request, response.status, "the chat.completion", raw)
      const choice = completion.choices[0]
      const message = choice.message
      const reasoning = reasoningOf(message)
      const requestId = response.headers.get("x-request-id") ??
        (completion.id !== undefined && completion.id !== "" ? completion.id : undefined)
      const metadata = metadataOf(message.reasoning_details ?? [], http.host)
      return {
        ...(metadata === undefined ? {} : { metadata }),
        text: message.content ?? "",
        ...(reasoning === undefined || reasoning === "" ? {} : { reasoning }),
        toolCalls: (message.tool_calls ?? []).map((call) =>
          Provider.toolCall(call.id, call.function.name, call.function.arguments)
        ),
        finishReason: finishReason(choice.finish_reason),
        ...(completion.usage === undefined || completion.usage === null
          ? { missing: ["usage"] as const }
          : { usage: normaliseUsage(completion.usage) }),
        model: completion.model !== undefined && completion.model !== ""
          ? completion.model
          : request.model ?? options.model,
        provider: http.providerInfo(requestId)
      } satisfies Provider.Response
    })

  const stream = (request: Provider.Request): Stream.Stream<Provider.StreamPart, Provider.ProviderError> => {
    const body = { ...renderRequest(request, options), stream: true, stream_options: { include_usage: true } }
    return Stream.unwrap(Effect.map(load, (openai) =>
      http.stream(request, {
        open: (signal) =>
          openai.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, { signal })
            .asResponse(),
        requestIdHeader: "x-request-id",
        decoder: () => {
          const state: ChunkState = {
            chunks: 0,
            model: undefined,
            bodyId: undefined,
            finish: undefined,
            usage: undefined,
            calls: new Map(),
            lastCall: undefined,
            details: []
          }
          return {
            event: (event, status): Http.EventResult => {
              if (event.data.trim() === "[DONE]") return Either.right("end")
              const raw = http.parseJson(request, status, "a chat.completion.chunk event", event.data)
              if (Either.isLeft(raw)) return Either.left(raw.left)
              if (isObject(raw.right) && raw.right.error !== undefined && raw.right.error !== null) {
                return Either.left(Http.streamError(http.context(request), status, raw.right))
              }
              return Either.map(
                decodeChunk(request, status, "a chat.completion.chunk", raw.right),
                (chunk) => chunkParts(state, chunk)
              )
            },
            end: (response, headerId, broken) => {
              if (state.chunks === 0) {
                return Either.left(
                  broken ?? http.invalid(request, response.status, "no chat.completion.chunk events in the response")
                )
              }
              // a finished answer is whole even if the connection broke before `[DONE]` (or the usage)
              if (state.finish === undefined) return Either.left(Http.truncated(http.context(request), broken))
              for (const [index, slot] of state.calls) {
                if (!slot.started) {
                  return Either.left(http.invalid(
                    request,
                    response.status,
                    `tool call ${index} came without ${slot.id === undefined ? "an id" : "a function name"}`
                  ))
                }
              }
              const tail: Array<Provider.StreamPart> = []
              const metadata = metadataOf(state.details, http.host)
              if (metadata !== undefined) tail.push({ _tag: "Metadata", metadata })
              if (state.usage !== undefined) tail.push({ _tag: "Usage", usage: state.usage })
              tail.push({
                _tag: "Finish",
                finishReason: state.finish,
                provider: http.providerInfo(headerId ?? state.bodyId),
                // asked for with `include_usage`: a stream without it is flagged, never zero
                ...(state.usage === undefined ? { missing: ["usage"] } : {})
              })
              return Either.right(tail)
            }
          }
        }
      })))
  }

  return Provider.make({ info: http.info, chat, stream })
}

/**
 * A layer providing an OpenAI-compatible provider (no retries: wrap with `Provider.withRetry`,
 * or use `ProviderConfig.layer`, which does).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Provider.Provider> =>
  Layer.sync(Provider.Provider, () => make(options))

// -----------------------------------------------------------------------------
// embeddings
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface EmbedderOptions extends Omit<Options, "model" | "maxTokensField" | "kind"> {
  /** The embedding model, e.g. `text-embedding-3-small`. */
  readonly model: string
  /**
   * The vector length. When set it is also sent as `dimensions` (models that can shorten their
   * vectors do so); when absent it is learned from one probe call when the embedder is made.
   */
  readonly dimensions?: number | undefined
  /** Texts per HTTP request (default 256). */
  readonly batchSize?: number | undefined
}

/**
 * An OpenAI-compatible embedder (`POST /embeddings`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEmbedder = (options: EmbedderOptions): Effect.Effect<Embedder.Service, Embedder.EmbedderError> =>
  Effect.gen(function*() {
    const sdk = yield* Effect.mapError(
      client(options),
      (error) => new Embedder.EmbedderError({ reason: "RequestFailed", detail: error.detail, cause: error })
    )
    const batchSize = Math.max(1, options.batchSize ?? 256)
    const request = (texts: ReadonlyArray<string>, expected: number | undefined) =>
      Effect.gen(function*() {
        const response = yield* Effect.tryPromise({
          try: (signal) =>
            sdk.embeddings.create({
              model: options.model,
              input: [...texts],
              encoding_format: "float",
              ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions })
            }, { signal }),
          catch: (cause) =>
            new Embedder.EmbedderError({
              reason: "RequestFailed",
              detail: cause instanceof Error ? cause.message : String(cause),
              cause
            })
        })
        const raw: unknown = response
        if (!isObject(raw) || !Array.isArray(raw.data) || raw.data.length !== texts.length) {
          return yield* new Embedder.EmbedderError({
            reason: "InvalidResponse",
            detail: `expected ${texts.length} embeddings from ${options.model}`
          })
        }
        const rows = [...raw.data].sort((a, b) => (num(a?.index) ?? 0) - (num(b?.index) ?? 0))
        const vectors: Array<ReadonlyArray<number>> = []
        for (const row of rows) {
          const vector: unknown = isObject(row) ? row.embedding : undefined
          if (!Array.isArray(vector) || !vector.every((x) => typeof x === "number")) {
            return yield* new Embedder.EmbedderError({
              reason: "InvalidResponse",
              detail: "an embedding is not a vector"
            })
          }
          if (expected !== undefined && vector.length !== expected) {
            return yield* new Embedder.EmbedderError({
              reason: "DimensionMismatch",
              detail: `${options.model} returned ${vector.length} dimensions, expected ${expected}`
            })
          }
          vectors.push(vector)
        }
        return vectors
      })
    const dimensions = options.dimensions ??
      (yield* Effect.map(request(["dimension probe"], undefined), (vectors) => vectors[0]?.length ?? 0))
    const embed = (texts: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const out: Array<ReadonlyArray<number>> = []
        for (let i = 0; i < texts.length; i += batchSize) {
          out.push(...(yield* request(texts.slice(i, i + batchSize), dimensions)))
        }
        return out
      })
    return Embedder.Embedder.of({ model: options.model, dimensions, embed })
  })

/**
 * A layer providing an OpenAI-compatible embedder.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEmbedder = (options: EmbedderOptions): Layer.Layer<Embedder.Embedder, Embedder.EmbedderError> =>
  Layer.effect(Embedder.Embedder, makeEmbedder(options))
