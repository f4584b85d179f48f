/**
 * A server stopped mid-run and a new one over the same SQLite file (a new connection, as a new
 * process would open): the run is found in the store and resumed to its end, its tool call made
 * once it is let go; the graph of the run and the store-wide event stream answer.
 */
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { SessionStore } from "rath"
import { call, events, gate, serve } from "./server-fixture.js"

describe("Server restart", () => {
  it.scopedLive(
    "a new server over the same SQLite store resumes the run a stopped one left",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-server-restart-" })
        const filename = `${dir}/rath.db`
        const first = yield* Scope.make()
        const store1 = yield* Scope.extend(SessionStore.makeSqlite({ filename }), first)
        const server1 = yield* Scope.extend(serve(store1), first)
        const started = yield* call(server1, "/api/runs", { body: { workflow: "waiter", input: "durable" } })
        const before = yield* events(server1, `/api/runs/${started.body.id}/events`, {
          until: (e) => e.event === "entry" && e.data.entry._tag === "Assistant"
        })
        assert.ok(before.some((e) => e.event === "entry" && e.data.entry._tag === "Assistant"))
        yield* Scope.close(first, Exit.void)

        const store2 = yield* SessionStore.makeSqlite({ filename })
        const g = gate()
        const server2 = yield* serve(store2, g)
        const listed = yield* call(server2, "/api/runs?status=running")
        assert.deepStrictEqual(listed.body.items.map((r: any) => r.id), [started.body.id])
        g.release()
        const after = yield* events(server2, `/api/runs/${started.body.id}/events`)
        const ids = after.map((e) => e.id)
        assert.deepStrictEqual(ids, ids.map((_, i) => i + 1))
        assert.strictEqual(after.filter((e) => e.event === "status").at(-1)!.data.status, "done")
        const run = (yield* call(server2, `/api/runs/${started.body.id}`)).body
        const result = (yield* call(server2, `/api/sessions/${run.result}`)).body
        assert.strictEqual(result.entries.at(-2).text, "echo: durable")
        assert.strictEqual(result.entries.filter((e: any) => e._tag === "Assistant").length, 2)
        // the run's sessions as a graph, and the run records left out of the session list
        const graph = (yield* call(server2, `/api/graph?run=${started.body.id}`)).body
        assert.include(graph.nodes.map((n: any) => n.id), run.result)
        const sessions = (yield* call(server2, "/api/sessions")).body
        assert.ok(sessions.items.every((s: any) => s.name !== "rath.server.run"))
        assert.include(sessions.items.map((s: any) => s.id), run.result)
        // the store-wide stream hears a new run
        const live = yield* Effect.fork(events(server2, "/api/events", { until: (e) => e.event === "run" }))
        yield* Effect.sleep("100 millis")
        yield* call(server2, "/api/runs", { body: { workflow: "echo", input: "ping" } })
        const heard = yield* live.await.pipe(Effect.flatten)
        assert.strictEqual(heard.at(-1)!.data.workflow, "echo")
      }).pipe(Effect.provide(NodeContext.layer)),
    { timeout: 60_000 }
  )
})
