/**
 * What both SessionStore backends share: the entry codec used for stored rows and the chain
 * helpers that find what a save must write.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { crc32 } from "node:zlib"
import * as Entry from "../Entry.js"
import * as Placement from "../Placement.js"
import * as Session from "../Session.js"

/**
 * The encoded JSON of an entry. Every entry field is plain JSON (the only nested class is
 * `Placement`, a `Schema.Class` whose encoded form is its own fields), so `JSON.stringify` of the
 * entry is its encoded form; a property test pins this against the `Entry` schema's encoder.
 */
export const encodeEntry = (entry: Entry.Entry): string => JSON.stringify(entry)

/** Whether `parents` are the ones a chain implies: the previous entry, or none at its start. */
const impliedParents = (parents: ReadonlyArray<string>, prevId: string | undefined): boolean =>
  prevId === undefined ? parents.length === 0 : parents.length === 1 && parents[0] === prevId

/**
 * The stored text of an entry at a position of a chain whose previous entry is `prevId`: its
 * encoded JSON ({@link encodeEntry}) without `parents` when they are the ones the chain implies
 * (`[prevId]`, or `[]` at the start of a chain), which is every entry but a merge's and those a
 * merge takes from the other side: about 30 bytes less per entry. {@link decodeStored} puts them
 * back, in their place.
 */
export const encodeStored = (entry: Entry.Entry, prevId: string | undefined): string => {
  const parents = !impliedParents(entry.parents, prevId)
  const author = !isDefaultAuthor(entry)
  if (parents && author) return JSON.stringify(entry)
  const fields = entry as unknown as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(fields)) {
    if ((key !== "parents" || parents) && (key !== "author" || author)) out[key] = fields[key]
  }
  return JSON.stringify(out)
}

/**
 * The author an entry of this tag has by default: `Entry.userAuthor` for a `User` message, else
 * `Entry.programAuthor` (what `Session.append` gives outside any agent or workflow). The stored
 * text leaves such an author out (schema version 4: ~45 bytes an entry) and {@link decodeStored}
 * puts it back, in its place, as the shared constant.
 */
const defaultAuthor = (tag: unknown): Entry.Author => tag === "User" ? Entry.userAuthor : Entry.programAuthor

const isDefaultAuthor = (entry: Entry.Entry): boolean => {
  const author = entry.author as Entry.Author | undefined
  if (author === undefined || author === null) return false
  const expected = defaultAuthor(entry._tag)
  if (author === expected) return true
  return author.kind === expected.kind && author.name === expected.name && Object.keys(author).length === 2
}

const classes: Record<string, { readonly prototype: object; readonly fields: Record<string, unknown> }> = {
  System: Entry.System,
  User: Entry.User,
  Assistant: Entry.Assistant,
  ModelCall: Entry.ModelCall,
  ToolResult: Entry.ToolResult,
  Memory: Entry.Memory,
  Compression: Entry.Compression,
  Placement: Entry.Placement,
  Check: Entry.Check,
  Merge: Entry.Merge,
  Custom: Entry.Custom
}

/**
 * A constructor of rows decoded for one entry class: it sets the fields every entry has first, in
 * their order, on an object whose prototype is the class's (what the class's own constructor makes,
 * without its validation). A plain constructor per class, not `Object.create(prototype)`: V8 sizes
 * the objects it makes to the fields they end up with, so an entry's fields sit inside it (no
 * second allocation for the fields past the fourth) and every row of a class shares one layout.
 */
type Make = new(id: unknown, timestamp: unknown, author: unknown, parents: unknown) => Record<string, unknown>

const maker = (prototype: object): Make => {
  function Decoded(this: Record<string, unknown>, id: unknown, timestamp: unknown, author: unknown, parents: unknown) {
    this.id = id
    this.timestamp = timestamp
    this.author = author
    this.parents = parents
  }
  Decoded.prototype = prototype
  return Decoded as unknown as Make
}

/** By tag, on a null prototype: a row whose `_tag` is `constructor` or `__proto__` finds nothing. */
const makers: Record<string, Make | undefined> = Object.create(null)
for (const [tag, Ctor] of Object.entries(classes)) makers[tag] = maker(Ctor.prototype)

type Kind = "string" | "number" | "boolean" | "array" | "object" | "present"

/**
 * The required fields of each entry class and the JSON kind each must have, read from the class's
 * schema once: a cheap shape check that the fast decode runs on every row (a row that fails it goes
 * to the full schema decode, which says what is wrong). Optional fields and fields of any JSON
 * value are not checked here.
 */
const requiredFields: Record<string, ReadonlyArray<readonly [string, Kind]>> = Object.fromEntries(
  Object.entries(classes).map(([tag, Ctor]) => [
    tag,
    Object.entries(Ctor.fields).flatMap(([key, field]): Array<readonly [string, Kind]> => {
      // a field is a schema (its `ast` an AST node) or a property signature (`optional`)
      const ast = (field as { readonly ast?: { readonly _tag: string; readonly isOptional?: boolean } }).ast
      if (key === "id") return [[key, "string"]]
      if (key === "_tag" || ast === undefined || ast._tag === "UnknownKeyword") return []
      if (ast._tag === "PropertySignatureDeclaration" && ast.isOptional === true) return []
      switch (ast._tag) {
        case "StringKeyword":
          return [[key, "string"]]
        case "NumberKeyword":
          return [[key, "number"]]
        case "BooleanKeyword":
          return [[key, "boolean"]]
        case "TupleType":
          return [[key, "array"]]
        case "TypeLiteral":
          return [[key, "object"]]
        default:
          return [[key, "present"]]
      }
    })
  ])
)

/** The same, as two parallel arrays per tag: the check runs in an indexed loop (no iterators). */
const required: Record<string, { readonly keys: ReadonlyArray<string>; readonly kinds: ReadonlyArray<Kind> }> = Object
  .fromEntries(
    Object.entries(requiredFields).map((
      [tag, fields]
    ) => [tag, { keys: fields.map(([key]) => key), kinds: fields.map(([, kind]) => kind) }])
  )

/**
 * An instance of a `Schema.Class` from its own fields. Such an instance is exactly its fields on
 * the class prototype (no hidden state), and this skips the constructor's work: 2 µs an entry,
 * which is most of a 10,000-entry load.
 */
const instance = <A>(proto: { readonly prototype: object }, fields: object): A =>
  Object.assign(Object.create(proto.prototype), fields) as A

const hasProtoField = (u: unknown): boolean => typeof u === "object" && u !== null && Object.hasOwn(u, "__proto__")

const placementOf = (u: unknown): unknown => typeof u === "object" && u !== null ? instance(Placement.Placement, u) : u

const decodeChecked = Schema.decodeUnknownEither(Entry.Entry)

const checkedRaw = (raw: unknown): Entry.Entry | string =>
  Either.match(decodeChecked(raw), {
    onLeft: (error) => ParseResult.TreeFormatter.formatErrorSync(error),
    onRight: (entry) => entry
  })

/**
 * One value per distinct `{ kind, name }` author, from `authors` (the few a session has; a linear
 * scan, no key to build). An author with other fields is kept as it is and never shared; one that
 * matches a known author is replaced by it (the schema would drop other fields too).
 */
const shared = (authors: Array<{ readonly kind: string; readonly name: string }>, author: unknown): unknown => {
  if (typeof author !== "object" || author === null) return author
  const { kind, name } = author as { readonly kind?: unknown; readonly name?: unknown }
  if (typeof kind !== "string" || typeof name !== "string") return author
  for (let k = 0; k < authors.length; k++) {
    const known = authors[k]!
    if (known.kind === kind && known.name === name) return known
  }
  if (authors.length < 64 && Object.keys(author).length === 2) authors.push(author as { kind: string; name: string })
  return author
}

/**
 * Decodes what {@link encodeStored} wrote, given the id of the entry before it in the chain. The fields come back in the order an entry has them (id, timestamp, author,
 * parents, then its own), so the rebuilt entry is the saved one, down to `JSON.stringify`.
 *
 * Rows are trusted (the store encoded them from valid entries), so the entry is rebuilt on its
 * class (a `Schema.Class` instance is exactly its fields on the class prototype) after a cheap
 * shape check of its required fields, without the constructor's validation: about 1 µs an entry
 * against 5 µs for a schema decode, which is what loading 10,000 entries in a few milliseconds
 * needs. A row of an unknown tag or with a required field missing or of the wrong kind (a
 * damaged row), or `verify`, goes through the full schema decode, whose error says what is wrong.
 *
 * `authors`, when given, makes entries of one author share one author value (as the entries
 * `Session.append` makes with the default author do): a long session has a handful of authors,
 * and a load keeps every entry, so this is thousands of objects fewer to allocate and to keep.
 */
export const decodeStored = (
  data: string,
  prevId: string | undefined,
  verify = false,
  authors?: Array<{ readonly kind: string; readonly name: string }>
): Either.Either<Entry.Entry, string> => {
  const decoded = decodeStoredRaw(data, prevId, verify, authors)
  return typeof decoded === "string" ? Either.left(decoded) : Either.right(decoded)
}

/**
 * {@link decodeStored} for the load loop: the entry, or a string that says what is wrong (an
 * entry is never a string), without an `Either` per entry.
 */
export const decodeStoredRaw = (
  data: string,
  prevId: string | undefined,
  verify = false,
  authors?: Array<{ readonly kind: string; readonly name: string }>
): Entry.Entry | string => {
  let raw: unknown
  try {
    raw = JSON.parse(data)
  } catch (cause) {
    return `not valid JSON: ${String(cause)}`
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "not a JSON object"
  const stored = raw as Record<string, unknown>
  // JSON.parse keeps a "__proto__" key as an own field, and the copy below (an assignment) would
  // make it the entry's prototype: no entry rath writes has one, so such a row is damaged
  if (Object.hasOwn(stored, "__proto__")) return "a field named __proto__, which no entry has"
  const tag = stored._tag
  const Make = verify || typeof tag !== "string" ? undefined : makers[tag]
  const author = stored.author === undefined
    ? defaultAuthor(tag)
    : authors === undefined
    ? stored.author
    : shared(authors, stored.author)
  const parents = stored.parents === undefined ? (prevId === undefined ? [] : [prevId]) : stored.parents
  const fields: Record<string, unknown> = Make === undefined
    ? { id: stored.id, timestamp: stored.timestamp, author, parents }
    : new Make(stored.id, stored.timestamp, author, parents)
  Object.assign(fields, stored)
  fields.author = author
  if (Make === undefined) return checkedRaw(fields)
  const { keys, kinds } = required[tag as string]!
  // the kind check written out (not `hasKind`): one function less for V8 to optimise on a load
  for (let k = 0; k < keys.length; k++) {
    const value = fields[keys[k]!]
    const kind = kinds[k]!
    const ok = kind === "array"
      ? Array.isArray(value)
      : kind === "object"
      ? typeof value === "object" && value !== null
      : kind === "present"
      ? value !== undefined
      : typeof value === kind
    if (!ok) return checkedRaw({ ...fields })
  }
  if (tag === "Placement") {
    if (hasProtoField(fields.placement) || hasProtoField(fields.previous)) {
      return "a placement with a field named __proto__, which no placement has"
    }
    fields.placement = placementOf(fields.placement)
    if (fields.previous !== undefined) fields.previous = placementOf(fields.previous)
  } else if (tag === "ToolResult" && fields.sandbox !== undefined) {
    if (hasProtoField(fields.sandbox)) return "a sandbox placement with a field named __proto__, which no placement has"
    fields.sandbox = placementOf(fields.sandbox)
  }
  return fields as unknown as Entry.Entry
}

/**
 * The checksum of a stored node: a CRC-32 of its text (the bytes the store writes anyway) whose
 * start value mixes in the node's `prev` and `pos`, so a damaged link or position fails it too.
 * One native call over the row, no string built.
 */
export const nodeChecksum = (prev: number | null, pos: number, data: string): number =>
  crc32(data, (Math.imul(prev === null ? 0x7fffffff : prev | 0, 0x9e3779b1) ^ Math.imul(pos | 0, 0x85ebca6b)) >>> 0)

/**
 * One stored row of a chain, checked and rebuilt: its text and link `prev` of the right types, its
 * checksum `crc` ({@link nodeChecksum} of the row at `position`; none in a `legacy` store, whose
 * rows then go through the schema), its entry ({@link decodeStoredRaw}), linked onto `below` (the
 * node before it) as `Session.link` links it. The node, or what is wrong with the row.
 *
 * One function for what a load does 10,000 times over a long session: the checksum and the link
 * are written out here, not called, because each small function a fresh process runs that often is
 * one more optimising compilation on V8's background threads (about a quarter of a cold 10,000-row
 * load's CPU went there). `test/SessionStore.load.test.ts` pins the nodes against `Session.link`'s.
 */
export const decodeRow = (
  text: unknown,
  prev: unknown,
  position: number,
  crc: unknown,
  below: Session.Node | undefined,
  legacy: boolean,
  authors: Array<{ readonly kind: string; readonly name: string }>
): Session.Node | string => {
  if (typeof text !== "string" || (prev !== null && typeof prev !== "number")) {
    return `entry #${position}: the node holds a value of the wrong type`
  }
  // nodeChecksum(prev, position, text), written out
  if (
    !legacy &&
    crc !==
      crc32(
        text,
        (Math.imul(prev === null ? 0x7fffffff : prev | 0, 0x9e3779b1) ^ Math.imul(position | 0, 0x85ebca6b)) >>> 0
      )
  ) {
    return crc === null ? `entry #${position} has no checksum` : `entry #${position} fails its checksum`
  }
  const entry = decodeStoredRaw(text, below?.entry.id, legacy, authors)
  if (typeof entry === "string") return `entry #${position}: ${entry}`
  // Session.link(below, entry), written out: the same fields in the same order
  const usage = Entry.usageOf(entry)
  return {
    entry,
    prev: below,
    length: below === undefined ? 1 : below.length + 1,
    usage: usage === undefined ? below?.usage : Entry.sumUsage(below?.usage, usage)
  }
}

/**
 * The checksum of a session row's fields (all but the agent record, which has its own): a CRC-32
 * of their JSON, so a value whose type changed (`5` for `"5"`) fails it too.
 */
export const rowChecksum = (
  fields: readonly [
    id: unknown,
    head: unknown,
    headEntry: unknown,
    length: unknown,
    base: unknown,
    operation: unknown,
    parents: unknown,
    byKind: unknown,
    byName: unknown,
    createdAt: unknown,
    updatedAt: unknown,
    placement: unknown
  ]
): number => crc32(JSON.stringify(fields))

/**
 * The fields of a session row that an append never changes (base, operation, parents, by_kind,
 * by_name, created_at), as the JSON text they have inside {@link rowChecksum}'s array: computed
 * once per session row, so an append's checksum serialises no lineage.
 */
export const rowChecksumMiddle = (
  base: unknown,
  operation: unknown,
  parents: unknown,
  byKind: unknown,
  byName: unknown,
  createdAt: unknown
): string =>
  `${JSON.stringify(base)},${JSON.stringify(operation)},${JSON.stringify(parents)},${JSON.stringify(byKind)},${
    JSON.stringify(byName)
  },${JSON.stringify(createdAt)}`

/**
 * {@link rowChecksum} of a row whose unchanging fields are `middle` ({@link rowChecksumMiddle}) and
 * whose id is `idJson` (its JSON): the same number, from one template string instead of the JSON
 * of a twelve-field array (what an append pays on every save).
 */
export const rowChecksumOf = (
  idJson: string,
  head: number | null,
  headEntry: string | null,
  length: number,
  middle: string,
  updatedAt: number,
  placement: string | null
): number =>
  crc32(
    `[${idJson},${head === null ? "null" : JSON.stringify(head)},${
      headEntry === null ? "null" : JSON.stringify(headEntry)
    },${JSON.stringify(length)},${middle},${JSON.stringify(updatedAt)},${
      placement === null ? "null" : JSON.stringify(placement)
    }]`
  )

/** The checksum of a stored agent record's text. */
export const textChecksum = (text: string): number => crc32(text)

const encodeEntryChecked = Schema.encodeEither(Entry.Entry)

/**
 * Whether every entry of a session passes its schema: the first one that does not, as a message
 * naming its position. A store loads entries from checked rows without the schema (see
 * {@link decodeStored}); an entry that was saved without validation, or a row written by other
 * software, would only fail later, when encoded for JSONL, as a defect. Export and the command line
 * run this first, so they give a typed error instead.
 */
export const invalidEntry = (session: Session.Session): string | undefined => {
  let position = session.length
  for (const node of Session.chain(session.node)) {
    const encoded = encodeEntryChecked(node.entry, { errors: "first" })
    if (Either.isLeft(encoded)) {
      return `entry #${position} (${String(node.entry.id)}) fails its schema: ${
        ParseResult.TreeFormatter.formatErrorSync(encoded.left)
      }`
    }
    position--
  }
  return undefined
}

export interface ErrorFields {
  readonly reason: "NotFound" | "Conflict" | "NewerSchema" | "Corrupt" | "InvalidJsonl" | "Unavailable"
  readonly detail: string
  readonly sessionId?: string
  readonly cause?: unknown
}

/**
 * JSONL export and import, the same for every backend: export is `Session.toJsonl` of a load;
 * import decodes (a torn file keeps its intact prefix and says so) and saves.
 */
export const jsonlOps = <E, F>(
  save: (session: Session.Session) => Effect.Effect<unknown, F>,
  load: (id: string) => Effect.Effect<Session.Session, F>,
  fail: (fields: ErrorFields) => E
) => ({
  exportJsonl: (id: string) =>
    Effect.flatMap(load(id), (session) => {
      const invalid = invalidEntry(session)
      return invalid === undefined
        ? Effect.try({
          try: () => Session.toJsonl(session),
          catch: (cause) =>
            fail({ reason: "Corrupt", detail: `cannot encode ${id}: ${String(cause)}`, sessionId: id, cause })
        })
        : Effect.fail(fail({ reason: "Corrupt", detail: invalid, sessionId: id }))
    }),
  importJsonl: (text: string) =>
    Effect.gen(function*() {
      const decoded = yield* Session.fromJsonl(text).pipe(
        Effect.mapError((cause) => fail({ reason: "InvalidJsonl", detail: cause.message, cause }))
      )
      yield* save(decoded.session)
      return { session: decoded.session, closed: decoded.closed, droppedLines: decoded.droppedLines }
    })
})

/** Checks that `stored` is a prefix of `next` (same id); the detail of a conflict otherwise. */
export const divergence = (
  stored: { readonly length: number; readonly head: string | undefined },
  next: Session.Session
): string | undefined => {
  if (next.length < stored.length) {
    return `the store holds ${stored.length} entries, the session being saved has ${next.length}: it is behind or diverged; load it again`
  }
  if (stored.length === 0) return undefined
  const node = nodeAt(next.node, stored.length)
  if (node === undefined || node.entry.id !== stored.head) {
    return `the stored head ${stored.head} (entry #${stored.length}) is not in the history being saved (found ${
      node?.entry.id ?? "nothing"
    }): the histories diverged; load the stored session and merge`
  }
  return undefined
}

/** Chain primitives live in `Session` (the one module that walks nodes); re-exported for the stores. */
export const link = Session.link
export const nodeAt = Session.nodeAt
export const nodesAfter = Session.nodesAfter

/** Whether the chain holds an entry whose `text` contains `needle` (case-insensitive, ASCII). */
export const chainHasText = (head: Session.Node | undefined, needle: string): boolean => {
  const lower = asciiLower(needle)
  for (const node of Session.chain(head)) {
    const text = (node.entry as { readonly text?: unknown }).text
    if (typeof text === "string" && asciiLower(text).includes(lower)) return true
  }
  return false
}

/** SQLite's `lower()` folds ASCII letters only; the memory backend folds the same way. */
export const asciiLower = (text: string): string => text.replace(/[A-Z]/g, (c) => c.toLowerCase())
