/**
 * The journal: where agents and workflows report the session as they go.
 *
 * An agent run reports after its start-up (spec, instructions, what `beforeRun` added, with the
 * run's spec as metadata), after each answer that calls tools (before they run), after each turn's
 * tool results (once for all of them), and with its `rath.run.end`: everything it appended is
 * reported before its next model call starts, and the run waits for the journal before it goes
 * on. Workflows report the sessions they make (a `Workflow.make` step, the forks, results and
 * merge of `Workflow.parallel`). A report can fail with a typed {@link JournalError}, which fails
 * the run that reported.
 *
 * The journal in effect is a `Context.Reference` whose default, {@link noop}, hears nothing.
 * {@link layerStore} (and `Resume.persist` around a part of a program) saves every report to the
 * `SessionStore`; `Workflow.withTimeout` and `Workflow.parallel` listen with {@link observe} to
 * know what a step had made when it is cut short.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Run from "./Run.js"
import * as Session from "./Session.js"
import * as SessionStore from "./SessionStore.js"

/**
 * A report could not be taken (a save failed): the run that reported stops with it.
 *
 * @since 0.1.0
 * @category errors
 */
export class JournalError extends Schema.TaggedError<JournalError>("rath/JournalError")("JournalError", {
  reason: Schema.Literal("SaveFailed"),
  /** The session that was reported. */
  sessionId: Session.SessionId,
  detail: Schema.String,
  /** The store's error, when a save failed. */
  cause: Schema.optional(SessionStore.SessionStoreError)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} reporting session ${this.sessionId}: ${this.detail}`
  }
}

/**
 * What a report may say besides the session: an agent's first report of a run carries the run's
 * spec (the store keeps it on the session row, so the run can be found and resumed).
 *
 * @since 0.1.0
 * @category models
 */
export interface Meta {
  readonly agent?: Run.Spec | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly report: (session: Session.Session, meta?: Meta) => Effect.Effect<void, JournalError>
}

/**
 * The journal that hears nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noop: Service = { report: () => Effect.void }

const SavesTo = Symbol.for("rath/Journal/savesTo")

interface Saving extends Service {
  [SavesTo]: SessionStore.Service
}

/**
 * The journal in effect. Default: {@link noop}.
 *
 * @since 0.1.0
 * @category tags
 */
export class Journal extends Context.Reference<Journal>()("rath/Journal", {
  defaultValue: (): Service => noop
}) {}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerNoop: Layer.Layer<never> = Layer.succeed(Journal, noop)

/**
 * Reports a session to the journal in effect.
 *
 * @since 0.1.0
 * @category combinators
 */
export const report = (session: Session.Session, meta?: Meta): Effect.Effect<void, JournalError> =>
  Effect.flatMap(Journal, (journal) => journal === noop ? Effect.void : journal.report(session, meta))

/**
 * Runs `self` with a journal that first tells `listener` each report, then passes it on to the
 * journal that was in effect.
 *
 * @since 0.1.0
 * @category combinators
 */
export const observe: {
  (
    listener: (session: Session.Session) => Effect.Effect<void>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    listener: (session: Session.Session) => Effect.Effect<void>
  ): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    listener: (session: Session.Session) => Effect.Effect<void>
  ): Effect.Effect<A, E, R> => observeImpl(self, listener)
)

const observeImpl = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  listener: (session: Session.Session) => Effect.Effect<void>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Journal, (outer) => {
    const observed: Service & Partial<Saving> = {
      report: (session, meta) =>
        outer === noop ? listener(session) : Effect.zipRight(listener(session), outer.report(session, meta))
    }
    // a listener passes everything on: if the journal outside saves every report, so does this one
    const store = (outer as Partial<Saving>)[SavesTo]
    if (store !== undefined) observed[SavesTo] = store
    return Effect.provideService(self, Journal, observed)
  })

/**
 * Whether `journal` already saves every report to `store` (so that a `Resume.persist` inside
 * {@link layerStore} on the same store does not save each value twice).
 *
 * @since 0.1.0
 * @category guards
 */
export const savesTo = (journal: Service, store: SessionStore.Service): boolean =>
  (journal as Partial<Saving>)[SavesTo] === store

/**
 * A journal that saves each report to `store` (the run's spec as the session's agent record),
 * then passes it on to `outer`. A failed save is a {@link JournalError} carrying the
 * `SessionStoreError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const saving = (store: SessionStore.Service, outer: Service = noop): Service => {
  const report = (session: Session.Session, meta?: Meta): Effect.Effect<void, JournalError> => {
    const saved = store.save(session, meta?.agent === undefined ? undefined : { agent: meta.agent }).pipe(
      Effect.mapError((cause) =>
        new JournalError({ reason: "SaveFailed", sessionId: session.id, detail: cause.message, cause })
      )
    )
    return outer === noop ? Effect.asVoid(saved) : Effect.zipRight(saved, outer.report(session, meta))
  }
  const service: Saving = { report, [SavesTo]: store }
  return service
}

/**
 * A journal that saves every report of the program it is provided to to the `SessionStore` the
 * layer is built with (each entry is durable before the next model call starts), then passes it on
 * to the journal that was in effect. A failed save fails the run that reported with a
 * {@link JournalError}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStore: Layer.Layer<never, never, SessionStore.SessionStore> = Layer.effect(
  Journal,
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const outer = yield* Journal
    return savesTo(outer, store) ? outer : saving(store, outer)
  })
)
