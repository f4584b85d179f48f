/**
 * `rath runner` and `rath run`: durable runs across machines from the command line.
 *
 * - `rath runner --module FILE` starts a runner process of a cluster (socket transport, shards and
 *   messages in Postgres, sessions in the store at `--store`) that runs the workflows the module
 *   exports as `workflows` (`Durable.define(...)` values), with what its `layer` provides.
 * - `rath run submit|status|wait|interrupt|approve` drive runs from outside, as a client-only member
 *   of the same cluster (it takes no shards).
 *
 * Settings come from flags over the `runner` section of `<RATH_HOME>/config.json`. Every failure is
 * a `CliError` whose line says what to do: a store URL that refuses connections, a store written by
 * a newer rath, a workflow no module registers, a malformed run request. Each is checked before
 * anything is written.
 *
 * @since 0.2.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Approval from "../Approval.js"
import * as Durable from "../Durable.js"
import * as ConfigFile from "../internal/configFile.js"
import * as SessionStore from "../SessionStore.js"
import { CliError, messageOf, oneLine } from "./CliError.js"
import { importFile, tsxHint } from "./ModuleLoader.js"

// -----------------------------------------------------------------------------
// settings
// -----------------------------------------------------------------------------

/**
 * A runner's settings, after flags and the config file's `runner` section are combined.
 *
 * @since 0.2.0
 * @category models
 */
export interface Settings {
  /** The Postgres URL of the cluster's storage. */
  readonly url: string
  /** The `SessionStore` URL (default: `url`). */
  readonly store: string
  readonly host: string
  readonly port: number
  readonly shardLockExpiration: Duration.Duration
  readonly shardLockRefreshInterval: Duration.Duration
  /** How long a step attempt that lost to an overlapping one waits for a winner that stopped writing. */
  readonly takeoverAfter: Duration.Duration
  readonly workspaceRoot: string | undefined
  readonly module: string | undefined
}

/**
 * The failover settings the docs give: a dead runner's shards move after 5 s (the cluster's default
 * is 35 s); a live runner refreshes its locks every second.
 *
 * @since 0.2.0
 * @category models
 */
export const tunedFailover = {
  shardLockExpiration: Duration.seconds(5),
  shardLockRefreshInterval: Duration.seconds(1)
} as const

/** A URL with its password masked, for messages. */
export const maskUrl = (url: string): string => url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@")

const parseDurationText = (flag: string, text: string): Effect.Effect<Duration.Duration, CliError> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$/.exec(text)
  if (match === null) {
    return Effect.fail(
      new CliError({ reason: "Usage", detail: `--${flag} ${text} is not a duration: pass one like 5s, 1s or 500ms` })
    )
  }
  const millis = Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "s" ? 1000 : 60_000)
  return millis > 0
    ? Effect.succeed(Duration.millis(millis))
    : Effect.fail(new CliError({ reason: "Usage", detail: `--${flag} ${text}: pass a duration above zero` }))
}

const configSection = Effect.gen(function*() {
  const read = yield* ConfigFile.read.pipe(
    Effect.mapError((error) =>
      new CliError({
        reason: "InvalidData",
        detail: error._tag === "ConfigFileError"
          ? `the config file ${error.path} is not valid: ${error.detail}`
          : `cannot find the config file: ${error.message}`,
        cause: error
      })
    )
  )
  return read.file.runner ?? {}
})

const text = (name: string, description: string) =>
  Options.text(name).pipe(Options.optional, Options.withDescription(description))

const settingsOptions = {
  url: text("url", "the Postgres URL of the cluster's storage (config: runner.url)"),
  store: text("store", "the session store URL: postgres://..., sqlite:<path> (config: runner.store; default: --url)"),
  module: text(
    "module",
    `the workflow module: exports \`workflows\` (Durable.define values) and optionally \`layer\` (config: runner.module); ${tsxHint}`
  )
}

const pick = (flag: Option.Option<string>, configured: string | undefined) =>
  Option.getOrUndefined(Option.orElse(flag, () => Option.fromNullable(configured)))

const required = (value: string | undefined, flag: string, what: string) =>
  value === undefined || value.trim() === ""
    ? Effect.fail(
      new CliError({
        reason: "Usage",
        detail: `no ${what}: pass --${flag}, or set runner.${flag} in the config file (rath runner --help)`
      })
    )
    : Effect.succeed(value)

// -----------------------------------------------------------------------------
// the module
// -----------------------------------------------------------------------------

/**
 * What a workflow module exports.
 *
 * @since 0.2.0
 * @category models
 */
export interface WorkflowModule {
  readonly workflows: ReadonlyArray<Durable.Definition<any>>
  readonly layer: Layer.Layer<any, unknown, never> | undefined
}

const isDefinition = (value: unknown): value is Durable.Definition<any> =>
  typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string" &&
  typeof (value as { step?: unknown }).step === "function"

/**
 * Loads a workflow module: `workflows` (or the default export) is an array of `Durable.define`
 * values with distinct names; `layer`, if exported, provides what they need (a provider, tools'
 * services).
 *
 * @since 0.2.0
 * @category constructors
 */
export const loadModule = (
  file: string
): Effect.Effect<WorkflowModule, CliError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const module = yield* importFile(file)
    const workflows = module.workflows ?? module.default
    if (!Array.isArray(workflows) || workflows.length === 0 || !workflows.every(isDefinition)) {
      return yield* new CliError({
        reason: "Usage",
        detail: `${file} exports no workflows: export \`workflows\`, an array of Durable.define(name, step) values`
      })
    }
    const names = workflows.map((definition) => definition.name)
    const twice = names.find((name, i) => names.indexOf(name) !== i)
    if (twice !== undefined) {
      return yield* new CliError({ reason: "Usage", detail: `${file} defines the workflow ${twice} twice: rename one` })
    }
    if (module.layer !== undefined && !Layer.isLayer(module.layer)) {
      return yield* new CliError({ reason: "Usage", detail: `${file} exports a \`layer\` that is not a Layer` })
    }
    return { workflows, layer: module.layer as WorkflowModule["layer"] }
  })

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * A store error as the CLI's: a refused connection says where and what to check, a newer schema
 * says to upgrade.
 *
 * @since 0.2.0
 * @category errors
 */
export const fromStoreError = (url: string) => (error: SessionStore.SessionStoreError): CliError => {
  switch (error.reason) {
    case "Unavailable":
      return new CliError({
        reason: "Unavailable",
        detail: `cannot reach the store at ${maskUrl(url)}: ${
          oneLine(error.detail)
        }: is the server running and reachable? check --store/--url`,
        cause: error
      })
    case "NewerSchema":
      return new CliError({
        reason: "Io",
        detail: `the store at ${maskUrl(url)} was written by a newer rath (${
          oneLine(error.detail)
        }): run every runner and client on the same rath version`,
        cause: error
      })
    case "InvalidUrl":
      return new CliError({
        reason: "Usage",
        detail: `--store ${maskUrl(url)}: ${oneLine(error.detail)}`,
        cause: error
      })
    default:
      return new CliError({ reason: "Io", detail: `store ${maskUrl(url)}: ${oneLine(error.message)}`, cause: error })
  }
}

/**
 * A durable-run error as the CLI's.
 *
 * @since 0.2.0
 * @category errors
 */
export const fromDurableError = (error: Durable.DurableError): CliError => {
  switch (error.reason) {
    case "UnknownWorkflow":
      return new CliError({
        reason: "NotFound",
        detail: `${error.message}: run a workflow the runners' module defines`,
        cause: error
      })
    case "NotFound":
      return new CliError({ reason: "NotFound", detail: error.message, cause: error })
    case "InvalidRequest":
      return new CliError({
        reason: "Usage",
        detail: `malformed run request: ${oneLine(error.detail)} (nothing was submitted)`,
        cause: error
      })
    case "StoreFailed":
      return new CliError({ reason: "Unavailable", detail: oneLine(error.message), cause: error })
    case "WorkspaceUnreachable":
      return new CliError({ reason: "NotFound", detail: oneLine(error.message), cause: error })
    case "StepFailed":
    case "Interrupted":
      return new CliError({ reason: "Rejected", detail: oneLine(error.message), cause: error })
  }
}

const clusterFailed = (url: string) => (cause: unknown) =>
  new CliError({
    reason: "Unavailable",
    detail: `cannot join the cluster stored at ${maskUrl(url)}: ${oneLine(messageOf(cause))}: check --url`,
    cause
  })

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/** The store, opened first: a refused connection or a newer schema fails here, before anything is written. */
const storeLayer = (url: string) =>
  SessionStore.layerFromUrl(Redacted.make(url)).pipe(Layer.mapError(fromStoreError(url)))

/**
 * A client-only member of the cluster (it takes no shards) with the module's workflows known by
 * name, providing `Durable`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClient = (options: {
  readonly url: string
  readonly store: string
  readonly workflows: ReadonlyArray<Durable.Definition<any>>
}): Layer.Layer<Durable.Durable, CliError> =>
  Durable.layerClient({ url: options.url, workflows: options.workflows }).pipe(
    Layer.mapError(clusterFailed(options.url)),
    Layer.provide(storeLayer(options.store))
  )

const resolveSettings = (args: {
  readonly url: Option.Option<string>
  readonly store: Option.Option<string>
  readonly module: Option.Option<string>
  readonly host?: Option.Option<string>
  readonly port?: Option.Option<number>
  readonly shardLockExpiration?: Option.Option<string>
  readonly shardLockRefresh?: Option.Option<string>
  readonly takeoverAfter?: Option.Option<string>
  readonly workspaceRoot?: Option.Option<string>
}) =>
  Effect.gen(function*() {
    const config = yield* configSection
    const url = yield* required(pick(args.url, config.url), "url", "cluster storage URL")
    const store = pick(args.store, config.store) ?? url
    const module = yield* required(pick(args.module, config.module), "module", "workflow module")
    const expiration = pick(args.shardLockExpiration ?? Option.none(), config.shardLockExpiration)
    const refresh = pick(args.shardLockRefresh ?? Option.none(), config.shardLockRefreshInterval)
    const takeover = pick(args.takeoverAfter ?? Option.none(), config.takeoverAfter)
    const settings: Settings = {
      url,
      store,
      module,
      host: Option.getOrUndefined(args.host ?? Option.none()) ?? config.host ?? "127.0.0.1",
      port: Option.getOrUndefined(args.port ?? Option.none()) ?? config.port ?? 34431,
      shardLockExpiration: expiration === undefined
        ? tunedFailover.shardLockExpiration
        : yield* parseDurationText("shard-lock-expiration", expiration),
      shardLockRefreshInterval: refresh === undefined
        ? tunedFailover.shardLockRefreshInterval
        : yield* parseDurationText("shard-lock-refresh", refresh),
      takeoverAfter: takeover === undefined
        ? Duration.seconds(30)
        : yield* parseDurationText("takeover-after", takeover),
      workspaceRoot: pick(args.workspaceRoot ?? Option.none(), config.workspaceRoot)
    }
    if (Duration.greaterThanOrEqualTo(settings.shardLockRefreshInterval, settings.shardLockExpiration)) {
      return yield* new CliError({
        reason: "Usage",
        detail: `--shard-lock-refresh (${Duration.format(settings.shardLockRefreshInterval)}) must be shorter than ` +
          `--shard-lock-expiration (${
            Duration.format(settings.shardLockExpiration)
          }), or live runners lose their shards`
      })
    }
    if (settings.port < 1 || settings.port > 65535) {
      return yield* new CliError({ reason: "Usage", detail: `--port ${settings.port}: pass a port from 1 to 65535` })
    }
    return settings
  })

// -----------------------------------------------------------------------------
// rath runner
// -----------------------------------------------------------------------------

/**
 * `rath runner`.
 *
 * @since 0.2.0
 * @category commands
 */
export const runner = Command.make(
  "runner",
  {
    ...settingsOptions,
    host: Options.text("host").pipe(
      Options.optional,
      Options.withDescription("the address other runners reach this one at (config: runner.host; default 127.0.0.1)")
    ),
    port: Options.integer("port").pipe(
      Options.optional,
      Options.withDescription("the port this runner listens on (config: runner.port; default 34431)")
    ),
    shardLockExpiration: text(
      "shard-lock-expiration",
      "how long a dead runner's shards stay locked before others take them (config: runner.shardLockExpiration; default 5s)"
    ),
    shardLockRefresh: text(
      "shard-lock-refresh",
      "how often this runner refreshes its shard locks (config: runner.shardLockRefreshInterval; default 1s)"
    ),
    takeoverAfter: text(
      "takeover-after",
      "how long a step attempt that lost to an overlapping attempt of the same step waits for the winner's " +
        "session to grow before it continues the step itself (config: runner.takeoverAfter; default 30s)"
    ),
    workspaceRoot: text(
      "workspace-root",
      "the root of the run workspaces, on storage every runner reaches (config: runner.workspaceRoot)"
    )
  },
  (args) =>
    Effect.gen(function*() {
      const settings = yield* resolveSettings(args)
      const module = yield* loadModule(settings.module!)
      const runnerLayer = Durable.layerRunner({
        workflows: module.workflows,
        url: settings.url,
        host: settings.host,
        port: settings.port,
        shardLockExpiration: settings.shardLockExpiration,
        shardLockRefreshInterval: settings.shardLockRefreshInterval,
        takeoverAfter: settings.takeoverAfter,
        workspaceRoot: settings.workspaceRoot
      }).pipe(
        Layer.mapError((error) =>
          error.reason === "StoreFailed" ? clusterFailed(settings.url)(error) : fromDurableError(error)
        ),
        Layer.provide(storeLayer(settings.store))
      )
      const ready = Layer.effectDiscard(
        Console.error(
          `rath runner on ${settings.host}:${settings.port}: workflows ${
            module.workflows.map((definition) => definition.name).join(", ")
          }; cluster ${maskUrl(settings.url)}; store ${maskUrl(settings.store)}; shard locks expire after ${
            Duration.format(settings.shardLockExpiration)
          }, refreshed every ${Duration.format(settings.shardLockRefreshInterval)}`
        )
      )
      const launched = Layer.launch(
        ready.pipe(
          Layer.provide(runnerLayer),
          Layer.provide(module.layer ?? Layer.empty)
        ) as Layer.Layer<never, CliError, never>
      )
      return yield* launched
    })
).pipe(
  Command.withDescription(
    "start a runner of a cluster of durable runs: sessions and shards in Postgres, workflows from a module"
  )
)

// -----------------------------------------------------------------------------
// rath run
// -----------------------------------------------------------------------------

const withClient = <A>(
  args: {
    readonly url: Option.Option<string>
    readonly store: Option.Option<string>
    readonly module: Option.Option<string>
  },
  use: Effect.Effect<A, Durable.DurableError | CliError, Durable.Durable>
): Effect.Effect<A, CliError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    const settings = yield* resolveSettings(args)
    const module = yield* loadModule(settings.module!)
    const client = yield* Layer.build(
      layerClient({ url: settings.url, store: settings.store, workflows: module.workflows })
    )
    return yield* use.pipe(
      Effect.provide(client),
      Effect.mapError((error) => error._tag === "CliError" ? error : fromDurableError(error))
    )
  })

const executionId = Args.text({ name: "execution-id" }).pipe(
  Args.withDescription("the run's execution id, as `rath run submit` printed it (<workflow>:<key>)")
)

const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of text"))

const submitCommand = Command.make(
  "submit",
  {
    ...settingsOptions,
    workflow: Args.text({ name: "workflow" }).pipe(Args.withDescription("the name of a workflow the module defines")),
    prompt: Options.text("prompt").pipe(Options.withDescription("the user message the run starts from")),
    key: text(
      "key",
      "the run's idempotency key (letters, digits, . _ -): submitting the same key again is the same run"
    ),
    workspace: text("workspace", "a directory under the runners' workspace root the run works in")
  },
  (args) =>
    withClient(
      args,
      Effect.gen(function*() {
        const request: Record<string, string> = { prompt: args.prompt }
        if (Option.isSome(args.key)) request.key = args.key.value
        if (Option.isSome(args.workspace)) request.workspace = args.workspace.value
        const id = yield* Durable.submit(args.workflow, request)
        return yield* Console.log(id)
      })
    )
).pipe(Command.withDescription("submit a durable run; prints its execution id"))

const statusLine = (status: Durable.Status): string => {
  switch (status._tag) {
    case "Running":
      return `${status.executionId}  running`
    case "Suspended":
      return `${status.executionId}  suspended (waiting for an approval: rath run approve)`
    case "Done":
      return `${status.executionId}  done  ${status.sessionId}`
    case "Failed":
      return `${status.executionId}  failed  ${oneLine(status.error.message)}`
  }
}

const statusCommand = Command.make(
  "status",
  { ...settingsOptions, executionId, json },
  (args) =>
    withClient(
      args,
      Effect.flatMap(Durable.poll(args.executionId), (status) =>
        Console.log(
          args.json
            ? JSON.stringify(status._tag === "Failed" ? { ...status, error: status.error.message } : status)
            : statusLine(status)
        ))
    )
).pipe(Command.withDescription("print where a durable run is: running, suspended, done (with its session) or failed"))

const waitCommand = Command.make(
  "wait",
  { ...settingsOptions, executionId },
  (args) =>
    withClient(
      args,
      Effect.flatMap(Durable.wait(args.executionId), (session) =>
        Console.log(`${args.executionId}  done  ${session.id}  (${session.length} entries)`))
    )
).pipe(Command.withDescription("wait for a durable run to finish; prints its result session id"))

const interruptCommand = Command.make(
  "interrupt",
  { ...settingsOptions, executionId },
  (args) =>
    withClient(
      args,
      Effect.zipRight(Durable.interrupt(args.executionId), Console.log(`${args.executionId}  interrupt requested`))
    )
).pipe(Command.withDescription("interrupt a durable run"))

const approveCommand = Command.make(
  "approve",
  {
    ...settingsOptions,
    executionId,
    callId: Args.text({ name: "call-id" }).pipe(Args.withDescription("the tool call waiting for approval")),
    reject: text("reject", "reject the call with this reason instead of approving it"),
    by: text("by", "who decides (recorded in the session)")
  },
  (args) =>
    withClient(
      args,
      Effect.zipRight(
        Durable.approve(
          args.executionId,
          args.callId,
          Option.match(args.reject, {
            onNone: () => Approval.approve(Option.getOrUndefined(args.by)),
            onSome: (reason) => Approval.reject(reason, Option.getOrUndefined(args.by))
          })
        ),
        Console.log(`${args.executionId}  ${args.callId}  ${Option.isSome(args.reject) ? "rejected" : "approved"}`)
      )
    )
).pipe(Command.withDescription("answer the approval a tool call of a durable run waits for"))

/**
 * The `rath run` subcommands.
 *
 * @since 0.2.0
 * @category commands
 */
export const runSubcommands = [submitCommand, statusCommand, waitCommand, interruptCommand, approveCommand] as const

/**
 * `rath run`.
 *
 * @since 0.2.0
 * @category commands
 */
export const run = Command.make("run").pipe(
  Command.withDescription("submit durable runs to a cluster of runners, and poll, wait for, interrupt or approve them"),
  Command.withSubcommands(runSubcommands)
)
