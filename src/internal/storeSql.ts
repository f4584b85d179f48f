/**
 * The SQLite SessionStore backend.
 *
 * Layout (schema version 4; version 3 added the `crc` columns: every node and session row carries
 * a CRC-32 of what it holds, checked on every read, see `storeCodec.nodeChecksum`; version 4 leaves
 * a default author out of a node's text):
 *
 * - `rath_nodes(id, prev, pos, data)`: the entry chains, mirroring the in-memory `Session.Node`
 *   chain, one rowid table: a node is one position of a chain (`pos`, 1-based), the node before
 *   it (`prev`) and its entry (`data`, the entry's JSON, without its parents when they are the
 *   chain's previous entry; see `encodeStored`). Forks share nodes, so a fork adds nodes only for
 *   its new entries. A merge adds a node for each entry it takes from the other side (with that
 *   entry's content again), because in the merged chain that entry follows a different node than
 *   in its own chain. A node's `prev` is always an older row (a smaller id).
 * - `rath_sessions`: one small row per session: head node, length, base, lineage, placement,
 *   agent record.
 * - `rath_session_parents(child, parent, ord)`: lineage edges, for recursive CTEs.
 *
 * Version 1 kept entries in a table of their own (`rath_entries(id, data)`, keyed by entry id)
 * beside `rath_nodes(id, entry, prev, pos, owner)` with an index on `prev`: three B-trees and the
 * session row per append, the id stored three times. Migration 2 folds the entries into the
 * nodes (the entry id only in the entry's JSON); a version-1 store opens and is converted in one
 * transaction, without loss.
 *
 * The store owns one better-sqlite3 connection (closed with its scope) and runs cached prepared
 * statements on it, each operation one synchronous call (better-sqlite3 is synchronous, as
 * effect-sql's SQLite client itself calls it): a save is one `BEGIN IMMEDIATE` transaction that
 * reads the session row, checks that the stored history is a prefix of the one being saved,
 * writes the new nodes and moves the head; a load is one read transaction. An append and save
 * writes one row and updates one: two B-tree pages per commit. effect-sql costs ~15-35 µs a
 * statement (statement cache lookup, fibers), more than SQLite's own work here, so it is used
 * only for the Migrator, and only when the file's schema is not current: opening a current store
 * is one version query.
 *
 * @internal
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import Database from "better-sqlite3"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from "node:fs"
import * as NodeModule from "node:module"
import { dirname } from "node:path"
import * as Entry from "../Entry.js"
import * as Session from "../Session.js"
import type * as SessionStore from "../SessionStore.js"
import * as entriesCache from "./entriesCache.js"
import type { ErrorFields } from "./storeCodec.js"
import {
  asciiLower,
  decodeRow,
  divergence,
  encodeStored,
  jsonlOps,
  nodeAt,
  nodeChecksum,
  nodesAfter,
  rowChecksum,
  rowChecksumMiddle,
  rowChecksumOf,
  textChecksum
} from "./storeCodec.js"
import * as Rows from "./storeRows.js"

export const SCHEMA_VERSION = 4
/** The first schema version whose rows carry checksums; an older store read in place has none. */
const CHECKSUMS_SINCE = 3
const MIGRATIONS_TABLE = "rath_migrations"
const PAGE_SIZE = 1024
const WAL_BYTES = 1_048_576
/**
 * How many row ids of loaded nodes a store remembers (each holds its node weakly, ~100 bytes an
 * id), least recently used first out.
 */
const LOADED_NODES = 1024

type E = SessionStore.SessionStoreError

export interface Config {
  readonly filename: string
  readonly busyTimeout: Duration.DurationInput
  readonly synchronous: "NORMAL" | "FULL"
}

const migrations = Migrator.fromRecord({
  "1_sessions": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE rath_entries (
      id TEXT PRIMARY KEY NOT NULL,
      data TEXT NOT NULL
    ) WITHOUT ROWID`
    yield* sql`CREATE TABLE rath_nodes (
      id INTEGER PRIMARY KEY,
      entry TEXT NOT NULL,
      prev INTEGER,
      pos INTEGER NOT NULL,
      owner INTEGER NOT NULL
    )`
    yield* sql`CREATE INDEX rath_nodes_prev ON rath_nodes (prev)`
    yield* sql`CREATE TABLE rath_sessions (
      key INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      head INTEGER,
      head_entry TEXT,
      length INTEGER NOT NULL,
      base INTEGER NOT NULL,
      operation TEXT NOT NULL,
      parents TEXT NOT NULL,
      by_kind TEXT,
      by_name TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      placement TEXT,
      agent TEXT
    )`
    yield* sql`CREATE INDEX rath_sessions_created ON rath_sessions (created_at)`
    yield* sql`CREATE TABLE rath_session_parents (
      child TEXT NOT NULL,
      ord INTEGER NOT NULL,
      parent TEXT NOT NULL,
      PRIMARY KEY (child, ord)
    ) WITHOUT ROWID`
    yield* sql`CREATE INDEX rath_session_parents_parent ON rath_session_parents (parent)`
    // One statement per append-and-save: inserting rows into this view stores each new entry and
    // node and, on the last row, moves the session's head, only if the row still holds the
    // head the writer expects (else the whole statement aborts). A single statement is its own
    // transaction, so the common save needs no BEGIN/COMMIT round trips.
    yield* sql`CREATE VIEW rath_append (node, entry, data, prev, pos, owner, last, expect_head, expect_length,
      head, head_entry, length, updated_at, placement, agent) AS
      SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`
    yield* sql`CREATE TRIGGER rath_append_row INSTEAD OF INSERT ON rath_append
    BEGIN
      SELECT RAISE(ABORT, 'rath: stale session row') WHERE NEW.last = 1 AND NOT EXISTS (
        SELECT 1 FROM rath_sessions WHERE key = NEW.owner AND head IS NEW.expect_head AND length = NEW.expect_length
      );
      INSERT OR IGNORE INTO rath_entries (id, data) SELECT NEW.entry, NEW.data WHERE NEW.entry IS NOT NULL;
      INSERT INTO rath_nodes (id, entry, prev, pos, owner)
        SELECT NEW.node, NEW.entry, NEW.prev, NEW.pos, NEW.owner WHERE NEW.entry IS NOT NULL;
      UPDATE rath_sessions SET head = NEW.head, head_entry = NEW.head_entry, length = NEW.length,
        updated_at = NEW.updated_at, placement = NEW.placement, agent = coalesce(NEW.agent, agent)
        WHERE NEW.last = 1 AND key = NEW.owner;
    END`
  }),
  // entries folded into the nodes: one rowid table, the entry id stored once (in the entry's
  // JSON), parents left out where the chain implies them (as `storeCodec.encodeStored` writes
  // them), no index on `prev`. A node whose entry row is missing fails the NOT NULL (the migration rolls
  // back) instead of being dropped.
  "2_entries_in_nodes": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE rath_nodes_v2 (
      id INTEGER PRIMARY KEY,
      prev INTEGER,
      pos INTEGER NOT NULL,
      data TEXT NOT NULL
    )`
    yield* sql`INSERT INTO rath_nodes_v2 (id, prev, pos, data)
      SELECT n.id, n.prev, n.pos,
        CASE WHEN json_extract(e.data, '$.parents') = CASE WHEN n.prev IS NULL THEN '[]' ELSE json_array(p.entry) END
          THEN json_remove(e.data, '$.parents')
          ELSE e.data END
      FROM rath_nodes n
      LEFT JOIN rath_entries e ON e.id = n.entry
      LEFT JOIN rath_nodes p ON p.id = n.prev
      ORDER BY n.id`
    yield* sql`DROP VIEW rath_append`
    yield* sql`DROP TABLE rath_nodes`
    yield* sql`DROP TABLE rath_entries`
    yield* sql`ALTER TABLE rath_nodes_v2 RENAME TO rath_nodes`
  }),
  // checksums: every node and session row carries a CRC-32 of what it holds (see
  // `storeCodec.nodeChecksum`, `rowChecksum`), checked on every read, so a damaged row is `Corrupt`
  // and never a different session. Existing rows get theirs here, every node with stored text
  // (schema validity stays the loader's and the exporter's business, as for new rows: an entry that
  // loaded before the upgrade loads after it)
  "3_checksums": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE rath_nodes ADD COLUMN crc INTEGER`
    yield* sql`ALTER TABLE rath_sessions ADD COLUMN crc INTEGER`
    yield* sql`ALTER TABLE rath_sessions ADD COLUMN agent_crc INTEGER`
    const nodes = yield* sql<{ id: number; prev: number | null; pos: number; data: unknown }>`
      SELECT id, prev, pos, data FROM rath_nodes`
    for (const node of nodes) {
      if (typeof node.data !== "string") continue
      yield* sql`UPDATE rath_nodes SET crc = ${nodeChecksum(node.prev, node.pos, node.data)} WHERE id = ${node.id}`
    }
    const sessions = yield* sql<SessionRow>`SELECT ${sql.literal(sessionColumns(false))} FROM rath_sessions s`
    for (const row of sessions) {
      yield* sql`UPDATE rath_sessions SET crc = ${Rows.checksumOfRow(row)}, agent_crc = ${
        typeof row.agent === "string" ? textChecksum(row.agent) : null
      } WHERE key = ${row.key}`
    }
  }),
  // shorter rows: a node's text leaves out its author when it is the default one for its kind
  // (`storeCodec.encodeStored`), about 45 bytes an entry. No row changes: version-3 rows read as
  // they are; the version only tells an older rath that it cannot read the new rows
  "4_default_authors": Effect.void
})

/** A session row as SQLite returns it: integers are numbers, and the row has its `key`. */
interface SessionRow extends Rows.SessionRow {
  readonly key: number
  readonly head: number | null
  readonly created_at: number
  readonly updated_at: number
}

/** How rows are read: every column's type checked, then (unless `legacy`) unsigned checksums. */
const CHECKED: Rows.Reading = { typed: true, legacy: false, signed: false }
const LEGACY: Rows.Reading = { typed: true, legacy: true, signed: false }

/** The session columns; `legacy`: a version-2 store, which has no checksums yet. */
const sessionColumns = (legacy: boolean) =>
  `s.key, s.id, s.head, s.head_entry, s.length, s.base, s.operation, s.parents, s.by_kind, s.by_name, s.created_at, s.updated_at, s.placement, s.agent, ${
    legacy ? "NULL AS crc, NULL AS agent_crc" : "s.crc, s.agent_crc"
  }`

/** What is wrong with a session row read back (its types, its checksum), if anything. */
const rowDamage = (row: SessionRow, legacy: boolean): string | undefined =>
  Rows.rowDamage(row, legacy ? LEGACY : CHECKED)

/** Whether an error comes from SQLite's lock (SQLITE_BUSY / SQLITE_LOCKED), anywhere in its causes. */
const isBusy = (error: unknown): boolean => {
  for (let cause = error, depth = 0; typeof cause === "object" && cause !== null && depth < 8; depth++) {
    const code = (cause as { readonly code?: unknown }).code
    if (typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))) return true
    cause = (cause as { readonly cause?: unknown }).cause
  }
  return false
}

/**
 * What this process last saw of a session row it saved or loaded (see `heads` in {@link make}):
 * where its head is, and the row's unchanging fields (the lineage object they came from and their
 * checksum text), so an append rewrites and checksums only what moved.
 */
interface Known {
  readonly key: number
  readonly head: number | null
  readonly headEntry: string | null
  readonly length: number
  readonly lineage: Session.Lineage
  readonly base: number
  /** The session id's JSON. */
  readonly idJson: string
  /** `rowChecksumMiddle` of the stored row. */
  readonly middle: string
}

/** A typed failure thrown out of a synchronous transaction body (which then rolls back). */
class Abort {
  constructor(readonly error: E) {}
}

/** The schema is still short of current after a migration run (another process is migrating). */
class Incomplete {}

/** Thrown out of the fast save when the row is not what this process last saw (rolls it back). */
class Stale {}

const causeMessage = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** A chain from a node back to its start (at most `?` rows: a damaged `prev` may form a cycle). */
const chainQuery = (crc: string) =>
  `WITH RECURSIVE chain(id, prev, pos, data, crc) AS (
    SELECT id, prev, pos, data, ${crc} FROM rath_nodes WHERE id = ?
    UNION ALL
    SELECT n.id, n.prev, n.pos, n.data, ${crc === "crc" ? "n.crc" : crc} FROM rath_nodes n JOIN chain c ON n.id = c.prev
  )
  SELECT id, prev, pos, data, crc FROM chain LIMIT ?`

/** An SQLite error code anywhere in an error's causes that passes `test`. */
const hasCode = (error: unknown, test: (code: string) => boolean): boolean => {
  for (let cause = error, depth = 0; typeof cause === "object" && cause !== null && depth < 8; depth++) {
    const code = (cause as { readonly code?: unknown }).code
    if (typeof code === "string" && test(code)) return true
    cause = (cause as { readonly cause?: unknown }).cause
  }
  return false
}

/** SQLite found the file damaged, or not a database at all. */
const isDamage = (error: unknown): boolean =>
  hasCode(error, (code) => code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB" || code === "SQLITE_FORMAT")

/** The file cannot be opened for writing (read-only media or permissions). */
const isReadOnly = (error: unknown): boolean =>
  hasCode(
    error,
    (code) =>
      code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" ||
      code === "EROFS" || code === "EACCES" || code === "EPERM"
  )

/**
 * Whether the file is shorter than its header says (a truncated copy): SQLite reads missing pages
 * as empty and may not notice. The header's page count is valid when its change counter matches
 * (bytes 24 and 92); with a write-ahead log beside the file, pages may live there, so no verdict.
 */
const truncatedBy = (filename: string): string | undefined => {
  const size = statSync(filename, { throwIfNoEntry: false })?.size
  if (size === undefined || size === 0) return undefined
  // SQLite takes a file shorter than its header for a new, empty database (and writes to it)
  if (size < 100) return `the file is truncated: ${size} bytes, shorter than a database header`
  const wal = statSync(`${filename}-wal`, { throwIfNoEntry: false })?.size ?? 0
  if (wal > 0) return undefined
  const header = Buffer.alloc(100)
  const fd = openSync(filename, "r")
  try {
    readSync(fd, header, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (header.toString("latin1", 0, 16) !== "SQLite format 3\u0000") return undefined
  const raw = header.readUInt16BE(16)
  const pageSize = raw === 1 ? 65536 : raw
  const pages = header.readUInt32BE(28)
  if (header.readUInt32BE(24) !== header.readUInt32BE(92) || pages === 0) return undefined
  return size < pages * pageSize
    ? `the file is truncated: its header says ${pages} pages of ${pageSize} bytes, it holds ${size} bytes`
    : undefined
}

interface Opened {
  readonly db: Database.Database
  /** Opened read-only: the media or the permissions refuse writes. */
  readonly readOnly: boolean
}

/**
 * What a load read of a chain, head first, in parts: single rows, each with its text, position,
 * link and checksum as stored (checked when the chain is rebuilt)...
 */
interface Rows {
  readonly _tag: "Rows"
  /** Each node's row id, newest first. */
  readonly ids: Array<number>
  readonly data: Array<string | undefined>
  readonly positions: Array<unknown>
  /** Each node's `prev` and checksum, checked against its text when rebuilt. */
  readonly prevs: Array<unknown>
  readonly crcs: Array<unknown>
}

/**
 * ...or a run of consecutive rows `from`..`hi` of one chain (`hi` at position `top`, `from` linked
 * to `below`), whose links and positions its query checked: their texts and checksums as stored,
 * oldest first, in two plain arrays (no array per row).
 */
interface Block {
  readonly _tag: "Block"
  readonly from: number
  readonly hi: number
  readonly top: number
  readonly below: number | null
  readonly data: Array<unknown>
  readonly crcs: Array<unknown>
}

type Part = Rows | Block

let addonPath: string | null | undefined = undefined
/**
 * better-sqlite3's native addon, where its own build puts it, looked up once per process. Without
 * it, better-sqlite3's first `new Database` finds the addon through the `bindings` package, which
 * captures and formats a stack trace to learn its own file name: about 7 ms of a cold open (a
 * tenth of loading a 10,000-entry session in a fresh process). Undefined when the file is not
 * there (another build layout): better-sqlite3 then looks for it itself.
 */
const nativeBinding = (): string | undefined => {
  if (addonPath === undefined) {
    try {
      const path = NodeModule.createRequire(import.meta.url).resolve("better-sqlite3/build/Release/better_sqlite3.node")
      addonPath = existsSync(path) ? path : null
    } catch {
      addonPath = null
    }
  }
  return addonPath ?? undefined
}

/**
 * Opens a connection and reads the schema table once, so a file SQLite cannot read fails here.
 * The read does not wait for a lock (it would block the process: SQLite's busy handler sleeps):
 * `SQLITE_BUSY` comes back at once and the caller retries on a schedule; the connection's busy
 * timeout is set once the read went through.
 */
const tryOpen = (filename: string, options: Database.Options, busyMs: number): Database.Database => {
  const addon = nativeBinding()
  const db = new Database(
    filename,
    addon === undefined ? { ...options, timeout: 0 } : { ...options, timeout: 0, nativeBinding: addon }
  )
  try {
    db.prepare("SELECT count(*) FROM sqlite_master").pluck().get()
    db.pragma(`busy_timeout = ${busyMs}`)
    return db
  } catch (cause) {
    db.close()
    throw cause
  }
}

/**
 * Opens the store file: for reading and writing; else (read-only media, no write permission)
 * read-only; else, when SQLite cannot even read it in place (a WAL file needs its shared-memory
 * file, which read-only media cannot hold), from a copy in memory of the file, which is the whole
 * store when no write-ahead log is left beside it (a store closed cleanly leaves none).
 */
const openDatabase = (filename: string, busyMs: number): Opened => {
  try {
    return { db: tryOpen(filename, {}, busyMs), readOnly: false }
  } catch (first) {
    if (!isReadOnly(first) || filename === ":memory:" || filename.startsWith("file:")) throw first
    try {
      return { db: tryOpen(filename, { readonly: true, fileMustExist: true }, busyMs), readOnly: true }
    } catch {
      let wal = 0
      try {
        wal = statSync(`${filename}-wal`).size
      } catch {
        // no write-ahead log: the file is the whole store
      }
      if (wal > 0) throw first
      const bytes = readFileSync(filename)
      // the header's read and write versions say WAL (2); a copy in memory reads as rollback (1)
      if (bytes.length >= 100 && bytes[18] === 2 && bytes[19] === 2) {
        bytes[18] = 1
        bytes[19] = 1
      }
      return { db: tryOpen(bytes as unknown as string, { readonly: true }, busyMs), readOnly: true }
    }
  }
}

export const make = (
  config: Config,
  fail: (fields: ErrorFields) => E
): Effect.Effect<SessionStore.Service, E, Scope.Scope> =>
  Effect.gen(function*() {
    /** A database failure: `Corrupt` when SQLite found the file damaged, else `Unavailable`. */
    const unavailable = (detail: string) => (cause: unknown) =>
      isDamage(cause)
        ? fail({
          reason: "Corrupt",
          detail: `${detail}: ${causeMessage(cause)} (the file is damaged or not a rath store)`,
          cause
        })
        : fail({
          reason: "Unavailable",
          detail: cause === undefined
            ? detail
            : `${detail}: ${causeMessage(cause)}${
              hasCode(cause, (code) => code.startsWith("SQLITE_READONLY")) ? " (the store is read-only)" : ""
            }`,
          cause
        })
    const corrupt = (sessionId: string, detail: string, cause?: unknown) =>
      fail(
        cause === undefined
          ? { reason: "Corrupt", detail, sessionId }
          : { reason: "Corrupt", detail, sessionId, cause }
      )

    if (config.filename !== ":memory:" && !config.filename.startsWith("file:")) {
      yield* Effect.try({
        try: () => mkdirSync(dirname(config.filename), { recursive: true }),
        catch: unavailable(`cannot create the folder of ${config.filename}`)
      })
    }
    const busyMs = Math.max(0, Math.round(Duration.toMillis(Duration.decode(config.busyTimeout))))
    const isDirectory = yield* Effect.try({
      try: () => statSync(config.filename, { throwIfNoEntry: false })?.isDirectory() === true,
      catch: unavailable(`cannot open ${config.filename}`)
    })
    if (isDirectory) {
      return yield* Effect.fail(fail({
        reason: "Unavailable",
        detail: `cannot open ${config.filename}: it is a directory, not a store file`
      }))
    }
    const truncated = yield* Effect.try({
      try: () => truncatedBy(config.filename),
      catch: unavailable(`cannot open ${config.filename}`)
    })
    if (truncated !== undefined) {
      return yield* Effect.fail(fail({ reason: "Corrupt", detail: `cannot open ${config.filename}: ${truncated}` }))
    }
    const open = Effect.try({
      try: () => openDatabase(config.filename, busyMs),
      catch: unavailable(`cannot open ${config.filename}`)
    })
    const opened = yield* Effect.acquireRelease(
      // another process holding the file locked (a migration, a rollback-journal writer): retried
      // on a schedule for up to the busy timeout, without blocking the process
      open.pipe(Effect.retry({
        schedule: Schedule.spaced("20 millis"),
        times: Math.max(1, Math.ceil(busyMs / 20)),
        while: isBusy
      })),
      ({ db }) => Effect.sync(() => db.close())
    )
    const { db } = opened
    let readOnly = opened.readOnly

    /** Runs one synchronous database call; SQLite errors are `Unavailable`, an `Abort` its error. */
    const run = <A>(detail: string, body: () => A): Effect.Effect<A, E> =>
      Effect.try({
        try: body,
        catch: (cause) => cause instanceof Abort ? cause.error : unavailable(detail)(cause)
      })
    const statements = new Map<string, Database.Statement>()
    const statement = (text: string): Database.Statement => {
      let prepared = statements.get(text)
      if (prepared === undefined) {
        prepared = db.prepare(text)
        statements.set(text, prepared)
      }
      return prepared
    }
    // one wrapper each for write (BEGIN IMMEDIATE: the write lock is taken before the first read,
    // so a read-then-write never fails on another writer's commit) and read transactions
    const inTransaction = db.transaction(<A>(body: () => A): A => body())
    const write = <A>(detail: string, body: () => A): Effect.Effect<A, E> =>
      run(detail, () => inTransaction.immediate(body) as A)
    const read = <A>(detail: string, body: () => A): Effect.Effect<A, E> =>
      run(detail, () => inTransaction.deferred(body) as A)

    // Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once
    // (without its busy handler) when another process is switching it at the same moment: retry
    // for up to the busy timeout. A file already in WAL needs no switch.
    const switchToWal = run(`cannot open ${config.filename}`, () => {
      // a new file gets small pages (a no-op on a file that has its pages already; set before the
      // WAL switch, which writes the file's first page): every commit writes each page it changes
      // whole into the WAL, and a checkpoint fsyncs those bytes, so an append's cost tracks the
      // page size. An append changes two pages (its node's and the session row's)
      db.pragma(`page_size = ${PAGE_SIZE}`)
      if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("journal_mode = WAL")
    })
    if (!readOnly) {
      yield* switchToWal.pipe(
        Effect.catchIf(isBusy, () =>
          switchToWal.pipe(Effect.retry({
            schedule: Schedule.spaced("20 millis"),
            times: Math.max(1, Math.ceil(busyMs / 20)),
            while: isBusy
          })))
      )
    }

    // refuse a store written by a newer schema before touching it
    const schemaVersion = run(`cannot read the schema version of ${config.filename}`, () => {
      const table = statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(MIGRATIONS_TABLE)
      if (table === undefined) return 0
      const version = statement(`SELECT max(migration_id) FROM ${MIGRATIONS_TABLE}`).pluck().get()
      return typeof version === "number" ? version : 0
    })
    const refuseNewer = (version: number) =>
      version > SCHEMA_VERSION
        ? Effect.fail(fail({
          reason: "NewerSchema",
          detail:
            `${config.filename} has schema version ${version}, written by a newer rath; this rath knows versions up to ${SCHEMA_VERSION}. Upgrade rath to open it (the store was not changed).`
        }))
        : Effect.void
    yield* Effect.tap(schemaVersion, refuseNewer)
    // the version the store's rows have: the last of the migrations recorded without a gap from
    // the first (a migration recorded after a missing one, as in a store taken back by hand, runs
    // again: every migration after version 3 can)
    const current = yield* run(`cannot read the schema version of ${config.filename}`, () => {
      const table = statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(MIGRATIONS_TABLE)
      if (table === undefined) return 0
      const ids = statement(`SELECT migration_id FROM ${MIGRATIONS_TABLE} ORDER BY migration_id`).pluck().all()
      let version = 0
      while (ids[version] === version + 1) version++
      return version
    })
    /** A version-2 store read where it cannot be migrated: its rows have no checksums yet. */
    let legacy = false
    // a store one or two versions old is read as it is where it cannot be migrated: version 3 rows
    // are what version 4 reads (4 only writes default authors shorter), version 2 rows lack checksums
    const readOnlyOld = (cause?: unknown) =>
      current >= CHECKSUMS_SINCE - 1
        ? Effect.sync(() => {
          legacy = current < CHECKSUMS_SINCE
          readOnly = true
        })
        : Effect.fail(fail({
          reason: "Unavailable",
          detail: current === 0
            ? `cannot open ${config.filename}: it is read-only and holds no rath store`
            : `cannot open ${config.filename}: it has schema version ${current} and is read-only; open it once where it can be written to upgrade it to version ${SCHEMA_VERSION}`,
          cause
        }))
    if (current < SCHEMA_VERSION && readOnly) yield* readOnlyOld()
    else if (current < SCHEMA_VERSION) {
      // effect-sql's Migrator on a connection of its own, closed once the schema is current. Two
      // processes may open a new store at once: the loser of the migration lock waits for the
      // winner's migrations to commit. The Migrator reports the lost race as success ("Migrations
      // already running") before the winner has committed, so a version still short of current is
      // retried like a busy lock, for up to the busy timeout.
      const migrate = Effect.scoped(Effect.gen(function*() {
        // better-sqlite3 throws from its constructor when the file cannot be opened: a defect
        // inside SqliteClient.make, turned into a typed error here, at the boundary
        const context = yield* Layer.build(SqliteClient.layer({ filename: config.filename })).pipe(
          Effect.catchAllDefect((cause) => Effect.fail(unavailable(`cannot open ${config.filename}`)(cause))),
          Effect.mapError((cause) =>
            cause._tag === "SessionStoreError" ? cause : unavailable(`cannot open ${config.filename}`)(cause)
          )
        )
        const sql = yield* Effect.provide(SqlClient.SqlClient, context)
        yield* sql.unsafe(`PRAGMA busy_timeout = ${busyMs}`).pipe(Effect.mapError(unavailable("cannot configure")))
        if (current >= CHECKSUMS_SINCE - 1) {
          yield* sql.unsafe(`DELETE FROM ${MIGRATIONS_TABLE} WHERE migration_id > ${current}`).pipe(
            Effect.mapError(unavailable(`cannot migrate ${config.filename}`))
          )
        }
        // a migration that fails is a defect of the Migrator (it rolls back): typed here
        yield* Migrator.make({})({ loader: migrations, table: MIGRATIONS_TABLE }).pipe(
          Effect.provideService(SqlClient.SqlClient, sql),
          Effect.mapError(unavailable(`cannot migrate ${config.filename}`)),
          Effect.catchAllDefect((cause) => Effect.fail(unavailable(`cannot migrate ${config.filename}`)(cause)))
        )
      })).pipe(
        Effect.zipRight(schemaVersion),
        Effect.tap(refuseNewer),
        Effect.filterOrFail(
          (version) => version === SCHEMA_VERSION,
          (): E | Incomplete => new Incomplete()
        )
      )
      yield* migrate.pipe(
        Effect.retry({
          schedule: Schedule.spaced("20 millis"),
          times: Math.max(1, Math.ceil(busyMs / 20)),
          while: (error) => error instanceof Incomplete || isBusy(error)
        }),
        Effect.mapError((error) =>
          error instanceof Incomplete
            ? unavailable(`migrations of ${config.filename} did not complete`)(undefined)
            : error
        ),
        // no write permission (a read-only file on writable media): read it as it is
        Effect.catchIf(
          (error) => isReadOnly(error) && current >= CHECKSUMS_SINCE - 1,
          (error) => readOnlyOld(error)
        )
      )
    }

    yield* run("cannot configure", () => {
      db.pragma(`synchronous = ${config.synchronous}`)
      // a checkpoint once the WAL holds about 1 MB (SQLite's default of 1,000 pages, at this
      // store's page size; a version-1 file keeps its 4 KB pages): each checkpoint costs two
      // fsyncs, so a smaller WAL makes them too frequent, and a larger one makes the store
      // carry more than it holds. The WAL file is truncated back to 1 MB after each.
      const pageSize = db.pragma("page_size", { simple: true }) as number
      db.pragma(`wal_autocheckpoint = ${Math.max(64, Math.floor(WAL_BYTES / pageSize))}`)
      db.pragma(`journal_size_limit = ${WAL_BYTES}`)
      // reads through a memory map instead of a read() per page: a 10,000-entry load reads ~1,000
      // pages (writes still go through the WAL)
      db.pragma("mmap_size = 268435456")
    })

    // every statement the hot paths use, prepared once: a store whose tables lack a column (a
    // damaged schema text, say) fails here, typed, before anything runs
    const prepareAll = () => {
      const crc = legacy ? "NULL" : "crc"
      return {
        selectHead: statement("SELECT key, head, head_entry, length FROM rath_sessions WHERE id = ?"),
        selectSession: statement(`SELECT ${sessionColumns(legacy)} FROM rath_sessions s WHERE s.id = ?`),
        selectNode: statement("SELECT json_extract(data, '$.id') AS entry, pos FROM rath_nodes WHERE id = ?"),
        maxNode: statement("SELECT max(id) FROM rath_nodes").pluck(),
        insertNode: statement("INSERT INTO rath_nodes (id, prev, pos, data, crc) VALUES (?, ?, ?, ?, ?)"),
        updateSession: statement(
          "UPDATE rath_sessions SET head = ?, head_entry = ?, length = ?, updated_at = ?, placement = ?, agent = coalesce(?, agent), base = ?, operation = ?, parents = ?, by_kind = ?, by_name = ?, created_at = ?, crc = ?, agent_crc = coalesce(?, agent_crc) WHERE key = ?"
        ),
        // compare-and-set: moves the head only if the row still holds the head this process last saw
        // (the lineage columns are not written: an append does not change them)
        moveHead: statement(
          "UPDATE rath_sessions SET head = ?, head_entry = ?, length = ?, updated_at = ?, placement = ?, agent = coalesce(?, agent), crc = ?, agent_crc = coalesce(?, agent_crc) WHERE key = ? AND head IS ? AND head_entry IS ? AND length = ?"
        ),
        insertSession: statement(
          "INSERT INTO rath_sessions (id, head, head_entry, length, base, operation, parents, by_kind, by_name, created_at, updated_at, placement, agent, crc, agent_crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        insertParent: statement("INSERT INTO rath_session_parents (child, ord, parent) VALUES (?, ?, ?)"),
        selectChain: statement(chainQuery(crc)).raw(true),
        selectRange: statement(
          `SELECT id, prev, pos, data, ${crc} FROM rath_nodes WHERE id BETWEEN ? AND ? ORDER BY id DESC`
        ).raw(true),
        // whether rows lo..hi are, exactly, the chain's next nodes down from `hi` at position `top`:
        // every id present, each linked to the one below, each at its position; and the node below
        selectWindow: statement(`SELECT count(*), sum(id = @lo OR prev = id - 1), sum(pos = @top - (@hi - id)),
      max(CASE WHEN id = @lo THEN prev END) FROM rath_nodes WHERE id BETWEEN @lo AND @hi`).raw(true),
        // a run of rows, oldest first, as two columns: a value each, no array per row (`Block`)
        selectTexts: statement("SELECT data FROM rath_nodes WHERE id BETWEEN ? AND ? ORDER BY id").pluck(),
        selectCrcs: statement(`SELECT ${crc} FROM rath_nodes WHERE id BETWEEN ? AND ? ORDER BY id`).pluck(),
        selectCrc: statement(`SELECT ${crc}, pos FROM rath_nodes WHERE id = ?`).raw(true)
      }
    }
    const {
      insertNode,
      insertParent,
      insertSession,
      maxNode,
      selectChain,
      selectCrc,
      selectCrcs,
      selectHead,
      selectNode,
      selectRange,
      selectSession,
      selectTexts,
      selectWindow,
      moveHead,
      updateSession
    } = yield* Effect.try({
      try: prepareAll,
      catch: (cause) =>
        fail({
          reason: "Corrupt",
          detail: `cannot open ${config.filename}: its tables are not those of a rath store of schema version ${
            readOnly ? current : SCHEMA_VERSION
          } (${causeMessage(cause)}): the file is damaged`,
          cause
        })
    })

    /**
     * Nodes this process loaded, by row id, held weakly: loading a session whose chain reaches one
     * of them stops reading there and links its own newer rows onto that node, so forks of one
     * stored session, loaded one by one, hold their common history once (as the forks made in
     * the process do), and a load reads only the rows past what is in memory. Kept: each loaded
     * head and each node a chain jumps to (a row whose successor in the chain is not the next row
     * id: where a fork or a continuation left its parent's chain), which is where another stored
     * chain meets this one. At most {@link LOADED_NODES} ids (the least recently used go); a node no
     * session holds any more is collected, and its id found empty. Rows never change once written,
     * but a delete or prune here forgets them all, and a hit is checked against the row's
     * checksum (position, link and text), since another process may delete rows and reuse ids.
     */
    const loaded = new Map<number, { readonly node: WeakRef<Session.Node>; readonly crc: unknown }>()
    /**
     * One value per author across every load of this store (loads share nodes, so their entries
     * share authors too), the default ones first (what a row that leaves its author out gets).
     */
    const authors: Array<{ readonly kind: string; readonly name: string }> = [Entry.userAuthor, Entry.programAuthor]
    const keepLoaded = (id: number, node: Session.Node, crc: unknown) => {
      if (loaded.has(id)) return
      if (loaded.size >= LOADED_NODES) loaded.delete(loaded.keys().next().value!)
      loaded.set(id, { node: new WeakRef(node), crc })
    }
    /** The node held for row `id`, if it is still in memory, at `position`, and the row unchanged. */
    const loadedNode = (id: number, position: number): Session.Node | undefined => {
      const known = loaded.get(id)
      if (known === undefined) return undefined
      const node = known.node.deref()
      if (node === undefined || node.length !== position) {
        loaded.delete(id)
        return undefined
      }
      const row = selectCrc.get(id) as [unknown, unknown] | undefined
      if (row === undefined || row[0] !== known.crc || row[1] !== position || known.crc === null) {
        loaded.delete(id)
        return undefined
      }
      // the most recently used last: the history many loads meet stays
      loaded.delete(id)
      loaded.set(id, known)
      return node
    }

    /**
     * The chain that ends at node `head` (`length` nodes), head first, in parts (see {@link Part}):
     * each node's entry JSON and position, and whether the chain goes on below its `length` nodes
     * (a damaged row).
     *
     * A session's own nodes are mostly consecutive rows (a save appends them in order), so the
     * chain is read in windows of consecutive ids, newest first: one aggregate query checks that
     * the window's rows are exactly the chain's next nodes (linked, at their positions), then their
     * entry JSON and their checksums are read as two plain columns (a `Block`): a 10,000-entry load
     * reads its rows in half the time a recursive query takes (a B-tree search and a queue row per
     * node), and a third of that again without an array per row. A window the chain fills doubles
     * the next one. A window that is not all chain is walked row by row, following `prev` and
     * skipping other chains' rows; when the windows keep holding mostly other chains' rows
     * (sessions written in turns), the rest comes from the recursive query (`Rows` parts). A
     * missing node ends the walk short, which the caller reports as Corrupt.
     */
    const chainOf = (head: number, length: number, forkAt: number) => {
      const parts: Array<Part> = []
      /** How many nodes the parts hold. */
      let read = 0
      /** A node this process already holds for the rest of the chain (see {@link loadedNode}). */
      let base: Session.Node | undefined = undefined
      let expected: number | null = head
      let window = 256
      let sparse = 0
      /** The part single rows go to: the last one, if it is one of rows. */
      const rows = (): Rows => {
        const last = parts[parts.length - 1]
        if (last !== undefined && last._tag === "Rows") return last
        const part: Rows = { _tag: "Rows", ids: [], data: [], positions: [], prevs: [], crcs: [] }
        parts.push(part)
        return part
      }
      const take = (row: ReadonlyArray<unknown>) => {
        const part = rows()
        part.ids.push(row[0] as number)
        part.positions.push(row[2])
        part.data.push(row[3] as string)
        part.prevs.push(row[1])
        part.crcs.push(row[4])
        expected = row[1] as number | null
        read++
      }
      while (expected !== null && read < length) {
        base = loadedNode(expected, length - read)
        if (base !== undefined) break
        const top = length - read
        const size = Math.min(window, top)
        const lo: number = expected - size + 1
        const [count, linked, placed, below] = selectWindow.get({ lo, hi: expected, top }) as [
          number,
          number | null,
          number | null,
          number | null
        ]
        if (count === size && linked === size && placed === size) {
          // the fork point inside this run of rows, if it is in memory: only the rows above it
          const forkId = forkAt > top - size && forkAt < top ? expected - (top - forkAt) : undefined
          const held = forkId === undefined ? undefined : loadedNode(forkId, forkAt)
          const from = held === undefined ? lo : forkId! + 1
          const data = selectTexts.all(from, expected)
          const crcs = selectCrcs.all(from, expected)
          parts.push({ _tag: "Block", from, hi: expected, top, below: from === lo ? below : from - 1, data, crcs })
          read += expected - from + 1
          if (held !== undefined) {
            base = held
            break
          }
          expected = below
          window *= 2
          continue
        }
        const range = selectRange.all(lo, expected) as Array<ReadonlyArray<unknown>>
        let taken = 0
        for (const row of range) {
          if (row[0] !== expected) continue
          take(row)
          taken++
          if (expected === null || read >= length) break
          // a jump onto a chain in memory ends the walk there
          base = loadedNode(expected, length - read)
          if (base !== undefined) break
        }
        if (taken === 0 || base !== undefined) break
        if (taken * 2 < range.length && ++sparse >= 3) {
          if (expected !== null && read < length) {
            for (const row of selectChain.iterate(expected, length - read + 1)) {
              take(row as ReadonlyArray<unknown>)
              if (expected === null) break
              base = loadedNode(expected, length - read)
              if (base !== undefined) break
            }
          }
          break
        }
      }
      return { parts, read, base, more: base === undefined && expected !== null }
    }

    /**
     * Which stored node holds each in-memory node this process saved or loaded. Only a shortcut
     * for forks (which node to continue from); it is checked against the database before use.
     */
    let nodeIds = new WeakMap<Session.Node, number>()

    /** The agent record's text and its checksum; nulls keep the stored ones. */
    const agentValues = (options?: SessionStore.SaveOptions): readonly [string | null, number | null] => {
      if (options?.agent === undefined) return [null, null]
      const text = JSON.stringify(options.agent)
      return [text, textChecksum(text)]
    }
    /**
     * The values of the update statements' SET clause: head, head entry, length, updated_at,
     * placement, agent, base, the lineage columns, the row's checksum and the agent's.
     */
    const updateValues = (
      session: Session.Session,
      head: number | null,
      now: number,
      options: SessionStore.SaveOptions | undefined
    ) => {
      const fields = Rows.rowFields(session, head, now)
      const [agent, agentCrc] = agentValues(options)
      return [
        fields[1],
        fields[2],
        fields[3],
        fields[10],
        fields[11],
        agent,
        fields[4],
        fields[5],
        fields[6],
        fields[7],
        fields[8],
        fields[9],
        rowChecksum(fields),
        agentCrc
      ] as const
    }

    /**
     * What this process last saw of each session row it saved or loaded: a shortcut for the common
     * save (such a session, a few entries longer), which then skips reading the row and the node
     * counter and moves the head with a compare-and-set. When the row changed meanwhile (another
     * process, or a store on another connection), that save rolls back and {@link saveBody} runs
     * on what the database holds.
     */
    const heads = new Map<string, Known>()
    /** What a save of `session` that left the row at `head` knows of it. */
    const remember = (session: Session.Session, key: number, head: number | null) => {
      const { lineage } = session
      heads.set(session.id, {
        key,
        head,
        headEntry: session.node?.entry.id ?? null,
        length: session.length,
        lineage,
        base: session.base,
        idJson: JSON.stringify(session.id),
        middle: rowChecksumMiddle(
          session.base,
          lineage.operation,
          JSON.stringify(lineage.parents),
          lineage.by?.kind ?? null,
          lineage.by?.name ?? null,
          lineage.createdAt
        )
      })
    }

    /**
     * The fast save, inside one `BEGIN IMMEDIATE` transaction; throws `Stale` to roll back. It
     * writes the new nodes and moves the head: the row's lineage columns are the ones stored (the
     * caller checked that the session has the lineage this process last saw), so only head, head
     * entry, length, updated_at, placement, the agent record and the checksums change, and the
     * checksum comes from the row's unchanging part computed once ({@link rowChecksumOf}).
     */
    const saveCached = (
      session: Session.Session,
      options: SessionStore.SaveOptions | undefined,
      now: number,
      cached: Known,
      assigned: Array<readonly [Session.Node, number]>
    ): SessionStore.SaveResult => {
      let prev = cached.head
      for (const node of nodesAfter(session.node, cached.length)) {
        const data = encodeStored(node.entry, node.prev?.entry.id)
        prev = Number(
          insertNode.run(null, prev, node.length, data, nodeChecksum(prev, node.length, data)).lastInsertRowid
        )
        assigned.push([node, prev])
      }
      const headEntry = session.node === undefined ? null : session.node.entry.id
      const placement = Rows.placementJson(session)
      const [agent, agentCrc] = agentValues(options)
      const moved = moveHead.run(
        prev,
        headEntry,
        session.length,
        now,
        placement,
        agent,
        rowChecksumOf(cached.idJson, prev, headEntry, session.length, cached.middle, now, placement),
        agentCrc,
        cached.key,
        cached.head,
        cached.headEntry,
        cached.length
      )
      if (moved.changes !== 1) throw new Stale()
      heads.set(session.id, { ...cached, head: prev, headEntry, length: session.length })
      return { appended: session.length - cached.length, created: false }
    }

    /** The whole save, inside one `BEGIN IMMEDIATE` transaction. */
    const saveBody = (
      session: Session.Session,
      options: SessionStore.SaveOptions | undefined,
      now: number,
      assigned: Array<readonly [Session.Node, number]>
    ): SessionStore.SaveResult => {
      const row = selectHead.get(session.id) as
        | { key: number; head: number | null; head_entry: string | null; length: number }
        | undefined
      let boundaryLength = 0
      let boundaryId: number | null = null
      if (row !== undefined) {
        const detail = divergence({ length: row.length, head: row.head_entry ?? undefined }, session)
        if (detail !== undefined) throw new Abort(fail({ reason: "Conflict", detail, sessionId: session.id }))
        boundaryLength = row.length
        boundaryId = row.head
      } else {
        // the newest node of this chain the store already holds, as far as this process knows
        for (const node of Session.chain(session.node)) {
          const known = nodeIds.get(node)
          if (known === undefined) continue
          const found = selectNode.get(known) as { entry: string; pos: number } | undefined
          if (found?.entry === node.entry.id && found.pos === node.length) {
            boundaryLength = node.length
            boundaryId = known
          } else {
            // the store changed under this process (a delete or prune): forget what it knew
            nodeIds = new WeakMap()
          }
          break
        }
      }
      const fresh = nodesAfter(session.node, boundaryLength)
      const first = fresh.length > 0 ? Number(maxNode.get() ?? 0) + 1 : 0
      const head = fresh.length > 0 ? first + fresh.length - 1 : boundaryId
      let key: number
      if (row !== undefined) {
        key = row.key
        updateSession.run(...updateValues(session, head, now, options), key)
      } else {
        const fields = Rows.rowFields(session, head, now)
        const agent = agentValues(options)
        key = Number(insertSession.run(...fields, agent[0], rowChecksum(fields), agent[1]).lastInsertRowid)
        session.lineage.parents.forEach((parent, ord) => insertParent.run(session.id, ord, parent))
      }
      for (let i = 0; i < fresh.length; i++) {
        const node = fresh[i]!
        const id = first + i
        const prev = i === 0 ? boundaryId : id - 1
        const data = encodeStored(node.entry, node.prev?.entry.id)
        insertNode.run(id, prev, node.length, data, nodeChecksum(prev, node.length, data))
        assigned.push([node, id])
      }
      remember(session, key, head)
      return { appended: session.length - (row?.length ?? 0), created: row === undefined }
    }

    /** One save, synchronous: the fast save when this process knows the row, else the full one. */
    const saveSync = (session: Session.Session, options: SessionStore.SaveOptions | undefined, now: number) => {
      const assigned: Array<readonly [Session.Node, number]> = []
      const cached = heads.get(session.id)
      let result: SessionStore.SaveResult | undefined = undefined
      if (
        cached !== undefined && session.length >= cached.length && session.lineage === cached.lineage &&
        session.base === cached.base &&
        (cached.length === 0 || nodeAt(session.node, cached.length)?.entry.id === cached.headEntry)
      ) {
        try {
          result = inTransaction.immediate(() =>
            saveCached(session, options, now, cached, assigned)
          ) as SessionStore.SaveResult
        } catch (cause) {
          heads.delete(session.id)
          if (!(cause instanceof Stale)) throw cause
          assigned.length = 0
        }
      }
      if (result === undefined) {
        result = inTransaction.immediate(() => saveBody(session, options, now, assigned)) as SessionStore.SaveResult
      }
      // only once committed: a rolled-back save must not teach this process node ids
      for (const [node, id] of assigned) nodeIds.set(node, id)
      return result
    }

    /** Writes fail at once on a store opened read-only, saying why. */
    const readOnlyFailure = (what: string) =>
      Effect.fail(fail({
        reason: "Unavailable",
        detail:
          `cannot ${what}: ${config.filename} was opened read-only (read-only media, no write permission, or a schema it cannot upgrade there); it can be read, not written`
      }))
    const refuseReadOnly = (what: string) => readOnly ? readOnlyFailure(what) : Effect.void
    // one clock read and one synchronous call: an append's save is a few microseconds of Effect
    // around SQLite's own work (no step that builds its error text before it fails)
    const save = (session: Session.Session, options?: SessionStore.SaveOptions) =>
      readOnly ? readOnlyFailure(`save ${session.id}`) : Effect.clockWith((clock) =>
        Effect.try({
          try: () => saveSync(session, options, clock.unsafeCurrentTimeMillis()),
          catch: (cause) => cause instanceof Abort ? cause.error : unavailable(`cannot save ${session.id}`)(cause)
        })
      )

    const toSummary = (row: SessionRow): Either.Either<SessionStore.Summary, E> =>
      Rows.toSummary(row, legacy ? LEGACY : CHECKED, corrupt)

    const notFound = (id: string) =>
      fail({ reason: "NotFound", detail: `no session ${id} in the store`, sessionId: id })

    /** Rebuilds the chain from what {@link chainOf} read: every node at its position, linked to its row. */
    const rebuild = (
      id: string,
      row: SessionRow,
      chain: ReturnType<typeof chainOf>
    ): Either.Either<Session.Node | undefined, E> => {
      const { base, parts, read } = chain
      // the rows read (head first), on top of the `below` nodes held in memory already
      const below = base === undefined ? 0 : base.length
      const length = below + read
      if (length !== row.length) {
        return Either.left(corrupt(id, `the chain has ${length} nodes, the row says ${row.length}`))
      }
      if (chain.more) {
        return Either.left(corrupt(id, `the chain goes on past its ${length} nodes, the row says ${row.length}`))
      }
      // the walk follows the links from the head back, so the k-th node read (0-based) must be at
      // position length - k: a position that says otherwise is a damaged row, never reordered
      // silently (a block's positions were checked by its query)
      let k = 0
      for (const part of parts) {
        if (part._tag === "Block") {
          // one read transaction: the rows its window query counted are there
          const rows = part.hi - part.from + 1
          if (part.data.length !== rows || part.crcs.length !== rows) {
            return Either.left(corrupt(id, `rows ${part.from} to ${part.hi} of the chain changed while read`))
          }
          k += rows
          continue
        }
        for (const position of part.positions) {
          if (position !== length - k) {
            return Either.left(corrupt(id, `node #${length - k} of the chain says it is at position ${position}`))
          }
          k++
        }
      }
      let node: Session.Node | undefined = base
      // a chain rebuilt whole has its entries in hand, oldest first: `Session.entries` of the
      // loaded session gets them from here instead of walking the chain back (see `entriesCache`)
      const all: Array<Entry.Entry> | undefined = base === undefined ? [] : undefined
      /**
       * Kept (see {@link keepLoaded}): the head, the fork point (the last entry the session
       * inherited, at its `base`) and a node the chain jumps to (the row above it is not the next
       * id, `newerId`): where other stored chains meet this one.
       */
      const keep = (rowId: number, position: number, newerId: number | undefined, crc: unknown) => {
        if (legacy || (position !== length && position !== row.base && newerId === rowId + 1)) return
        keepLoaded(rowId, node!, crc)
        nodeIds.set(node!, rowId)
      }
      // oldest first; `newer` is the row id of the oldest node of the part above (read after it)
      for (let p = parts.length - 1; p >= 0; p--) {
        const part = parts[p]!
        const next = parts[p - 1]
        const newer = next === undefined ? undefined : next._tag === "Block" ? next.from : next.ids[next.ids.length - 1]
        if (part._tag === "Block") {
          const { crcs, data, from } = part
          const start = part.top - (part.hi - from)
          const last = data.length - 1
          for (let n = 0; n <= last; n++) {
            const text = data[n]
            // a decoded row is let go at once: the rows' text is garbage the collector need not copy
            data[n] = undefined
            // each row checked (type, checksum with its link and position, shape) and linked on
            // (`decodeRow`: a row of a version-2 store read without migrating has no checksum and
            // goes through the schema)
            const next = decodeRow(text, n === 0 ? part.below : from + n - 1, start + n, crcs[n], node, legacy, authors)
            if (typeof next === "string") return Either.left(corrupt(id, next))
            node = next
            if (all !== undefined) all.push(next.entry)
            // inside a block only its head, the session's head and its fork point can be kept
            if (n === last || start + n === length || start + n === row.base) {
              keep(from + n, start + n, n === last ? newer : from + n + 1, crcs[n])
            }
          }
          continue
        }
        const { crcs, data, ids, positions, prevs } = part
        for (let at = ids.length - 1; at >= 0; at--) {
          const text = data[at]
          data[at] = undefined
          const next = decodeRow(text, prevs[at], positions[at] as number, crcs[at], node, legacy, authors)
          if (typeof next === "string") return Either.left(corrupt(id, next))
          node = next
          if (all !== undefined) all.push(next.entry)
          keep(ids[at]!, positions[at] as number, at === 0 ? newer : ids[at - 1], crcs[at])
        }
      }
      if ((node?.entry.id ?? null) !== row.head_entry) {
        return Either.left(corrupt(id, `the chain ends at ${node?.entry.id}, the row says ${row.head_entry}`))
      }
      if (all !== undefined && node !== undefined) entriesCache.prime(node, all)
      return Either.right(node)
    }

    const load = (id: string) =>
      Effect.gen(function*() {
        const loaded = yield* read(`cannot load ${id}`, () => {
          const row = selectSession.get(id) as SessionRow | undefined
          if (row === undefined) throw new Abort(notFound(id))
          // the row is checked before its chain is read: a damaged length or head must not steer
          // the walk (a legacy row, unchecked, is bounded by the number of nodes)
          const damage = rowDamage(row, legacy)
          if (damage !== undefined) throw new Abort(corrupt(id, damage))
          if (legacy && row.length > Number(maxNode.get() ?? 0)) {
            throw new Abort(corrupt(id, `the row says ${row.length} entries, the store holds fewer`))
          }
          const chain = row.head === null
            ? { parts: [], read: 0, base: undefined, more: false }
            : chainOf(row.head, row.length, row.base)
          return { row, chain }
        })
        const { chain, row } = loaded
        const summary = yield* toSummary(row)
        const node = yield* rebuild(id, row, chain)
        // the head and the nodes a chain jumps to only (`rebuild`): forks and continuations of the
        // loaded session extend it. Recording every node of a 10,000-entry chain in the WeakMap
        // costs milliseconds; a session built on an inner node of the loaded chain (not a head) is
        // still saved correctly, with that chain's nodes written again (its entries are shared)
        if (node !== undefined && row.head !== null) nodeIds.set(node, row.head)
        heads.set(id, {
          key: row.key,
          head: row.head,
          headEntry: row.head_entry,
          length: row.length,
          lineage: summary.lineage,
          base: summary.base,
          idJson: JSON.stringify(row.id),
          middle: rowChecksumMiddle(row.base, row.operation, row.parents, row.by_kind, row.by_name, row.created_at)
        })
        return Rows.sessionOf(summary, node)
      })

    const summaries = (rows: ReadonlyArray<unknown>) => Effect.forEach(rows as ReadonlyArray<SessionRow>, toSummary)

    const list = (options?: SessionStore.ListOptions) => {
      const where: Array<string> = []
      const params: Array<unknown> = []
      const needle = options?.text
      if (options?.since !== undefined) {
        where.push("s.created_at >= ?")
        params.push(options.since)
      }
      if (options?.until !== undefined) {
        where.push("s.created_at < ?")
        params.push(options.until)
      }
      if (options?.agent !== undefined) {
        where.push("(s.by_name = ? OR json_extract(s.agent, '$.name') = ?)")
        params.push(options.agent, options.agent)
      }
      if (options?.parent !== undefined) {
        where.push("EXISTS (SELECT 1 FROM rath_session_parents p WHERE p.child = s.id AND p.parent = ?)")
        params.push(options.parent)
      }
      // with a text filter the limit applies after it, to the sessions that pass
      const limit = options?.limit === undefined ? undefined : Math.max(0, Math.floor(options.limit))
      if (limit !== undefined && needle === undefined) params.push(limit)
      const text = `SELECT ${sessionColumns(legacy)} FROM rath_sessions s${
        where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
      } ORDER BY s.created_at, s.id${limit === undefined || needle !== undefined ? "" : " LIMIT ?"}`
      return Effect.flatMap(
        read("cannot list sessions", () => {
          const rows = statement(text).all(...params) as Array<SessionRow>
          if (needle === undefined) return rows
          const reached = reachedByText(needle)
          const passed = rows.filter((row) => row.head !== null && reached.has(row.head))
          return limit === undefined ? passed : passed.slice(0, limit)
        }),
        summaries
      )
    }

    /**
     * The nodes whose chain holds an entry whose `text` contains `needle` (ASCII
     * case-insensitive): one pass over the nodes in id order, a node is reached when its entry
     * matches or its `prev` was reached. A node's `prev` is always an older row (smaller id: a
     * save links new nodes onto stored ones), so one pass is enough, without an index on `prev`.
     */
    const reachedByText = (needle: string): Set<number> => {
      const scan = statement(
        "SELECT id, prev, instr(lower(json_extract(data, '$.text')), ?) > 0 FROM rath_nodes ORDER BY id"
      ).raw(true)
      const reached = new Set<number>()
      for (const row of scan.iterate(asciiLower(needle)) as IterableIterator<[number, number | null, number | null]>) {
        if (row[2] === 1 || (row[1] !== null && reached.has(row[1]))) reached.add(row[0])
      }
      return reached
    }

    const graph = (id: string, direction: "up" | "down") => {
      const [from, to] = direction === "up" ? ["child", "parent"] : ["parent", "child"]
      const text = `WITH RECURSIVE walk(id, depth) AS (
          SELECT ${to}, 1 FROM rath_session_parents WHERE ${from} = ?
          UNION
          SELECT p.${to}, w.depth + 1 FROM rath_session_parents p JOIN walk w ON p.${from} = w.id
        )
        SELECT ${sessionColumns(legacy)}, min(w.depth) AS depth FROM walk w JOIN rath_sessions s ON s.id = w.id
        WHERE s.id <> ? GROUP BY s.key ORDER BY depth, s.created_at, s.id`
      return Effect.flatMap(
        read(`cannot walk the lineage of ${id}`, () => {
          if (selectHead.get(id) === undefined) throw new Abort(notFound(id))
          return statement(text).all(id, id)
        }),
        summaries
      )
    }

    const collectGarbage = () => {
      statement(`DELETE FROM rath_nodes WHERE id NOT IN (
        WITH RECURSIVE live(id) AS (
          SELECT head FROM rath_sessions WHERE head IS NOT NULL
          UNION
          SELECT n.prev FROM rath_nodes n JOIN live l ON n.id = l.id WHERE n.prev IS NOT NULL
        ) SELECT id FROM live)`).run()
    }

    const forget = Effect.sync(() => {
      nodeIds = new WeakMap()
      heads.clear()
      loaded.clear()
    })

    const remove = (id: string) =>
      Effect.zipRight(
        refuseReadOnly(`delete ${id}`),
        write(`cannot delete ${id}`, () => {
          const row = selectHead.get(id) as { key: number } | undefined
          if (row === undefined) throw new Abort(notFound(id))
          statement("DELETE FROM rath_sessions WHERE key = ?").run(row.key)
          statement("DELETE FROM rath_session_parents WHERE child = ?").run(id)
          collectGarbage()
        })
      ).pipe(Effect.zipLeft(forget))

    const prune = (olderThan: Duration.DurationInput) =>
      Effect.flatMap(Effect.zipRight(refuseReadOnly("prune"), Clock.currentTimeMillis), (now) =>
        write("cannot prune", () => {
          const cutoff = now - Duration.toMillis(Duration.decode(olderThan))
          const removed = statement("DELETE FROM rath_sessions WHERE updated_at < ? RETURNING id").all(cutoff)
          if (removed.length === 0) return 0
          statement("DELETE FROM rath_session_parents WHERE child NOT IN (SELECT id FROM rath_sessions)").run()
          collectGarbage()
          return removed.length
        }).pipe(Effect.zipLeft(forget)))

    const { exportJsonl, importJsonl } = jsonlOps(save, load, fail)

    return {
      save,
      load,
      list,
      ancestors: (id) =>
        graph(id, "up"),
      descendants: (id) => graph(id, "down"),
      delete: remove,
      prune,
      exportJsonl,
      importJsonl
    } satisfies SessionStore.Service
  })
