/**
 * Agents: a prompt, a provider and tools, as a step over a session.
 *
 * `Agent.make({ name, instructions, tools })` returns a function `Session => Effect<Session>`
 * (like `nn.Linear`: a small reusable layer) that also carries its description. A run sends the
 * transcript and the tool schemas to the `Provider`, streams the answer into an assistant entry,
 * runs the tool calls (concurrently where the tools allow, in order on one resource) and appends
 * one tool-result entry per call in the order of the calls, and repeats until the model stops
 * calling tools, `maxTurns` model calls are made or the token budget is spent.
 *
 * Everything the run writes is authored by the agent (`{ kind: "agent", name }`), and the run is
 * bracketed by two `Custom` entries: `rath.agent` (the agent's spec: name, instructions hash,
 * tool schemas, provider and model) at the start and `rath.run.end` (why it ended) at the end.
 * The run itself is a `step` in the session lineage.
 *
 * `Agent.stream(agent)(session)` runs the same loop and emits typed {@link Event}s.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Mailbox from "effect/Mailbox"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as Approval from "./Approval.js"
import * as Budget from "./Budget.js"
import * as Entry from "./Entry.js"
import { consume } from "./internal/stream.js"
import * as Trace from "./internal/trace.js"
import * as Memory from "./Memory.js"
import * as Provider from "./Provider.js"
import * as Session from "./Session.js"
import * as Tool from "./Tool.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Why a run ended.
 *
 * @since 0.1.0
 * @category models
 */
export type EndReason = "stop" | "max_turns" | "budget" | "interrupted" | "error"

/**
 * The `Custom` entry type that records an agent's spec at the start of each run.
 *
 * @since 0.1.0
 * @category models
 */
export const SPEC_ENTRY = "rath.agent"

/**
 * The `Custom` entry type that records why a run ended.
 *
 * @since 0.1.0
 * @category models
 */
export const END_ENTRY = "rath.run.end"

/**
 * What a `rath.agent` entry records: exactly which agent ran.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spec {
  readonly name: string
  readonly description: string
  /** `sha256:<hex>` of the instructions, or absent when the agent has none. */
  readonly instructionsHash?: string | undefined
  readonly tools: ReadonlyArray<Provider.ToolDefinition>
  readonly provider: string
  readonly host?: string | undefined
  readonly model: string
  readonly maxTurns: number
  readonly budgetTokens?: number | undefined
}

/**
 * What a `rath.run.end` entry records.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunEnd {
  readonly agent: string
  readonly reason: EndReason
  /** Model calls made by this run. */
  readonly turns: number
  readonly detail?: string | undefined
}

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
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} in agent ${this.agent}: ${this.detail}`
  }
}

/**
 * Where a running agent reports the session as it goes, so that whoever interrupts it (a timeout,
 * a race) can still read what it made, and `Resume.persist` / `Resume.layer` can save it. A run
 * reports after its start-up (spec, instructions, what `beforeRun` added), after each answer that
 * calls tools (before they run), after each turn's tool results (once for all of them), and with
 * its `rath.run.end`: everything it appended is reported before its next model call starts, and
 * the caller waits for the watcher before the run goes on. Workflows report the sessions they make
 * (a `Workflow.make` step, the forks, results and merges of `Workflow.parallel`).
 * `Workflow.withTimeout` uses it. Default: none.
 *
 * @since 0.1.0
 * @category tags
 */
export class Progress extends Context.Reference<Progress>()("rath/Agent/Progress", {
  defaultValue: (): ((session: Session.Session) => Effect.Effect<void>) | undefined => undefined
}) {}

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
  (session: Session.Session): Effect.Effect<Session.Session, AgentError | E, R | Provider.Provider>
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
  ) => Effect.Effect<Session.Session, AgentError | E, R | Provider.Provider>
}

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

/**
 * `sha256:<hex>` of a text.
 *
 * @since 0.1.0
 * @category getters
 */
export const hashText = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex")}`

/**
 * What an agent named `name` is sent for a session: the transcript (compression applied) without
 * other agents' instructions and without memories recalled for other agents (see
 * `Memory.visibleTo`), with this agent's latest instructions first.
 *
 * @since 0.1.0
 * @category getters
 */
export const messagesFor = (name: string, session: Session.Session): ReadonlyArray<Entry.Message> => {
  const out: Array<Entry.Message> = []
  let own: Entry.System | undefined
  for (const message of Session.transcript(session)) {
    if (message._tag === "System" && message.author.kind === "agent") {
      if (message.author.name === name) own = message
      continue
    }
    if (!Memory.visibleTo(message, name)) continue
    out.push(message)
  }
  if (own !== undefined) out.unshift(own)
  return out
}

const hasOwnInstructions = (name: string, text: string, session: Session.Session): boolean => {
  for (let node = session.node; node !== undefined; node = node.prev) {
    const entry = node.entry
    if (entry._tag === "System" && entry.author.kind === "agent" && entry.author.name === name) {
      return entry.text === text
    }
  }
  return false
}

interface Planned {
  readonly index: number
  readonly call: Entry.ToolCall
  readonly tool: Tool.Tool | undefined
  /** Decoded arguments, when they decode. */
  readonly decoded: Either.Either<unknown, unknown>
  readonly key: string | undefined
  readonly exclusive: boolean
}

const rawArguments = (call: Entry.ToolCall): unknown => {
  if (call.parsed !== undefined) return call.parsed
  if (call.arguments.trim() === "") return {}
  return Provider.parseArguments(call.arguments)
}

const noRecord = () => Effect.void

const plan = (
  toolkit: Tool.Toolkit<any>,
  calls: ReadonlyArray<Entry.ToolCall>,
  session: Session.Session
): Array<Planned> =>
  calls.map((call, index) => {
    const tool = toolkit.tools.get(call.name)
    if (tool === undefined) {
      return { index, call, tool, decoded: Either.left("unknown"), key: undefined, exclusive: false }
    }
    // arguments are decoded here only when scheduling or approval needs them (Tool.run decodes anyway)
    if (tool.resource === undefined && tool.needsApproval === false) {
      return { index, call, tool, decoded: Either.left("not needed"), key: undefined, exclusive: !tool.parallel }
    }
    const raw = rawArguments(call)
    const decoded: Either.Either<unknown, unknown> = raw === undefined
      ? Either.left("invalid json")
      : Schema.decodeUnknownEither(tool.parameters)(raw, { onExcessProperty: "ignore" })
    let key: string | undefined
    if (tool.resource !== undefined && Either.isRight(decoded)) {
      key = tool.resource(decoded.right, {
        session,
        callId: call.id,
        toolName: call.name,
        recordEffect: noRecord,
        recordSandbox: noRecord
      })
    }
    return { index, call, tool, decoded, key, exclusive: !tool.parallel }
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

interface Ran {
  readonly outcome: Tool.Outcome
  readonly approval?: Entry.Approval | undefined
}

interface Pending {
  readonly calls: ReadonlyArray<Entry.ToolCall>
  readonly results: Array<Ran | undefined>
  appended: number
}

const resultDraft = ({ approval, outcome }: Ran, author: Entry.Author): Entry.Draft =>
  Entry.toolResult({
    callId: outcome.callId,
    toolName: outcome.toolName,
    output: outcome.output,
    error: outcome.error,
    sandbox: outcome.sandbox,
    durationMs: outcome.durationMs,
    effects: outcome.effects.length === 0 ? undefined : outcome.effects,
    approval,
    author
  })

const recordedRan = (result: Entry.ToolResult): Ran => ({
  outcome: {
    callId: result.callId,
    toolName: result.toolName,
    output: result.output,
    error: result.error,
    sandbox: result.sandbox,
    durationMs: result.durationMs,
    effects: result.effects ?? []
  },
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
  type HE_ = HE | MemoryError<M>
  const name = options.name
  const author: Entry.Author = { kind: "agent", name }
  const description = options.description ?? ""
  const instructions = options.instructions
  const instructionsHash = instructions === undefined ? undefined : hashText(instructions)
  const maxTurns = options.maxTurns ?? 64
  const concurrency = Math.max(1, options.toolConcurrency ?? 8)
  const onBudget = options.onBudgetExceeded ?? "stop"
  const built = Tool.toolkit(...(options.tools ?? []))
  const toolkit: Tool.Toolkit<any> = Either.isRight(built) ? built.right : Tool.emptyToolkit
  const definitions = toolkit.definitions
  const memory: MemoryOptions | undefined = options.memory
  const memoryNamespace = memory?.namespace ?? `agent:${name}`
  const hooks = composeHooks(
    memory === undefined ? undefined : Memory.hooks({
      namespace: memory.recallFrom === undefined ? memory.namespace : [memory.namespace, ...memory.recallFrom],
      k: memory.k,
      minScore: memory.minScore,
      commitTo: memory.commitOnForward === true ? memory.namespace : undefined
    }),
    options.hooks
  ) as Hooks<HE_, R> | undefined

  const core = (input: Session.Session, sink: Sink | undefined, resumed?: Continuation | undefined) =>
    Effect.gen(function*() {
      if (Either.isLeft(built)) {
        return yield* new AgentError({
          reason: "InvalidAgent",
          agent: name,
          detail: built.left.message,
          cause: built.left
        })
      }
      const provider = yield* Provider.Provider
      const approval = yield* Approval.Approval
      const inherited = yield* Budget.Budget
      const budget = options.budget === undefined
        ? inherited
        : yield* Budget.make({ tokens: options.budget, parent: inherited === Budget.unlimited ? undefined : inherited })
      const progress = yield* Progress
      const model = options.model ?? provider.info.model

      let session = yield* Session.step(input, author)
      let turns = 0
      const set = (next: Session.Session): void => {
        session = next
      }
      // appending does not report: the run reports (a save under `Resume.persist`) at a few points
      // only, each covering everything appended since: after start-up, after an answer that calls
      // tools, after the turn's tool results, and with `rath.run.end`. Everything is reported
      // before the next model call starts.
      const append = (draft: Entry.Draft) => Effect.map(Session.append(session, draft), set)
      const end = (reason: EndReason, detail?: string) => {
        const data: RunEnd = detail === undefined
          ? { agent: name, reason, turns }
          : { agent: name, reason, turns, detail }
        const appended = append(Entry.custom(END_ENTRY, data, { author }))
        return progress === undefined ? appended : Effect.zipRight(appended, Effect.suspend(() => progress(session)))
      }
      const emit = sink === undefined ? undefined : sink

      const spec: Spec = {
        name,
        description,
        ...(instructionsHash === undefined ? {} : { instructionsHash }),
        tools: definitions,
        provider: provider.info.kind,
        ...(provider.info.host === undefined ? {} : { host: provider.info.host }),
        model,
        maxTurns,
        ...(budget.cap === Infinity ? {} : { budgetTokens: budget.cap })
      }

      const loop = Effect.gen(function*() {
        yield* append(Entry.custom(SPEC_ENTRY, spec, { author }))
        if (instructions !== undefined && !hasOwnInstructions(name, instructions, session)) {
          yield* append(Entry.system(instructions, { author }))
        }
        if (emit !== undefined) yield* emit({ _tag: "RunStarted", agent: name, sessionId: session.id })
        if (resumed !== undefined) {
          // a resumed run: answer the last answer's open calls (recorded results first), then go on
          turns = resumed.turns
          if (resumed.calls.length > 0) {
            const pending: Pending = {
              calls: resumed.calls,
              results: resumed.recorded.map((result) => result === undefined ? undefined : recordedRan(result)),
              appended: 0
            }
            inflight = pending
            const open = pending.results.flatMap((ran, i) => ran === undefined ? [i] : [])
            yield* runTools(open.map((i) => resumed.calls[i]!), turns - 1, emit, approval, pending.results, open)
            yield* appendResults(pending)
            inflight = undefined
          }
          if (resumed.stopped) return "stop" as const
        } else if (hooks?.beforeRun !== undefined) {
          // what a hook appends (a memory recall, say) is authored by the agent
          yield* Effect.map(Effect.provideService(hooks.beforeRun(session), Entry.CurrentAuthor, author), set)
        }
        // start-up (spec, instructions, what the hook or the resumed calls added): one report
        if (progress !== undefined) yield* progress(session)

        while (true) {
          if (turns >= maxTurns) return "max_turns" as const
          const request: Provider.Request = {
            messages: messagesFor(name, session),
            ...(definitions.length === 0 ? {} : { tools: definitions, toolChoice: "auto" as const }),
            model,
            ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
            ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens })
          }
          // an unlimited budget needs no estimate (it costs a pass over the transcript)
          const estimate = budget === Budget.unlimited ? 0 : Budget.estimate(request) + (options.maxTokens ?? 0)
          const reservation = yield* budget.reserve(estimate)
          if (reservation === undefined) {
            if (onBudget === "fail") {
              yield* end("budget", `the next call needs about ${estimate} tokens`)
              return yield* new AgentError({
                reason: "BudgetExceeded",
                agent: name,
                detail: `the budget of ${budget.cap} tokens cannot cover the next call (about ${estimate} tokens)`,
                session
              })
            }
            return "budget" as const
          }
          const turn = turns++
          if (emit !== undefined) yield* emit({ _tag: "TurnStarted", turn })
          const answer = yield* Effect.either(Trace.withSpan(
            callModel(provider, request, turn, emit),
            "Agent.model",
            () => ({
              captureStackTrace: false,
              attributes: {
                "rath.agent.name": name,
                "rath.session.id": session.id,
                "rath.model": model,
                "rath.provider": provider.info.kind,
                "rath.turn": turn
              }
            }),
            (response) => {
              const usage = response.usage
              if (usage === undefined && response.model === undefined) return undefined
              const attributes: Record<string, unknown> = {}
              // the model that answered (a gateway may route to another than the one asked)
              if (response.model !== undefined) attributes["rath.response.model"] = response.model
              if (usage !== undefined) {
                attributes["rath.usage.input_tokens"] = usage.inputTokens
                attributes["rath.usage.output_tokens"] = usage.outputTokens
                attributes["rath.usage.total_tokens"] = usage.totalTokens
              }
              return attributes
            }
          ))
          if (Either.isLeft(answer)) {
            yield* budget.settle(reservation, 0)
            const error = answer.left
            yield* end("error", error.message)
            return yield* new AgentError({
              reason: "ProviderFailed",
              agent: name,
              detail: error.message,
              session,
              cause: error
            })
          }
          const response = answer.right
          yield* budget.settle(reservation, response.usage?.totalTokens ?? estimate)
          yield* append(Provider.toDraft(response, author, request))
          if (emit !== undefined) {
            if (response.usage !== undefined) yield* emit({ _tag: "Usage", turn, usage: response.usage })
            yield* emit({ _tag: "TurnFinished", turn, entry: session.node!.entry as Entry.Assistant })
          }
          // a final answer is reported with the run's end; one that calls tools before they run
          if (response.toolCalls.length === 0) return "stop" as const
          if (progress !== undefined) yield* progress(session)
          // the turn's calls, their results as they finish, and how many are appended: an
          // interrupted run answers every call (finished, or "interrupted") before it ends
          const pending: Pending = {
            calls: response.toolCalls,
            results: new Array(response.toolCalls.length),
            appended: 0
          }
          inflight = pending
          yield* runTools(response.toolCalls, turn, emit, approval, pending.results)
          yield* appendResults(pending)
          inflight = undefined
          // the turn's results: one report for all of them
          if (progress !== undefined) yield* progress(session)
        }
      })

      let inflight: Pending | undefined
      const appendResults = (pending: Pending) =>
        Effect.suspend(() => {
          const drafts: Array<Entry.Draft> = []
          for (let i = pending.appended; i < pending.calls.length; i++) {
            const ran = pending.results[i]
            drafts.push(ran === undefined ? interruptedDraft(pending.calls[i]!, author) : resultDraft(ran, author))
          }
          const appendOne = (draft: Entry.Draft) =>
            Effect.map(Session.append(session, draft), (next) => {
              session = next
              pending.appended++
            })
          if (drafts.length === 1) return appendOne(drafts[0]!)
          return Effect.forEach(drafts, appendOne, { discard: true })
        })

      const runTools = (
        calls: ReadonlyArray<Entry.ToolCall>,
        turn: number,
        emit: Sink | undefined,
        approver: Approval.Service,
        results: Array<Ran | undefined>,
        /** Where the result of `calls[i]` goes in `results` (default `i`). */
        slots?: ReadonlyArray<number>
      ): Effect.Effect<void, never, R> => {
        const at = session
        const spanOf = (item: Planned) => () => ({
          captureStackTrace: false,
          attributes: {
            "rath.agent.name": name,
            "rath.session.id": at.id,
            "rath.tool.name": item.call.name,
            "rath.tool.call_id": item.call.id
          }
        })
        const runOne = (item: Planned): Effect.Effect<Ran, never, R> =>
          emit === undefined && !(
              item.tool !== undefined && Either.isRight(item.decoded) &&
              Tool.requiresApproval(item.tool, item.decoded.right)
            )
            // the common case (no events, no approval) without a generator
            ? Trace.withSpan(
              Effect.map(
                Tool.execute(toolkit as Tool.Toolkit<R>, item.call, { session: at, timeout: options.toolTimeout }),
                (outcome): Ran => ({ outcome })
              ),
              "Agent.tool",
              spanOf(item)
            )
            : runTraced(item)
        const runTraced = (item: Planned): Effect.Effect<Ran, never, R> =>
          Effect.gen(function*() {
            if (emit !== undefined) yield* emit({ _tag: "ToolStarted", turn, call: item.call })
            let ran: Ran
            if (
              item.tool !== undefined && Either.isRight(item.decoded) &&
              Tool.requiresApproval(item.tool, item.decoded.right)
            ) {
              const decision = yield* approver.decide({
                agent: name,
                sessionId: at.id,
                call: item.call,
                arguments: item.decoded.right
              })
              const record = Approval.toEntry(decision)
              if (decision._tag === "Reject") {
                ran = {
                  outcome: {
                    callId: item.call.id,
                    toolName: item.call.name,
                    output: null,
                    error: { kind: "rejected", message: `the call was rejected: ${decision.reason}` },
                    durationMs: 0,
                    effects: []
                  },
                  approval: record
                }
              } else {
                const outcome = yield* Tool.execute(toolkit as Tool.Toolkit<R>, item.call, {
                  session: at,
                  timeout: options.toolTimeout,
                  ...(decision._tag === "Edit" ? { arguments: decision.arguments } : {})
                })
                ran = { outcome, approval: record }
              }
            } else {
              ran = {
                outcome: yield* Tool.execute(toolkit as Tool.Toolkit<R>, item.call, {
                  session: at,
                  timeout: options.toolTimeout
                })
              }
            }
            if (emit !== undefined) {
              yield* emit({
                _tag: ran.outcome.error === undefined ? "ToolFinished" : "ToolFailed",
                turn,
                call: item.call,
                outcome: ran.outcome
              })
            }
            return ran
          }).pipe((traced) => Trace.withSpan(traced, "Agent.tool", spanOf(item)))
        const planned = plan(toolkit, calls, at)
        const slot = (index: number) => slots === undefined ? index : slots[index]!
        if (planned.length === 1) return Effect.map(runOne(planned[0]!), (ran) => void (results[slot(0)] = ran))
        return Effect.gen(function*() {
          for (const lanes of schedule(planned)) {
            yield* Effect.forEach(
              lanes,
              (lane) =>
                Effect.forEach(
                  lane,
                  (item) => Effect.map(runOne(item), (ran) => void (results[slot(item.index)] = ran)),
                  {
                    discard: true
                  }
                ),
              { concurrency, discard: true }
            )
          }
        })
      }

      const run = Effect.gen(function*() {
        const reason = yield* loop
        if (hooks?.afterRun !== undefined) {
          // the answer is reported before the hook runs: a hook that fails (a memory commit, say),
          // or a crash meanwhile, loses no model call already paid for; what the hook appends is
          // reported with the run's end
          if (progress !== undefined) yield* progress(session)
          yield* Effect.map(Effect.provideService(hooks.afterRun(session), Entry.CurrentAuthor, author), set)
        }
        yield* end(reason)
        if (emit !== undefined) yield* emit({ _tag: "Done", reason, session })
        return session
      }).pipe(
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            if (inflight !== undefined) yield* appendResults(inflight)
            yield* end("interrupted")
          })
        )
      )
      return yield* (options.budget === undefined ? run : Effect.provideService(run, Budget.Budget, budget))
    }).pipe((run) =>
      Trace.withSpan(run, "Agent.run", () => ({
        captureStackTrace: false,
        attributes: { "rath.agent.name": name, "rath.session.id": input.id }
      }))
    ) as Effect.Effect<Session.Session, AgentError | HE_, R | Provider.Provider>

  const step = (session: Session.Session) => core(session, undefined)
  // a function's own `name` is read-only: define it
  Object.defineProperty(step, "name", { value: name })
  return Object.assign(step, {
    description,
    instructions,
    instructionsHash,
    definitions,
    maxTurns,
    model: options.model,
    toolkit,
    memory,
    remember: (session: Session.Session, text: string, input?: Omit<Memory.RememberInput, "namespace" | "text">) =>
      Effect.map(
        Effect.provideService(
          Memory.rememberInto(session, { ...input, namespace: memoryNamespace, text }),
          Entry.CurrentAuthor,
          author
        ),
        (out) => out.session
      ),
    recall: (
      session: Session.Session,
      input?: { readonly query?: string | undefined; readonly k?: number | undefined }
    ) =>
      Effect.provideService(
        Memory.recallInto(session, {
          namespace: memory?.recallFrom === undefined ? memoryNamespace : [memoryNamespace, ...memory.recallFrom],
          query: input?.query,
          k: input?.k ?? memory?.k,
          minScore: memory?.minScore
        }),
        Entry.CurrentAuthor,
        author
      ),
    commit: (session: Session.Session) =>
      Effect.map(
        Effect.provideService(
          Memory.commitSession(session, { namespace: memoryNamespace }),
          Entry.CurrentAuthor,
          author
        ),
        (out) => out.session
      ),
    [CoreId]: core
  }) as unknown as Agent<HE_, R>
}

const callModel = (
  provider: Provider.Service,
  request: Provider.Request,
  turn: number,
  emit: Sink | undefined
): Effect.Effect<Provider.Response, Provider.ProviderError> => {
  // with no one watching the deltas, the whole answer is enough: `chat` (a provider may answer
  // it without a stream at all; by default it folds its stream)
  if (emit === undefined) return provider.chat(request)
  let acc = Provider.emptyAccumulator
  const done = Effect.sync(() => Provider.finish(acc, provider.info))
  const names = new Map<number, { id: string; name: string }>()
  const eventOf = (part: Provider.StreamPart): Event | undefined => {
    switch (part._tag) {
      case "TextDelta":
        return { _tag: "TextDelta", turn, text: part.text }
      case "ReasoningDelta":
        return { _tag: "ReasoningDelta", turn, text: part.text }
      case "ToolCallStart":
        names.set(part.index, { id: part.id, name: part.name })
        return undefined
      case "ToolCallDelta": {
        const first = names.get(part.index)
        if (first !== undefined) names.delete(part.index)
        return {
          _tag: "ToolCallDelta",
          turn,
          index: part.index,
          ...(first === undefined ? {} : first),
          argumentsDelta: part.argumentsDelta
        }
      }
      case "Retry":
        return { _tag: "Retry", turn, attempt: part.attempt, delayMillis: part.delayMillis, error: part.error }
      default:
        return undefined
    }
  }
  return Effect.zipRight(
    consume(provider.stream(request), (chunk) =>
      Effect.forEach(chunk, (part) => {
        acc = Provider.step(acc, part)
        const event = eventOf(part)
        return event === undefined ? Effect.void : emit(event)
      }, { discard: true })),
    done
  )
}

// -----------------------------------------------------------------------------
// running
// -----------------------------------------------------------------------------

/**
 * Runs an agent and streams its {@link Event}s; the last event is `Done` with the final session.
 * The same loop as calling the agent.
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
): Stream.Stream<Event, AgentError | E, R | Provider.Provider> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<Event, AgentError | E>()
      yield* agent[CoreId](session, (event) => mailbox.offer(event)).pipe(
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
): Effect.Effect<Session.Session, AgentError | E, R | Provider.Provider> =>
  agent[CoreId](session, undefined, continuation)

/**
 * The spec an agent recorded at the start of the latest run in a session, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const lastSpec = (session: Session.Session): Spec | undefined => {
  for (let node = session.node; node !== undefined; node = node.prev) {
    const entry = node.entry
    if (entry._tag === "Custom" && entry.type === SPEC_ENTRY) return entry.data as Spec
  }
  return undefined
}

/**
 * Why the latest run in a session ended, if it recorded it.
 *
 * @since 0.1.0
 * @category getters
 */
export const lastEnd = (session: Session.Session): RunEnd | undefined => {
  for (let node = session.node; node !== undefined; node = node.prev) {
    const entry = node.entry
    if (entry._tag === "Custom" && entry.type === END_ENTRY) return entry.data as RunEnd
  }
  return undefined
}
