/**
 * The SessionStore: sessions that outlive the process that made them.
 *
 * `save` is incremental, like a git push: it writes only the entries the store does not have
 * yet, so the shared history of forks is stored once and storage grows with new entries, never
 * with the number of forks. Saving a session whose stored history is not a prefix of the new one
 * (the history diverged) is a typed `Conflict`, never an overwrite. `load` rebuilds the exact
 * session value (`Equal.equals(loaded, saved)`), forks and merges included.
 *
 * Backends: SQLite (WAL) at `.rath/rath.db` by default ({@link layer}), PostgreSQL for stores
 * that several processes or machines share ({@link layerPg}), and an in-memory store for tests
 * ({@link layerMemory}); one conformance suite runs against all three. {@link layerFromUrl} picks
 * one from a URL (`postgres://…`, `sqlite:<path>` or a bare path, `memory:`).
 *
 * @since 0.1.0
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Entry from "./Entry.js"
import * as storeMemory from "./internal/storeMemory.js"
import * as storePgUrl from "./internal/storePgUrl.js"
import * as storeSql from "./internal/storeSql.js"
import type * as Placement from "./Placement.js"
import type * as Session from "./Session.js"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * The one error of this module.
 *
 * - `NotFound`: no session with that id.
 * - `Conflict`: the stored history of that id is not a prefix of the session being saved.
 * - `NewerSchema`: the store was written by a newer rath; upgrade rath to open it.
 * - `Corrupt`: the file is damaged: a stored row fails its checksum or its schema, SQLite finds
 *   the file damaged or not a database, or its tables are not a rath store's.
 * - `InvalidJsonl`: `importJsonl` got text that is not a session file (a torn end is not an
 *   error: the intact prefix is imported and reported).
 * - `Unavailable`: the database failed (cannot open, disk full, locked for too long; a Postgres
 *   server that refuses the connection or does not answer within the connect timeout), or a write
 *   to a store opened read-only (read-only media or no write permission: it can still be read).
 * - `InvalidUrl`: a store URL that is malformed or names no kind of store rath knows.
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionStoreError extends Schema.TaggedError<SessionStoreError>("rath/SessionStoreError")(
  "SessionStoreError",
  {
    reason: Schema.Literal(
      "NotFound",
      "Conflict",
      "NewerSchema",
      "Corrupt",
      "InvalidJsonl",
      "Unavailable",
      "InvalidUrl"
    ),
    detail: Schema.String,
    sessionId: Schema.optional(Schema.String),
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.sessionId === undefined
      ? `${this.reason}: ${this.detail}`
      : `${this.reason} (session ${this.sessionId}): ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * A stored session's row: everything but its entries.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly id: Session.SessionId
  /** The id of the newest entry, if any. */
  readonly head: Option.Option<Entry.EntryId>
  readonly length: number
  readonly base: number
  readonly lineage: Session.Lineage
  readonly placement: Option.Option<Placement.Placement>
  /** The agent record saved with the session (JSON), if any. */
  readonly agent: Option.Option<unknown>
  /** When the session was last saved (Clock milliseconds). */
  readonly updatedAt: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SaveOptions {
  /**
   * A JSON record of the agent that runs this session (its spec), kept on the session row so a
   * run can be resumed. Absent: the stored record is kept.
   */
  readonly agent?: unknown
}

/**
 * What a save wrote.
 *
 * @since 0.1.0
 * @category models
 */
export interface SaveResult {
  /** Entries appended to the session since the stored head (0 when nothing changed). */
  readonly appended: number
  /** Whether the session row was created by this save. */
  readonly created: boolean
}

/**
 * Filters for {@link Service.list}; all given filters must hold.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  /** Created at or after (lineage `createdAt`, Clock milliseconds). */
  readonly since?: number | undefined
  /** Created before. */
  readonly until?: number | undefined
  /** Made by this agent or workflow (lineage `by.name`) or saved with an agent record named so. */
  readonly agent?: string | undefined
  /** Has this session as a lineage parent. */
  readonly parent?: Session.SessionId | undefined
  /** Some entry's `text` contains this (ASCII case-insensitive). */
  readonly text?: string | undefined
  readonly limit?: number | undefined
}

/**
 * What `importJsonl` did: the session as stored, whether the file was complete (closed by its
 * trailer) and how many torn lines were dropped from its end.
 *
 * @since 0.1.0
 * @category models
 */
export interface Imported {
  readonly session: Session.Session
  readonly closed: boolean
  readonly droppedLines: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Writes what the store lacks: new entries and the session row. `Conflict` if diverged. */
  readonly save: (session: Session.Session, options?: SaveOptions) => Effect.Effect<SaveResult, SessionStoreError>
  /** The exact session value that was saved last under this id. */
  readonly load: (id: string) => Effect.Effect<Session.Session, SessionStoreError>
  /** Session rows, oldest first. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Summary>, SessionStoreError>
  /** The sessions this one descends from (lineage parents, transitively), nearest first. */
  readonly ancestors: (id: string) => Effect.Effect<ReadonlyArray<Summary>, SessionStoreError>
  /** The sessions that descend from this one, nearest first. */
  readonly descendants: (id: string) => Effect.Effect<ReadonlyArray<Summary>, SessionStoreError>
  /** Removes the session row; entries no other session uses are removed with it. */
  readonly delete: (id: string) => Effect.Effect<void, SessionStoreError>
  /** Removes sessions last saved longer ago than `olderThan`; returns how many. */
  readonly prune: (olderThan: Duration.DurationInput) => Effect.Effect<number, SessionStoreError>
  /** The session in the JSONL format of `Session.toJsonl`. */
  readonly exportJsonl: (id: string) => Effect.Effect<string, SessionStoreError>
  /** Decodes with `Session.fromJsonl` and saves; a torn end keeps the intact prefix. */
  readonly importJsonl: (text: string) => Effect.Effect<Imported, SessionStoreError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SessionStore extends Context.Tag("rath/SessionStore")<SessionStore, Service>() {}

// -----------------------------------------------------------------------------
// constructors and layers
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions {
  /** Database file. Default `.rath/rath.db` in the working directory (its folder is created). */
  readonly filename?: string | undefined
  /** How long a write waits for another process's write lock. Default 10 seconds. */
  readonly busyTimeout?: Duration.DurationInput | undefined
  /**
   * `NORMAL` (default): a commit survives a process crash but is not fsynced, so an OS crash or
   * power loss may lose the last commits. `FULL`: every commit is fsynced.
   */
  readonly synchronous?: "NORMAL" | "FULL" | undefined
}

/**
 * The default database file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const DEFAULT_FILENAME = ".rath/rath.db"

/**
 * The schema version this rath writes. A store whose schema is newer is refused.
 *
 * @since 0.1.0
 * @category constructors
 */
export const SCHEMA_VERSION = storeSql.SCHEMA_VERSION

/**
 * Opens (and migrates) a SQLite store. The connection closes with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlite = (options?: SqliteOptions): Effect.Effect<Service, SessionStoreError, Scope.Scope> =>
  storeSql.make(
    {
      filename: options?.filename ?? DEFAULT_FILENAME,
      busyTimeout: options?.busyTimeout ?? "10 seconds",
      synchronous: options?.synchronous ?? "NORMAL"
    },
    (fields) => new SessionStoreError(fields)
  ).pipe(Effect.map((service) => SessionStore.of(service)))

/**
 * An in-memory store: the same behaviour as the SQLite store, for tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() =>
  SessionStore.of(storeMemory.make((fields) => new SessionStoreError(fields)))
)

/**
 * The SQLite store (WAL) at `.rath/rath.db`, or the file given.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Session, SessionStore } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* SessionStore.SessionStore
 *   const session = yield* Session.fromUserMessage("hi")
 *   yield* store.save(session)
 *   return yield* store.load(session.id)
 * }).pipe(Effect.provide(SessionStore.layer({ filename: "/tmp/rath-example.db" })))
 * ```
 */
export const layer = (options?: SqliteOptions): Layer.Layer<SessionStore, SessionStoreError> =>
  Layer.scoped(SessionStore, makeSqlite(options))

/**
 * A fresh in-memory store.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<SessionStore> = Layer.effect(SessionStore, makeMemory)

// -----------------------------------------------------------------------------
// PostgreSQL
// -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface PgOptions {
  /**
   * `postgres://user:password@host:port/database` (or `postgresql://`). Give it as a `Redacted`
   * when it holds a password: rath never logs it, and masks the password in its error messages.
   */
  readonly url: Redacted.Redacted<string> | string
  /** Connections in the pool. Default 10. */
  readonly maxConnections?: number | undefined
  /**
   * How long opening waits for the server to accept a connection before it fails `Unavailable`
   * (a server that refuses fails at once). Default 5 seconds.
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The `application_name` the server shows for these connections. Default `rath`. */
  readonly applicationName?: string | undefined
}

/**
 * The schema version of the Postgres store this rath writes (its own series, apart from
 * SQLite's). A database whose version is newer is refused, and nothing is written to it.
 *
 * @since 0.2.0
 * @category constructors
 */
export const PG_SCHEMA_VERSION = storePgUrl.PG_SCHEMA_VERSION

/**
 * Opens (and migrates) a Postgres store on a pool of its own, closed with the scope. Several
 * processes may share one database: saves are transactions that compare-and-set the session's
 * head, so of two writers racing on one head exactly one wins and the other gets a `Conflict`.
 *
 * `@effect/sql-pg` is loaded on first use, so programs that never open a Postgres store do not
 * load it.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makePg = (options: PgOptions): Effect.Effect<Service, SessionStoreError, Scope.Scope> =>
  Effect.flatMap(
    storePgUrl.loadPg((fields) => new SessionStoreError(fields)),
    (storePg) =>
      storePg.make(
        {
          url: typeof options.url === "string" ? Redacted.make(options.url) : options.url,
          maxConnections: options.maxConnections ?? 10,
          connectTimeout: options.connectTimeout ?? "5 seconds",
          applicationName: options.applicationName ?? "rath"
        },
        (fields) => new SessionStoreError(fields)
      )
  ).pipe(Effect.map((service) => SessionStore.of(service)))

/**
 * The Postgres store.
 *
 * @since 0.2.0
 * @category layers
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { SessionStore } from "rath"
 *
 * const StoreLive = SessionStore.layerPg({
 *   url: Redacted.make("postgres://rath:secret@db.internal:5432/rath")
 * })
 * ```
 */
export const layerPg = (options: PgOptions): Layer.Layer<SessionStore, SessionStoreError> =>
  Layer.scoped(SessionStore, makePg(options))

/**
 * The Postgres store on the `PgClient` the program already has (the one `@effect/cluster`'s
 * storage uses, say), instead of a pool of its own: same schema, same behaviour. The client's
 * lifetime is its own layer's.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makePgWithClient: Effect.Effect<Service, SessionStoreError, PgClient.PgClient> = Effect.flatMap(
  storePgUrl.loadPg((fields) => new SessionStoreError(fields)),
  (storePg) => storePg.makeFromClient((fields) => new SessionStoreError(fields))
).pipe(Effect.map((service) => SessionStore.of(service)))

/**
 * {@link makePgWithClient} as a layer.
 *
 * @since 0.2.0
 * @category layers
 * @example
 * ```ts
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { SessionStore } from "rath"
 *
 * const Database = PgClient.layer({ url: Redacted.make("postgres://rath:secret@db.internal/rath") })
 * const StoreLive = SessionStore.layerPgWithClient.pipe(Layer.provide(Database))
 * ```
 */
export const layerPgWithClient: Layer.Layer<SessionStore, SessionStoreError, PgClient.PgClient> = Layer.effect(
  SessionStore,
  makePgWithClient
)

/**
 * Options of {@link layerFromUrl} for whichever store the URL names (each applies to its kind).
 *
 * @since 0.2.0
 * @category models
 */
export interface UrlOptions extends Omit<PgOptions, "url">, Omit<SqliteOptions, "filename"> {}

/**
 * Opens the store a URL names:
 *
 * - `postgres://…` or `postgresql://…`: {@link makePg};
 * - `sqlite:<path>` (also `sqlite://<path>`), or a bare path with no scheme: {@link makeSqlite};
 * - `memory:`: {@link makeMemory}.
 *
 * Anything else (another scheme, an empty string, a Postgres URL that does not parse) fails
 * `InvalidUrl`, with the password masked in the message.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeFromUrl = (
  url: Redacted.Redacted<string> | string,
  options?: UrlOptions
): Effect.Effect<Service, SessionStoreError, Scope.Scope> =>
  Effect.flatMap(
    storePgUrl.parseStoreUrl(
      typeof url === "string" ? url : Redacted.value(url),
      (fields) => new SessionStoreError(fields)
    ),
    (target): Effect.Effect<Service, SessionStoreError, Scope.Scope> => {
      switch (target._tag) {
        case "Memory":
          return makeMemory
        case "Sqlite":
          return makeSqlite({ ...options, filename: target.filename })
        case "Postgres":
          return makePg({ ...options, url: target.url })
      }
    }
  )

/**
 * The store a URL names (see {@link makeFromUrl}): what a runner's configuration calls with its
 * `store` setting.
 *
 * @since 0.2.0
 * @category layers
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { SessionStore } from "rath"
 *
 * SessionStore.layerFromUrl("sqlite:.rath/rath.db")
 * SessionStore.layerFromUrl(Redacted.make("postgres://rath:secret@db.internal/rath"), { maxConnections: 4 })
 * ```
 */
export const layerFromUrl = (
  url: Redacted.Redacted<string> | string,
  options?: UrlOptions
): Layer.Layer<SessionStore, SessionStoreError> => Layer.scoped(SessionStore, makeFromUrl(url, options))
