/**
 * Paging 2,000 stored sessions over HTTP: every session exactly once, newest first, across pages;
 * the filters (text, agent, tool, failed check, time) combine with paging.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Entry, Session, SessionStore } from "rath"
import { call, serve } from "./server-fixture.js"

describe("Server paging", () => {
  it.scopedLive("pages 2,000 sessions with filters", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      for (let i = 0; i < 2000; i++) {
        let session = yield* Session.fromUserMessage(`task ${i}${i % 100 === 7 ? " needle" : ""}`)
        if (i % 10 === 0) {
          session = yield* Session.append(
            session,
            Entry.toolResult({ callId: `c${i}`, toolName: "grep", output: "ok", durationMs: 1 })
          )
        }
        if (i % 250 === 3) session = yield* Session.append(session, Entry.check("tests", false))
        yield* store.save(session)
      }
      const server = yield* serve(store)
      const seen: Array<string> = []
      let cursor: string | null = null
      let pages = 0
      do {
        const query: string = cursor === null ? "" : `&cursor=${cursor}`
        const page: any = (yield* call(server, `/api/sessions?limit=500${query}`)).body
        assert.strictEqual(page.total, 2000)
        seen.push(...page.items.map((s: any) => s.id))
        const times = page.items.map((s: any) => s.updatedAt)
        assert.deepStrictEqual(times, [...times].sort().reverse())
        cursor = page.next
        pages++
      } while (cursor !== null)
      assert.strictEqual(pages, 4)
      assert.strictEqual(seen.length, 2000)
      assert.strictEqual(new Set(seen).size, 2000)
      const needles = (yield* call(server, "/api/sessions?q=needle")).body
      assert.strictEqual(needles.items.length, 20)
      const grep = (yield* call(server, "/api/sessions?tool=grep&limit=50")).body
      assert.strictEqual(grep.items.length, 50)
      assert.ok(grep.items.every((s: any) => s.tools.includes("grep")))
      const failed = (yield* call(server, "/api/sessions?failed=true")).body
      assert.strictEqual(failed.items.length, 8)
      assert.ok(failed.items.every((s: any) => s.failedChecks === 1))
      const both = (yield* call(server, "/api/sessions?failed=true&q=needle")).body
      assert.strictEqual(both.items.length, 0)
      const future = (yield* call(server, "/api/sessions?since=2999-01-01T00:00:00Z")).body
      assert.deepStrictEqual(future.items, [])
      const bad = yield* call(server, "/api/sessions?since=yesterday")
      assert.strictEqual(bad.status, 400)
      const badCursor = yield* call(server, "/api/sessions?cursor=zzz")
      assert.strictEqual(badCursor.status, 400)
    }), { timeout: 60_000 })
})
