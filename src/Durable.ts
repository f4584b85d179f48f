/**
 * Durable runs: rath workflows on Effect's own distributed engine (`@effect/workflow` over
 * `@effect/cluster`), so a long multi-agent run survives a crash, a deploy or the loss of the
 * machine running it. Import it as `rath/Durable`; `import "rath"` does not load the cluster.
 *
 * - {@link define} names a workflow (any rath step: an agent, `Workflow.andThen`,
 *   `Workflow.parallel`, `Workflow.loop`, a compressor, {@link route} over a selector).
 *   {@link layerSingle} (one machine, SQLite) and {@link layerRunner} (several runners sharing
 *   Postgres) register the workflows and provide the {@link Durable} service; {@link layerClient}
 *   provides it to a program that only drives runs (a client of the runners, running nothing).
 * - Each agent run, selector decision, compressor call, fork and merge is a durable step (an
 *   `Activity`) named by its position in the workflow (`step/0/parallel/1/0/agent:coder`). A step
 *   that ran before returns its stored result; a step cut short by a crash continues its own
 *   earlier run from the `SessionStore` (an agent with `Resume`), so no model call that has a
 *   recorded answer is made again. Ids derive from the execution id and the step's position, so
 *   two overlapping attempts of a step write the same session: the store's compare-and-set lets
 *   one write, and the other takes its result or continues what it stored (`takeoverAfter`).
 * - {@link submit}, {@link poll}, {@link wait}, {@link interrupt} and {@link approve} drive runs
 *   from outside; a tool call that needs approval waits on a `DurableDeferred` that survives
 *   restarts. {@link idempotencyKey} gives a tool body a key for its external effects.
 *
 * See docs/distributed.md.
 *
 * @since 0.2.0
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SingleRunner from "@effect/cluster/SingleRunner"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as WorkflowEngine from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Approval from "./Approval.js"
import * as internal from "./internal/durable/engine.js"
import { type Definition, DurableError, RunRequest, type Service, type Status } from "./internal/durable/model.js"
import type * as Session from "./Session.js"
import * as SessionStore from "./SessionStore.js"
import type * as Tool from "./Tool.js"
import type * as Workflow from "./Workflow.js"

// -----------------------------------------------------------------------------
// errors and requests
// -----------------------------------------------------------------------------

export {
  /**
   * Why a durable run could not be submitted, driven or finished (see its `reason`).
   *
   * @since 0.2.0
   * @category errors
   */
  DurableError,
  /**
   * A run request: `prompt`, optional `workspace` and idempotency `key`.
   *
   * @since 0.2.0
   * @category models
   */
  RunRequest
} from "./internal/durable/model.js"

/**
 * Names a workflow for {@link layerSingle} / {@link layerRunner} / {@link layerClient}. The name is what
 * {@link submit} asks for; it must be the same on every runner.
 *
 * @since 0.2.0
 * @category constructors
 */
export const define = <E, R>(name: string, step: Workflow.Step<E, R>): Definition<R> => ({ name, step })

export type {
  /**
   * A named workflow a runner can run.
   *
   * @since 0.2.0
   * @category models
   */
  Definition,
  /**
   * What the durable-runs service does.
   *
   * @since 0.2.0
   * @category models
   */
  Service,
  /**
   * Where a run is: `Running`, `Suspended` (waiting for an approval), `Done` (with the result's
   * session id) or `Failed`.
   *
   * @since 0.2.0
   * @category models
   */
  Status
} from "./internal/durable/model.js"

/**
 * The durable runs of this process (submitting, polling, approving). Provided by
 * {@link layerSingle} and {@link layerRunner}.
 *
 * @since 0.2.0
 * @category tags
 */
export class Durable extends Context.Tag("rath/Durable")<Durable, Service>() {}

// -----------------------------------------------------------------------------
// operations
// -----------------------------------------------------------------------------

/**
 * Starts a run of the workflow registered as `name` with `input` (a {@link RunRequest}). Fails
 * with `UnknownWorkflow` or `InvalidRequest`, and writes nothing then.
 *
 * @since 0.2.0
 * @category operations
 */
export const submit = (name: string, input: unknown): Effect.Effect<string, DurableError, Durable> =>
  Effect.flatMap(Durable, (durable) => durable.submit(name, input))

/**
 * @since 0.2.0
 * @category operations
 */
export const poll = (executionId: string): Effect.Effect<Status, DurableError, Durable> =>
  Effect.flatMap(Durable, (durable) => durable.poll(executionId))

/**
 * Waits for a run to finish: its result session, or its error.
 *
 * @since 0.2.0
 * @category operations
 */
export const wait = (executionId: string): Effect.Effect<Session.Session, DurableError, Durable> =>
  Effect.flatMap(Durable, (durable) => durable.wait(executionId))

/**
 * @since 0.2.0
 * @category operations
 */
export const interrupt = (executionId: string): Effect.Effect<void, DurableError, Durable> =>
  Effect.flatMap(Durable, (durable) => durable.interrupt(executionId))

/**
 * Answers the approval that tool call `callId` of run `executionId` waits for. The answer is
 * stored by the engine: a run waiting on a runner that restarts gets it too.
 *
 * @since 0.2.0
 * @category operations
 */
export const approve = (
  executionId: string,
  callId: string,
  decision: Approval.Decision
): Effect.Effect<void, DurableError, Durable> =>
  Effect.flatMap(Durable, (durable) => durable.approve(executionId, callId, decision))

/**
 * The idempotency key of a tool call inside a durable run: `<execution id>/<call id>`. A step
 * that runs again after a crash may run a tool call whose result was not saved again, with the
 * same call id (the model's answer is not asked again): a tool with external effects (a payment,
 * an email, a row written elsewhere) passes this key to the outside system, or keeps a table of
 * keys it has applied. Outside a durable run it is the call id.
 *
 * @since 0.2.0
 * @category getters
 */
export const idempotencyKey = (ctx: Tool.CallContext): Effect.Effect<string> =>
  Effect.map(
    internal.CurrentExecution,
    (executionId) => executionId === "" ? ctx.callId : `${executionId}/${ctx.callId}`
  )

/**
 * A selector loop step for durable runs: the selector's decision is one durable step, then the
 * chosen workflow runs as a child (an agent: its own durable step). Outside a durable run it
 * behaves like `Selector.route`.
 *
 * @since 0.2.0
 * @category combinators
 */
export const route: <W extends Workflow.Workflow<any, any>>(
  selector: internal.SelectorLike<W>
) => Workflow.Workflow<
  Workflow.ErrorOf<W> | internal.SelectorErrorOf<typeof selector>,
  Workflow.ContextOf<W> | internal.SelectorContextOf<typeof selector>
> = internal.route

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Options shared by the layers.
 *
 * @since 0.2.0
 * @category models
 */
export interface CommonOptions<R> {
  /** The workflows this runner runs (see {@link define}). */
  readonly workflows: ReadonlyArray<Definition<R>>
  /**
   * The root of the run workspaces, on storage every runner reaches (a shared mount). A run
   * request's `workspace` names a directory under it; a step whose directory is missing fails with
   * `WorkspaceUnreachable`.
   */
  readonly workspaceRoot?: string | undefined
  /** Sandbox backend of the workspace placement (default `"local"`). */
  readonly sandboxBackend?: string | undefined
  /** Extra settings of the cluster's sharding. */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /**
   * Two attempts of one step may overlap (a shard moved while its old owner still ran the step).
   * The attempt that loses the store's compare-and-set waits for the winner to finish the step and
   * takes its result; if the winner's session stops growing for this long (its runner died), the
   * loser continues it. Default 30 seconds: longer than a model call.
   */
  readonly takeoverAfter?: Duration.DurationInput | undefined
}

/**
 * Options of {@link layerSingle}.
 *
 * @since 0.2.0
 * @category models
 */
export interface SingleOptions<R> extends CommonOptions<R> {
  /** The rath `SessionStore` (SQLite) file. */
  readonly storeFile: string
  /** The cluster's message and runner storage (SQLite); default `<storeFile>.cluster`. */
  readonly clusterFile?: string | undefined
}

/**
 * One machine: the cluster's `SingleRunner` with its message storage in SQLite, and rath's SQLite
 * `SessionStore`. Provides {@link Durable} and the `SessionStore` runs are saved in. What it needs
 * (`R`: a `Provider`, a `Sandbox`, ...) is what the workflows need.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSingle = <R>(
  options: SingleOptions<R>
): Layer.Layer<
  Durable | SessionStore.SessionStore | WorkflowEngine.WorkflowEngine,
  DurableError,
  internal.Needs<R>
> => {
  const cluster = SingleRunner.layer({
    runnerStorage: "sql",
    shardingConfig: {
      entityMessagePollInterval: 100,
      entityReplyPollInterval: 50,
      ...options.shardingConfig
    }
  }).pipe(
    Layer.provide(SqliteClient.layer({ filename: options.clusterFile ?? `${options.storeFile}.cluster` }))
  )
  return Layer.scoped(Durable, internal.make(options)).pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer.pipe(Layer.provide(cluster))),
    Layer.provideMerge(SessionStore.layer({ filename: options.storeFile })),
    Layer.mapError((cause) => new DurableError({ reason: "StoreFailed", detail: messageOf(cause) }))
  ) as never
}

/**
 * Options of {@link layerRunner}.
 *
 * @since 0.2.0
 * @category models
 */
export interface RunnerOptions<R> extends CommonOptions<R> {
  /** The Postgres URL of the cluster's storage (and the default `SessionStore`). */
  readonly url: Redacted.Redacted | string
  /** The address other runners reach this one at. */
  readonly host: string
  readonly port: number
  /** How long a dead runner's shards stay locked (default here 5 s; the cluster's own default is 35 s). */
  readonly shardLockExpiration?: Duration.DurationInput | undefined
  /** How often a live runner refreshes its shard locks (default here 1 s). */
  readonly shardLockRefreshInterval?: Duration.DurationInput | undefined
  /**
   * The `SessionStore` runs are saved in. Default: none is built here, provide one (for example
   * `SessionStore.layerPg` / `layerFromUrl` on the same Postgres).
   */
}

/**
 * A runner of a cluster: `NodeClusterSocket` (TCP) with its message and runner storage in
 * Postgres. Several runners on the same Postgres share the runs: when a runner dies, its shards
 * move to the others after `shardLockExpiration`, and its runs continue there. The
 * `SessionStore` must be one every runner shares (provide it: Postgres).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRunner = <R>(
  options: RunnerOptions<R>
): Layer.Layer<
  Durable | WorkflowEngine.WorkflowEngine,
  DurableError,
  internal.Needs<R> | SessionStore.SessionStore
> => {
  const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
  const cluster = NodeClusterSocket.layer({
    storage: "sql",
    shardingConfig: {
      runnerAddress: internal.runnerAddress(options.host, options.port),
      shardLockExpiration: options.shardLockExpiration ?? "5 seconds",
      shardLockRefreshInterval: options.shardLockRefreshInterval ?? "1 second",
      ...options.shardingConfig
    }
  }).pipe(Layer.provide(PgClient.layer({ url })), startingTogether)
  return Layer.scoped(Durable, internal.make(options)).pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer.pipe(Layer.provide(cluster))),
    Layer.mapError((cause) => new DurableError({ reason: "StoreFailed", detail: messageOf(cause) }))
  ) as never
}

/**
 * Options of {@link layerClient}.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClientOptions {
  /** The Postgres URL of the cluster's storage (the runners' `url`). */
  readonly url: Redacted.Redacted | string
  /** The workflows, by name (see {@link define}); the runners run them, the client only names them. */
  readonly workflows: ReadonlyArray<Definition<any>>
  /** Extra settings of the cluster's sharding. */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

/**
 * A client of a cluster of runners: a member that takes no shards and runs nothing, for the
 * programs that {@link submit}, {@link poll}, {@link wait}, {@link interrupt} and {@link approve}
 * (a web server, a CLI, a test). It needs the `SessionStore` the runners save in ({@link wait}
 * loads the result from it).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClient = (
  options: ClientOptions
): Layer.Layer<Durable | WorkflowEngine.WorkflowEngine, DurableError, SessionStore.SessionStore> => {
  const url = typeof options.url === "string" ? Redacted.make(options.url) : options.url
  const cluster = NodeClusterSocket.layer({
    clientOnly: true,
    storage: "sql",
    shardingConfig: { ...options.shardingConfig }
  }).pipe(Layer.provide(PgClient.layer({ url })), startingTogether)
  return Layer.scoped(Durable, internal.make({ workflows: options.workflows, register: false })).pipe(
    Layer.provideMerge(ClusterWorkflowEngine.layer.pipe(Layer.provide(cluster))),
    Layer.mapError((cause) => new DurableError({ reason: "StoreFailed", detail: messageOf(cause) }))
  ) as never
}

/**
 * The cluster's layer, tried again a few times: members that start together on a fresh database
 * race on the cluster's own table migrations, and the loser's statement fails (a defect there).
 */
const startingTogether = <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, unknown, R> =>
  layer.pipe(
    Layer.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Layer.failCause(cause) : Layer.fail(Cause.squash(cause))
    ),
    Layer.retry(Schedule.intersect(Schedule.spaced("1 second"), Schedule.recurs(3)))
  )

const messageOf = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause ? String(cause.message) : String(cause)

// re-exported so that a caller can decode a request without the service
/**
 * Decodes a run request, failing with `InvalidRequest`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const decodeRequest = (input: unknown, workflow?: string): Effect.Effect<RunRequest, DurableError> =>
  Schema.decodeUnknown(RunRequest)(input).pipe(
    Effect.mapError((error) =>
      new DurableError({
        reason: "InvalidRequest",
        workflow,
        detail: ParseResult.TreeFormatter.formatErrorSync(error)
      })
    )
  )
