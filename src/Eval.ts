/**
 * Evaluation from evidence. A dataset (JSONL: an input, an expected value and metadata per line)
 * runs through a workflow under test; scorers record `Check` entries on each case's session
 * (exact, contains, regex, JSON Schema, a command in the case's sandbox, an LLM judge whose call
 * is recorded like any other); every case is a saved session that forks the eval's run session,
 * and the run session records each finished case with its pass, score and the evidence counted
 * from the session (tokens, model and tool calls, retries, branches, checks, latency, cost).
 *
 * - {@link run} runs with bounded concurrency and a shared token budget, and continues an
 *   interrupted run (cases it has a result for are not run again), or re-runs its failed cases.
 * - {@link rescore} scores a stored run again without running the workflow or calling a model: a
 *   judge is answered from the case's recording (`Replay`).
 * - {@link compare} pairs two runs case by case, with McNemar's exact test on pass/fail and the
 *   Wilcoxon signed-rank test on scores, tokens and latency; {@link compareHtml} is a standalone
 *   page with plots.
 * - {@link exportChat} and {@link exportPreferences} turn sessions into chat fine-tuning JSONL and
 *   preference pairs (chosen/rejected from branches that share a prompt), validated by Schemas.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Compare from "./internal/eval/compare.js"
import * as Dataset from "./internal/eval/dataset.js"
import * as Export from "./internal/eval/export.js"
import * as Metrics_ from "./internal/eval/metrics.js"
import * as Model from "./internal/eval/model.js"
import * as Runner from "./internal/eval/run.js"
import * as Scorers from "./internal/eval/scorers.js"
import * as Stats from "./internal/eval/stats.js"
import * as SessionStore from "./SessionStore.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The one error of this module. Reasons: `InvalidDataset` (a bad line: its number is in `line`),
 * `InvalidRun` (not an eval run, a dataset that does not match the run continued, no scorer),
 * `NotFound` (no such stored run or case), `ScorerFailed` (a scorer could not run: a command
 * scorer on a session with no sandbox), `InvalidExport` (an export line does not match its
 * Schema), `Store` (the session store failed).
 *
 * @since 0.1.0
 * @category errors
 */
export const EvalError = Model.EvalError

/**
 * @since 0.1.0
 * @category errors
 */
export type EvalError = Model.EvalError

/**
 * One line of a dataset file: `{"id"?: string, "input": string | object, "expected"?: any, "metadata"?: object}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CaseLine = Model.CaseLine

/**
 * A case: its id (given, or `line-N`), its line, input, expected value and metadata.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Case = Model.Case

/**
 * @since 0.1.0
 * @category models
 */
export type Case = Model.Case

/**
 * A model's price in USD per million tokens (input, output, cached input).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Price = Model.Price

/**
 * A price table: model name (or a prefix of it) to price.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Prices = Model.Prices

/**
 * @since 0.1.0
 * @category models
 */
export type Prices = Model.Prices

/**
 * What a run is (the first entry of its run session).
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunSpec = Model.RunSpec

/**
 * @since 0.1.0
 * @category models
 */
export type RunSpec = Model.RunSpec

/**
 * The evidence counted from a case session.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Metrics = Model.Metrics

/**
 * @since 0.1.0
 * @category models
 */
export type Metrics = Model.Metrics

/**
 * What a run records about a finished case.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CaseResult = Model.CaseResult

/**
 * @since 0.1.0
 * @category models
 */
export type CaseResult = Model.CaseResult

/**
 * Totals over a run's cases.
 *
 * @since 0.1.0
 * @category models
 */
export type Totals = Model.Totals

/**
 * The `Custom` entry types a run writes: the run's spec, a case's record in the run session, the
 * case marker at the start of a case session, and the end of a pass.
 *
 * @since 0.1.0
 * @category models
 */
export const entryTypes = {
  run: Model.RUN_ENTRY,
  result: Model.RESULT_ENTRY,
  case: Model.CASE_ENTRY,
  end: Model.END_ENTRY
} as const

// -----------------------------------------------------------------------------
// datasets
// -----------------------------------------------------------------------------

/**
 * Parses a JSONL dataset. A line that is not a case fails with its line number and what is wrong.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Eval } from "rath"
 *
 * const dataset = Eval.parseDataset('{"input": "2+2?", "expected": "4"}\n{"input": "3+3?", "expected": "6"}')
 * ```
 */
export const parseDataset: (
  text: string,
  options?: { readonly source?: string }
) => Effect.Effect<ReadonlyArray<Case>, EvalError> = Dataset.parse

/**
 * A dataset from values (validated as the lines of a file would be; the line is the position + 1).
 *
 * @since 0.1.0
 * @category constructors
 */
export const dataset = (
  items: ReadonlyArray<typeof Model.CaseLine.Encoded>
): Effect.Effect<ReadonlyArray<Case>, EvalError> =>
  Effect.suspend(() => {
    const decode = Schema.decodeUnknownEither(Model.CaseLine)
    for (let i = 0; i < items.length; i++) {
      const decoded = decode(items[i])
      if (Either.isLeft(decoded)) {
        return Effect.fail(
          new Model.EvalError({
            reason: "InvalidDataset",
            line: i + 1,
            detail: `case ${i + 1} is not a case: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`,
            cause: decoded.left
          })
        )
      }
    }
    return Dataset.parse(items.map((item) => JSON.stringify(item)).join("\n"))
  })

// -----------------------------------------------------------------------------
// scorers
// -----------------------------------------------------------------------------

/**
 * A scorer: a name, and a verdict for a case's output session.
 *
 * @since 0.1.0
 * @category models
 */
export type Scorer<E = never, R = never> = Scorers.Scorer<E, R>

/**
 * A verdict: passed, a score in 0..1 (default 1 or 0), details recorded on the check.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = Scorers.Verdict

/**
 * What a scorer is given: the case, the output session and its last assistant text.
 *
 * @since 0.1.0
 * @category models
 */
export type ScoreInput = Scorers.ScoreInput

/**
 * Scores the output as equal to the expected value: text (whitespace collapsed; optionally
 * case-insensitive), or JSON when the expected value is not a string.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exact: (options?: Scorers.TextOptions) => Scorer = Scorers.exact

/**
 * Scores the output as containing the expected text, or each of the expected texts (the score is
 * the fraction found).
 *
 * @since 0.1.0
 * @category constructors
 */
export const contains: (options?: Scorers.TextOptions) => Scorer = Scorers.contains

/**
 * Scores the output as matching a pattern (given, or the case's expected string).
 *
 * @since 0.1.0
 * @category constructors
 */
export const regex: (pattern?: RegExp | string, options?: { readonly name?: string | undefined }) => Scorer =
  Scorers.regex

/**
 * Scores the output as JSON valid against an Effect `Schema` or a JSON Schema document (default:
 * the case's expected value is the JSON Schema).
 *
 * @since 0.1.0
 * @category constructors
 */
export const jsonSchema: (
  schema?: Schema.Schema<any, any, never> | Record<string, unknown>,
  options?: { readonly name?: string | undefined }
) => Scorer = Scorers.jsonSchema

/**
 * Scores by a command run in the case session's sandbox (its placement): passes on the expected
 * exit code (default 0). `RATH_EVAL_OUTPUT`, `RATH_EVAL_EXPECTED` and `RATH_EVAL_CASE` are set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = Scorers.command

/**
 * An LLM judge: one `Model.call` with purpose `judge` (recorded on the case session, replayed by
 * {@link rescore}) that is sent the rubric, the conversation and the expected value, and answers
 * `{"pass", "score", "reason"}` (or PASS/FAIL).
 *
 * @since 0.1.0
 * @category constructors
 */
export const judge = Scorers.judge

/**
 * A scorer from a function of the case and its output.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Eval } from "rath"
 *
 * const short = Eval.scorer("short", ({ output }) => Effect.succeed({ passed: output.length < 200 }))
 * ```
 */
export const scorer = Scorers.make

/**
 * The last assistant text of a session ("" when none): what the text scorers look at.
 *
 * @since 0.1.0
 * @category getters
 */
export const outputOf = Scorers.outputOf

// -----------------------------------------------------------------------------
// running
// -----------------------------------------------------------------------------

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export type RunOptions<E, R, SE, SR, PE = never, PR = never> = Runner.RunOptions<E, R, SE, SR, PE, PR>

/**
 * How far a run has got (given to `onProgress` after each case).
 *
 * @since 0.1.0
 * @category models
 */
export type Progress = Runner.Progress

/**
 * A stored run read back: its session, spec, and the latest result of each case.
 *
 * @since 0.1.0
 * @category models
 */
export type RunRecord = Runner.RunRecord

/**
 * What {@link run} and {@link rescore} return: the run record, totals, and what this call did.
 *
 * @since 0.1.0
 * @category models
 */
export type Report = Runner.Report

/**
 * Runs an eval, or continues one (`continue: runId`; with `rerun: "failed"` its failed cases run
 * again). Each case forks the run session, gets a `rath.eval.case` entry and the input as a user
 * message, runs the workflow under the shared budget, and is scored; the case session and the
 * run session (its index of results) are saved after every case, so an interrupted run loses at
 * most the cases in flight. A workflow failure fails the case (an `eval.error` check), not the run.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Eval, Scripted, SessionStore } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const cases = yield* Eval.parseDataset('{"input": "Capital of France?", "expected": "Paris"}')
 *   const report = yield* Eval.run({
 *     name: "capitals",
 *     dataset: cases,
 *     workflow: Agent.make({ name: "geo", instructions: "Answer with one word." }),
 *     scorers: [Eval.exact()],
 *     concurrency: 8
 *   })
 *   console.log(report.totals.passRate) // 1
 * }).pipe(Effect.provide([Scripted.layer([Scripted.reply("Paris")]), SessionStore.layerMemory]))
 * ```
 */
export const run: <E, R, SE, SR, PE = never, PR = never>(
  options: RunOptions<E, R, SE, SR, PE, PR>
) => Effect.Effect<Report, EvalError | SE | PE, R | SR | PR | SessionStore.SessionStore> = Runner.run

/**
 * Options of {@link rescore}.
 *
 * @since 0.1.0
 * @category models
 */
export type RescoreOptions<SE, SR> = Runner.RescoreOptions<SE, SR>

/**
 * Scores a stored run again with these scorers, as a new run (a fork of the old one), without
 * running the workflow or calling any model: each case session is cut where the workflow's output
 * ended, and judges are answered from its recording.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rescore = Runner.rescore

/**
 * Loads a stored run.
 *
 * @since 0.1.0
 * @category getters
 */
export const load = (id: string): Effect.Effect<RunRecord, EvalError, SessionStore.SessionStore> =>
  Effect.flatMap(SessionStore.SessionStore, (store) => Runner.load(store, id))

/**
 * Reads a run session (its spec, results and ends).
 *
 * @since 0.1.0
 * @category getters
 */
export const read = Runner.read

/**
 * Totals over case results.
 *
 * @since 0.1.0
 * @category getters
 */
export const totals: (cases: ReadonlyArray<CaseResult>) => Totals = Metrics_.totals

/**
 * Counts the evidence of a case session (see {@link Metrics}); `latencyMs` is the workflow's wall
 * time, and `prices` give the cost.
 *
 * @since 0.1.0
 * @category getters
 */
export const measure = Metrics_.measure

/**
 * A one-paragraph text summary of a run.
 *
 * @since 0.1.0
 * @category getters
 */
export const summary = (record: RunRecord): string => {
  const t = Metrics_.totals(record.cases)
  const lines = [
    `eval ${record.spec.name} (${record.id}): ${t.passed}/${t.cases} passed (${
      (t.passRate * 100).toFixed(1)
    }%), mean score ${t.meanScore.toFixed(3)}${t.errors > 0 ? `, ${t.errors} errors` : ""}`,
    `tokens ${t.tokens}, model calls ${t.modelCalls}, tool calls ${t.toolCalls}, retries ${t.retries}, branches ${t.branches}, checks ${t.checksPassed}/${t.checks} passed${
      t.judgeCalls > 0 ? `, judge calls ${t.judgeCalls} (${t.judgeTokens} tokens)` : ""
    }`,
    `latency per case: mean ${t.latencyMs.mean.toFixed(0)} ms, p50 ${t.latencyMs.p50} ms, p95 ${t.latencyMs.p95} ms${
      t.cost === undefined ? "" : `; cost $${t.cost.toFixed(4)}`
    }`
  ]
  return lines.join("\n")
}

// -----------------------------------------------------------------------------
// comparing
// -----------------------------------------------------------------------------

/**
 * A case-by-case comparison of two runs.
 *
 * @since 0.1.0
 * @category models
 */
export type Comparison = Compare.Comparison

/**
 * A paired test of one measure.
 *
 * @since 0.1.0
 * @category models
 */
export type PairedMeasure = Compare.PairedMeasure

/**
 * Compares run B with run A case by case (matched by case id).
 *
 * @since 0.1.0
 * @category getters
 */
export const compare: (a: RunRecord, b: RunRecord) => Comparison = Compare.compare

/**
 * A comparison as terminal text.
 *
 * @since 0.1.0
 * @category getters
 */
export const compareText: (comparison: Comparison) => string = Compare.toText

/**
 * A comparison as a standalone HTML page with inline SVG plots (no script, no network).
 *
 * @since 0.1.0
 * @category getters
 */
export const compareHtml: (comparison: Comparison) => string = Compare.toHtml

/**
 * The exact two-sided sign test (McNemar's exact test when given the discordant counts).
 *
 * @since 0.1.0
 * @category getters
 */
export const signTest: (positive: number, negative: number) => number = Stats.signTest

/**
 * The Wilcoxon signed-rank test on paired differences (exact for n <= 50 without ties).
 *
 * @since 0.1.0
 * @category getters
 */
export const wilcoxon: (differences: ReadonlyArray<number>) => Stats.Wilcoxon = Stats.wilcoxon

// -----------------------------------------------------------------------------
// exports
// -----------------------------------------------------------------------------

/**
 * One line of a chat fine-tuning file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatExample = Model.ChatExample

/**
 * @since 0.1.0
 * @category models
 */
export type ChatExample = Model.ChatExample

/**
 * One line of a preference file: `prompt`, `chosen`, `rejected` (chat messages), tools, metadata.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PreferencePair = Model.PreferencePair

/**
 * @since 0.1.0
 * @category models
 */
export type PreferencePair = Model.PreferencePair

/**
 * A session to export and what is known of it.
 *
 * @since 0.1.0
 * @category models
 */
export type ExportItem = Export.Item

/**
 * Which sessions to export.
 *
 * @since 0.1.0
 * @category models
 */
export type ExportFilter = Export.Filter

/**
 * The case sessions of a stored run as export items (pass, score, case id, metadata from the run).
 *
 * @since 0.1.0
 * @category getters
 */
export const items = (record: RunRecord): Effect.Effect<Array<ExportItem>, EvalError, SessionStore.SessionStore> =>
  Effect.flatMap(
    SessionStore.SessionStore,
    (store) =>
      Effect.forEach(record.cases, (result) =>
        store.load(result.session).pipe(
          Effect.mapError((cause) =>
            new Model.EvalError({ reason: "NotFound", detail: `case ${result.caseId}: ${cause.message}`, cause })
          ),
          Effect.map((session): ExportItem => ({
            session,
            passed: result.pass,
            score: result.score,
            caseId: result.caseId,
            ...(result.metadata === undefined ? {} : { metadata: result.metadata })
          }))
        ), { concurrency: 8 })
  )

/**
 * Chat fine-tuning examples (messages up to the last assistant answer, and tools), validated.
 *
 * @since 0.1.0
 * @category getters
 */
export const exportChat: (
  items: ReadonlyArray<ExportItem>,
  filter?: ExportFilter
) => Effect.Effect<Array<ChatExample>, EvalError> = Export.chat

/**
 * Preference pairs from branches with the same prompt where one passed its checks and the other
 * failed: the shared messages, the passing branch's answer (`chosen`), the failing one's
 * (`rejected`), validated.
 *
 * @since 0.1.0
 * @category getters
 */
export const exportPreferences: (
  items: ReadonlyArray<ExportItem>,
  options?: Export.PreferenceOptions
) => Effect.Effect<Array<PreferencePair>, EvalError> = Export.preferences

/**
 * Whether a session's checks passed (at least one, all passed).
 *
 * @since 0.1.0
 * @category getters
 */
export const checksPassed = Export.checksPassed

/**
 * Values as JSONL.
 *
 * @since 0.1.0
 * @category getters
 */
export const toJsonl: (values: ReadonlyArray<unknown>) => string = Export.toJsonl
