/**
 * The run server over real HTTP on 127.0.0.1, on the scripted provider: runs started, streamed
 * (seq, Last-Event-ID), interrupted, approved; sessions paged, forked and re-run; a new server
 * resumes what a stopped one left; bad requests get 4xx JSON; the OpenAPI document.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { SessionStore } from "rath"
import { call, events, gate, serve } from "./server-fixture.js"

const waitFor = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const value = yield* effect
      if (done(value)) return value
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.dieMessage("timed out waiting")
  })

describe("Server", () => {
  it.scopedLive("starts a run and streams its entries in order, with seq and Last-Event-ID resume", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const server = yield* serve(store)
      const workflows = yield* call(server, "/api/workflows")
      assert.deepStrictEqual(workflows.body.items.map((w: any) => w.name), ["echo", "waiter", "treasurer"])
      const started = yield* call(server, "/api/runs", { body: { workflow: "echo", input: "hello" } })
      assert.strictEqual(started.status, 201)
      assert.strictEqual(started.body.status, "running")
      const all = yield* events(server, `/api/runs/${started.body.id}/events`)
      const ids = all.map((e) => e.id!)
      assert.deepStrictEqual(ids, ids.map((_, i) => i + 1))
      assert.strictEqual(all.at(-1)!.event, "end")
      const entries = all.filter((e) => e.event === "entry")
      assert.strictEqual(entries[0]!.data.entry._tag, "User")
      assert.strictEqual(entries[0]!.data.entry.text, "hello")
      const answer = entries.find((e) => e.data.entry._tag === "Assistant")
      assert.strictEqual(answer?.data.entry.text, "echo: hello")
      const done = all.filter((e) => e.event === "status").at(-1)!
      assert.strictEqual(done.data.status, "done")
      // reconnecting after seq 2 gets exactly the rest
      const rest = yield* events(server, `/api/runs/${started.body.id}/events`, { lastEventId: 2 })
      assert.deepStrictEqual(rest.map((e) => e.id), ids.slice(2))
      const info = yield* call(server, `/api/runs/${started.body.id}`)
      assert.strictEqual(info.body.status, "done")
      const result = yield* call(server, `/api/sessions/${info.body.result}`)
      assert.strictEqual(result.status, 200)
      assert.strictEqual(result.body.summary.status, "done")
      assert.strictEqual(result.body.summary.run, started.body.id)
      assert.strictEqual(result.body.entries.at(-2)._tag, "Assistant")
      // the UI stream of the same run
      const ui = yield* events(server, `/api/runs/${started.body.id}/events?format=ui`, {
        until: (e) => e.data === "data: [DONE]" || e.data?.type === "finish"
      })
      assert.deepStrictEqual(ui[0]!.data, { type: "start" })
      assert.ok(ui.some((e) => e.data?.type === "text-delta" && e.data.delta === "echo: hello"))
      assert.deepStrictEqual(ui.at(-1)!.data, { type: "finish", finishReason: "stop" })
    }))

  it.scopedLive("interrupts a run: status interrupted, the session saved with rath.run.end interrupted", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const server = yield* serve(store)
      const started = yield* call(server, "/api/runs", { body: { workflow: "waiter", input: "go" } })
      // the run waits in its tool call
      yield* events(server, `/api/runs/${started.body.id}/events`, {
        until: (e) => e.event === "entry" && e.data.entry._tag === "Assistant"
      })
      const unauthorized = yield* call(server, `/api/runs/${started.body.id}/interrupt`, { body: {}, token: null })
      assert.strictEqual(unauthorized.status, 401)
      const interrupted = yield* call(server, `/api/runs/${started.body.id}/interrupt`, { body: {} })
      assert.strictEqual(interrupted.status, 200)
      const info = yield* waitFor(call(server, `/api/runs/${started.body.id}`), (a) => a.body.status !== "running")
      assert.strictEqual(info.body.status, "interrupted")
      const all = yield* events(server, `/api/runs/${started.body.id}/events`)
      const ends = all.filter((e) => e.event === "entry" && e.data.entry.type === "rath.run.end")
      assert.strictEqual(ends.at(-1)!.data.entry.data.reason, "interrupted")
      const again = yield* call(server, `/api/runs/${started.body.id}/interrupt`, { body: {} })
      assert.strictEqual(again.status, 409)
    }))

  it.scopedLive("an approval answered over HTTP lets the run go on", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const server = yield* serve(store)
      const started = yield* call(server, "/api/runs", { body: { workflow: "treasurer", input: "pay ada" } })
      const upTo = yield* events(server, `/api/runs/${started.body.id}/events`, {
        until: (e) => e.event === "approval"
      })
      const approval = upTo.at(-1)!.data
      assert.strictEqual(approval.tool, "transfer")
      assert.deepStrictEqual(approval.arguments, { amount: 30 })
      const waiting = yield* call(server, `/api/runs/${started.body.id}`)
      assert.strictEqual(waiting.body.status, "waiting")
      const listed = yield* call(server, "/api/approvals")
      assert.deepStrictEqual(listed.body.items.map((a: any) => a.id), [approval.id])
      assert.strictEqual(
        (yield* call(server, `/api/approvals/${approval.id}`, {
          body: { decision: "approve" },
          token: "wrong"
        })).status,
        401
      )
      assert.strictEqual((yield* call(server, "/api/approvals/nope", { body: { decision: "approve" } })).status, 404)
      const answered = yield* call(server, `/api/approvals/${approval.id}`, { body: { decision: "approve" } })
      assert.deepStrictEqual(answered.body, { ok: true })
      const all = yield* events(server, `/api/runs/${started.body.id}/events`)
      const result = all.find((e) => e.event === "entry" && e.data.entry._tag === "ToolResult")!
      assert.deepStrictEqual(result.data.entry.output, { sent: 30 })
      assert.strictEqual(result.data.entry.approval.decision, "approved")
      assert.strictEqual(all.filter((e) => e.event === "status").at(-1)!.data.status, "done")
      assert.deepStrictEqual((yield* call(server, "/api/approvals")).body.items, [])
    }))

  it.scopedLive("a server started over the store of a stopped one resumes the run it left in flight", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const first = yield* Scope.make()
      const server = yield* Scope.extend(serve(store), first)
      const started = yield* call(server, "/api/runs", { body: { workflow: "waiter", input: "survive" } })
      yield* events(server, `/api/runs/${started.body.id}/events`, {
        until: (e) => e.event === "entry" && e.data.entry._tag === "Assistant"
      })
      // stopped mid-run, the tool call in flight
      yield* Scope.close(first, Exit.void)
      const g = gate()
      g.release()
      const second = yield* serve(store, g)
      const info = yield* waitFor(call(second, `/api/runs/${started.body.id}`), (a) => a.body.status === "done")
      assert.strictEqual(info.body.workflow, "waiter")
      const result = yield* call(second, `/api/sessions/${info.body.result}`)
      const entries: Array<any> = result.body.entries
      assert.strictEqual(entries.at(-2)._tag, "Assistant")
      assert.strictEqual(entries.at(-2).text, "echo: survive")
      // the tool ran to a result once the new server resumed the run
      assert.ok(entries.some((e) => e._tag === "ToolResult" && e.output?.waited === true))
    }))

  it.scopedLive("forks a stored session at an entry and re-runs it with an edited message", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const server = yield* serve(store)
      const started = yield* call(server, "/api/runs", { body: { workflow: "echo", input: "first" } })
      yield* events(server, `/api/runs/${started.body.id}/events`)
      const run = (yield* call(server, `/api/runs/${started.body.id}`)).body
      const stored = (yield* call(server, `/api/sessions/${run.result}`)).body
      const user = stored.entries.find((e: any) => e._tag === "User")
      const forked = yield* call(server, `/api/sessions/${run.result}/fork`, {
        body: { entry: user.id, message: "second", workflow: "echo" }
      })
      assert.strictEqual(forked.status, 201)
      assert.notStrictEqual(forked.body.session, run.result)
      yield* events(server, `/api/runs/${forked.body.run.id}/events`)
      const rerun = (yield* call(server, `/api/runs/${forked.body.run.id}`)).body
      const result = (yield* call(server, `/api/sessions/${rerun.result}`)).body
      const texts = result.entries.filter((e: any) => e._tag === "User" || e._tag === "Assistant").map((e: any) =>
        e.text
      )
      assert.deepStrictEqual(texts, ["second", "echo: second"])
      // the timeline, the call view and the diff of the two branches
      const timeline = (yield* call(server, `/api/sessions/${rerun.result}/timeline`)).body.items
      assert.deepStrictEqual(timeline.map((i: any) => i.kind), ["model"])
      const callView = (yield* call(server, `/api/sessions/${rerun.result}/calls/${timeline[0].entry}`)).body
      assert.deepStrictEqual(callView.messages.filter((m: any) => m.role === "user").map((m: any) => m.content), [
        "second"
      ])
      const diff = (yield* call(server, `/api/diff?a=${run.result}&b=${rerun.result}`)).body
      assert.strictEqual(diff.common, 0)
      assert.strictEqual(diff.b.find((e: any) => e._tag === "User").text, "second")
      const unknownEntry = yield* call(server, `/api/sessions/${run.result}/fork`, { body: { entry: "nope" } })
      assert.strictEqual(unknownEntry.status, 404)
      assert.strictEqual(unknownEntry.body.reason, "UnknownEntry")
    }))

  it.scopedLive("bad requests get 4xx JSON with a reason; the OpenAPI document lists the endpoints", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const server = yield* serve(store)
      const unknown = yield* call(server, "/api/runs", { body: { workflow: "nope" } })
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.body.reason, "UnknownWorkflow")
      assert.match(unknown.body.error, /echo, waiter, treasurer/)
      const malformed = yield* call(server, "/api/runs", { body: { flow: 1 } })
      assert.strictEqual(malformed.status, 400)
      assert.strictEqual(malformed.body.reason, "BadRequest")
      const noToken = yield* call(server, "/api/runs", { body: { workflow: "echo" }, token: null })
      assert.strictEqual(noToken.status, 401)
      assert.strictEqual(noToken.body.reason, "Unauthorized")
      assert.strictEqual((yield* call(server, "/api/sessions/s_nope")).status, 404)
      assert.strictEqual((yield* call(server, "/api/runs/r_nope")).status, 404)
      const limit = yield* call(server, "/api/sessions?limit=0")
      assert.strictEqual(limit.status, 400)
      const big = yield* call(server, "/api/runs", { body: { workflow: "echo", input: "x".repeat(70 * 1024) } })
      assert.strictEqual(big.status, 413)
      const cross = yield* Effect.promise(() =>
        fetch(new URL("/api/runs", server.url), {
          method: "POST",
          headers: { origin: "http://evil.example", "content-type": "application/json" },
          body: "{}"
        })
      )
      assert.strictEqual(cross.status, 403)
      const doc = (yield* call(server, "/api/openapi.json")).body
      const paths = Object.keys(doc.paths).sort()
      for (
        const path of [
          "/api/runs",
          "/api/runs/{id}/events",
          "/api/runs/{id}/interrupt",
          "/api/approvals/{id}",
          "/api/sessions",
          "/api/sessions/{id}/fork",
          "/api/sessions/{id}/timeline",
          "/api/sessions/{id}/calls/{entry}",
          "/api/diff",
          "/api/events"
        ]
      ) assert.include(paths, path)
      assert.strictEqual((yield* call(server, "/")).status, 200)
    }))
})
