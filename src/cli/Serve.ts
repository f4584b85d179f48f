/**
 * `rath serve`: the run server (see `Server`) over the SQLite store (`--store`) or over the
 * sessions of a JSONL file or directory (read into memory), with the workflows a module registers
 * (`--module`). Binds 127.0.0.1 by default; prints the address with its token once.
 *
 * The module exports `workflows` (an array of workflows or agents), or `workflow` (or a default
 * export), and optionally `layer` (a Layer providing what they need; default: the provider
 * configured from the environment).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import { randomInt } from "node:crypto"
import * as Guard from "../internal/server/guard.js"
import * as ProviderConfig from "../ProviderConfig.js"
import * as Server from "../Server.js"
import * as SessionStore from "../SessionStore.js"
import type * as Workflow from "../Workflow.js"
import { CliError, messageOf } from "./CliError.js"
import { importFile, tsxHint } from "./ModuleLoader.js"
import * as Source from "./Source.js"

/** @since 0.1.0 */
export const { guard, hostAllowed, isLoopback, isWildcard, MAX_HEADER_BYTES, MAX_URL_LENGTH, refusal } = Guard

/**
 * A `Random` drawing from the operating system's cryptographic generator: the token's source.
 *
 * @since 0.2.0
 * @category constructors
 */
export const cryptoRandom: Random.Random = {
  [Random.RandomTypeId]: Random.RandomTypeId,
  next: Effect.sync(() => randomInt(0, 2 ** 48 - 1) / 2 ** 48),
  nextBoolean: Effect.sync(() => randomInt(0, 2) === 1),
  nextInt: Effect.sync(() => randomInt(0, 2 ** 48 - 1)),
  nextRange: (min, max) => Effect.sync(() => min + (randomInt(0, 2 ** 48 - 1) / 2 ** 48) * (max - min)),
  nextIntBetween: (min, max) => Effect.sync(() => randomInt(min, max)),
  shuffle: (elements) =>
    Effect.sync(() => {
      const out = Array.from(elements)
      for (let i = out.length - 1; i > 0; i--) {
        const j = randomInt(0, i + 1)
        ;[out[i], out[j]] = [out[j]!, out[i]!]
      }
      return Chunk.fromIterable(out)
    })
} as Random.Random

interface ServeModule {
  readonly workflows: ReadonlyArray<Workflow.Step<any, any>>
  readonly layer: Layer.Layer<never, unknown, never> | undefined
}

/** The workflows and layer a module exports. */
export const loadModule = (file: string) =>
  Effect.gen(function*() {
    const module = yield* importFile(file)
    const listed = module.workflows ?? (module.workflow ?? module.default)
    const workflows = Array.isArray(listed)
      ? listed
      : typeof listed === "object" && listed !== null
      ? Object.values(listed)
      : listed === undefined
      ? []
      : [listed]
    if (workflows.length === 0 || workflows.some((w) => typeof w !== "function")) {
      return yield* new CliError({
        reason: "Usage",
        detail: `${file} registers no workflow: export \`workflows\` (an array of workflows or agents), ` +
          "or one as `workflow` or the default export"
      })
    }
    if (module.layer !== undefined && !Layer.isLayer(module.layer)) {
      return yield* new CliError({ reason: "Usage", detail: `${file} exports a \`layer\` that is not a Layer` })
    }
    return { workflows, layer: module.layer } as ServeModule
  })

/** The store served: the SQLite store, or a JSONL source read into memory. */
const openStore = (target: Option.Option<string>, store: string) =>
  Option.match(target, {
    onNone: () => Source.openSqlite(store, { create: true }),
    onSome: (path) =>
      Effect.gen(function*() {
        const source = yield* Source.resolve(Option.some(path), store, Source.openStore).pipe(
          Effect.map((r) => r.source)
        )
        for (const warning of source.warnings) yield* Console.error(`rath: warning: ${warning}`)
        const memory = yield* SessionStore.makeMemory
        for (const session of yield* Source.loadAll(source)) {
          yield* Effect.mapError(memory.save(session), Source.fromStoreError(path))
        }
        return memory
      })
  })

/**
 * Starts the server and prints its address with the token, once; runs until interrupted.
 *
 * @since 0.2.0
 * @category constructors
 */
export const run = (args: {
  readonly target: Option.Option<string>
  readonly store: string
  readonly module: Option.Option<string>
  readonly host: string
  readonly port: number
}) =>
  Effect.gen(function*() {
    const store = yield* openStore(args.target, args.store)
    const module = Option.isSome(args.module)
      ? yield* loadModule(args.module.value)
      : { workflows: [], layer: undefined }
    let context = Context.empty() as Context.Context<never>
    if (module.workflows.length > 0) {
      const built = yield* Effect.either(Layer.build(module.layer ?? ProviderConfig.layerFromEnv()))
      if (built._tag === "Left") {
        yield* Console.error(
          `rath: warning: the workflows' layer failed (${messageOf(built.left)}): runs will fail until it is fixed`
        )
      } else context = built.right as Context.Context<never>
    }
    const server = yield* Server.make({
      workflows: module.workflows,
      host: args.host,
      port: args.port,
      title: Option.match(args.target, { onNone: () => `rath: ${args.store}`, onSome: (t) => `rath: ${t}` })
    }).pipe(
      Effect.provideService(SessionStore.SessionStore, store),
      Effect.provide(context),
      Effect.withRandom(cryptoRandom),
      Effect.mapError((error) =>
        new CliError({
          reason: "Io",
          detail: `${error.message}${error.reason === "Listen" ? ": pick another port with --port" : ""}`,
          cause: error
        })
      )
    )
    // the one place the token is shown: stdout, once
    yield* Console.log(
      `rath: serving ${args.store} with ${module.workflows.length} workflows at ${
        Server.tokenUrl(server, Redacted.value(server.token))
      } (Ctrl-C to stop)`
    )
    if (!Guard.isLoopback(args.host)) {
      yield* Console.error(
        `rath: warning: listening on ${args.host}, not on 127.0.0.1: anyone who can reach this machine ${
          Guard.isWildcard(args.host) ? "on any of its addresses " : ""
        }can read every session served (writes still need the token)`
      )
    }
    return server
  })

/**
 * The `serve` command.
 *
 * @since 0.2.0
 * @category commands
 */
export const command = (store: Options.Options<string>) =>
  Command.make(
    "serve",
    {
      target: Args.text({ name: "source" }).pipe(
        Args.withDescription("a JSONL file or directory to serve, read into memory (default: the --store)"),
        Args.optional
      ),
      store,
      module: Options.text("module").pipe(
        Options.withDescription(
          `a module registering the workflows runs may start (exports \`workflows\`, and \`layer\`); ${tsxHint}`
        ),
        Options.optional
      ),
      host: Options.text("host").pipe(
        Options.withDefault("127.0.0.1"),
        Options.withDescription("the address to listen on (keep 127.0.0.1 unless you mean to share the sessions)")
      ),
      port: Options.integer("port").pipe(
        Options.withAlias("p"),
        Options.withDefault(7777),
        Options.withDescription("the port to listen on (0 picks a free one)")
      )
    },
    (args) => Effect.scoped(Effect.zipRight(run(args), Effect.never))
  ).pipe(
    Command.withDescription("run workflows over HTTP and browse the sessions (run server and viewer), on 127.0.0.1")
  )
