/**
 * Human (or policy) approval of tool calls.
 *
 * A tool made with `needsApproval` is not run until the current `Approval` service decides:
 * approve (run it as the model asked), reject (do not run it; the model reads a `rejected` tool
 * result with the reason) or edit (run it with other arguments). The agent records the decision
 * in the tool-result entry's `approval` field.
 *
 * `Approval` is a `Context.Reference` whose default, {@link none}, approves nothing: a tool that
 * needs approval is never run by accident because no one was asked. {@link layerQueue} asks
 * through a queue (a UI or CLI answers each request), {@link layerTest} decides with a function
 * and {@link layerApproveAll} approves everything (say so on purpose).
 *
 * The decision is made by the tool executor (`Tool.execute`) before the call runs, so a replay,
 * whose executor answers from the recording, asks no one.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Entry from "./Entry.js"

/**
 * What is asked: which agent wants to run which call, with which (decoded) arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly agent: string
  readonly sessionId: string
  readonly call: Entry.ToolCall
  readonly arguments: unknown
}

/**
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | { readonly _tag: "Approve"; readonly by?: string | undefined }
  | { readonly _tag: "Reject"; readonly reason: string; readonly by?: string | undefined }
  | {
    readonly _tag: "Edit"
    readonly arguments: unknown
    readonly reason?: string | undefined
    readonly by?: string | undefined
  }

/**
 * @since 0.1.0
 * @category constructors
 */
export const approve = (by?: string): Decision => by === undefined ? { _tag: "Approve" } : { _tag: "Approve", by }

/**
 * @since 0.1.0
 * @category constructors
 */
export const reject = (reason: string, by?: string): Decision =>
  by === undefined ? { _tag: "Reject", reason } : { _tag: "Reject", reason, by }

/**
 * @since 0.1.0
 * @category constructors
 */
export const edit = (args: unknown, options?: { readonly reason?: string; readonly by?: string }): Decision => ({
  _tag: "Edit",
  arguments: args,
  ...options
})

/**
 * The record of a decision, as the tool-result entry keeps it.
 *
 * @since 0.1.0
 * @category getters
 */
export const toEntry = (decision: Decision): Entry.Approval => {
  const by = decision.by === undefined ? {} : { by: decision.by }
  switch (decision._tag) {
    case "Approve":
      return { decision: "approved", ...by }
    case "Reject":
      return { decision: "rejected", reason: decision.reason, ...by }
    case "Edit":
      return { decision: "edited", ...(decision.reason === undefined ? {} : { reason: decision.reason }), ...by }
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly decide: (request: Request) => Effect.Effect<Decision>
}

/**
 * Approves every call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const approveAll: Service = { decide: () => Effect.succeed({ _tag: "Approve", by: "policy:approve-all" }) }

/**
 * The policy in effect when none is provided: it approves nothing. A call that needs approval is
 * not run, and the model reads a `rejected` result that says no policy was provided.
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: Service = {
  decide: () =>
    Effect.succeed({
      _tag: "Reject",
      reason: "no approval policy is provided, so calls that need approval are not run " +
        "(provide one: Approval.layerQueue, Approval.layerTest or Approval.layerApproveAll)",
      by: "policy:none"
    })
}

/**
 * The approval service in effect. Default: {@link none}: approval fails closed.
 *
 * @since 0.1.0
 * @category tags
 */
export class Approval extends Context.Reference<Approval>()("rath/Approval", {
  defaultValue: (): Service => none
}) {}

/**
 * @since 0.1.0
 * @category layers
 */
export const layerApproveAll: Layer.Layer<never> = Layer.succeed(Approval, approveAll)

/**
 * A pending request: answer it once with `respond`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pending {
  readonly request: Request
  readonly respond: (decision: Decision) => Effect.Effect<void>
}

/**
 * An approval service that asks through a queue: each request is offered as a {@link Pending}
 * and the calling tool waits until someone responds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeQueue = (): Effect.Effect<{ readonly service: Service; readonly pending: Queue.Dequeue<Pending> }> =>
  Effect.map(Queue.unbounded<Pending>(), (queue) => ({
    pending: queue,
    service: {
      decide: (request) =>
        Effect.gen(function*() {
          const answer = yield* Deferred.make<Decision>()
          yield* Queue.offer(queue, { request, respond: (decision) => Deferred.succeed(answer, decision) })
          return yield* Deferred.await(answer)
        })
    }
  }))

/**
 * A tag for the queue of pending requests that {@link layerQueue} provides, so a UI can take them.
 *
 * @since 0.1.0
 * @category tags
 */
export class PendingQueue extends Context.Tag("rath/Approval/PendingQueue")<PendingQueue, Queue.Dequeue<Pending>>() {}

/**
 * Asks through a queue; the queue is provided as {@link PendingQueue}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerQueue: Layer.Layer<PendingQueue> = Layer.effectContext(
  Effect.map(
    makeQueue(),
    ({ pending, service }) => Context.make(Approval, service).pipe(Context.add(PendingQueue, pending))
  )
)

/**
 * A test double: decides with a function and records every request.
 *
 * @since 0.1.0
 * @category testing
 */
export const makeTest = (
  decide: (request: Request) => Decision
): Effect.Effect<{ readonly service: Service; readonly requests: Effect.Effect<ReadonlyArray<Request>> }> =>
  Effect.map(Ref.make<ReadonlyArray<Request>>([]), (log) => ({
    requests: Ref.get(log),
    service: {
      decide: (request) => Effect.as(Ref.update(log, (all) => [...all, request]), decide(request))
    }
  }))

/**
 * A layer deciding with a function (for tests).
 *
 * @since 0.1.0
 * @category testing
 */
export const layerTest = (decide: (request: Request) => Decision): Layer.Layer<never> =>
  Layer.effectContext(Effect.map(makeTest(decide), ({ service }) => Context.make(Approval, service)))
