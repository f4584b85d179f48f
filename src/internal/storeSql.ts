/**
 * The SQLite SessionStore backend.
 *
 * Layout (schema version 1):
 *
 * - `rath_entries(id, data)`: each entry's content, once, by entry id.
 * - `rath_nodes(id, entry, prev, pos, owner)`: the links of the entry chains, mirroring the
 *   in-memory `Session.Node` chain: a node is one position of a chain, pointing at its entry and
 *   at the node before it. Forks share nodes, so a fork adds nodes only for its new entries. A
 *   merge adds a node (not an entry) for each entry it takes from the other side, because in the
 *   merged chain that entry follows a different node than in its own chain.
 * - `rath_sessions`: one small row per session: head node, length, base, lineage, placement,
 *   agent record.
 * - `rath_session_parents(child, parent, ord)`: lineage edges, for recursive CTEs.
 *
 * The store keeps its connection reserved and runs prepared statements on it (effect-sql's
 * statement builder costs ~15 µs a statement; a prepared statement on the reserved connection
 * ~3 µs). The common save (a session this process saved or loaded, a few entries longer) is ONE
 * statement: an INSERT into the `rath_append` view, whose trigger stores the entries and nodes
 * and moves the head only if the row still holds the head this process expects. Any other save
 * runs in one `BEGIN IMMEDIATE` transaction that reads the row first, with inserts batched by
 * 500 rows.
 *
 * @internal
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import type * as Entry from "../Entry.js"
import * as Placement from "../Placement.js"
import * as Session from "../Session.js"
import type * as SessionStore from "../SessionStore.js"
import type { ErrorFields } from "./storeCodec.js"
import { decodeEntry, divergence, encodeEntry, link, nodeAt, nodesAfter } from "./storeCodec.js"

export const SCHEMA_VERSION = 1
const MIGRATIONS_TABLE = "rath_migrations"
const BATCH = 500

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
  })
})

interface SessionRow {
  readonly key: number
  readonly id: string
  readonly head: number | null
  readonly head_entry: string | null
  readonly length: number
  readonly base: number
  readonly operation: string
  readonly parents: string
  readonly by_kind: string | null
  readonly by_name: string | null
  readonly created_at: number
  readonly updated_at: number
  readonly placement: string | null
  readonly agent: string | null
}

const SESSION_COLUMNS =
  "s.key, s.id, s.head, s.head_entry, s.length, s.base, s.operation, s.parents, s.by_kind, s.by_name, s.created_at, s.updated_at, s.placement, s.agent"

const decodeLineage = Schema.decodeUnknownEither(Session.Lineage)
const decodePlacement = Schema.decodeUnknownEither(Schema.parseJson(Placement.Placement))
const decodeJson = Schema.decodeUnknownEither(Schema.parseJson(Schema.Unknown))

const placeholders = new Map<string, string>()
const valuesList = (rows: number, columns: number): string => {
  const key = `${rows}x${columns}`
  let text = placeholders.get(key)
  if (text === undefined) {
    const row = `(${Array.from({ length: columns }, () => "?").join(", ")})`
    text = Array.from({ length: rows }, () => row).join(", ")
    placeholders.set(key, text)
  }
  return text
}

export const make = (
  config: Config,
  fail: (fields: ErrorFields) => E
): Effect.Effect<SessionStore.Service, E, Scope.Scope> =>
  Effect.gen(function*() {
    const unavailable = (detail: string) => (cause: unknown) => fail({ reason: "Unavailable", detail, cause })
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
    // better-sqlite3 throws from its constructor when the file cannot be opened: that is a
    // defect inside SqliteClient.make, turned into a typed error here, at the boundary
    const context = yield* Layer.build(SqliteClient.layer({ filename: config.filename })).pipe(
      Effect.catchAllDefect((cause) => Effect.fail(unavailable(`cannot open ${config.filename}`)(cause))),
      Effect.mapError((cause) =>
        cause._tag === "SessionStoreError" ? cause : unavailable(`cannot open ${config.filename}`)(cause)
      )
    )
    const sql = Context.get(context, SqlClient.SqlClient)
    const busyMs = Math.max(0, Math.round(Duration.toMillis(Duration.decode(config.busyTimeout))))
    yield* sql.unsafe(`PRAGMA busy_timeout = ${busyMs}`).pipe(Effect.mapError(unavailable("cannot configure")))

    // refuse a store written by a newer schema before touching it
    const schemaVersion = Effect.gen(function*() {
      const tables = yield* sql<
        { name: string }
      >`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${MIGRATIONS_TABLE}`
      if (tables.length === 0) return 0
      const rows = yield* sql<{ v: number | null }>`SELECT max(migration_id) AS v FROM ${sql(MIGRATIONS_TABLE)}`
      return rows[0]?.v ?? 0
    }).pipe(Effect.mapError(unavailable(`cannot read the schema version of ${config.filename}`)))
    const refuseNewer = (version: number) =>
      version > SCHEMA_VERSION
        ? Effect.fail(fail({
          reason: "NewerSchema",
          detail:
            `${config.filename} has schema version ${version}, written by a newer rath; this rath knows versions up to ${SCHEMA_VERSION}. Upgrade rath to open it (the store was not changed).`
        }))
        : Effect.void
    yield* Effect.flatMap(schemaVersion, refuseNewer)
    // two processes may open a new store at once: the loser of the migration lock waits for the
    // winner's migrations to commit
    const migrate = Migrator.make({})({ loader: migrations, table: MIGRATIONS_TABLE }).pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      Effect.mapError(unavailable(`cannot migrate ${config.filename}`)),
      Effect.zipRight(schemaVersion),
      Effect.tap(refuseNewer),
      Effect.filterOrFail(
        (version) => version === SCHEMA_VERSION,
        () => unavailable(`migrations of ${config.filename} did not complete`)(undefined)
      )
    )
    yield* migrate.pipe(Effect.retry({ times: 100, while: (error) => error.reason === "Unavailable" }))

    // from here on the store owns the connection
    const conn: Connection = yield* sql.reserve.pipe(Effect.mapError(unavailable("cannot reserve the connection")))
    const exec = (text: string, params: ReadonlyArray<unknown> = []): Effect.Effect<ReadonlyArray<any>, E> =>
      Effect.mapError(conn.execute(text, params, undefined), (cause: SqlError) =>
        fail({ reason: "Unavailable", detail: `${cause.message}: ${text.slice(0, 80)}`, cause }))
    const values = (
      text: string,
      params: ReadonlyArray<unknown> = []
    ): Effect.Effect<ReadonlyArray<ReadonlyArray<any>>, E> =>
      Effect.mapError(conn.executeValues(text, params), (cause: SqlError) =>
        fail({ reason: "Unavailable", detail: `${cause.message}: ${text.slice(0, 80)}`, cause }))
    yield* exec(`PRAGMA synchronous = ${config.synchronous}`)
    // a smaller WAL than SQLite's default (1,000 pages, 4 MB): checkpoints come 4x as often and
    // the WAL file is truncated back to 1 MB after each, so the store's size on disk tracks what
    // it holds instead of carrying a 4 MB WAL
    yield* exec("PRAGMA wal_autocheckpoint = 256")
    yield* exec("PRAGMA journal_size_limit = 1048576")

    const lock = yield* Effect.makeSemaphore(1)
    const rollback = exec("ROLLBACK").pipe(
      Effect.catchAll((error) =>
        Effect.logWarning("SessionStore: rollback failed", error)
      )
    )
    const transaction = <A>(body: Effect.Effect<A, E>, begin = "BEGIN IMMEDIATE"): Effect.Effect<A, E> =>
      lock.withPermits(1)(Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          yield* exec(begin)
          const exit = yield* Effect.exit(restore(body))
          if (Exit.isFailure(exit)) {
            yield* rollback
            return yield* exit
          }
          const committed = yield* Effect.exit(exec("COMMIT"))
          if (Exit.isFailure(committed)) {
            yield* rollback
            return yield* Effect.failCause(committed.cause)
          }
          return exit.value
        })
      ))

    /**
     * Which stored node holds each in-memory node this process saved or loaded. Only a shortcut
     * for forks (which node to continue from); it is checked against the database before use.
     */
    let nodeIds = new WeakMap<Session.Node, number>()

    const selectSession = (id: string) =>
      Effect.map(
        exec(`SELECT ${SESSION_COLUMNS} FROM rath_sessions s WHERE s.id = ?`, [id]),
        (rows) =>
          rows[0] as SessionRow | undefined
      )

    /**
     * What this process last saw of each session row, and the next free node id. Shortcuts for
     * the common save (a session this process saved or loaded, a few entries longer): the save
     * then skips reading the row and the node counter, and its UPDATE checks that the row is
     * still what was cached (compare-and-set). When it is not, or a node id is taken, the
     * transaction rolls back and the save runs again on what the database holds.
     */
    const heads = new Map<string, { readonly key: number; readonly length: number; readonly head: number | null }>()
    let nextNodeId: number | undefined = undefined

    const insertNodes = (
      fresh: ReadonlyArray<Session.Node>,
      first: number,
      boundaryId: number | null,
      key: number,
      assigned: Array<readonly [Session.Node, number]>
    ) =>
      Effect.gen(function*() {
        for (let start = 0; start < fresh.length; start += BATCH) {
          const batch = fresh.slice(start, start + BATCH)
          const entryParams: Array<unknown> = []
          const nodeParams: Array<unknown> = []
          batch.forEach((node, i) => {
            const id = first + start + i
            entryParams.push(node.entry.id, encodeEntry(node.entry))
            nodeParams.push(id, node.entry.id, start + i === 0 ? boundaryId : id - 1, node.length, key)
            assigned.push([node, id])
          })
          yield* exec(
            `INSERT OR IGNORE INTO rath_entries (id, data) VALUES ${valuesList(batch.length, 2)}`,
            entryParams
          )
          yield* exec(
            `INSERT INTO rath_nodes (id, entry, prev, pos, owner) VALUES ${valuesList(batch.length, 5)}`,
            nodeParams
          )
        }
      })

    const placementJson = (session: Session.Session) =>
      Option.match(session.placement, { onNone: () => null, onSome: (p) => JSON.stringify(p) })
    const agentJson = (options?: SessionStore.SaveOptions) =>
      options?.agent === undefined ? null : JSON.stringify(options.agent)

    interface Saved {
      readonly result: SessionStore.SaveResult
      readonly key: number
      readonly head: number | null
      readonly next: number | undefined
      readonly assigned: ReadonlyArray<readonly [Session.Node, number]>
    }

    /** The common case: a cached row, a chain that extends it. `None` when the cache is stale. */
    const saveFast = (session: Session.Session, options: SessionStore.SaveOptions | undefined, now: number) =>
      Effect.suspend((): Effect.Effect<Option.Option<Saved>, E> => {
        const cached = heads.get(session.id)
        if (cached === undefined || session.length < cached.length) return Effect.succeed(Option.none())
        const boundary = nodeAt(session.node, cached.length)
        if (cached.length > 0 && (boundary === undefined || nodeIds.get(boundary) !== cached.head)) {
          return Effect.succeed(Option.none())
        }
        const fresh = nodesAfter(session.node, cached.length)
        if (fresh.length > 0 && nextNodeId === undefined || fresh.length > BATCH) return Effect.succeed(Option.none())
        const first = nextNodeId ?? 0
        const head = fresh.length > 0 ? first + fresh.length - 1 : cached.head
        const assigned: Array<readonly [Session.Node, number]> = []
        const headEntry = session.node?.entry.id ?? null
        const placement = placementJson(session)
        const agent = agentJson(options)
        const params: Array<unknown> = []
        const row = (node: Session.Node | undefined, id: number | null, prev: number | null, last: boolean) =>
          params.push(
            id,
            node === undefined ? null : node.entry.id,
            node === undefined ? null : encodeEntry(node.entry),
            prev,
            node === undefined ? null : node.length,
            cached.key,
            last ? 1 : 0,
            cached.head,
            cached.length,
            head,
            headEntry,
            session.length,
            now,
            placement,
            agent
          )
        if (fresh.length === 0) row(undefined, null, null, true)
        fresh.forEach((node, i) => {
          row(node, first + i, i === 0 ? cached.head : first + i - 1, i === fresh.length - 1)
          assigned.push([node, first + i])
        })
        return lock.withPermits(1)(Effect.mapError(
          conn.executeRaw(`INSERT INTO rath_append VALUES ${valuesList(Math.max(fresh.length, 1), 15)}`, params),
          (cause) => fail({ reason: "Unavailable", detail: cause.message, cause })
        )).pipe(
          Effect.as(Option.some<Saved>({
            result: { appended: fresh.length, created: false },
            key: cached.key,
            head,
            next: fresh.length > 0 ? head! + 1 : nextNodeId,
            assigned
          })),
          // a stale cache or a taken node id: the full save below decides, on what the database holds
          Effect.catchIf(
            (error) => error.reason === "Unavailable",
            (error) => Effect.as(Effect.logDebug("SessionStore: fast save fell back", error.detail), Option.none())
          )
        )
      })

    /** Any save: reads the row and the node counter first. */
    const saveFull = (session: Session.Session, options: SessionStore.SaveOptions | undefined, now: number) => {
      const assigned: Array<readonly [Session.Node, number]> = []
      return transaction(Effect.gen(function*() {
        const row = yield* selectSession(session.id)
        let boundaryLength = 0
        let boundaryId: number | null = null
        if (row !== undefined) {
          const detail = divergence({ length: row.length, head: row.head_entry ?? undefined }, session)
          if (detail !== undefined) {
            return yield* Effect.fail(fail({ reason: "Conflict", detail, sessionId: session.id }))
          }
          boundaryLength = row.length
          boundaryId = row.head
        } else {
          // the newest node of this chain the store already holds, as far as this process knows
          for (let node = session.node; node !== undefined; node = node.prev) {
            const known = nodeIds.get(node)
            if (known === undefined) continue
            const found = yield* exec("SELECT entry, pos FROM rath_nodes WHERE id = ?", [known])
            if (found[0]?.entry === node.entry.id && found[0]?.pos === node.length) {
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
        let first = 0
        if (fresh.length > 0) {
          const max = yield* values("SELECT coalesce(max(id), 0) FROM rath_nodes")
          first = Number(max[0]![0]) + 1
        }
        const head = fresh.length > 0 ? first + fresh.length - 1 : boundaryId
        const headEntry = session.node === undefined ? null : session.node.entry.id
        let key: number
        if (row !== undefined) {
          key = row.key
          yield* exec(
            "UPDATE rath_sessions SET head = ?, head_entry = ?, length = ?, updated_at = ?, placement = ?, agent = coalesce(?, agent) WHERE key = ?",
            [head, headEntry, session.length, now, placementJson(session), agentJson(options), key]
          )
        } else {
          const { lineage } = session
          const inserted = yield* exec(
            "INSERT INTO rath_sessions (id, head, head_entry, length, base, operation, parents, by_kind, by_name, created_at, updated_at, placement, agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING key",
            [
              session.id,
              head,
              headEntry,
              session.length,
              session.base,
              lineage.operation,
              JSON.stringify(lineage.parents),
              lineage.by?.kind ?? null,
              lineage.by?.name ?? null,
              lineage.createdAt,
              now,
              placementJson(session),
              agentJson(options)
            ]
          )
          key = Number(inserted[0]!.key)
          if (lineage.parents.length > 0) {
            yield* exec(
              `INSERT INTO rath_session_parents (child, ord, parent) VALUES ${valuesList(lineage.parents.length, 3)}`,
              lineage.parents.flatMap((parent, ord) => [session.id, ord, parent])
            )
          }
        }
        yield* insertNodes(fresh, first, boundaryId, key, assigned)
        return {
          result: { appended: session.length - (row?.length ?? 0), created: row === undefined },
          key,
          head,
          next: fresh.length > 0 ? head! + 1 : undefined,
          assigned
        } satisfies Saved
      }))
    }

    const save = (session: Session.Session, options?: SessionStore.SaveOptions) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const fast = yield* saveFast(session, options, now)
        const saved = Option.isSome(fast) ? fast.value : yield* saveFull(session, options, now)
        for (const [node, id] of saved.assigned) nodeIds.set(node, id)
        heads.set(session.id, { key: saved.key, length: session.length, head: saved.head })
        if (saved.next !== undefined) nextNodeId = saved.next
        return saved.result
      })

    const toLineage = (row: SessionRow): Either.Either<Session.Lineage, string> => {
      const parents = decodeJson(row.parents)
      if (Either.isLeft(parents)) return Either.left("invalid lineage parents")
      const raw: Record<string, unknown> = {
        operation: row.operation,
        parents: parents.right,
        createdAt: row.created_at
      }
      if (row.by_kind !== null) raw.by = { kind: row.by_kind, name: row.by_name ?? "" }
      return Either.mapLeft(decodeLineage(raw), (error) => error.message)
    }

    const toSummary = (row: SessionRow): Effect.Effect<SessionStore.Summary, E> =>
      Effect.gen(function*() {
        const lineage = toLineage(row)
        if (Either.isLeft(lineage)) return yield* Effect.fail(corrupt(row.id, lineage.left))
        let placement = Option.none<Placement.Placement>()
        if (row.placement !== null) {
          const decoded = decodePlacement(row.placement)
          if (Either.isLeft(decoded)) return yield* Effect.fail(corrupt(row.id, "invalid placement", decoded.left))
          placement = Option.some(decoded.right)
        }
        let agent = Option.none<unknown>()
        if (row.agent !== null) {
          const decoded = decodeJson(row.agent)
          if (Either.isLeft(decoded)) return yield* Effect.fail(corrupt(row.id, "invalid agent record", decoded.left))
          agent = Option.some(decoded.right)
        }
        return {
          id: row.id as Session.SessionId,
          head: Option.fromNullable(row.head_entry as Entry.EntryId | null),
          length: row.length,
          base: row.base,
          lineage: lineage.right,
          placement,
          agent,
          updatedAt: row.updated_at
        }
      })

    const notFound = (id: string) =>
      fail({ reason: "NotFound", detail: `no session ${id} in the store`, sessionId: id })

    const CHAIN = `WITH RECURSIVE chain(id, entry, prev, pos) AS (
        SELECT id, entry, prev, pos FROM rath_nodes WHERE id = ?
        UNION ALL
        SELECT n.id, n.entry, n.prev, n.pos FROM rath_nodes n JOIN chain c ON n.id = c.prev
      )
      SELECT c.id, c.pos, e.data FROM chain c JOIN rath_entries e ON e.id = c.entry ORDER BY c.pos`

    const load = (id: string) =>
      Effect.gen(function*() {
        const loaded = yield* transaction(
          Effect.gen(function*() {
            const row = yield* selectSession(id)
            if (row === undefined) return yield* Effect.fail(notFound(id))
            const chain = row.head === null ? [] : yield* values(CHAIN, [row.head])
            return { row, chain }
          }),
          "BEGIN"
        )
        const { chain, row } = loaded
        const summary = yield* toSummary(row)
        if (chain.length !== row.length) {
          return yield* Effect.fail(corrupt(id, `the chain has ${chain.length} nodes, the row says ${row.length}`))
        }
        let node: Session.Node | undefined = undefined
        const seen: Array<readonly [Session.Node, number]> = []
        for (let i = 0; i < chain.length; i++) {
          const [nodeId, pos, data] = chain[i]!
          if (pos !== i + 1) {
            return yield* Effect.fail(corrupt(id, `node ${nodeId} is at position ${pos}, not ${i + 1}`))
          }
          const entry = decodeEntry(data as string)
          if (Either.isLeft(entry)) return yield* Effect.fail(corrupt(id, `entry #${i + 1}: ${entry.left}`))
          node = link(node, entry.right)
          seen.push([node, Number(nodeId)])
        }
        if ((node?.entry.id ?? null) !== row.head_entry) {
          return yield* Effect.fail(corrupt(id, `the chain ends at ${node?.entry.id}, the row says ${row.head_entry}`))
        }
        for (const [n, nodeId] of seen) nodeIds.set(n, nodeId)
        heads.set(id, { key: row.key, length: row.length, head: row.head })
        return Session.unsafeMake({
          id: summary.id,
          lineage: summary.lineage,
          placement: summary.placement,
          base: summary.base,
          node
        })
      })

    const summaries = (rows: ReadonlyArray<any>) => Effect.forEach(rows as ReadonlyArray<SessionRow>, toSummary)
    const read = <A>(body: Effect.Effect<A, E>) => lock.withPermits(1)(body)

    const list = (options?: SessionStore.ListOptions) => {
      const where: Array<string> = []
      const params: Array<unknown> = []
      let prefix = ""
      if (options?.text !== undefined) {
        prefix = `WITH RECURSIVE hit(id) AS (
          SELECT n.id FROM rath_nodes n JOIN rath_entries e ON e.id = n.entry
          WHERE instr(lower(json_extract(e.data, '$.text')), lower(?)) > 0
          UNION
          SELECT n.id FROM rath_nodes n JOIN hit h ON n.prev = h.id
        ) `
        params.push(options.text)
        where.push("s.head IN (SELECT id FROM hit)")
      }
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
      const text = `${prefix}SELECT ${SESSION_COLUMNS} FROM rath_sessions s${
        where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
      } ORDER BY s.created_at, s.id${options?.limit === undefined ? "" : ` LIMIT ${Math.max(0, options.limit)}`}`
      return read(Effect.flatMap(exec(text, params), summaries))
    }

    const graph = (id: string, direction: "up" | "down") => {
      const [from, to] = direction === "up" ? ["child", "parent"] : ["parent", "child"]
      const text = `WITH RECURSIVE walk(id, depth) AS (
          SELECT ${to}, 1 FROM rath_session_parents WHERE ${from} = ?
          UNION
          SELECT p.${to}, w.depth + 1 FROM rath_session_parents p JOIN walk w ON p.${from} = w.id
        )
        SELECT ${SESSION_COLUMNS}, min(w.depth) AS depth FROM walk w JOIN rath_sessions s ON s.id = w.id
        WHERE s.id <> ? GROUP BY s.key ORDER BY depth, s.created_at, s.id`
      return read(Effect.gen(function*() {
        const row = yield* selectSession(id)
        if (row === undefined) return yield* Effect.fail(notFound(id))
        return yield* Effect.flatMap(exec(text, [id, id]), summaries)
      }))
    }

    const collectGarbage = Effect.gen(function*() {
      yield* exec(`DELETE FROM rath_nodes WHERE id NOT IN (
        WITH RECURSIVE live(id) AS (
          SELECT head FROM rath_sessions WHERE head IS NOT NULL
          UNION
          SELECT n.prev FROM rath_nodes n JOIN live l ON n.id = l.id WHERE n.prev IS NOT NULL
        ) SELECT id FROM live)`)
      yield* exec("DELETE FROM rath_entries WHERE id NOT IN (SELECT entry FROM rath_nodes)")
    })

    const forget = Effect.sync(() => {
      nodeIds = new WeakMap()
      heads.clear()
      nextNodeId = undefined
    })

    const remove = (id: string) =>
      transaction(Effect.gen(function*() {
        const row = yield* selectSession(id)
        if (row === undefined) return yield* Effect.fail(notFound(id))
        yield* exec("DELETE FROM rath_sessions WHERE key = ?", [row.key])
        yield* exec("DELETE FROM rath_session_parents WHERE child = ?", [id])
        yield* collectGarbage
      })).pipe(Effect.zipLeft(forget))

    const prune = (olderThan: Duration.DurationInput) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        transaction(Effect.gen(function*() {
          const cutoff = now - Duration.toMillis(Duration.decode(olderThan))
          const removed = yield* exec("DELETE FROM rath_sessions WHERE updated_at < ? RETURNING id", [cutoff])
          if (removed.length === 0) return 0
          yield* exec("DELETE FROM rath_session_parents WHERE child NOT IN (SELECT id FROM rath_sessions)")
          yield* collectGarbage
          return removed.length
        })).pipe(Effect.zipLeft(forget)))

    const exportJsonl = (id: string) => Effect.map(load(id), Session.toJsonl)

    const importJsonl = (text: string) =>
      Effect.gen(function*() {
        const decoded = yield* Session.fromJsonl(text).pipe(
          Effect.mapError((cause) => fail({ reason: "InvalidJsonl", detail: cause.message, cause }))
        )
        yield* save(decoded.session)
        return { session: decoded.session, closed: decoded.closed, droppedLines: decoded.droppedLines }
      })

    return {
      save,
      load,
      list,
      ancestors: (id) => graph(id, "up"),
      descendants: (id) => graph(id, "down"),
      delete: remove,
      prune,
      exportJsonl,
      importJsonl
    } satisfies SessionStore.Service
  })
