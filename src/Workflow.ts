/**
 * Workflows: named, self-describing steps over a session, and the combinators that compose them.
 *
 * A workflow is a function `Session => Effect<Session>` (like `nn.Module`) with a `name` and a
 * `description`; agents are workflows too. Control flow stays plain code (`Effect.gen`, `if`,
 * `while`); the combinators here cover the shapes that need care: sequence ({@link andThen}),
 * fork-join ({@link parallel}), bounded loops ({@link loop}), {@link withTimeout}, {@link retry}
 * and {@link done}, the identity a selector returns when the work is finished.
 *
 * Each run of a workflow made with {@link make} is a `step` in the session lineage authored by
 * the workflow, and each branch of {@link parallel} is a `fork` named after its branch, so the
 * session graph shows which workflow and which branch produced each entry.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Entry from "./Entry.js"
import * as Journal from "./Journal.js"
import * as Session from "./Session.js"

/**
 * A step over a session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Step<E = never, R = never> {
  (session: Session.Session): Effect.Effect<Session.Session, E, R>
}

/**
 * A named, self-describing step.
 *
 * @since 0.1.0
 * @category models
 */
export interface Workflow<E = never, R = never> extends Step<E, R> {
  readonly name: string
  readonly description: string
}

/**
 * The error of a step.
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorOf<S> = S extends Step<infer E, any> ? E : never

/**
 * The requirements of a step.
 *
 * @since 0.1.0
 * @category models
 */
export type ContextOf<S> = S extends Step<any, infer R> ? R : never

/**
 * @since 0.1.0
 * @category errors
 */
export class WorkflowError extends Schema.TaggedError<WorkflowError>("rath/WorkflowError")("WorkflowError", {
  reason: Schema.Literal("Timeout", "MergeFailed"),
  workflow: Schema.String,
  detail: Schema.String,
  /** What the workflow had produced when it stopped (for a timeout: the latest session reported). */
  session: Schema.optional(Session.SessionFromSelf),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} in workflow ${this.workflow}: ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// durability hook
// -----------------------------------------------------------------------------

/**
 * What a leaf step is, as a durable runner sees it: an agent run, a fork or a merge of
 * {@link parallel}, or any other step (a compressor, a `make` step over plain code). `name` is the
 * step's name.
 *
 * @since 0.2.0
 * @category models
 */
export interface StepInfo {
  readonly kind: "agent" | "workflow" | "fork" | "merge" | "selector"
  readonly name: string
}

/**
 * The hook a durable runner (`rath/Durable`) provides: the combinators of this module run each
 * leaf step through `step` and each branch of {@link parallel} and iteration of {@link loop}
 * through `within`, so the runner can name every step by its position in the workflow and make
 * it a durable step. The default, {@link direct}, runs everything as it is.
 *
 * @since 0.2.0
 * @category models
 */
export interface DurabilityService {
  readonly step: <E, R>(
    info: StepInfo,
    session: Session.Session,
    run: (session: Session.Session) => Effect.Effect<Session.Session, E, R>
  ) => Effect.Effect<Session.Session, E, R>
  readonly within: <A, E, R>(segment: string, self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * The durability hook that runs every step as it is.
 *
 * @since 0.2.0
 * @category constructors
 */
export const direct: DurabilityService = {
  step: (_info, session, run) => run(session),
  within: (_segment, self) => self
}

/**
 * The durability hook in effect. Default: {@link direct}.
 *
 * @since 0.2.0
 * @category tags
 */
export class Durability extends Context.Reference<Durability>()("rath/Workflow/Durability", {
  defaultValue: (): DurabilityService => direct
}) {}

const CompositeId = Symbol.for("rath/Workflow/Composite")

const composite = <W>(workflow: W): W => Object.assign(workflow as object, { [CompositeId]: true }) as W

const isComposite = (step: Step<any, any>): boolean =>
  (step as { readonly [CompositeId]?: boolean })[CompositeId] === true

const isAgentLike = (step: Step<any, any>): boolean => {
  const s = step as { readonly toolkit?: unknown; readonly definitions?: unknown; readonly maxTurns?: unknown }
  return s.toolkit !== undefined && Array.isArray(s.definitions) && typeof s.maxTurns === "number"
}

/**
 * Runs `step` on `session` as a child of a workflow: through the durability hook in effect (see
 * {@link Durability}). A composite step (made by {@link andThen}, {@link parallel}, {@link loop},
 * or {@link make} over one of those) runs its own children through the hook; any other step (an
 * agent, a compressor, plain code) is one leaf step. Use it in `Effect.gen` code to make a call
 * of an agent a durable step under `rath/Durable`; outside a durable run it is `step(session)`.
 *
 * @since 0.2.0
 * @category combinators
 */
export const call = <E, R>(step: Step<E, R>, session: Session.Session): Effect.Effect<Session.Session, E, R> =>
  isComposite(step) ? step(session) : Effect.flatMap(
    Durability,
    (durability) =>
      durability === direct ? step(session) : durability.step(
        { kind: isAgentLike(step) ? "agent" : "workflow", name: nameOf(step) },
        session,
        step
      )
  )

const named = <E, R>(name: string, description: string, step: Step<E, R>): Workflow<E, R> => {
  const fn = (session: Session.Session) => step(session)
  Object.defineProperty(fn, "name", { value: name })
  return Object.assign(fn, { description }) as Workflow<E, R>
}

/**
 * The name of a step: a workflow's or agent's name, otherwise the function's name or `"step"`.
 *
 * @since 0.1.0
 * @category getters
 */
export const nameOf = (step: Step<any, any>): string =>
  typeof step.name === "string" && step.name !== "" && step.name !== "fn" ? step.name : "step"

/**
 * The description of a step (empty when it has none).
 *
 * @since 0.1.0
 * @category getters
 */
export const descriptionOf = (step: Step<any, any>): string => {
  const description = (step as { readonly description?: unknown }).description
  return typeof description === "string" ? description : ""
}

/**
 * Names a step. Each run is recorded as a `step` in the session lineage by `{ kind: "workflow",
 * name }`, which is also the author of entries appended without one. Under a journal (see
 * `Journal`) the step's session is reported first, then what the step reports, then its result.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session, Workflow } from "rath"
 *
 * const greet = Workflow.make({ name: "greet", description: "Says hello" }, (session) =>
 *   Session.append(session, Entry.assistant({ text: "hello" })))
 *
 * const program = Session.fromUserMessage("hi").pipe(Effect.flatMap(greet))
 * ```
 */
export const make = <E, R>(
  info: { readonly name: string; readonly description?: string | undefined },
  step: Step<E, R>
): Workflow<E | Journal.JournalError, R> => {
  const author: Entry.Author = { kind: "workflow", name: info.name }
  const made = named(info.name, info.description ?? "", (session) =>
    Session.step(session, author).pipe(
      Effect.flatMap((stepped) => reportAround(stepped, step)),
      Effect.provideService(Entry.CurrentAuthor, author),
      Effect.withSpan("Workflow.run", {
        captureStackTrace: false,
        attributes: { "rath.workflow.name": info.name, "rath.session.id": session.id }
      })
    ))
  // a named composite stays composite: its children are the durable steps
  return isComposite(step) ? composite(made) : made
}

/**
 * Runs `step` on `session` under the journal in effect: reports `session` first (a session this
 * workflow made: the lineage parent of what the step makes), passes on what the step reports, and
 * reports the result unless the step reported that very value last.
 */
const reportAround = <E, R>(
  session: Session.Session,
  step: Step<E, R>
): Effect.Effect<Session.Session, E | Journal.JournalError, R> =>
  Effect.flatMap(Journal.Journal, (journal) => {
    if (journal === Journal.noop) return step(session)
    let last = session
    return journal.report(session).pipe(
      Effect.zipRight(Journal.observe(step(session), (next) => Effect.sync(() => void (last = next)))),
      Effect.tap((result) => result === last ? Effect.void : journal.report(result))
    )
  })

/**
 * The identity: the workflow a selector returns when the work is finished.
 *
 * @since 0.1.0
 * @category constructors
 */
export const done: Workflow = named(
  "done",
  "The work is finished: change nothing.",
  (session) => Effect.succeed(session)
)

/**
 * @since 0.1.0
 * @category guards
 */
export const isDone = (step: Step<any, any>): boolean => step === done

/**
 * Runs steps one after another, each on the session the previous one returned.
 *
 * @since 0.1.0
 * @category combinators
 */
export const andThen = <const S extends ReadonlyArray<Step<any, any>>>(
  ...steps: S
): Workflow<ErrorOf<S[number]>, ContextOf<S[number]>> =>
  composite(named(
    steps.map(nameOf).join(" -> "),
    steps.map(descriptionOf).filter((text) => text !== "").join(" Then: "),
    (session) =>
      Effect.reduce(steps, session, (current, step) => call(step, current)) as Effect.Effect<
        Session.Session,
        ErrorOf<S[number]>,
        ContextOf<S[number]>
      >
  ))

/**
 * Options of {@link parallel}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParallelOptions {
  readonly name?: string | undefined
  readonly description?: string | undefined
  readonly concurrency?: number | "unbounded" | undefined
}

/**
 * Fork-join: forks the input once per branch (a `fork` named `<name>/<branch>`), runs the
 * branches concurrently (bounded by `concurrency`, default unbounded) and joins the results with
 * `Session.mergeAll` in branch order: the input once, then each branch's own entries once, then
 * one `Merge` entry whose parents are the branches' heads. One branch is returned as it is.
 *
 * Under a journal every session the fork-join makes is reported as it goes: each fork, what each
 * branch reports, each branch's result and the join. An interrupted fork-join reports the join of
 * what its branches had reached.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session, Workflow } from "rath"
 *
 * const say = (text: string) =>
 *   Workflow.make({ name: text }, (session) => Session.append(session, Entry.assistant({ text })))
 * const both = Workflow.parallel([say("a"), say("b")], { name: "review" })
 * const program = Session.fromUserMessage("go").pipe(Effect.flatMap(both))
 * ```
 */
export const parallel: {
  (
    options?: ParallelOptions
  ): <const S extends ReadonlyArray<Step<any, any>>>(
    branches: S
  ) => Workflow<ErrorOf<S[number]> | WorkflowError | Journal.JournalError, ContextOf<S[number]>>
  <const S extends ReadonlyArray<Step<any, any>>>(
    branches: S,
    options?: ParallelOptions
  ): Workflow<ErrorOf<S[number]> | WorkflowError | Journal.JournalError, ContextOf<S[number]>>
} = dual(
  (args) => Array.isArray(args[0]),
  <const S extends ReadonlyArray<Step<any, any>>>(
    branches: S,
    options?: ParallelOptions
  ): Workflow<ErrorOf<S[number]> | WorkflowError | Journal.JournalError, ContextOf<S[number]>> => {
    const name = options?.name ?? "parallel"
    const author: Entry.Author = { kind: "workflow", name }
    return composite(named(
      name,
      options?.description ?? `In parallel: ${branches.map(nameOf).join(", ")}`,
      (session) =>
        Effect.gen(function*() {
          const journal = yield* Journal.Journal
          const durability = yield* Durability
          // under a durable runner each branch (its fork, its steps) is a part named by its index
          const inBranch = <A, E2, R2>(i: number, self: Effect.Effect<A, E2, R2>) =>
            durability === direct ? self : durability.within(String(i), self)
          // where each branch got to, so that an interrupted fork-join still joins what it made
          const latest: Array<Session.Session | undefined> = new Array(branches.length)
          const mergeOf = (sessions: ReadonlyArray<Session.Session>) =>
            durability === direct || sessions.length < 2
              ? Session.mergeAll(sessions, { author })
              : durability.step({ kind: "merge", name }, sessions[0]!, () => Session.mergeAll(sessions, { author }))
          const join = (sessions: ReadonlyArray<Session.Session>) =>
            mergeOf(sessions).pipe(
              Effect.mapError((cause) =>
                new WorkflowError({
                  reason: "MergeFailed",
                  workflow: name,
                  detail: `the branches cannot be merged: ${cause.message}`,
                  session: sessions[0],
                  cause
                })
              ),
              Effect.tap((merged) => sessions.length > 1 ? journal.report(merged) : Effect.void)
            )
          const runBranch = (branch: Step<any, any>, i: number) =>
            inBranch(
              i,
              Effect.gen(function*() {
                const by: Entry.Author = { kind: "workflow", name: `${name}/${branchName(branch, i)}` }
                const fork = yield* durability === direct
                  ? Session.fork(session, { by })
                  : durability.step({ kind: "fork", name: by.name }, session, (input) => Session.fork(input, { by }))
                latest[i] = fork
                yield* journal.report(fork)
                const result: Session.Session = yield* Journal.observe(
                  durability === direct ? branch(fork) : call(branch, fork),
                  (next) => Effect.sync(() => void (latest[i] = next))
                )
                // a branch that is no agent (or ends with unreported entries) reports nothing itself
                if (result !== latest[i]) {
                  latest[i] = result
                  yield* journal.report(result)
                }
                return result
              })
            )
          const forEachBranch = Effect.forEach(branches, runBranch, {
            concurrency: options?.concurrency ?? "unbounded"
          })
          const results = yield* (durability === direct ? forEachBranch : durability.within(name, forEachBranch)).pipe(
            Effect.onInterrupt(() => {
              const reached = latest.filter((s): s is Session.Session => s !== undefined)
              return journal === Journal.noop || reached.length === 0
                ? Effect.void
                : Effect.catchAll(
                  join(reached),
                  (error) =>
                    Effect.logWarning(`workflow ${name}: the interrupted join was not reported: ${error.message}`)
                )
            })
          )
          if (results.length === 0) return session
          return yield* join(results)
        }).pipe(Effect.withSpan("Workflow.parallel", {
          captureStackTrace: false,
          attributes: { "rath.workflow.name": name, "rath.session.id": session.id, "rath.branches": branches.length }
        })) as Effect.Effect<
          Session.Session,
          ErrorOf<S[number]> | WorkflowError | Journal.JournalError,
          ContextOf<S[number]>
        >
    ))
  }
)

const branchName = (step: Step<any, any>, index: number): string => {
  const name = nameOf(step)
  return name === "step" ? `branch-${index}` : name
}

/**
 * Options of {@link loop}: the condition, checked before each iteration, and a required bound.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoopOptions<E2 = never, R2 = never> {
  readonly while: (
    session: Session.Session,
    iteration: number
  ) => boolean | Effect.Effect<boolean, E2, R2>
  readonly maxIterations: number
  readonly name?: string | undefined
}

/**
 * Runs `body` while `while` holds, at most `maxIterations` times (a required bound: a loop that
 * reaches it stops there).
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session, Workflow } from "rath"
 *
 * const note = Workflow.make({ name: "note" }, (session) => Session.append(session, Entry.check("note", true)))
 * const three = Workflow.loop(note, { while: (_, i) => i < 3, maxIterations: 10 })
 * const program = Session.fromUserMessage("go").pipe(Effect.flatMap(three))
 * ```
 */
export const loop: {
  <E2 = never, R2 = never>(options: LoopOptions<E2, R2>): <E, R>(body: Step<E, R>) => Workflow<E | E2, R | R2>
  <E, R, E2 = never, R2 = never>(body: Step<E, R>, options: LoopOptions<E2, R2>): Workflow<E | E2, R | R2>
} = dual(
  2,
  <E, R, E2 = never, R2 = never>(body: Step<E, R>, options: LoopOptions<E2, R2>): Workflow<E | E2, R | R2> =>
    composite(named(options.name ?? `loop ${nameOf(body)}`, descriptionOf(body), (session) =>
      Effect.gen(function*() {
        const durability = yield* Durability
        let current = session
        for (let i = 0; i < options.maxIterations; i++) {
          const test = options.while(current, i)
          const go = typeof test === "boolean" ? test : yield* test
          if (!go) break
          current = yield* durability === direct
            ? body(current)
            : durability.within(`loop/${i}`, call(body, current))
        }
        return current
      })))
)

/**
 * Fails with a `WorkflowError` (reason `Timeout`) when the step takes longer than `duration`.
 * The step is interrupted; the error carries the latest session it reported to the journal.
 * Agents report after start-up, after an answer that calls tools, after each turn's tool results
 * and at their end; an interrupted agent answers its open calls and records `rath.run.end` with
 * reason `"interrupted"`, and reports that, so nothing it produced is lost. Its model call in
 * flight settles its budget reservation.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTimeout: {
  (duration: Duration.DurationInput): <E, R>(step: Step<E, R>) => Workflow<E | WorkflowError, R>
  <E, R>(step: Step<E, R>, duration: Duration.DurationInput): Workflow<E | WorkflowError, R>
} = dual(
  2,
  <E, R>(step: Step<E, R>, duration: Duration.DurationInput): Workflow<E | WorkflowError, R> =>
    named(nameOf(step), descriptionOf(step), (session) =>
      Effect.gen(function*() {
        let latest = session
        const result = yield* step(session).pipe(
          Journal.observe((next) => Effect.sync(() => void (latest = next))),
          Effect.timeoutOption(duration)
        )
        if (Option.isSome(result)) return result.value
        return yield* new WorkflowError({
          reason: "Timeout",
          workflow: nameOf(step),
          detail: `did not finish in time`,
          session: latest
        })
      }))
)

/**
 * Options of {@link retry}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions<E> {
  readonly times: number
  readonly while?: ((error: E) => boolean) | undefined
}

/**
 * Re-runs a failing step on the same input session, up to `times` more times (optionally only
 * while `while` holds for the error).
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry: {
  <E>(options: RetryOptions<E>): <R>(step: Step<E, R>) => Workflow<E, R>
  <E, R>(step: Step<E, R>, options: RetryOptions<E>): Workflow<E, R>
} = dual(
  2,
  <E, R>(step: Step<E, R>, options: RetryOptions<E>): Workflow<E, R> =>
    named(nameOf(step), descriptionOf(step), (session) =>
      Effect.retry(
        step(session),
        options.while === undefined ? { times: options.times } : { times: options.times, while: options.while }
      ))
)
