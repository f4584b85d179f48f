/**
 * The run server as a debugger, over real HTTP on 127.0.0.1 on the scripted provider: each model
 * call's cost from a price table; a long run's event log stays bounded in memory while a late
 * client still gets every event (read back from the store); the `tool`/`failed` totals say when
 * they are exact; the graph pages through the store and draws a session's lineage; the AI SDK
 * UI stream of a run, read by the AI SDK's own client code.
 */
import { assert, describe, it } from "@effect/vitest"
import { DefaultChatTransport, readUIMessageStream, type UIMessage } from "ai"
import { Chunk, Effect, Layer, Option, Schema, Stream } from "effect"
import type { Provider } from "rath"
import { Agent, Entry, type Eval, Scripted, Server, Session, SessionStore, Tool } from "rath"
import * as Runs from "../src/internal/server/runs.js"
import { call, events, gate, makeAgents, script, TOKEN } from "./server-fixture.js"

const serveWith = (store: SessionStore.Service, options: { readonly prices?: Eval.Prices } = {}) => {
  const { echo, treasurer, waiter } = makeAgents(gate())
  return Server.make({ workflows: [echo, waiter, treasurer], token: TOKEN, ...options }).pipe(
    Effect.provideService(SessionStore.SessionStore, store),
    Effect.provide(Scripted.layer(script))
  )
}

const waitDone = (server: Server.Server, id: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const run = (yield* call(server, `/api/runs/${id}`)).body
      if (run.status !== "running" && run.status !== "waiting") return run
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.dieMessage(`run ${id} did not end`)
  })

/** An agent that calls `tick` `n` times, one call per turn, then answers. */
const ticker = (n: number) => {
  const tick = Tool.make({
    name: "tick",
    description: "counts",
    parameters: Schema.Struct({ i: Schema.Number }),
    idempotent: true,
    handler: ({ i }) => Effect.succeed({ tock: i, pad: "x".repeat(200) })
  })
  const agent = Agent.make({ name: "ticker", description: "ticks", tools: [tick], maxTurns: n + 2 })
  const steps = (request: Provider.Request): Scripted.Step => {
    const done = request.messages.filter((m) => m._tag === "ToolResult").length
    return done < n ? Scripted.toolCall("tick", { i: done }) : Scripted.reply(`ticked ${done}`)
  }
  return { agent, steps }
}

describe("the run server as a debugger", () => {
  it.scopedLive("the timeline has each model call's cost from the price table; none without one", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const priced = yield* serveWith(store, {
        prices: { "scripted-model": { input: 2, output: 8 }, "other": { input: 100, output: 100 } }
      })
      const started = yield* call(priced, "/api/runs", { body: { workflow: "echo", input: "what does it cost" } })
      const run = yield* waitDone(priced, started.body.id)
      const items = (yield* call(priced, `/api/sessions/${run.result}/timeline`)).body.items
      const model = items.find((item: any) => item.kind === "model")
      assert.strictEqual(model.label, "scripted-model")
      assert.isAbove(model.tokens.input, 0)
      assert.closeTo(model.cost, (model.tokens.input * 2 + model.tokens.output * 8) / 1_000_000, 1e-15)
      // a model the table does not price, and a server with no table: no cost
      const unpriced = yield* serveWith(store, { prices: { "gpt-": { input: 1, output: 1 } } })
      const again = (yield* call(unpriced, `/api/sessions/${run.result}/timeline`)).body.items
      assert.strictEqual(again.find((item: any) => item.kind === "model").cost, null)
      const plain = yield* serveWith(store)
      const none = (yield* call(plain, `/api/sessions/${run.result}/timeline`)).body.items
      assert.strictEqual(none.find((item: any) => item.kind === "model").cost, null)
    }))

  it.scopedLive(
    "a long run keeps a bounded event log; a late client still gets every event in order",
    () =>
      Effect.gen(function*() {
        const store = yield* SessionStore.makeMemory
        const { agent, steps } = ticker(400)
        const context = yield* Layer.build(Scripted.layer(steps))
        const manager = yield* Runs.make({
          store,
          workflows: [{ name: "ticker", description: "ticks", step: agent as any }],
          context: context as any
        })
        const session = yield* Session.fromUserMessage("tick")
        const info = yield* Effect.mapError(manager.start(manager.workflows[0]!, session), (f) => new Error(f.error))
        let most = 0
        for (let i = 0; i < 3000; i++) {
          const kept = manager.retained(info.id)
          if (kept._tag === "Some") most = Math.max(most, kept.value.recent)
          if (Option.exists(manager.get(info.id), (run) => run.status === "done")) break
          yield* Effect.sleep("5 millis")
        }
        const kept = manager.retained(info.id)
        assert.strictEqual(kept._tag, "Some")
        if (kept._tag !== "Some") return
        // 400 turns: a model call and a tool result each, and more: far more events than are kept whole
        assert.isAbove(kept.value.seq, 800)
        assert.isAtMost(most, 2 * Runs.RECENT)
        assert.isAtMost(kept.value.recent, Runs.RECENT_ENDED)
        assert.isAtMost(kept.value.segments, 10)
        // a client from the start gets seq 1..n, the entries as stored
        const collect = (after: number) =>
          Effect.map(Stream.runCollect(Option.getOrThrow(manager.events(info.id, after))), Chunk.toReadonlyArray)
        const all = yield* collect(0)
        assert.deepStrictEqual(all.map((e) => e.seq), Array.from({ length: kept.value.seq }, (_, i) => i + 1))
        // every entry event is the entry its session holds at that index, as stored
        const streamed = all.filter((e) => e.event === "entry").map((e) => e.data as any)
        assert.isAbove(streamed.length, 800)
        const sessions = new Map<string, ReadonlyArray<Entry.Entry>>()
        for (const e of streamed) {
          if (!sessions.has(e.session)) sessions.set(e.session, [...Session.entries(yield* store.load(e.session))])
          assert.deepStrictEqual(e.entry, Schema.encodeSync(Entry.Entry)(sessions.get(e.session)![e.index]!))
        }
        const result = yield* store.load(Option.getOrThrow(manager.get(info.id)).result!)
        assert.strictEqual(streamed.at(-1).index, result.length - 1)
        // a client resuming in the middle (Last-Event-ID) gets exactly the rest
        const rest = yield* collect(500)
        assert.deepStrictEqual(rest.map((e) => e.seq), all.slice(500).map((e) => e.seq))
        assert.deepStrictEqual(rest, all.slice(500))
      }),
    60_000
  )

  it.scopedLive("the tool and failed filters say whether their total is exact", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const server = yield* serveWith(store)
      const tool = (i: number) =>
        Entry.toolResult({ callId: `c${i}`, toolName: i % 3 === 0 ? "search" : "write", output: i })
      for (let i = 0; i < 30; i++) {
        const s = yield* Session.fromUserMessage(`task ${i}`)
        yield* store.save(yield* Session.append(s, tool(i)))
      }
      const first = (yield* call(server, "/api/sessions?tool=search&limit=3")).body
      assert.strictEqual(first.items.length, 3)
      assert.isFalse(first.totalExact)
      assert.strictEqual(first.total, 30, "an upper bound: the sessions the other filters leave")
      // once every session was read (the rest of the pages), the total is exact
      let next = first.next
      let seen = first.items.length
      while (next !== null) {
        const page = (yield* call(server, `/api/sessions?tool=search&limit=3&cursor=${next}`)).body
        seen += page.items.length
        next = page.next
      }
      assert.strictEqual(seen, 10)
      const again = (yield* call(server, "/api/sessions?tool=search&limit=3")).body
      assert.isTrue(again.totalExact)
      assert.strictEqual(again.total, 10)
      // one page that holds them all is exact at once; without those filters always exact
      const fresh = yield* serveWith(store)
      const whole = (yield* call(fresh, "/api/sessions?tool=search&limit=100")).body
      assert.deepStrictEqual([whole.total, whole.totalExact], [10, true])
      const plain = (yield* call(fresh, "/api/sessions?limit=2")).body
      assert.deepStrictEqual([plain.total, plain.totalExact], [30, true])
    }))

  it.scopedLive("the graph pages through the store and draws any session's lineage", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const root = yield* Session.fromUserMessage("root")
      yield* store.save(root)
      const child = yield* Session.fork(root)
      yield* store.save(child)
      const grandchild = yield* Session.fork(child)
      yield* store.save(grandchild)
      for (let i = 0; i < 250; i++) yield* store.save(yield* Session.fromUserMessage(`filler ${i}`))
      const server = yield* serveWith(store)
      const ids = new Set<string>()
      let cursor: string | null = null
      let pages = 0
      do {
        const graph: any = (yield* call(server, `/api/graph?limit=100${cursor === null ? "" : `&cursor=${cursor}`}`))
          .body
        assert.strictEqual(graph.total, 253)
        assert.isTrue(graph.totalExact)
        for (const node of graph.nodes) ids.add(node.id)
        cursor = graph.next
        pages++
      } while (cursor !== null)
      assert.strictEqual(pages, 3)
      assert.strictEqual(ids.size, 253)
      // filters apply to the graph as to the list
      const search = (yield* call(server, "/api/graph?q=filler%2017")).body
      const listed = (yield* call(server, "/api/sessions?q=filler%2017")).body
      assert.strictEqual(listed.total, 11, "filler 17 and filler 170 to 179")
      assert.sameMembers(search.nodes.map((n: any) => n.id), listed.items.map((s: any) => s.id))
      // a session's lineage: its ancestors and descendants, and not the unrelated sessions
      const lineage = (yield* call(server, `/api/graph?session=${child.id}`)).body
      assert.sameMembers(lineage.nodes.map((n: any) => n.id), [root.id, child.id, grandchild.id])
      assert.strictEqual(lineage.edges.length, 2)
      assert.strictEqual((yield* call(server, "/api/graph?session=s_nope")).status, 404)
    }))

  it.scopedLive("the AI SDK UI stream of a run (?format=ui), read by the AI SDK's own client code", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      const server = yield* serveWith(store)
      const started = yield* call(server, "/api/runs", { body: { workflow: "treasurer", input: "pay" } })
      const upTo = yield* events(server, `/api/runs/${started.body.id}/events`, {
        until: (e) => e.event === "approval"
      })
      yield* call(server, `/api/approvals/${upTo.at(-1)!.data.id}`, { body: { decision: "approve" } })
      yield* waitDone(server, started.body.id)
      const read = yield* Effect.promise(async () => {
        const transport = new DefaultChatTransport({
          api: new URL("/api/chat", server.url).href,
          prepareReconnectToStreamRequest: ({ id }) => ({
            api: new URL(`/api/runs/${id}/events?format=ui`, server.url).href
          })
        })
        const stream = await transport.reconnectToStream({ chatId: started.body.id })
        if (stream === null) throw new Error("no stream")
        const errors: Array<unknown> = []
        let last: UIMessage | undefined
        for await (const message of readUIMessageStream({ stream, onError: (e) => errors.push(e) })) last = message
        return { last, errors }
      })
      assert.deepStrictEqual(read.errors, [])
      const parts = read.last!.parts as Array<any>
      const toolPart = parts.find((p) => p.type === "tool-transfer")
      assert.strictEqual(toolPart.state, "output-available")
      assert.deepStrictEqual(toolPart.input, { amount: 30 })
      assert.deepStrictEqual(toolPart.output, { sent: 30 })
      const texts = parts.filter((p) => p.type === "text").map((p) => p.text)
      assert.deepStrictEqual(texts, ["echo: pay"])
    }))
})
