/**
 * The `rath` command line: inspect sessions stored as JSONL files, directories of them, or a
 * store. `rath show`, `rath graph`, `rath diff`, `rath explain`, `rath export`, `rath sessions
 * list`, `rath import`, `rath replay`, `rath memory`, `rath prune`, `rath serve`, `rath demo`.
 * Every command has `--help`; errors are one line that says what to do, with the exit codes of
 * {@link CliError.ExitCode}; long work prints progress lines on stderr.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import type * as CliApp from "@effect/cli/CliApp"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Descriptor from "@effect/cli/CommandDescriptor"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Entry from "../Entry.js"
import * as Memory from "../Memory.js"
import * as Provider from "../Provider.js"
import * as Replay from "../Replay.js"
import * as Session from "../Session.js"
import * as SessionGraph from "../SessionGraph.js"
import type * as SessionStore from "../SessionStore.js"
import * as Tool from "../Tool.js"
import * as Viewer from "../Viewer.js"
import { CliError, ExitCode, exitCodeOf, messageOf, oneLine } from "./CliError.js"
import * as Demo from "./demo.js"
import * as EvalCli from "./Eval.js"
import * as Help from "./Help.js"
import { importFile, tsxHint } from "./ModuleLoader.js"
import * as Render from "./Render.js"
import * as RunnerCli from "./Runner.js"
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
export const defaultStore = Source.defaultStore

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

/** A SQLite file passed where a JSONL file or directory goes: say that it is the `--store`. */
const storeAsSource = (target: Option.Option<string>, command: string) =>
  Option.match(Option.filter(target, (value) => /\.(db|sqlite3?)$/i.test(value)), {
    onNone: () => Effect.void,
    onSome: (file) =>
      new CliError({
        reason: "Usage",
        detail:
          `${file} looks like a SQLite store, and a store is given with --store: run \`rath ${command} --store ${file}\``
      })
  })

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

/**
 * Parses a point in time for `--since`/`--until`: an age (`30d`, `12h`: that long before `now`)
 * or an ISO 8601 date or date-time (`2026-11-23`, `2026-11-23T05:00:00Z`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseTime = (text: string, now: number): Option.Option<number> =>
  Option.match(parseDuration(text), {
    onSome: (ago) => Option.some(now - ago),
    onNone: () => {
      if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim())) return Option.none()
      const millis = new Date(text.trim()).getTime()
      return Number.isNaN(millis) ? Option.none() : Option.some(millis)
    }
  })

const timeOption = (name: string, description: string) =>
  Options.text(name).pipe(Options.optional, Options.withDescription(description))

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
      Options.withDescription("only sessions whose lineage names this agent or workflow as their maker")
    ),
    since: timeOption(
      "since",
      "only sessions created at or after this: an age (30d, 12h, 45m) or an ISO date or date-time"
    ),
    until: timeOption("until", "only sessions created before this: an age (30d, 12h) or an ISO date or date-time"),
    agent: Options.text("agent").pipe(
      Options.optional,
      Options.withDescription("only sessions made by this agent or workflow, or saved with an agent record so named")
    ),
    parent: Options.text("parent").pipe(
      Options.optional,
      Options.withDescription("only sessions that have this session id as a lineage parent")
    ),
    text: Options.text("text").pipe(
      Options.optional,
      Options.withDescription("only sessions with an entry whose text contains this (case-insensitive)")
    ),
    limit: Options.integer("limit").pipe(
      Options.optional,
      Options.withDescription("at most this many sessions (the oldest first)")
    )
  },
  (args) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const time = (flag: string, value: Option.Option<string>) =>
        Option.match(value, {
          onNone: () => Effect.succeed(undefined),
          onSome: (text) =>
            Option.match(parseTime(text, now), {
              onSome: Effect.succeed,
              onNone: () =>
                new CliError({
                  reason: "Usage",
                  detail: `--${flag} ${text} is not a time: pass an age like 30d or 12h, or a date like 2026-11-23`
                })
            })
        })
      const since = yield* time("since", args.since)
      const until = yield* time("until", args.until)
      const limit = Option.getOrUndefined(args.limit)
      if (limit !== undefined && limit < 1) {
        return yield* new CliError({ reason: "Usage", detail: `--limit ${limit}: pass 1 or more` })
      }
      // --operation and --by are not store filters: with them, the limit applies after they do
      const filtered = Option.isSome(args.operation) || Option.isSome(args.by)
      yield* storeAsSource(args.target, "sessions list")
      const { source } = yield* resolve(args.target, args.store)
      const queried = yield* source.query({
        since,
        until,
        agent: Option.getOrUndefined(args.agent),
        parent: Option.getOrUndefined(args.parent) as Session.SessionId | undefined,
        text: Option.getOrUndefined(args.text),
        limit: filtered ? undefined : limit
      })
      const rows = queried.filter((row) =>
        Option.match(args.operation, { onNone: () => true, onSome: (op) => row.operation === op }) &&
        Option.match(args.by, { onNone: () => true, onSome: (name) => row.by?.name === name })
      ).slice(0, limit)
      if (args.json) return yield* printJson(rows)
      if (rows.length === 0) {
        const anyFilter = [args.operation, args.by, args.since, args.until, args.agent, args.parent, args.text]
          .some(Option.isSome)
        return yield* print(`no sessions in ${source.label}${anyFilter ? " match these filters" : ""}`)
      }
      const lines = rows.map((row) =>
        `${row.id}  ${row.operation.padEnd(6)}  ${String(row.length ?? "?").padStart(5)} entries  ${
          new Date(row.createdAt).toISOString()
        }${row.by === undefined ? "" : `  by ${row.by.name}`}${
          row.parents.length === 0 ? "" : `  <- ${row.parents.join(", ")}`
        }`
      )
      return yield* print(lines.join("\n"))
    })
).pipe(Command.withDescription("list the sessions of a store, file or directory, with filters"))

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
      yield* storeAsSource(args.target, "graph")
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

/**
 * How many entries `rath import` saves at a time into a SQLite store; a bigger session is saved in
 * steps (each save appends to the last) with a progress line on stderr after each.
 *
 * @since 0.1.0
 * @category models
 */
export const importChunk = 2000

const saveWithProgress = (store: SessionStore.Service, session: Session.Session) =>
  Effect.gen(function*() {
    const total = session.length
    if (total - session.base <= importChunk) return yield* store.save(session)
    // already stored (a re-import): one save, which is a no-op or refuses a different history
    const stored = yield* store.load(session.id).pipe(
      Effect.as(true),
      Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(false))
    )
    if (stored) return yield* store.save(session)
    for (let end = session.base + importChunk; end < total; end += importChunk) {
      // the session as it was after `end` entries: saving it appends the next chunk
      yield* store.save(Session.take(session, end))
      yield* Console.error(`importing: ${end}/${total} entries`)
    }
    const result = yield* store.save(session)
    yield* Console.error(`importing: ${total}/${total} entries`)
    return result
  })

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
        yield* saveWithProgress(store, session).pipe(Effect.mapError(Source.fromStoreError(args.store)))
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
      const outcome = yield* Demo.run({ dir: args.dir, onProgress: (line) => Console.error(`demo: ${line}`) }).pipe(
        Effect.map(Either.right),
        Effect.catchTag("DemoRejected", (rejected) => Effect.succeed(Either.left(rejected))),
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
      const storeFlag = store === defaultStore ? "" : ` --store ${store}`
      const sessions = Either.match(outcome, { onLeft: (rejected) => rejected.sessions, onRight: (r) => r.sessions })
      const last = Either.match(outcome, {
        onLeft: (rejected) => rejected.attempts[0]!,
        onRight: (result) => result.final
      })
      yield* writeOut(page, Viewer.html(sessions, { title: "rath demo", selected: last.id }))
      const facts = new Map(sessions.map((session) => [session.id as string, Render.facts(session)]))
      const scripted = Either.match(outcome, { onLeft: (r) => r.scripted, onRight: (r) => r.scripted })
      const header = `rath demo: ${scripted ? "a SCRIPTED model (no API key set)" : "the real model from your API key"}`
      const tree = Render.tree(SessionGraph.fromSessions(sessions), facts).trimEnd()
      if (Either.isLeft(outcome)) {
        const attempts = outcome.left.attempts.map((session) => session.id)
        yield* print([
          header,
          `${sessions.length} sessions saved to ${store}; rejected ${attempts.join(", ")}; nothing merged`,
          "",
          tree,
          "",
          `viewer: ${page} (open it in a browser)`,
          "look at the failed checks:",
          ...attempts.map((id) => `  npx rath show ${id}${storeFlag}`)
        ].join("\n"))
        return yield* new CliError({
          reason: "Rejected",
          detail:
            `the demo stopped: ${outcome.left.message}. The attempts and their failed checks are saved in ${store}`
        })
      }
      const result = outcome.right
      const usage = Session.usage(result.final).inclusive
      const accepted = result.accepted.id
      return yield* print([
        header,
        `${result.sessions.length} sessions saved to ${store}; the result's model calls ${
          Render.usageText(usage)
        } (the whole run's, rejected attempt included, ${
          Render.usageText(Render.runUsage(result.sessions))
        }); ${result.recalled} memories recalled`,
        `accepted ${accepted}; rejected ${result.rejected.map((session) => session.id).join(", ") || "none"}`,
        "",
        tree,
        "",
        `viewer: ${page} (open it in a browser)`,
        "look further:",
        `  npx rath explain ${result.final.id}${storeFlag}`,
        `  npx rath diff ${accepted} ${result.rejected[0]?.id ?? accepted}${storeFlag}`,
        `  npx rath show ${accepted}${storeFlag}`,
        `  npx rath graph${storeFlag}`,
        `  npx rath serve${storeFlag}`
      ].join("\n"))
    })
).pipe(Command.withDescription("run a multi-agent, multi-session workflow (scripted model without an API key)"))

// rath serve: the run server (issue 17), defined in Serve.ts
const serve = Serve.command(store)

// -----------------------------------------------------------------------------
// memory
// -----------------------------------------------------------------------------

const memoryFile = Options.text("memory").pipe(
  Options.withDefault(Memory.DEFAULT_FILENAME),
  Options.withDescription("the memory file (SQLite)")
)

const fromMemoryError = (file: string) => (error: Memory.MemoryError): CliError =>
  error.reason === "InvalidRequest"
    ? new CliError({ reason: "Usage", detail: `${error.detail}: see \`rath memory --help\``, cause: error })
    : new CliError({
      reason: "Io",
      detail: `memory ${file}: ${error.message}: check that it is a rath memory file and writable`,
      cause: error
    })

/** Runs `use` with the memory at `file`; a file that does not exist is refused unless `create`. */
const withMemory = <A>(
  file: string,
  create: boolean,
  use: (memory: Memory.Service) => Effect.Effect<A, CliError | Memory.MemoryError>
): Effect.Effect<A, CliError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (!create && file !== ":memory:") {
      const exists = yield* fs.exists(file).pipe(
        Effect.mapError((cause) =>
          new CliError({ reason: "Io", detail: `cannot read ${file}: ${cause.message}`, cause })
        )
      )
      if (!exists) {
        return yield* new CliError({
          reason: "NotFound",
          detail:
            `memory ${file} does not exist: remember something first (rath memory remember TEXT --namespace NS), or pass --memory FILE`
        })
      }
    }
    return yield* Effect.flatMap(Memory.Memory, use).pipe(
      Effect.provide(Memory.layerSqlite({ filename: file })),
      Effect.mapError((error) => error._tag === "CliError" ? error : fromMemoryError(file)(error))
    )
  })

const memoryRemember = Command.make(
  "remember",
  {
    text: Args.text({ name: "text" }).pipe(Args.withDescription("what to remember")),
    namespace: Options.text("namespace").pipe(
      Options.withAlias("n"),
      Options.withDescription("the namespace to store it in (e.g. user:ada, project)")
    ),
    source: Options.text("source").pipe(
      Options.optional,
      Options.withDescription("where the memory comes from (shown with recall hits)")
    ),
    memory: memoryFile
  },
  (args) =>
    withMemory(args.memory, true, (memory) =>
      Effect.flatMap(
        memory.remember({
          namespace: args.namespace,
          text: args.text,
          source: Option.getOrUndefined(args.source)
        }),
        (item) => print(`remembered ${item.id} in ${item.namespace} (${args.memory})`)
      ))
).pipe(Command.withDescription("store one memory in a namespace"))

const memoryRecall = Command.make(
  "recall",
  {
    query: Args.text({ name: "query" }).pipe(Args.withDescription("what to look for")),
    namespace: Options.text("namespace").pipe(
      Options.withAlias("n"),
      Options.optional,
      Options.withDescription("only this namespace (default: every namespace)")
    ),
    k: Options.integer("k").pipe(Options.withDefault(5), Options.withDescription("how many hits at most")),
    minScore: Options.float("min-score").pipe(
      Options.withDefault(0),
      Options.withDescription("drop hits scoring below this (0 to 1; 1: holds every word of the query)")
    ),
    memory: memoryFile,
    json
  },
  (args) =>
    withMemory(args.memory, false, (memory) =>
      Effect.gen(function*() {
        if (args.k < 1) {
          return yield* new CliError({ reason: "Usage", detail: `-k ${args.k}: pass a number of hits of 1 or more` })
        }
        const hits = yield* memory.recall({
          query: args.query,
          k: args.k,
          minScore: args.minScore,
          namespace: Option.getOrUndefined(args.namespace)
        })
        if (args.json) return yield* printJson(hits)
        if (hits.length === 0) return yield* print(`no memory matches "${args.query}" in ${args.memory}`)
        return yield* print(
          hits.map((hit) =>
            // a recent memory matched nothing: say so rather than print a score of 0
            `${hit.id}  ${hit.match === "recent" ? "recent" : hit.score.toFixed(3)}  ${hit.namespace}  ${
              oneLine(hit.text)
            }${hit.source === undefined ? "" : `  (source: ${hit.source})`}`
          ).join("\n")
        )
      }))
).pipe(Command.withDescription("find the memories that best match a query, best first, with their scores"))

const memoryList = Command.make(
  "list",
  {
    namespace: Options.text("namespace").pipe(
      Options.withAlias("n"),
      Options.optional,
      Options.withDescription("only this namespace")
    ),
    memory: memoryFile,
    json
  },
  (args) =>
    withMemory(args.memory, false, (memory) =>
      Effect.gen(function*() {
        const items = yield* memory.list({ namespace: Option.getOrUndefined(args.namespace) })
        if (args.json) return yield* printJson(items)
        if (items.length === 0) return yield* print(`no memories in ${args.memory}`)
        return yield* print(
          items.map((item) =>
            `${item.id}  ${item.namespace}  ${new Date(item.createdAt).toISOString()}  ${oneLine(item.text)}${
              item.source === undefined ? "" : `  (source: ${item.source})`
            }`
          ).join("\n")
        )
      }))
).pipe(Command.withDescription("list stored memories, oldest first"))

const memoryForget = Command.make(
  "forget",
  {
    id: Options.text("id").pipe(Options.repeated, Options.withDescription("a memory id to remove (repeatable)")),
    namespace: Options.text("namespace").pipe(
      Options.withAlias("n"),
      Options.optional,
      Options.withDescription("remove every memory of this namespace")
    ),
    memory: memoryFile
  },
  (args) =>
    withMemory(args.memory, false, (memory) =>
      Effect.gen(function*() {
        if ((args.id.length > 0) === Option.isSome(args.namespace)) {
          return yield* new CliError({
            reason: "Usage",
            detail: "pass either --id ID (one or more) or --namespace NS to say what to forget"
          })
        }
        if (args.id.length > 0) {
          // an id that names nothing is a mistake to report, not a silent "forgot 0": remove nothing then
          const known = new Set((yield* memory.list()).map((item) => item.id as string))
          const unknown = args.id.filter((id) => !known.has(id))
          if (unknown.length > 0) {
            return yield* new CliError({
              reason: "NotFound",
              detail: `no memory ${unknown.join(", ")} in ${args.memory} (nothing was removed): ` +
                `see the ids with \`rath memory list --memory ${args.memory}\``
            })
          }
        }
        const removed = yield* memory.forget(
          Option.isSome(args.namespace) ? { namespace: args.namespace.value } : { ids: args.id }
        )
        return yield* print(`forgot ${removed} memor${removed === 1 ? "y" : "ies"} in ${args.memory}`)
      }))
).pipe(Command.withDescription("remove memories by id or a whole namespace"))

const memoryCommand = Command.make("memory").pipe(
  Command.withDescription(`remember, recall, list and forget memories (default file ${Memory.DEFAULT_FILENAME})`),
  Command.withSubcommands([memoryRemember, memoryRecall, memoryList, memoryForget])
)

// -----------------------------------------------------------------------------
// prune
// -----------------------------------------------------------------------------

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * Parses a duration like `30d`, `12h`, `45m`, `90s`, `2w` or `500ms` into milliseconds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseDuration = (text: string): Option.Option<number> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(text)
  return match === null ? Option.none() : Option.some(Number(match[1]) * units[match[2]!]!)
}

const prune = Command.make(
  "prune",
  {
    olderThan: Options.text("older-than").pipe(
      Options.withDescription("remove sessions last saved longer ago than this: 30d, 12h, 45m, 90s, 2w")
    ),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("list what would be removed, remove nothing")),
    store: Options.text("store").pipe(
      Options.withDefault(defaultStore),
      Options.withDescription("the SQLite store to prune")
    )
  },
  (args) =>
    Effect.gen(function*() {
      const millis = yield* Option.match(parseDuration(args.olderThan), {
        onNone: () =>
          new CliError({
            reason: "Usage",
            detail: `--older-than ${args.olderThan} is not a duration: pass a number and a unit, like 30d, 12h or 45m`
          }),
        onSome: Effect.succeed
      })
      const fs = yield* FileSystem.FileSystem
      const isDirectory = yield* fs.stat(args.store).pipe(
        Effect.map((info) => info.type === "Directory"),
        Effect.orElseSucceed(() => false)
      )
      if (isDirectory) {
        return yield* new CliError({
          reason: "Usage",
          detail: `${args.store} is a directory of JSONL files: prune works on a SQLite store; delete the files instead`
        })
      }
      const store = yield* Source.openSqlite(args.store)
      const toCli = Source.fromStoreError(args.store)
      const label = args.olderThan
      if (args.dryRun) {
        const cutoff = (yield* Clock.currentTimeMillis) - millis
        const old = (yield* store.list().pipe(Effect.mapError(toCli))).filter((summary) => summary.updatedAt < cutoff)
        const lines = old.map((summary) =>
          `would remove ${summary.id}  ${summary.lineage.operation}  ${summary.length} entries  last saved ${
            new Date(summary.updatedAt).toISOString()
          }`
        )
        lines.push(
          `${old.length} session${
            old.length === 1 ? "" : "s"
          } older than ${label} would be removed from ${args.store} (dry run: nothing removed)`
        )
        return yield* print(lines.join("\n"))
      }
      const removed = yield* store.prune(millis).pipe(Effect.mapError(toCli))
      return yield* print(
        `removed ${removed} session${removed === 1 ? "" : "s"} older than ${label} from ${args.store}`
      )
    })
).pipe(Command.withDescription("remove the sessions of a store that were last saved before a given age"))

// -----------------------------------------------------------------------------
// replay
// -----------------------------------------------------------------------------

type Step = (session: Session.Session) => unknown

const loadWorkflow = (file: string) =>
  Effect.gen(function*() {
    const module = yield* importFile(file)
    const workflow = module.workflow ?? module.default
    if (typeof workflow !== "function") {
      return yield* new CliError({
        reason: "Usage",
        detail:
          `${file} exports no workflow: export a function (session) => Effect<Session> as \`workflow\` or as the default export`
      })
    }
    if (module.input !== undefined && typeof module.input !== "function") {
      return yield* new CliError({
        reason: "Usage",
        detail: `${file} exports an \`input\` that is not a function: export (recorded) => Session, or remove it`
      })
    }
    return { workflow: workflow as Step, input: module.input as Step | undefined }
  })

/**
 * The default input of a replay: the recorded entries up to and including the first user message,
 * rebuilt as a new root session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultReplayInput = (recorded: Session.Session): Effect.Effect<Session.Session, CliError> =>
  Effect.suspend(() => {
    const entries = Chunk.toReadonlyArray(Session.entries(recorded))
    const firstUser = entries.findIndex((entry) => entry._tag === "User")
    if (firstUser === -1) {
      return new CliError({
        reason: "InvalidData",
        detail:
          `session ${recorded.id} has no user message to start from: export an \`input\` function from the workflow module`
      })
    }
    const drafts: Array<Entry.Draft> = []
    for (const entry of entries.slice(0, firstUser + 1)) {
      if (entry._tag === "Merge") {
        return new CliError({
          reason: "InvalidData",
          detail: `session ${recorded.id} starts with a merge: export an \`input\` function from the workflow module`
        })
      }
      const { id: _id, parents: _parents, timestamp: _timestamp, ...draft } = entry
      drafts.push(draft as Entry.Draft)
    }
    return Session.make(drafts, { placement: Option.getOrUndefined(recorded.placement) })
  })

const asEffect = (value: unknown, what: string): Effect.Effect<unknown, unknown, never> =>
  Effect.isEffect(value)
    ? value as Effect.Effect<unknown, unknown, never>
    : new CliError({
      reason: "Usage",
      detail: `${what} did not return an Effect: it must be (session) => Effect<Session>`
    })

const asSession = (value: unknown, what: string): Effect.Effect<Session.Session, CliError> =>
  Session.isSession(value)
    ? Effect.succeed(value)
    : new CliError({ reason: "Usage", detail: `${what} did not produce a Session` })

/** The replay divergence a failure carries, looked for through `cause` (an agent wraps it). */
const divergenceIn = (error: unknown): Option.Option<string> => {
  let current: unknown = error
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const value = current as { _tag?: unknown; reason?: unknown; detail?: unknown; cause?: unknown }
    if (value._tag === "ProviderError" && value.reason === "ReplayDiverged" && typeof value.detail === "string") {
      return Option.some(value.detail)
    }
    current = value.cause
  }
  return Option.none()
}

const replay = Command.make(
  "replay",
  {
    target: target(targetDescription),
    workflow: Options.file("workflow").pipe(
      Options.withAlias("w"),
      Options.withDescription(
        `the module to replay: exports \`workflow\` (or default), (session) => Effect<Session>, and optionally \`input\`, (recorded) => Session; ${tsxHint}`
      )
    ),
    store
  },
  (args) =>
    Effect.gen(function*() {
      const recorded = yield* Effect.flatMap(resolve(Option.some(args.target), args.store), Source.single)
      const module = yield* loadWorkflow(args.workflow)
      const input = module.input === undefined
        ? yield* defaultReplayInput(recorded)
        : yield* Effect.suspend(() => {
          const value = module.input!(recorded)
          return Effect.isEffect(value) ? asEffect(value, "input") : Effect.succeed(value)
        }).pipe(
          Effect.mapError((error) =>
            error instanceof CliError
              ? error
              : new CliError({ reason: "InvalidData", detail: `input failed: ${messageOf(error)}`, cause: error })
          ),
          Effect.flatMap((value) => asSession(value, "input"))
        )
      const replayer = yield* Replay.make(recorded)
      const diverged = (report: string) =>
        Effect.zipRight(
          print(`replay diverged from ${recorded.id}:\n${report}`),
          new CliError({
            reason: "InvalidData",
            detail: `the replay of ${recorded.id} diverged from the recording: ${
              report.split("\n")[0]!.replace(/:$/, "")
            }; fix the workflow, or record the run again`
          })
        )
      const replayed = yield* Effect.suspend(() => asEffect(module.workflow(input), "workflow")).pipe(
        Effect.provideService(Provider.Provider, replayer.provider),
        Effect.provideService(Tool.Executor, replayer.executor),
        Effect.catchAllDefect((defect) =>
          new CliError({
            reason: "InvalidData",
            detail: `the workflow died during the replay: ${
              oneLine(messageOf(defect))
            } (run with --verbose for the stack trace)`,
            cause: defect
          })
        ),
        Effect.catchAll((error) =>
          error instanceof CliError ? Effect.fail(error) : Option.match(divergenceIn(error), {
            onSome: diverged,
            onNone: () =>
              new CliError({
                reason: "InvalidData",
                detail: `the workflow failed during the replay: ${oneLine(messageOf(error))}`,
                cause: error
              })
          })
        ),
        Effect.flatMap((value) => asSession(value, "workflow"))
      )
      return yield* Option.match(Replay.diff(recorded, replayed), {
        onSome: (divergence) => diverged(Replay.describe(divergence)),
        onNone: () =>
          Effect.gen(function*() {
            const models = yield* replayer.modelCalls
            const tools = yield* replayer.toolCalls
            return yield* print(
              `replay matches: ${replayed.length} entries (${models} model call${
                models === 1 ? "" : "s"
              } and ${tools} tool call${tools === 1 ? "" : "s"} answered from the recording)`
            )
          })
      })
    })
).pipe(
  Command.withDescription(
    "re-run a workflow module against a recorded session (no model, no tools run) and check it does the same"
  )
)

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
  Command.withSubcommands([
    sessions,
    show,
    graph,
    diff,
    explain,
    exportCommand,
    importCommand,
    replay,
    memoryCommand,
    prune,
    serve,
    demoCommand,
    EvalCli.command,
    RunnerCli.runner,
    RunnerCli.run
  ])
)

const helpTree = Help.tree(command, [
  Help.tree(sessions, [Help.tree(sessionsList)]),
  Help.tree(show),
  Help.tree(graph),
  Help.tree(diff),
  Help.tree(explain),
  Help.tree(exportCommand),
  Help.tree(importCommand),
  Help.tree(replay),
  Help.tree(memoryCommand, [
    Help.tree(memoryRemember),
    Help.tree(memoryRecall),
    Help.tree(memoryList),
    Help.tree(memoryForget)
  ]),
  Help.tree(prune),
  Help.tree(serve),
  Help.tree(demoCommand),
  Help.tree(EvalCli.command, EvalCli.subcommands.map((sub) => Help.tree(sub))),
  Help.tree(RunnerCli.runner),
  Help.tree(RunnerCli.run, RunnerCli.runSubcommands.map((sub) => Help.tree(sub)))
])

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
export const main = (
  argv: ReadonlyArray<string>,
  options?: {
    /** Bold headers in help pages: set it when standard output is a terminal and NO_COLOR is not set. */
    readonly color?: boolean | undefined
  }
): Effect.Effect<number, never, CliApp.CliApp.Environment> => {
  const verbose = argv.includes("--verbose")
  const args = verbose
    ? [...argv.slice(0, 2), "--verbose", ...argv.slice(2).filter((arg) => arg !== "--verbose")]
    : argv
  const scanned = Help.scan(helpTree, args.slice(2))
  if (Option.isSome(scanned.problem)) {
    return Effect.as(Console.error(`rath: ${scanned.problem.value}`), ExitCode.Usage as number)
  }
  if (scanned.help) {
    return Effect.as(
      Console.log(Help.render(helpTree, scanned.path, { color: options?.color ?? false, version })),
      ExitCode.Ok as number
    )
  }
  // parse once before running, so that the parser's errors are rath's one line, not its help page
  const checked = Descriptor.parse(command.descriptor, ["rath", ...args.slice(2)], CliConfig.defaultConfig).pipe(
    Effect.flatMap((directive) =>
      directive._tag === "UserDefined" && directive.leftover.length > 0
        ? Effect.fail(
          `unexpected argument ${directive.leftover[0]} for ${["rath", ...scanned.path].join(" ")}: see \`${
            ["rath", ...scanned.path].join(" ")
          } --help\``
        )
        : Effect.void
    ),
    Effect.catchIf(ValidationError.isValidationError, (error) => Effect.fail(Help.parseErrorLine(error, scanned)))
  )
  return checked.pipe(
    Effect.matchEffect({
      onFailure: (line) => Effect.as(Console.error(`rath: ${line}`), ExitCode.Usage as number),
      onSuccess: () => runChecked(args, verbose)
    })
  )
}

const runChecked = (
  args: ReadonlyArray<string>,
  verbose: boolean
): Effect.Effect<number, never, CliApp.CliApp.Environment> =>
  run(args).pipe(
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
