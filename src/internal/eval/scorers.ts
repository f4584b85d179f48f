/**
 * Scorers: each looks at a case's output session and gives a verdict, which the runner records as
 * a `Check` entry. A judge also records its model call (through `Model.call`, so a replay answers
 * it from the recording).
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Budget from "../../Budget.js"
import type * as Entry from "../../Entry.js"
import * as Model from "../../Model.js"
import * as Provider from "../../Provider.js"
import * as Sandbox from "../../Sandbox.js"
import * as Session from "../../Session.js"
import * as Validator from "./jsonSchema.js"
import { type Case, EvalError } from "./model.js"

/** A scorer's verdict: passed or not, a score in 0..1 (default 1 or 0), and details for the check. */
export interface Verdict {
  readonly passed: boolean
  readonly score?: number | undefined
  readonly details?: Record<string, unknown> | undefined
}

/** What a scorer sees: the case, the output session and the last assistant text of it. */
export interface ScoreInput {
  readonly case: Case
  readonly session: Session.Session
  readonly output: string
}

/** A verdict, and the session when the scorer added entries to it (a judge's model call). */
export interface Scored {
  readonly verdict: Verdict
  readonly session?: Session.Session | undefined
}

/** A named scorer. */
export interface Scorer<E = never, R = never> {
  readonly name: string
  readonly score: (input: ScoreInput) => Effect.Effect<Scored, E, R>
}

/**
 * While a stored run is re-scored, every judge asks this provider (the recording), whatever
 * provider it was given: a re-score never calls a model.
 */
export class ReplayingProvider extends Context.Reference<ReplayingProvider>()("rath/Eval/ReplayingProvider", {
  defaultValue: (): Provider.Service | undefined => undefined
}) {}

/** The last assistant answer of a session ("" when there is none). */
export const outputOf = (session: Session.Session): string =>
  Option.match(Session.lastOf(session, "Assistant"), { onNone: () => "", onSome: (entry) => entry.text })

const verdict = (passed: boolean, details?: Record<string, unknown>, score?: number): Scored => ({
  verdict: { passed, score: score ?? (passed ? 1 : 0), ...(details === undefined ? {} : { details }) }
})

const noExpected = (name: string, c: Case): Scored =>
  verdict(false, { reason: `case ${c.id} (line ${c.line}) has no expected value for ${name}` })

/** Output parsed as JSON: the whole text, or the first fenced ```json block, or the first {...}/[...] span. */
export const parseJsonOutput = (text: string): Either.Either<unknown, string> => {
  const attempts: Array<string> = [text.trim()]
  const fenced = /```(?:json)?\s*\n([\s\S]*?)```/.exec(text)
  if (fenced !== null) attempts.push(fenced[1]!.trim())
  const start = text.search(/[[{]/)
  const end = Math.max(text.lastIndexOf("}"), text.lastIndexOf("]"))
  if (start !== -1 && end > start) attempts.push(text.slice(start, end + 1))
  for (const attempt of attempts) {
    const parsed = Schema.decodeUnknownEither(Schema.parseJson())(attempt)
    if (Either.isRight(parsed)) return Either.right(parsed.right)
  }
  return Either.left("the output is not JSON")
}

const normalize = (
  text: string,
  options: { readonly trim?: boolean | undefined; readonly caseInsensitive?: boolean | undefined }
) => {
  const trimmed = options.trim === false ? text : text.trim().replace(/\s+/g, " ")
  return options.caseInsensitive === true ? trimmed.toLowerCase() : trimmed
}

const jsonEqual = (a: unknown, b: unknown): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))
const sortKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(sortKeys)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]))
    : value

/** Options of the text scorers. */
export interface TextOptions {
  readonly name?: string | undefined
  /** Collapse whitespace and trim (default true). */
  readonly trim?: boolean | undefined
  readonly caseInsensitive?: boolean | undefined
  /** Where the expected value comes from (default: the case's `expected`). */
  readonly expected?: ((c: Case) => unknown) | undefined
}

/**
 * A scorer over the output and the case's expected value (or what `options.expected` picks): a
 * case without one fails, saying so.
 */
const againstExpected = (
  defaultName: string,
  options: TextOptions,
  check: (output: string, expected: unknown) => Scored
): Scorer => {
  const name = options.name ?? defaultName
  return {
    name,
    score: ({ case: c, output }) =>
      Effect.sync(() => {
        const expected = options.expected === undefined ? c.expected : options.expected(c)
        return expected === undefined ? noExpected(name, c) : check(output, expected)
      })
  }
}

/**
 * The output equals the expected value: as text (normalized), or, when the expected value is not
 * a string, as JSON (the output parsed, keys in any order).
 */
export const exact = (options: TextOptions = {}): Scorer =>
  againstExpected("exact", options, (output, expected) => {
    if (typeof expected === "string") {
      const passed = normalize(output, options) === normalize(expected, options)
      return verdict(passed, passed ? undefined : { expected, actual: output.slice(0, 500) })
    }
    const parsed = parseJsonOutput(output)
    if (Either.isLeft(parsed)) {
      return verdict(false, { expected, actual: output.slice(0, 500), reason: parsed.left })
    }
    const passed = jsonEqual(parsed.right, expected)
    return verdict(passed, passed ? undefined : { expected, actual: parsed.right })
  })

/**
 * The output contains the expected text, or every one of the expected texts (an array); the score
 * is the fraction found.
 */
export const contains = (options: TextOptions = {}): Scorer =>
  againstExpected("contains", options, (output, expected) => {
    const needles = (Array.isArray(expected) ? expected : [expected]).map((n) =>
      typeof n === "string" ? n : JSON.stringify(n)
    )
    const haystack = normalize(output, options)
    const missing = needles.filter((n) => !haystack.includes(normalize(n, options)))
    const score = needles.length === 0 ? 1 : (needles.length - missing.length) / needles.length
    return verdict(missing.length === 0, missing.length === 0 ? undefined : { missing }, score)
  })

/** The output matches a regular expression (given, or the case's expected string as a pattern). */
export const regex = (pattern?: RegExp | string, options: { readonly name?: string | undefined } = {}): Scorer => {
  const name = options.name ?? "regex"
  return {
    name,
    score: ({ case: c, output }) =>
      Effect.sync(() => {
        const source = pattern ?? (typeof c.expected === "string" ? c.expected : undefined)
        if (source === undefined) return noExpected(name, c)
        let re: RegExp
        try {
          re = typeof source === "string" ? new RegExp(source) : source
        } catch (error) {
          return verdict(false, { pattern: String(source), reason: `invalid pattern: ${String(error)}` })
        }
        const passed = new RegExp(re.source, re.flags.replace("g", "")).test(output)
        return verdict(passed, { pattern: String(re) })
      })
  }
}

/**
 * The output is JSON valid against a schema: an Effect `Schema` (decoded with it; the JSON Schema
 * it stands for is recorded) or a JSON Schema document. Without one, the case's expected value is
 * the JSON Schema.
 */
export const jsonSchema = (
  schema?: Schema.Schema<any, any, never> | Record<string, unknown>,
  options: { readonly name?: string | undefined } = {}
): Scorer => {
  const name = options.name ?? "json-schema"
  return {
    name,
    score: ({ case: c, output }) =>
      Effect.sync(() => {
        const parsed = parseJsonOutput(output)
        if (Either.isLeft(parsed)) return verdict(false, { reason: parsed.left, actual: output.slice(0, 500) })
        if (schema !== undefined && Schema.isSchema(schema)) {
          const decoded = Schema.decodeUnknownEither(schema as Schema.Schema<unknown, unknown, never>)(parsed.right)
          return Either.isRight(decoded)
            ? verdict(true)
            : verdict(false, {
              errors: [ParseResult.TreeFormatter.formatErrorSync(decoded.left)],
              schema: JSONSchema.make(schema as Schema.Schema<unknown, unknown, never>)
            })
        }
        const document = schema ?? c.expected
        if (document === undefined || typeof document !== "object") return noExpected(name, c)
        const errors = Validator.validate(document, parsed.right)
        return verdict(errors.length === 0, errors.length === 0 ? undefined : { errors: errors.slice(0, 20) })
      })
  }
}

/** Options of {@link command}. */
export interface CommandOptions {
  readonly name?: string | undefined
  readonly timeout?: Duration.DurationInput | undefined
  /** The exit code that passes (default 0). */
  readonly exitCode?: number | undefined
}

/**
 * A command run in the case session's sandbox (its placement: the workflow worked there): passes
 * when it exits with the expected code (default 0). The output, the expected value (JSON) and the
 * case id are in `RATH_EVAL_OUTPUT`, `RATH_EVAL_EXPECTED` and `RATH_EVAL_CASE`. A command that
 * times out fails the check; a session with no placement, or a sandbox that cannot run, is an
 * `EvalError`.
 */
export const command = (
  cmd: string | ReadonlyArray<string> | ((input: ScoreInput) => string | ReadonlyArray<string>),
  options: CommandOptions = {}
): Scorer<EvalError, Sandbox.Sandbox> => {
  const name = options.name ?? "command"
  const wanted = options.exitCode ?? 0
  return {
    name,
    score: (input) =>
      Effect.scoped(
        Effect.gen(function*() {
          const handle = yield* Sandbox.handleFor(input.session)
          const argv = typeof cmd === "function" ? cmd(input) : cmd
          const result = yield* handle.exec({
            command: argv,
            env: {
              RATH_EVAL_OUTPUT: input.output,
              RATH_EVAL_EXPECTED: JSON.stringify(input.case.expected ?? null),
              RATH_EVAL_CASE: input.case.id
            },
            ...(options.timeout === undefined ? {} : { timeout: options.timeout })
          })
          return verdict(result.exitCode === wanted, {
            command: typeof argv === "string" ? argv : argv.join(" "),
            exitCode: result.exitCode,
            stdout: result.stdout.slice(-2000),
            stderr: result.stderr.slice(-2000)
          })
        })
      ).pipe(
        Effect.catchTag("SandboxError", (error) =>
          error.reason === "Timeout"
            ? Effect.succeed(verdict(false, { reason: error.message }))
            : Effect.fail(
              new EvalError({
                reason: "ScorerFailed",
                detail: `scorer ${name} on case ${input.case.id}: ${error.message}`,
                cause: error
              })
            ))
      )
  }
}

/** Options of {@link judge}. */
export interface JudgeOptions {
  /** What a good answer is; the judge sees it, the conversation, and the expected value. */
  readonly rubric: string
  readonly name?: string | undefined
  /** The judge's model (default: the provider's). */
  readonly model?: string | undefined
  /** A provider of its own for the judge (default: the one in context). */
  readonly provider?: Provider.Service | undefined
  /** The least score that passes when the judge gives a score but no verdict (default 0.5). */
  readonly threshold?: number | undefined
}

const judgeInstructions = (rubric: string) =>
  `You are grading an assistant's answer in the conversation that follows.\nRubric: ${rubric}\n` +
  `Reply with one JSON object and nothing else: {"pass": true or false, "score": a number from 0 to 1, "reason": "one sentence"}.`

/** The judge's reply as a verdict: JSON `{pass, score, reason}`, or a bare PASS/FAIL word. */
export const readJudgement = (text: string, threshold: number): Verdict | undefined => {
  const parsed = parseJsonOutput(text)
  if (Either.isRight(parsed) && typeof parsed.right === "object" && parsed.right !== null) {
    const value = parsed.right as { pass?: unknown; passed?: unknown; score?: unknown; reason?: unknown }
    const score = typeof value.score === "number" && Number.isFinite(value.score)
      ? Math.min(1, Math.max(0, value.score))
      : undefined
    const pass = typeof value.pass === "boolean"
      ? value.pass
      : typeof value.passed === "boolean"
      ? value.passed
      : undefined
    if (pass === undefined && score === undefined) return undefined
    const passed = pass ?? (score! >= threshold)
    return {
      passed,
      score: score ?? (passed ? 1 : 0),
      details: typeof value.reason === "string" ? { reason: value.reason } : {}
    }
  }
  const word = /\b(PASS|FAIL)\b/i.exec(text)
  if (word === null) return undefined
  const passed = word[1]!.toUpperCase() === "PASS"
  return { passed, score: passed ? 1 : 0, details: {} }
}

/**
 * An LLM judge: one model call (purpose `judge`, recorded on the case session like any call, so a
 * re-score replays it) sent the rubric, the conversation without system messages, and the expected
 * value. An answer it cannot read fails the check (the answer is in the details).
 */
export const judge = (
  options: JudgeOptions
): Scorer<Provider.ProviderError | Budget.BudgetError, Provider.Provider> => {
  const name = options.name ?? "judge"
  const threshold = options.threshold ?? 0.5
  const author: Entry.Author = { kind: "program", name: `eval.${name}` }
  return {
    name,
    score: ({ case: c, session }) => {
      const after: Array<Entry.ModelMessage> = [{
        _tag: "User",
        text: c.expected === undefined
          ? "Grade the last assistant answer."
          : `Expected answer: ${
            typeof c.expected === "string" ? c.expected : JSON.stringify(c.expected)
          }\nGrade the last assistant answer.`
      }]
      const call = Model.call(session, {
        purpose: "judge",
        author,
        prompt: {
          before: [{ _tag: "System", text: judgeInstructions(options.rubric) }],
          view: Model.transcriptView({ system: false }),
          after
        },
        ...(options.model === undefined ? {} : { model: options.model }),
        temperature: 0
      })
      const made = Effect.flatMap(ReplayingProvider, (replaying) => {
        const provider = replaying ?? options.provider
        return provider === undefined ? call : Effect.provideService(call, Provider.Provider, provider)
      })
      return Effect.map(made, ({ response, session: next }): Scored => {
        const read = readJudgement(response.text, threshold)
        return {
          session: next,
          verdict: read ??
            {
              passed: false,
              score: 0,
              details: { reason: "the judge's answer was not a verdict", answer: response.text.slice(0, 500) }
            }
        }
      })
    }
  }
}

/** A scorer from a function. */
export const make = <E = never, R = never>(
  name: string,
  f: (input: ScoreInput) => Effect.Effect<Verdict, E, R>
): Scorer<E, R> => ({ name, score: (input) => Effect.map(f(input), (v) => ({ verdict: v })) })
