/**
 * Where the `rath` command finds sessions. A {@link SessionSource} lists lineage rows and loads a
 * session by id; the commands only talk to this interface, so a JSONL file, a directory of JSONL
 * files and the SQLite `SessionStore` are interchangeable behind it.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { invalidEntry } from "../internal/storeCodec.js"
import * as Session from "../Session.js"
import * as SessionGraph from "../SessionGraph.js"
import * as SessionStore from "../SessionStore.js"
import { CliError } from "./CliError.js"

/**
 * The store path used when `--store` is not given.
 *
 * @since 0.2.0
 * @category models
 */
export const defaultStore = ".rath/rath.db"

/**
 * A place sessions come from.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionSource {
  /** What this source is, for messages ("directory runs/", "store .rath/rath.db"). */
  readonly label: string
  /** The lineage row of every session the source holds, oldest first where known. */
  readonly list: Effect.Effect<ReadonlyArray<SessionGraph.Row>, CliError>
  /**
   * The rows that pass the store's filters (`SessionStore.ListOptions`: since, until, agent,
   * parent, text, limit), oldest first. A store answers it with its own query; files are
   * filtered in memory the same way.
   */
  readonly query: (options: SessionStore.ListOptions) => Effect.Effect<ReadonlyArray<SessionGraph.Row>, CliError>
  /** One session by id; `NotFound` when the source does not hold it. */
  readonly load: (id: string) => Effect.Effect<Session.Session, CliError>
  /** Warnings found while reading (torn files whose intact prefix was loaded). */
  readonly warnings: ReadonlyArray<string>
  /**
   * The source as it is now: files are read again; a live store returns itself. `rath serve`
   * uses it on every request.
   */
  readonly reload: Effect.Effect<SessionSource, CliError, FileSystem.FileSystem | Path.Path>
}

/**
 * A source over session values already in memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSessions = (
  label: string,
  sessions: Iterable<Session.Session>,
  warnings: ReadonlyArray<string> = []
): SessionSource => {
  const self: SessionSource = {
    label,
    warnings,
    reload: Effect.sync(() => self),
    ...lookup(label, sessions)
  }
  return self
}

const lookup = (
  label: string,
  sessions: Iterable<Session.Session>
): Pick<SessionSource, "list" | "load" | "query"> => {
  const byId = new Map<string, Session.Session>()
  for (const session of sessions) byId.set(session.id, session)
  const rows = Array.from(byId.values(), SessionGraph.rowOf).sort((a, b) => a.createdAt - b.createdAt)
  return {
    list: Effect.succeed(rows),
    // filtered by an in-memory SessionStore, so that files and stores answer a query alike
    query: (options) =>
      SessionStore.makeMemory.pipe(
        Effect.tap((store) => Effect.forEach(byId.values(), (session) => store.save(session), { discard: true })),
        Effect.flatMap((store) => store.list(options)),
        Effect.map((summaries) => summaries.map(rowOfSummary)),
        Effect.mapError(fromStoreError(label))
      ),
    load: (id) => {
      const session = byId.get(id)
      return session === undefined
        ? Effect.fail(
          new CliError({
            reason: "NotFound",
            detail: `no session ${id} in ${label}: run \`rath sessions list\` on it to see the ids it holds`
          })
        )
        : Effect.succeed(session)
    }
  }
}

/**
 * Every session of a source, in the order of {@link SessionSource.list}.
 *
 * @since 0.1.0
 * @category getters
 */
export const loadAll = (source: SessionSource): Effect.Effect<ReadonlyArray<Session.Session>, CliError> =>
  Effect.flatMap(source.list, (rows) => Effect.forEach(rows, (row) => source.load(row.id)))

const ioError = (what: string, cause: unknown) =>
  new CliError({
    reason: "Io",
    detail: `cannot read ${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/**
 * Reads one JSONL session file. A torn file (no trailer) loads its intact prefix and reports a
 * warning; a corrupt line is `InvalidData` naming the file and line.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readFile = (
  file: string
): Effect.Effect<
  { readonly session: Session.Session; readonly warning: Option.Option<string> },
  CliError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(Effect.mapError((cause) =>
      cause._tag === "SystemError" && cause.reason === "NotFound"
        ? new CliError({ reason: "NotFound", detail: `${file} does not exist: pass a JSONL session file` })
        : ioError(file, cause)
    ))
    const decoded = yield* Session.fromJsonl(text).pipe(
      Effect.mapError((cause) =>
        new CliError({
          reason: "InvalidData",
          detail: `${file} is not a valid rath session file (${cause.reason}${
            cause.line === undefined ? "" : ` at line ${cause.line}`
          }): re-export it with \`rath export\`, or run with --verbose for the details`,
          cause
        })
      )
    )
    const warning = decoded.closed ? Option.none<string>() : Option.some(
      `${file} was not closed (a write was cut short${
        decoded.droppedLines > 0 ? `; ${decoded.droppedLines} torn line(s) dropped` : ""
      }): showing its intact prefix`
    )
    return { session: decoded.session, warning }
  })

/**
 * A source over one JSONL file, or every `*.jsonl` file directly inside a directory (sorted by
 * name). Two files holding the same session id are `InvalidData`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPath = (
  path: string
): Effect.Effect<SessionSource, CliError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const info = yield* fs.stat(path).pipe(
      Effect.mapError((cause) =>
        cause._tag === "SystemError" && cause.reason === "NotFound"
          ? new CliError({ reason: "NotFound", detail: `${path} does not exist: pass a JSONL file or a directory` })
          : ioError(path, cause)
      )
    )
    const files = info.type === "Directory"
      ? (yield* fs.readDirectory(path).pipe(Effect.mapError((cause) => ioError(path, cause))))
        .filter((name) => name.endsWith(".jsonl"))
        .sort()
        .map((name) => paths.join(path, name))
      : [path]
    const sessions: Array<Session.Session> = []
    const warnings: Array<string> = []
    const origin = new Map<string, string>()
    for (const file of files) {
      const { session, warning } = yield* readFile(file)
      const seen = origin.get(session.id)
      if (seen !== undefined) {
        return yield* new CliError({
          reason: "InvalidData",
          detail: `session ${session.id} is in both ${seen} and ${file}: keep one of them`
        })
      }
      origin.set(session.id, file)
      sessions.push(session)
      if (Option.isSome(warning)) warnings.push(warning.value)
    }
    const label = info.type === "Directory" ? `directory ${path}` : `file ${path}`
    return { label, warnings, reload: fromPath(path), ...lookup(label, sessions) }
  })

/**
 * Opens a store path as a source: a directory of JSONL files, or a SQLite store file. Kept as a
 * function that callers can replace, so that the SQLite `SessionStore` plugs in here. A store
 * that holds a connection keeps it open until the scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export type StoreOpener = (
  path: string
) => Effect.Effect<SessionSource, CliError, FileSystem.FileSystem | Path.Path | Scope.Scope>

/**
 * A store error as the command line reports it.
 *
 * @since 0.1.0
 * @category errors
 */
export const fromStoreError = (path: string) => (error: SessionStore.SessionStoreError): CliError => {
  switch (error.reason) {
    case "NotFound":
      return new CliError({
        reason: "NotFound",
        detail: `no session ${error.sessionId ?? ""} in store ${path}: run \`rath sessions list --store ${path}\``,
        cause: error
      })
    case "NewerSchema":
      return new CliError({
        reason: "Unavailable",
        detail: `store ${path} was written by a newer rath: upgrade rath to read it`,
        cause: error
      })
    case "Corrupt":
      // a damaged row names its session; a file that cannot be read as a store at all does not
      return error.sessionId === undefined
        ? new CliError({
          reason: "Io",
          detail: `cannot open store ${path} (${error.detail}): check that it is a rath SQLite store and undamaged`,
          cause: error
        })
        : new CliError({ reason: "InvalidData", detail: `store ${path}: ${error.message}`, cause: error })
    case "Unavailable":
      return new CliError({
        reason: "Io",
        detail: `cannot open store ${path} (${error.detail}): check that it is a rath SQLite store and readable`,
        cause: error
      })
    default:
      return new CliError({ reason: "InvalidData", detail: `store ${path}: ${error.message}`, cause: error })
  }
}

const rowOfSummary = (summary: SessionStore.Summary): SessionGraph.Row => ({
  id: summary.id,
  parents: summary.lineage.parents,
  operation: summary.lineage.operation,
  ...(summary.lineage.by === undefined ? {} : { by: summary.lineage.by }),
  createdAt: summary.lineage.createdAt,
  length: summary.length,
  ...Option.match(summary.head, { onNone: () => ({}), onSome: (head) => ({ head }) })
})

/**
 * A source over a `SessionStore` service (any backend).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStore = (path: string, store: SessionStore.Service): SessionSource => {
  const toCli = fromStoreError(path)
  const self: SessionSource = {
    label: `store ${path}`,
    warnings: [],
    reload: Effect.sync(() => self),
    list: store.list().pipe(
      Effect.map((summaries) => summaries.map(rowOfSummary)),
      Effect.mapError(toCli)
    ),
    query: (options) =>
      store.list(options).pipe(
        Effect.map((summaries) => summaries.map(rowOfSummary)),
        Effect.mapError(toCli)
      ),
    // a stored entry that fails its schema (saved without validation, or written by other software)
    // would load and then die where a command encodes it: refused here, naming the entry
    load: (id) =>
      store.load(id).pipe(
        Effect.mapError(toCli),
        Effect.filterOrFail(
          (session) => invalidEntry(session) === undefined,
          (session) =>
            new CliError({
              reason: "InvalidData",
              detail: `store ${path}: session ${id}: ${
                invalidEntry(session) ?? ""
              }: the stored session is damaged; delete it or restore the store from a copy`
            })
        )
      )
  }
  return self
}

/**
 * Opens the SQLite store at `path` (the connection closes with the scope). `create: false` (the
 * default) refuses a path that does not exist instead of making a new, empty store there.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openSqlite = (
  path: string,
  options?: { readonly create?: boolean }
): Effect.Effect<SessionStore.Service, CliError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    if (options?.create !== true) {
      const exists = yield* fs.exists(path).pipe(Effect.mapError((cause) => ioError(path, cause)))
      if (!exists) {
        return yield* new CliError({
          reason: "NotFound",
          detail: `store ${path} does not exist: pass a JSONL file or directory, or --store PATH`
        })
      }
    }
    return yield* SessionStore.makeSqlite({ filename: path }).pipe(Effect.mapError(fromStoreError(path)))
  })

/**
 * The default store opener: a directory is read as JSONL files; a file is opened as the SQLite
 * `SessionStore`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const openStore: StoreOpener = (path) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(path).pipe(Effect.mapError((cause) => ioError(path, cause)))
    if (!exists) {
      return yield* new CliError({
        reason: "NotFound",
        detail: `store ${path} does not exist: pass a JSONL file or directory, or --store PATH`
      })
    }
    const info = yield* fs.stat(path).pipe(Effect.mapError((cause) => ioError(path, cause)))
    if (info.type === "Directory") return yield* fromPath(path)
    return fromStore(path, yield* openSqlite(path))
  })

/**
 * What a command line target names: sessions from a path, and optionally one selected session.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  readonly source: SessionSource
  readonly selected: Option.Option<string>
}

/**
 * Resolves a command-line target: an existing file or directory is read as JSONL; anything else
 * is a session id looked up in the store. No target means the whole store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (
  target: Option.Option<string>,
  store: string,
  open: StoreOpener = openStore
): Effect.Effect<Resolved, CliError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function*() {
    if (Option.isNone(target)) return { source: yield* open(store), selected: Option.none() }
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(target.value).pipe(Effect.mapError((cause) => ioError(target.value, cause)))
    if (exists) {
      const source = yield* fromPath(target.value)
      const rows = yield* source.list
      return { source, selected: rows.length === 1 ? Option.some(rows[0]!.id) : Option.none() }
    }
    const looksLikePath = /[/\\]|\.jsonl$/.test(target.value)
    if (looksLikePath) {
      return yield* new CliError({
        reason: "NotFound",
        detail: `${target.value} does not exist: pass a JSONL file, a directory of them, or a session id`
      })
    }
    const source = yield* open(store).pipe(
      Effect.mapError((error) =>
        error.reason === "NotFound"
          ? new CliError({
            reason: "NotFound",
            detail:
              `${target.value} is not a file, and there is no store at ${store} to look it up as a session id: pass a JSONL file or directory, or --store PATH`
          })
          : error
      )
    )
    yield* source.load(target.value)
    return { source, selected: Option.some(target.value) }
  })

/**
 * The one session a command works on: the selected one, or the only one of the source.
 *
 * @since 0.1.0
 * @category getters
 */
export const single = (resolved: Resolved): Effect.Effect<Session.Session, CliError> =>
  Option.match(resolved.selected, {
    onSome: (id) => resolved.source.load(id),
    onNone: () =>
      Effect.flatMap(resolved.source.list, (rows) =>
        new CliError({
          reason: "Usage",
          detail: rows.length === 0
            ? `${resolved.source.label} holds no session`
            : `${resolved.source.label} holds ${rows.length} sessions: pass one of its files, or a session id with --store DIR`
        }))
  })
