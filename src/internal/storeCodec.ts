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
import * as Entry from "../Entry.js"
import * as Placement from "../Placement.js"
import * as Session from "../Session.js"

/**
 * The stored text of an entry. Every entry field is plain JSON (the only nested class is
 * `Placement`, a `Schema.Class` whose encoded form is its own fields), so `JSON.stringify` of the
 * entry is its encoded form; a test pins this for every entry tag.
 */
export const encodeEntry = (entry: Entry.Entry): string => JSON.stringify(entry)

const classes: Record<string, { readonly prototype: object }> = {
  System: Entry.System,
  User: Entry.User,
  Assistant: Entry.Assistant,
  ToolResult: Entry.ToolResult,
  Memory: Entry.Memory,
  Compression: Entry.Compression,
  Placement: Entry.Placement,
  Check: Entry.Check,
  Merge: Entry.Merge,
  Custom: Entry.Custom
}

/**
 * An instance of a `Schema.Class` from its own fields. Such an instance is exactly its fields on
 * the class prototype (no hidden state), and this skips the constructor's work: 2 µs an entry,
 * which is most of a 10,000-entry load.
 */
const instance = <A>(proto: { readonly prototype: object }, fields: object): A =>
  Object.assign(Object.create(proto.prototype), fields) as A

const placementOf = (u: unknown): unknown => typeof u === "object" && u !== null ? instance(Placement.Placement, u) : u

const decodeChecked = Schema.decodeUnknownEither(Entry.Entry)

/**
 * Decodes an entry the store wrote itself. Rows are trusted (they were encoded from valid
 * entries by {@link encodeEntry}), so the entry is rebuilt on its class without re-validating
 * every field: about 0.8 µs an entry against 4 µs for a schema decode, which is what loading
 * 10,000 entries in a few milliseconds needs. Rows that do not look like an entry of a known tag,
 * or `verify`, go through the full schema decode.
 */
export const decodeEntry = (text: string, verify = false): Either.Either<Entry.Entry, string> => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (cause) {
    return Either.left(`not valid JSON: ${String(cause)}`)
  }
  if (verify || typeof raw !== "object" || raw === null) {
    return Either.mapLeft(decodeChecked(raw), (error) => ParseResult.TreeFormatter.formatErrorSync(error))
  }
  const fields = raw as Record<string, unknown>
  const Ctor = typeof fields._tag === "string" ? classes[fields._tag] : undefined
  if (Ctor === undefined || typeof fields.id !== "string" || !Array.isArray(fields.parents)) {
    return Either.mapLeft(decodeChecked(raw), (error) => ParseResult.TreeFormatter.formatErrorSync(error))
  }
  if (fields._tag === "Placement") {
    fields.placement = placementOf(fields.placement)
    if (fields.previous !== undefined) fields.previous = placementOf(fields.previous)
  } else if (fields._tag === "ToolResult" && fields.sandbox !== undefined) {
    fields.sandbox = placementOf(fields.sandbox)
  }
  return Either.right(instance<Entry.Entry>(Ctor, fields))
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
  exportJsonl: (id: string) => Effect.map(load(id), Session.toJsonl),
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

/** Links one more node onto a chain, exactly as `Session` does. */
export const link = (prev: Session.Node | undefined, entry: Entry.Entry): Session.Node => ({
  entry,
  prev,
  length: prev === undefined ? 1 : prev.length + 1,
  usage: Entry.sumUsage(prev?.usage, Entry.usageOf(entry))
})

/** The node at 1-based position `length` of a chain (walking back from its head), if any. */
export const nodeAt = (head: Session.Node | undefined, length: number): Session.Node | undefined => {
  let node = head
  while (node !== undefined && node.length > length) node = node.prev
  return node !== undefined && node.length === length ? node : undefined
}

/** The nodes after `boundary` (exclusive) up to `head`, oldest first. */
export const nodesAfter = (
  head: Session.Node | undefined,
  boundaryLength: number
): Array<Session.Node> => {
  const out: Array<Session.Node> = []
  for (let node = head; node !== undefined && node.length > boundaryLength; node = node.prev) out.push(node)
  return out.reverse()
}

/** Whether the chain holds an entry whose `text` contains `needle` (case-insensitive, ASCII). */
export const chainHasText = (head: Session.Node | undefined, needle: string): boolean => {
  const lower = asciiLower(needle)
  for (let node = head; node !== undefined; node = node.prev) {
    const text = (node.entry as { readonly text?: unknown }).text
    if (typeof text === "string" && asciiLower(text).includes(lower)) return true
  }
  return false
}

/** SQLite's `lower()` folds ASCII letters only; the memory backend folds the same way. */
export const asciiLower = (text: string): string => text.replace(/[A-Z]/g, (c) => c.toLowerCase())
