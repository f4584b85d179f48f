/**
 * The in-memory SessionStore backend. It keeps the session values themselves: they share their
 * chains in memory, so memory grows with new entries exactly as the SQLite store's rows do.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Session from "../Session.js"
import type * as SessionStore from "../SessionStore.js"
import type { ErrorFields } from "./storeCodec.js"
import { chainHasText, divergence, jsonlOps } from "./storeCodec.js"

const toSummary = (row: Row): SessionStore.Summary => ({
  id: row.session.id,
  head: Option.map(Session.head(row.session), (entry) => entry.id),
  length: row.session.length,
  base: row.session.base,
  lineage: row.session.lineage,
  placement: row.session.placement,
  agent: row.agent,
  updatedAt: row.updatedAt
})

const agentName = (agent: Option.Option<unknown>): string | undefined => {
  if (Option.isNone(agent)) return undefined
  const value = agent.value
  return typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string"
    ? (value as { name: string }).name
    : undefined
}

type E = SessionStore.SessionStoreError

interface Row {
  readonly session: Session.Session
  readonly agent: Option.Option<unknown>
  readonly updatedAt: number
  readonly seq: number
}

export const make = (fail: (fields: ErrorFields) => E): SessionStore.Service => {
  const rows = new Map<string, Row>()
  let seq = 0

  const notFound = (id: string) => fail({ reason: "NotFound", detail: `no session ${id} in the store`, sessionId: id })

  const get = (id: string): Effect.Effect<Row, E> =>
    Effect.suspend(() => {
      const row = rows.get(id)
      return row === undefined ? Effect.fail(notFound(id)) : Effect.succeed(row)
    })

  const save = (session: Session.Session, options?: SessionStore.SaveOptions) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        const stored = rows.get(session.id)
        if (stored !== undefined) {
          const detail = divergence(
            { length: stored.session.length, head: stored.session.node?.entry.id },
            session
          )
          if (detail !== undefined) return Effect.fail(fail({ reason: "Conflict", detail, sessionId: session.id }))
        }
        const agent = options !== undefined && "agent" in options && options.agent !== undefined
          ? Option.some(structuredClone(options.agent))
          : stored?.agent ?? Option.none()
        rows.set(session.id, { session, agent, updatedAt: now, seq: stored?.seq ?? seq++ })
        return Effect.succeed({
          appended: session.length - (stored?.session.length ?? 0),
          created: stored === undefined
        })
      }))

  const sorted = (): Array<Row> =>
    Array.from(rows.values()).sort((a, b) =>
      a.session.lineage.createdAt - b.session.lineage.createdAt || (a.session.id < b.session.id ? -1 : 1)
    )

  const list = (options?: SessionStore.ListOptions) =>
    Effect.sync(() => {
      const out: Array<SessionStore.Summary> = []
      for (const row of sorted()) {
        const { lineage } = row.session
        if (options?.since !== undefined && lineage.createdAt < options.since) continue
        if (options?.until !== undefined && lineage.createdAt >= options.until) continue
        if (options?.parent !== undefined && !lineage.parents.includes(options.parent)) continue
        if (
          options?.agent !== undefined && lineage.by?.name !== options.agent &&
          agentName(row.agent) !== options.agent
        ) continue
        if (options?.text !== undefined && !chainHasText(row.session.node, options.text)) continue
        out.push(toSummary(row))
        if (options?.limit !== undefined && out.length >= options.limit) break
      }
      return out
    })

  /** Breadth-first over lineage edges; each session once, nearest first (then by creation). */
  const walk = (id: string, next: (row: Row) => ReadonlyArray<string>) =>
    Effect.flatMap(get(id), (start) =>
      Effect.sync(() => {
        const seen = new Set<string>([id])
        const out: Array<readonly [Row, number]> = []
        let frontier = [start]
        for (let depth = 1; frontier.length > 0; depth++) {
          const following: Array<Row> = []
          for (const row of frontier) {
            for (const other of next(row)) {
              if (seen.has(other)) continue
              seen.add(other)
              const found = rows.get(other)
              if (found !== undefined) {
                out.push([found, depth])
                following.push(found)
              }
            }
          }
          frontier = following
        }
        return out
          .sort(([a, da], [b, db]) =>
            da - db || a.session.lineage.createdAt - b.session.lineage.createdAt ||
            (a.session.id < b.session.id ? -1 : 1)
          )
          .map(([row]) => toSummary(row))
      }))

  const ancestors = (id: string) => walk(id, (row) => row.session.lineage.parents)
  const descendants = (id: string) =>
    walk(id, (row) =>
      sorted()
        .filter((other) => other.session.lineage.parents.includes(row.session.id))
        .map((other) => other.session.id))

  const load = (id: string) => Effect.map(get(id), (row) => row.session)

  const { exportJsonl, importJsonl } = jsonlOps(save, load, fail)

  return {
    save,
    load,
    list,
    ancestors,
    descendants,
    delete: (id) => Effect.flatMap(get(id), () => Effect.sync(() => void rows.delete(id))),
    prune: (olderThan) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const cutoff = now - Duration.toMillis(Duration.decode(olderThan))
          let removed = 0
          for (const [id, row] of rows) {
            if (row.updatedAt < cutoff) {
              rows.delete(id)
              removed++
            }
          }
          return removed
        })),
    exportJsonl,
    importJsonl
  }
}
