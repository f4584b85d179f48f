/**
 * The SQLite backend of `Memory`: the tables, FTS5 and term statistics, and the vector search
 * (sqlite-vec's `vec0`, or a scan of an in-process matrix).
 *
 * @internal
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import * as SqliteVec from "sqlite-vec"
import type * as Embedder from "../Embedder.js"
import type { Backend, Options, Ranked } from "../Memory.js"
import * as Index from "./memoryIndex.js"
import { Item, MemoryError } from "./memoryModel.js"

const INSERT_BATCH = 500

/**
 * What went wrong, in words, from an SQLite result code (better-sqlite3's `code`, kept as the
 * `cause` of an `SqlError`) or a Node errno anywhere in the cause chain; and whether the file itself
 * is damaged (`Corrupt`) rather than out of reach.
 *
 * @internal
 */
export const explain = (cause: unknown): { readonly corrupt: boolean; readonly why: string } => {
  for (let current = cause, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const code = typeof current === "object" && "code" in current ? String(current.code) : ""
    if (code === "SQLITE_NOTADB") return { corrupt: true, why: "it is not an SQLite database" }
    if (code.startsWith("SQLITE_CORRUPT")) {
      return { corrupt: true, why: "the file is damaged or truncated (SQLite: database disk image is malformed)" }
    }
    if (code === "SQLITE_FULL" || code === "ENOSPC") return { corrupt: false, why: "the disk is full" }
    if (code.startsWith("SQLITE_READONLY") || code === "EROFS" || code === "EACCES" || code === "EPERM") {
      return { corrupt: false, why: "the file or its directory is read-only" }
    }
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return { corrupt: false, why: "another process holds the database locked" }
    }
    if (code === "SQLITE_CANTOPEN") return { corrupt: false, why: "SQLite cannot open the file" }
    if (code === "EISDIR") return { corrupt: false, why: "it is a directory" }
    if (code === "ENOTDIR") return { corrupt: false, why: "a part of the path is not a directory" }
    if (code === "ELOOP") return { corrupt: false, why: "the path is a symlink loop" }
    if (code.startsWith("SQLITE_IOERR")) {
      return { corrupt: false, why: `an I/O error (${code}${current instanceof Error ? `: ${current.message}` : ""})` }
    }
    current = typeof current === "object" && "cause" in current ? current.cause : undefined
  }
  return { corrupt: false, why: cause instanceof Error ? cause.message : String(cause) }
}

/**
 * A `MemoryError` for a failed SQLite operation: `Corrupt` when the file is damaged, else
 * `StoreFailed`, the detail ending with what went wrong.
 *
 * @internal
 */
export const storeError = (detail: string, cause: unknown): MemoryError => {
  const { corrupt, why } = explain(cause)
  return new MemoryError({ reason: corrupt ? "Corrupt" : "StoreFailed", detail: `${detail}: ${why}`, cause })
}

const storeFailed = (detail: string) => (cause: SqlError.SqlError) => storeError(detail, cause)

/**
 * `effect` in one transaction, every failure a `MemoryError`. effect-sql turns a failed COMMIT or
 * ROLLBACK into a defect (`orDie`); on a full disk both happen (SQLite rolls the transaction back
 * itself when a write fails with SQLITE_FULL, and the ROLLBACK that follows finds none), so those
 * defects are caught here too, with what went wrong.
 */
const transaction =
  (sql: SqlClient.SqlClient, detail: string) =>
  <A>(effect: Effect.Effect<A, SqlError.SqlError | MemoryError>): Effect.Effect<A, MemoryError> =>
    effect.pipe(
      sql.withTransaction,
      Effect.mapError((cause) => Schema.is(MemoryError)(cause) ? cause : storeError(detail, cause)),
      Effect.catchAllDefect((defect) => Effect.fail(storeError(detail, defect)))
    )

/**
 * The table layout: 1 had no stored terms; 2 adds `terms` (what the text was indexed with, for
 * scoring and forgetting), `text_key` (commit deduplication) and `rath_memory_meta`.
 */
const SCHEMA_VERSION = 2

interface ItemRow {
  readonly pk: number
  readonly id: string
  readonly namespace: string
  readonly text: string
  readonly source: string | null
  readonly session_id: string | null
  readonly entry_ids: string
  readonly metadata: string
  readonly created_at: number
}

const decodeJson = Schema.decodeUnknown(Schema.parseJson())

const fromRow = (row: ItemRow): Effect.Effect<Item, MemoryError> =>
  Effect.all([decodeJson(row.entry_ids), decodeJson(row.metadata)]).pipe(
    Effect.flatMap(([entryIds, metadata]) =>
      Schema.decodeUnknown(Item)({
        id: row.id,
        namespace: row.namespace,
        text: row.text,
        entryIds,
        metadata,
        createdAt: row.created_at,
        ...(row.source === null ? {} : { source: row.source }),
        ...(row.session_id === null ? {} : { sessionId: row.session_id })
      })
    ),
    Effect.mapError((cause) =>
      new MemoryError({ reason: "StoreFailed", detail: `memory ${row.id} is not readable`, cause })
    )
  )

// -----------------------------------------------------------------------------
// opening the file
// -----------------------------------------------------------------------------

const SQLITE_HEADER = "SQLite format 3\u0000"

/**
 * What is wrong with the path before SQLite sees it, or `undefined` when it looks like an SQLite
 * file or a new one can be made there. SQLite would follow a dangling symlink and create its
 * target, take a directory for a file it "cannot open", and accept a file cut short until a query
 * reaches a missing page.
 */
const inspect = (filename: string): { readonly corrupt: boolean; readonly why: string } | undefined => {
  let link: NodeFs.Stats
  try {
    link = NodeFs.lstatSync(filename)
  } catch (cause) {
    if (typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT") {
      // a new file: its directory must be writable
      try {
        NodeFs.accessSync(NodePath.dirname(filename), NodeFs.constants.W_OK)
        return undefined
      } catch (cause) {
        return explain(cause)
      }
    }
    return explain(cause)
  }
  let stat = link
  if (link.isSymbolicLink()) {
    try {
      stat = NodeFs.statSync(filename)
    } catch (cause) {
      const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
      if (code !== "ENOENT") return explain(cause)
      let target = "a path"
      try {
        target = NodeFs.readlinkSync(filename)
      } catch {
        // swapped meanwhile: the message names no target
      }
      return { corrupt: false, why: `it is a symlink to ${target}, which does not exist` }
    }
  }
  if (stat.isDirectory()) return { corrupt: false, why: "it is a directory" }
  if (!stat.isFile()) return { corrupt: false, why: "it is not a regular file" }
  try {
    NodeFs.accessSync(filename, NodeFs.constants.R_OK | NodeFs.constants.W_OK)
    NodeFs.accessSync(NodePath.dirname(NodeFs.realpathSync(filename)), NodeFs.constants.W_OK)
  } catch (cause) {
    return explain(cause)
  }
  if (stat.size === 0) return undefined // SQLite makes an empty file a database
  const header = Buffer.alloc(100)
  let read = 0
  let fd: number | undefined
  try {
    fd = NodeFs.openSync(filename, "r")
    read = NodeFs.readSync(fd, header, 0, 100, 0)
  } catch (cause) {
    return explain(cause)
  } finally {
    if (fd !== undefined) NodeFs.closeSync(fd)
  }
  if (read < 16 || header.toString("latin1", 0, 16) !== SQLITE_HEADER) {
    return { corrupt: true, why: "it is not an SQLite database" }
  }
  const truncated = { corrupt: true, why: `the file is truncated (${stat.size} bytes)` }
  if (read < 100) return truncated
  const pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16)
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) {
    return { corrupt: true, why: `the file is damaged (page size ${pageSize} in its header)` }
  }
  if (stat.size % pageSize !== 0) return truncated
  // the page count in the header is valid when its version number matches the change counter;
  // pages past the end of the file may still be in the write-ahead log
  const pages = header.readUInt32BE(28)
  const valid = header.readUInt32BE(92) === header.readUInt32BE(24)
  if (valid && pages * pageSize > stat.size && !NodeFs.existsSync(`${filename}-wal`)) return truncated
  return undefined
}

/**
 * The `SqliteClient` of a memory file, every failure to open it a typed `MemoryError`: the path is
 * inspected first (see `inspect`), and what better-sqlite3 throws while opening it (its
 * constructor and the WAL pragma run inside `SqliteClient.make`, where a throw is a defect) is
 * turned into the same error with what went wrong.
 *
 * @internal
 */
export const layerClient = (
  filename: string
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, MemoryError> =>
  Layer.scopedContext(Effect.gen(function*() {
    const failed = (why: { readonly corrupt: boolean; readonly why: string }, cause?: unknown) =>
      new MemoryError({
        reason: why.corrupt ? "Corrupt" : "StoreFailed",
        detail: `cannot open ${filename}: ${why.why}`,
        cause
      })
    if (filename !== ":memory:" && filename !== "") {
      yield* Effect.try({
        try: () => NodeFs.mkdirSync(NodePath.dirname(filename), { recursive: true }),
        catch: (cause) => failed(explain(cause), cause)
      })
      const problem = yield* Effect.sync(() => inspect(filename))
      if (problem !== undefined) return yield* failed(problem)
    }
    const client = yield* SqliteClient.make({ filename }).pipe(
      Effect.catchAllDefect((defect) => Effect.fail(failed(explain(defect), defect)))
    )
    return Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
  })).pipe(Layer.provide(Reactivity.layer))

// -----------------------------------------------------------------------------
// the backend
// -----------------------------------------------------------------------------

const columns = "pk, id, namespace, text, source, session_id, entry_ids, metadata, created_at"

const splitTerms = (terms: string | null): ReadonlyArray<string> =>
  terms === null || terms.length === 0 ? [] : terms.split(" ")

const VEC_MAX_K = 4096 // vec0's limit on k

/**
 * Loads sqlite-vec and makes (or heals) the `vec0` index of the embedder's model: one table per
 * model and dimension, rowid = the memory's pk, namespace as partition key. Rows written by a
 * process without the extension are added, rows it deleted are removed. `None` when the client is
 * not an `SqliteClient` or the extension does not load: recall then scans vectors in process.
 */
const setupVec = (sql: SqlClient.SqlClient, embedder: Embedder.Service) =>
  Effect.gen(function*() {
    const client = yield* Effect.serviceOption(SqliteClient.SqliteClient)
    if (Option.isNone(client)) return Option.none<string>()
    const loaded = yield* Effect.try(() => SqliteVec.getLoadablePath()).pipe(
      Effect.flatMap((path) => client.value.loadExtension(path)),
      Effect.as(true),
      Effect.catchAll((cause) =>
        Effect.logDebug("sqlite-vec did not load; memory recall scans vectors in process", cause).pipe(
          Effect.as(false)
        )
      )
    )
    if (!loaded) return Option.none<string>()
    const dimensions = embedder.dimensions
    const table = `rath_memory_vec_${dimensions}_${Index.fnv1a(embedder.model).toString(36)}`
    yield* transaction(sql, `cannot create the vector index ${table}`)(Effect.gen(function*() {
      yield* sql.unsafe(`CREATE VIRTUAL TABLE IF NOT EXISTS ${table} USING vec0(
        namespace text partition key, embedding float[${dimensions}] distance_metric=cosine
      )`)
      const [expected] = yield* sql<{ readonly n: number; readonly last: number | null }>`
        SELECT count(*) AS n, max(pk) AS last FROM rath_memories
        WHERE embedding_model = ${embedder.model} AND length(embedding) = ${dimensions * 4}`
      const [present] = yield* sql<{ readonly n: number; readonly last: number | null }>`
        SELECT count(*) AS n, max(rowid) AS last FROM ${sql(`${table}_rowids`)}`
      if (expected?.n === present?.n && expected?.last === present?.last) return
      yield* sql`DELETE FROM ${sql(table)} WHERE rowid NOT IN (
        SELECT pk FROM rath_memories WHERE embedding_model = ${embedder.model})`
      yield* sql`INSERT INTO ${sql(table)} (rowid, namespace, embedding)
        SELECT pk, namespace, embedding FROM rath_memories
        WHERE embedding_model = ${embedder.model} AND length(embedding) = ${dimensions * 4}
          AND pk NOT IN (SELECT rowid FROM ${sql(`${table}_rowids`)})`
    }))
    return Option.some(table)
  })

/**
 * Creates (or opens) the tables and returns the backend. A file whose terms were made by another
 * version of the term pipeline (`Index.TERMS_VERSION`, e.g. one written before stemming) is
 * re-indexed first, in the same transaction: terms, text keys, the FTS5 index and the term
 * statistics are computed again from the stored texts.
 *
 * @internal
 */
export const makeBackend = (
  sql: SqlClient.SqlClient,
  embedder: Option.Option<Embedder.Service>,
  options?: Options & { readonly store?: string | undefined }
): Effect.Effect<Backend, MemoryError> =>
  Effect.gen(function*() {
    // terms are pre-segmented and normalised in JS and joined by spaces: the ascii tokenizer
    // splits on the spaces and keeps every non-ASCII character, so FTS5 indexes exactly them
    const createFts = sql`CREATE VIRTUAL TABLE IF NOT EXISTS rath_memories_fts USING fts5(
      terms, content='', contentless_delete=1, tokenize='ascii'
    )`

    const COUNT = "" // the reserved term whose df is the number of memories
    const addFrequencies = (docs: ReadonlyArray<ReadonlyArray<string>>, sign: 1 | -1) =>
      Effect.gen(function*() {
        const counts = Array.from(Index.documentTerms(docs), ([term, df]) => ({ term, df: sign * df }))
        counts.push({ term: COUNT, df: sign * docs.length })
        for (let i = 0; i < counts.length; i += INSERT_BATCH) {
          yield* sql`INSERT INTO rath_memory_terms ${sql.insert(counts.slice(i, i + INSERT_BATCH))}
            ON CONFLICT (term) DO UPDATE SET df = df + excluded.df`
        }
        if (sign < 0) yield* sql`DELETE FROM rath_memory_terms WHERE df <= 0 AND term <> ${COUNT}`
      })

    // every stored text indexed again, in batches by primary key
    const reindex = Effect.gen(function*() {
      yield* sql`DROP TABLE rath_memories_fts`
      yield* createFts
      yield* sql`DELETE FROM rath_memory_terms`
      let last = 0
      for (;;) {
        const rows = yield* sql<{ readonly pk: number; readonly text: string }>`
          SELECT pk, text FROM rath_memories WHERE pk > ${last} ORDER BY pk LIMIT ${INSERT_BATCH}`
        if (rows.length === 0) break
        const indexed = rows.map((row) => ({ pk: row.pk, terms: Index.terms(row.text), key: Index.textKey(row.text) }))
        const json = JSON.stringify(indexed.map((row) => ({ p: row.pk, t: row.terms.join(" "), k: row.key })))
        yield* sql`UPDATE rath_memories AS m SET terms = j.value ->> '$.t', text_key = j.value ->> '$.k'
          FROM json_each(${json}) AS j WHERE m.pk = j.value ->> '$.p'`
        yield* sql`INSERT INTO rath_memories_fts ${
          sql.insert(indexed.map((row) => ({ rowid: row.pk, terms: row.terms.join(" ") })))
        }`
        yield* addFrequencies(indexed.map((row) => row.terms), 1)
        last = rows[rows.length - 1]!.pk
      }
      yield* sql`INSERT INTO rath_memory_meta (key, value) VALUES ('terms', ${Index.TERMS_VERSION})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`
    })

    const [{ user_version: version = 0 } = {}] = yield* sql<{ readonly user_version: number }>`PRAGMA user_version`
      .pipe(Effect.mapError(storeFailed("cannot read the memory file")))
    if (version > SCHEMA_VERSION) {
      return yield* new MemoryError({
        reason: "StoreFailed",
        detail: `the memory file has schema version ${version}, newer than this rath knows (${SCHEMA_VERSION}): ` +
          "open it with a newer rath"
      })
    }
    yield* transaction(sql, "cannot create the memory tables")(Effect.gen(function*() {
      yield* sql`CREATE TABLE IF NOT EXISTS rath_memories (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        namespace TEXT NOT NULL,
        text TEXT NOT NULL,
        source TEXT,
        session_id TEXT,
        entry_ids TEXT NOT NULL,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        commit_entry TEXT,
        embedding BLOB,
        embedding_model TEXT,
        terms TEXT,
        text_key TEXT
      )`
      // a file of schema 1 gains the columns; its rows are re-indexed below
      const present = new Set(
        (yield* sql<{ readonly name: string }>`PRAGMA table_info(rath_memories)`).map((row) => row.name)
      )
      if (!present.has("terms")) yield* sql`ALTER TABLE rath_memories ADD COLUMN terms TEXT`
      if (!present.has("text_key")) yield* sql`ALTER TABLE rath_memories ADD COLUMN text_key TEXT`
      // document frequencies, kept with every write (FTS5's fts5vocab counts them by walking the
      // whole doclist: milliseconds for a common term); the empty term holds the memory count
      yield* sql`CREATE TABLE IF NOT EXISTS rath_memory_terms (
        term TEXT PRIMARY KEY,
        df INTEGER NOT NULL
      ) WITHOUT ROWID`
      yield* sql`CREATE TABLE IF NOT EXISTS rath_memory_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID`
      yield* sql`CREATE INDEX IF NOT EXISTS rath_memories_namespace ON rath_memories (namespace, created_at)`
      yield* sql`CREATE INDEX IF NOT EXISTS rath_memories_created ON rath_memories (created_at)`
      yield* sql`CREATE INDEX IF NOT EXISTS rath_memories_commit ON rath_memories (namespace, commit_entry)
        WHERE commit_entry IS NOT NULL`
      yield* sql`CREATE INDEX IF NOT EXISTS rath_memories_text ON rath_memories (namespace, text_key)`
      yield* createFts
      const [stored] = yield* sql<{ readonly value: string }>`
        SELECT value FROM rath_memory_meta WHERE key = 'terms'`
      if (stored?.value !== Index.TERMS_VERSION) yield* reindex
      yield* sql.unsafe(`PRAGMA user_version = ${SCHEMA_VERSION}`)
    }))

    const vec = Option.isSome(embedder) && options?.vectorSearch !== "scan"
      ? yield* setupVec(sql, embedder.value)
      : Option.none<string>()

    // the vector matrix of one embedding model, loaded lazily (when sqlite-vec is not used)
    let cache: { key: string; index: Index.VectorIndex; version: number } | undefined = undefined

    const dataVersion = sql<{ readonly data_version: number }>`PRAGMA data_version`.pipe(
      Effect.map((rows) => rows[0]?.data_version ?? 0)
    )

    const loadVectors = (model: string, dimensions: number) =>
      Effect.gen(function*() {
        const key = `${model}\u0000${dimensions}`
        const version = yield* dataVersion
        if (cache !== undefined && cache.key === key && cache.version === version) return cache.index
        const rows = yield* sql<{ readonly id: string; readonly namespace: string; readonly embedding: Uint8Array }>`
          SELECT id, namespace, embedding FROM rath_memories
          WHERE embedding_model = ${model} AND embedding IS NOT NULL`
        const index = new Index.VectorIndex(dimensions)
        for (const row of rows) index.add(row.id, row.namespace, Index.fromBlob(row.embedding))
        cache = { key, index, version }
        return index
      })

    const selectItems = (rows: ReadonlyArray<ItemRow>) => Effect.forEach(rows, fromRow)

    const vecSearch = (
      table: string,
      query: Float32Array,
      namespaces: ReadonlyArray<string> | undefined,
      limit: number
    ) => {
      const k = Math.min(limit, VEC_MAX_K)
      const blob = Buffer.from(Index.toBlob(query))
      // cosine distance of unit vectors is 1 - similarity
      const knn = (namespace: string | undefined) =>
        sql<Ranked>`SELECT m.id AS id, 1 - v.distance AS score FROM (
            SELECT rowid, distance FROM ${sql(table)}
            WHERE embedding MATCH ${blob} AND k = ${k}${
          namespace === undefined ? sql`` : sql` AND namespace = ${namespace}`
        }
          ) v JOIN rath_memories m ON m.pk = v.rowid ORDER BY v.distance, m.id`
      const lists: Effect.Effect<ReadonlyArray<Ranked>, SqlError.SqlError> = namespaces === undefined
        ? knn(undefined)
        : Effect.map(
          Effect.forEach(namespaces, knn),
          (lists) => lists.flat().sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1)).slice(0, k)
        )
      return lists.pipe(
        Effect.map((hits) => hits.filter((hit) => hit.score > 0)),
        Effect.mapError(storeFailed("vector recall failed"))
      )
    }

    const backend: Backend = {
      store: options?.store ?? "sqlite",
      vectorIndex: Option.isNone(embedder) ? "none" : Option.isSome(vec) ? "sqlite-vec" : "scan",
      insert: (rows) =>
        Effect.gen(function*() {
          const model = Option.getOrUndefined(embedder)?.model ?? null
          const inserted = yield* sql<{ readonly pk: number; readonly id: string }>`INSERT INTO rath_memories ${
            sql.insert(rows.map((row) => ({
              id: row.item.id,
              namespace: row.item.namespace,
              text: row.item.text,
              source: row.item.source ?? null,
              session_id: row.item.sessionId ?? null,
              entry_ids: JSON.stringify(row.item.entryIds),
              metadata: JSON.stringify(row.item.metadata),
              created_at: row.item.createdAt,
              commit_entry: row.commitEntry ?? null,
              embedding: row.vector === undefined ? null : Buffer.from(Index.toBlob(row.vector)),
              embedding_model: row.vector === undefined ? null : model,
              terms: row.terms.join(" "),
              text_key: row.textKey
            })))
          } RETURNING pk, id`
          const pks = new Map(inserted.map((row) => [row.id, row.pk]))
          yield* sql`INSERT INTO rath_memories_fts ${
            sql.insert(rows.map((row) => ({ rowid: pks.get(row.item.id)!, terms: row.terms.join(" ") })))
          }`
          yield* addFrequencies(rows.map((row) => row.terms), 1)
          if (Option.isSome(vec)) {
            const withVector = rows.filter((row) => row.vector !== undefined).map((row) => pks.get(row.item.id)!)
            if (withVector.length > 0) {
              yield* sql`INSERT INTO ${sql(vec.value)} (rowid, namespace, embedding)
                SELECT pk, namespace, embedding FROM rath_memories WHERE pk IN ${sql.in(withVector)}`
            }
          }
        }).pipe(
          transaction(sql, "cannot store memories"),
          Effect.tap(() =>
            Effect.sync(() => {
              if (cache === undefined) return
              for (const row of rows) {
                if (row.vector !== undefined) cache.index.add(row.item.id, row.item.namespace, row.vector)
              }
            })
          )
        ),
      frequencies: (terms) =>
        sql<{ readonly term: string; readonly df: number }>`SELECT term, df FROM rath_memory_terms
          WHERE term IN ${sql.in([COUNT, ...terms])}`.pipe(
          Effect.map((rows) => {
            const df = new Map(rows.map((row) => [row.term, row.df]))
            return { documents: df.get(COUNT) ?? 0, df }
          }),
          Effect.mapError(storeFailed("cannot read term statistics"))
        ),
      lexical: (terms, namespaces, limit) => {
        type CandidateRow = { readonly id: string; readonly score: number; readonly terms: string | null }
        const match = Index.matchExpression(terms)
        const query = namespaces === undefined
          // the top rows by bm25() inside the FTS5 query, then joined (ordering by bm25() measured
          // about a third cheaper than by the `rank` column for OR queries of several terms)
          ? sql<CandidateRow>`SELECT m.id AS id, -f.bm25 AS score, m.terms AS terms FROM (
                SELECT rowid, bm25(rath_memories_fts) AS bm25 FROM rath_memories_fts
                WHERE rath_memories_fts MATCH ${match} ORDER BY bm25 LIMIT ${limit}
              ) f JOIN rath_memories m ON m.pk = f.rowid
              ORDER BY f.bm25, m.id`
          : sql<CandidateRow>`SELECT m.id AS id, -bm25(rath_memories_fts) AS score, m.terms AS terms
              FROM rath_memories_fts JOIN rath_memories m ON m.pk = rath_memories_fts.rowid
              WHERE rath_memories_fts MATCH ${match} AND m.namespace IN ${sql.in(namespaces)}
              ORDER BY score DESC, m.id LIMIT ${limit}`
        return query.pipe(
          Effect.map((rows) => rows.map((row) => ({ id: row.id, score: row.score, terms: splitTerms(row.terms) }))),
          Effect.mapError(storeFailed("lexical recall failed"))
        )
      },
      recent: (namespaces, limit) =>
        // one query per namespace, each served by the (namespace, created_at) index
        Effect.forEach(
          namespaces ?? [undefined],
          (namespace) =>
            namespace === undefined
              ? sql<ItemRow>`SELECT ${sql.unsafe(columns)} FROM rath_memories
                  ORDER BY created_at DESC, pk DESC LIMIT ${limit}`
              : sql<ItemRow>`SELECT ${sql.unsafe(columns)} FROM rath_memories WHERE namespace = ${namespace}
                  ORDER BY created_at DESC, pk DESC LIMIT ${limit}`
        ).pipe(
          Effect.map((lists) =>
            lists.flat().sort((a, b) => b.created_at - a.created_at || b.pk - a.pk).slice(0, limit)
          ),
          Effect.mapError(storeFailed("cannot read recent memories")),
          Effect.flatMap(selectItems)
        ),
      holding: (namespace, keys) =>
        Effect.forEach(
          Array.from(
            { length: Math.ceil(keys.length / INSERT_BATCH) },
            (_, i) => keys.slice(i * INSERT_BATCH, (i + 1) * INSERT_BATCH)
          ),
          (batch) =>
            sql<{ readonly text_key: string }>`SELECT DISTINCT text_key FROM rath_memories
              WHERE namespace = ${namespace} AND text_key IN ${sql.in(batch)}`
        ).pipe(
          Effect.map((lists) => new Set(lists.flat().map((row) => row.text_key))),
          Effect.mapError(storeFailed("cannot read stored texts"))
        ),
      vector: (model, dimensions, query, namespaces, limit) =>
        Option.isSome(vec)
          ? vecSearch(vec.value, query, namespaces, limit)
          : loadVectors(model, dimensions).pipe(
            Effect.map((index) =>
              index.search(query, namespaces === undefined ? undefined : new Set(namespaces), limit)
            ),
            Effect.mapError(storeFailed("vector recall failed"))
          ),
      get: (ids) =>
        sql<ItemRow>`SELECT ${sql.unsafe(columns)} FROM rath_memories WHERE id IN ${sql.in(ids)}`.pipe(
          Effect.mapError(storeFailed("cannot read memories")),
          Effect.flatMap(selectItems),
          Effect.map((items) => new Map(items.map((item) => [item.id, item])))
        ),
      committed: (namespace, entryIds) =>
        sql<{ readonly commit_entry: string }>`SELECT commit_entry FROM rath_memories
          WHERE namespace = ${namespace} AND commit_entry IN ${sql.in(entryIds)}`.pipe(
          Effect.map((rows) => new Set(rows.map((row) => row.commit_entry))),
          Effect.mapError(storeFailed("cannot read committed entries"))
        ),
      forget: (selector) =>
        Effect.gen(function*() {
          type Removed = { readonly pk: number; readonly id: string; readonly terms: string | null }
          const removed = "ids" in selector
            ? selector.ids.length === 0
              ? []
              : yield* sql<Removed>`DELETE FROM rath_memories
                WHERE id IN ${sql.in(selector.ids)} RETURNING pk, id, terms`
            : yield* sql<Removed>`DELETE FROM rath_memories
                WHERE namespace = ${selector.namespace} RETURNING pk, id, terms`
          for (let i = 0; i < removed.length; i += INSERT_BATCH) {
            const pks = removed.slice(i, i + INSERT_BATCH).map((row) => row.pk)
            yield* sql`DELETE FROM rath_memories_fts WHERE rowid IN ${sql.in(pks)}`
            if (Option.isSome(vec)) yield* sql`DELETE FROM ${sql(vec.value)} WHERE rowid IN ${sql.in(pks)}`
          }
          // the statistics lose exactly the terms the memory was indexed with
          if (removed.length > 0) yield* addFrequencies(removed.map((row) => splitTerms(row.terms)), -1)
          return removed
        }).pipe(
          transaction(sql, "cannot forget memories"),
          Effect.tap((removed) =>
            Effect.sync(() => {
              if (cache !== undefined) { for (const row of removed) cache.index.remove(row.id) }
            })
          ),
          Effect.map((removed) => removed.length)
        ),
      list: (options) =>
        (options.namespace === undefined
          ? sql<ItemRow>`SELECT ${sql.unsafe(columns)} FROM rath_memories
              ORDER BY created_at, pk LIMIT ${options.limit ?? -1} OFFSET ${options.offset ?? 0}`
          : sql<ItemRow>`SELECT ${sql.unsafe(columns)} FROM rath_memories WHERE namespace = ${options.namespace}
              ORDER BY created_at, pk LIMIT ${options.limit ?? -1} OFFSET ${options.offset ?? 0}`).pipe(
            Effect.mapError(storeFailed("cannot list memories")),
            Effect.flatMap(selectItems)
          )
    }
    return backend
  })
