/**
 * The Session: the immutable value that agents and workflows pass around, holding all of the
 * evidence of a run.
 *
 * A session is a head pointer into a persistent chain of entries, like a git branch. Appending
 * makes one new node that points at the old head, so `append` is O(1) and never copies the
 * history; `fork` is O(1) in time and memory whatever the length, because the fork and its parent
 * share every node. Two sessions that share history share it in memory.
 *
 * Constructors and combinators that mint ids or timestamps (`empty`, `append`, `fork`, `merge`,
 * ...) are Effects: ids come from the `IdGenerator` reference and time from `Clock`, so a test
 * with a sequential generator and `TestClock` is deterministic.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import { dual } from "effect/Function"
import * as Hash from "effect/Hash"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as Entry from "./Entry.js"
import * as IdGenerator from "./IdGenerator.js"
import * as entriesCache from "./internal/entriesCache.js"
import * as jsonl from "./internal/jsonl.js"
import * as Placement from "./Placement.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId = "~rath/Session" as const

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category schemas
 */
export const SessionId = Entry.SessionId

/**
 * @since 0.1.0
 * @category models
 */
export type SessionId = Entry.SessionId

/**
 * How a session came to be.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Operation = Schema.Literal("root", "fork", "detach", "merge", "step")

/**
 * @since 0.1.0
 * @category models
 */
export type Operation = typeof Operation.Type

/**
 * A session's lineage: the operation that made it, its parent sessions, who made it (for steps
 * by an agent or workflow) and when.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Lineage = Schema.Struct({
  operation: Operation,
  parents: Schema.Array(SessionId),
  by: Schema.optional(Entry.Author),
  createdAt: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Lineage extends Schema.Schema.Type<typeof Lineage> {}

/**
 * One node of the persistent entry chain. Nodes are shared between sessions and never mutated.
 *
 * @since 0.1.0
 * @category models
 */
export interface Node {
  readonly entry: Entry.Entry
  readonly prev: Node | undefined
  /** Number of entries up to and including this one. */
  readonly length: number
  /** Usage of every entry up to and including this one. */
  readonly usage: Entry.Usage | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Session extends Pipeable, Equal.Equal, Inspectable.Inspectable {
  readonly [TypeId]: TypeId
  readonly id: SessionId
  readonly lineage: Lineage
  readonly placement: Option.Option<Placement.Placement>
  /** Number of entries. */
  readonly length: number
  /** Number of entries inherited when this session was made (its fork point). */
  readonly base: number
  /** The head of the entry chain (`undefined` when empty). Shared, never mutated. */
  readonly node: Node | undefined
}

/**
 * The one error of this module.
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionError extends Schema.TaggedError<SessionError>("rath/SessionError")("SessionError", {
  reason: Schema.Literal(
    "IncompatiblePlacement",
    "InvalidHistory",
    "MissingHeader",
    "CorruptLine",
    "UnsupportedVersion",
    "ChecksumMismatch",
    "CountMismatch"
  ),
  detail: Schema.String,
  line: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.line === undefined
      ? `${this.reason}: ${this.detail}`
      : `${this.reason} at line ${this.line}: ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// internal construction
// -----------------------------------------------------------------------------

const fingerprints = new WeakMap<Entry.Entry, string>()
const encodeEntry = Schema.encodeSync(Entry.Entry)

/** A canonical text of an entry's content (schema order), cached per entry object. */
const fingerprint = (entry: Entry.Entry): string => {
  let text = fingerprints.get(entry)
  if (text === undefined) {
    text = JSON.stringify(encodeEntry(entry))
    fingerprints.set(entry, text)
  }
  return text
}

const entryEquals = (self: Entry.Entry, that: Entry.Entry): boolean =>
  self === that || (self.id === that.id && fingerprint(self) === fingerprint(that))

const chainEquals = (self: Node | undefined, that: Node | undefined): boolean => {
  while (self !== undefined && that !== undefined) {
    // shared history is shared memory: one pointer comparison settles the rest
    if (self === that) return true
    if (self.length !== that.length || !entryEquals(self.entry, that.entry)) return false
    self = self.prev
    that = that.prev
  }
  return self === that
}

const lineageEquals = (self: Lineage, that: Lineage): boolean =>
  self.operation === that.operation &&
  self.createdAt === that.createdAt &&
  self.parents.length === that.parents.length &&
  self.parents.every((id, i) => id === that.parents[i]) &&
  (self.by === that.by ||
    (self.by !== undefined && that.by !== undefined && self.by.kind === that.by.kind && self.by.name === that.by.name))

const shorten = (text: string, max: number): string => {
  const flat = text.replace(/\s+/g, " ")
  if (flat.length <= max) return flat
  const half = Math.floor((max - 3) / 2)
  return `${flat.slice(0, half)}...${flat.slice(flat.length - half)}`
}

const SessionProto = {
  [TypeId]: TypeId,
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  },
  [Equal.symbol](this: Session, that: unknown): boolean {
    return isSession(that) &&
      this.id === that.id &&
      this.length === that.length &&
      this.base === that.base &&
      lineageEquals(this.lineage, that.lineage) &&
      Equal.equals(this.placement, that.placement) &&
      chainEquals(this.node, that.node)
  },
  [Hash.symbol](this: Session): number {
    return Hash.cached(
      this,
      Hash.combine(Hash.string(this.id))(
        Hash.combine(Hash.number(this.length))(Hash.string(this.node === undefined ? "" : this.node.entry.id))
      )
    )
  },
  toJSON(this: Session) {
    return {
      _id: "Session",
      id: this.id,
      lineage: this.lineage,
      placement: Option.getOrUndefined(this.placement),
      base: this.base,
      entries: Chunk.toReadonlyArray(entries(this)).map((entry) => encodeEntry(entry))
    }
  },
  toString(this: Session): string {
    return render(this)
  },
  [Inspectable.NodeInspectSymbol](this: Session) {
    return this.toJSON()
  }
}

const render = (self: Session, options?: FormatOptions): string => {
  try {
    const all = Chunk.toReadonlyArray(entries(self))
    const lineage = self.lineage.parents.length === 0
      ? self.lineage.operation
      : `${self.lineage.operation} of ${self.lineage.parents.join(" + ")}`
    const placement = Option.match(self.placement, { onNone: () => "", onSome: (p) => `, on ${Placement.label(p)}` })
    const lines = [`Session(${self.id}, ${all.length} entries, ${lineage}${placement})`]
    const width = options?.width ?? 80
    const line = (entry: Entry.Entry, index: number) =>
      `  #${index} ${entry._tag} [${entry.author.kind}:${entry.author.name}] ${
        width === Infinity ? Entry.summary(entry).replace(/\s+/g, " ") : shorten(Entry.summary(entry), width)
      }`
    const head = options?.all === true ? all.length : Math.max(0, Math.floor(options?.head ?? 3))
    const tail = options?.all === true ? 0 : Math.max(0, Math.floor(options?.tail ?? 3))
    if (all.length <= head + tail) {
      all.forEach((entry, i) => lines.push(line(entry, i)))
    } else {
      for (let i = 0; i < head; i++) lines.push(line(all[i]!, i))
      lines.push(`  ... ${all.length - head - tail} more ...`)
      for (let i = all.length - tail; i < all.length; i++) lines.push(line(all[i]!, i))
    }
    return lines.join("\n")
  } catch (cause) {
    return `Session(${String(self.id)}: not printable: ${String(cause)})`
  }
}

/**
 * Options of {@link format}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FormatOptions {
  /** Every entry, however many (default: the first `head` and last `tail`, the rest counted). */
  readonly all?: boolean | undefined
  /** How many of the first entries to show when not `all` (default 3). */
  readonly head?: number | undefined
  /** How many of the last entries to show when not `all` (default 3). */
  readonly tail?: number | undefined
  /** The longest summary of one entry, in characters (default 80; `Infinity`: whole summaries). */
  readonly width?: number | undefined
}

/**
 * A session as text: a header line (id, entry count, lineage, placement), then one line per entry
 * with its index, kind, author and a summary. `String(session)` is `format(session)`: the first
 * three and last three entries, the others counted. Pass `{ all: true }` for every entry.
 *
 * @since 0.1.0
 * @category getters
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* Session.fromUserMessage("count to ten")
 *   const counted = yield* Session.appendAll(
 *     session,
 *     Array.from({ length: 10 }, (_, i) => Entry.assistant({ text: String(i + 1) }))
 *   )
 *   console.log(String(counted)) // 6 entries shown, "... 5 more ..."
 *   console.log(Session.format(counted, { all: true })) // all 11
 * })
 * ```
 */
export const format: {
  (options?: FormatOptions): (self: Session) => string
  (self: Session, options?: FormatOptions): string
} = dual(
  (args) => isSession(args[0]),
  (self: Session, options?: FormatOptions): string => render(self, options)
)

/**
 * Makes an empty object whose prototype is `SessionProto` (what `Object.create` makes); made with
 * `new`, it gets room for a session's fields inside it (a session is made on every append).
 */
const SessionBlank = function() {} as unknown as new() => object
SessionBlank.prototype = SessionProto

/**
 * Builds a session value from its parts without checks. For codecs and stores that have already
 * validated the history.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeMake = (fields: {
  readonly id: SessionId
  readonly lineage: Lineage
  readonly placement: Option.Option<Placement.Placement>
  readonly base: number
  readonly node: Node | undefined
}): Session => {
  const self = new SessionBlank() as {
    -readonly [K in keyof Session]: Session[K]
  }
  self.id = fields.id
  self.lineage = fields.lineage
  self.placement = fields.placement
  self.base = fields.base
  self.node = fields.node
  self.length = fields.node === undefined ? 0 : fields.node.length
  return self
}

/**
 * Links one more node onto a chain: the one way a node is made, for a `SessionStore` that
 * rebuilds chains from its rows.
 *
 * @since 0.2.0
 * @category chain
 */
export const link = (prev: Node | undefined, entry: Entry.Entry): Node => ({
  entry,
  prev,
  length: prev === undefined ? 1 : prev.length + 1,
  usage: Entry.sumUsage(prev?.usage, Entry.usageOf(entry))
})

/**
 * The nodes of a chain newest first, lazily, from `head` back to the root. For stores, which
 * persist and share nodes; programs read entries with {@link reverseEntries}.
 *
 * @since 0.2.0
 * @category chain
 */
export const chain = (head: Node | undefined): Iterable<Node> => ({
  *[Symbol.iterator]() {
    for (let node = head; node !== undefined; node = node.prev) yield node
  }
})

/**
 * The node at 1-based position `length` of a chain (walking back from `head`), if any.
 *
 * @since 0.2.0
 * @category chain
 */
export const nodeAt = (head: Node | undefined, length: number): Node | undefined => {
  let node = head
  while (node !== undefined && node.length > length) node = node.prev
  return node !== undefined && node.length === length ? node : undefined
}

/**
 * The nodes after position `boundaryLength` (exclusive) up to `head`, oldest first: what a store
 * has to write when it already holds the first `boundaryLength` entries.
 *
 * @since 0.2.0
 * @category chain
 */
export const nodesAfter = (head: Node | undefined, boundaryLength: number): Array<Node> => {
  const out: Array<Node> = []
  for (let node = head; node !== undefined && node.length > boundaryLength; node = node.prev) out.push(node)
  return out.reverse()
}

const withNode = (self: Session, node: Node | undefined, placement = self.placement): Session =>
  unsafeMake({ id: self.id, lineage: self.lineage, placement, base: self.base, node })

/**
 * Appends an already finished entry without minting anything: pure and O(1). The entry's
 * `parents` are taken as they are; use {@link append} to make new entries.
 *
 * @since 0.1.0
 * @category combinators
 */
export const appendEntry: {
  (entry: Entry.Entry): (self: Session) => Session
  (self: Session, entry: Entry.Entry): Session
} = dual(2, (self: Session, entry: Entry.Entry): Session => withNode(self, link(self.node, entry)))

/**
 * What minting reads from the fiber it runs on: its context (the id generator, the current
 * author) and its default services (the clock, the random source). A running fiber is one.
 *
 * @since 0.2.0
 * @category models
 */
export interface Minter {
  readonly currentContext: Context.Context<never>
  readonly currentDefaultServices: Context.Context<DefaultServices.DefaultServices>
}

/**
 * Mints an id with `prefix` and hands it to `body` with the fiber's clock and current author,
 * without an effect; `undefined` when the fiber's generator needs an effect for this id (another
 * generator than the default, or the default's random bits are due).
 */
const mintNow = <A>(
  fiber: Minter,
  prefix: string,
  body: (id: string, clock: Clock.Clock, author: Entry.Author) => A
): A | undefined => {
  const services = fiber.currentDefaultServices
  const id = IdGenerator.unsafeGenerate(Context.get(fiber.currentContext, IdGenerator.IdGenerator), prefix, services)
  return id === undefined
    ? undefined
    : body(id, Context.get(services, Clock.Clock), Context.get(fiber.currentContext, Entry.CurrentAuthor))
}

/**
 * Mints an id with `prefix` and hands it to `body` with the fiber's clock and current author, all
 * read in one step from the fiber. The default generator makes most ids at once (see
 * `IdGenerator.unsafeGenerate`): then minting is one effect, not one per service and id (minting
 * runs on every append and fork).
 */
const minting = <A>(
  prefix: string,
  body: (id: string, clock: Clock.Clock, author: Entry.Author) => A
): Effect.Effect<A> =>
  Effect.withFiberRuntime((fiber) => {
    const now = mintNow(fiber, prefix, body)
    if (now !== undefined) return Effect.succeed(now)
    const context = fiber.currentContext
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const author = Context.get(context, Entry.CurrentAuthor)
    return Effect.map(
      Context.get(context, IdGenerator.IdGenerator).generate(prefix),
      (drawn) => body(drawn, clock, author)
    )
  })

/** The session a new id and lineage over the given history make. */
const derived = (
  operation: Operation,
  parents: ReadonlyArray<SessionId>,
  by: Entry.Author | undefined,
  placement: Option.Option<Placement.Placement>,
  base: number,
  node: Node | undefined
) =>
(id: string, clock: Clock.Clock): Session => {
  const createdAt = clock.unsafeCurrentTimeMillis()
  return unsafeMake({
    id: id as SessionId,
    lineage: by === undefined ? { operation, parents, createdAt } : { operation, parents, by, createdAt },
    placement,
    base,
    node
  })
}

/** A new session id and lineage over the given history, without a generator (fork is hot). */
const derive = (
  operation: Operation,
  parents: ReadonlyArray<SessionId>,
  by: Entry.Author | undefined,
  placement: Option.Option<Placement.Placement>,
  base: number,
  node: Node | undefined
): Effect.Effect<Session> => minting("s", derived(operation, parents, by, placement, base, node))

/** The entry a draft makes with a minted id, the clock and the current author. */
const entryOf = (
  node: Node | undefined,
  draft: Entry.Draft | Entry.DraftFor<"Merge">,
  parents: ReadonlyArray<Entry.EntryId> | undefined,
  id: string,
  clock: Clock.Clock,
  author: Entry.Author
): Entry.Entry =>
  Entry.fromDraft(draft, {
    id: id as Entry.EntryId,
    timestamp: clock.unsafeCurrentTimeMillis(),
    author: draft.author ?? (draft._tag === "User" && author === Entry.programAuthor ? Entry.userAuthor : author),
    parents: parents ?? (node === undefined ? [] : [node.entry.id])
  })

/** {@link entryOf} waiting for the minted id, the clock and the current author. */
const drafted = (
  node: Node | undefined,
  draft: Entry.Draft | Entry.DraftFor<"Merge">,
  parents: ReadonlyArray<Entry.EntryId> | undefined
) =>
(id: string, clock: Clock.Clock, author: Entry.Author): Entry.Entry => entryOf(node, draft, parents, id, clock, author)

/** A new entry from a draft, and `then` of it, in one effect. */
const mintThen = <A>(
  node: Node | undefined,
  draft: Entry.Draft | Entry.DraftFor<"Merge">,
  parents: ReadonlyArray<Entry.EntryId> | undefined,
  then: (entry: Entry.Entry) => A
): Effect.Effect<A> => {
  const make = drafted(node, draft, parents)
  return minting("e", (id, clock, author) => then(make(id, clock, author)))
}

const mint = (
  node: Node | undefined,
  draft: Entry.Draft | Entry.DraftFor<"Merge">,
  parents?: ReadonlyArray<Entry.EntryId>
): Effect.Effect<Entry.Entry> => mintThen(node, draft, parents, (entry) => entry)

// -----------------------------------------------------------------------------
// guards
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category guards
 */
export const isSession = (u: unknown): u is Session => typeof u === "object" && u !== null && TypeId in u

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * An empty root session, optionally already placed.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* Session.empty()
 *   console.log(session.length) // 0
 * })
 * ```
 */
export const empty = (options?: { readonly placement?: Placement.Placement | undefined }): Effect.Effect<Session> =>
  derive("root", [], undefined, Option.fromNullable(options?.placement), 0, undefined)

/**
 * A root session holding the given drafts, in order.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  drafts: Iterable<Entry.Draft>,
  options?: { readonly placement?: Placement.Placement | undefined }
): Effect.Effect<Session> => Effect.flatMap(empty(options), (session) => appendAll(session, drafts))

/**
 * A root session that starts with one user message.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* Session.fromUserMessage("What is 2 + 2?")
 *   console.log(String(session))
 * })
 * ```
 */
export const fromUserMessage = (
  text: string,
  options?: { readonly author?: Entry.Author; readonly placement?: Placement.Placement | undefined }
): Effect.Effect<Session> => make([Entry.user(text, options?.author ? { author: options.author } : undefined)], options)

/**
 * A root session that starts with an agent's system prompt (authored by the agent) and,
 * optionally, a first user message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromAgentPrompt = (prompt: {
  readonly instructions: string
  readonly message?: string | undefined
  readonly agent?: string | undefined
  readonly placement?: Placement.Placement | undefined
}): Effect.Effect<Session> => {
  const system = prompt.agent === undefined
    ? Entry.system(prompt.instructions)
    : Entry.system(prompt.instructions, { author: { kind: "agent", name: prompt.agent } })
  return make(prompt.message === undefined ? [system] : [system, Entry.user(prompt.message)], prompt)
}

/**
 * Rebuilds a session from finished entries (as a codec or store has them), checking that the
 * history is consistent: entry ids are unique and every parent is an earlier entry.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromEntries = (
  meta: {
    readonly id: SessionId
    readonly lineage: Lineage
    readonly placement?: Placement.Placement | undefined
    readonly base?: number | undefined
  },
  items: Iterable<Entry.Entry>
): Either.Either<Session, SessionError> => {
  const seen = new Set<string>()
  let node: Node | undefined = undefined
  let index = 0
  for (const entry of items) {
    if (seen.has(entry.id)) {
      return Either.left(
        new SessionError({ reason: "InvalidHistory", detail: `entry ${entry.id} appears twice (at ${index})` })
      )
    }
    for (const parent of entry.parents) {
      if (!seen.has(parent)) {
        return Either.left(
          new SessionError({
            reason: "InvalidHistory",
            detail: `entry ${entry.id} (at ${index}) names parent ${parent}, which is not an earlier entry`
          })
        )
      }
    }
    if (entry.parents.length === 0 && index > 0) {
      return Either.left(
        new SessionError({ reason: "InvalidHistory", detail: `entry ${entry.id} (at ${index}) has no parent` })
      )
    }
    seen.add(entry.id)
    node = link(node, entry)
    index++
  }
  const base = meta.base ?? 0
  if (base < 0 || base > index) {
    return Either.left(
      new SessionError({ reason: "InvalidHistory", detail: `base ${base} is outside 0..${index}` })
    )
  }
  return Either.right(unsafeMake({
    id: meta.id,
    lineage: meta.lineage,
    placement: Option.fromNullable(meta.placement),
    base,
    node
  }))
}

// -----------------------------------------------------------------------------
// getters
// -----------------------------------------------------------------------------

const collect = (node: Node | undefined, stopAt = 0): Array<Entry.Entry> => {
  const size = node === undefined ? 0 : node.length - stopAt
  const out = new Array<Entry.Entry>(Math.max(size, 0))
  let i = size - 1
  while (node !== undefined && node.length > stopAt) {
    out[i--] = node.entry
    node = node.prev
  }
  return out
}

/**
 * All entries, oldest first. O(n) the first time for a given head, then cached (the cache is
 * shared by every session with that head).
 *
 * @since 0.1.0
 * @category getters
 */
export const entries = (self: Session): Chunk.Chunk<Entry.Entry> => {
  if (self.node === undefined) return Chunk.empty()
  let chunk = entriesCache.get(self.node)
  if (chunk === undefined) {
    chunk = Chunk.unsafeFromArray(collect(self.node))
    entriesCache.set(self.node, chunk)
  }
  return chunk
}

/**
 * The entries this session added itself, after the history it inherited.
 *
 * @since 0.1.0
 * @category getters
 */
export const ownEntries = (self: Session): Chunk.Chunk<Entry.Entry> =>
  Chunk.unsafeFromArray(collect(self.node, self.base))

/**
 * The newest entry.
 *
 * @since 0.1.0
 * @category getters
 */
export const head = (self: Session): Option.Option<Entry.Entry> =>
  self.node === undefined ? Option.none() : Option.some(self.node.entry)

/**
 * The entry with the given id.
 *
 * @since 0.1.0
 * @category getters
 */
export const get: {
  (id: string): (self: Session) => Option.Option<Entry.Entry>
  (self: Session, id: string): Option.Option<Entry.Entry>
} = dual(2, (self: Session, id: string): Option.Option<Entry.Entry> => {
  for (let node = self.node; node !== undefined; node = node.prev) {
    if (node.entry.id === id) return Option.some(node.entry)
  }
  return Option.none()
})

/**
 * The newest entry with the given tag.
 *
 * @since 0.1.0
 * @category getters
 */
export const lastOf: {
  <T extends Entry.Tag>(tag: T): (self: Session) => Option.Option<Extract<Entry.Entry, { readonly _tag: T }>>
  <T extends Entry.Tag>(self: Session, tag: T): Option.Option<Extract<Entry.Entry, { readonly _tag: T }>>
} = dual(
  2,
  <T extends Entry.Tag>(self: Session, tag: T): Option.Option<Extract<Entry.Entry, { readonly _tag: T }>> => {
    for (let node = self.node; node !== undefined; node = node.prev) {
      if (node.entry._tag === tag) return Option.some(node.entry as Extract<Entry.Entry, { readonly _tag: T }>)
    }
    return Option.none()
  }
)

/**
 * The newest entry that satisfies a predicate (or refinement), walking back from the head and
 * stopping at the first match: O(distance from the head), nothing materialised.
 *
 * @since 0.1.0
 * @category getters
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Entry, Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* Session.fromUserMessage("hi")
 *   const user = Session.findLast(session, Entry.is("User"))
 *   console.log(Option.map(user, (entry) => entry.text)) // Some("hi")
 * })
 * ```
 */
export const findLast: {
  <B extends Entry.Entry>(refinement: (entry: Entry.Entry) => entry is B): (self: Session) => Option.Option<B>
  (predicate: (entry: Entry.Entry) => boolean): (self: Session) => Option.Option<Entry.Entry>
  <B extends Entry.Entry>(self: Session, refinement: (entry: Entry.Entry) => entry is B): Option.Option<B>
  (self: Session, predicate: (entry: Entry.Entry) => boolean): Option.Option<Entry.Entry>
} = dual(2, (self: Session, predicate: (entry: Entry.Entry) => boolean): Option.Option<Entry.Entry> => {
  for (let node = self.node; node !== undefined; node = node.prev) {
    if (predicate(node.entry)) return Option.some(node.entry)
  }
  return Option.none()
})

/**
 * The entries newest first, lazily: a loop over it that breaks early reads only that far back.
 *
 * @since 0.1.0
 * @category getters
 */
export const reverseEntries = (self: Session): Iterable<Entry.Entry> => ({
  *[Symbol.iterator]() {
    for (const node of chain(self.node)) yield node.entry
  }
})

/**
 * The session as it was after its first `n` entries: same id, lineage and placement, the history
 * cut after entry `n` (shared, not copied). `n` past the end gives the session itself.
 *
 * @since 0.1.0
 * @category combinators
 */
export const take: {
  (n: number): (self: Session) => Session
  (self: Session, n: number): Session
} = dual(2, (self: Session, n: number): Session => {
  let node = self.node
  while (node !== undefined && node.length > n) node = node.prev
  return node === self.node ? self : withHistory(self, node)
})

const withHistory = (self: Session, node: Node | undefined): Session =>
  unsafeMake({
    id: self.id,
    lineage: self.lineage,
    placement: self.placement,
    base: Math.min(self.base, node === undefined ? 0 : node.length),
    node
  })

const histories = new WeakMap<Node, ReadonlyMap<string, Node>>()

/**
 * For each entry of a chain, the chain its author appended it to, ending with the entry. A merge
 * lays each side's entries after the first side's, so an entry of a later side was not appended
 * after the entries before it in the chain: its chain is rebuilt from its `parents` (a `Merge`
 * entry's is the merge of its parents' chains, laid out as {@link mergeAll} lays them out).
 * Built once per head, in one pass.
 */
const historyIndex = (head: Node): ReadonlyMap<string, Node> => {
  const cached = histories.get(head)
  if (cached !== undefined) return cached
  const nodes: Array<Node> = []
  for (let node: Node | undefined = head; node !== undefined; node = node.prev) nodes.push(node)
  const chains = new Map<string, Node>()
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!
    const entry = node.entry
    let prev: Node | undefined
    if (entry.parents.length === 0) {
      prev = undefined
    } else if (entry._tag === "Merge" && entry.parents.length > 1) {
      const sides = entry.parents.map((id) => chains.get(id))
      prev = sides.every((side) => side !== undefined) ? layOut(sides).node : node.prev
    } else {
      prev = chains.get(entry.parents[0]!) ?? node.prev
    }
    // most entries were appended right after the entry before them: keep the chain's own node
    chains.set(entry.id, prev === node.prev || sameChain(prev, node.prev) ? node : link(prev, entry))
  }
  histories.set(head, chains)
  return chains
}

/** Whether two chains hold the same entries in the same order (they usually share a tail). */
const sameChain = (a: Node | undefined, b: Node | undefined): boolean => {
  if (a?.length !== b?.length) return false
  while (a !== b) {
    if (a === undefined || b === undefined || a.entry.id !== b.entry.id) return false
    a = a.prev
    b = b.prev
  }
  return true
}

/**
 * The history as of an entry: the session as the entry's author saw it right after appending it
 * (the entry is its last). In a merged session, an entry of a branch sees only that branch's
 * history, not the entries of the branches laid out before it. `None` when the session holds no
 * entry with that id.
 *
 * @since 0.1.0
 * @category getters
 */
export const historyAt: {
  (id: string): (self: Session) => Option.Option<Session>
  (self: Session, id: string): Option.Option<Session>
} = dual(2, (self: Session, id: string): Option.Option<Session> => {
  if (self.node === undefined) return Option.none()
  const node = historyIndex(self.node).get(id)
  return node === undefined ? Option.none() : Option.some(node === self.node ? self : withHistory(self, node))
})

/**
 * What a model is sent: system, user, assistant and tool-result entries in order, with
 * compression applied. A `Compression` entry takes the place of the first entry it covers and
 * every entry it covers is left out; a compression covered by a later one is left out too.
 * Memory, placement, check, merge and custom entries are evidence, not messages.
 *
 * @since 0.1.0
 * @category getters
 */
export const transcript = (self: Session): Chunk.Chunk<Entry.Message> => {
  const all = Chunk.toReadonlyArray(entries(self))
  const covered = new Set<string>()
  let hasCompression = false
  for (const entry of all) {
    if (entry._tag === "Compression") {
      hasCompression = true
      for (const id of entry.covers) covered.add(id)
    }
  }
  if (!hasCompression) return Chunk.unsafeFromArray(all.filter(Entry.isMessage))
  // each live compression is anchored at the first entry it covers that this session holds
  const anchors = new Map<string, Entry.Compression>()
  const present = new Set(all.map((entry) => entry.id))
  for (const entry of all) {
    if (entry._tag === "Compression" && !covered.has(entry.id)) {
      const first = all.find((candidate) => entry.covers.includes(candidate.id))
      if (first !== undefined && entry.covers.some((id) => present.has(id))) anchors.set(first.id, entry)
    }
  }
  const anchored = new Set(Array.from(anchors.values(), (entry) => entry.id))
  const out: Array<Entry.Message> = []
  for (const entry of all) {
    const anchor = anchors.get(entry.id)
    if (anchor !== undefined) {
      out.push(anchor)
      continue
    }
    if (covered.has(entry.id) || anchored.has(entry.id)) continue
    if (Entry.isMessage(entry)) out.push(entry)
  }
  return Chunk.unsafeFromArray(out)
}

/**
 * What a model is sent for this session, as a request's messages: the {@link transcript}, with each
 * compression as a user message carrying its summary (see `Entry.toModelMessages`). Entries are
 * messages as they are: nothing is copied.
 *
 * @since 0.1.0
 * @category getters
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Provider, Scripted, Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* Session.fromUserMessage("Hello!")
 *   return yield* Provider.chat({ messages: Session.messages(session) })
 * }).pipe(Effect.provide(Scripted.layer([Scripted.reply("Hi.")])))
 * ```
 */
export const messages = (self: Session): Array<Entry.ModelMessage> => Entry.toModelMessages(transcript(self))

/**
 * Token usage: `own` counts the entries this session added after its fork point, `inclusive`
 * the whole history. `undefined` where no entry reported usage.
 *
 * @since 0.1.0
 * @category getters
 */
export const usage = (self: Session): {
  readonly own: Entry.Usage | undefined
  readonly inclusive: Entry.Usage | undefined
} => {
  let own: Entry.Usage | undefined = undefined
  for (let node = self.node; node !== undefined && node.length > self.base; node = node.prev) {
    own = Entry.sumUsage(Entry.usageOf(node.entry), own)
  }
  return { own, inclusive: self.node?.usage }
}

/**
 * @since 0.1.0
 * @category getters
 */
export const lineage = (self: Session): Lineage => self.lineage

/**
 * The placement the session is bound to, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const placement = (self: Session): Option.Option<Placement.Placement> => self.placement

// -----------------------------------------------------------------------------
// combinators
// -----------------------------------------------------------------------------

/**
 * Appends a new entry made from a draft: the id comes from the `IdGenerator`, the time from
 * `Clock`, the parent is the current head and the author is the draft's or `CurrentAuthor` (the
 * running agent or workflow; outside any, the program, and for a `User` message the user).
 * O(1); the input session is unchanged.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session } from "rath"
 *
 * const program = Session.fromUserMessage("hi").pipe(
 *   Effect.flatMap(Session.append(Entry.assistant({ text: "hello" })))
 * )
 * ```
 */
export const append: {
  (draft: Entry.Draft): (self: Session) => Effect.Effect<Session>
  (self: Session, draft: Entry.Draft): Effect.Effect<Session>
} = dual(
  2,
  (self: Session, draft: Entry.Draft): Effect.Effect<Session> =>
    mintThen(self.node, draft, undefined, (entry) => appended(self, draft, entry))
)

const appended = (self: Session, draft: Entry.Draft, entry: Entry.Entry): Session =>
  draft._tag === "Placement"
    ? withNode(self, link(self.node, entry), Option.some(draft.placement))
    : withNode(self, link(self.node, entry))

/**
 * {@link append} done at once by code already running on `fiber` (its id generator, clock and
 * current author, read now): the same session `append` would give, without an effect. `undefined`
 * when the fiber's generator needs an effect for the id (a generator other than the default, or
 * the default's random bits are due): then use {@link append}. For hot loops that hold their fiber
 * (an agent's turns); everything else uses `append`.
 *
 * @since 0.2.0
 * @category combinators
 */
export const unsafeAppendOn = (fiber: Minter, self: Session, draft: Entry.Draft): Session | undefined => {
  // mintNow without the closure it takes (this runs on every turn and tool result)
  const services = fiber.currentDefaultServices
  const context = fiber.currentContext
  const id = IdGenerator.unsafeGenerate(Context.get(context, IdGenerator.IdGenerator), "e", services)
  if (id === undefined) return undefined
  const entry = entryOf(
    self.node,
    draft,
    undefined,
    id,
    Context.get(services, Clock.Clock),
    Context.get(context, Entry.CurrentAuthor)
  )
  return appended(self, draft, entry)
}

/**
 * {@link step} done at once by code already running on `fiber`, as {@link unsafeAppendOn} is for
 * `append`; `undefined` when the id needs an effect.
 *
 * @since 0.2.0
 * @category combinators
 */
export const unsafeStepOn = (fiber: Minter, self: Session, by: Entry.Author): Session | undefined =>
  mintNow(fiber, "s", derived("step", [self.id], by, self.placement, self.length, self.node))

/**
 * Appends several drafts in order.
 *
 * @since 0.1.0
 * @category combinators
 */
export const appendAll: {
  (drafts: Iterable<Entry.Draft>): (self: Session) => Effect.Effect<Session>
  (self: Session, drafts: Iterable<Entry.Draft>): Effect.Effect<Session>
} = dual(
  2,
  (self: Session, drafts: Iterable<Entry.Draft>): Effect.Effect<Session> =>
    Effect.reduce(drafts, self, (session, draft) => append(session, draft))
)

/**
 * A new session that continues from this one: a new id, lineage `fork` with this session as its
 * parent, and the same history, shared (O(1) in time and memory).
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const base = yield* Session.fromUserMessage("Write a haiku")
 *   const a = yield* Session.fork(base).pipe(Effect.flatMap(Session.append(Entry.assistant({ text: "one" }))))
 *   const b = yield* Session.fork(base).pipe(Effect.flatMap(Session.append(Entry.assistant({ text: "two" }))))
 *   return yield* Session.merge(a, b)
 * })
 * ```
 */
export const fork = (self: Session, options?: { readonly by?: Entry.Author | undefined }): Effect.Effect<Session> =>
  derive("fork", [self.id], options?.by, self.placement, self.length, self.node)

/**
 * A new session that records one step of work by an agent or workflow: like {@link fork} but
 * with operation `step` and the author that made it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const step: {
  (by: Entry.Author): (self: Session) => Effect.Effect<Session>
  (self: Session, by: Entry.Author): Effect.Effect<Session>
} = dual(
  2,
  (self: Session, by: Entry.Author): Effect.Effect<Session> =>
    derive("step", [self.id], by, self.placement, self.length, self.node)
)

/**
 * A new root session with the same entries and no parent lineage: a copy that forgets where it
 * came from (entries are still shared in memory; they are immutable).
 *
 * @since 0.1.0
 * @category combinators
 */
export const detach = (self: Session): Effect.Effect<Session> =>
  derive("detach", [], undefined, self.placement, 0, self.node)

/** The placement of a merge: every placed side on a compatible sandbox (unified), else an error. */
const resolvePlacement = (
  sessions: ReadonlyArray<Session>
): Either.Either<Option.Option<Placement.Placement>, SessionError> => {
  let chosen: Placement.Placement | undefined
  let from: Session | undefined
  for (const session of sessions) {
    if (Option.isNone(session.placement)) continue
    const next = session.placement.value
    if (chosen === undefined || from === undefined) {
      chosen = next
      from = session
      continue
    }
    if (!Placement.isCompatible(chosen, next)) {
      return Either.left(
        new SessionError({
          reason: "IncompatiblePlacement",
          detail: `cannot merge ${from.id} on ${Placement.label(chosen)} with ${session.id} on ${
            Placement.label(next)
          }: move one with Session.to first`
        })
      )
    }
    chosen = Placement.unify(chosen, next)
  }
  return Either.right(Option.fromNullable(chosen))
}

/**
 * The newest node the two chains share (their common history), or `undefined`.
 *
 * @since 0.1.0
 * @category getters
 */
export const commonAncestor = (self: Session, that: Session): Node | undefined => commonNode(self.node, that.node)

const commonNode = (a: Node | undefined, b: Node | undefined): Node | undefined => {
  while (a !== undefined && b !== undefined && a.length > b.length) a = a.prev
  while (a !== undefined && b !== undefined && b.length > a.length) b = b.prev
  while (a !== undefined && b !== undefined && a !== b && a.entry.id !== b.entry.id) {
    a = a.prev
    b = b.prev
  }
  return a === undefined || b === undefined ? undefined : a
}

/**
 * Merges two sessions into a new one: their common history once, then this session's own
 * entries, then the other's, then a `Merge` entry whose parents are both heads. Usage sums.
 * Placements must be compatible (the same sandbox, or one side unplaced); otherwise a
 * `SessionError` with reason `IncompatiblePlacement`, never a silent choice. The same as
 * {@link mergeAll} of the two.
 *
 * @since 0.1.0
 * @category combinators
 */
export const merge: {
  (that: Session, options?: { readonly author?: Entry.Author }): (self: Session) => Effect.Effect<Session, SessionError>
  (self: Session, that: Session, options?: { readonly author?: Entry.Author }): Effect.Effect<Session, SessionError>
} = dual(
  (args) => isSession(args[0]) && isSession(args[1]),
  (self: Session, that: Session, options?: { readonly author?: Entry.Author }): Effect.Effect<Session, SessionError> =>
    mergeAll([self, that], options)
)

/**
 * Merges any number of sessions into a new one with one `Merge` entry: the history the first
 * shares with the others once, then each session's own entries in the order given (each side's
 * entries past what is already laid out), then the `Merge` entry, whose parents are the distinct
 * heads. Lineage `merge` with every session as a parent. One session is returned as it is.
 * Placements must all be compatible (see {@link merge}).
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Entry, Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const base = yield* Session.fromUserMessage("Name a colour")
 *   const branches = yield* Effect.forEach(["red", "green", "blue"], (text) =>
 *     Session.fork(base).pipe(Effect.flatMap(Session.append(Entry.assistant({ text })))))
 *   return yield* Session.mergeAll(branches) // one Merge entry with three parents
 * })
 * ```
 */
export const mergeAll = (
  sessions: Iterable<Session>,
  options?: { readonly author?: Entry.Author | undefined }
): Effect.Effect<Session, SessionError> =>
  Effect.suspend(() => {
    const all = Array.from(sessions)
    const first = all[0]
    if (first === undefined) {
      return Effect.fail(new SessionError({ reason: "InvalidHistory", detail: "mergeAll needs at least one session" }))
    }
    if (all.length === 1) return Effect.succeed(first)
    const resolved = resolvePlacement(all)
    if (Either.isLeft(resolved)) return Effect.fail(resolved.left)
    const placement = resolved.right
    const { base, node } = layOut(all.map((session) => session.node))
    const heads: Array<Entry.EntryId> = []
    const seen = new Set<Node>()
    for (const session of all) {
      if (session.node !== undefined && !seen.has(session.node)) {
        seen.add(session.node)
        heads.push(session.node.entry.id)
      }
    }
    const ids = all.map((session) => session.id)
    const draft: Entry.DraftFor<"Merge"> = options?.author === undefined
      ? { _tag: "Merge", sessions: ids }
      : { _tag: "Merge", sessions: ids, author: options.author }
    return Effect.flatMap(
      mint(node, draft, heads),
      (mergeEntry) => derive("merge", ids, options?.author, placement, base, link(node, mergeEntry))
    )
  })

/**
 * How a merge lays out its sides: the first chain as it is, then each other chain's entries past
 * the history it shares with what is laid out so far. `base` is the shortest shared history.
 */
const layOut = (heads: ReadonlyArray<Node | undefined>): { readonly base: number; readonly node: Node | undefined } => {
  let node = heads[0]
  let base = node === undefined ? 0 : node.length
  for (let i = 1; i < heads.length; i++) {
    const that = heads[i]
    const common = commonNode(node, that)
    const commonLength = common === undefined ? 0 : common.length
    base = Math.min(base, commonLength)
    for (const entry of collect(that, commonLength)) node = link(node, entry)
  }
  return { base, node }
}

/**
 * Binds the session to a sandbox placement, recording a `Placement` entry (with the previous
 * placement when it moves). Data only: the sandbox is opened lazily by the `Sandbox` service.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Placement, Session } from "rath"
 *
 * const program = Session.fromUserMessage("list the files").pipe(
 *   Effect.flatMap(Session.to(Placement.make({ backend: "local" })))
 * )
 * ```
 */
export const to: {
  (placement: Placement.Placement): (self: Session) => Effect.Effect<Session>
  (self: Session, placement: Placement.Placement): Effect.Effect<Session>
} = dual(
  2,
  (self: Session, placement: Placement.Placement): Effect.Effect<Session> =>
    append(self, Entry.placed(placement, { previous: Option.getOrUndefined(self.placement) }))
)

// -----------------------------------------------------------------------------
// schemas
// -----------------------------------------------------------------------------

/**
 * A schema for session values themselves (no transformation), with an arbitrary for property
 * tests.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SessionFromSelf: Schema.Schema<Session> = Schema.declare(isSession, {
  identifier: "Session",
  arbitrary: () => (fc) =>
    fc.record({
      id: fc.stringMatching(/^s_[a-z0-9]{1,8}$/),
      placement: fc.option(fc.constantFrom("local", "bwrap"), { nil: undefined }),
      drafts: fc.array(
        fc.oneof(
          fc.string().map((text) => Entry.user(text)),
          fc.string().map((text) => Entry.system(text)),
          fc.record({ text: fc.string(), input: fc.nat(1000), output: fc.nat(1000) }).map(({ input, output, text }) =>
            Entry.assistant({ text, usage: { inputTokens: input, outputTokens: output, totalTokens: input + output } })
          ),
          fc.tuple(fc.string(), fc.boolean()).map(([name, passed]) => Entry.check(name, passed)),
          fc.tuple(fc.string(), fc.jsonValue()).map(([type, data]) => Entry.custom(type, data))
        ),
        { maxLength: 12 }
      )
    }).map(({ drafts, id, placement }) => {
      let node: Node | undefined = undefined
      drafts.forEach((draft, i) => {
        node = link(
          node,
          Entry.fromDraft(draft, {
            id: `e_${id}_${i}` as Entry.EntryId,
            timestamp: i,
            author: draft.author ?? { kind: "user", name: "user" },
            parents: node === undefined ? [] : [node.entry.id]
          })
        )
      })
      return unsafeMake({
        id: id as SessionId,
        lineage: { operation: "root", parents: [], createdAt: 0 },
        placement: placement === undefined ? Option.none() : Option.some(Placement.make({ backend: placement })),
        base: 0,
        node
      })
    }),
  pretty: () => (session) => render(session),
  equivalence: () => Equal.equals
})

// -----------------------------------------------------------------------------
// JSONL
// -----------------------------------------------------------------------------

/**
 * The current JSONL format version.
 *
 * @since 0.1.0
 * @category models
 */
export const JSONL_VERSION = jsonl.VERSION

/**
 * A migration that upgrades a JSONL file from version `from` to `from + 1`, line by line.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonlMigration {
  readonly from: number
  readonly header?: (header: Record<string, unknown>) => Record<string, unknown>
  readonly entry?: (entry: unknown) => unknown
}

/**
 * What decoding a JSONL file gives: the session, whether the file was closed by its trailer, and
 * how many torn lines were dropped from its end.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoded {
  readonly session: Session
  readonly closed: boolean
  readonly droppedLines: number
}

const JsonlHeader = Schema.Struct({
  id: SessionId,
  lineage: Lineage,
  placement: Schema.optional(Placement.Placement),
  base: Schema.optionalWith(Schema.Number, { default: () => 0 })
})

/**
 * Encodes a session as JSONL: a header line (format version, id, lineage, placement), one line
 * per entry, and a trailer with the entry count and a SHA-256 checksum of the lines before it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const toJsonl = (self: Session): string =>
  jsonl.encode(
    Schema.encodeSync(JsonlHeader)({
      id: self.id,
      lineage: self.lineage,
      ...Option.match(self.placement, { onNone: () => ({}), onSome: (placement) => ({ placement }) }),
      base: self.base
    }),
    Chunk.toReadonlyArray(entries(self)),
    encodeEntry
  )

/**
 * Decodes a JSONL session. Round-trips {@link toJsonl} exactly. A torn last line (a crash in the
 * middle of a write: the file ends without a newline) is dropped and reported, and the intact
 * prefix loads with `closed: false`; a corrupt line anywhere else, the last one included when it
 * ends with its newline (a damaged trailer is damage, not a torn write), is a `SessionError`
 * naming its line number; a newer format version is refused; older versions go through
 * `migrations`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromJsonl = (
  text: string,
  options?: { readonly migrations?: ReadonlyArray<JsonlMigration> | undefined }
): Effect.Effect<Decoded, SessionError> =>
  Effect.gen(function*() {
    const parsed = yield* jsonl.decode(text, {
      migrations: options?.migrations ?? [],
      fail: (reason, detail, line) =>
        new SessionError(line === undefined ? { reason, detail } : { reason, detail, line })
    })
    const header = yield* Schema.decodeUnknown(JsonlHeader)(parsed.header).pipe(
      Effect.mapError((cause) =>
        new SessionError({ reason: "MissingHeader", detail: `invalid header: ${cause.message}`, line: 1 })
      )
    )
    const session = yield* fromEntries(
      { id: header.id, lineage: header.lineage, placement: header.placement, base: header.base },
      parsed.entries
    )
    return { session, closed: parsed.closed, droppedLines: parsed.droppedLines }
  })
