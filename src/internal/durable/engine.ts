/**
 * The durable runner behind `rath/Durable`: rath workflows registered as `@effect/workflow`
 * workflows, and the `Workflow.Durability` hook that makes each leaf step (agent run, selector
 * decision, compressor call, fork, merge) an `Activity` named by its position.
 */
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as Activity from "@effect/workflow/Activity"
import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as WF from "@effect/workflow/Workflow"
import * as WorkflowEngine from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Agent from "../../Agent.js"
import * as Approval from "../../Approval.js"
import * as IdGenerator from "../../IdGenerator.js"
import type * as Journal from "../../Journal.js"
import * as Placement from "../../Placement.js"
import type * as Provider from "../../Provider.js"
import * as Resume from "../../Resume.js"
import * as Selector from "../../Selector.js"
import * as Session from "../../Session.js"
import * as SessionStore from "../../SessionStore.js"
import * as Workflow from "../../Workflow.js"
import { firstSessionId, seeded, stepTag } from "./ids.js"
import { type Definition, DurableError, RunRequest, type Service, type Status } from "./model.js"

// -----------------------------------------------------------------------------
// context of a durable run
// -----------------------------------------------------------------------------

/** The execution id of the durable run in effect ("" outside one). */
export class CurrentExecution extends Context.Reference<CurrentExecution>()("rath/Durable/CurrentExecution", {
  defaultValue: () => ""
}) {}

interface Position {
  readonly prefix: string
  readonly counter: { n: number }
}

/** Where in the workflow the code in effect is: a path prefix, and a counter of its children. */
class CurrentPosition extends Context.Reference<CurrentPosition>()("rath/Durable/CurrentPosition", {
  defaultValue: (): Position => ({ prefix: "step", counter: { n: 0 } })
}) {}

/** A durable run as its steps see it. */
export interface Run {
  readonly executionId: string
  readonly workflow: string
  readonly store: SessionStore.Service
  readonly workspaceRoot: string | undefined
  /** How long an attempt that lost the fence waits for a winner that stopped writing (millis). */
  readonly takeoverAfter: number
}

/** What a leaf step's activity returns: its session, or the tool call that waits for approval. */
export const Outcome = Schema.Union(
  Schema.TaggedStruct("Done", { sessionId: Schema.String }),
  Schema.TaggedStruct("NeedsApproval", { callId: Schema.String, tool: Schema.String })
)
export type Outcome = typeof Outcome.Type

export const StepFailure = Schema.Struct({ reason: DurableError.fields.reason, detail: Schema.String })

const DecisionSchema = Schema.Union(
  Schema.TaggedStruct("Approve", { by: Schema.optional(Schema.String) }),
  Schema.TaggedStruct("Reject", { reason: Schema.String, by: Schema.optional(Schema.String) }),
  Schema.TaggedStruct("Edit", {
    arguments: Schema.Unknown,
    reason: Schema.optional(Schema.String),
    by: Schema.optional(Schema.String)
  })
)

const approvalDeferred = (callId: string) => DurableDeferred.make(`approval/${callId}`, { success: DecisionSchema })

const messageOf = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause ? String(cause.message) : String(cause)

// -----------------------------------------------------------------------------
// workspaces
// -----------------------------------------------------------------------------

/** The workspace directory a session's placement names, when it is under the run's root. */
const checkWorkspace = (run: Run, session: Session.Session): Effect.Effect<void, DurableError> =>
  Effect.suspend(() => {
    const placement = Option.getOrUndefined(Session.placement(session))
    const dir = placement?.workspace
    if (run.workspaceRoot === undefined || dir === undefined) return Effect.void
    // the check reads the filesystem: a shared mount that is gone must not look like an empty directory
    return Effect.try({
      try: () => fs.statSync(dir).isDirectory(),
      catch: () => false
    }).pipe(
      Effect.orElseSucceed(() => false),
      Effect.flatMap((ok) =>
        ok ? Effect.void : Effect.fail(
          new DurableError({
            reason: "WorkspaceUnreachable",
            workflow: run.workflow,
            executionId: run.executionId,
            detail: `the workspace ${dir} is not reachable (is the shared storage under ${run.workspaceRoot} mounted?)`
          })
        )
      )
    )
  })

// -----------------------------------------------------------------------------
// the durability hook
// -----------------------------------------------------------------------------

const storeError = (run: Run, step: string) => (cause: SessionStore.SessionStoreError) =>
  new DurableError({
    reason: "StoreFailed",
    workflow: run.workflow,
    executionId: run.executionId,
    step,
    detail: cause.message
  })

/** The latest earlier run of a step in the store: the highest generation whose first session exists. */
const earlier = (run: Run, tag: string) =>
  Effect.gen(function*() {
    let found: Session.Session | undefined
    let generation = 0
    for (;;) {
      const loaded = yield* Effect.either(run.store.load(firstSessionId(tag, generation)))
      if (loaded._tag === "Left") {
        if (loaded.left.reason === "NotFound") break
        return yield* Effect.fail(loaded.left)
      }
      found = loaded.right
      generation++
    }
    return { found, generation }
  })

/**
 * Whether a stored session is the whole result of a step that is no agent: the step's own session
 * (a `step` by the step's name) with more entries than the step's input. A workflow step reports
 * its session when it starts (no entries of its own yet) and again when it ends; a step that adds
 * nothing is run again, which costs no model call.
 */
const isWholeStep = (found: Session.Session, input: Session.Session, info: Workflow.StepInfo): boolean =>
  found.lineage.operation === "step" && found.lineage.by?.name === info.name && found.length > input.length

/** Whether an error is, or wraps, the store's `Conflict`: another attempt of the step saved first. */
export const isConflict = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const tagged = current as { readonly _tag?: unknown; readonly reason?: unknown; readonly cause?: unknown }
    if (tagged._tag === "SessionStoreError") return tagged.reason === "Conflict"
    current = tagged.cause
  }
  return false
}

/** How long an attempt that lost the fence waits, at most, for the winner to finish or move. */
export const DEFAULT_TAKEOVER_AFTER = 30_000

/**
 * What an attempt that lost the store's compare-and-set does next. The stored session is the
 * winner's: a finished run is the step's result; a run that is still being written (it grows) is
 * left to its writer until it finishes, or stops growing for `takeoverAfter` (its writer died:
 * this attempt continues it); a run that ended interrupted is continued at once.
 */
const afterLoss = (
  run: Run,
  tag: string,
  info: Workflow.StepInfo,
  input: Session.Session,
  conflictId: string | undefined
) =>
  Effect.gen(function*() {
    if (info.kind !== "agent") {
      // a step that is no agent saves its own session once, whole: the winner's is the result (a
      // session an agent inside it reported is not: the step runs again, in a new generation)
      if (conflictId !== undefined) {
        const stored = yield* Effect.either(run.store.load(conflictId))
        if (
          stored._tag === "Right" &&
          (info.kind === "fork" || info.kind === "merge" || isWholeStep(stored.right, input, info))
        ) {
          return { _tag: "Done", sessionId: conflictId } as const
        }
      }
      return { _tag: "Continue" } as const
    }
    let seen = ""
    let since = yield* Clock.currentTimeMillis
    for (;;) {
      const { found, generation } = yield* earlier(run, tag)
      if (found === undefined) return { _tag: "Continue" } as const
      const state = Resume.inspect(found)
      if (Option.isSome(state) && state.value.status === "finished") {
        return { _tag: "Done", sessionId: found.id } as const
      }
      if (Option.isSome(state) && state.value.status === "interrupted") return { _tag: "Continue" } as const
      const now = yield* Clock.currentTimeMillis
      const mark = `${generation}/${found.length}`
      if (mark !== seen) {
        seen = mark
        since = now
      } else if (now - since >= run.takeoverAfter) {
        return { _tag: "Continue" } as const
      }
      yield* Effect.sleep("200 millis")
    }
  })

/** The session id a `Conflict` names, if any. */
const conflictSession = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const tagged = current as { readonly _tag?: unknown; readonly sessionId?: unknown; readonly cause?: unknown }
    if (tagged._tag === "SessionStoreError") return typeof tagged.sessionId === "string" ? tagged.sessionId : undefined
    if (tagged._tag === "JournalError" && typeof tagged.sessionId === "string") return tagged.sessionId
    current = tagged.cause
  }
  return undefined
}

/**
 * The body of a leaf step's activity. Activities run at least once, and two attempts of one step
 * may overlap (a shard moved while its old owner still ran the step). Attempts that start from the
 * same stored state write the same session ids, so the store's compare-and-set lets one of them
 * write: the loser's save fails with `Conflict` before it applies anything (each entry is saved
 * before the next model call or tool call), and it goes on from what is stored ({@link afterLoss})
 * instead of failing the workflow.
 */
export const leafBody = <E, R>(
  run: Run,
  position: string,
  info: Workflow.StepInfo,
  input: Session.Session,
  step: (session: Session.Session) => Effect.Effect<Session.Session, E, R>,
  original: Workflow.Step<any, any> | undefined,
  decisions: ReadonlyMap<string, Approval.Decision>
): Effect.Effect<Outcome, typeof StepFailure.Type, R | Provider.Provider> =>
  Effect.gen(function*() {
    yield* checkWorkspace(run, input)
    const tag = stepTag(run.executionId, position)
    for (let losses = 0;; losses++) {
      const attempt = yield* Effect.either(leafAttempt(run, tag, info, input, step, original, decisions))
      if (attempt._tag === "Right") return attempt.right
      if (!isConflict(attempt.left) || losses >= 20) return yield* Effect.fail(attempt.left)
      yield* Effect.logInfo(
        `rath durable: step ${position} of ${run.executionId} lost the store's compare-and-set to an overlapping attempt; going on from what is stored`
      ).pipe(Effect.annotateLogs({ rathOverlap: "lost" }))
      // waiting for the winner, like the step itself, stops when the runner shuts down
      const next = yield* Effect.interruptible(afterLoss(run, tag, info, input, conflictSession(attempt.left))).pipe(
        Effect.mapError(storeError(run, position))
      )
      if (next._tag === "Done") return next
    }
  }).pipe(
    Effect.mapError((error) =>
      Schema.is(DurableError)(error)
        ? { reason: error.reason, detail: error.detail }
        : { reason: "StepFailed" as const, detail: messageOf(error) }
    )
  )

/** One attempt of a leaf step: continue the step's earlier run when the store has one, else run it. */
const leafAttempt = <E, R>(
  run: Run,
  tag: string,
  info: Workflow.StepInfo,
  input: Session.Session,
  step: (session: Session.Session) => Effect.Effect<Session.Session, E, R>,
  original: Workflow.Step<any, any> | undefined,
  decisions: ReadonlyMap<string, Approval.Decision>
): Effect.Effect<Outcome, unknown, R | Provider.Provider> =>
  Effect.gen(function*() {
    const { found, generation } = yield* earlier(run, tag)
    let work: Effect.Effect<Session.Session, unknown, any>
    if (found !== undefined && (info.kind === "fork" || info.kind === "merge")) {
      // a fork or a merge is saved only once it is whole
      return { _tag: "Done", sessionId: found.id } as const
    } else if (found !== undefined && info.kind !== "agent" && isWholeStep(found, input, info)) {
      // a step that is no agent (a selector's decision, a compressor) that saved its result: its
      // model call is not made again
      return { _tag: "Done", sessionId: found.id } as const
    } else if (found !== undefined && info.kind === "agent" && original !== undefined) {
      const agent = original as Agent.Agent<any, any>
      const state = Resume.inspect(found)
      if (Option.isSome(state) && state.value.status === "finished") {
        return { _tag: "Done", sessionId: found.id } as const
      }
      if (Option.isNone(state)) {
        work = step(input)
      } else {
        const s = state.value
        // tool calls without a result run again: their tools get the idempotency key (Durable.idempotencyKey)
        work = Agent.continueRun(agent, Session.take(found, s.keep), {
          turns: s.turns,
          calls: s.openCalls,
          recorded: s.recorded,
          stopped: !s.awaitingModel && s.openCalls.length === 0 && s.turns > 0
        })
      }
    } else {
      // a first run, or a step that is no agent: (re)run it from its input, in a new generation
      work = step(input)
    }
    const needs = yield* Deferred.make<{ readonly callId: string; readonly tool: string }>()
    const approval: Approval.Service = {
      decide: (request) => {
        const known = decisions.get(request.call.id)
        return known !== undefined
          ? Effect.succeed(known)
          : Effect.zipRight(Deferred.succeed(needs, { callId: request.call.id, tool: request.call.name }), Effect.never)
      }
    }
    const running = Resume.persist(work).pipe(
      Effect.flatMap((result) => Effect.as(run.store.save(result), { _tag: "Done", sessionId: result.id } as const)),
      Effect.provideService(IdGenerator.IdGenerator, seeded(tag, generation)),
      Effect.provideService(Approval.Approval, approval),
      Effect.provideService(Workflow.Durability, Workflow.direct)
    )
    // the cluster runs an activity uninterruptibly; a runner shutting down must be able to stop
    // the step (the agent records where it was cut, and the next runner continues from there)
    return yield* Effect.interruptible(Effect.raceFirst(
      running,
      Effect.map(Deferred.await(needs), (asked): Outcome => ({ _tag: "NeedsApproval", ...asked }))
    ))
  })

/** A step's failure crosses the workflow's fiber as a defect (the hook cannot widen the step's error). */
const dieWith = (run: Run, position: string, failure: typeof StepFailure.Type) =>
  Effect.die(
    new DurableError({
      reason: failure.reason,
      workflow: run.workflow,
      executionId: run.executionId,
      step: position,
      detail: failure.detail
    })
  )

const durableStep = <E, R>(
  run: Run,
  position: string,
  info: Workflow.StepInfo,
  session: Session.Session,
  step: (session: Session.Session) => Effect.Effect<Session.Session, E, R>,
  original: Workflow.Step<any, any> | undefined
): Effect.Effect<Session.Session, E, R> =>
  Effect.gen(function*() {
    const decisions = new Map<string, Approval.Decision>()
    for (let attempt = 0;; attempt++) {
      const activity = Activity.make({
        name: attempt === 0 ? position : `${position}#${attempt}`,
        success: Outcome,
        error: StepFailure,
        execute: leafBody(run, position, info, session, step, original, new Map(decisions))
      })
      const outcome = yield* Effect.catchAll(
        activity as unknown as Effect.Effect<Outcome, typeof StepFailure.Type, never>,
        (failure) => dieWith(run, position, failure)
      )
      if (outcome._tag === "Done") {
        return yield* run.store.load(outcome.sessionId).pipe(
          Effect.catchAll((cause) => dieWith(run, position, { reason: "StoreFailed", detail: cause.message }))
        )
      }
      const decision = yield* DurableDeferred.await(approvalDeferred(outcome.callId))
      decisions.set(outcome.callId, decision as Approval.Decision)
    }
  }) as never

const hook = (run: Run): Workflow.DurabilityService => ({
  step: (info, session, step) =>
    Effect.flatMap(CurrentPosition, (position) => {
      const n = position.counter.n++
      const name = `${position.prefix}/${n}/${info.kind}:${info.name}`
      return durableStep(run, name, info, session, step, step)
    }),
  within: (segment, self) =>
    Effect.flatMap(CurrentPosition, (position) => {
      const n = position.counter.n++
      return Effect.provideService(self, CurrentPosition, {
        prefix: `${position.prefix}/${n}/${segment}`,
        counter: { n: 0 }
      })
    })
})

// -----------------------------------------------------------------------------
// selectors
// -----------------------------------------------------------------------------

/** What `Durable.route` needs of a selector. */
export type SelectorLike<W extends Workflow.Workflow<any, any>> = Selector.Selector<W>

/** @internal */
export type SelectorErrorOf<S> = S extends Selector.Selector<any> ? Selector.SelectorError | Journal.JournalError
  : never

/** @internal */
export type SelectorContextOf<S> = S extends Selector.Selector<any> ? Provider.Provider : never

export const route = <W extends Workflow.Workflow<any, any>>(
  selector: Selector.Selector<W>
): Workflow.Workflow<any, any> =>
  Workflow.make(
    { name: selector.name, description: "Routes to the workflow a model chooses (durably)." },
    (session) =>
      Effect.gen(function*() {
        const durability = yield* Workflow.Durability
        let next: Workflow.Step<any, any> = Workflow.done
        const decided = yield* durability.step(
          { kind: "selector", name: selector.name },
          session,
          (input) => Effect.map(selector(input), (decision) => decision.session)
        )
        // the decision is read back from the decided session, so a recorded decision picks the same
        const chosen = Selector.lastRecord(decided, selector.name)
        if (Option.isSome(chosen) && chosen.value.choice !== "done") {
          next = selector.candidates.find((candidate) => candidate.name === chosen.value.choice) ?? Workflow.done
        }
        return Workflow.isDone(next) ? decided : yield* Workflow.call(next, decided)
      })
  )

// -----------------------------------------------------------------------------
// the service
// -----------------------------------------------------------------------------

const Success = Schema.Struct({ sessionId: Schema.String })

/** What the workflows of a runner need (besides what the runner provides). */
export type Needs<R> = Exclude<R, Scope.Scope> | Provider.Provider

export const runnerAddress = (host: string, port: number): Option.Option<RunnerAddress.RunnerAddress> =>
  Option.some(RunnerAddress.make(host, port))

const idOf = (name: string, key: string): string => `${name}:${key}`

const nameOfId = (executionId: string): string | undefined => {
  const at = executionId.lastIndexOf(":")
  return at <= 0 ? undefined : executionId.slice(0, at)
}

type EngineWorkflow = WF.Workflow<string, any, typeof Success, typeof DurableError>

/** The engine's workflow of a rath workflow name (the same on runners and clients). */
const engineWorkflow = (name: string): EngineWorkflow =>
  WF.make({
    name: `rath/${name}`,
    payload: {
      prompt: Schema.String,
      workspace: Schema.optional(Schema.String),
      key: Schema.String
    },
    success: Success,
    error: DurableError,
    idempotencyKey: (payload) => payload.key
  })

/**
 * Builds the service and registers every workflow with the engine in context (a client,
 * `register: false`, only names them: it submits and polls, the runners run them).
 */
export const make = <R>(options: {
  readonly register?: boolean | undefined
  readonly workflows: ReadonlyArray<Definition<R>>
  readonly workspaceRoot?: string | undefined
  readonly sandboxBackend?: string | undefined
  readonly takeoverAfter?: Duration.DurationInput | undefined
}): Effect.Effect<Service, never, WorkflowEngine.WorkflowEngine | SessionStore.SessionStore | Scope.Scope | Needs<R>> =>
  Effect.gen(function*() {
    const engine = yield* WorkflowEngine.WorkflowEngine
    const store = yield* SessionStore.SessionStore
    const registered = new Map<string, EngineWorkflow>()
    for (const definition of options.workflows) {
      const workflow = engineWorkflow(definition.name)
      registered.set(definition.name, workflow)
      if (options.register === false) continue
      yield* engine.register(workflow, (payload, executionId) =>
        runWorkflow(
          {
            executionId,
            workflow: definition.name,
            store,
            workspaceRoot: options.workspaceRoot,
            takeoverAfter: options.takeoverAfter === undefined
              ? DEFAULT_TAKEOVER_AFTER
              : Duration.toMillis(options.takeoverAfter)
          },
          definition,
          payload,
          options.sandboxBackend ?? "local"
        ))
    }
    const find = (executionId: string) => {
      const name = nameOfId(executionId)
      const workflow = name === undefined ? undefined : registered.get(name)
      return workflow === undefined
        ? Effect.fail(
          new DurableError({
            reason: name === undefined ? "NotFound" : "UnknownWorkflow",
            executionId,
            detail: name === undefined
              ? `${executionId} is no execution id (expected <workflow>:<key>)`
              : `no workflow named ${name} is registered here (registered: ${[...registered.keys()].join(", ")})`
          })
        )
        : Effect.succeed({ name: name!, workflow })
    }
    const poll = (executionId: string): Effect.Effect<Status, DurableError> =>
      Effect.flatMap(
        find(executionId),
        ({ workflow }) =>
          Effect.map(engine.poll(workflow, executionId), (result): Status => {
            if (result === undefined) return { _tag: "Running", executionId }
            if (result._tag === "Suspended") return { _tag: "Suspended", executionId }
            const exit = result.exit
            if (Exit.isSuccess(exit)) return { _tag: "Done", executionId, sessionId: exit.value.sessionId }
            const failure = Cause.failureOption(exit.cause)
            return {
              _tag: "Failed",
              executionId,
              error: Option.isSome(failure)
                ? failure.value
                : new DurableError({
                  reason: Cause.isInterruptedOnly(exit.cause) ? "Interrupted" : "StepFailed",
                  executionId,
                  detail: Cause.isInterruptedOnly(exit.cause) ? "the run was interrupted" : Cause.pretty(exit.cause)
                })
            }
          })
      )
    const service: Service = {
      submit: (name, input) =>
        Effect.gen(function*() {
          const workflow = registered.get(name)
          if (workflow === undefined) {
            return yield* new DurableError({
              reason: "UnknownWorkflow",
              workflow: name,
              detail: `no workflow named ${name} is registered (registered: ${
                [...registered.keys()].join(", ") || "none"
              })`
            })
          }
          const request: RunRequest = yield* Schema.decodeUnknown(RunRequest)(input).pipe(
            Effect.mapError((error) =>
              new DurableError({ reason: "InvalidRequest", workflow: name, detail: error.message })
            )
          )
          if (request.workspace !== undefined) {
            yield* checkWorkspaceDir(options.workspaceRoot, name, request.workspace)
          }
          const key: string = request.key ?? (yield* IdGenerator.generate("run"))
          const executionId = idOf(name, key)
          yield* (engine.execute(workflow, {
            executionId,
            payload: { prompt: request.prompt, workspace: request.workspace, key },
            discard: true
          }) as Effect.Effect<string>)
          return executionId
        }),
      poll,
      wait: (executionId) =>
        Effect.gen(function*() {
          for (;;) {
            const status = yield* poll(executionId)
            if (status._tag === "Done") {
              return yield* store.load(status.sessionId).pipe(
                Effect.mapError((cause) =>
                  new DurableError({ reason: "StoreFailed", executionId, detail: cause.message })
                )
              )
            }
            if (status._tag === "Failed") return yield* status.error
            yield* Effect.sleep("50 millis")
          }
        }),
      interrupt: (executionId) =>
        Effect.flatMap(find(executionId), ({ workflow }) => engine.interrupt(workflow, executionId)),
      approve: (executionId, callId, decision) =>
        Effect.flatMap(find(executionId), ({ workflow }) =>
          engine.deferredDone(approvalDeferred(callId), {
            workflowName: workflow.name,
            executionId,
            deferredName: `approval/${callId}`,
            exit: Exit.succeed(decision as typeof DecisionSchema.Type)
          }))
    }
    return service
  }) as never

const checkWorkspaceDir = (root: string | undefined, workflow: string, workspace: string) =>
  Effect.suspend(() => {
    if (root === undefined) {
      return Effect.fail(
        new DurableError({
          reason: "InvalidRequest",
          workflow,
          detail: `the request names workspace ${workspace} but no workspace root is configured`
        })
      )
    }
    const dir = path.join(root, workspace)
    let ok = false
    try {
      ok = fs.statSync(dir).isDirectory()
    } catch {
      ok = false
    }
    return ok ? Effect.succeed(dir) : Effect.fail(
      new DurableError({
        reason: "WorkspaceUnreachable",
        workflow,
        detail: `the workspace ${dir} is not reachable (is the shared storage under ${root} mounted?)`
      })
    )
  })

/** The body of a registered workflow: the start step, then the rath step under the durability hook. */
const runWorkflow = <R>(
  run: Run,
  definition: Definition<R>,
  payload: { readonly prompt: string; readonly workspace?: string | undefined; readonly key: string },
  backend: string
) =>
  Effect.gen(function*() {
    const durability = hook(run)
    const position: Position = { prefix: "step", counter: { n: 0 } }
    // the input session: made once, its ids from the execution id
    const start = Activity.make({
      name: "start",
      success: Schema.String,
      error: StepFailure,
      execute: Effect.gen(function*() {
        // an earlier attempt saved it: that one is the input (its ids are these, its times are not)
        const startId = firstSessionId(stepTag(run.executionId, "start"), 0)
        const stored = yield* Effect.either(run.store.load(startId))
        if (stored._tag === "Right") return startId
        let session = yield* Session.fromUserMessage(payload.prompt)
        if (payload.workspace !== undefined) {
          const dir = yield* checkWorkspaceDir(run.workspaceRoot, run.workflow, payload.workspace)
          session = yield* Session.to(
            session,
            Placement.make({ backend, id: `ws_${payload.key}`, workspace: dir })
          )
        }
        // an overlapping attempt that saved first made the input: take it
        yield* run.store.save(session).pipe(
          Effect.catchIf((error) => error.reason === "Conflict", () => Effect.void)
        )
        return session.id
      }).pipe(
        Effect.provideService(IdGenerator.IdGenerator, seeded(stepTag(run.executionId, "start"), 0)),
        Effect.mapError((error) =>
          Schema.is(DurableError)(error)
            ? { reason: error.reason, detail: error.detail }
            : { reason: "StoreFailed" as const, detail: messageOf(error) }
        )
      )
    })
    const inputId = yield* start
    const input = yield* run.store.load(inputId)
    const result = yield* Workflow.call(definition.step, input).pipe(
      Effect.provideService(Workflow.Durability, durability),
      Effect.provideService(CurrentPosition, position),
      Effect.provideService(CurrentExecution, run.executionId)
    )
    return { sessionId: result.id }
  }).pipe(
    Effect.catchAll((error) =>
      Effect.fail(
        Schema.is(DurableError)(error)
          ? error
          : Schema.is(StepFailure)(error)
          ? new DurableError({
            reason: error.reason,
            workflow: run.workflow,
            executionId: run.executionId,
            detail: error.detail
          })
          : new DurableError({
            reason: "StepFailed",
            workflow: run.workflow,
            executionId: run.executionId,
            detail: messageOf(error)
          })
      )
    ),
    Effect.catchAllDefect((defect) =>
      Schema.is(DurableError)(defect)
        ? Effect.fail(defect)
        : Effect.fail(
          new DurableError({
            reason: "StepFailed",
            workflow: run.workflow,
            executionId: run.executionId,
            detail: messageOf(defect)
          })
        )
    )
  )
