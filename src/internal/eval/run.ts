/**
 * The runner: every case of a dataset forks the run session, runs the workflow, is scored, and is
 * saved; the run session records each finished case, so an interrupted run continues with the
 * cases it has no record of. Re-scoring replays the recorded judge calls and runs no model.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Budget from "../../Budget.js"
import * as Entry from "../../Entry.js"
import * as Provider from "../../Provider.js"
import * as Replay from "../../Replay.js"
import * as Session from "../../Session.js"
import * as SessionStore from "../../SessionStore.js"
import * as Dataset from "./dataset.js"
import { measure, totals } from "./metrics.js"
import {
  type Case,
  CASE_ENTRY,
  type CaseResult,
  CaseResult as CaseResultSchema,
  type CheckResult,
  END_ENTRY,
  EvalError,
  type Metadata,
  type Prices,
  RESULT_ENTRY,
  RUN_ENTRY,
  type RunEnd,
  type RunSpec,
  RunSpec as RunSpecSchema,
  type Totals
} from "./model.js"
import { outputOf, ReplayingProvider, type Scorer } from "./scorers.js"

/** Who writes the eval's entries. */
export const author: Entry.Author = { kind: "program", name: "eval" }

/** How far a run has got. */
export interface Progress {
  readonly done: number
  readonly total: number
  readonly passed: number
  readonly failed: number
  /** Cases skipped because the run already has their result. */
  readonly skipped: number
  readonly elapsedMs: number
  /** The case that just finished. */
  readonly caseId: string
}

/** A stored run read back. */
export interface RunRecord {
  readonly id: string
  readonly session: Session.Session
  readonly spec: RunSpec
  /** The latest result of every case, in dataset order. */
  readonly cases: ReadonlyArray<CaseResult>
  /** Entries of the run session its cases fork from (the run entries). */
  readonly rootLength: number
  readonly ends: ReadonlyArray<RunEnd>
}

/** What a run did. */
export interface Report extends RunRecord {
  readonly totals: Totals
  /** Cases run by this call, and skipped because they had a result. */
  readonly ran: number
  readonly skipped: number
  readonly wallMs: number
}

const decodeSpec = Schema.decodeUnknownOption(RunSpecSchema)
const decodeResult = Schema.decodeUnknownOption(CaseResultSchema)

const storeError = (what: string) => (cause: SessionStore.SessionStoreError) =>
  new EvalError({
    reason: cause.reason === "NotFound" ? "NotFound" : "Store",
    detail: `${what}: ${cause.message}`,
    cause
  })

/** Reads a run session: its spec, its cases' latest results (dataset order) and its ends. */
export const read = (session: Session.Session): Effect.Effect<RunRecord, EvalError> =>
  Effect.suspend(() => {
    let spec: RunSpec | undefined
    let rootLength = 0
    const latest = new Map<string, CaseResult>()
    const ends: Array<RunEnd> = []
    let index = 0
    for (const entry of Session.entries(session)) {
      index++
      if (entry._tag !== "Custom") continue
      if (entry.type === RUN_ENTRY) {
        const decoded = decodeSpec(entry.data)
        if (Option.isSome(decoded)) {
          spec = decoded.value
          rootLength = index
        }
      } else if (entry.type === RESULT_ENTRY) {
        const decoded = decodeResult(entry.data)
        if (Option.isSome(decoded)) latest.set(decoded.value.caseId, decoded.value)
      } else if (entry.type === END_ENTRY) {
        const data = entry.data as RunEnd
        if (typeof data?.wallMs === "number") ends.push(data)
      }
    }
    if (spec === undefined) {
      return Effect.fail(
        new EvalError({
          reason: "InvalidRun",
          detail: `session ${session.id} is not an eval run (it has no ${RUN_ENTRY} entry)`
        })
      )
    }
    const cases = Array.from(latest.values()).sort((a, b) => a.line - b.line)
    return Effect.succeed({ id: session.id, session, spec, cases, rootLength, ends })
  })

/** Loads and reads a stored run. */
export const load = (store: SessionStore.Service, id: string): Effect.Effect<RunRecord, EvalError> =>
  Effect.flatMap(Effect.mapError(store.load(id), storeError(`eval run ${id}`)), read)

/** Options of {@link run}. */
export interface RunOptions<E, R, SE, SR, PE, PR> {
  readonly name?: string | undefined
  readonly dataset: ReadonlyArray<Case>
  /** The workflow under test: the case's session (a fork of the run with the input as a user message) in, its result out. */
  readonly workflow: (session: Session.Session) => Effect.Effect<Session.Session, E, R>
  readonly scorers: ReadonlyArray<Scorer<SE, SR>>
  /** Cases run at once (default 4). */
  readonly concurrency?: number | undefined
  /** A token budget shared by every case (workflow and judges); a case that runs out fails. */
  readonly budget?: number | undefined
  /** Model prices, for the cost of each case. */
  readonly prices?: Prices | undefined
  /** Continue this stored run: cases it has a result for are not run again. */
  readonly continue?: string | undefined
  /** With `continue`: `"failed"` also re-runs the cases whose result failed (default `"missing"`). */
  readonly rerun?: "missing" | "failed" | undefined
  /** Prepares a case's session before the workflow runs (bind a sandbox, add context). */
  readonly prepare?: ((session: Session.Session, c: Case) => Effect.Effect<Session.Session, PE, PR>) | undefined
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
  readonly metadata?: Metadata | undefined
}

const errorText = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

const mean = (values: ReadonlyArray<number>) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length

/** Runs the scorers on an output session, appending each one's check. */
const score = <SE, SR>(
  output: Session.Session,
  c: Case,
  scorers: ReadonlyArray<Scorer<SE, SR>>
): Effect.Effect<{ readonly session: Session.Session; readonly checks: ReadonlyArray<CheckResult> }, SE, SR> =>
  Effect.gen(function*() {
    let session = output
    const text = outputOf(output)
    const checks: Array<CheckResult> = []
    for (const scorer of scorers) {
      const scored = yield* scorer.score({ case: c, session, output: text })
      if (scored.session !== undefined) session = scored.session
      const value = Math.min(1, Math.max(0, scored.verdict.score ?? (scored.verdict.passed ? 1 : 0)))
      session = yield* Session.append(
        session,
        Entry.check(scorer.name, scored.verdict.passed, {
          details: { score: value, ...scored.verdict.details },
          author
        })
      )
      checks.push({ name: scorer.name, passed: scored.verdict.passed, score: value })
    }
    return { session, checks }
  })

const resultOf = (
  c: Case,
  session: Session.Session,
  outputLength: number,
  checks: ReadonlyArray<CheckResult>,
  latencyMs: number,
  prices: Prices | undefined,
  attempt: number,
  error?: string
): CaseResult => ({
  caseId: c.id,
  line: c.line,
  session: session.id,
  outputLength,
  pass: error === undefined && checks.length > 0 && checks.every((check) => check.passed),
  score: error === undefined ? mean(checks.map((check) => check.score)) : 0,
  checks,
  metrics: measure(session, latencyMs, prices),
  ...(error === undefined ? {} : { error }),
  attempt,
  ...(c.metadata === undefined ? {} : { metadata: c.metadata })
})

/** How many finished cases are recorded in the run session at once (each case session holds its own record). */
const FLUSH_EVERY = 32

/**
 * The index of results (the run session): finished cases are recorded in batches (one save of the
 * run session per batch, not per case), behind a lock. A case's own session ends with its record,
 * so a record lost with an unflushed batch is recovered from the store ({@link recover}).
 */
const makeIndex = (store: SessionStore.Service, initial: Session.Session) =>
  Effect.map(Effect.all([Ref.make(initial), Effect.makeSemaphore(1)]), ([ref, lock]) => {
    let pending: Array<Entry.DraftFor<"Custom">> = []
    const flush = lock.withPermits(1)(
      Effect.suspend(() => {
        if (pending.length === 0) return Effect.void
        const drafts = pending
        pending = []
        return Effect.gen(function*() {
          const next = yield* Session.appendAll(yield* Ref.get(ref), drafts)
          yield* Effect.mapError(store.save(next), storeError(`saving eval run ${next.id}`))
          yield* Ref.set(ref, next)
        })
      })
    )
    return {
      add: (type: string, data: unknown): Effect.Effect<void, EvalError> =>
        Effect.suspend(() => {
          pending.push(Entry.custom(type, data, { author }))
          return pending.length >= FLUSH_EVERY ? flush : Effect.void
        }),
      flush,
      get: Ref.get(ref)
    }
  })

/**
 * Results of cases whose session was saved but whose record did not reach the run session (the
 * run stopped before its batch was flushed): the run's descendants the index does not name whose
 * last entry is a result record.
 */
const recover = (
  store: SessionStore.Service,
  record: RunRecord
): Effect.Effect<ReadonlyArray<CaseResult>, EvalError> =>
  Effect.gen(function*() {
    const known = new Set<string>()
    for (const result of record.cases) {
      known.add(result.session)
      if (result.input !== undefined) known.add(result.input)
    }
    const descendants = yield* Effect.mapError(store.descendants(record.id), storeError(`eval run ${record.id}`))
    const latest = new Map(record.cases.map((result) => [result.caseId, result]))
    const found: Array<CaseResult> = []
    for (const summary of descendants) {
      if (known.has(summary.id)) continue
      const session = yield* Effect.mapError(store.load(summary.id), storeError(`case session ${summary.id}`))
      const head = Option.getOrUndefined(Session.head(session))
      if (head?._tag !== "Custom" || head.type !== RESULT_ENTRY) continue
      const decoded = decodeResult(head.data)
      if (Option.isNone(decoded)) continue
      const before = latest.get(decoded.value.caseId)
      if (before !== undefined && before.attempt >= decoded.value.attempt) continue
      latest.set(decoded.value.caseId, decoded.value)
      found.push(decoded.value)
    }
    return found
  })

const progressCounter = (
  total: number,
  skipped: number,
  started: number,
  onProgress: ((progress: Progress) => Effect.Effect<void>) | undefined
) => {
  let done = 0
  let passed = 0
  return (result: CaseResult): Effect.Effect<void> =>
    onProgress === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) => {
      done++
      if (result.pass) passed++
      return onProgress({
        done,
        total,
        passed,
        failed: done - passed,
        skipped,
        elapsedMs: now - started,
        caseId: result.caseId
      })
    })
}

/**
 * Runs (or continues) an eval. See the module `Eval`.
 */
export const run = <E, R, SE, SR, PE = never, PR = never>(
  options: RunOptions<E, R, SE, SR, PE, PR>
): Effect.Effect<Report, EvalError | SE | PE, R | SR | PR | SessionStore.SessionStore> =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const started = yield* Clock.currentTimeMillis
    const cases = options.dataset
    if (options.scorers.length === 0) {
      return yield* new EvalError({ reason: "InvalidRun", detail: "an eval needs at least one scorer" })
    }
    const names = new Set<string>()
    for (const scorer of options.scorers) {
      if (names.has(scorer.name)) {
        return yield* new EvalError({
          reason: "InvalidRun",
          detail: `two scorers are named ${scorer.name}: give one a name of its own ({ name })`
        })
      }
      names.add(scorer.name)
    }
    const datasetDigest = Dataset.digest(cases)
    let runSession: Session.Session
    let previous: ReadonlyArray<CaseResult> = []
    let rootLength = 1
    let recoveredResults: ReadonlyArray<CaseResult> = []
    if (options.continue !== undefined) {
      const record = yield* load(store, options.continue)
      if (record.spec.datasetDigest !== datasetDigest) {
        return yield* new EvalError({
          reason: "InvalidRun",
          detail:
            `run ${record.id} was made on another dataset (${record.spec.cases} cases, digest ${record.spec.datasetDigest}); this one has ${cases.length} cases, digest ${datasetDigest}`
        })
      }
      const names = options.scorers.map((s) => s.name)
      if (names.join("\u0000") !== record.spec.scorers.join("\u0000")) {
        return yield* new EvalError({
          reason: "InvalidRun",
          detail: `run ${record.id} was scored by ${record.spec.scorers.join(", ") || "no scorer"}; continue it with ` +
            `the same scorers, not ${names.join(", ") || "none"} (or start a new run)`
        })
      }
      runSession = record.session
      const recovered = yield* recover(store, record)
      const merged = new Map(record.cases.map((result) => [result.caseId, result]))
      for (const result of recovered) merged.set(result.caseId, result)
      previous = Array.from(merged.values())
      recoveredResults = recovered
      rootLength = record.rootLength
    } else {
      const spec: RunSpec = {
        name: options.name ?? "eval",
        cases: cases.length,
        datasetDigest,
        scorers: options.scorers.map((s) => s.name),
        concurrency: options.concurrency ?? 4,
        ...(options.budget === undefined ? {} : { budget: options.budget }),
        ...(options.prices === undefined ? {} : { prices: options.prices }),
        ...(options.metadata === undefined ? {} : { metadata: options.metadata })
      }
      runSession = yield* Session.make([Entry.custom(RUN_ENTRY, spec, { author })])
      yield* Effect.mapError(store.save(runSession), storeError(`saving eval run ${runSession.id}`))
    }
    const byCase = new Map(previous.map((result) => [result.caseId, result]))
    const todo = cases.filter((c) => {
      const before = byCase.get(c.id)
      return before === undefined || (options.rerun === "failed" && !before.pass)
    })
    const skipped = cases.length - todo.length
    const root = Session.take(runSession, rootLength)
    const index = yield* makeIndex(store, runSession)
    for (const result of recoveredResults) yield* index.add(RESULT_ENTRY, result)
    const budget = options.budget === undefined ? yield* Budget.Budget : yield* Budget.make({ tokens: options.budget })
    const progress = progressCounter(todo.length, skipped, started, options.onProgress)
    const prices = options.prices

    const runCase = (c: Case) =>
      Effect.gen(function*() {
        let input = yield* Session.fork(root, { by: author })
        input = yield* Session.appendAll(input, [
          Entry.custom(CASE_ENTRY, {
            caseId: c.id,
            line: c.line,
            ...(c.expected === undefined ? {} : { expected: c.expected }),
            ...(c.metadata === undefined ? {} : { metadata: c.metadata })
          }, { author }),
          Entry.user(Dataset.inputText(c))
        ])
        if (options.prepare !== undefined) input = yield* options.prepare(input, c)
        yield* Effect.mapError(store.save(input), storeError(`saving case ${c.id}`))
        const attempt = (byCase.get(c.id)?.attempt ?? 0) + 1
        const before = yield* Clock.currentTimeMillis
        const outcome = yield* Effect.either(options.workflow(input))
        const latencyMs = (yield* Clock.currentTimeMillis) - before
        let result: CaseResult
        let saved: Session.Session
        if (outcome._tag === "Left") {
          const error = errorText(outcome.left)
          saved = yield* Session.append(input, Entry.check("eval.error", false, { details: { error }, author }))
          result = { ...resultOf(c, saved, input.length, [], latencyMs, prices, attempt, error), input: input.id }
        } else {
          const output = outcome.right
          // a scorer that fails (a judge's provider error, the budget running out) fails its case,
          // not the run
          const scoredOrFailed = yield* Effect.either(score(output, c, options.scorers))
          if (scoredOrFailed._tag === "Left") {
            const error = errorText(scoredOrFailed.left)
            saved = yield* Session.append(output, Entry.check("eval.error", false, { details: { error }, author }))
            result = resultOf(c, saved, output.length, [], latencyMs, prices, attempt, error)
          } else {
            saved = scoredOrFailed.right.session
            result = resultOf(c, saved, output.length, scoredOrFailed.right.checks, latencyMs, prices, attempt)
          }
          if (saved.id !== input.id) result = { ...result, input: input.id }
        }
        // the case session ends with its own record: a run stopped before the index is saved recovers it
        saved = yield* Session.append(saved, Entry.custom(RESULT_ENTRY, result, { author }))
        yield* Effect.mapError(store.save(saved), storeError(`saving case ${c.id}`))
        yield* index.add(RESULT_ENTRY, result)
        yield* progress(result)
      }).pipe(Effect.provideService(Budget.Budget, budget))

    // what finished is recorded however the run ends (an interruption flushes the batch too)
    yield* Effect.forEach(todo, runCase, { concurrency: options.concurrency ?? 4, discard: true }).pipe(
      Effect.ensuring(Effect.ignoreLogged(index.flush))
    )
    const wallMs = (yield* Clock.currentTimeMillis) - started
    yield* index.add(END_ENTRY, { wallMs, ran: todo.length, skipped } satisfies RunEnd)
    yield* index.flush
    const record = yield* read(yield* index.get)
    return { ...record, totals: totals(record.cases), ran: todo.length, skipped, wallMs }
  })

/** Options of {@link rescore}. */
export interface RescoreOptions<SE, SR> {
  /** The stored run to re-score. */
  readonly run: string
  readonly scorers: ReadonlyArray<Scorer<SE, SR>>
  readonly name?: string | undefined
  readonly prices?: Prices | undefined
  readonly concurrency?: number | undefined
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
}

/**
 * Re-scores a stored run as a new run (lineage: a fork of the old run; each case a fork of the old
 * case session cut where the workflow's output ended), running no workflow and calling no model:
 * every judge is answered from the case's recording (a judge whose request is not recorded fails
 * with a `ProviderError` of reason `ReplayDiverged`). Cases that failed with an error keep it.
 */
export const rescore = <SE, SR>(
  options: RescoreOptions<SE, SR>
): Effect.Effect<Report, EvalError | SE, Exclude<SR, Provider.Provider> | SessionStore.SessionStore> =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const started = yield* Clock.currentTimeMillis
    const old = yield* load(store, options.run)
    const prices = options.prices ?? old.spec.prices
    const spec: RunSpec = {
      ...old.spec,
      name: options.name ?? `${old.spec.name} (re-scored)`,
      scorers: options.scorers.map((s) => s.name),
      rescoreOf: old.id,
      ...(prices === undefined ? {} : { prices })
    }
    const forked = yield* Session.fork(Session.take(old.session, old.rootLength), { by: author })
    const runSession = yield* Session.append(forked, Entry.custom(RUN_ENTRY, spec, { author }))
    yield* Effect.mapError(store.save(runSession), storeError(`saving eval run ${runSession.id}`))
    const index = yield* makeIndex(store, runSession)
    const progress = progressCounter(old.cases.length, 0, started, options.onProgress)
    const rescoreCase = (previous: CaseResult) =>
      Effect.gen(function*() {
        const recorded = yield* Effect.mapError(store.load(previous.session), storeError(`case ${previous.caseId}`))
        const output = yield* Session.fork(Session.take(recorded, previous.outputLength), { by: author })
        const c: Case = yield* caseOf(recorded, previous)
        let result: CaseResult
        let saved: Session.Session
        if (previous.error !== undefined) {
          saved = output
          const { input: _input, ...kept } = previous
          result = { ...kept, session: output.id, metrics: measure(output, previous.metrics.latencyMs, prices) }
        } else {
          const replayer = yield* Replay.make(recorded)
          const scored = yield* score(output, c, options.scorers).pipe(
            Effect.provideService(Provider.Provider, replayer.provider),
            Effect.provideService(ReplayingProvider, replayer.provider)
          )
          saved = scored.session
          result = resultOf(
            c,
            saved,
            previous.outputLength,
            scored.checks,
            previous.metrics.latencyMs,
            prices,
            previous.attempt
          )
        }
        saved = yield* Session.append(saved, Entry.custom(RESULT_ENTRY, result, { author }))
        yield* Effect.mapError(store.save(saved), storeError(`saving case ${previous.caseId}`))
        yield* index.add(RESULT_ENTRY, result)
        yield* progress(result)
      })
    yield* Effect.forEach(old.cases, rescoreCase, { concurrency: options.concurrency ?? 4, discard: true }).pipe(
      Effect.ensuring(Effect.ignoreLogged(index.flush))
    )
    const wallMs = (yield* Clock.currentTimeMillis) - started
    yield* index.add(END_ENTRY, { wallMs, ran: old.cases.length, skipped: 0 } satisfies RunEnd)
    yield* index.flush
    const record = yield* read(yield* index.get)
    return { ...record, totals: totals(record.cases), ran: old.cases.length, skipped: 0, wallMs }
  }) as Effect.Effect<Report, EvalError | SE, Exclude<SR, Provider.Provider> | SessionStore.SessionStore>

/** The case a stored case session was made from (its `rath.eval.case` entry and first user message). */
const caseOf = (session: Session.Session, result: CaseResult): Effect.Effect<Case, EvalError> =>
  Effect.suspend(() => {
    let found: Entry.Custom | undefined
    let text: string | undefined
    for (const entry of Session.entries(session)) {
      if (found === undefined && entry._tag === "Custom" && entry.type === CASE_ENTRY) found = entry
      else if (found !== undefined && entry._tag === "User") {
        text = entry.text
        break
      }
    }
    if (found === undefined || text === undefined) {
      return Effect.fail(
        new EvalError({
          reason: "InvalidRun",
          detail: `case session ${session.id} has no ${CASE_ENTRY} entry and input`
        })
      )
    }
    const data = found.data as { readonly expected?: unknown; readonly metadata?: Record<string, unknown> }
    return Effect.succeed({
      id: result.caseId,
      line: result.line,
      input: text,
      ...(data.expected === undefined ? {} : { expected: data.expected }),
      ...(data.metadata === undefined ? {} : { metadata: data.metadata })
    })
  })
