/**
 * What both SQL SessionStore backends (`storeSql.ts` on SQLite, `storePg.ts` on Postgres) do with
 * a session row: its fields from a session, its checksum, what is wrong with it read back, and the
 * summary it stands for. The two stores differ only in what a {@link Reading} says (how a driver
 * hands back a column, whether checksums are there to check), so a fix to a row check is made once.
 *
 * Plain functions on the row as the driver returns it: no copy of a row, no Effect per row.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Entry from "../Entry.js"
import * as Placement from "../Placement.js"
import * as Session from "../Session.js"
import type * as SessionStore from "../SessionStore.js"
import { rowChecksum, textChecksum } from "./storeCodec.js"

/**
 * A `rath_sessions` row as a driver returns it. The integer columns that are BIGINT on Postgres
 * (`head`, `created_at`, `updated_at`) may come as strings there: read them through {@link int}.
 */
export interface SessionRow {
  /** SQLite's integer key of the row (Postgres rows are keyed by `id`). */
  readonly key?: number
  readonly id: string
  readonly head: number | string | null
  readonly head_entry: string | null
  readonly length: number
  readonly base: number
  readonly operation: string
  readonly parents: string
  readonly by_kind: string | null
  readonly by_name: string | null
  readonly created_at: number | string
  readonly updated_at: number | string
  readonly placement: string | null
  readonly agent: string | null
  /** Null in a version-2 SQLite store read without migrating (read-only). */
  readonly crc: number | null
  readonly agent_crc: number | null
}

/** How a store's rows are read: what differs between the backends. */
export interface Reading {
  /**
   * Check each column's JavaScript type, `key` included, before anything else (SQLite, where any
   * column may hold a value of any type; Postgres columns are typed by the server).
   */
  readonly typed: boolean
  /**
   * A version-2 SQLite store read without migrating: its rows have no checksums, so none is
   * checked and the lineage always goes through the schema decoder.
   */
  readonly legacy: boolean
  /** The stored CRCs are signed 32-bit integers (a Postgres INTEGER column), not unsigned. */
  readonly signed: boolean
}

/**
 * A BIGINT as a number (`pg` returns BIGINT as a string unless its client was told otherwise). A
 * number (every SQLite integer column, once {@link rowDamage} checked its type) is itself.
 */
export const int = (value: unknown): number | null =>
  typeof value === "number" ? value : value === null || value === undefined ? null : Number(value)

/** A stored session's `placement` column: its JSON, or null. */
export const placementJson = (session: Session.Session): string | null =>
  Option.match(session.placement, { onNone: () => null, onSome: (p) => JSON.stringify(p) })

/** A session row's fields, in the order of `rowChecksum` (`now`: its `updated_at`). */
export const rowFields = (session: Session.Session, head: number | null, now: number) => {
  const { lineage } = session
  return [
    session.id,
    head,
    session.node === undefined ? null : session.node.entry.id,
    session.length,
    session.base,
    lineage.operation,
    JSON.stringify(lineage.parents),
    lineage.by?.kind ?? null,
    lineage.by?.name ?? null,
    lineage.createdAt,
    now,
    placementJson(session)
  ] as const
}

/** The `rowChecksum` of a row read back (unsigned; a Postgres column holds it `| 0`). */
export const checksumOfRow = (row: SessionRow): number =>
  rowChecksum([
    row.id,
    int(row.head),
    row.head_entry,
    row.length,
    row.base,
    row.operation,
    row.parents,
    row.by_kind,
    row.by_name,
    int(row.created_at),
    int(row.updated_at),
    row.placement
  ])

/** What is wrong with a session row read back (its types, its checksum), if anything. */
export const rowDamage = (row: SessionRow, reading: Reading): string | undefined => {
  if (
    reading.typed && (
      typeof row.key !== "number" || typeof row.id !== "string" || typeof row.length !== "number" ||
      typeof row.base !== "number" || typeof row.operation !== "string" || typeof row.parents !== "string" ||
      typeof row.created_at !== "number" || typeof row.updated_at !== "number" ||
      (row.head !== null && typeof row.head !== "number") ||
      (row.head_entry !== null && typeof row.head_entry !== "string") ||
      (row.by_kind !== null && typeof row.by_kind !== "string") ||
      (row.by_name !== null && typeof row.by_name !== "string") ||
      (row.placement !== null && typeof row.placement !== "string") ||
      (row.agent !== null && typeof row.agent !== "string")
    )
  ) return "the session row holds a value of the wrong type"
  if (reading.legacy) return undefined
  const crc = checksumOfRow(row)
  if (row.crc !== (reading.signed ? crc | 0 : crc)) return "the session row fails its checksum"
  if (row.agent !== null) {
    const agentCrc = textChecksum(row.agent)
    if (row.agent_crc !== (reading.signed ? agentCrc | 0 : agentCrc)) return "the agent record fails its checksum"
  }
  return undefined
}

const decodeLineage = Schema.decodeUnknownEither(Session.Lineage)
const decodePlacement = Schema.decodeUnknownEither(Schema.parseJson(Placement.Placement))
const decodeJson = Schema.decodeUnknownEither(Schema.parseJson(Schema.Unknown))

const operations: ReadonlySet<unknown> = new Set(Session.Operation.literals)
const authorKinds: ReadonlySet<unknown> = new Set(Entry.Author.fields.kind.literals)

/**
 * The lineage of a session row that passed its checksum (the store wrote it), built without the
 * schema decoder: the value `decodeLineage` gives for it (the same fields, in its order), after
 * the same checks of each field's kind. Undefined when a field is not what the schema wants: the
 * caller then decodes it, for the error. The schema decode was about 4 ms of a cold load.
 */
const lineageOfChecked = (row: SessionRow): Session.Lineage | undefined => {
  let parents: unknown
  try {
    parents = JSON.parse(row.parents)
  } catch {
    return undefined
  }
  const createdAt = int(row.created_at)
  if (!Array.isArray(parents) || !operations.has(row.operation) || createdAt === null) return undefined
  for (const parent of parents) if (typeof parent !== "string") return undefined
  const operation = row.operation as Session.Operation
  const ids = parents as Array<Session.SessionId>
  if (row.by_kind === null) return { operation, parents: ids, createdAt }
  if (!authorKinds.has(row.by_kind)) return undefined
  const by = { kind: row.by_kind as Entry.Author["kind"], name: row.by_name ?? "" }
  return { operation, parents: ids, by, createdAt }
}

/** A row's lineage, or what is wrong with it. */
export const toLineage = (row: SessionRow, reading: Reading): Either.Either<Session.Lineage, string> => {
  if (!reading.legacy) {
    const lineage = lineageOfChecked(row)
    if (lineage !== undefined) return Either.right(lineage)
  }
  const parents = decodeJson(row.parents)
  if (Either.isLeft(parents)) return Either.left("invalid lineage parents")
  const raw: Record<string, unknown> = {
    operation: row.operation,
    parents: parents.right,
    createdAt: int(row.created_at)
  }
  if (row.by_kind !== null) raw.by = { kind: row.by_kind, name: row.by_name ?? "" }
  return Either.mapLeft(decodeLineage(raw), (error) => error.message)
}

/**
 * The summary a session row stands for, or the store's `Corrupt` error (`corrupt`) saying what is
 * wrong with it.
 */
export const toSummary = <E>(
  row: SessionRow,
  reading: Reading,
  corrupt: (sessionId: string, detail: string, cause?: unknown) => E
): Either.Either<SessionStore.Summary, E> => {
  const damage = rowDamage(row, reading)
  if (damage !== undefined) return Either.left(corrupt(String(row.id), damage))
  const lineage = toLineage(row, reading)
  if (Either.isLeft(lineage)) return Either.left(corrupt(row.id, lineage.left))
  let placement = Option.none<Placement.Placement>()
  if (row.placement !== null) {
    const decoded = decodePlacement(row.placement)
    if (Either.isLeft(decoded)) return Either.left(corrupt(row.id, "invalid placement", decoded.left))
    placement = Option.some(decoded.right)
  }
  let agent = Option.none<unknown>()
  if (row.agent !== null) {
    const decoded = decodeJson(row.agent)
    if (Either.isLeft(decoded)) return Either.left(corrupt(row.id, "invalid agent record", decoded.left))
    agent = Option.some(decoded.right)
  }
  return Either.right({
    id: row.id as Session.SessionId,
    head: Option.fromNullable(row.head_entry as Entry.EntryId | null),
    length: row.length,
    base: row.base,
    lineage: lineage.right,
    placement,
    agent,
    updatedAt: int(row.updated_at)!
  })
}

/** The session a loaded row's summary and its rebuilt chain make. */
export const sessionOf = (summary: SessionStore.Summary, node: Session.Node | undefined): Session.Session =>
  Session.unsafeMake({
    id: summary.id,
    lineage: summary.lineage,
    placement: summary.placement,
    base: summary.base,
    node
  })
