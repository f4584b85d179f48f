/**
 * The session views of the run server: summaries, paging with filters over the store's rows
 * (only the sessions of the page are loaded, and their summaries are cached by `updatedAt`), the
 * timeline of a session, what a model call was sent, a diff, and a fork at an entry.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Entry from "../../Entry.js"
import * as Model from "../../Model.js"
import * as Run from "../../Run.js"
import * as Session from "../../Session.js"
import type * as SessionStore from "../../SessionStore.js"
import type * as Api from "./api.js"
import * as Runs from "./runs.js"

const iso = (millis: number) => new Date(millis).toISOString()

const encodeEntry = Schema.encodeSync(Entry.Entry)

/** The wire form of a session's entries, in order. */
export const encodedEntries = (session: Session.Session): Array<{ readonly [key: string]: unknown }> =>
  Array.from(Session.entries(session), (entry) => encodeEntry(entry) as unknown as { readonly [key: string]: unknown })

/** What a summary says that the session alone decides (the run and live status come from the manager). */
interface Facts {
  readonly agents: ReadonlyArray<string>
  readonly tools: ReadonlyArray<string>
  readonly failedChecks: number
  readonly usage: { readonly input: number; readonly output: number }
  readonly status: Api.SessionSummary["status"]
}

const factsOf = (session: Session.Session): Facts => {
  const agents = new Set<string>()
  const tools = new Set<string>()
  let failedChecks = 0
  for (const entry of Session.entries(session)) {
    if (entry.author.kind === "agent") agents.add(entry.author.name)
    if (entry._tag === "ToolResult") tools.add(entry.toolName)
    if (entry._tag === "Check" && !entry.passed) failedChecks++
  }
  const usage = session.node?.usage
  const end = Run.lastEnd(session)
  const status: Api.SessionSummary["status"] = Option.match(end, {
    onNone: () => "idle" as const,
    onSome: (e) =>
      e.reason === "interrupted" ? "interrupted" as const : e.reason === "error" ? "failed" as const : "done" as const
  })
  return {
    agents: [...agents],
    tools: [...tools],
    failedChecks,
    usage: { input: usage?.inputTokens ?? 0, output: usage?.outputTokens ?? 0 },
    status
  }
}

export interface PageQuery {
  readonly cursor?: string | undefined
  readonly limit?: number | undefined
  readonly q?: string | undefined
  readonly agent?: string | undefined
  readonly tool?: string | undefined
  readonly failed?: "true" | "false" | undefined
  readonly since?: string | undefined
  readonly until?: string | undefined
  readonly run?: string | undefined
}

/** A query parameter that is not what it should be. */
export class InvalidQuery extends Schema.TaggedError<InvalidQuery>()("InvalidQuery", { detail: Schema.String }) {}

const timeOf = (name: string, value: string | undefined): Effect.Effect<number | undefined, InvalidQuery> => {
  if (value === undefined) return Effect.succeed(undefined)
  const millis = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  return Number.isFinite(millis)
    ? Effect.succeed(millis)
    : Effect.fail(new InvalidQuery({ detail: `${name}=${value}: give an ISO date or Unix milliseconds` }))
}

interface Cursor {
  readonly updatedAt: number
  readonly id: string
}

const encodeCursor = (cursor: Cursor): string =>
  Buffer.from(JSON.stringify([cursor.updatedAt, cursor.id])).toString("base64url")

const decodeCursor = (text: string): Effect.Effect<Cursor, InvalidQuery> =>
  Effect.try({
    try: () => {
      const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"))
      if (!Array.isArray(value) || typeof value[0] !== "number" || typeof value[1] !== "string") throw value
      return { updatedAt: value[0], id: value[1] }
    },
    catch: () => new InvalidQuery({ detail: `cursor=${text} is not a cursor this server gave` })
  })

/** Newest first, then by id. */
const order = (a: SessionStore.Summary, b: SessionStore.Summary) =>
  b.updatedAt - a.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

const after = (row: SessionStore.Summary, cursor: Cursor) =>
  row.updatedAt < cursor.updatedAt || (row.updatedAt === cursor.updatedAt && row.id > cursor.id)

/** The session views over a store. */
export const make = (store: SessionStore.Service, runs: () => Runs.Manager) => {
  /** Facts by session id, kept while the row's `updatedAt` is the same (bounded). */
  const cache = new Map<string, { readonly updatedAt: number; readonly facts: Facts }>()
  const CACHE_LIMIT = 20_000

  const summaryOf = (row: SessionStore.Summary, session: Session.Session): Api.SessionSummary => {
    let cached = cache.get(row.id)
    if (cached === undefined || cached.updatedAt !== row.updatedAt) {
      cached = { updatedAt: row.updatedAt, facts: factsOf(session) }
      if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!)
      cache.set(row.id, cached)
    }
    return summaryFrom(row, cached.facts)
  }

  const summaryFrom = (row: SessionStore.Summary, facts: Facts): Api.SessionSummary => {
    const live = runs().statusOf(row.id)
    return {
      id: row.id,
      name: row.lineage.by?.name ?? null,
      parents: row.lineage.parents,
      entries: row.length,
      createdAt: iso(row.lineage.createdAt),
      updatedAt: iso(row.updatedAt),
      run: runs().runOf(row.id) ?? null,
      agents: facts.agents,
      tools: facts.tools,
      failedChecks: facts.failedChecks,
      usage: facts.usage,
      status: live === "running" || live === "waiting" ? live : facts.status
    }
  }

  /** The facts of a row, loading its session only when they are not cached. */
  const factsFor = (row: SessionStore.Summary) => {
    const cached = cache.get(row.id)
    if (cached !== undefined && cached.updatedAt === row.updatedAt) return Effect.succeed(cached.facts)
    return Effect.map(store.load(row.id), (session) => {
      const facts = factsOf(session)
      if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!)
      cache.set(row.id, { updatedAt: row.updatedAt, facts })
      return facts
    })
  }

  const page = (query: PageQuery) =>
    Effect.gen(function*() {
      const limit = query.limit ?? 100
      const since = yield* timeOf("since", query.since)
      const until = yield* timeOf("until", query.until)
      const cursor = query.cursor === undefined ? undefined : yield* decodeCursor(query.cursor)
      const base = { since, until, agent: query.agent }
      let rows = (yield* store.list(base)).filter((row) => !Runs.isRecordRow(row))
      if (query.q !== undefined && query.q !== "") {
        const q = query.q.toLowerCase()
        const byText = new Set((yield* store.list({ ...base, text: query.q })).map((row) => row.id))
        rows = rows.filter((row) =>
          byText.has(row.id) || row.id.toLowerCase().includes(q) ||
          (row.lineage.by?.name ?? "").toLowerCase().includes(q)
        )
      }
      if (query.run !== undefined) rows = rows.filter((row) => runs().runOf(row.id) === query.run)
      rows.sort(order)
      const expensive = query.tool !== undefined || query.failed !== undefined
      const start = cursor === undefined ? 0 : rows.findIndex((row) => after(row, cursor))
      const from = start === -1 ? rows.length : start
      const items: Array<Api.SessionSummary> = []
      let next: string | null = null
      // rows are walked in order, loading (or taking from the cache) only what the page needs
      for (let i = from; i < rows.length; i++) {
        const row = rows[i]!
        if (items.length === limit) {
          next = encodeCursor(rows[i - 1]!)
          break
        }
        const facts = yield* factsFor(row)
        if (query.tool !== undefined && !facts.tools.includes(query.tool)) continue
        if (query.failed === "true" && facts.failedChecks === 0) continue
        if (query.failed === "false" && facts.failedChecks > 0) continue
        items.push(summaryFrom(row, facts))
      }
      // with filters that need the entries, `total` counts the rows the other filters leave (an upper bound)
      return { items, next, total: expensive ? Math.max(rows.length, items.length) : rows.length }
    })

  const rowOf = (id: string) =>
    Effect.flatMap(store.list({}), (rows) => Effect.succeed(rows.find((row) => row.id === id)))

  const detail = (id: string) =>
    Effect.gen(function*() {
      const session = yield* store.load(id)
      const row = yield* rowOf(id)
      const summary = row === undefined
        ? summaryFrom(
          {
            id: session.id,
            head: Option.none(),
            length: session.length,
            base: session.base,
            lineage: session.lineage,
            placement: session.placement,
            agent: Option.none(),
            updatedAt: session.lineage.createdAt
          },
          factsOf(session)
        )
        : summaryOf(row, session)
      return { summary, entries: encodedEntries(session) }
    })

  return { page, detail, summaryOf }
}

/** The timeline of a session: each model, tool, memory and check entry, in order. */
export const timeline = (session: Session.Session): Array<Api.TimelineItem> => {
  const out: Array<Api.TimelineItem> = []
  let index = 0
  for (const entry of Session.entries(session)) {
    const common = {
      entry: entry.id,
      index,
      agent: entry.author.kind === "agent" ? entry.author.name : null,
      at: iso(entry.timestamp),
      cost: null
    }
    switch (entry._tag) {
      case "Assistant":
      case "ModelCall":
        out.push({
          ...common,
          kind: "model",
          label: entry.model ?? entry.requestedModel ?? "model",
          latencyMs: entry.latencyMs ?? null,
          tokens: entry.usage === undefined
            ? null
            : { input: entry.usage.inputTokens, output: entry.usage.outputTokens },
          ok: entry.finishReason !== "error",
          error: entry.finishReason === "error" ? "the model call ended in an error" : null
        })
        break
      case "ToolResult":
        out.push({
          ...common,
          kind: "tool",
          label: entry.toolName,
          latencyMs: entry.durationMs,
          tokens: null,
          ok: entry.error === undefined,
          error: entry.error === undefined ? null : `${entry.error.kind}: ${entry.error.message}`
        })
        break
      case "Memory":
        out.push({
          ...common,
          kind: "memory",
          label: `${entry.operation} ${entry.store}`,
          latencyMs: null,
          tokens: null,
          ok: true,
          error: null
        })
        break
      case "Check":
        out.push({
          ...common,
          kind: "check",
          label: entry.name,
          latencyMs: null,
          tokens: null,
          ok: entry.passed,
          error: entry.passed ? null : `check ${entry.name} failed`
        })
        break
    }
    index++
  }
  return out
}

/** What a model call was sent (what `rath explain` shows), or `undefined` when the entry is no model call. */
export const callView = (session: Session.Session, entryId: string) => {
  const found = Model.calls(session).find((call) => call.entry.id === entryId)
  if (found === undefined) return undefined
  const { messages, tools, ...options } = found.request
  return {
    entry: entryId,
    messages: messages.map((message) => {
      switch (message._tag) {
        case "System":
          return { role: "system", content: message.text }
        case "User":
          return { role: "user", content: message.text }
        case "Assistant":
          return {
            role: "assistant",
            content: message.text,
            ...(message.toolCalls.length === 0 ? {} : { toolCalls: message.toolCalls })
          }
        case "ToolResult":
          return {
            role: "tool",
            content: message.error === undefined
              ? JSON.stringify(message.output) ?? ""
              : `${message.error.kind}: ${message.error.message}`
          }
      }
    }),
    tools: (tools ?? []).map((tool) => tool.name),
    options,
    verified: found.verified === true
  }
}

/** Two sessions after their shared prefix. */
export const diff = (a: Session.Session, b: Session.Session) => {
  const shared = Session.commonAncestor(a, b)?.length ?? 0
  return {
    common: shared,
    a: encodedEntries(a).slice(shared),
    b: encodedEntries(b).slice(shared)
  }
}

/**
 * A fork of `session` at entry `entryId` (inclusive). With `message`: when the entry is a user
 * message its text is replaced (the fork ends before it and a new user message takes its place),
 * otherwise a user message is appended.
 */
export const forkAt = (session: Session.Session, entryId: string, message: string | undefined) =>
  Effect.gen(function*() {
    const all = Chunk.toReadonlyArray(Session.entries(session))
    const at = all.findIndex((entry) => entry.id === entryId)
    if (at === -1) return Option.none<Session.Session>()
    const target = all[at]!
    const replace = message !== undefined && target._tag === "User"
    const kept = Session.take(session, replace ? at : at + 1)
    let fork = yield* Session.fork(kept)
    if (message !== undefined) fork = yield* Session.append(fork, Entry.user(message))
    return Option.some(fork)
  })
