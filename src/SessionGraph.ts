/**
 * Lineage over many sessions: which session was forked, detached, merged or stepped from which,
 * by whom and when. Built from session values or from stored lineage rows, queried for ancestors
 * and descendants, validated (no missing parent, no cycle), and exported as JSONL rows, Mermaid
 * or Graphviz DOT.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Entry from "./Entry.js"
import * as Session from "./Session.js"

/**
 * One session's lineage, as stored.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Row = Schema.Struct({
  id: Entry.SessionId,
  parents: Schema.Array(Entry.SessionId),
  operation: Session.Operation,
  by: Schema.optional(Entry.Author),
  createdAt: Schema.Number,
  length: Schema.optional(Schema.Number),
  head: Schema.optional(Entry.EntryId)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Row extends Schema.Schema.Type<typeof Row> {}

/**
 * @since 0.1.0
 * @category models
 */
export interface SessionGraph {
  /** Rows by id, in the order they were given. */
  readonly rows: ReadonlyMap<Entry.SessionId, Row>
  /** Child ids by parent id, in row order. */
  readonly children: ReadonlyMap<Entry.SessionId, ReadonlyArray<Entry.SessionId>>
}

/**
 * @since 0.1.0
 * @category errors
 */
export class SessionGraphError extends Schema.TaggedError<SessionGraphError>("rath/SessionGraphError")(
  "SessionGraphError",
  {
    reason: Schema.Literal("MissingParent", "Cycle", "DuplicateSession", "CorruptLine"),
    detail: Schema.String,
    sessions: Schema.Array(Schema.String),
    line: Schema.optional(Schema.Number),
    cause: Schema.optional(Schema.Defect)
  }
) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.line === undefined
      ? `${this.reason}: ${this.detail}`
      : `${this.reason} at line ${this.line}: ${this.detail}`
  }
}

/**
 * The lineage row of a session value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const rowOf = (session: Session.Session): Row => {
  const head = Option.getOrUndefined(Session.head(session))
  return {
    id: session.id,
    parents: session.lineage.parents,
    operation: session.lineage.operation,
    ...(session.lineage.by === undefined ? {} : { by: session.lineage.by }),
    createdAt: session.lineage.createdAt,
    length: session.length,
    ...(head === undefined ? {} : { head: head.id })
  }
}

/**
 * A graph from lineage rows. A later row with an id already seen replaces the earlier one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRows = (rows: Iterable<Row>): SessionGraph => {
  const byId = new Map<Entry.SessionId, Row>()
  for (const row of rows) byId.set(row.id, row)
  const children = new Map<Entry.SessionId, Array<Entry.SessionId>>()
  for (const row of byId.values()) {
    for (const parent of new Set(row.parents)) {
      const list = children.get(parent)
      if (list === undefined) children.set(parent, [row.id])
      else list.push(row.id)
    }
  }
  return { rows: byId, children }
}

/**
 * A graph from session values.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Session, SessionGraph } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const a = yield* Session.fromUserMessage("root")
 *   const b = yield* Session.fork(a)
 *   const graph = SessionGraph.fromSessions([a, b])
 *   console.log(SessionGraph.toMermaid(graph))
 * })
 * ```
 */
export const fromSessions = (sessions: Iterable<Session.Session>): SessionGraph => fromRows(Array.from(sessions, rowOf))

const walk = (
  start: Entry.SessionId,
  next: (id: Entry.SessionId) => ReadonlyArray<Entry.SessionId>
): ReadonlyArray<Entry.SessionId> => {
  const seen = new Set<Entry.SessionId>([start])
  const out: Array<Entry.SessionId> = []
  let frontier: ReadonlyArray<Entry.SessionId> = [start]
  while (frontier.length > 0) {
    const following: Array<Entry.SessionId> = []
    for (const id of frontier) {
      for (const neighbour of next(id)) {
        if (!seen.has(neighbour)) {
          seen.add(neighbour)
          out.push(neighbour)
          following.push(neighbour)
        }
      }
    }
    frontier = following
  }
  return out
}

/**
 * The ancestors of a session, nearest first (breadth first; each once; parents in recorded order).
 * Ancestors missing from the graph are still named when a known session names them as parent.
 *
 * @since 0.1.0
 * @category getters
 */
export const ancestors = (self: SessionGraph, id: Entry.SessionId): ReadonlyArray<Entry.SessionId> =>
  walk(id, (current) => self.rows.get(current)?.parents ?? [])

/**
 * The descendants of a session, nearest first.
 *
 * @since 0.1.0
 * @category getters
 */
export const descendants = (self: SessionGraph, id: Entry.SessionId): ReadonlyArray<Entry.SessionId> =>
  walk(id, (current) => self.children.get(current) ?? [])

/**
 * An edge from a parent session to a child, labelled with the operation that made the child.
 *
 * @since 0.1.0
 * @category models
 */
export interface Edge {
  readonly from: Entry.SessionId
  readonly to: Entry.SessionId
  readonly operation: Session.Operation
}

/**
 * Every parent-to-child edge, in row order.
 *
 * @since 0.1.0
 * @category getters
 */
export const edges = (self: SessionGraph): ReadonlyArray<Edge> => {
  const out: Array<Edge> = []
  for (const row of self.rows.values()) {
    for (const parent of row.parents) out.push({ from: parent, to: row.id, operation: row.operation })
  }
  return out
}

/**
 * The sessions with no parent in the graph.
 *
 * @since 0.1.0
 * @category getters
 */
export const roots = (self: SessionGraph): ReadonlyArray<Entry.SessionId> =>
  Array.from(self.rows.values()).filter((row) => row.parents.every((parent) => !self.rows.has(parent))).map((row) =>
    row.id
  )

/**
 * Checks that every parent is in the graph and that no session is its own ancestor (a
 * self-parent is a cycle).
 *
 * @since 0.1.0
 * @category combinators
 */
export const validateAcyclic = (self: SessionGraph): Either.Either<SessionGraph, SessionGraphError> => {
  for (const row of self.rows.values()) {
    for (const parent of row.parents) {
      if (!self.rows.has(parent)) {
        return Either.left(
          new SessionGraphError({
            reason: "MissingParent",
            detail: `session ${row.id} names parent ${parent}, which is not in the graph`,
            sessions: [row.id, parent]
          })
        )
      }
    }
  }
  // iterative three-colour depth-first search over parent links
  const state = new Map<Entry.SessionId, 1 | 2>()
  for (const start of self.rows.keys()) {
    if (state.has(start)) continue
    const stack: Array<{ id: Entry.SessionId; next: number }> = [{ id: start, next: 0 }]
    state.set(start, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const parents = self.rows.get(top.id)?.parents ?? []
      if (top.next >= parents.length) {
        state.set(top.id, 2)
        stack.pop()
        continue
      }
      const parent = parents[top.next++]!
      const seen = state.get(parent)
      if (seen === 1) {
        const from = stack.findIndex((frame) => frame.id === parent)
        const cycle = [...stack.slice(from).map((frame) => frame.id), parent]
        return Either.left(
          new SessionGraphError({
            reason: "Cycle",
            detail: `lineage cycle: ${cycle.join(" -> ")}`,
            sessions: cycle
          })
        )
      }
      if (seen === undefined) {
        state.set(parent, 1)
        stack.push({ id: parent, next: 0 })
      }
    }
  }
  return Either.right(self)
}

const encodeRow = Schema.encodeSync(Row)
const decodeRow = Schema.decodeUnknownEither(Schema.parseJson(Row))

/**
 * The graph as JSONL: one lineage row per line.
 *
 * @since 0.1.0
 * @category combinators
 */
export const toJsonl = (self: SessionGraph): string =>
  Array.from(self.rows.values(), (row) => JSON.stringify(encodeRow(row)) + "\n").join("")

/**
 * Reads lineage rows from JSONL. A line that is not a valid row is an error naming its number.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromJsonl = (text: string): Either.Either<SessionGraph, SessionGraphError> => {
  const rows: Array<Row> = []
  const lines = text.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === "") continue
    const row = decodeRow(line)
    if (Either.isLeft(row)) {
      return Either.left(
        new SessionGraphError({
          reason: "CorruptLine",
          detail: ParseResult.TreeFormatter.formatErrorSync(row.left),
          sessions: [],
          line: i + 1
        })
      )
    }
    rows.push(row.right)
  }
  return Either.right(fromRows(rows))
}

const label = (row: Row | undefined, id: string): string => {
  if (row === undefined) return `${id} (missing)`
  const by = row.by === undefined ? "" : ` by ${row.by.name}`
  const length = row.length === undefined ? "" : `, ${row.length} entries`
  return `${id}: ${row.operation}${by}${length}`
}

const allIds = (self: SessionGraph): ReadonlyArray<Entry.SessionId> => {
  const ids = new Set<Entry.SessionId>(self.rows.keys())
  for (const row of self.rows.values()) for (const parent of row.parents) ids.add(parent)
  return Array.from(ids)
}

/**
 * The graph as a Mermaid flowchart (parents above children, edges labelled by operation).
 *
 * @since 0.1.0
 * @category combinators
 */
export const toMermaid = (self: SessionGraph): string => {
  const ids = allIds(self)
  const node = new Map(ids.map((id, i) => [id, `n${i}`]))
  const escape = (text: string) => text.replace(/"/g, "#quot;")
  const lines = ["flowchart TD"]
  for (const id of ids) lines.push(`  ${node.get(id)}["${escape(label(self.rows.get(id), id))}"]`)
  for (const edge of edges(self)) lines.push(`  ${node.get(edge.from)} -->|${edge.operation}| ${node.get(edge.to)}`)
  return lines.join("\n") + "\n"
}

/**
 * The graph in Graphviz DOT.
 *
 * @since 0.1.0
 * @category combinators
 */
export const toDot = (self: SessionGraph): string => {
  const quote = (text: string) => `"${text.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`
  const lines = ["digraph lineage {", "  rankdir=TB;", "  node [shape=box];"]
  for (const id of allIds(self)) {
    const row = self.rows.get(id)
    lines.push(`  ${quote(id)} [label=${quote(label(row, id))}${row === undefined ? ", style=dashed" : ""}];`)
  }
  for (const edge of edges(self)) {
    lines.push(`  ${quote(edge.from)} -> ${quote(edge.to)} [label=${quote(edge.operation)}];`)
  }
  lines.push("}")
  return lines.join("\n") + "\n"
}
