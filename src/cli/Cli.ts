/**
 * The `rath` command line: inspect sessions stored as JSONL files, directories of them, or a
 * store. `rath show`, `rath graph`, `rath diff`, `rath explain`, `rath export`, `rath sessions
 * list`, `rath import`, `rath serve`. Every command has `--help`; errors are one line that says what to do, with the exit
 * codes of {@link CliError.ExitCode}.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Session from "../Session.js"
import * as SessionGraph from "../SessionGraph.js"
import * as Viewer from "../Viewer.js"
import { CliError, ExitCode, exitCodeOf } from "./CliError.js"
import * as Demo from "./demo.js"
import * as Render from "./Render.js"
import * as Serve from "./Serve.js"
import * as Source from "./Source.js"

/**
 * The version `rath --version` prints.
 *
 * @since 0.1.0
 * @category models
 */
export const version = "0.1.0"

/**
 * The store path used when `--store` is not given.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultStore = ".rath/rath.db"

/**
 * How the commands open a `--store` path. A `Context.Reference` so a build with the SQLite
 * `SessionStore` (or a test) can plug its own opener in without touching the commands.
 *
 * @since 0.1.0
 * @category tags
 */
export class StoreOpener extends Context.Reference<StoreOpener>()("rath/cli/StoreOpener", {
  defaultValue: (): Source.StoreOpener => Source.openStore
}) {}

const store = Options.text("store").pipe(
  Options.withDefault(defaultStore),
  Options.withDescription("where session ids are looked up: a SQLite store or a directory of JSONL files")
)

const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of text"))

const out = Options.file("out").pipe(
  Options.withAlias("o"),
  Options.optional,
  Options.withDescription("write to this file instead of standard output")
)

const target = (description: string) => Args.text({ name: "target" }).pipe(Args.withDescription(description))

const targetDescription = "a JSONL session file, a directory of them, or a session id in --store"

const resolve = (value: Option.Option<string>, storePath: string) =>
  Effect.flatMap(StoreOpener, (open) => Source.resolve(value, storePath, open)).pipe(
    Effect.tap(({ source }) => Effect.forEach(source.warnings, (warning) => Console.error(`rath: warning: ${warning}`)))
  )

const print = (text: string) => Console.log(text.endsWith("\n") ? text.slice(0, -1) : text)

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

const writeOut = (path: string, text: string): Effect.Effect<void, CliError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.writeFileString(path, text).pipe(
      Effect.mapError((cause) =>
        new CliError({
          reason: "Io",
          detail: `cannot write ${path}: ${cause.message}: check the path and permissions`,
          cause
        })
      )
    ))

const emit = (output: Option.Option<string>, text: string) =>
  Option.match(output, {
    onNone: () => print(text),
    onSome: (path) => Effect.zipRight(writeOut(path, text), Console.error(`rath: wrote ${path}`))
  })

// -----------------------------------------------------------------------------
// commands
// -----------------------------------------------------------------------------

const sessionsList = Command.make(
  "list",
  {
    target: Args.text({ name: "source" }).pipe(
      Args.withDescription("a JSONL file or directory (default: the --store)"),
      Args.optional
    ),
    store,
    json,
    operation: Options.choice("operation", ["root", "fork", "detach", "merge", "step"]).pipe(
      Options.optional,
      Options.withDescription("only sessions made by this operation")
    ),
    by: Options.text("by").pipe(
      Options.optional,
      Options.withDescription("only sessions made by this agent or workflow")
    )
  },
  (args) =>
    Effect.gen(function*() {
      const { source } = yield* resolve(args.target, args.store)
      const rows = (yield* source.list).filter((row) =>
        Option.match(args.operation, { onNone: () => true, onSome: (op) => row.operation === op }) &&
        Option.match(args.by, { onNone: () => true, onSome: (name) => row.by?.name === name })
      )
      if (args.json) return yield* printJson(rows)
      if (rows.length === 0) return yield* print(`no sessions in ${source.label}`)
      const lines = rows.map((row) =>
        `${row.id}  ${row.operation.padEnd(6)}  ${String(row.length ?? "?").padStart(5)} entries  ${
          new Date(row.createdAt).toISOString()
        }${row.by === undefined ? "" : `  by ${row.by.name}`}${
          row.parents.length === 0 ? "" : `  <- ${row.parents.join(", ")}`
        }`
      )
      return yield* print(lines.join("\n"))
    })
).pipe(Command.withDescription("list the sessions of a store, file or directory"))

const sessions = Command.make("sessions").pipe(
  Command.withDescription("work with the sessions of a store"),
  Command.withSubcommands([sessionsList])
)

const show = Command.make(
  "show",
  { target: target(targetDescription), store, json },
  (args) =>
    Effect.gen(function*() {
      const session = yield* Effect.flatMap(resolve(Option.some(args.target), args.store), Source.single)
      return yield* args.json ? printJson(Render.showJson(session)) : print(Render.show(session))
    })
).pipe(Command.withDescription("show a session: every entry with its author, tool evidence and usage"))

const formats = ["tree", "mermaid", "dot", "json", "html"] as const

const graph = Command.make(
  "graph",
  {
    target: target(`${targetDescription} (default: the whole --store)`).pipe(Args.optional),
    store,
    format: Options.choice("format", formats).pipe(
      Options.withAlias("f"),
      Options.withDefault("tree" as const),
      Options.withDescription("tree (terminal), mermaid, dot (Graphviz), json, or html (the viewer page)")
    ),
    out
  },
  (args) =>
    Effect.gen(function*() {
      const resolved = yield* resolve(args.target, args.store)
      const rows = yield* resolved.source.list
      const whole = SessionGraph.fromRows(rows)
      // a session id names one run: the sessions connected to it
      const lineage = Option.match(resolved.selected, {
        onNone: () => whole,
        onSome: (id) => Render.component(whole, id)
      })
      const sessionsOf = Effect.forEach(lineage.rows.keys(), (id) => resolved.source.load(id))
      switch (args.format) {
        case "tree": {
          const loaded = yield* sessionsOf
          const facts = new Map(loaded.map((session) => [session.id as string, Render.facts(session)]))
          return yield* emit(args.out, Render.tree(lineage, facts))
        }
        case "mermaid":
          return yield* emit(args.out, SessionGraph.toMermaid(lineage))
        case "dot":
          return yield* emit(args.out, SessionGraph.toDot(lineage))
        case "json":
          return yield* emit(args.out, JSON.stringify(Render.graphJson(lineage), null, 2) + "\n")
        case "html": {
          const loaded = yield* sessionsOf
          const path = Option.getOrElse(args.out, () => "rath-graph.html")
          const page = Viewer.html(loaded, {
            title: `rath: ${Option.getOrElse(args.target, () => resolved.source.label)}`,
            selected: Option.getOrUndefined(resolved.selected)
          })
          yield* writeOut(path, page)
          return yield* print(
            `wrote ${path} (${loaded.length} session${loaded.length === 1 ? "" : "s"}): open it in a browser`
          )
        }
      }
    })
).pipe(Command.withDescription("draw the lineage of sessions: forks, steps, merges"))

const diff = Command.make(
  "diff",
  {
    a: Args.text({ name: "a" }).pipe(Args.withDescription(`the first session: ${targetDescription}`)),
    b: Args.text({ name: "b" }).pipe(Args.withDescription("the second session")),
    store,
    json
  },
  (args) =>
    Effect.gen(function*() {
      const a = yield* Effect.flatMap(resolve(Option.some(args.a), args.store), Source.single)
      const b = yield* Effect.flatMap(resolve(Option.some(args.b), args.store), Source.single)
      const result = Render.diff(a, b)
      return yield* args.json ? printJson(Render.diffJson(result)) : print(Render.diffText(result))
    })
).pipe(Command.withDescription("compare two sessions: the entries each added since their common ancestor"))

const explain = Command.make(
  "explain",
  {
    target: target(targetDescription),
    store,
    json,
    full: Options.boolean("full").pipe(Options.withDescription("print whole messages instead of one clipped line each"))
  },
  (args) =>
    Effect.gen(function*() {
      const resolved = yield* resolve(Option.some(args.target), args.store)
      const session = yield* Source.single(resolved)
      // a session read from a file is traced through the store when there is one
      const history = session.lineage.parents.length > 0 && (yield* resolved.source.list).length === 1
        ? yield* Effect.flatMap(StoreOpener, (open) => open(args.store)).pipe(
          Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(resolved.source))
        )
        : resolved.source
      const lineage = SessionGraph.fromRows(yield* history.list)
      const ancestors = SessionGraph.ancestors(lineage, session.id).filter((id) => lineage.rows.has(id))
      const loaded = yield* Effect.forEach(ancestors, (id) => history.load(id))
      const result = Render.explain(session, lineage, new Map(loaded.map((s) => [s.id as string, s])))
      return yield* args.json
        ? printJson(Render.explainJson(result))
        : print(Render.explainText(result, { full: args.full }))
    })
).pipe(
  Command.withDescription(
    "answer the five questions: what the model saw at each call, which provider and model answered, where each tool ran, what changed, where the final state came from"
  )
)

const exportCommand = Command.make(
  "export",
  { target: target(targetDescription), store, out },
  (args) =>
    Effect.gen(function*() {
      const session = yield* Effect.flatMap(resolve(Option.some(args.target), args.store), Source.single)
      const text = Session.toJsonl(session)
      return yield* Option.match(args.out, {
        onNone: () => Console.log(text.slice(0, -1)),
        onSome: (path) =>
          Effect.zipRight(writeOut(path, text), Console.error(`rath: wrote ${path} (${session.length} entries)`))
      })
    })
).pipe(Command.withDescription("write a session as JSONL (header, one entry per line, checksummed trailer)"))

const importCommand = Command.make(
  "import",
  {
    file: Args.text({ name: "file" }).pipe(Args.withDescription("a JSONL session file")),
    store: Options.text("store").pipe(
      Options.withDefault(defaultStore),
      Options.withDescription("the store to import into: a SQLite store (created if missing) or a directory")
    )
  },
  (args) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { session, warning } = yield* Source.readFile(args.file)
      if (Option.isSome(warning)) yield* Console.error(`rath: warning: ${warning.value}`)
      const ioError = (path: string) => (cause: PlatformError.PlatformError) =>
        new CliError({ reason: "Io", detail: `cannot read ${path}: ${cause.message}`, cause })
      const isDirectory = (yield* fs.exists(args.store).pipe(Effect.mapError(ioError(args.store)))) &&
        (yield* fs.stat(args.store).pipe(Effect.mapError(ioError(args.store)))).type === "Directory"
      if (isDirectory) {
        const target = `${args.store.replace(/\/+$/, "")}/${session.id}.jsonl`
        if (yield* fs.exists(target).pipe(Effect.mapError(ioError(target)))) {
          return yield* new CliError({
            reason: "InvalidData",
            detail: `${args.store} already holds ${target}: remove it first to replace it`
          })
        }
        yield* writeOut(target, Session.toJsonl(session))
      } else {
        const store = yield* Source.openSqlite(args.store, { create: true })
        yield* store.save(session).pipe(Effect.mapError(Source.fromStoreError(args.store)))
      }
      return yield* print(`imported ${session.id} (${session.length} entries) into ${args.store}`)
    })
).pipe(Command.withDescription("copy a JSONL session file into a store"))

const demoCommand = Command.make(
  "demo",
  {
    dir: Options.directory("dir").pipe(
      Options.withDefault(".rath"),
      Options.withDescription("where the demo keeps its store, memory, sandboxes and viewer page")
    )
  },
  (args) =>
    Effect.gen(function*() {
      const path = yield* Path.Path
      const result = yield* Demo.run({ dir: args.dir }).pipe(
        Effect.mapError((cause) =>
          new CliError({
            reason: "Io",
            detail: `the demo failed: ${cause.message.replace(/\s*\n\s*/g, " ")}`,
            cause
          })
        )
      )
      const store = path.join(args.dir, "rath.db")
      const page = path.join(args.dir, "demo.html")
      yield* writeOut(page, Viewer.html(result.sessions, { title: "rath demo", selected: result.final.id }))
      const facts = new Map(result.sessions.map((session) => [session.id as string, Render.facts(session)]))
      const usage = Session.usage(result.final).inclusive
      const accepted = result.accepted.id
      const storeFlag = store === defaultStore ? "" : ` --store ${store}`
      return yield* print([
        `rath demo: ${result.scripted ? "a SCRIPTED model (no API key set)" : "the real model from your API key"}`,
        `${result.sessions.length} sessions saved to ${store}; ${
          Render.usageText(usage)
        }; ${result.recalled} memories recalled`,
        `accepted ${accepted}; rejected ${result.rejected.map((session) => session.id).join(", ") || "none"}`,
        "",
        Render.tree(SessionGraph.fromSessions(result.sessions), facts).trimEnd(),
        "",
        `viewer: ${page} (open it in a browser)`,
        "look further:",
        `  npm run rath -- explain ${result.final.id}${storeFlag}`,
        `  npm run rath -- diff ${accepted} ${result.rejected[0]?.id ?? accepted}${storeFlag}`,
        `  npm run rath -- show ${accepted}${storeFlag}`,
        `  npm run rath -- graph${storeFlag}`,
        `  npm run rath -- serve${storeFlag}`
      ].join("\n"))
    })
).pipe(Command.withDescription("run a multi-agent, multi-session workflow (scripted model without an API key)"))

const serve = Command.make(
  "serve",
  {
    target: Args.text({ name: "source" }).pipe(
      Args.withDescription("a JSONL file or directory to serve (default: the --store)"),
      Args.optional
    ),
    store,
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
  (args) =>
    Effect.gen(function*() {
      // open once up front, so a wrong path fails now rather than on the first request
      const { source } = yield* resolve(args.target, args.store)
      return yield* Layer.launch(
        Serve.layer({ open: source.reload, label: source.label, host: args.host, port: args.port })
      )
    })
).pipe(Command.withDescription("serve the viewer page and a JSON API over the sessions, on 127.0.0.1"))

/**
 * The `rath` command with all its subcommands.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = Command.make("rath", {
  verbose: Options.boolean("verbose").pipe(Options.withDescription("print stack traces and causes with errors"))
}).pipe(
  Command.withDescription("inspect rath sessions: what ran, where, at what cost, and what changed"),
  Command.withSubcommands([sessions, show, graph, diff, explain, exportCommand, importCommand, serve, demoCommand])
)

/**
 * Parses and runs a command line (`argv` as `process.argv`: the first two items are the runtime
 * and the script). Fails with the command's `CliError` or the parser's `ValidationError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, CliError | ValidationError.ValidationError, CliApp.CliApp.Environment> =>
  // stores opened by a command stay open until the command is done
  Effect.scoped(Command.run(command, { name: "rath", version })(argv))

const errorLine = (error: CliError, verbose: boolean): string => {
  const line = error.message.replace(/\s*\n\s*/g, " ")
  return `rath: ${verbose || line.length <= 400 ? line : `${line.slice(0, 399)}…`}`
}

/**
 * Runs a command line and reports the outcome the way a terminal user wants it: output on
 * stdout, one error line on stderr (with the cause and stack when `--verbose` is anywhere on the
 * line), and the exit code as the result. Never fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number, never, CliApp.CliApp.Environment> => {
  const verbose = argv.includes("--verbose")
  const args = verbose
    ? [...argv.slice(0, 2), "--verbose", ...argv.slice(2).filter((arg) => arg !== "--verbose")]
    : argv
  return run(args).pipe(
    Effect.as(ExitCode.Ok as number),
    Effect.catchAll((error) =>
      ValidationError.isValidationError(error)
        // the parser already printed what was wrong and the usage
        ? Effect.succeed(ExitCode.Usage as number)
        : Effect.as(
          Effect.zipRight(
            Console.error(errorLine(error, verbose)),
            verbose && error.cause !== undefined ? Console.error(Cause.pretty(Cause.die(error.cause))) : Effect.void
          ),
          exitCodeOf(error)
        )
    ),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.succeed(130)
        : Effect.as(
          Effect.zipRight(
            Console.error(
              `rath: internal error: ${
                Chunk.head(Cause.defects(cause)).pipe(Option.map(String), Option.getOrElse(() => "unknown"))
              } (run again with --verbose for the stack trace, and report it)`
            ),
            verbose ? Console.error(Cause.pretty(cause)) : Effect.void
          ),
          ExitCode.Internal as number
        )
    )
  )
}
