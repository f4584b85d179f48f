/**
 * Persistence as a run goes, and resuming a run that a crash or an interruption cut short.
 *
 * - {@link persist} saves every session an agent run (or a workflow) reports to the `Journal` to
 *   the `SessionStore` in context, before the run goes on: each entry is durable before the next
 *   model call starts. {@link layer} does the same for every run of the program it is provided to.
 * - {@link inspect} reads from a session's entries what its latest run left in flight: a model
 *   call with no answer, tool calls with no result.
 * - {@link resume} continues that run with the same agent, without repeating a model call or a
 *   tool call that has a result. A tool call without a result is re-run only when its tool is
 *   `idempotent`; otherwise the resume fails with a `ResumeError` naming the calls.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Agent from "./Agent.js"
import type * as Entry from "./Entry.js"
import * as Journal from "./Journal.js"
import type * as Provider from "./Provider.js"
import * as Run from "./Run.js"
import * as Session from "./Session.js"
import * as SessionStore from "./SessionStore.js"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why a run cannot be resumed.
 *
 * - `NoRun`: the session has no agent run (no `rath.agent` entry).
 * - `AgentMismatch`: the agent given is not the one that ran (name, instructions or tool schemas
 *   differ from the recorded spec).
 * - `NotIdempotent`: tool calls have no result and their tools are not marked `idempotent`;
 *   `calls` names them. A person decides: run them by hand, or answer them in the session.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResumeError extends Schema.TaggedError<ResumeError>("rath/ResumeError")("ResumeError", {
  reason: Schema.Literal("NoRun", "AgentMismatch", "NotIdempotent"),
  agent: Schema.String,
  detail: Schema.String,
  calls: Schema.optional(Schema.Array(Schema.Struct({ id: Schema.String, name: Schema.String }))),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} resuming agent ${this.agent}: ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// persisting
// -----------------------------------------------------------------------------

/**
 * Runs `self` (an agent, a workflow) saving every session its agents and workflows report to the
 * `Journal` to the `SessionStore` in context, each before the run goes on, and the result when it
 * is a session. An agent's run session is saved with its spec as the agent record. A failed save
 * stops the run that reported, with a `Journal.JournalError` carrying the `SessionStoreError`.
 * The journal that was in effect outside still hears every value, once it is saved. Under
 * {@link layer} on the same store, `persist` adds the result's save, not a second save of each
 * value.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Resume, Scripted, Session, SessionStore } from "rath"
 *
 * const writer = Agent.make({ name: "writer" })
 * const program = Session.fromUserMessage("Say hello").pipe(
 *   Effect.flatMap((session) => Resume.persist(writer(session))),
 *   Effect.provide(Scripted.layer([Scripted.reply("Hello")])),
 *   Effect.provide(SessionStore.layerMemory)
 * )
 * ```
 */
export const persist = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | Journal.JournalError, R | SessionStore.SessionStore> =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const outer = yield* Journal.Journal
    const journal = Journal.savesTo(outer, store) ? outer : Journal.saving(store, outer)
    let last: Session.Session | undefined
    return yield* self.pipe(
      Journal.observe((session) => Effect.sync(() => void (last = session))),
      Effect.provideService(Journal.Journal, journal),
      // a result that is a session (a workflow's merge, say) is saved too, unless it was just saved
      Effect.tap((a) => Session.isSession(a) && a !== last ? journal.report(a) : Effect.void)
    )
  })

/**
 * A layer that persists every agent run of the program it is provided to: the journal that saves
 * each session the agents and workflows report to the `SessionStore` the layer is built with,
 * before the run goes on (each entry is durable before the next model call starts), then tells
 * the journal that was in place (see `Journal.layerStore`). A failed save fails the run that
 * reported with a `Journal.JournalError`. The program's own result is not saved (only what the
 * runs report); wrap a part of the program in {@link persist} for that.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Agent, Resume, Scripted, Session, SessionStore } from "rath"
 *
 * const writer = Agent.make({ name: "writer" })
 * const program = Session.fromUserMessage("Say hello").pipe(Effect.flatMap(writer))
 *
 * const persisted = program.pipe(
 *   Effect.provide(Resume.layer.pipe(Layer.provideMerge(SessionStore.layerMemory))),
 *   Effect.provide(Scripted.layer([Scripted.reply("Hello")]))
 * )
 * ```
 */
export const layer: Layer.Layer<never, never, SessionStore.SessionStore> = Journal.layerStore

// -----------------------------------------------------------------------------
// inspecting
// -----------------------------------------------------------------------------

/**
 * What a session says about its latest agent run.
 *
 * @since 0.1.0
 * @category models
 */
export interface InFlight {
  /** The run's recorded spec (its `rath.agent` entry). */
  readonly spec: Run.Spec
  /** How the run ended, if it recorded it. */
  readonly end: Option.Option<Run.End>
  /**
   * `"finished"`: ended by itself (stop, max turns, budget): nothing to resume. `"interrupted"`:
   * ended as interrupted or by an error. `"cut"`: no end recorded (the process died).
   */
  readonly status: "finished" | "interrupted" | "cut"
  /** Model calls the run made (its answers), with those of the unfinished run it resumed. */
  readonly turns: number
  /** Whether a model call was in flight: the run's next step is a model call. */
  readonly awaitingModel: boolean
  /** Tool calls of the last answer without a real result (an `interrupted` result does not count). */
  readonly openCalls: ReadonlyArray<Entry.ToolCall>
  /** How many entries of the session a resume keeps (the rest is the interruption's record). */
  readonly keep: number
  /** For each open call, the real result recorded after `keep` (kept, not re-run), if any. */
  readonly recorded: ReadonlyArray<Entry.ToolResult | undefined>
}

const isInterruptedResult = (entry: Entry.Entry): boolean =>
  entry._tag === "ToolResult" && entry.error?.kind === "interrupted"

/**
 * The entries of a session's latest run, oldest first: from its `rath.agent` entry on, and, when
 * it was itself a resume, from the unfinished run of the same agent it continued; with its spec.
 */
const latestRun = (
  session: Session.Session
): Option.Option<{ readonly spec: Run.Spec; readonly entries: ReadonlyArray<Entry.Entry> }> => {
  const all = Chunk.toReadonlyArray(Session.entries(session))
  let spec: Run.Spec | undefined
  let start = -1
  for (let i = all.length - 1; i >= 0; i--) {
    const found = Run.spec(all[i]!)
    if (Option.isNone(found)) continue
    spec ??= found.value
    start = i
    if (!continues(all, i - 1, spec.name)) break
  }
  return spec === undefined ? Option.none() : Option.some({ spec, entries: all.slice(start) })
}

/** Whether the entries up to `from` end in an unfinished run of agent `name` (a resume's prefix). */
const continues = (all: ReadonlyArray<Entry.Entry>, from: number, name: string): boolean => {
  for (let j = from; j >= 0; j--) {
    const entry = all[j]!
    if (Run.isEndEntry(entry)) return false
    if (Run.isSpecEntry(entry)) return Option.exists(Run.spec(entry), (spec) => spec.name === name)
  }
  return false
}

/**
 * Reads a session's latest agent run: what ended it, and what was in flight. A resumed run counts
 * as one run with the unfinished run it continued (a resume can itself be cut and resumed). `None`
 * when the session has no run.
 *
 * @since 0.1.0
 * @category getters
 */
export const inspect = (session: Session.Session): Option.Option<InFlight> =>
  Option.map(latestRun(session), ({ entries: run, spec }) => {
    const start = session.length - run.length
    let endAt = -1
    let lastAnswer = -1
    let turns = 0
    run.forEach((entry, i) => {
      if (entry._tag === "Assistant") {
        lastAnswer = i
        turns++
      } else if (endAt === -1 && Run.isEndEntry(entry)) {
        endAt = i
      }
    })
    const end = endAt === -1 ? Option.none<Run.End>() : Run.end(run[endAt]!)
    const status = endAt === -1
      ? "cut" as const
      : Option.exists(end, (e) => e.reason === "interrupted" || e.reason === "error")
      ? "interrupted" as const
      : "finished" as const
    // the cut: the first entry after the last answer that records the interruption
    let cut = run.length
    for (let i = lastAnswer + 1; i < run.length; i++) {
      if (isInterruptedResult(run[i]!) || Run.isEndEntry(run[i]!)) {
        cut = i
        break
      }
    }
    const openCalls: Array<Entry.ToolCall> = []
    const recorded: Array<Entry.ToolResult | undefined> = []
    let awaitingModel = true
    if (lastAnswer !== -1) {
      const answer = run[lastAnswer] as Entry.Assistant
      const kept = new Set<string>()
      const after = new Map<string, Entry.ToolResult>()
      for (let i = lastAnswer + 1; i < run.length; i++) {
        const entry = run[i]!
        if (entry._tag !== "ToolResult") continue
        if (i < cut) kept.add(entry.callId)
        else if (!isInterruptedResult(entry) && !after.has(entry.callId)) after.set(entry.callId, entry)
      }
      for (const call of answer.toolCalls) {
        if (kept.has(call.id)) continue
        openCalls.push(call)
        recorded.push(after.get(call.id))
      }
      awaitingModel = answer.toolCalls.length > 0
    }
    return { spec, end, status, turns, awaitingModel, openCalls, keep: start + cut, recorded }
  })

// -----------------------------------------------------------------------------
// resuming
// -----------------------------------------------------------------------------

const mismatch = (agent: Agent.Agent<any, any>, spec: Run.Spec): string | undefined => {
  if (spec.name !== agent.name) return `the run was made by agent ${spec.name}`
  if ((spec.instructionsHash ?? "") !== (agent.instructionsHash ?? "")) {
    return `the instructions differ (recorded ${spec.instructionsHash ?? "none"}, given ${
      agent.instructionsHash ?? "none"
    })`
  }
  const recorded = JSON.stringify(spec.tools ?? [])
  const given = JSON.stringify(agent.definitions)
  if (recorded !== given) {
    const names = (tools: ReadonlyArray<Provider.ToolDefinition>) => tools.map((tool) => tool.name).join(", ")
    return `the tool schemas differ (recorded [${names(spec.tools ?? [])}], given [${names(agent.definitions)}])`
  }
  return undefined
}

/**
 * Continues the latest run in `session` with `agent` (the code that defines the agent that ran:
 * same name, instructions and tool schemas, else `AgentMismatch`).
 *
 * The run's entries are kept up to where it was cut (an interrupted run's `interrupted` results
 * and `rath.run.end` stay in the stored session, which is not changed); the resumed run is a new
 * `step` from there, recording a new `rath.agent` entry. It answers the open tool calls (results
 * recorded after the cut are appended again; calls with no result are re-run when their tool is
 * `idempotent`, else `NotIdempotent` naming them), then goes on with the model. The model calls
 * already made count against `maxTurns`, and `hooks.beforeRun` does not run again.
 *
 * A run that ended by itself (stop, max turns, budget) has nothing in flight: the session is
 * returned as it is.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Agent, Resume, SessionStore } from "rath"
 *
 * declare const coder: Agent.Agent
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* SessionStore.SessionStore
 *   const interrupted = yield* store.load("s_...")
 *   return yield* Resume.persist(Resume.resume(coder)(interrupted))
 * })
 * ```
 */
export const resume = <E, R>(agent: Agent.Agent<E, R>) =>
(
  session: Session.Session
): Effect.Effect<
  Session.Session,
  ResumeError | Agent.AgentError | Journal.JournalError | E,
  R | Provider.Provider
> =>
  Effect.suspend((): Effect.Effect<
    Session.Session,
    ResumeError | Agent.AgentError | Journal.JournalError | E,
    R | Provider.Provider
  > => {
    const found = inspect(session)
    if (Option.isNone(found)) {
      return Effect.fail(
        new ResumeError({ reason: "NoRun", agent: agent.name, detail: `session ${session.id} has no agent run` })
      )
    }
    const state = found.value
    if (state.status === "finished") return Effect.succeed(session)
    const different = mismatch(agent, state.spec)
    if (different !== undefined) {
      return Effect.fail(new ResumeError({ reason: "AgentMismatch", agent: agent.name, detail: different }))
    }
    const unsafe = state.openCalls.filter((call, i) =>
      state.recorded[i] === undefined && agent.toolkit.tools.get(call.name)?.idempotent !== true
    )
    if (unsafe.length > 0) {
      return Effect.fail(
        new ResumeError({
          reason: "NotIdempotent",
          agent: agent.name,
          detail: `these tool calls have no result and their tools are not idempotent: ${
            unsafe.map((call) => `${call.name} (${call.id})`).join(", ")
          }`,
          calls: unsafe.map((call) => ({ id: call.id, name: call.name }))
        })
      )
    }
    return Agent.continueRun(agent, Session.take(session, state.keep), {
      turns: state.turns,
      calls: state.openCalls,
      recorded: state.recorded,
      stopped: !state.awaitingModel && state.openCalls.length === 0 && state.turns > 0
    })
  })

/**
 * Loads a session from the `SessionStore` and resumes it with {@link resume}, persisting as it
 * goes.
 *
 * @since 0.1.0
 * @category combinators
 */
export const fromStore = <E, R>(agent: Agent.Agent<E, R>) =>
(
  id: string
): Effect.Effect<
  Session.Session,
  ResumeError | Agent.AgentError | Journal.JournalError | SessionStore.SessionStoreError | E,
  R | Provider.Provider | SessionStore.SessionStore
> =>
  Effect.flatMap(
    SessionStore.SessionStore,
    (store) => Effect.flatMap(store.load(id), (session) => persist(resume(agent)(session)))
  )
