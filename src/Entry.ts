/**
 * The entries of a session: one `Schema` tagged union that records everything a run did.
 *
 * Every entry has a stable `id`, a `timestamp` (milliseconds from Effect's `Clock`), an `author`
 * (which user, agent, workflow, tool or system wrote it) and the ids of its `parents` (the entry
 * it follows; a `Merge` entry has two). Entries are made by `Session.append` from a {@link Draft}:
 * the session assigns the id, time and parents, so the same draft appended twice makes two
 * distinct entries.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import * as Placement_ from "./Placement.js"

// -----------------------------------------------------------------------------
// ids and small values
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category schemas
 */
export const EntryId = Schema.String.pipe(Schema.brand("rath/EntryId"))

/**
 * @since 0.1.0
 * @category models
 */
export type EntryId = typeof EntryId.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const SessionId = Schema.String.pipe(Schema.brand("rath/SessionId"))

/**
 * @since 0.1.0
 * @category models
 */
export type SessionId = typeof SessionId.Type

/**
 * Any JSON value. Entries keep tool arguments, outputs and custom data as JSON.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Json: Schema.Schema<unknown> = Schema.Unknown.annotations({ identifier: "Json" })

/**
 * Who wrote an entry.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Author = Schema.Struct({
  kind: Schema.Literal("user", "agent", "workflow", "tool", "system", "program"),
  name: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Author extends Schema.Schema.Type<typeof Author> {}

/**
 * The author of what the program itself appends outside any agent or workflow (a check, a merge,
 * a memory event): `{ kind: "program", name: "program" }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const programAuthor: Author = { kind: "program", name: "program" }

/**
 * The author of user messages appended without one outside any agent or workflow:
 * `{ kind: "user", name: "user" }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const userAuthor: Author = { kind: "user", name: "user" }

/**
 * The author of entries appended without an explicit one. A `Context.Reference`: agents and
 * workflows author everything they append by providing themselves here. Its default is
 * {@link programAuthor}; under it a `User` message is authored {@link userAuthor} (see
 * `Session.append`).
 *
 * @since 0.1.0
 * @category tags
 */
export class CurrentAuthor extends Context.Reference<CurrentAuthor>()("rath/Entry/CurrentAuthor", {
  defaultValue: (): Author => programAuthor
}) {}

/**
 * Token usage of one model call, normalised across providers.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Usage = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  totalTokens: Schema.Number,
  cachedInputTokens: Schema.optional(Schema.Number),
  reasoningTokens: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Usage extends Schema.Schema.Type<typeof Usage> {}

/**
 * Adds two usages; a missing usage is the identity (`none + x = x`, in both orders), and an
 * optional counter stays missing only when both sides lack it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const sumUsage = (self: Usage | undefined, that: Usage | undefined): Usage | undefined => {
  if (self === undefined) return that
  if (that === undefined) return self
  const out: {
    inputTokens: number
    outputTokens: number
    totalTokens: number
    cachedInputTokens?: number
    reasoningTokens?: number
  } = {
    inputTokens: self.inputTokens + that.inputTokens,
    outputTokens: self.outputTokens + that.outputTokens,
    totalTokens: self.totalTokens + that.totalTokens
  }
  if (self.cachedInputTokens !== undefined || that.cachedInputTokens !== undefined) {
    out.cachedInputTokens = (self.cachedInputTokens ?? 0) + (that.cachedInputTokens ?? 0)
  }
  if (self.reasoningTokens !== undefined || that.reasoningTokens !== undefined) {
    out.reasoningTokens = (self.reasoningTokens ?? 0) + (that.reasoningTokens ?? 0)
  }
  return out
}

/**
 * Which provider answered a model call: the adapter kind, the endpoint host and the request id
 * the vendor returned.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProviderInfo = Schema.Struct({
  kind: Schema.String,
  host: Schema.optional(Schema.String),
  requestId: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ProviderInfo extends Schema.Schema.Type<typeof ProviderInfo> {}

/**
 * Why a model stopped. Reasons a vendor reports that rath does not know are kept as `"other"`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FinishReason = Schema.Literal("stop", "tool_calls", "length", "content_filter", "error", "other")

/**
 * @since 0.1.0
 * @category models
 */
export type FinishReason = typeof FinishReason.Type

/**
 * A tool call as the model made it: the raw argument text exactly as received, and the parsed
 * arguments when that text is valid JSON.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolCall = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  parsed: Schema.optional(Json)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ToolCall extends Schema.Schema.Type<typeof ToolCall> {}

/**
 * The kinds of tool failure that the agent loop reports back to the model.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolErrorKind = Schema.Literal(
  "invalid_arguments",
  "unknown_tool",
  "tool_failed",
  "timeout",
  "rejected",
  "interrupted",
  "sandbox_error",
  "not_replayable"
)

/**
 * @since 0.1.0
 * @category models
 */
export type ToolErrorKind = typeof ToolErrorKind.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ToolError = Schema.Struct({
  kind: ToolErrorKind,
  message: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ToolError extends Schema.Schema.Type<typeof ToolError> {}

/**
 * One observable effect of a tool: a file read, written, created, edited or deleted, or a process
 * run, with what can be checked later (bytes, exit code, content hash).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolEffect = Schema.Struct({
  op: Schema.Literal("read", "write", "create", "edit", "delete", "list", "exec", "mkdir", "other"),
  path: Schema.optional(Schema.String),
  bytes: Schema.optional(Schema.Number),
  exitCode: Schema.optional(Schema.Number),
  sha256: Schema.optional(Schema.String),
  elapsedMs: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ToolEffect extends Schema.Schema.Type<typeof ToolEffect> {}

/**
 * A human (or policy) decision about a tool call that needed approval.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Approval = Schema.Struct({
  decision: Schema.Literal("approved", "rejected", "edited"),
  by: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Approval extends Schema.Schema.Type<typeof Approval> {}

/**
 * One memory found by a recall.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MemoryHit = Schema.Struct({
  id: Schema.String,
  score: Schema.Number,
  text: Schema.optional(Schema.String),
  source: Schema.optional(Schema.String),
  /**
   * How it was found: `lexical`, `vector`, `both`, or `recent` (it matched nothing and fills the
   * hits as one of the namespace's newest memories; see `Memory.RecallOptions.fallback`).
   */
  match: Schema.optional(Schema.Literal("lexical", "vector", "both", "recent"))
})

/**
 * @since 0.1.0
 * @category models
 */
export interface MemoryHit extends Schema.Schema.Type<typeof MemoryHit> {}

// -----------------------------------------------------------------------------
// model calls
// -----------------------------------------------------------------------------

/**
 * A tool as a model is shown it: a name, a description and a JSON Schema for its arguments.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolDefinition = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  parameters: Schema.Record({ key: Schema.String, value: Json })
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ToolDefinition extends Schema.Schema.Type<typeof ToolDefinition> {}

/**
 * What a provider needs to continue a conversation from one of its answers, kept opaque, keyed by
 * the wire format it belongs to (`anthropic`: thinking blocks with their signatures and redacted
 * thinking; `openai`: `reasoning_details` of gateways that send them; `effect-ai`: the part
 * metadata of an `@effect/ai` answer, such as OpenAI Responses reasoning item ids and encrypted
 * content). An adapter sends back its own key's value on the next turn and ignores the others.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProviderMetadata = Schema.Record({ key: Schema.String, value: Json })

/**
 * @since 0.1.0
 * @category models
 */
export type ProviderMetadata = typeof ProviderMetadata.Type

/**
 * The messages a model is sent: the provider-level form, which every adapter renders into its
 * vendor's wire format. Session entries of these four kinds are such messages as they are (an
 * entry has more fields; a message needs only these), so sending a transcript copies nothing.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SystemMessage = Schema.TaggedStruct("System", { text: Schema.String })

/**
 * @since 0.1.0
 * @category schemas
 */
export const UserMessage = Schema.TaggedStruct("User", { text: Schema.String })

/**
 * @since 0.1.0
 * @category schemas
 */
export const AssistantMessage = Schema.TaggedStruct("Assistant", {
  text: Schema.String,
  reasoning: Schema.optional(Schema.String),
  toolCalls: Schema.Array(ToolCall),
  /** What the provider needs to continue from this answer (see {@link ProviderMetadata}). */
  metadata: Schema.optional(ProviderMetadata)
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const ToolMessage = Schema.TaggedStruct("ToolResult", {
  callId: Schema.String,
  toolName: Schema.String,
  output: Json,
  error: Schema.optional(ToolError)
})

/**
 * One message of a model request.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModelMessage = Schema.Union(SystemMessage, UserMessage, AssistantMessage, ToolMessage)

/**
 * @since 0.1.0
 * @category models
 */
export type ModelMessage = typeof ModelMessage.Type

/**
 * `auto` lets the model choose, `none` forbids tool calls, `required` forces some tool call and
 * `{ tool }` forces one named tool.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolChoice = Schema.Union(
  Schema.Literal("auto", "none", "required"),
  Schema.Struct({ tool: Schema.String })
)

/**
 * @since 0.1.0
 * @category models
 */
export type ToolChoice = typeof ToolChoice.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }),
  Schema.Struct({ type: Schema.Literal("json_object") }),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    name: Schema.String,
    schema: Schema.Record({ key: Schema.String, value: Json }),
    strict: Schema.optional(Schema.Boolean)
  })
)

/**
 * @since 0.1.0
 * @category models
 */
export type ResponseFormat = typeof ResponseFormat.Type

/**
 * The options of a model request besides its messages, its tools and its model: what a call
 * entry records so that the request can be rebuilt exactly.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CallOptions = Schema.Struct({
  toolChoice: Schema.optional(ToolChoice),
  responseFormat: Schema.optional(ResponseFormat),
  temperature: Schema.optional(Schema.Number),
  topP: Schema.optional(Schema.Number),
  maxTokens: Schema.optional(Schema.Number),
  stop: Schema.optional(Schema.Array(Schema.String)),
  seed: Schema.optional(Schema.Number),
  /** Vendor arguments passed through as they are. */
  extra: Schema.optional(Schema.Record({ key: Schema.String, value: Json }))
})

/**
 * @since 0.1.0
 * @category models
 */
export interface CallOptions extends Schema.Schema.Type<typeof CallOptions> {}

/**
 * Which of a session's entries a model call was sent, by rule (see `Model.messages`):
 *
 * - `Agent`: what the agent named `name` is sent: the transcript without other agents'
 *   instructions and memories recalled for them, its own latest instructions first.
 * - `Transcript`: the transcript (compression applied), without system entries unless `system`.
 * - `Entries`: exactly these entries, in this order.
 * - `None`: no entry of the session.
 *
 * @since 0.1.0
 * @category schemas
 */
export const View = Schema.Union(
  Schema.TaggedStruct("Agent", { name: Schema.String }),
  Schema.TaggedStruct("Transcript", { system: Schema.Boolean }),
  Schema.TaggedStruct("Entries", { ids: Schema.Array(EntryId) }),
  Schema.TaggedStruct("None", {})
)

/**
 * @since 0.1.0
 * @category models
 */
export type View = typeof View.Type

/**
 * How a model call's messages were made: messages that are not entries of the session (a
 * selector's menu, a compressor's instructions) before and after the session's entries that the
 * {@link View} picks. With the call's history it rebuilds exactly what was sent.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Prompt = Schema.Struct({
  before: Schema.optional(Schema.Array(ModelMessage)),
  view: View,
  after: Schema.optional(Schema.Array(ModelMessage))
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Prompt extends Schema.Schema.Type<typeof Prompt> {}

/**
 * Why a model was called: an agent's `turn` (its answer is a message of the conversation), a
 * selector's `route`, a compressor's `compress`, an evaluation's `judge`, or `user` code.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Purpose = Schema.Literal("turn", "route", "compress", "judge", "user")

/**
 * @since 0.1.0
 * @category models
 */
export type Purpose = typeof Purpose.Type

/**
 * Digests of the fields of an entry whose content came from outside the program (a model's
 * answer, a tool's result, a memory read), taken when the entry was recorded: field path ->
 * digest. A recording edited afterwards no longer matches them, and replay names the field.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Seal = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * @since 0.1.0
 * @category models
 */
export type Seal = typeof Seal.Type

/** The evidence every model call records (see `Model.call`). */
const callFields = {
  provider: Schema.optional(ProviderInfo),
  /** The model that answered, as the response reported it. */
  model: Schema.optional(Schema.String),
  /** The model the request asked for. */
  requestedModel: Schema.optional(Schema.String),
  finishReason: Schema.optional(FinishReason),
  usage: Schema.optional(Usage),
  /** What rath asked the provider for and the answer lacked (`"usage"`: no token usage came back). */
  missing: Schema.optional(Schema.Array(Schema.Literal("usage"))),
  /** Milliseconds from sending the request to the whole answer (Effect's `Clock`). */
  latencyMs: Schema.optional(Schema.Number),
  /** A content hash of exactly what was sent (see `Provider.fingerprint`). */
  requestFingerprint: Schema.optional(Schema.String),
  /** How the messages were made; absent for an agent's turn (its `Agent` view) in older entries. */
  prompt: Schema.optional(Prompt),
  /** The tools the request offered; absent when they are the tools of the run's `rath.agent` spec. */
  tools: Schema.optional(Schema.Array(ToolDefinition)),
  options: Schema.optional(CallOptions),
  /**
   * What the provider needs to continue from this answer (thinking signatures, reasoning item
   * ids, encrypted reasoning); sent back by the adapter of the same wire format. Absent in older
   * entries and for providers that need nothing.
   */
  metadata: Schema.optional(ProviderMetadata),
  seal: Schema.optional(Seal)
}

// -----------------------------------------------------------------------------
// entries
// -----------------------------------------------------------------------------

const base = {
  id: EntryId,
  timestamp: Schema.Number,
  author: Author,
  parents: Schema.Array(EntryId)
}

/**
 * System instructions.
 *
 * @since 0.1.0
 * @category models
 */
export class System extends Schema.TaggedClass<System>("rath/Entry/System")("System", {
  ...base,
  text: Schema.String
}) {}

/**
 * A user message.
 *
 * @since 0.1.0
 * @category models
 */
export class User extends Schema.TaggedClass<User>("rath/Entry/User")("User", {
  ...base,
  text: Schema.String
}) {}

/**
 * A model's answer, with the evidence of which provider and model produced it.
 *
 * @since 0.1.0
 * @category models
 */
export class Assistant extends Schema.TaggedClass<Assistant>("rath/Entry/Assistant")("Assistant", {
  ...base,
  text: Schema.String,
  reasoning: Schema.optional(Schema.String),
  toolCalls: Schema.Array(ToolCall),
  ...callFields
}) {}

/**
 * A model call whose answer is not a message of the conversation: a selector's routing call, a
 * compressor's summary call, a judge's, or user code's. It records the same evidence as an
 * {@link Assistant} turn (and counts in `Session.usage`), and no transcript includes it.
 *
 * @since 0.1.0
 * @category models
 */
export class ModelCall extends Schema.TaggedClass<ModelCall>("rath/Entry/ModelCall")("ModelCall", {
  ...base,
  purpose: Purpose,
  text: Schema.String,
  reasoning: Schema.optional(Schema.String),
  toolCalls: Schema.Array(ToolCall),
  ...callFields
}) {}

/**
 * The result of one tool call: its JSON output or a typed failure, where it ran, how long it took
 * and what it changed.
 *
 * @since 0.1.0
 * @category models
 */
export class ToolResult extends Schema.TaggedClass<ToolResult>("rath/Entry/ToolResult")("ToolResult", {
  ...base,
  callId: Schema.String,
  toolName: Schema.String,
  output: Json,
  error: Schema.optional(ToolError),
  sandbox: Schema.optional(Placement_.Placement),
  durationMs: Schema.Number,
  effects: Schema.optional(Schema.Array(ToolEffect)),
  approval: Schema.optional(Approval),
  seal: Schema.optional(Seal)
}) {}

/**
 * A memory interaction: what was recalled (query, hits and scores) or written.
 *
 * @since 0.1.0
 * @category models
 */
export class Memory extends Schema.TaggedClass<Memory>("rath/Entry/Memory")("Memory", {
  ...base,
  operation: Schema.Literal("remember", "recall", "commit", "forget"),
  store: Schema.String,
  namespace: Schema.optional(Schema.String),
  query: Schema.optional(Schema.String),
  /** A recall's most hits and least score, as asked. */
  k: Schema.optional(Schema.Number),
  minScore: Schema.optional(Schema.Number),
  hits: Schema.optional(Schema.Array(MemoryHit)),
  written: Schema.optional(Schema.Array(Schema.Struct({ id: Schema.String, text: Schema.optional(Schema.String) }))),
  seal: Schema.optional(Seal)
}) {}

/**
 * A summary that stands for the entries it covers in what models are sent; the covered entries
 * stay in the session as evidence.
 *
 * @since 0.1.0
 * @category models
 */
export class Compression extends Schema.TaggedClass<Compression>("rath/Entry/Compression")("Compression", {
  ...base,
  covers: Schema.Array(EntryId),
  text: Schema.String,
  /** The model call that wrote the summary (a `ModelCall` entry before this one). */
  call: Schema.optional(EntryId),
  /** Older entries only: the model and usage, before the call was an entry of its own. */
  model: Schema.optional(Schema.String),
  usage: Schema.optional(Usage)
}) {}

/**
 * The session was bound to a sandbox placement, or moved to another.
 *
 * @since 0.1.0
 * @category models
 */
export class Placement extends Schema.TaggedClass<Placement>("rath/Entry/Placement")("Placement", {
  ...base,
  placement: Placement_.Placement,
  previous: Schema.optional(Placement_.Placement)
}) {}

/**
 * A validation signal: a named check that passed or failed, with details.
 *
 * @since 0.1.0
 * @category models
 */
export class Check extends Schema.TaggedClass<Check>("rath/Entry/Check")("Check", {
  ...base,
  name: Schema.String,
  passed: Schema.Boolean,
  details: Schema.optional(Json)
}) {}

/**
 * Two sessions were merged; `parents` holds both heads and `sessions` the merged session ids.
 *
 * @since 0.1.0
 * @category models
 */
export class Merge extends Schema.TaggedClass<Merge>("rath/Entry/Merge")("Merge", {
  ...base,
  sessions: Schema.Array(SessionId)
}) {}

/**
 * A user-defined event with a type and JSON data.
 *
 * @since 0.1.0
 * @category models
 */
export class Custom extends Schema.TaggedClass<Custom>("rath/Entry/Custom")("Custom", {
  ...base,
  type: Schema.String,
  data: Json,
  /** Tokens spent producing this event (a selector's model call, say); counted by `Session.usage`. */
  usage: Schema.optional(Usage)
}) {}

/**
 * The entry union, as a schema.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Entry = Schema.Union(
  System,
  User,
  Assistant,
  ModelCall,
  ToolResult,
  Memory,
  Compression,
  Placement,
  Check,
  Merge,
  Custom
)

/**
 * @since 0.1.0
 * @category models
 */
export type Entry = typeof Entry.Type

/**
 * The entry tags.
 *
 * @since 0.1.0
 * @category models
 */
export type Tag = Entry["_tag"]

/**
 * The entries a model is sent (after compression is applied).
 *
 * @since 0.1.0
 * @category models
 */
export type Message = System | User | Assistant | ToolResult | Compression

/**
 * The wire form of an entry (what a JSONL line holds).
 *
 * @since 0.1.0
 * @category models
 */
export type Encoded = typeof Entry.Encoded

// -----------------------------------------------------------------------------
// drafts
// -----------------------------------------------------------------------------

type Assigned = "id" | "timestamp" | "parents" | "author" | "_tag"

type DraftOf<E extends Entry> = E extends Entry ?
    & { readonly _tag: E["_tag"]; readonly author?: Author | undefined }
    & Omit<E, Assigned>
  : never

/**
 * An entry before it is appended: its content, and optionally its author. `Session.append`
 * assigns the id, timestamp and parents.
 *
 * @since 0.1.0
 * @category models
 */
export type Draft = DraftOf<Exclude<Entry, Merge>>

/**
 * @since 0.1.0
 * @category models
 */
export type DraftFor<T extends Tag> = DraftOf<Extract<Entry, { readonly _tag: T }>>

type Optional<T> = { readonly [K in keyof T]?: T[K] | undefined }

const compact = <A extends Record<string, unknown>>(fields: A): A => {
  const out: Record<string, unknown> = {}
  for (const key in fields) {
    if (fields[key] !== undefined) out[key] = fields[key]
  }
  return out as A
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const system = (text: string, options?: { readonly author?: Author }): DraftFor<"System"> =>
  compact({ _tag: "System", text, author: options?.author })

/**
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* Session.empty()
 *   return yield* Session.append(session, Entry.user("hello"))
 * })
 * ```
 */
export const user = (text: string, options?: { readonly author?: Author }): DraftFor<"User"> =>
  compact({ _tag: "User", text, author: options?.author })

/**
 * @since 0.1.0
 * @category constructors
 */
export const assistant = (
  fields:
    & { readonly text: string; readonly author?: Author | undefined }
    & Optional<Omit<DraftFor<"Assistant">, "_tag" | "text" | "author">>
): DraftFor<"Assistant"> => compact({ toolCalls: [], ...fields, _tag: "Assistant" }) as DraftFor<"Assistant">

/**
 * @since 0.1.0
 * @category constructors
 */
export const modelCall = (
  fields:
    & { readonly purpose: Purpose; readonly text: string; readonly author?: Author | undefined }
    & Optional<Omit<DraftFor<"ModelCall">, "_tag" | "purpose" | "text" | "author">>
): DraftFor<"ModelCall"> => compact({ toolCalls: [], ...fields, _tag: "ModelCall" }) as DraftFor<"ModelCall">

/**
 * @since 0.1.0
 * @category constructors
 */
export const toolResult = (
  fields:
    & {
      readonly callId: string
      readonly toolName: string
      readonly output: unknown
      readonly author?: Author | undefined
    }
    & Optional<Omit<DraftFor<"ToolResult">, "_tag" | "callId" | "toolName" | "output" | "author">>
): DraftFor<"ToolResult"> => compact({ durationMs: 0, ...fields, _tag: "ToolResult" }) as DraftFor<"ToolResult">

/**
 * @since 0.1.0
 * @category constructors
 */
export const memory = (
  fields: Omit<DraftFor<"Memory">, "_tag">
): DraftFor<"Memory"> => compact({ ...fields, _tag: "Memory" }) as DraftFor<"Memory">

/**
 * @since 0.1.0
 * @category constructors
 */
export const compression = (
  fields: Omit<DraftFor<"Compression">, "_tag">
): DraftFor<"Compression"> => compact({ ...fields, _tag: "Compression" }) as DraftFor<"Compression">

/**
 * @since 0.1.0
 * @category constructors
 */
export const check = (
  name: string,
  passed: boolean,
  options?: { readonly details?: unknown; readonly author?: Author }
): DraftFor<"Check"> =>
  compact({ _tag: "Check", name, passed, details: options?.details, author: options?.author }) as DraftFor<"Check">

/**
 * @since 0.1.0
 * @category constructors
 */
export const custom = (type: string, data: unknown, options?: { readonly author?: Author }): DraftFor<"Custom"> =>
  compact({ _tag: "Custom", type, data, author: options?.author }) as DraftFor<"Custom">

/**
 * @since 0.1.0
 * @category constructors
 */
export const placed = (
  placement: Placement_.Placement,
  options?: { readonly previous?: Placement_.Placement | undefined; readonly author?: Author }
): DraftFor<"Placement"> =>
  compact({ _tag: "Placement", placement, previous: options?.previous, author: options?.author }) as DraftFor<
    "Placement"
  >

const classes = {
  System,
  User,
  Assistant,
  ModelCall,
  ToolResult,
  Memory,
  Compression,
  Placement,
  Check,
  Merge,
  Custom
} as const

/**
 * One constructor per kind that makes an empty object whose prototype is that kind's class
 * prototype (what `Object.create(prototype)` makes). Made with `new`, such objects get room for
 * their fields inside the object once V8 has seen a few; `Object.create` gave an object that grew
 * its field storage several times over while an entry's fields were set (about 150 bytes more
 * allocated per entry).
 */
const blanks = Object.fromEntries(
  Object.entries(classes).map(([tag, schemaClass]) => {
    const blank = function() {} as unknown as new() => Record<string, unknown>
    blank.prototype = schemaClass.prototype
    return [tag, blank]
  })
) as Record<Entry["_tag"], new() => Record<string, unknown>>

/**
 * Builds a finished entry from a draft and the fields a session assigns. Used by `Session.append`;
 * the draft is trusted to match its type (the JSONL codec validates what comes from outside).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromDraft = (
  draft: Draft | DraftFor<"Merge">,
  assigned: {
    readonly id: EntryId
    readonly timestamp: number
    readonly parents: ReadonlyArray<EntryId>
    readonly author: Author
  }
): Entry => {
  // A Schema class instance is exactly its own fields on the class prototype, so it is built
  // directly rather than through the constructor (a few times cheaper; this runs on every
  // append). Fields are laid out as the constructor lays them out, `_tag` last.
  const props = new blanks[draft._tag]()
  props.id = assigned.id
  props.timestamp = assigned.timestamp
  props.author = assigned.author
  props.parents = assigned.parents
  const source = draft as unknown as Record<string, unknown>
  for (const key in source) {
    if (key !== "_tag" && key !== "author") props[key] = source[key]
  }
  props._tag = draft._tag
  return props as unknown as Entry
}

// -----------------------------------------------------------------------------
// model messages
// -----------------------------------------------------------------------------

/**
 * How a `Compression` entry is shown to a model: a user message that starts with this prefix and
 * carries the summary. A user message (rather than a system one) because every vendor accepts it
 * at any position of the conversation.
 *
 * @since 0.1.0
 * @category getters
 */
export const summaryText = (entry: Compression): string => `Summary of earlier conversation:\n${entry.text}`

const summaries = new WeakMap<Compression, ModelMessage>()

/**
 * The messages a transcript is sent as: system, user, assistant and tool-result entries as they
 * are (an entry is a message; nothing is copied), and a `Compression` as a user message carrying
 * its summary ({@link summaryText}), one message object per compression.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toModelMessages = (entries: Iterable<Message>): Array<ModelMessage> => {
  const out: Array<ModelMessage> = []
  for (const entry of entries) {
    if (entry._tag !== "Compression") {
      out.push(entry)
      continue
    }
    let message = summaries.get(entry)
    if (message === undefined) {
      message = { _tag: "User", text: summaryText(entry) }
      summaries.set(entry, message)
    }
    out.push(message)
  }
  return out
}

// -----------------------------------------------------------------------------
// guards and getters
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category guards
 */
export const isEntry: (u: unknown) => u is Entry = Schema.is(Entry)

/**
 * A refinement by tag, for entries and for the messages of a request alike:
 * `entries.filter(Entry.is("ToolResult"))`.
 *
 * @since 0.1.0
 * @category guards
 */
export const is =
  <T extends Tag>(tag: T) =>
  <A extends { readonly _tag: string }>(entry: A): entry is Extract<A, { readonly _tag: T }> => entry._tag === tag

/**
 * Whether an entry is part of what a model is sent.
 *
 * @since 0.1.0
 * @category guards
 */
export const isMessage = (entry: Entry): entry is Message =>
  entry._tag === "System" || entry._tag === "User" || entry._tag === "Assistant" || entry._tag === "ToolResult" ||
  entry._tag === "Compression"

/**
 * A tool result succeeded when it has no error.
 *
 * @since 0.1.0
 * @category guards
 */
export const isToolSuccess = (entry: ToolResult): boolean => entry.error === undefined

/**
 * The usage an entry records (model calls, and in older entries compression summaries and custom
 * events), if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const usageOf = (entry: Entry): Usage | undefined =>
  entry._tag === "Assistant" || entry._tag === "ModelCall" || entry._tag === "Compression" || entry._tag === "Custom"
    ? entry.usage
    : undefined

/**
 * Whether an entry records a model call: an agent's answer or any other call.
 *
 * @since 0.1.0
 * @category guards
 */
export const isModelCall = (entry: Entry): entry is Assistant | ModelCall =>
  entry._tag === "Assistant" || entry._tag === "ModelCall"

/**
 * A one-line human summary of an entry's content, for display.
 *
 * @since 0.1.0
 * @category getters
 */
export const summary = (entry: Entry): string => {
  switch (entry._tag) {
    case "System":
    case "User":
      return entry.text
    case "Assistant": {
      const calls = entry.toolCalls.map((call) => `${call.name}(${call.arguments})`).join(", ")
      return calls.length === 0
        ? entry.text
        : entry.text.length === 0
        ? `calls ${calls}`
        : `${entry.text} calls ${calls}`
    }
    case "ModelCall": {
      const calls = entry.toolCalls.map((call) => `${call.name}(${call.arguments})`).join(", ")
      return `${entry.purpose} call: ${calls.length === 0 ? entry.text : calls}`
    }
    case "ToolResult":
      return entry.error === undefined
        ? `${entry.toolName} -> ${safeJson(entry.output)}`
        : `${entry.toolName} failed (${entry.error.kind}): ${entry.error.message}`
    case "Memory":
      return `${entry.operation} ${entry.store}${entry.namespace === undefined ? "" : `/${entry.namespace}`}${
        entry.query === undefined ? "" : ` "${entry.query}"`
      }${entry.hits === undefined ? "" : ` (${entry.hits.length} hits)`}`
    case "Compression":
      return `summary of ${entry.covers.length} entries: ${entry.text}`
    case "Placement":
      return `placed on ${entry.placement.backend}${entry.placement.id === undefined ? "" : `:${entry.placement.id}`}`
    case "Check":
      return `check ${entry.name} ${entry.passed ? "passed" : "failed"}`
    case "Merge":
      return `merge of ${entry.sessions.join(" + ")}`
    case "Custom":
      return `${entry.type} ${safeJson(entry.data)}`
  }
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
