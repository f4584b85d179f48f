/**
 * The Postgres SessionStore backend: the SQLite store's algorithm (see `storeSql.ts`) on a
 * database that several processes share.
 *
 * Layout (Postgres schema version 1, its own series):
 *
 * - `rath_nodes(id, prev, pos, data, crc)`: the entry chains. A node is one position of a chain
 *   (`pos`, 1-based), the node before it (`prev`) and its entry (`data`, the text
 *   `storeCodec.encodeStored` writes, kept as TEXT so it loads back byte for byte), with the
 *   CRC-32 of `storeCodec.nodeChecksum` (stored as a signed 32-bit integer). Forks share nodes.
 *   Ids come from the sequence `rath_node_ids`, reserved by each process in blocks (so ids are
 *   unique, not ordered by time: nothing here relies on a `prev` being smaller).
 * - `rath_sessions(id, head, head_entry, length, …, crc, agent_crc)`: one row per session, its
 *   checksum `storeCodec.rowChecksum`.
 * - `rath_session_parents(child, ord, parent)`: lineage edges, walked with recursive queries.
 * - `rath_migrations(migration_id, name, created_at)`: the schema version (as the SQLite store's
 *   Migrator table).
 *
 * Concurrency. A save of a session this process saved or loaded last (the common save: a few
 * entries more) is one statement: a compare-and-set that moves the head only if the row still
 * holds the head this process saw, inserting the new nodes only if it did. Otherwise (first save,
 * another process moved the head) a save is one transaction: it locks the session row (`SELECT … FOR UPDATE`),
 * checks that the stored history is a prefix of the one being saved (else `Conflict`), writes the
 * new nodes and moves the head with a compare-and-set on the old head. Of two writers racing on one
 * head, the second waits for the first's commit, then reads the new head and gets a `Conflict`.
 * Two writers creating the same session: the second's insert does nothing and its save runs again
 * against the row the first wrote. Saves hold a shared advisory lock, `delete` and `prune` (which
 * remove the nodes no session reaches) an exclusive one, so a save never links a new node onto a
 * node being collected. A load reads the row and its chain in one REPEATABLE READ snapshot.
 * Migrations run in one transaction under an advisory lock: a new database is made by one process,
 * the others wait and find it current; a failed migration leaves nothing.
 *
 * @internal
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Session from "../Session.js"
import type * as SessionStore from "../SessionStore.js"
import * as redact from "./redact.js"
import {
  asciiLower,
  decodeStoredRaw,
  divergence,
  encodeStored,
  jsonlOps,
  link,
  nodeAt,
  nodeChecksum,
  nodesAfter,
  rowChecksum,
  textChecksum
} from "./storeCodec.js"
import type { PgErrorFields } from "./storePgUrl.js"
import { maskUrl, passwordOf, PG_SCHEMA_VERSION } from "./storePgUrl.js"
import * as Rows from "./storeRows.js"

type E = SessionStore.SessionStoreError

export interface Config {
  readonly url: Redacted.Redacted<string>
  readonly maxConnections: number
  readonly connectTimeout: Duration.DurationInput
  readonly applicationName: string
}

/** Advisory lock keys (arbitrary, fixed): migrations, and saves (shared) against collection. */
const MIGRATE_LOCK = 7_240_731_001
const COLLECT_LOCK = 7_240_731_002

const migrations: ReadonlyArray<readonly [id: number, name: string, statements: ReadonlyArray<string>]> = [
  [1, "sessions", [
    `CREATE SEQUENCE rath_node_ids`,
    `CREATE TABLE rath_nodes (
      id BIGINT PRIMARY KEY,
      prev BIGINT,
      pos INTEGER NOT NULL,
      data TEXT NOT NULL,
      crc INTEGER NOT NULL
    )`,
    // for the text filter of `list` (which walks from matching nodes to the nodes after them)
    `CREATE INDEX rath_nodes_prev ON rath_nodes (prev)`,
    `CREATE TABLE rath_sessions (
      id TEXT PRIMARY KEY,
      head BIGINT,
      head_entry TEXT,
      length INTEGER NOT NULL,
      base INTEGER NOT NULL,
      operation TEXT NOT NULL,
      parents TEXT NOT NULL,
      by_kind TEXT,
      by_name TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      placement TEXT,
      agent TEXT,
      crc INTEGER NOT NULL,
      agent_crc INTEGER
    )`,
    `CREATE INDEX rath_sessions_created ON rath_sessions (created_at, id COLLATE "C")`,
    `CREATE INDEX rath_sessions_updated ON rath_sessions (updated_at)`,
    `CREATE TABLE rath_session_parents (
      child TEXT NOT NULL,
      ord INTEGER NOT NULL,
      parent TEXT NOT NULL,
      PRIMARY KEY (child, ord)
    )`,
    `CREATE INDEX rath_session_parents_parent ON rath_session_parents (parent)`
  ]]
]

const SESSION_COLUMNS =
  "s.id, s.head, s.head_entry, s.length, s.base, s.operation, s.parents, s.by_kind, s.by_name, s.created_at, s.updated_at, s.placement, s.agent, s.crc, s.agent_crc"

/** The Postgres reading of a row: typed columns, always checksums, signed INTEGER CRCs. */
type SessionRow = Rows.SessionRow

const reading: Rows.Reading = { typed: false, legacy: false, signed: true }

/** A CRC-32 as the signed 32-bit integer an INTEGER column holds. */
const signed = (crc: number): number => crc | 0

const rowDamage = (row: SessionRow): string | undefined => Rows.rowDamage(row, reading)

const causeMessage = (cause: unknown): string => {
  // an SqlError wraps the driver's error: its message says what happened
  const inner = (cause as { readonly cause?: unknown } | undefined)?.cause
  const message = cause instanceof Error ? cause.message : String(cause)
  return inner instanceof Error && inner.message !== "" && !message.includes(inner.message)
    ? `${message}: ${inner.message}`
    : message
}

/** A Postgres SQLSTATE anywhere in an error's causes. */
const sqlState = (error: unknown): string | undefined => {
  for (let cause = error, depth = 0; typeof cause === "object" && cause !== null && depth < 8; depth++) {
    const code = (cause as { readonly code?: unknown }).code
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code
    cause = (cause as { readonly cause?: unknown }).cause
  }
  return undefined
}

/** The save found the row created by another writer after it looked: it runs again. */
class Retry {
  readonly _tag = "Retry"
}

/**
 * Opens the store on a pool of its own: connects (bounded by the connect timeout), checks and
 * migrates the schema, and closes the pool with the scope.
 */
export const make = (
  config: Config,
  fail: (fields: PgErrorFields) => E
): Effect.Effect<SessionStore.Service, E, Scope.Scope> =>
  Effect.gen(function*() {
    const url = Redacted.value(config.url)
    const shown = maskUrl(url)
    const password = passwordOf(url)
    const secrets = redact.normalize(password === undefined ? [] : [password])
    const timeout = Duration.decode(config.connectTimeout)
    const context = yield* Layer.build(PgClient.layer({
      url: config.url,
      maxConnections: config.maxConnections,
      connectTimeout: timeout,
      applicationName: config.applicationName
    })).pipe(
      // the driver's own errors never carry the password; a message that quotes the URL would
      Effect.mapError((cause) => {
        // two timers race at the connect timeout, the client's ("Connection timed out") and the
        // driver's ("timeout exceeded when trying to connect", "Connection terminated due to
        // connection timeout", "timeout expired"): either is the server not answering in time
        const timedOut = /timed out|timeout exceeded|connection timeout|timeout expired/i.test(causeMessage(cause))
        return fail({
          reason: "Unavailable",
          detail: timedOut
            ? `cannot connect to ${shown}: the server did not answer within ${Duration.format(timeout)}`
            : `cannot connect to ${shown}: ${redact.text(causeMessage(cause), secrets)}`,
          cause: redact.contains(causeMessage(cause), secrets) ? undefined : cause
        })
      })
    )
    return yield* makeWith(Context.get(context, PgClient.PgClient), shown, secrets, fail)
  })

/** The store on the program's own `PgClient` (named in messages by its host and database). */
export const makeFromClient = (
  fail: (fields: PgErrorFields) => E
): Effect.Effect<SessionStore.Service, E, PgClient.PgClient> =>
  Effect.flatMap(PgClient.PgClient, (client) => {
    const { database, host, port } = client.config
    return makeWith(
      client,
      `postgres://${host ?? "localhost"}${port === undefined ? "" : `:${port}`}/${database ?? ""}`,
      redact.normalize(client.config.password === undefined ? [] : [Redacted.value(client.config.password)]),
      fail
    )
  })

/**
 * The store on a client that is already connected (`shown`: the database as messages name it).
 * Checks the schema version first: a newer one is refused before anything is written.
 */
export const makeWith = (
  sql: SqlClient.SqlClient,
  shown: string,
  secrets: ReadonlyArray<string>,
  fail: (fields: PgErrorFields) => E
): Effect.Effect<SessionStore.Service, E> =>
  Effect.gen(function*() {
    /** A database failure: `Unavailable`, saying what was being done and what the server said. */
    const unavailable = (detail: string) => (cause: unknown) =>
      fail({ reason: "Unavailable", detail: `${detail}: ${redact.text(causeMessage(cause), secrets)}`, cause })
    const corrupt = (sessionId: string, detail: string, cause?: unknown) =>
      fail(
        cause === undefined ? { reason: "Corrupt", detail, sessionId } : { reason: "Corrupt", detail, sessionId, cause }
      )

    const query = <A extends object>(text: string, params: ReadonlyArray<unknown> = []) =>
      sql.unsafe<A>(text, params as Array<unknown>)
    const values = (text: string, params: ReadonlyArray<unknown> = []) =>
      sql.unsafe(text, params as Array<unknown>).values

    // ---------------------------------------------------------------- schema

    const schemaVersion = Effect.gen(function*() {
      const [table] = yield* query<{ exists: string | null }>("SELECT to_regclass('rath_migrations')::text AS exists")
      if (table?.exists === null || table?.exists === undefined) return 0
      const [row] = yield* query<{ version: number | null }>(
        "SELECT max(migration_id)::int AS version FROM rath_migrations"
      )
      return row?.version ?? 0
    })
    const refuseNewer = (version: number) =>
      version > PG_SCHEMA_VERSION
        ? Effect.fail(fail({
          reason: "NewerSchema",
          detail:
            `${shown} has Postgres store schema version ${version}, written by a newer rath; this rath knows versions up to ${PG_SCHEMA_VERSION}. Upgrade rath to open it (the database was not changed).`
        }))
        : Effect.void
    const current = yield* schemaVersion.pipe(
      Effect.mapError(unavailable(`cannot read the schema version of ${shown}`)),
      Effect.tap(refuseNewer)
    )
    if (current < PG_SCHEMA_VERSION) {
      // one transaction under an advisory lock: a process that waited finds the schema current
      // (or newer: refused, nothing written); a migration that fails rolls back whole
      yield* sql.withTransaction(Effect.gen(function*() {
        yield* query("SELECT pg_advisory_xact_lock($1)", [MIGRATE_LOCK])
        yield* query(`CREATE TABLE IF NOT EXISTS rath_migrations (
          migration_id INTEGER PRIMARY KEY,
          created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
          name TEXT NOT NULL
        )`)
        const version = yield* schemaVersion
        yield* refuseNewer(version)
        for (const [id, name, statements] of migrations) {
          if (id <= version) continue
          for (const statement of statements) yield* query(statement)
          yield* query("INSERT INTO rath_migrations (migration_id, name) VALUES ($1, $2)", [id, name])
        }
      })).pipe(
        Effect.catchIf(
          (error): error is Exclude<typeof error, E> => error._tag !== "SessionStoreError",
          (cause) =>
            Effect.fail(
              sqlState(cause) === "42P07"
                ? fail({
                  reason: "Corrupt",
                  detail: `cannot migrate ${shown}: it holds rath tables but no schema version (${
                    redact.text(causeMessage(cause), secrets)
                  }); it is not a rath store this rath can open`,
                  cause
                })
                : unavailable(`cannot migrate ${shown}`)(cause)
            )
        )
      )
    }

    // ---------------------------------------------------------------- rows

    /**
     * Which stored node holds each in-memory node this process saved or loaded: where a fork
     * continues from. Only a shortcut, checked against the database before use.
     */
    let nodeIds = new WeakMap<Session.Node, number>()

    const agentValues = (options?: SessionStore.SaveOptions): readonly [string | null, number | null] => {
      if (options?.agent === undefined) return [null, null]
      const text = JSON.stringify(options.agent)
      return [text, signed(textChecksum(text))]
    }

    const lockShared = query("SELECT pg_advisory_xact_lock_shared($1)", [COLLECT_LOCK])
    const lockExclusive = query("SELECT pg_advisory_xact_lock($1)", [COLLECT_LOCK])

    /** Node ids this process reserved from the sequence and has not used yet. */
    const idPool: Array<number> = []
    const ID_BLOCK = 256
    /** `n` unused node ids: from the pool, which takes a block from the sequence when short. */
    const takeIds = (n: number) =>
      Effect.suspend(() =>
        idPool.length >= n ? Effect.void : Effect.map(
          values("SELECT nextval('rath_node_ids') FROM generate_series(1, $1)", [Math.max(ID_BLOCK, n)]),
          (rows) => {
            for (const row of rows) idPool.push(Rows.int(row[0])!)
          }
        )
      ).pipe(Effect.map(() => idPool.splice(0, n)))

    /** The fresh nodes of a save as the columns of `rath_nodes`, linked from `boundaryId`. */
    const nodeColumns = (
      fresh: ReadonlyArray<Session.Node>,
      ids: ReadonlyArray<number>,
      boundaryId: number | null,
      assigned: Array<readonly [Session.Node, number]>
    ) => {
      const prevs: Array<number | null> = []
      const positions: Array<number> = []
      const data: Array<string> = []
      const crcs: Array<number> = []
      for (let i = 0; i < fresh.length; i++) {
        const node = fresh[i]!
        const prev = i === 0 ? boundaryId : ids[i - 1]!
        const text = encodeStored(node.entry, node.prev?.entry.id)
        prevs.push(prev)
        positions.push(node.length)
        data.push(text)
        crcs.push(signed(nodeChecksum(prev, node.length, text)))
        assigned.push([node, ids[i]!])
      }
      return [ids, prevs, positions, data, crcs] as const
    }

    /**
     * What this process last saw of each session row it saved or loaded (committed): the head
     * node, its entry and the length. The common save (such a session, a few entries longer) then
     * needs no read: {@link saveCached}.
     */
    const heads = new Map<
      string,
      { readonly head: number | null; readonly headEntry: string | null; readonly length: number }
    >()

    const SET_ROW = `head = $2, head_entry = $3, length = $4, base = $5, operation = $6, parents = $7,
      by_kind = $8, by_name = $9, created_at = $10, updated_at = $11, placement = $12,
      agent = coalesce($13, agent), crc = $14, agent_crc = coalesce($15, agent_crc)`

    /**
     * The fast save, one statement (so one atomic commit, no transaction round trips): moves the
     * head only if the row still holds the head this process saw (compare-and-set), and inserts
     * the new nodes only if it moved. False when the row changed: nothing was written.
     */
    const saveCached = (
      session: Session.Session,
      options: SessionStore.SaveOptions | undefined,
      now: number,
      cached: { readonly head: number | null; readonly headEntry: string | null; readonly length: number },
      assigned: Array<readonly [Session.Node, number]>
    ) =>
      Effect.gen(function*() {
        const fresh = nodesAfter(session.node, cached.length)
        const ids = fresh.length === 0 ? [] : yield* takeIds(fresh.length)
        const columns = nodeColumns(fresh, ids, cached.head, assigned)
        const head = fresh.length === 0 ? cached.head : ids[ids.length - 1]!
        const fields = Rows.rowFields(session, head, now)
        const [agent, agentCrc] = agentValues(options)
        const rows = yield* values(
          `WITH moved AS (
            UPDATE rath_sessions SET ${SET_ROW}
            WHERE id = $1 AND head IS NOT DISTINCT FROM $16 AND length = $17 RETURNING id
          ), added AS (
            INSERT INTO rath_nodes (id, prev, pos, data, crc)
            SELECT n.* FROM unnest($18::bigint[], $19::bigint[], $20::int[], $21::text[], $22::int[]) AS n
            WHERE EXISTS (SELECT 1 FROM moved)
          )
          SELECT count(*)::int FROM moved`,
          [...fields, agent, signed(rowChecksum(fields)), agentCrc, cached.head, cached.length, ...columns]
        )
        return rows[0]?.[0] === 1 ? head : undefined
      })

    /** One save, one transaction; fails `Retry` when another writer created the row meanwhile. */
    const saveOnce = (
      session: Session.Session,
      options: SessionStore.SaveOptions | undefined,
      now: number,
      assigned: Array<readonly [Session.Node, number]>
    ) =>
      sql.withTransaction(Effect.gen(function*() {
        yield* lockShared
        const [row] = yield* query<{ head: number | string | null; head_entry: string | null; length: number }>(
          "SELECT head, head_entry, length FROM rath_sessions WHERE id = $1 FOR UPDATE",
          [session.id]
        )
        let boundaryLength = 0
        let boundaryId: number | null = null
        if (row !== undefined) {
          const detail = divergence({ length: row.length, head: row.head_entry ?? undefined }, session)
          if (detail !== undefined) {
            return yield* Effect.fail(fail({ reason: "Conflict", detail, sessionId: session.id }))
          }
          boundaryLength = row.length
          boundaryId = Rows.int(row.head)
        } else {
          // the newest node of this chain the store already holds, as far as this process knows
          for (const node of Session.chain(session.node)) {
            const known = nodeIds.get(node)
            if (known === undefined) continue
            const [found] = yield* query<{ entry: string | null; pos: number }>(
              "SELECT data::json->>'id' AS entry, pos FROM rath_nodes WHERE id = $1",
              [known]
            )
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
        let head = boundaryId
        if (fresh.length > 0) {
          const ids = yield* takeIds(fresh.length)
          yield* query(
            "INSERT INTO rath_nodes (id, prev, pos, data, crc) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::int[])",
            nodeColumns(fresh, ids, boundaryId, assigned)
          )
          head = ids[ids.length - 1]!
        }
        const fields = Rows.rowFields(session, head, now)
        const [agent, agentCrc] = agentValues(options)
        const crc = signed(rowChecksum(fields))
        if (row !== undefined) {
          // compare-and-set on the head the row held when this transaction locked it
          const moved = yield* query(
            `UPDATE rath_sessions SET ${SET_ROW}
            WHERE id = $1 AND head IS NOT DISTINCT FROM $16 AND length = $17 RETURNING id`,
            [...fields, agent, crc, agentCrc, boundaryId, row.length]
          )
          if (moved.length !== 1) {
            return yield* Effect.fail(fail({
              reason: "Conflict",
              detail: "the stored head moved while saving: load the stored session and merge",
              sessionId: session.id
            }))
          }
        } else {
          const created = yield* query(
            `INSERT INTO rath_sessions (id, head, head_entry, length, base, operation, parents, by_kind, by_name,
              created_at, updated_at, placement, agent, crc, agent_crc)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (id) DO NOTHING RETURNING id`,
            [...fields, agent, crc, agentCrc]
          )
          if (created.length !== 1) return yield* Effect.fail(new Retry())
          const parents = session.lineage.parents
          if (parents.length > 0) {
            yield* query(
              "INSERT INTO rath_session_parents (child, ord, parent) SELECT $1, * FROM unnest($2::int[], $3::text[])",
              [session.id, parents.map((_, ord) => ord), parents]
            )
          }
        }
        return { appended: session.length - (row?.length ?? 0), created: row === undefined, head }
      }))

    /** Records what a committed save wrote: node ids for forks, and the head for the fast save. */
    const committed = (
      session: Session.Session,
      head: number | null,
      assigned: ReadonlyArray<readonly [Session.Node, number]>
    ) =>
      Effect.sync(() => {
        for (const [node, id] of assigned) nodeIds.set(node, id)
        heads.set(session.id, { head, headEntry: session.node?.entry.id ?? null, length: session.length })
      })

    /** The full save, run again (at most 3 times) when another writer created the row meanwhile. */
    const saveFull = (
      session: Session.Session,
      options: SessionStore.SaveOptions | undefined,
      now: number,
      left: number
    ): Effect.Effect<SessionStore.SaveResult, E> => {
      const assigned: Array<readonly [Session.Node, number]> = []
      return saveOnce(session, options, now, assigned).pipe(
        Effect.tap(({ head }) => committed(session, head, assigned)),
        Effect.map(({ appended, created }) => ({ appended, created })),
        Effect.catchAll((error): Effect.Effect<SessionStore.SaveResult, E> => {
          if (error._tag === "SessionStoreError") return Effect.fail(error)
          if (error._tag === "Retry" && left > 0) return saveFull(session, options, now, left - 1)
          return Effect.fail(
            error._tag === "Retry"
              ? fail({
                reason: "Conflict",
                detail: "other writers kept creating this session while it was being saved",
                sessionId: session.id
              })
              : unavailable(`cannot save ${session.id}`)(error)
          )
        })
      )
    }

    const save = (session: Session.Session, options?: SessionStore.SaveOptions) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<SessionStore.SaveResult, E> => {
        const cached = heads.get(session.id)
        if (
          cached === undefined || session.length < cached.length ||
          (cached.length > 0 && nodeAt(session.node, cached.length)?.entry.id !== cached.headEntry)
        ) return saveFull(session, options, now, 3)
        const assigned: Array<readonly [Session.Node, number]> = []
        return saveCached(session, options, now, cached, assigned).pipe(
          Effect.mapError(unavailable(`cannot save ${session.id}`)),
          Effect.flatMap((head) =>
            head === undefined
              // the row changed since this process saw it: nothing was written; the full save
              // decides on what the database holds (a fast-forward goes through, else Conflict)
              ? Effect.zipRight(Effect.sync(() => heads.delete(session.id)), saveFull(session, options, now, 3))
              : Effect.as(committed(session, head, assigned), {
                appended: session.length - cached.length,
                created: false
              })
          )
        )
      })

    const toSummary = (row: SessionRow): Either.Either<SessionStore.Summary, E> => Rows.toSummary(row, reading, corrupt)

    const notFound = (id: string) =>
      fail({ reason: "NotFound", detail: `no session ${id} in the store`, sessionId: id })

    /**
     * Rebuilds a chain read head first (`[id, prev, pos, data, crc]` rows): every node at its
     * position, linked to the one before, its checksum whole, ending at the row's head entry.
     */
    const rebuild = (
      id: string,
      row: SessionRow,
      rows: ReadonlyArray<ReadonlyArray<unknown>>
    ): Either.Either<Session.Node | undefined, E> => {
      const length = row.length
      if (rows.length > length) {
        return Either.left(corrupt(id, `the chain goes on past its ${length} nodes, the row says ${length}`))
      }
      if (rows.length !== length) {
        return Either.left(corrupt(id, `the chain has ${rows.length} nodes, the row says ${length}`))
      }
      let node: Session.Node | undefined = undefined
      const authors: Array<{ readonly kind: string; readonly name: string }> = []
      for (let i = 0; i < length; i++) {
        const [, rawPrev, pos, text, crc] = rows[length - 1 - i]!
        if (pos !== i + 1) return Either.left(corrupt(id, `node #${i + 1} of the chain says it is at position ${pos}`))
        const prev = Rows.int(rawPrev)
        if (typeof text !== "string" || crc !== signed(nodeChecksum(prev, i + 1, text))) {
          return Either.left(corrupt(id, `entry #${i + 1} fails its checksum`))
        }
        const entry = decodeStoredRaw(text, node?.entry.id, false, authors)
        if (typeof entry === "string") return Either.left(corrupt(id, `entry #${i + 1}: ${entry}`))
        node = link(node, entry)
      }
      if ((node?.entry.id ?? null) !== row.head_entry) {
        return Either.left(corrupt(id, `the chain ends at ${node?.entry.id}, the row says ${row.head_entry}`))
      }
      return Either.right(node)
    }

    // the chain from a node back to its start, head first, at most `$2` nodes past the first (a
    // damaged `prev` may form a cycle, or a row may say fewer nodes than its chain holds)
    const chainQuery = `WITH RECURSIVE chain(id, prev, pos, data, crc, depth) AS (
        SELECT id, prev, pos, data, crc, 1 FROM rath_nodes WHERE id = $1
        UNION ALL
        SELECT n.id, n.prev, n.pos, n.data, n.crc, c.depth + 1 FROM rath_nodes n JOIN chain c ON n.id = c.prev
        WHERE c.depth <= $2
      )
      SELECT id, prev, pos, data, crc FROM chain ORDER BY depth`

    const load = (id: string) =>
      Effect.gen(function*() {
        const read = yield* sql.withTransaction(Effect.gen(function*() {
          yield* query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
          const [row] = yield* query<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM rath_sessions s WHERE s.id = $1`, [id])
          if (row === undefined) return undefined
          // the row is checked before its chain is read: a damaged length or head must not steer the walk
          if (rowDamage(row) !== undefined || row.head === null) return { row, chain: [] }
          return { row, chain: yield* values(chainQuery, [Rows.int(row.head), row.length]) }
        })).pipe(Effect.mapError(unavailable(`cannot load ${id}`)))
        if (read === undefined) return yield* Effect.fail(notFound(id))
        const { chain, row } = read
        const summary = yield* toSummary(row)
        const node = yield* rebuild(id, row, chain)
        if (node !== undefined && row.head !== null) nodeIds.set(node, Rows.int(row.head)!)
        heads.set(id, { head: Rows.int(row.head), headEntry: row.head_entry, length: row.length })
        return Rows.sessionOf(summary, node)
      })

    const summaries = (rows: ReadonlyArray<SessionRow>) => Effect.forEach(rows, toSummary)

    const list = (options?: SessionStore.ListOptions) => {
      const where: Array<string> = []
      const params: Array<unknown> = []
      const param = (value: unknown) => {
        params.push(value)
        return `$${params.length}`
      }
      // times as float8: a fractional millisecond compares as the memory store compares it
      if (options?.since !== undefined) where.push(`s.created_at >= ${param(options.since)}::float8`)
      if (options?.until !== undefined) where.push(`s.created_at < ${param(options.until)}::float8`)
      if (options?.agent !== undefined) {
        const agent = param(options.agent)
        where.push(`(s.by_name = ${agent} OR (s.agent::json->>'name') = ${agent})`)
      }
      if (options?.parent !== undefined) {
        where.push(
          `EXISTS (SELECT 1 FROM rath_session_parents p WHERE p.child = s.id AND p.parent = ${param(options.parent)})`
        )
      }
      if (options?.text !== undefined) {
        // the sessions whose chain holds a node whose entry's `text` contains the needle (ASCII
        // case-insensitive, as SQLite's lower()): from the matching nodes forward along `prev`.
        // An escaped NUL, which Postgres text cannot hold, is read as U+FFFD
        where.push(`s.head IN (WITH RECURSIVE reached(id) AS (
          SELECT id FROM (SELECT id, replace(data, '\\u0000', '\\ufffd')::json AS doc FROM rath_nodes) d
            WHERE json_typeof(d.doc->'text') = 'string'
              AND strpos(translate(d.doc->>'text', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ${
          param(asciiLower(options.text))
        }) > 0
          UNION
          SELECT n.id FROM rath_nodes n JOIN reached r ON n.prev = r.id
        ) SELECT id FROM reached)`)
      }
      const limit = options?.limit === undefined ? "" : ` LIMIT ${param(Math.max(0, Math.floor(options.limit)))}`
      const text = `SELECT ${SESSION_COLUMNS} FROM rath_sessions s${
        where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
      } ORDER BY s.created_at, s.id COLLATE "C"${limit}`
      return Effect.flatMap(
        Effect.mapError(query<SessionRow>(text, params), unavailable("cannot list sessions")),
        summaries
      )
    }

    const graph = (id: string, direction: "up" | "down") => {
      const [from, to] = direction === "up" ? ["child", "parent"] : ["parent", "child"]
      // bounded by the number of edges: a damaged lineage with a cycle ends
      const text = `WITH RECURSIVE walk(id, depth) AS (
          SELECT ${to}, 1 FROM rath_session_parents WHERE ${from} = $1
          UNION
          SELECT p.${to}, w.depth + 1 FROM rath_session_parents p JOIN walk w ON p.${from} = w.id
          WHERE w.depth <= (SELECT count(*) FROM rath_session_parents)
        )
        SELECT ${SESSION_COLUMNS}, min(w.depth) AS depth FROM walk w JOIN rath_sessions s ON s.id = w.id
        WHERE s.id <> $1 GROUP BY s.id ORDER BY depth, s.created_at, s.id COLLATE "C"`
      return sql.withTransaction(Effect.gen(function*() {
        yield* query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        const exists = yield* query("SELECT 1 FROM rath_sessions WHERE id = $1", [id])
        if (exists.length === 0) return undefined
        return yield* query<SessionRow>(text, [id])
      })).pipe(
        Effect.mapError(unavailable(`cannot walk the lineage of ${id}`)),
        Effect.flatMap((rows) => rows === undefined ? Effect.fail(notFound(id)) : summaries(rows))
      )
    }

    /** Removes the nodes no session's head reaches (under the exclusive lock: no save links onto them). */
    const collectGarbage = query(`DELETE FROM rath_nodes WHERE id NOT IN (
        WITH RECURSIVE live(id) AS (
          SELECT head FROM rath_sessions WHERE head IS NOT NULL
          UNION
          SELECT n.prev FROM rath_nodes n JOIN live l ON n.id = l.id WHERE n.prev IS NOT NULL
        ) SELECT id FROM live)`)

    const forget = Effect.sync(() => {
      nodeIds = new WeakMap()
      heads.clear()
    })

    const remove = (id: string) =>
      sql.withTransaction(Effect.gen(function*() {
        yield* lockExclusive
        const removed = yield* query("DELETE FROM rath_sessions WHERE id = $1 RETURNING id", [id])
        if (removed.length === 0) return false
        yield* query("DELETE FROM rath_session_parents WHERE child = $1", [id])
        yield* collectGarbage
        return true
      })).pipe(
        Effect.mapError(unavailable(`cannot delete ${id}`)),
        Effect.flatMap((found) => found ? forget : Effect.fail(notFound(id)))
      )

    const prune = (olderThan: Duration.DurationInput) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* lockExclusive
          const cutoff = now - Duration.toMillis(Duration.decode(olderThan))
          const removed = yield* query("DELETE FROM rath_sessions WHERE updated_at < $1::float8 RETURNING id", [cutoff])
          if (removed.length === 0) return 0
          yield* query("DELETE FROM rath_session_parents WHERE child NOT IN (SELECT id FROM rath_sessions)")
          yield* collectGarbage
          return removed.length
        })).pipe(
          Effect.mapError(unavailable("cannot prune")),
          Effect.tap(forget)
        ))

    const { exportJsonl, importJsonl } = jsonlOps(save, load, fail)

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
