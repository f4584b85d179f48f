/**
 * The model boundary: one normalised request, one normalised response, one stream of deltas,
 * whatever vendor answers.
 *
 * A `Provider` turns a request (the session's transcript, tool definitions and options) into a
 * {@link Response} (`chat`) or a `Stream` of {@link StreamPart}s (`stream`). Adapters live in
 * `src/providers/`; the shapes follow `@effect/ai`'s `LanguageModel` and `Response` closely so a
 * bridge to `@effect/ai` providers stays easy.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Entry from "./Entry.js"
import * as Digest from "./internal/digest.js"
import { consume } from "./internal/stream.js"

// -----------------------------------------------------------------------------
// request
// -----------------------------------------------------------------------------

/**
 * A tool as the model sees it: a name, a description and a JSON Schema for its arguments.
 *
 * @since 0.1.0
 * @category models
 */
export type ToolDefinition = Entry.ToolDefinition

/**
 * `auto` lets the model choose, `none` forbids tool calls, `required` forces some tool call and
 * `{ tool }` forces one named tool.
 *
 * @since 0.1.0
 * @category models
 */
export type ToolChoice = Entry.ToolChoice

/**
 * @since 0.1.0
 * @category models
 */
export type ResponseFormat = Entry.ResponseFormat

/**
 * One message of a request: system, user, assistant (text, reasoning, tool calls) or a tool
 * result. Session entries of those kinds are messages as they are; {@link fromEntries} turns a
 * transcript into messages (a `Compression` becomes a user message carrying its summary).
 *
 * @since 0.1.0
 * @category models
 */
export type Message = Entry.ModelMessage

/**
 * A normalised model request. Each adapter renders `messages` into its vendor's wire format.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly messages: ReadonlyArray<Message>
  readonly tools?: ReadonlyArray<ToolDefinition> | undefined
  readonly toolChoice?: ToolChoice | undefined
  /** Overrides the provider's default model. */
  readonly model?: string | undefined
  readonly temperature?: number | undefined
  readonly topP?: number | undefined
  readonly maxTokens?: number | undefined
  readonly stop?: ReadonlyArray<string> | undefined
  readonly seed?: number | undefined
  readonly responseFormat?: ResponseFormat | undefined
  /** Vendor arguments passed through as they are. */
  readonly extra?: Record<string, unknown> | undefined
}

/**
 * The messages a transcript is sent as (see `Entry.toModelMessages`; `Session.messages` gives a
 * session's): a `Compression` becomes a user message carrying its summary.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEntries: (entries: Iterable<Entry.Message>) => Array<Message> = Entry.toModelMessages

// -----------------------------------------------------------------------------
// response
// -----------------------------------------------------------------------------

/**
 * A complete model answer, with the evidence of who answered.
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  readonly text: string
  readonly reasoning?: string | undefined
  readonly toolCalls: ReadonlyArray<Entry.ToolCall>
  readonly finishReason: Entry.FinishReason
  readonly usage?: Entry.Usage | undefined
  /**
   * What rath asked for and the answer lacks: `"usage"` when the vendor sent no (or incomplete)
   * token usage although it was requested. The answer is otherwise whole; `usage` is then absent,
   * never zero, so a budget can tell an unknown cost from a free one.
   */
  readonly missing?: ReadonlyArray<"usage"> | undefined
  /** The model that answered, as the response reported it. */
  readonly model?: string | undefined
  readonly provider: Entry.ProviderInfo
  /**
   * What the provider needs to continue the conversation from this answer (thinking signatures,
   * reasoning item ids, encrypted reasoning), opaque and keyed by wire format; recorded on the
   * entry and sent back by the adapter on the next turn (see `Entry.ProviderMetadata`).
   */
  readonly metadata?: Entry.ProviderMetadata | undefined
}

/**
 * The parts of a streamed answer. Tool calls are keyed by `index`: a `ToolCallStart` names the
 * call, then `ToolCallDelta`s carry its argument text in pieces.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamPart =
  | { readonly _tag: "TextDelta"; readonly text: string }
  | { readonly _tag: "ReasoningDelta"; readonly text: string }
  | { readonly _tag: "ToolCallStart"; readonly index: number; readonly id: string; readonly name: string }
  | { readonly _tag: "ToolCallDelta"; readonly index: number; readonly argumentsDelta: string }
  | { readonly _tag: "Usage"; readonly usage: Entry.Usage }
  | {
    readonly _tag: "Metadata"
    readonly model?: string | undefined
    readonly requestId?: string | undefined
    /** Continuation metadata (see {@link Response}); merged by key into what came before. */
    readonly metadata?: Entry.ProviderMetadata | undefined
  }
  | {
    readonly _tag: "Retry"
    readonly attempt: number
    readonly delayMillis: number
    readonly error: ProviderError
  }
  | {
    readonly _tag: "Finish"
    readonly finishReason: Entry.FinishReason
    readonly provider: Entry.ProviderInfo
    /** What rath asked for and the answer lacks (see {@link Response}). */
    readonly missing?: ReadonlyArray<"usage"> | undefined
  }

/**
 * @since 0.1.0
 * @category errors
 */
export class ProviderError extends Schema.TaggedError<ProviderError>("rath/ProviderError")("ProviderError", {
  reason: Schema.Literal(
    "RateLimited",
    "Unauthorized",
    "BadRequest",
    "ModelNotFound",
    "ContextLengthExceeded",
    "Timeout",
    "Transport",
    "InvalidResponse",
    "Unavailable",
    "ScriptExhausted",
    "ReplayDiverged"
  ),
  provider: Schema.String,
  model: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number),
  detail: Schema.String,
  retryAfterMillis: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    const model = this.model === undefined ? "" : ` model ${this.model}`
    return `${this.reason} from ${this.provider}${model}${status}: ${this.detail}`
  }

  /**
   * Whether retrying the same request may succeed.
   *
   * @since 0.1.0
   */
  get retryable(): boolean {
    return this.reason === "RateLimited" || this.reason === "Unavailable" || this.reason === "Timeout" ||
      this.reason === "Transport"
  }
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The adapter kind (`"openai"`, `"anthropic"`, `"scripted"`, ...), the default model, the host. */
  readonly info: { readonly kind: string; readonly model: string; readonly host?: string | undefined }
  readonly chat: (request: Request) => Effect.Effect<Response, ProviderError>
  readonly stream: (request: Request) => Stream.Stream<StreamPart, ProviderError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Provider extends Context.Tag("rath/Provider")<Provider, Service>() {}

/**
 * Builds a provider from its stream; `chat` folds the stream with {@link accumulate} unless given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly info: Service["info"]
  readonly stream: Service["stream"]
  readonly chat?: Service["chat"] | undefined
}): Service =>
  Provider.of({
    info: options.info,
    stream: options.stream,
    chat: options.chat ?? ((request) => accumulate(options.stream(request), options.info))
  })

// -----------------------------------------------------------------------------
// accumulation
// -----------------------------------------------------------------------------

/**
 * The state of a stream being folded into a {@link Response}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Accumulator {
  readonly text: string
  readonly reasoning: string
  readonly calls: ReadonlyArray<
    { readonly index: number; readonly id: string; readonly name: string; readonly arguments: string }
  >
  readonly usage: Entry.Usage | undefined
  readonly model: string | undefined
  readonly requestId: string | undefined
  readonly finishReason: Entry.FinishReason | undefined
  readonly provider: Entry.ProviderInfo | undefined
  readonly missing: ReadonlyArray<"usage"> | undefined
  readonly metadata?: Entry.ProviderMetadata | undefined
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const emptyAccumulator: Accumulator = {
  text: "",
  reasoning: "",
  calls: [],
  usage: undefined,
  model: undefined,
  requestId: undefined,
  finishReason: undefined,
  provider: undefined,
  missing: undefined
}

/**
 * Folds one stream part into the accumulator. Pure; tool-call argument deltas are joined by index
 * in arrival order.
 *
 * @since 0.1.0
 * @category combinators
 */
export const step = (self: Accumulator, part: StreamPart): Accumulator => {
  // each case builds the next accumulator as one literal of a fixed shape (spreading `self` with a
  // conditional spread inside made several objects per part)
  switch (part._tag) {
    case "TextDelta":
      return next(self, self.text + part.text, self.reasoning, self.calls, self.usage, self.model, self.requestId)
    case "ReasoningDelta":
      return next(self, self.text, self.reasoning + part.text, self.calls, self.usage, self.model, self.requestId)
    case "ToolCallStart": {
      const calls = self.calls
      for (let i = 0; i < calls.length; i++) if (calls[i]!.index === part.index) return self
      const call = { index: part.index, id: part.id, name: part.name, arguments: "" }
      return next(
        self,
        self.text,
        self.reasoning,
        copyWith(calls, calls.length, call),
        self.usage,
        self.model,
        self.requestId
      )
    }
    case "ToolCallDelta": {
      let calls = self.calls
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i]!
        if (call.index === part.index) {
          calls = copyWith(calls, i, {
            index: call.index,
            id: call.id,
            name: call.name,
            arguments: call.arguments + part.argumentsDelta
          })
        }
      }
      return next(self, self.text, self.reasoning, calls, self.usage, self.model, self.requestId)
    }
    case "Usage":
      return next(self, self.text, self.reasoning, self.calls, part.usage, self.model, self.requestId)
    case "Metadata":
      return next(
        self,
        self.text,
        self.reasoning,
        self.calls,
        self.usage,
        part.model ?? self.model,
        part.requestId ?? self.requestId,
        part.metadata === undefined ? self.metadata : { ...self.metadata, ...part.metadata }
      )
    case "Retry":
      return self
    case "Finish":
      return next(
        self,
        self.text,
        self.reasoning,
        self.calls,
        self.usage,
        self.model,
        self.requestId,
        self.metadata,
        part.finishReason,
        part.provider,
        part.missing
      )
  }
}

/**
 * A copy of `items` with `item` at `at` (at the end when `at` is their length), of exactly its
 * length (a copy by spread or slice and push reserves room for 17).
 */
const copyWith = <A>(items: ReadonlyArray<A>, at: number, item: A): Array<A> => {
  if (items.length === 0 || (items.length === 1 && at === 0)) return [item]
  const out = new Array<A>(Math.max(items.length, at + 1))
  for (let i = 0; i < items.length; i++) out[i] = items[i]!
  out[at] = item
  return out
}

/** The accumulator after a part: the fields given, the others from `self`. */
const next = (
  self: Accumulator,
  text: string,
  reasoning: string,
  calls: Accumulator["calls"],
  usage: Entry.Usage | undefined,
  model: string | undefined,
  requestId: string | undefined,
  metadata: Entry.ProviderMetadata | undefined = self.metadata,
  finishReason: Entry.FinishReason | undefined = self.finishReason,
  provider: Entry.ProviderInfo | undefined = self.provider,
  missing: ReadonlyArray<"usage"> | undefined = self.missing
): Accumulator =>
  metadata === undefined
    ? { text, reasoning, calls, usage, model, requestId, finishReason, provider, missing }
    : { text, reasoning, calls, usage, model, requestId, finishReason, provider, missing, metadata }

/**
 * The deepest nesting of arrays and objects that tool-call arguments may have. Deeper argument
 * text is refused before it is parsed (a model, or a hostile gateway, can send thousands of
 * levels; `JSON.stringify`, schema error messages and stores recurse on them and die).
 *
 * @since 0.1.0
 * @category models
 */
export const MAX_ARGUMENT_DEPTH = 64

/** Whether JSON text nests deeper than `max`: one pass, brackets inside strings skipped. */
const textNestsDeeper = (text: string, max: number): boolean => {
  // nesting deeper than `max` takes more than `max` characters
  if (text.length <= max) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // a backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 91 || c === 123) {
      if (++depth > max) return true
    } else if (c === 93 || c === 125) {
      depth--
    }
  }
  return false
}

/**
 * Whether a value (parsed arguments, or an approver's edit) nests arrays and objects no deeper than
 * {@link MAX_ARGUMENT_DEPTH}. Recursion is bounded by that depth; a cyclic value counts as too deep.
 *
 * @since 0.1.0
 * @category guards
 */
export const argumentsWithinDepth = (value: unknown, max: number = MAX_ARGUMENT_DEPTH): boolean => {
  // a value shared by several parents is checked once from its deepest position so far that passed
  const passed = new Map<object, number>()
  const check = (u: unknown, depth: number): boolean => {
    if (typeof u !== "object" || u === null) return true
    if (depth >= max) return false
    const seen = passed.get(u)
    if (seen !== undefined && seen >= depth) return true
    const children: ReadonlyArray<unknown> = Array.isArray(u) ? u : Object.values(u)
    for (let i = 0; i < children.length; i++) {
      if (!check(children[i], depth + 1)) return false
    }
    passed.set(u, depth)
    return true
  }
  return check(value, 0)
}

/**
 * Parses tool-call argument text, bounded: an empty string means `{}`; text nested deeper than
 * {@link MAX_ARGUMENT_DEPTH} is refused before parsing; text that is not JSON is refused. The left
 * side says why, in words a model can act on.
 *
 * @since 0.1.0
 * @category combinators
 */
export const parseArgumentsEither = (text: string): Either.Either<unknown, string> => {
  if (text.trim() === "") return Either.right({})
  if (textNestsDeeper(text, MAX_ARGUMENT_DEPTH)) {
    return Either.left(`the arguments nest arrays and objects deeper than ${MAX_ARGUMENT_DEPTH} levels`)
  }
  try {
    return Either.right(JSON.parse(text))
  } catch (cause) {
    return Either.left(`the arguments are not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

/**
 * Parses tool-call argument text with {@link parseArgumentsEither}: an empty string means `{}`;
 * text that is not JSON, or nests too deep, gives `undefined` (the raw text is kept, and the agent
 * reports `invalid_arguments` to the model).
 *
 * @since 0.1.0
 * @category combinators
 */
export const parseArguments = (text: string): unknown => {
  // what parseArgumentsEither decides, without its Either and reason (this runs on every call)
  if (text.trim() === "") return {}
  if (textNestsDeeper(text, MAX_ARGUMENT_DEPTH)) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Makes a tool call record from its raw argument text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toolCall = (id: string, name: string, argumentText: string): Entry.ToolCall => {
  const parsed = parseArguments(argumentText)
  return parsed === undefined ? { id, name, arguments: argumentText } : { id, name, arguments: argumentText, parsed }
}

/**
 * The response an accumulator describes.
 *
 * @since 0.1.0
 * @category combinators
 */
export const finish = (self: Accumulator, fallback: Service["info"]): Response => {
  const provider: Entry.ProviderInfo = self.provider ??
    (fallback.host === undefined ? { kind: fallback.kind } : { kind: fallback.kind, host: fallback.host })
  const calls = self.calls.length < 2 ? self.calls : [...self.calls].sort((a, b) => a.index - b.index)
  // of exactly its length (pushing reserved room for 17)
  const toolCalls = new Array<Entry.ToolCall>(calls.length)
  for (let i = 0; i < calls.length; i++) toolCalls[i] = toolCall(calls[i]!.id, calls[i]!.name, calls[i]!.arguments)
  // the fields that are set, in the order they have always had (conditional spreads made an
  // object each)
  const out = new PlainResponse() as { -readonly [K in keyof Response]?: Response[K] }
  out.text = self.text
  if (self.reasoning !== "") out.reasoning = self.reasoning
  out.toolCalls = toolCalls
  out.finishReason = self.finishReason ?? (calls.length > 0 ? "tool_calls" : "stop")
  if (self.usage !== undefined) out.usage = self.usage
  if (self.missing !== undefined && self.missing.length > 0) out.missing = self.missing
  out.model = self.model ?? fallback.model
  out.provider = self.requestId === undefined || provider.requestId !== undefined
    ? provider
    : { ...provider, requestId: self.requestId }
  if (self.metadata !== undefined) out.metadata = self.metadata
  return out as Response
}

/**
 * Makes a plain object (its prototype `Object.prototype`, as a literal's): made with `new`, it gets
 * room inside it for a response's fields (a literal grew its field storage as they were set).
 */
const PlainResponse = function() {} as unknown as new() => object
PlainResponse.prototype = Object.prototype

/**
 * Runs a stream to its end and folds it into one response.
 *
 * @since 0.1.0
 * @category combinators
 */
export const accumulate = <E>(
  parts: Stream.Stream<StreamPart, E>,
  fallback: Service["info"]
): Effect.Effect<Response, E> =>
  Effect.suspend(() => {
    let acc = emptyAccumulator
    return Effect.zipRight(
      consume(parts, (chunk) => {
        for (const part of chunk) acc = step(acc, part)
        return undefined
      }),
      Effect.sync(() => finish(acc, fallback))
    )
  })

/**
 * What a request records besides its messages: the model asked for and the options that were
 * set (see `Entry.CallOptions`).
 *
 * @since 0.1.0
 * @category getters
 */
export const optionsOf = (request: Request): Entry.CallOptions | undefined => {
  const options: { -readonly [K in keyof Entry.CallOptions]: Entry.CallOptions[K] } = {}
  if (request.toolChoice !== undefined) options.toolChoice = request.toolChoice
  if (request.responseFormat !== undefined) options.responseFormat = request.responseFormat
  if (request.temperature !== undefined) options.temperature = request.temperature
  if (request.topP !== undefined) options.topP = request.topP
  if (request.maxTokens !== undefined) options.maxTokens = request.maxTokens
  if (request.stop !== undefined) options.stop = request.stop
  if (request.seed !== undefined) options.seed = request.seed
  if (request.extra !== undefined) options.extra = request.extra
  return Object.keys(options).length === 0 ? undefined : options
}

/**
 * The assistant entry draft that records a response, with the evidence of which provider and
 * model answered and, when the request is given, what was asked (its fingerprint, model, tools
 * and options). `Model.call` makes and records a call in one step; this is the lower-level piece.
 *
 * @since 0.1.0
 * @category combinators
 */
export const toDraft = (response: Response, author?: Entry.Author, request?: Request): Entry.DraftFor<"Assistant"> =>
  Entry.assistant({
    text: response.text,
    reasoning: response.reasoning,
    toolCalls: response.toolCalls,
    provider: response.provider,
    model: response.model,
    finishReason: response.finishReason,
    usage: response.usage,
    missing: response.missing,
    metadata: response.metadata,
    requestedModel: request?.model,
    requestFingerprint: request === undefined ? undefined : fingerprint(request),
    tools: request?.tools === undefined || request.tools.length === 0 ? undefined : request.tools,
    options: request === undefined ? undefined : optionsOf(request),
    author
  })

/**
 * Feeds what a message sends to a model into a digest: its kind and content, never the ids,
 * timestamps or authors of the entry it may be (each part a text of its own, so parts cannot run
 * into each other).
 */
const feedMessage = (hasher: Digest.Hasher, message: Message): Digest.Hasher => {
  hasher.add(message._tag)
  switch (message._tag) {
    case "System":
    case "User":
      return hasher.add(message.text)
    case "Assistant": {
      hasher.add(message.text)
      if (message.reasoning === undefined) hasher.add("\u0000")
      else hasher.addAfter("r", message.reasoning)
      for (const call of message.toolCalls) hasher.add(call.id).add(call.name).add(call.arguments)
      hasher.add(String(message.toolCalls.length))
      // continuation metadata is sent too (a redacted thinking block is nothing but its data); a
      // message without it digests as before, so earlier fingerprints stay valid
      return message.metadata === undefined ? hasher : hasher.addAfter("m", JSON.stringify(message.metadata))
    }
    case "ToolResult":
      hasher.add(message.callId).add(message.toolName)
      if (typeof message.output === "string") hasher.addAfter("s", message.output)
      else hasher.addAfter("j", JSON.stringify(message.output) ?? "null")
      return hasher.add(
        message.error === undefined ? "\u0000" : `${message.error.kind}\u0000${message.error.message}`
      )
  }
}

/**
 * The prefix of fingerprints in the current format. Fingerprints recorded by rath 0.1 start with
 * `sha256:` and hashed only the messages, tools, tool choice and response format.
 *
 * @since 0.1.0
 * @category models
 */
export const FINGERPRINT_PREFIX = "v2:"

/**
 * A content hash of exactly what a request sends: every message (its content, not the ids,
 * timestamps or authors of the entries it may come from), the tool definitions, the model asked
 * for and every option. Two requests that send a model the same thing get the same fingerprint;
 * replay matches a re-run's requests to the recording by it, and `explain` checks a rebuilt request
 * against it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const fingerprint = (request: Request): string => {
  // a digest over one digest per message (each computed once per message object: an agent's
  // transcript grows by a few entries a turn, so a call digests a few new messages and a list of
  // digests, not the whole history again), the tools' digest and the options
  const hasher = Digest.acquire()
  const messages = request.messages
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    const cached = digests.get(message)
    if (cached !== undefined) {
      hasher.add(cached)
      continue
    }
    // a short message is digested again on every call rather than cached: a weak map entry costs
    // more to make, and to collect, than the digest (its digits are fed without making a string)
    const inner = feedMessage(Digest.acquire(), message)
    if (inner.fed >= CACHED_FROM) {
      const digest = inner.done()
      digests.set(message, digest)
      hasher.add(digest)
    } else {
      hasher.addDigestOf(inner)
    }
    Digest.release(inner)
  }
  hasher.add(request.tools === undefined || request.tools.length === 0 ? "" : toolsDigest(request.tools))
  hasher.add(optionsJson(request))
  const fingerprint = hasher.done(FINGERPRINT_PREFIX)
  Digest.release(hasher)
  return fingerprint
}

/** Messages whose fed text is at least this long have their digest cached. */
const CACHED_FROM = 256

// the options of the last request whose options are all primitives or absent (an agent's turns
// ask with the same ones), and their JSON: reused when a request has the same values (an object
// could have changed in place since, so a request with one is always serialised)
let last: Request | undefined
let lastJson = ""

const sameOptions = (a: Request, b: Request): boolean =>
  a.model === b.model && a.toolChoice === b.toolChoice && a.responseFormat === b.responseFormat &&
  a.temperature === b.temperature && a.topP === b.topP && a.maxTokens === b.maxTokens && a.stop === b.stop &&
  a.seed === b.seed && a.extra === b.extra

const optionsJson = (request: Request): string => {
  const primitive = typeof request.toolChoice !== "object" && request.responseFormat === undefined &&
    request.stop === undefined && request.extra === undefined
  if (primitive && last !== undefined && sameOptions(request, last)) return lastJson
  const json = JSON.stringify([
    request.model ?? null,
    request.toolChoice ?? null,
    request.responseFormat ?? null,
    request.temperature ?? null,
    request.topP ?? null,
    request.maxTokens ?? null,
    request.stop ?? null,
    request.seed ?? null,
    request.extra ?? null
  ])
  if (primitive) {
    // the options only: the request's messages are not kept alive by this
    last = {
      messages: [],
      model: request.model,
      toolChoice: request.toolChoice,
      temperature: request.temperature,
      topP: request.topP,
      maxTokens: request.maxTokens,
      seed: request.seed
    }
    lastJson = json
  }
  return json
}

/**
 * Whether a recorded fingerprint is in the current format (see {@link FINGERPRINT_PREFIX}).
 *
 * @since 0.1.0
 * @category guards
 */
export const isCurrentFingerprint = (value: string): boolean => value.startsWith(FINGERPRINT_PREFIX)

const digests = new WeakMap<object, string>()

const toolsDigest = (tools: ReadonlyArray<ToolDefinition>): string => {
  let digest = digests.get(tools)
  if (digest === undefined) {
    const hasher = new Digest.Hasher()
    for (const tool of tools) hasher.add(tool.name).add(tool.description).add(JSON.stringify(tool.parameters))
    digest = hasher.done()
    digests.set(tools, digest)
  }
  return digest
}

/**
 * Calls the current provider.
 *
 * @since 0.1.0
 * @category accessors
 */
export const chat = (request: Request): Effect.Effect<Response, ProviderError, Provider> =>
  Effect.flatMap(Provider, (provider) => provider.chat(request))

/**
 * Streams from the current provider.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = (request: Request): Stream.Stream<StreamPart, ProviderError, Provider> =>
  Stream.unwrap(Effect.map(Provider, (provider) => provider.stream(request)))

// -----------------------------------------------------------------------------
// rendering helpers shared by the adapters
// -----------------------------------------------------------------------------

/**
 * The text a tool result is sent to a model as: a string output as it is, any other output as
 * JSON, and a failure as `Error (kind): message` (followed by the output when there is one).
 *
 * @since 0.1.0
 * @category combinators
 */
export const toolResultText = (entry: Pick<Entry.ToolResult, "output" | "error">): string => {
  const output = entry.output === undefined || entry.output === null
    ? ""
    : typeof entry.output === "string"
    ? entry.output
    : JSON.stringify(entry.output)
  if (entry.error === undefined) return output
  const head = `Error (${entry.error.kind}): ${entry.error.message}`
  return output === "" ? head : `${head}\n${output}`
}

/**
 * How a `Compression` entry is shown to a model (see `Entry.summaryText`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const summaryText: (entry: Entry.Compression) => string = Entry.summaryText

// -----------------------------------------------------------------------------
// retries
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /**
   * The retry policy, fed the failure of every attempt. Default {@link defaultRetrySchedule}:
   * exponential from 500 ms, at most 3 retries. The wait is never shorter than the vendor's
   * `Retry-After` (`ProviderError.retryAfterMillis`).
   */
  readonly schedule?: Schedule.Schedule<unknown, ProviderError> | undefined
  /** Which failures to retry; default `error.retryable` (rate limits, 5xx, timeouts, transport). */
  readonly while?: ((error: ProviderError) => boolean) | undefined
  /**
   * The longest `Retry-After` honoured (default {@link DEFAULT_MAX_RETRY_AFTER}, one minute; at
   * most about 24.8 days, the longest timer a runtime can set). A vendor that asks for a longer
   * wait is not retried: the call fails with its error at once, the detail saying how long it
   * asked for, instead of sleeping for an hour (or, past 2^31-1 ms, forever).
   */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

/**
 * The default cap on a vendor's `Retry-After`: one minute.
 *
 * @since 0.1.0
 * @category constructors
 */
export const DEFAULT_MAX_RETRY_AFTER: Duration.Duration = Duration.minutes(1)

/** The longest delay a timer can have (2^31-1 ms); a longer sleep would never wake. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * Exponential backoff from 500 ms (factor 2), at most 3 retries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown, ProviderError> = Schedule.exponential("500 millis", 2)
  .pipe(Schedule.intersect(Schedule.recurs(3)))

const isContent = (part: StreamPart): boolean => part._tag !== "Metadata" && part._tag !== "Retry"

/** The error for a `Retry-After` above the cap: the vendor's error, its detail saying why rath gave up. */
const retryAfterTooLong = (error: ProviderError, capMillis: number): ProviderError =>
  new ProviderError({
    reason: error.reason,
    provider: error.provider,
    ...(error.model === undefined ? {} : { model: error.model }),
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.retryAfterMillis === undefined ? {} : { retryAfterMillis: error.retryAfterMillis }),
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    detail: `${error.detail} (the vendor asked to wait ${
      Duration.format(Duration.millis(Math.round(error.retryAfterMillis ?? 0)))
    } before a retry, longer than maxRetryAfter ${Duration.format(Duration.millis(capMillis))}: not retried)`
  })

/**
 * Steps the schedule once for a failure: the delay in milliseconds (right), or the error to fail
 * with when the policy gives up (left). The delay is the schedule's, raised to the vendor's
 * `Retry-After` when that is longer; a `Retry-After` above the cap gives up at once.
 */
const makeDecider = (options: RetryOptions | undefined) =>
  Effect.gen(function*() {
    const schedule = options?.schedule ?? defaultRetrySchedule
    const shouldRetry = options?.while ?? ((error: ProviderError) => error.retryable)
    const capMillis = Math.min(
      Math.max(Duration.toMillis(options?.maxRetryAfter ?? DEFAULT_MAX_RETRY_AFTER), 0),
      MAX_TIMER_MILLIS
    )
    const state = yield* Ref.make<unknown>(schedule.initial)
    return (error: ProviderError): Effect.Effect<Either.Either<number, ProviderError>> => {
      if (!shouldRetry(error)) return Effect.succeed(Either.left(error))
      const asked = error.retryAfterMillis ?? 0
      // NaN never compares above the cap: treat an unreadable wait as too long too
      if (!(asked <= capMillis)) return Effect.succeed(Either.left(retryAfterTooLong(error, capMillis)))
      return Effect.gen(function*() {
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const [next, , decision] = yield* schedule.step(now, error, yield* Ref.get(state))
        yield* Ref.set(state, next)
        if (ScheduleDecision.isDone(decision)) return Either.left(error)
        const scheduled = Math.max(Intervals.start(decision.intervals) - now, 0)
        return Either.right(Math.min(Math.max(scheduled, asked), MAX_TIMER_MILLIS))
      })
    }
  })

/**
 * Retries a provider's calls with a `Schedule`, honouring `Retry-After` up to a cap
 * (`maxRetryAfter`, default one minute; a longer wait is not retried).
 *
 * `chat` is retried as a whole. A `stream` is retried only while it has not yet emitted content
 * (text, reasoning, tool calls, usage or finish): before each retry it emits a `Retry` part with
 * the attempt number, the wait and the error, so a UI can show "rate limited, retrying in 2 s".
 * A failure after content has streamed is not retried (the consumer has already seen part of an
 * answer); it fails the stream.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Provider, Scripted } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const scripted = yield* Scripted.make([Scripted.fail("RateLimited"), Scripted.reply("hi")])
 *   const robust = Provider.withRetry(scripted.service, {
 *     schedule: Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(5)))
 *   })
 *   return yield* robust.chat({ messages: [] }) // waits 1 s, then answers "hi"
 * })
 * ```
 */
export const withRetry = (service: Service, options?: RetryOptions): Service => {
  const chat = (request: Request): Effect.Effect<Response, ProviderError> =>
    Effect.gen(function*() {
      const decide = yield* makeDecider(options)
      const attempt: Effect.Effect<Response, ProviderError> = Effect.catchAll(
        service.chat(request),
        (error) =>
          Effect.flatMap(decide(error), (decision) =>
            Either.match(decision, {
              onLeft: Effect.fail,
              onRight: (millis) => Effect.zipRight(Effect.sleep(Duration.millis(millis)), attempt)
            }))
      )
      return yield* attempt
    })
  const stream = (request: Request): Stream.Stream<StreamPart, ProviderError> =>
    Stream.unwrap(Effect.gen(function*() {
      const decide = yield* makeDecider(options)
      const loop = (attempt: number): Stream.Stream<StreamPart, ProviderError> =>
        Stream.suspend(() => {
          let started = false
          return service.stream(request).pipe(
            Stream.tap((part) =>
              Effect.sync(() => {
                if (isContent(part)) started = true
              })
            ),
            Stream.catchAll((error) =>
              started
                ? Stream.fail(error)
                : Stream.unwrap(Effect.map(decide(error), (decision) =>
                  Either.match(decision, {
                    onLeft: (failure) => Stream.fail(failure),
                    onRight: (delayMillis): Stream.Stream<StreamPart, ProviderError> =>
                      Stream.succeed<StreamPart>({ _tag: "Retry", attempt, delayMillis, error }).pipe(
                        Stream.concat(Stream.drain(Stream.fromEffect(Effect.sleep(Duration.millis(delayMillis))))),
                        Stream.concat(loop(attempt + 1))
                      )
                  })))
            )
          )
        })
      return loop(1)
    }))
  return Provider.of({ info: service.info, chat, stream })
}

/**
 * Parses a `Retry-After` header (seconds or an HTTP date) or the `retry-after-ms` header some
 * vendors send, relative to `now` (milliseconds). Undefined when absent or unreadable.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryAfterMillis = (
  headers: { readonly get: (name: string) => string | null } | undefined,
  now: number
): number | undefined => {
  if (headers === undefined) return undefined
  const ms = headers.get("retry-after-ms")
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms))) return Math.max(Number(ms), 0)
  const value = headers.get("retry-after")
  if (value === null || value.trim() === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(seconds * 1000, 0)
  const date = globalThis.Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(date - now, 0)
}
