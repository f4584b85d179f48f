/**
 * Agents: a prompt, a provider and tools, as a step over a session.
 *
 * `Agent.make({ name, instructions, tools })` returns a function `Session => Effect<Session>`
 * (like `nn.Linear`: a small reusable layer) that also carries its description. A run sends what
 * the agent is sent (`Model.agentMessages`) and the tool schemas to the `Provider` through the
 * one model-call step (`Model.call`), records the answer, runs the tool calls (concurrently where
 * the tools allow, in order on one resource) and appends one tool-result entry per call in the
 * order of the calls, and repeats until the model stops calling tools, `maxTurns` model calls are
 * made or the token budget is spent.
 *
 * Everything the run writes is authored by the agent (`{ kind: "agent", name }`), and the run is
 * bracketed by two `Custom` entries: `rath.agent` (the agent's spec, see `Run.Spec`) at the start
 * and `rath.run.end` (why it ended, `Run.End`) at the end. The run itself is a `step` in the
 * session lineage, and it reports to the `Journal` as it goes.
 *
 * The run is a few named steps over an explicit {@link State}: start the run, call the model,
 * answer the turn, run the tool calls, end the run. `Agent.stream(agent)(session)` runs the same
 * steps and emits typed {@link Event}s.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as FiberStatus from "effect/FiberStatus"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { YieldWrap } from "effect/Utils"
import { createHash } from "node:crypto"
import * as Budget from "./Budget.js"
import * as Entry from "./Entry.js"
import * as Redact from "./internal/redact.js"
import * as Seal from "./internal/seal.js"
import * as ToolNow from "./internal/toolNow.js"
import * as Trace from "./internal/trace.js"
import * as Journal from "./Journal.js"
import * as Memory from "./Memory.js"
import * as Model from "./Model.js"
import * as Provider from "./Provider.js"
import * as Run from "./Run.js"
import * as Session from "./Session.js"
import * as Tool from "./Tool.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Why a run ended (see `Run.EndReason`).
 *
 * @since 0.1.0
 * @category models
 */
export type EndReason = Run.EndReason

/**
 * The `Custom` entry type that records an agent's spec at the start of each run.
 *
 * @since 0.1.0
 * @category models
 */
export const SPEC_ENTRY = Run.SPEC_ENTRY

/**
 * The `Custom` entry type that records why a run ended.
 *
 * @since 0.1.0
 * @category models
 */
export const END_ENTRY = Run.END_ENTRY

/**
 * What a `rath.agent` entry records: exactly which agent ran (see `Run.Spec`).
 *
 * @since 0.1.0
 * @category models
 */
export type Spec = Run.Spec

/**
 * What a `rath.run.end` entry records (see `Run.End`).
 *
 * @since 0.1.0
 * @category models
 */
export type RunEnd = Run.End

/**
 * The events of a run, in order: `RunStarted`, then per turn `TurnStarted`, deltas, `Usage`,
 * `TurnFinished` and the tool events, and at last `Done` with the final session.
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  | { readonly _tag: "RunStarted"; readonly agent: string; readonly sessionId: Session.SessionId }
  | { readonly _tag: "TurnStarted"; readonly turn: number }
  | { readonly _tag: "TextDelta"; readonly turn: number; readonly text: string }
  | { readonly _tag: "ReasoningDelta"; readonly turn: number; readonly text: string }
  | {
    readonly _tag: "ToolCallDelta"
    readonly turn: number
    readonly index: number
    /** Set on the first delta of a call. */
    readonly id?: string | undefined
    readonly name?: string | undefined
    readonly argumentsDelta: string
  }
  | { readonly _tag: "Usage"; readonly turn: number; readonly usage: Entry.Usage }
  | {
    readonly _tag: "Retry"
    readonly turn: number
    readonly attempt: number
    readonly delayMillis: number
    readonly error: Provider.ProviderError
  }
  | { readonly _tag: "TurnFinished"; readonly turn: number; readonly entry: Entry.Assistant }
  | { readonly _tag: "ToolStarted"; readonly turn: number; readonly call: Entry.ToolCall }
  | {
    readonly _tag: "ToolFinished"
    readonly turn: number
    readonly call: Entry.ToolCall
    readonly outcome: Tool.Outcome
  }
  | {
    readonly _tag: "ToolFailed"
    readonly turn: number
    readonly call: Entry.ToolCall
    readonly outcome: Tool.Outcome
  }
  | { readonly _tag: "Done"; readonly reason: EndReason; readonly session: Session.Session }

/**
 * @since 0.1.0
 * @category errors
 */
export class AgentError extends Schema.TaggedError<AgentError>("rath/AgentError")("AgentError", {
  reason: Schema.Literal("ProviderFailed", "BudgetExceeded", "InvalidAgent"),
  agent: Schema.String,
  detail: Schema.String,
  /** Everything the run produced before it failed (ending with a `rath.run.end` entry). */
  session: Schema.optional(Session.SessionFromSelf),
  /**
   * What failed: the provider's error (`ProviderFailed`), the budget's (`BudgetExceeded`) or the
   * tool set's (`InvalidAgent`), typed so that `error.cause?._tag` narrows it.
   */
  cause: Schema.optional(Schema.Union(Provider.ProviderError, Budget.BudgetError, Tool.ToolError))
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} in agent ${this.agent}: ${this.detail}`
  }
}

/**
 * Extension points around a run (memory recall before the first model call, commit after).
 *
 * @since 0.1.0
 * @category models
 */
export interface Hooks<E = never, R = never> {
  /** Runs after the run's spec and instructions are recorded, before the first model call. */
  readonly beforeRun?: ((session: Session.Session) => Effect.Effect<Session.Session, E, R>) | undefined
  /** Runs after the loop ended by itself (stop, max turns, budget), before `rath.run.end`. */
  readonly afterRun?: ((session: Session.Session) => Effect.Effect<Session.Session, E, R>) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type Tools = ReadonlyArray<Tool.Tool<any, any> | Tool.Toolkit<any>>

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<T extends Tools = [], HE = never, HR = never> {
  readonly name: string
  readonly description?: string | undefined
  /** The agent's system prompt, recorded as a `System` entry authored by the agent. */
  readonly instructions?: string | undefined
  readonly tools?: T | undefined
  /** Overrides the provider's default model. */
  readonly model?: string | undefined
  /** Most model calls per run (default 64). */
  readonly maxTurns?: number | undefined
  /**
   * A token cap for this run (a child of the budget in effect, see `Budget`). Without it the run
   * draws on the budget in effect, if any.
   */
  readonly budget?: number | undefined
  /** What to do when the budget cannot cover the next model call: end with reason `"budget"` (default) or fail. */
  readonly onBudgetExceeded?: "stop" | "fail" | undefined
  /** Most tool calls of one turn that run at once (default 8). */
  readonly toolConcurrency?: number | undefined
  /** A timeout for each tool call (overrides the tool's own). */
  readonly toolTimeout?: Duration.DurationInput | undefined
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  readonly hooks?: Hooks<HE, HR> | undefined
}

/**
 * An agent's memory: recalled (with the latest user text) before its first model call and given
 * to the model as untrusted context (a delimited user-role block, never system instructions),
 * and, with `commitOnForward`, the session committed after the run. Every interaction is a
 * `Memory` entry of the session. Needs the `Memory` service.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions {
  /** The namespace recalled from and committed to (e.g. `user:ada` or `agent:planner`). */
  readonly namespace: string
  /** More namespaces to recall from. */
  readonly recallFrom?: ReadonlyArray<string> | undefined
  readonly k?: number | undefined
  readonly minScore?: number | undefined
  /** The query recalled with (default: the latest user text). */
  readonly query?: string | undefined
  /** Commit the session to `namespace` after each run that ends by itself. */
  readonly commitOnForward?: boolean | undefined
}

type MemoryError<M> = [M] extends [undefined] ? never : Memory.MemoryError
type MemoryRequirement<M> = [M] extends [undefined] ? never : Memory.Memory

/**
 * Runs two sets of hooks as one: `first`'s `beforeRun` then `second`'s; `second`'s `afterRun`
 * then `first`'s (so memory recalls first and commits last).
 *
 * @since 0.1.0
 * @category combinators
 */
export const composeHooks = <E1, R1, E2, R2>(
  first: Hooks<E1, R1> | undefined,
  second: Hooks<E2, R2> | undefined
): Hooks<E1 | E2, R1 | R2> | undefined => {
  if (first === undefined) return second
  if (second === undefined) return first
  const chain = (
    a: Hooks<E1 | E2, R1 | R2>["beforeRun"],
    b: Hooks<E1 | E2, R1 | R2>["beforeRun"]
  ): Hooks<E1 | E2, R1 | R2>["beforeRun"] =>
    a === undefined ? b : b === undefined ? a : (session) => Effect.flatMap(a(session), b)
  return {
    beforeRun: chain(first.beforeRun, second.beforeRun),
    afterRun: chain(second.afterRun, first.afterRun)
  }
}

const CoreId = Symbol.for("rath/Agent/core")

type Sink = (event: Event) => Effect.Effect<unknown>

/**
 * Where an interrupted run picks up again (see `Resume`): the model calls it already made, and the
 * tool calls of its last answer that have no result in the session it continues, each with the
 * result recorded after the cut (appended again, not re-run) or `undefined` (run now).
 *
 * @since 0.1.0
 * @category models
 */
export interface Continuation {
  readonly turns: number
  readonly calls: ReadonlyArray<Entry.ToolCall>
  readonly recorded: ReadonlyArray<Entry.ToolResult | undefined>
  /** The last answer called no tools: the run had finished its model calls. */
  readonly stopped: boolean
}

/**
 * An agent: a step over a session that describes itself.
 *
 * @since 0.1.0
 * @category models
 */
export interface Agent<E = never, R = never> {
  (session: Session.Session): Effect.Effect<
    Session.Session,
    AgentError | Journal.JournalError | E,
    R | Provider.Provider
  >
  readonly name: string
  readonly description: string
  readonly instructions: string | undefined
  readonly instructionsHash: string | undefined
  readonly definitions: ReadonlyArray<Provider.ToolDefinition>
  readonly maxTurns: number
  readonly model: string | undefined
  /** The agent's tools. */
  readonly toolkit: Tool.Toolkit<any>
  /** The agent's memory options, if it has memory. */
  readonly memory: MemoryOptions | undefined
  /** Remembers a fact in the agent's memory namespace (default `agent:<name>`), recorded in the session. */
  readonly remember: (
    session: Session.Session,
    text: string,
    options?: Omit<Memory.RememberInput, "namespace" | "text">
  ) => Effect.Effect<Session.Session, Memory.MemoryError, Memory.Memory>
  /** Recalls from the agent's namespaces (query: the latest user text by default), recorded in the session. */
  readonly recall: (
    session: Session.Session,
    options?: { readonly query?: string | undefined; readonly k?: number | undefined }
  ) => Effect.Effect<
    { readonly session: Session.Session; readonly hits: ReadonlyArray<Memory.Hit> },
    Memory.MemoryError,
    Memory.Memory
  >
  /** Commits the session to the agent's namespace, recorded in the session. */
  readonly commit: (session: Session.Session) => Effect.Effect<Session.Session, Memory.MemoryError, Memory.Memory>
  /** @internal */
  readonly [CoreId]: (
    session: Session.Session,
    sink: Sink | undefined,
    resumed?: Continuation | undefined
  ) => Effect.Effect<Session.Session, AgentError | Journal.JournalError | E, R | Provider.Provider>
}

// -----------------------------------------------------------------------------
// getters
// -----------------------------------------------------------------------------

/**
 * `sha256:<hex>` of a text.
 *
 * @since 0.1.0
 * @category getters
 */
export const hashText = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex")}`

/**
 * What an agent named `name` is sent for a session (`Model.agentMessages`): the transcript
 * (compression applied) without other agents' instructions and without memories recalled for
 * other agents (see `Memory.visibleTo`), with this agent's latest instructions first.
 *
 * @since 0.1.0
 * @category getters
 */
export const messagesFor = (name: string, session: Session.Session): ReadonlyArray<Provider.Message> =>
  Model.agentMessages(name, session)

/**
 * The spec an agent recorded at the start of the latest run in a session, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const lastSpec = (session: Session.Session): Option.Option<Spec> => Run.lastSpec(session)

/**
 * Why the latest run in a session ended, if it recorded it.
 *
 * @since 0.1.0
 * @category getters
 */
export const lastEnd = (session: Session.Session): Option.Option<RunEnd> => Run.lastEnd(session)

// -----------------------------------------------------------------------------
// the run: its definition, its services and its state
// -----------------------------------------------------------------------------

/** What `make` compiles from the options: everything a run needs to know about the agent. */
interface Definition {
  readonly name: string
  readonly author: Entry.Author
  readonly description: string
  readonly instructions: string | undefined
  readonly instructionsHash: string | undefined
  /** The instructions' `System` draft (made once). */
  readonly system: Entry.Draft | undefined
  readonly toolkit: Tool.Toolkit<any>
  readonly definitions: ReadonlyArray<Provider.ToolDefinition>
  /** Why the tools do not make a toolkit (two tools with one name), if they do not. */
  readonly invalid: Tool.ToolError | undefined
  readonly maxTurns: number
  readonly concurrency: number
  readonly onBudget: "stop" | "fail"
  readonly model: string | undefined
  readonly budget: number | undefined
  readonly toolTimeout: Duration.DurationInput | undefined
  readonly temperature: number | undefined
  readonly maxTokens: number | undefined
  readonly hooks: Hooks<any, any> | undefined
  /**
   * The spec of the last run, with the provider and budget cap it was made for: the next run with
   * the same ones shares it (a spec is data in an immutable entry; one per run was a copy per run).
   */
  readonly specs: {
    last:
      | {
        readonly info: Provider.Service["info"]
        readonly cap: number
        readonly spec: Spec
        readonly specDraft: Entry.Draft
        /** What the run's model calls ask for, made with that spec. */
        readonly request: Parameters<typeof Model.callWith>[3]
      }
      | undefined
  }
}

/**
 * What a run has made so far. The run keeps it in a cell, replaced at each step, so that whoever
 * interrupts the run finds it: the session, the model calls made, and the tool calls of the turn
 * in flight with the results that have finished.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly session: Session.Session
  readonly turns: number
  readonly pending: Pending | undefined
}

interface Pending {
  readonly calls: ReadonlyArray<Entry.ToolCall>
  readonly results: ReadonlyArray<Tool.Outcome | undefined>
}

/** What the agent's tools need (`R` of `make`; the steps are typed with it erased, `runLoop` restores it). */
type ToolRequirements = any

/** One run: the agent, the services it resolved once, its listener and its state. */
interface Context {
  /**
   * The fiber the run's steps run on: entries are minted from it at once (its id generator, clock
   * and author, read when minting) where the generator allows, with no effect per entry.
   */
  readonly fiber: Session.Minter
  readonly agent: Definition
  readonly provider: Provider.Service
  readonly budget: Budget.Service
  readonly journal: Journal.Service
  readonly model: string
  readonly spec: Spec
  /** The spec's `rath.agent` draft (shared by the runs with that spec). */
  readonly specDraft: Entry.Draft
  readonly emit: Sink | undefined
  /** What every model call of the run asks for (the same on every turn: made once per run). */
  readonly request: Parameters<typeof Model.callWith>[3]
  /**
   * Set while a model call is in flight: a typed failure then is the call's (see `modelFailed`),
   * caught once for the whole run rather than around every call.
   */
  calling: boolean
  /**
   * The run's state, replaced at each step (a plain cell: every step and every tool call runs in
   * this process, and a step that replaces it runs without yielding in between).
   */
  readonly current: { state: State }
}

// The steps below run on every turn and every tool call: where nobody listens (no journal, no
// event sink) they add no effect at all, and the per-turn ones are built from `flatMap`s rather
// than generators (a generator and its no-op yields were a large share of a turn's cost).

const report = (
  ctx: Context,
  session: Session.Session,
  meta?: Journal.Meta
): Effect.Effect<void, Journal.JournalError> =>
  ctx.journal === Journal.noop ? Effect.void : ctx.journal.report(session, meta)

/** `next`, after reporting `session` (when a journal listens). */
const reportThen = <A, E, R>(
  ctx: Context,
  session: Session.Session,
  next: Effect.Effect<A, E, R>
): Effect.Effect<A, E | Journal.JournalError, R> =>
  ctx.journal === Journal.noop ? next : Effect.zipRight(ctx.journal.report(session), next)

const emit = (ctx: Context, event: Event): Effect.Effect<unknown> =>
  ctx.emit === undefined ? Effect.void : ctx.emit(event)

/** `next`, after emitting `event` (when someone streams the run's events). */
const emitThen = <A, E, R>(ctx: Context, event: () => Event, next: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  ctx.emit === undefined ? next : Effect.zipRight(ctx.emit(event()), next)

/** Keeps `state` as the run's state (no effect: a `Ref` was one effect per step). */
const keep = (ctx: Context, state: State): State => (ctx.current.state = state)

/** The session with `draft` appended: at once on the run's fiber when its generator allows. */
const appendNow = <A>(
  ctx: Context,
  session: Session.Session,
  draft: Entry.Draft,
  then: (session: Session.Session) => A
): Effect.Effect<A> => {
  const next = Session.unsafeAppendOn(ctx.fiber, session, draft)
  return next === undefined ? Effect.map(Session.append(session, draft), then) : Effect.succeed(then(next))
}

/** `effect`, then a report of the session it gives (when a journal listens). */
const reported = <E, R>(
  ctx: Context,
  effect: Effect.Effect<State, E, R>
): Effect.Effect<State, E | Journal.JournalError, R> =>
  ctx.journal === Journal.noop ? effect : Effect.tap(effect, (state) => ctx.journal.report(state.session))

// -----------------------------------------------------------------------------
// the steps of a run
// -----------------------------------------------------------------------------

/**
 * Starts a run: a `step` of the session by the agent, the spec, the instructions (unless the
 * session already ends up with them), then either the `beforeRun` hook or, for a resumed run, the
 * answers to the open tool calls. Reports the start-up with the spec. `stopped` is set when a
 * resumed run had already made its last model call.
 */
function* startRun(
  ctx: Context,
  input: Session.Session,
  resumed: Continuation | undefined
): Generator<Step, { readonly state: State; readonly stopped: boolean }, any> {
  const { agent } = ctx
  // the step, the spec and the instructions minted at once where the generator allows
  let session = Session.unsafeStepOn(ctx.fiber, input, agent.author) ?? (yield* Session.step(input, agent.author))
  const spec = ctx.specDraft
  session = Session.unsafeAppendOn(ctx.fiber, session, spec) ?? (yield* Session.append(session, spec))
  if (agent.instructions !== undefined && !hasOwnInstructions(agent.name, agent.instructions, session)) {
    const system = agent.system!
    session = Session.unsafeAppendOn(ctx.fiber, session, system) ?? (yield* Session.append(session, system))
  }
  let state = keep(ctx, { session, turns: resumed?.turns ?? 0, pending: undefined })
  if (ctx.emit !== undefined) yield* ctx.emit({ _tag: "RunStarted", agent: agent.name, sessionId: session.id })
  if (resumed !== undefined) {
    // a resumed run: answer the last answer's open calls (recorded results first), then go on
    if (resumed.calls.length > 0) state = yield* runToolCalls(ctx, state, resumed.calls, resumed.recorded)
  } else if (agent.hooks?.beforeRun !== undefined) {
    // what a hook appends (a memory recall, say) is authored by the agent
    const hooked = yield* Effect.provideService(
      agent.hooks.beforeRun(state.session),
      Entry.CurrentAuthor,
      agent.author
    )
    state = keep(ctx, { ...state, session: hooked })
  }
  // start-up (spec, instructions, what the hook or the resumed calls added): one report
  const reportedStart = report(ctx, state.session, { agent: ctx.spec })
  if (!isValue(reportedStart)) yield* reportedStart
  return { state, stopped: resumed?.stopped === true }
}

const hasOwnInstructions = (name: string, text: string, session: Session.Session): boolean =>
  Option.match(
    Session.findLast(
      session,
      (entry): entry is Entry.System =>
        entry._tag === "System" && entry.author.kind === "agent" && entry.author.name === name
    ),
    { onNone: () => false, onSome: (entry) => entry.text === text }
  )

/**
 * Calls the model for the next turn through `Model.callWith` (the answer becomes an `Assistant`
 * entry). Its failure is the run's to handle (see {@link modelFailed}): the run catches it once,
 * not around every call.
 */
const callModel = (
  ctx: Context,
  state: State
): Effect.Effect<Model.Called, Provider.ProviderError | Budget.BudgetError> => {
  if (ctx.emit === undefined) return Model.callWith(ctx.provider, ctx.budget, state.session, ctx.request)
  const turn = state.turns
  return Effect.zipRight(
    ctx.emit({ _tag: "TurnStarted", turn }),
    Model.callWith(ctx.provider, ctx.budget, state.session, ctx.request, { onPart: eventsOf(ctx, turn) })
  )
}

/**
 * A model call that failed (`state` is the run's state when it was made): the run ends with
 * reason `budget` (the budget, when the agent stops on it), or it records its end and fails with
 * an `AgentError` carrying that session. The failure is taken from the cause as `matchEffect`
 * takes it (a defect stays a defect).
 */
const modelFailed = (
  ctx: Context,
  state: State,
  cause: Cause.Cause<Provider.ProviderError | Budget.BudgetError>
): Effect.Effect<Session.Session, unknown, unknown> =>
  Effect.matchEffect(Effect.failCause(cause), {
    onFailure: (error) =>
      Effect.gen(function*() {
        const { agent } = ctx
        if (error._tag === "BudgetError") {
          if (agent.onBudget === "stop") return yield* finish(ctx, state, "budget")
          const ended = yield* endRun(ctx, state, "budget", `the next call needs about ${error.needed} tokens`)
          return yield* new AgentError({
            reason: "BudgetExceeded",
            agent: agent.name,
            detail: `the budget of ${error.cap} tokens cannot cover the next call (about ${error.needed} tokens)`,
            session: ended.session,
            cause: error
          })
        }
        // the vendor's text is recorded and printed: without the secrets the program knows
        const scrubbed = Redact.providerError(error, yield* FiberRef.get(Redact.known))
        const ended = yield* endRun(ctx, state, "error", scrubbed.message)
        return yield* new AgentError({
          reason: "ProviderFailed",
          agent: agent.name,
          detail: scrubbed.message,
          session: ended.session,
          cause: scrubbed
        })
      }),
    onSuccess: (never) => Effect.succeed(never)
  })

/** The run's events for a streamed answer's parts. */
const eventsOf = (ctx: Context, turn: number) => {
  const names = new Map<number, { id: string; name: string }>()
  return (part: Provider.StreamPart): Effect.Effect<void> => {
    let event: Event | undefined
    switch (part._tag) {
      case "TextDelta":
        event = { _tag: "TextDelta", turn, text: part.text }
        break
      case "ReasoningDelta":
        event = { _tag: "ReasoningDelta", turn, text: part.text }
        break
      case "ToolCallStart":
        names.set(part.index, { id: part.id, name: part.name })
        break
      case "ToolCallDelta": {
        const first = names.get(part.index)
        if (first !== undefined) names.delete(part.index)
        event = {
          _tag: "ToolCallDelta",
          turn,
          index: part.index,
          ...(first === undefined ? {} : first),
          argumentsDelta: part.argumentsDelta
        }
        break
      }
      case "Retry":
        event = { _tag: "Retry", turn, attempt: part.attempt, delayMillis: part.delayMillis, error: part.error }
        break
    }
    return event === undefined ? Effect.void : Effect.asVoid(emit(ctx, event))
  }
}

// an effect is an immutable value: these two are shared by every turn
const stops = Effect.succeed(true)
const goesOn = Effect.succeed(false)

/**
 * Answers a turn: the answer's events, and, when it calls tools, a report of the answer before the
 * tools run. `true` when the answer calls no tools (the run stops).
 */
const answerTurn = (
  ctx: Context,
  state: State,
  answer: Entry.Assistant
): Effect.Effect<boolean, Journal.JournalError> => {
  // a final answer is reported with the run's end; one that calls tools before they run
  const done = answer.toolCalls.length === 0
  const reported = done ? stops : reportThen(ctx, state.session, goesOn)
  if (ctx.emit === undefined) return reported
  const turn = state.turns - 1
  const finished = emitThen(ctx, () => ({ _tag: "TurnFinished", turn, entry: answer }), reported)
  return answer.usage === undefined
    ? finished
    : emitThen(ctx, () => ({ _tag: "Usage", turn, usage: answer.usage! }), finished)
}

/**
 * Runs a turn's tool calls through `Tool.execute` (approval, running and recording in one path)
 * and appends one result per call, in call order, then reports them together. Calls with a result
 * in `recorded` (a resumed run's) are not run again. Each finished result is kept in the run's
 * state as it finishes, so that an interruption answers every call (see {@link interrupted}).
 */
const runToolCalls = (
  ctx: Context,
  state: State,
  calls: ReadonlyArray<Entry.ToolCall>,
  recorded?: ReadonlyArray<Entry.ToolResult | undefined>
): Effect.Effect<State, Journal.JournalError, ToolRequirements> => {
  // the executor (as `Tool.execute` reads it) and whether a tracer listens, read from the run's
  // fiber now (the calls run on it or on fibers forked from it with its context): no effect per call
  const executor = Context.get(ctx.fiber.currentContext, Tool.Executor)
  const tracing = Trace.isTracing(ctx.fiber)
  if (calls.length === 1 && recorded === undefined && ctx.emit === undefined && !tracing) {
    return runOneCall(ctx, state, calls, executor)
  }
  const { agent } = ctx
  const turn = state.turns - 1
  const results: Array<Tool.Outcome | undefined> = calls.map((_, i) => {
    const result = recorded?.[i]
    return result === undefined ? undefined : outcomeOf(result)
  })
  const open = calls.flatMap((call, i) => results[i] === undefined ? [{ index: i, call }] : [])
  const at = state.session
  // the outcome is kept as soon as the call ends (an interruption meanwhile answers it), and
  // returned for the call's span
  // (into this turn's own results array, which only the run's state holds)
  const finished = (index: number, outcome: Tool.Outcome): Tool.Outcome => (results[index] = outcome)
  const runOne = (item: Planned): Effect.Effect<Tool.Outcome, never, ToolRequirements> => {
    const executed = executor.execute(agent.toolkit, item.call, {
      session: at,
      agent: agent.name,
      timeout: agent.toolTimeout
    })
    const kept = ctx.emit === undefined
      ? Effect.map(executed, (outcome) => finished(item.index, outcome))
      : Effect.flatMap(executed, (outcome) =>
        Effect.as(
          ctx.emit!({
            _tag: outcome.error === undefined ? "ToolFinished" : "ToolFailed",
            turn,
            call: item.call,
            outcome: finished(item.index, outcome)
          }),
          outcome
        ))
    const started = emitThen(ctx, () => ({ _tag: "ToolStarted", turn, call: item.call }), kept)
    if (!tracing) return started
    return Trace.withSpan(
      started,
      () => `execute_tool ${item.call.name}`,
      (context) => ({
        kind: "internal",
        captureStackTrace: false,
        attributes: Trace.toolAttributes(item.call, {
          description: agent.toolkit.tools.get(item.call.name)?.description,
          sessionId: at.id,
          agent: agent.name,
          content: Trace.capturing(context)
        })
      }),
      (outcome, context) => Trace.toolResult(outcome, Trace.capturing(context))
    )
  }
  const planned = plan(agent.toolkit, open, at)
  const ran: Effect.Effect<unknown, never, ToolRequirements> = planned.length === 1
    ? runOne(planned[0]!)
    : Effect.forEach(
      schedule(planned),
      (lanes) =>
        Effect.forEach(lanes, (lane) => Effect.forEach(lane, runOne, { discard: true }), {
          concurrency: agent.concurrency,
          discard: true
        }),
      { discard: true }
    )
  // the turn's results: one report for all of them
  // the calls are pending from here (this is built when the run gets to it, as every step is)
  keep(ctx, { ...state, pending: { calls, results } })
  return reported(ctx, Effect.flatMap(ran, () => appendResults(ctx, ctx.current.state)))
}

/**
 * A turn of one tool call that nobody watches (no event sink, no tracer): the call run at once on
 * the run's fiber where the default executor can (a handler whose effect is already its value),
 * and its result appended in the same step; otherwise the call's effect, its result appended as it
 * ends. The steps and the entries are those of {@link runToolCalls}.
 */
const runOneCall = (
  ctx: Context,
  state: State,
  calls: ReadonlyArray<Entry.ToolCall>,
  executor: Tool.ExecutorService
): Effect.Effect<State, Journal.JournalError, ToolRequirements> => {
  const { agent } = ctx
  const call = calls[0]!
  const at = state.session
  const tool = agent.toolkit.tools.get(call.name)
  // a resource key means nothing for one call; it is computed all the same, as for several
  if (tool?.resource !== undefined) plan(agent.toolkit, [{ index: 0, call }], at)
  const options: Tool.RunOptions = { session: at, agent: agent.name, timeout: agent.toolTimeout }
  const runNow = ToolNow.runNowOf(executor)
  const ran = runNow !== undefined
    ? runNow(ctx.fiber, agent.toolkit, call, options)
    : executor.execute(agent.toolkit, call, options)
  if (!Effect.isEffect(ran)) {
    // done already: nothing could interrupt it, so it was never pending
    const session = Session.unsafeAppendOn(ctx.fiber, at, resultDraft(ran, agent))
    if (session !== undefined) {
      return reported(ctx, Effect.succeed(keep(ctx, { session, turns: state.turns, pending: undefined })))
    }
    return reported(ctx, appendResults(ctx, keep(ctx, { ...state, pending: { calls, results: [ran] } })))
  }
  const results: Array<Tool.Outcome | undefined> = [undefined]
  // the call is pending from here: an interruption answers it (see `interrupted`)
  keep(ctx, { ...state, pending: { calls, results } })
  return reported(
    ctx,
    Effect.flatMap(ran, (outcome) => {
      results[0] = outcome
      return appendResults(ctx, ctx.current.state)
    })
  )
}

/**
 * Appends one result per call of the pending turn, in call order: the finished results, and an
 * `interrupted` result for each call that did not finish.
 */
const appendResults = (ctx: Context, state: State): Effect.Effect<State> => {
  const pending = state.pending
  if (pending === undefined) return Effect.succeed(state)
  const draft = (i: number): Entry.Draft => {
    const outcome = pending.results[i]
    return outcome === undefined
      ? interruptedDraft(pending.calls[i]!, ctx.agent.author)
      : resultDraft(outcome, ctx.agent)
  }
  // at once on the run's fiber where the generator allows, else one effect per result
  let session: Session.Session | undefined = state.session
  for (let i = 0; i < pending.calls.length && session !== undefined; i++) {
    session = Session.unsafeAppendOn(ctx.fiber, session, draft(i))
  }
  if (session !== undefined) return Effect.succeed(keep(ctx, { ...state, session, pending: undefined }))
  return Effect.map(
    Session.appendAll(state.session, pending.calls.map((_, i) => draft(i))),
    (session) => keep(ctx, { ...state, session, pending: undefined })
  )
}

/**
 * After a run that ended by itself (stop, max turns, budget): the `afterRun` hook. The answer is
 * reported before the hook runs: a hook that fails (a memory commit, say), or a crash meanwhile,
 * loses no model call already paid for; what the hook appends is reported with the run's end.
 */
const afterRun = (ctx: Context, state: State): Effect.Effect<State, unknown, unknown> => {
  const hook = ctx.agent.hooks?.afterRun
  if (hook === undefined) return Effect.succeed(state)
  return reportThen(
    ctx,
    state.session,
    Effect.flatMap(
      Effect.provideService(hook(state.session), Entry.CurrentAuthor, ctx.agent.author),
      (session) => Effect.succeed(keep(ctx, { ...state, session }))
    )
  )
}

/** Ends a run: the `rath.run.end` entry, reported. */
const endRun = (
  ctx: Context,
  state: State,
  reason: EndReason,
  detail?: string
): Effect.Effect<State, Journal.JournalError> => {
  const { agent } = ctx
  const end: RunEnd = detail === undefined
    ? { agent: agent.name, reason, turns: state.turns }
    : { agent: agent.name, reason, turns: state.turns, detail }
  return reported(
    ctx,
    appendNow(
      ctx,
      state.session,
      Run.endEntry(end, agent.author),
      (session) => keep(ctx, { ...state, session, pending: undefined })
    )
  )
}

/**
 * What an interrupted run leaves: a result for every call of the turn in flight (finished, or
 * `interrupted`) and a `rath.run.end` with reason `interrupted`, reported. A report that fails
 * here cannot fail the run (it is already interrupted): it is logged.
 */
const interrupted = (ctx: Context) =>
  Effect.gen(function*() {
    const state = ctx.current.state
    // interrupted after it recorded its end: the run stays as it ended (no second, contradicting end)
    const last = state.session.node?.entry
    if (last !== undefined && Run.isEndEntry(last)) return
    const answered = yield* appendResults(ctx, state)
    yield* endRun(ctx, answered, "interrupted")
  }).pipe(
    Effect.catchTag("JournalError", (error) =>
      Effect.logWarning(`agent ${ctx.agent.name}: the interrupted run could not be reported: ${error.message}`))
  )

/**
 * Whether `effect` is already its value (`Effect.succeed(a)`, as a step is when nobody listens):
 * then the steps take the value without yielding the effect (a yield costs a few objects).
 */
const isValue = <A, E, R>(effect: Effect.Effect<A, E, R>): effect is Effect.Effect<A, E, R> & Exit.Success<A, E> =>
  Exit.isExit(effect) && effect._tag === "Success"

/** What the run's steps yield: the effects they run. */
type Step = YieldWrap<Effect.Effect<any, any, any>>

/**
 * The run, step by step (the steps are plain generators run by this one: no effect per step). A
 * model call's failure is caught once around the whole loop (see {@link modelFailed}).
 */
function* runSteps(
  ctx: Context,
  input: Session.Session,
  resumed: Continuation | undefined
): Generator<Step, Session.Session, any> {
  const { agent } = ctx
  const started = yield* startRun(ctx, input, resumed)
  let state = started.state
  let reason: EndReason = "stop"
  if (!started.stopped) {
    while (true) {
      if (state.turns >= agent.maxTurns) {
        reason = "max_turns"
        break
      }
      ctx.calling = true
      const called: Model.Called = yield* callModel(ctx, state)
      ctx.calling = false
      state = keep(ctx, { session: called.session, turns: state.turns + 1, pending: undefined })
      const answer = called.entry as Entry.Assistant
      const answered = answerTurn(ctx, state, answer)
      if (isValue(answered) ? answered.value : yield* answered) break
      const ran = runToolCalls(ctx, state, answer.toolCalls)
      state = isValue(ran) ? ran.value : yield* ran
    }
  }
  return yield* finish(ctx, state, reason)
}

/** The end of a run that ended by itself: the `afterRun` hook, the `rath.run.end`, `Done`. */
function* finish(ctx: Context, state: State, reason: EndReason): Generator<Step, Session.Session, any> {
  const after = afterRun(ctx, state)
  const end = endRun(ctx, isValue(after) ? after.value : yield* after, reason)
  const ended = isValue(end) ? end.value : yield* end
  if (ctx.emit !== undefined) yield* ctx.emit({ _tag: "Done", reason, session: ended.session })
  return ended.session
}

const runLoop = <E, R>(
  ctx: Context,
  input: Session.Session,
  resumed: Continuation | undefined,
  interruptible: boolean
): Effect.Effect<Session.Session, AgentError | Journal.JournalError | E, R> => {
  const steps = Effect.catchAllCause(
    Effect.gen(() => runSteps(ctx, input, resumed)),
    (cause) => {
      if (!ctx.calling) return Effect.failCause(cause)
      ctx.calling = false
      return modelFailed(ctx, ctx.current.state, cause as Cause.Cause<Provider.ProviderError | Budget.BudgetError>)
    }
  ) as Effect.Effect<Session.Session, AgentError | Journal.JournalError | E, R>
  // an interrupted run answers its open calls and records its end (see `interrupted`); from a
  // fiber that is interruptible (as runs are) this is `Effect.onInterrupt` in fewer effects
  if (!interruptible) return Effect.onInterrupt(steps, () => interrupted(ctx))
  return Effect.uninterruptible(Effect.matchCauseEffect(Effect.interruptible(steps), {
    onFailure: (cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.matchCauseEffect(interrupted(ctx), {
          onFailure: (cleanup) => Effect.failCause(Cause.sequential(cause, cleanup)),
          onSuccess: () => Effect.failCause(cause)
        })
        : Effect.failCause(cause),
    onSuccess: (session) => Effect.succeed(session)
  }))
}

/**
 * Runs an agent: resolves the services once, then the steps under the agent's span (when a tracer
 * listens) and budget.
 */
const runAgent = <E, R>(
  agent: Definition,
  input: Session.Session,
  sink: Sink | undefined,
  resumed: Continuation | undefined
): Effect.Effect<Session.Session, AgentError | Journal.JournalError | E, R | Provider.Provider> =>
  // one step reads the provider, the budget and the journal from the fiber that runs the steps,
  // and the run is returned in tail position (no generator frame held for the whole run)
  Effect.withFiberRuntime((fiber, status) =>
    Trace.isTracing(fiber)
      ? traced(
        agent,
        input,
        Effect.withFiberRuntime((fiber, status) => runOn<E, R>(agent, input, sink, resumed, fiber, status))
      )
      : runOn<E, R>(agent, input, sink, resumed, fiber, status)
  )

const runOn = <E, R>(
  agent: Definition,
  input: Session.Session,
  sink: Sink | undefined,
  resumed: Continuation | undefined,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  status: FiberStatus.Running
): Effect.Effect<Session.Session, AgentError | Journal.JournalError | E, R | Provider.Provider> => {
  if (agent.invalid !== undefined) {
    return new AgentError({
      reason: "InvalidAgent",
      agent: agent.name,
      detail: agent.invalid.message,
      cause: agent.invalid
    })
  }
  const services = fiber.currentContext as Context.Context<Provider.Provider>
  const provider = Context.get(services, Provider.Provider)
  const inherited = Context.get(services, Budget.Budget)
  const interruptible = RuntimeFlags.interruption(status.runtimeFlags)
  const start = (budget: Budget.Service) => {
    const model = agent.model ?? provider.info.model
    const last = agent.specs.last
    const reuse = last !== undefined && last.info === provider.info && last.cap === budget.cap
    const spec: Spec = reuse ? last.spec : {
      name: agent.name,
      description: agent.description,
      ...(agent.instructionsHash === undefined ? {} : { instructionsHash: agent.instructionsHash }),
      tools: agent.definitions,
      provider: provider.info.kind,
      ...(provider.info.host === undefined ? {} : { host: provider.info.host }),
      model,
      maxTurns: agent.maxTurns,
      ...(budget.cap === Infinity ? {} : { budgetTokens: budget.cap })
    }
    const request: Context["request"] = reuse && last.request.model === model ? last.request : {
      purpose: "turn",
      author: agent.author,
      tools: agent.definitions,
      toolChoice: agent.definitions.length === 0 ? undefined : "auto",
      model,
      temperature: agent.temperature,
      maxTokens: agent.maxTokens,
      recordTools: "spec"
    }
    const specDraft = spec === last?.spec ? last.specDraft : Run.specEntry(spec, agent.author)
    if (spec !== last?.spec || request !== last.request) {
      agent.specs.last = { info: provider.info, cap: budget.cap, spec, specDraft, request }
    }
    const journal = Context.get(services, Journal.Journal)
    const current = { state: { session: input, turns: 0, pending: undefined } as State }
    const ctx: Context = {
      fiber,
      agent,
      provider,
      budget,
      journal,
      model,
      spec,
      specDraft,
      emit: sink,
      request,
      calling: false,
      current
    }
    const run = runLoop<E, R>(ctx, input, resumed, interruptible)
    return agent.budget === undefined ? run : Effect.provideService(run, Budget.Budget, budget)
  }
  return agent.budget === undefined ? start(inherited) : Effect.flatMap(
    Budget.make({ tokens: agent.budget, parent: inherited === Budget.unlimited ? undefined : inherited }),
    start
  )
}

/** The run under its `invoke_agent {agent}` span (only a traced run comes here). */
const traced = <E, R>(
  agent: Definition,
  input: Session.Session,
  run: Effect.Effect<Session.Session, AgentError | Journal.JournalError | E, R | Provider.Provider>
) =>
  Trace.withSpan(
    run,
    () => `invoke_agent ${agent.name}`,
    (context) => {
      // the provider in context; the run resolves it again, but only a traced run comes here
      const provider = Context.getOption(context, Provider.Provider)
      const attributes: Record<string, unknown> = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": agent.name,
        // until the run's own session is known (see `runAttributes`)
        "gen_ai.conversation.id": input.id,
        "rath.agent.name": agent.name,
        "rath.session.id": input.id
      }
      if (agent.description !== "") attributes["gen_ai.agent.description"] = agent.description
      if (provider._tag === "Some") {
        attributes["gen_ai.provider.name"] = provider.value.info.kind
        attributes["gen_ai.request.model"] = agent.model ?? provider.value.info.model
      }
      return { kind: "internal", captureStackTrace: false, attributes }
    },
    (output) => runAttributes(input, output),
    (error) => {
      const attributes = Trace.errorType(error)
      return error instanceof AgentError && error.session !== undefined
        ? { ...attributes, ...runAttributes(input, error.session) }
        : attributes
    }
  )

/**
 * What a traced run adds to its span when it ends: the run's own session (a step of the input,
 * the one its model and tool calls are recorded in, so `gen_ai.conversation.id` is the same on
 * every span of the run) and the tokens the run used (all its model calls).
 */
const runAttributes = (input: Session.Session, output: Session.Session): Record<string, unknown> => {
  const before = Session.usage(input).inclusive
  const after = Session.usage(output).inclusive
  const attributes: Record<string, unknown> = {
    "gen_ai.conversation.id": output.id,
    "rath.run.session.id": output.id,
    "rath.session.length": output.length
  }
  if (after !== undefined) {
    attributes["gen_ai.usage.input_tokens"] = after.inputTokens - (before?.inputTokens ?? 0)
    attributes["gen_ai.usage.output_tokens"] = after.outputTokens - (before?.outputTokens ?? 0)
  }
  return attributes
}

// -----------------------------------------------------------------------------
// tool calls: planning, scheduling, recording
// -----------------------------------------------------------------------------

interface Planned {
  readonly index: number
  readonly call: Entry.ToolCall
  /** The resource the call touches (calls on one resource run in order). */
  readonly key: string | undefined
  readonly exclusive: boolean
}

const noRecord = () => Effect.void

const plan = (
  toolkit: Tool.Toolkit<any>,
  calls: ReadonlyArray<{ readonly index: number; readonly call: Entry.ToolCall }>,
  session: Session.Session
): Array<Planned> =>
  calls.map(({ call, index }) => {
    const tool = toolkit.tools.get(call.name)
    if (tool === undefined) return { index, call, key: undefined, exclusive: false }
    // arguments are decoded here only when scheduling needs them (the run decodes them anyway)
    if (tool.resource === undefined) return { index, call, key: undefined, exclusive: !tool.parallel }
    const raw = call.parsed !== undefined
      ? call.parsed
      : call.arguments.trim() === ""
      ? {}
      : Provider.parseArguments(call.arguments)
    const decoded: Either.Either<unknown, unknown> = raw === undefined
      ? Either.left("invalid json")
      : Schema.decodeUnknownEither(tool.parameters)(raw, { onExcessProperty: "ignore" })
    const key = Either.isRight(decoded)
      ? tool.resource(decoded.right, {
        session,
        callId: call.id,
        toolName: call.name,
        recordEffect: noRecord,
        recordSandbox: noRecord
      })
      : undefined
    return { index, call, key, exclusive: !tool.parallel }
  })

/**
 * Splits planned calls into phases that run one after another (a call of a tool that is not
 * parallel-safe is a phase of its own), and each phase into lanes that run concurrently (calls on
 * one resource share a lane and run in call order).
 */
const schedule = (planned: ReadonlyArray<Planned>): Array<Array<Array<Planned>>> => {
  const phases: Array<Array<Array<Planned>>> = []
  let lanes: Array<Array<Planned>> = []
  let byKey = new Map<string, Array<Planned>>()
  const flush = () => {
    if (lanes.length > 0) phases.push(lanes)
    lanes = []
    byKey = new Map()
  }
  for (const item of planned) {
    if (item.exclusive) {
      flush()
      phases.push([[item]])
      continue
    }
    if (item.key === undefined) {
      lanes.push([item])
      continue
    }
    const lane = byKey.get(item.key)
    if (lane === undefined) {
      const fresh = [item]
      byKey.set(item.key, fresh)
      lanes.push(fresh)
    } else {
      lane.push(item)
    }
  }
  flush()
  return phases
}

/** The draft of a tool result (only the fields that are set; built directly: one per tool call). */
const resultDraft = (outcome: Tool.Outcome, agent: Definition): Entry.Draft => {
  if (
    outcome.error === undefined && outcome.sandbox === undefined && outcome.effects.length === 0 &&
    outcome.approval === undefined
  ) {
    // the usual result (an output, nothing else): one literal, the fields in the same order
    const plain: { -readonly [K in keyof PlainResult]: PlainResult[K] } = {
      _tag: "ToolResult",
      callId: outcome.callId,
      toolName: outcome.toolName,
      output: outcome.output,
      durationMs: outcome.durationMs,
      seal: undefined,
      author: agent.author
    }
    plain.seal = Seal.seal("ToolResult", plain)
    return plain as unknown as Entry.Draft
  }
  const fields: Record<string, unknown> = {
    _tag: "ToolResult",
    callId: outcome.callId,
    toolName: outcome.toolName,
    output: outcome.output
  }
  if (outcome.error !== undefined) fields.error = outcome.error
  if (outcome.sandbox !== undefined) fields.sandbox = outcome.sandbox
  fields.durationMs = outcome.durationMs
  if (outcome.effects.length > 0) fields.effects = outcome.effects
  if (outcome.approval !== undefined) fields.approval = outcome.approval
  fields.seal = Seal.seal("ToolResult", fields)
  fields.author = agent.author
  return fields as unknown as Entry.Draft
}

interface PlainResult {
  readonly _tag: "ToolResult"
  readonly callId: string
  readonly toolName: string
  readonly output: unknown
  readonly durationMs: number
  readonly seal: Entry.Seal | undefined
  readonly author: Entry.Author
}

const outcomeOf = (result: Entry.ToolResult): Tool.Outcome => ({
  callId: result.callId,
  toolName: result.toolName,
  output: result.output,
  error: result.error,
  sandbox: result.sandbox,
  durationMs: result.durationMs,
  effects: result.effects ?? [],
  approval: result.approval
})

const interruptedDraft = (call: Entry.ToolCall, author: Entry.Author): Entry.Draft =>
  Entry.toolResult({
    callId: call.id,
    toolName: call.name,
    output: null,
    error: { kind: "interrupted", message: "the run was interrupted before this call finished" },
    author
  })

// -----------------------------------------------------------------------------
// constructor
// -----------------------------------------------------------------------------

/**
 * Makes an agent.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Agent, Scripted, Session, Tool } from "rath"
 *
 * const add = Tool.make({
 *   name: "add",
 *   description: "Adds two numbers",
 *   parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   handler: ({ a, b }) => Effect.succeed(a + b)
 * })
 * const calculator = Agent.make({ name: "calculator", instructions: "Use the add tool.", tools: [add] })
 *
 * const program = Session.fromUserMessage("What is 2 + 3?").pipe(
 *   Effect.flatMap(calculator),
 *   Effect.provide(Scripted.layer([Scripted.toolCall("add", { a: 2, b: 3 }), Scripted.reply("5")]))
 * )
 * ```
 */
export const make = <
  const T extends Tools = [],
  HE = never,
  HR = never,
  const M extends MemoryOptions | undefined = undefined
>(
  options: Options<T, HE, HR> & { readonly memory?: M }
): Agent<HE | MemoryError<M>, Tool.ToolkitRequirements<T[number]> | HR | MemoryRequirement<M>> => {
  type R = Tool.ToolkitRequirements<T[number]> | HR | MemoryRequirement<M>
  type E = HE | MemoryError<M>
  const name = options.name
  const author: Entry.Author = { kind: "agent", name }
  const built = Tool.toolkit(...(options.tools ?? []))
  const toolkit: Tool.Toolkit<any> = Either.isRight(built) ? built.right : Tool.emptyToolkit
  const memory: MemoryOptions | undefined = options.memory
  const memoryNamespace = memory?.namespace ?? `agent:${name}`
  const recallFrom = memory?.recallFrom === undefined ? memoryNamespace : [memoryNamespace, ...memory.recallFrom]
  const agent: Definition = {
    name,
    author,
    description: options.description ?? "",
    instructions: options.instructions,
    instructionsHash: options.instructions === undefined ? undefined : hashText(options.instructions),
    system: options.instructions === undefined ? undefined : Entry.system(options.instructions, { author }),
    toolkit,
    definitions: toolkit.definitions,
    invalid: Either.isLeft(built) ? built.left : undefined,
    maxTurns: options.maxTurns ?? 64,
    concurrency: Math.max(1, options.toolConcurrency ?? 8),
    onBudget: options.onBudgetExceeded ?? "stop",
    model: options.model,
    budget: options.budget,
    toolTimeout: options.toolTimeout,
    temperature: options.temperature,
    maxTokens: options.maxTokens,
    specs: { last: undefined },
    hooks: composeHooks(
      memory === undefined ? undefined : Memory.hooks({
        namespace: recallFrom,
        k: memory.k,
        minScore: memory.minScore,
        query: memory.query,
        commitTo: memory.commitOnForward === true ? memory.namespace : undefined
      }),
      options.hooks
    )
  }
  const core = (session: Session.Session, sink: Sink | undefined, resumed?: Continuation | undefined) =>
    runAgent<E, R>(agent, session, sink, resumed)
  const step = (session: Session.Session) => core(session, undefined)
  // a function's own `name` is read-only: define it
  Object.defineProperty(step, "name", { value: name })
  const asAgent = <A, EE, RR>(effect: Effect.Effect<A, EE, RR>) =>
    Effect.provideService(effect, Entry.CurrentAuthor, author)
  return Object.assign(step, {
    description: agent.description,
    instructions: agent.instructions,
    instructionsHash: agent.instructionsHash,
    definitions: agent.definitions,
    maxTurns: agent.maxTurns,
    model: options.model,
    toolkit,
    memory,
    remember: (session: Session.Session, text: string, input?: Omit<Memory.RememberInput, "namespace" | "text">) =>
      Effect.map(
        asAgent(Memory.rememberInto(session, { ...input, namespace: memoryNamespace, text })),
        (out) => out.session
      ),
    recall: (
      session: Session.Session,
      input?: { readonly query?: string | undefined; readonly k?: number | undefined }
    ) =>
      asAgent(Memory.recallInto(session, {
        namespace: recallFrom,
        query: input?.query,
        k: input?.k ?? memory?.k,
        minScore: memory?.minScore
      })),
    commit: (session: Session.Session) =>
      Effect.map(asAgent(Memory.commitSession(session, { namespace: memoryNamespace })), (out) => out.session),
    [CoreId]: core
  }) as unknown as Agent<E, R>
}

// -----------------------------------------------------------------------------
// running
// -----------------------------------------------------------------------------

/**
 * Runs an agent and streams its {@link Event}s; the last event is `Done` with the final session.
 * The same steps as calling the agent.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Agent, Scripted, Session } from "rath"
 *
 * const writer = Agent.make({ name: "writer" })
 * const program = Session.fromUserMessage("Say hello").pipe(
 *   Effect.flatMap((session) =>
 *     Agent.stream(writer)(session).pipe(
 *       Stream.runForEach((event) => Effect.log(event._tag))
 *     )
 *   ),
 *   Effect.provide(Scripted.layer([Scripted.reply("Hello", { chunks: ["Hel", "lo"] })]))
 * )
 * ```
 */
export const stream = <E, R>(agent: Agent<E, R>) =>
(
  session: Session.Session
): Stream.Stream<Event, AgentError | Journal.JournalError | E, R | Provider.Provider> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<Event, AgentError | Journal.JournalError | E>()
      yield* agent[CoreId](session, (event) => mailbox.offer(event)).pipe(
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    })
  )

/**
 * Continues a run like {@link continueRun} and streams its events like {@link stream}: the open
 * calls' `ToolStarted`/`ToolFinished` events come first (no `TurnStarted` before them), then the
 * turns that follow.
 *
 * @since 0.1.0
 * @category combinators
 */
export const streamContinuation = <E, R>(
  agent: Agent<E, R>,
  session: Session.Session,
  continuation: Continuation
): Stream.Stream<Event, AgentError | Journal.JournalError | E, R | Provider.Provider> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<Event, AgentError | Journal.JournalError | E>()
      yield* agent[CoreId](session, (event) => mailbox.offer(event), continuation).pipe(
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    })
  )

/**
 * Continues an interrupted run of `agent` on `session` (the run's entries up to where it stopped).
 * `Resume.resume` works out the continuation from the session and checks it; use that.
 *
 * @since 0.1.0
 * @category combinators
 */
export const continueRun = <E, R>(
  agent: Agent<E, R>,
  session: Session.Session,
  continuation: Continuation
): Effect.Effect<Session.Session, AgentError | Journal.JournalError | E, R | Provider.Provider> =>
  agent[CoreId](session, undefined, continuation)
