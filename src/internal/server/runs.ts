/**
 * The run manager: starts registered workflows on sessions, keeps each run's event log (entries
 * as saved, approvals, status) with strictly increasing sequence numbers, answers approvals, and
 * records every run in the store (a run-record session), so a new server over the same store
 * finds the runs that were in flight and resumes them.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Agent from "../../Agent.js"
import * as Approval from "../../Approval.js"
import * as Entry from "../../Entry.js"
import * as IdGenerator from "../../IdGenerator.js"
import * as Journal from "../../Journal.js"
import * as Resume from "../../Resume.js"
import * as Session from "../../Session.js"
import * as SessionStore from "../../SessionStore.js"
import type * as Workflow from "../../Workflow.js"
import type * as Api from "./api.js"

/** The author of run-record sessions; `GET /api/sessions` leaves them out. */
export const RECORD_AUTHOR: Entry.Author = { kind: "program", name: "rath.server.run" }
/** The agent record a run-record session is saved with (how the store finds them). */
export const RECORD_AGENT = { name: RECORD_AUTHOR.name }

/** Whether a stored row is a run record. */
export const isRecordRow = (row: SessionStore.Summary): boolean =>
  Option.exists(
    row.agent,
    (a) => typeof a === "object" && a !== null && (a as { name?: unknown }).name === RECORD_AUTHOR.name
  )

const RUN_START = "rath.server.run"
const RUN_SESSION = "rath.server.run.session"
const RUN_END = "rath.server.run.end"

const StartData = Schema.Struct({
  id: Schema.String,
  workflow: Schema.String,
  session: Schema.String,
  startedAt: Schema.Number
})
const SessionData = Schema.Struct({ session: Schema.String })
const EndData = Schema.Struct({
  status: Schema.Literal("done", "failed", "interrupted"),
  result: Schema.NullOr(Schema.String),
  endedAt: Schema.Number,
  error: Schema.NullOr(Schema.String)
})

/** A registered workflow: a step over a session, its name and description. */
export interface Registered {
  readonly name: string
  readonly description: string
  readonly step: Workflow.Step<unknown, never>
}

/** One event of a run's stream. */
export interface RunEvent {
  readonly seq: number
  readonly event: "entry" | "approval" | "status" | "end"
  readonly data: unknown
}

/** One event of the store-wide stream. */
export interface StoreEvent {
  readonly event: "session" | "run"
  readonly data: unknown
}

interface Pending {
  readonly approval: Api.Approval
  readonly answer: Deferred.Deferred<Approval.Decision>
}

interface RunState {
  info: Api.RunInfo
  readonly events: Array<RunEvent>
  readonly count: SubscriptionRef.SubscriptionRef<number>
  readonly emitted: Map<string, number>
  readonly sessions: Set<string>
  record: Session.Session
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  interruptRequested: boolean
  readonly lock: Effect.Semaphore
}

const iso = (millis: number) => new Date(millis).toISOString()

const encodeEntry = Schema.encodeSync(Entry.Entry)

/** The error text of a cause, for `RunInfo.error`. */
const errorText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

/** Whether a step is an agent (it can be resumed with `Resume.resume`). */
const asAgent = (step: Workflow.Step<unknown, never>): Agent.Agent<unknown, never> | undefined =>
  "toolkit" in step && "definitions" in step && "instructionsHash" in step
    ? step as unknown as Agent.Agent<unknown, never>
    : undefined

/** Why a request about runs fails. */
export type Failure =
  | { readonly _tag: "NotFound"; readonly error: string }
  | { readonly _tag: "Conflict"; readonly error: string }
  | { readonly _tag: "Store"; readonly error: string }

const storeFailure = (error: SessionStore.SessionStoreError): Failure =>
  error.reason === "NotFound" ? { _tag: "NotFound", error: error.message } : { _tag: "Store", error: error.message }

/** The run manager. */
export interface Manager {
  readonly workflows: ReadonlyArray<Registered>
  readonly start: (
    workflow: Registered,
    session: Session.Session
  ) => Effect.Effect<Api.RunInfo, Failure>
  readonly list: (status?: Api.RunStatus) => ReadonlyArray<Api.RunInfo>
  readonly get: (id: string) => Option.Option<Api.RunInfo>
  readonly events: (id: string, after: number) => Option.Option<Stream.Stream<RunEvent>>
  readonly interrupt: (id: string) => Effect.Effect<Api.RunInfo, Failure>
  readonly approvals: () => ReadonlyArray<Api.Approval>
  readonly answer: (id: string, decision: Approval.Decision) => Effect.Effect<boolean>
  readonly storeEvents: Stream.Stream<StoreEvent>
  /** The run that wrote a session, if this server knows it. */
  readonly runOf: (session: string) => string | undefined
  /** Sessions whose run is in flight (status `running` or `waiting`). */
  readonly statusOf: (session: string) => Api.RunStatus | undefined
}

/**
 * Makes the manager for the scope: runs are forked into it (closing it stops them without
 * recording an end, so the next server resumes them); in-flight runs of the store are resumed.
 */
export const make = (options: {
  readonly store: SessionStore.Service
  readonly workflows: ReadonlyArray<Registered>
  readonly context: Context.Context<never>
}): Effect.Effect<Manager, SessionStore.SessionStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const { store } = options
    const scope = yield* Effect.scope
    const runs = new Map<string, RunState>()
    const bySession = new Map<string, string>()
    const pending = new Map<string, Pending>()
    const hub = yield* PubSub.unbounded<StoreEvent>()
    const byName = new Map(options.workflows.map((w) => [w.name, w]))

    const push = (state: RunState, event: RunEvent["event"], data: unknown) =>
      Effect.suspend(() => {
        const seq = state.events.length + 1
        state.events.push({ seq, event, data })
        return SubscriptionRef.set(state.count, seq)
      })

    const setStatus = (state: RunState, patch: Partial<Api.RunInfo>) =>
      Effect.suspend(() => {
        state.info = { ...state.info, ...patch }
        return Effect.zipRight(
          push(state, "status", state.info),
          PubSub.publish(hub, { event: "run", data: state.info })
        )
      })

    /** Appends a record entry to the run-record session and saves it (one writer at a time). */
    const recordEntry = (state: RunState, type: string, data: unknown) =>
      state.lock.withPermits(1)(Effect.gen(function*() {
        state.record = yield* Session.append(state.record, Entry.custom(type, data, { author: RECORD_AUTHOR }))
        yield* store.save(state.record, { agent: RECORD_AGENT })
      }))

    /** Emits the entries of a reported (and saved) session that the stream has not had yet. */
    const onReport = (state: RunState) => (session: Session.Session) =>
      Effect.gen(function*() {
        const from = state.emitted.get(session.id) ?? session.base
        if (!state.sessions.has(session.id)) {
          state.sessions.add(session.id)
          bySession.set(session.id, state.info.id)
          yield* recordEntry(state, RUN_SESSION, { session: session.id }).pipe(
            Effect.catchAll((error) => Effect.logWarning(`run ${state.info.id}: ${error.message}`))
          )
        }
        if (session.length <= from) return
        state.emitted.set(session.id, session.length)
        const all = Session.entries(session)
        for (let index = from; index < session.length; index++) {
          yield* push(state, "entry", {
            session: session.id,
            index,
            entry: encodeEntry(Chunk.unsafeGet(all, index))
          })
        }
        yield* PubSub.publish(hub, {
          event: "session",
          data: {
            id: session.id,
            updatedAt: iso(yield* Clock.currentTimeMillis),
            entries: session.length,
            status: state.info.status
          }
        })
      })

    const approvalService = (state: RunState): Approval.Service => ({
      decide: (request) =>
        Effect.gen(function*() {
          const id = yield* IdGenerator.generate("appr")
          const answer = yield* Deferred.make<Approval.Decision>()
          const approval: Api.Approval = {
            id,
            run: state.info.id,
            session: request.sessionId,
            tool: request.call.name,
            call: request.call.id,
            arguments: request.arguments,
            requestedAt: iso(yield* Clock.currentTimeMillis)
          }
          pending.set(id, { approval, answer })
          yield* push(state, "approval", approval)
          yield* setStatus(state, { status: "waiting" })
          return yield* Deferred.await(answer).pipe(
            Effect.ensuring(Effect.suspend(() => {
              pending.delete(id)
              const still = [...pending.values()].some((p) => p.approval.run === state.info.id)
              return still || state.info.status !== "waiting" ? Effect.void : setStatus(state, { status: "running" })
            }))
          )
        })
    })

    /** Runs `program` as the run of `state`: saved as it goes, its end recorded. */
    const launch = (state: RunState, program: Effect.Effect<Session.Session, unknown, never>) =>
      Effect.gen(function*() {
        const run = Resume.persist(program).pipe(
          Effect.provideService(SessionStore.SessionStore, store),
          Journal.observe(onReport(state)),
          Effect.provideService(Approval.Approval, approvalService(state)),
          Effect.provide(options.context),
          Effect.onExit((exit) =>
            Effect.gen(function*() {
              const interrupted = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
              // stopped by the server closing, not by a request: no end, the next server resumes it
              if (interrupted && !state.interruptRequested) return
              const endedAt = yield* Clock.currentTimeMillis
              const end = {
                status: Exit.isSuccess(exit)
                  ? "done" as const
                  : interrupted
                  ? "interrupted" as const
                  : "failed" as const,
                result: Exit.isSuccess(exit) ? exit.value.id : null,
                endedAt,
                error: Exit.isFailure(exit) && !interrupted ? errorText(exit.cause) : null
              }
              yield* recordEntry(state, RUN_END, end).pipe(
                Effect.catchAll((error) => Effect.logWarning(`run ${state.info.id}: ${error.message}`))
              )
              for (const [id, p] of pending) if (p.approval.run === state.info.id) pending.delete(id)
              yield* setStatus(state, { ...end, endedAt: iso(endedAt) })
              yield* push(state, "end", { id: state.info.id, status: end.status })
            })
          )
        )
        state.fiber = yield* Effect.forkIn(run, scope)
      })

    const newState = (info: Api.RunInfo, record: Session.Session) =>
      Effect.gen(function*() {
        const count = yield* SubscriptionRef.make(0)
        const lock = yield* Effect.makeSemaphore(1)
        const state: RunState = {
          info,
          events: [],
          count,
          emitted: new Map(),
          sessions: new Set(),
          record,
          fiber: undefined,
          interruptRequested: false,
          lock
        }
        runs.set(info.id, state)
        return state
      })

    const start = (workflow: Registered, session: Session.Session) =>
      Effect.gen(function*() {
        const id = yield* IdGenerator.generate("run")
        const startedAt = yield* Clock.currentTimeMillis
        yield* store.save(session)
        const record = yield* Session.make(
          [Entry.custom(RUN_START, { id, workflow: workflow.name, session: session.id, startedAt }, {
            author: RECORD_AUTHOR
          })]
        )
        yield* store.save(record, { agent: RECORD_AGENT })
        const state = yield* newState({
          id,
          workflow: workflow.name,
          status: "running",
          session: session.id,
          result: null,
          startedAt: iso(startedAt),
          endedAt: null,
          error: null
        }, record)
        state.emitted.set(session.id, 0)
        yield* onReport(state)(session)
        yield* PubSub.publish(hub, { event: "run", data: state.info })
        yield* push(state, "status", state.info)
        yield* launch(state, workflow.step(session) as Effect.Effect<Session.Session, unknown, never>)
        return state.info
      }).pipe(Effect.mapError(storeFailure))

    /** A stored run record: its info, the sessions it wrote, and whether it ended. */
    const readRecord = (record: Session.Session) => {
      let start: typeof StartData.Type | undefined
      let end: typeof EndData.Type | undefined
      const sessions: Array<string> = []
      for (const entry of Session.entries(record)) {
        if (entry._tag !== "Custom") continue
        if (entry.type === RUN_START) start = Option.getOrUndefined(Schema.decodeUnknownOption(StartData)(entry.data))
        else if (entry.type === RUN_SESSION) {
          Option.map(Schema.decodeUnknownOption(SessionData)(entry.data), (d) => sessions.push(d.session))
        } else if (entry.type === RUN_END) end = Option.getOrUndefined(Schema.decodeUnknownOption(EndData)(entry.data))
      }
      return start === undefined ? undefined : { start, end, sessions }
    }

    /** Resumes a run a stopped server left in flight: an agent from where it was cut, else from its start. */
    const resumeRun = (state: RunState, workflow: Registered, sessions: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const agent = asAgent(workflow.step)
        for (const id of sessions) {
          state.sessions.add(id)
          bySession.set(id, state.info.id)
        }
        if (agent !== undefined) {
          for (const id of [...sessions].reverse()) {
            const latest = yield* Effect.option(store.load(id))
            if (Option.isNone(latest)) continue
            const found = Resume.inspect(latest.value)
            if (Option.isSome(found) && found.value.spec.name === agent.name) {
              state.emitted.set(id, latest.value.length)
              return yield* launch(
                state,
                Resume.resume(agent)(latest.value) as Effect.Effect<Session.Session, unknown, never>
              )
            }
          }
        }
        const first = yield* store.load(state.info.session)
        yield* launch(state, workflow.step(first) as Effect.Effect<Session.Session, unknown, never>)
      })

    // the runs of the store: ended ones are listed, the ones in flight resumed
    const records = yield* store.list({ agent: RECORD_AUTHOR.name })
    for (const row of records) {
      if (!isRecordRow(row)) continue
      const record = yield* store.load(row.id)
      const read = readRecord(record)
      if (read === undefined) continue
      const { end, sessions, start } = read
      const state = yield* newState({
        id: start.id,
        workflow: start.workflow,
        status: end?.status ?? "running",
        session: start.session,
        result: end?.result ?? null,
        startedAt: iso(start.startedAt),
        endedAt: end === undefined ? null : iso(end.endedAt),
        error: end?.error ?? null
      }, record)
      for (const id of sessions) bySession.set(id, start.id)
      bySession.set(start.session, start.id)
      if (end !== undefined) {
        yield* push(state, "status", state.info)
        yield* push(state, "end", { id: start.id, status: end.status })
        continue
      }
      const workflow = byName.get(start.workflow)
      if (workflow === undefined) {
        yield* Effect.logWarning(`run ${start.id}: workflow ${start.workflow} is not registered: not resumed`)
        continue
      }
      yield* push(state, "status", state.info)
      yield* resumeRun(state, workflow, sessions).pipe(
        Effect.catchAll((error) => setStatus(state, { status: "failed", error: error.message }))
      )
    }

    const manager: Manager = {
      workflows: options.workflows,
      start,
      list: (status) =>
        [...runs.values()].map((s) => s.info).filter((i) => status === undefined || i.status === status),
      get: (id) => Option.map(Option.fromNullable(runs.get(id)), (s) => s.info),
      events: (id, after) =>
        Option.map(Option.fromNullable(runs.get(id)), (state) => {
          let cursor = after
          return state.count.changes.pipe(
            Stream.mapConcat((count) => {
              const out = state.events.slice(cursor, count)
              cursor = Math.max(cursor, count)
              return out
            }),
            Stream.takeUntil((event) => event.event === "end")
          )
        }),
      interrupt: (id) =>
        Effect.gen(function*() {
          const state = runs.get(id)
          if (state === undefined) return yield* Effect.fail<Failure>({ _tag: "NotFound", error: `no run ${id}` })
          if (state.info.status !== "running" && state.info.status !== "waiting") {
            return yield* Effect.fail<Failure>({
              _tag: "Conflict",
              error: `run ${id} is ${state.info.status}: only a running or waiting run can be interrupted`
            })
          }
          state.interruptRequested = true
          if (state.fiber !== undefined) yield* Fiber.interrupt(state.fiber)
          return state.info
        }),
      approvals: () => [...pending.values()].map((p) => p.approval),
      answer: (id, decision) =>
        Effect.suspend(() => {
          const found = pending.get(id)
          if (found === undefined) return Effect.succeed(false)
          pending.delete(id)
          return Effect.as(Deferred.succeed(found.answer, decision), true)
        }),
      storeEvents: Stream.fromPubSub(hub),
      runOf: (session) => bySession.get(session),
      statusOf: (session) => {
        const run = bySession.get(session)
        return run === undefined ? undefined : runs.get(run)?.info.status
      }
    }
    return manager
  })
