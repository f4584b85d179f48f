/**
 * The SQLite backend of `Memory`: the tables, FTS5 and term statistics, and the vector search
 * (sqlite-vec's `vec0`, or a scan of an in-process matrix).
 *
 * @internal
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SqliteVec from "sqlite-vec"
import type * as Embedder from "../Embedder.js"
import type { Backend, Options, Ranked } from "../Memory.js"
import * as Index from "./memoryIndex.js"
import { Item, MemoryError } from "./memoryModel.js"

const INSERT_BATCH = 500

const storeFailed = (detail: string) => (cause: SqlError.SqlError) =>
  new MemoryError({ reason: "StoreFailed", detail, cause })

const SCHEMA_VERSION = 1

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

const columns = "pk, id, namespace, text, source, session_id, entry_ids, metadata, created_at"

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
    yield* sql.withTransaction(Effect.gen(function*() {
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
    })).pipe(Effect.mapError(storeFailed(`cannot create the vector index ${table}`)))
    return Option.some(table)
  })

/**
 * Creates (or opens) the tables and returns the backend.
 *
 * @internal
 */
export const makeBackend = (
  sql: SqlClient.SqlClient,
  embedder: Option.Option<Embedder.Service>,
  options?: Options & { readonly store?: string | undefined }
): Effect.Effect<Backend, MemoryError> =>
  Effect.gen(function*() {
    yield* sql.withTransaction(Effect.gen(function*() {
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
        embedding_model TEXT
      )`
      // document frequencies, kept with every write (FTS5's fts5vocab counts them by walking the
      // whole doclist: milliseconds for a common term); the empty term holds the memory count
      yield* sql`CREATE TABLE IF NOT EXISTS rath_memory_terms (
        term TEXT PRIMARY KEY,
        df INTEGER NOT NULL
      ) WITHOUT ROWID`
      yield* sql`CREATE INDEX IF NOT EXISTS rath_memories_namespace ON rath_memories (namespace, created_at)`
      yield* sql`CREATE INDEX IF NOT EXISTS rath_memories_commit ON rath_memories (namespace, commit_entry)
        WHERE commit_entry IS NOT NULL`
      // terms are pre-segmented and normalised in JS and joined by spaces: the ascii tokenizer
      // splits on the spaces and keeps every non-ASCII character, so FTS5 indexes exactly them
      yield* sql`CREATE VIRTUAL TABLE IF NOT EXISTS rath_memories_fts USING fts5(
        terms, content='', contentless_delete=1, tokenize='ascii'
      )`
      yield* sql.unsafe(`PRAGMA user_version = ${SCHEMA_VERSION}`)
    })).pipe(Effect.mapError(storeFailed("cannot create the memory tables")))

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
              embedding_model: row.vector === undefined ? null : model
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
          sql.withTransaction,
          Effect.mapError(storeFailed("cannot store memories")),
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
        const match = Index.matchExpression(terms)
        const query = namespaces === undefined
          // FTS5 orders by its own `rank` (bm25 by default) inside the module, cheaper than
          // ordering by bm25() outside; only the top rows are then joined
          ? sql<Ranked>`SELECT m.id AS id, -f.rank AS score FROM (
                SELECT rowid, rank FROM rath_memories_fts WHERE rath_memories_fts MATCH ${match}
                ORDER BY rank LIMIT ${limit}
              ) f JOIN rath_memories m ON m.pk = f.rowid
              ORDER BY f.rank, m.id`
          : sql<Ranked>`SELECT m.id AS id, -bm25(rath_memories_fts) AS score
              FROM rath_memories_fts JOIN rath_memories m ON m.pk = rath_memories_fts.rowid
              WHERE rath_memories_fts MATCH ${match} AND m.namespace IN ${sql.in(namespaces)}
              ORDER BY score DESC, m.id LIMIT ${limit}`
        return query.pipe(Effect.mapError(storeFailed("lexical recall failed")))
      },
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
          type Removed = { readonly pk: number; readonly id: string; readonly text: string }
          const removed = "ids" in selector
            ? selector.ids.length === 0
              ? []
              : yield* sql<Removed>`DELETE FROM rath_memories
                WHERE id IN ${sql.in(selector.ids)} RETURNING pk, id, text`
            : yield* sql<Removed>`DELETE FROM rath_memories
                WHERE namespace = ${selector.namespace} RETURNING pk, id, text`
          for (let i = 0; i < removed.length; i += INSERT_BATCH) {
            const pks = removed.slice(i, i + INSERT_BATCH).map((row) => row.pk)
            yield* sql`DELETE FROM rath_memories_fts WHERE rowid IN ${sql.in(pks)}`
            if (Option.isSome(vec)) yield* sql`DELETE FROM ${sql(vec.value)} WHERE rowid IN ${sql.in(pks)}`
          }
          // the indexed terms are a pure function of the text
          if (removed.length > 0) yield* addFrequencies(removed.map((row) => Index.terms(row.text)), -1)
          return removed
        }).pipe(
          sql.withTransaction,
          Effect.mapError(storeFailed("cannot forget memories")),
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
