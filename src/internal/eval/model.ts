/**
 * The values of an evaluation: the error, the dataset case, what a run records about itself and
 * each case (as `Custom` entries of the run session), and the export formats. Schemas, so what is
 * stored is validated when it is read back.
 */
import * as Schema from "effect/Schema"

/** The one error of `Eval`. */
export class EvalError extends Schema.TaggedError<EvalError>("rath/EvalError")("EvalError", {
  reason: Schema.Literal("InvalidDataset", "InvalidRun", "NotFound", "ScorerFailed", "InvalidExport", "Store"),
  detail: Schema.String,
  /** The dataset line (1-based) for `InvalidDataset`. */
  line: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return this.line === undefined
      ? `${this.reason}: ${this.detail}`
      : `${this.reason} (line ${this.line}): ${this.detail}`
  }
}

/** A JSON object of metadata. */
export const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type Metadata = typeof Metadata.Type

/** One line of a dataset file, as written. */
export const CaseLine = Schema.Struct({
  id: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  /** The user message, or a JSON object a workflow reads (sent as its JSON text by default). */
  input: Schema.Union(Schema.String, Metadata),
  expected: Schema.optional(Schema.Unknown),
  metadata: Schema.optional(Metadata)
})

/** One case of a dataset: its id (given, or `line-N`), where it came from, and its values. */
export const Case = Schema.Struct({
  id: Schema.String,
  line: Schema.Number,
  input: Schema.Union(Schema.String, Metadata),
  expected: Schema.optional(Schema.Unknown),
  metadata: Schema.optional(Metadata)
})
export interface Case extends Schema.Schema.Type<typeof Case> {}

/** Price of a model in USD per million tokens. */
export const Price = Schema.Struct({
  input: Schema.Number,
  output: Schema.Number,
  cachedInput: Schema.optional(Schema.Number)
})
export interface Price extends Schema.Schema.Type<typeof Price> {}

/** Model name (or name prefix) -> price. */
export const Prices = Schema.Record({ key: Schema.String, value: Price })
export type Prices = typeof Prices.Type

/** The `Custom` entry type that starts a run session. */
export const RUN_ENTRY = "rath.eval.run"
/** The `Custom` entry type of a finished case, appended to the run session. */
export const RESULT_ENTRY = "rath.eval.result"
/** The `Custom` entry type that opens a case session (the case's id, expected value, metadata). */
export const CASE_ENTRY = "rath.eval.case"
/** The `Custom` entry type appended to the run session when a pass over the dataset ends. */
export const END_ENTRY = "rath.eval.end"

/** What a run is: recorded once, as the first entry of its run session. */
export const RunSpec = Schema.Struct({
  name: Schema.String,
  /** Cases in the dataset and a digest of them (a continued run must use the same dataset). */
  cases: Schema.Number,
  datasetDigest: Schema.String,
  scorers: Schema.Array(Schema.String),
  concurrency: Schema.Number,
  /** Token budget shared by all cases, if one was set. */
  budget: Schema.optional(Schema.Number),
  prices: Schema.optional(Prices),
  /** The run this one re-scored, when it is a re-score. */
  rescoreOf: Schema.optional(Schema.String),
  metadata: Schema.optional(Metadata)
})
export interface RunSpec extends Schema.Schema.Type<typeof RunSpec> {}

/** A scorer's verdict as recorded. */
export const CheckResult = Schema.Struct({
  name: Schema.String,
  passed: Schema.Boolean,
  score: Schema.Number
})
export interface CheckResult extends Schema.Schema.Type<typeof CheckResult> {}

/** The evidence counted from one case session. */
export const Metrics = Schema.Struct({
  tokens: Schema.Number,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  /** Model calls of the workflow (judges not counted; see `judgeCalls`). */
  modelCalls: Schema.Number,
  toolCalls: Schema.Number,
  toolErrors: Schema.Number,
  /** Attempts made again after a failure the session records (see docs/eval.md). */
  retries: Schema.Number,
  /** Branches joined by merges (the sessions of every `Merge` entry). */
  branches: Schema.Number,
  /** Check entries in the case session (the workflow's own and the scorers'). */
  checks: Schema.Number,
  checksPassed: Schema.Number,
  /** Wall time of the workflow on this case (Clock milliseconds). */
  latencyMs: Schema.Number,
  /** Sum of the model calls' recorded latencies. */
  modelLatencyMs: Schema.Number,
  judgeCalls: Schema.Number,
  judgeTokens: Schema.Number,
  /** USD, when every model call's model has a price. */
  cost: Schema.optional(Schema.Number),
  /** Models that had no price (then `cost` is absent). */
  unpriced: Schema.optional(Schema.Array(Schema.String))
})
export interface Metrics extends Schema.Schema.Type<typeof Metrics> {}

/** What a run records about a finished case (the latest record of a case id counts). */
export const CaseResult = Schema.Struct({
  caseId: Schema.String,
  line: Schema.Number,
  /** The saved case session (the workflow's output with the scorers' checks, then this record). */
  session: Schema.String,
  /** The case's input session (a fork of the run), when it differs from `session`. */
  input: Schema.optional(Schema.String),
  /** How many entries of that session the workflow's output has (the checks follow). */
  outputLength: Schema.Number,
  pass: Schema.Boolean,
  /** Mean of the scorers' scores, 0..1. */
  score: Schema.Number,
  checks: Schema.Array(CheckResult),
  metrics: Metrics,
  /** The workflow's failure, when it failed (then `pass` is false and no scorer ran). */
  error: Schema.optional(Schema.String),
  /** 1 for the first run of the case, 2 for a re-run of a failed case, and so on. */
  attempt: Schema.Number,
  metadata: Schema.optional(Metadata)
})
export interface CaseResult extends Schema.Schema.Type<typeof CaseResult> {}

/** The end of a pass over the dataset. */
export const RunEnd = Schema.Struct({
  wallMs: Schema.Number,
  ran: Schema.Number,
  skipped: Schema.Number
})
export interface RunEnd extends Schema.Schema.Type<typeof RunEnd> {}

/** Totals over a run's cases. */
export interface Totals {
  readonly cases: number
  readonly passed: number
  readonly failed: number
  readonly errors: number
  readonly passRate: number
  readonly meanScore: number
  readonly tokens: number
  readonly modelCalls: number
  readonly toolCalls: number
  readonly retries: number
  readonly branches: number
  readonly checks: number
  readonly checksPassed: number
  readonly judgeCalls: number
  readonly judgeTokens: number
  readonly latencyMs: { readonly sum: number; readonly mean: number; readonly p50: number; readonly p95: number }
  /** USD over all cases, when every case was priced. */
  readonly cost: number | undefined
}

// -----------------------------------------------------------------------------
// exports
// -----------------------------------------------------------------------------

/** A tool call in the chat fine-tuning format (OpenAI's). */
export const ChatToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})

/** A message in the chat fine-tuning format. */
export const ChatMessage = Schema.Union(
  Schema.Struct({ role: Schema.Literal("system"), content: Schema.String }),
  Schema.Struct({ role: Schema.Literal("user"), content: Schema.String }),
  Schema.Struct({
    role: Schema.Literal("assistant"),
    content: Schema.String,
    tool_calls: Schema.optional(Schema.NonEmptyArray(ChatToolCall))
  }),
  Schema.Struct({ role: Schema.Literal("tool"), tool_call_id: Schema.String, content: Schema.String })
)
export type ChatMessage = typeof ChatMessage.Type

/** A tool definition in the chat fine-tuning format. */
export const ChatTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    description: Schema.String,
    parameters: Schema.Unknown
  })
})
export type ChatTool = typeof ChatTool.Type

/** One line of a chat fine-tuning file: a whole trajectory ending with an assistant message. */
export const ChatExample = Schema.Struct({
  messages: Schema.NonEmptyArray(ChatMessage),
  tools: Schema.optional(Schema.Array(ChatTool)),
  metadata: Schema.optional(Metadata)
}).pipe(
  Schema.filter((example) =>
    example.messages[example.messages.length - 1]!.role === "assistant" || "the last message must be the assistant's"
  )
)
export type ChatExample = typeof ChatExample.Type

/** One line of a preference file: the shared prompt, the branch that passed and the one that failed. */
export const PreferencePair = Schema.Struct({
  prompt: Schema.NonEmptyArray(ChatMessage),
  chosen: Schema.NonEmptyArray(ChatMessage),
  rejected: Schema.NonEmptyArray(ChatMessage),
  tools: Schema.optional(Schema.Array(ChatTool)),
  metadata: Schema.optional(Metadata)
}).pipe(
  Schema.filter((pair) =>
    (pair.chosen[0]!.role === "assistant" && pair.rejected[0]!.role === "assistant") ||
    "chosen and rejected must start with the assistant's answer"
  )
)
export type PreferencePair = typeof PreferencePair.Type
