/**
 * Load on the run server (not CI): 100 runs started over HTTP on the scripted provider and 200
 * concurrent SSE clients following them (two per run); every run must complete and every client
 * must see its run's events with sequence numbers 1, 2, 3, ... (none lost, none reordered) and
 * the same events as the other client of that run. Server memory (RSS, heap) is sampled every
 * 100 ms.
 *
 * Then one long run (1,500 tool calls, each result 4 KB) over a SQLite store in a temp
 * directory, followed live by one client and replayed by a late one from seq 1: both must see
 * every event in order, and what the server holds on the heap once the run ended (heap after a
 * full GC, minus the same once the server closed) must be much less than the bytes the run's
 * events carry, since the server keeps only a run's newest events whole and reads older entries
 * back from the store.
 *
 *   node --import tsx bench/server-load.ts
 */
import { Effect, Exit, Layer, Redacted, Schema, Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import type { Provider } from "rath"
import { Agent, Scripted, Server, SessionStore, Tool } from "rath"

const RUNS = 100
const CLIENTS_PER_RUN = 2

const agent = Agent.make({ name: "loader", description: "answers after a few turns" })

const script = (request: Provider.Request): Scripted.Step => {
  const user = [...request.messages].reverse().find((m) => m._tag === "User")
  return Scripted.reply(`done: ${user?._tag === "User" ? user.text : ""}`, { chunks: ["done", ": ", "..."] })
}

const follow = async (url: string) => {
  const response = await fetch(url)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const seqs: Array<number> = []
  let buffer = ""
  let ended = false
  let status = ""
  let bytes = 0
  while (!ended) {
    const { done, value } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    bytes += value.byteLength
    let cut: number
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, cut)
      buffer = buffer.slice(cut + 2)
      const id = /^id: (\d+)$/m.exec(block)?.[1]
      const event = /^event: (\w+)$/m.exec(block)?.[1]
      if (id !== undefined) seqs.push(Number(id))
      if (event === "status") status = JSON.parse(/^data: (.*)$/m.exec(block)![1]!).status
      if (event === "end") ended = true
    }
  }
  await reader.cancel().catch(() => undefined)
  return { seqs, status, ended, bytes }
}

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
const heapAfterGc = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const LONG_TURNS = 1500
const tick = Tool.make({
  name: "tick",
  description: "counts",
  parameters: Schema.Struct({ i: Schema.Number }),
  idempotent: true,
  handler: ({ i }) => Effect.succeed({ tock: i, pad: "x".repeat(4096) })
})
const ticker = Agent.make({ name: "ticker", description: "ticks", tools: [tick], maxTurns: LONG_TURNS + 2 })
const tickScript = (request: Provider.Request): Scripted.Step => {
  let done = 0
  for (const m of request.messages) if (m._tag === "ToolResult") done++
  return done < LONG_TURNS ? Scripted.toolCall("tick", { i: done }) : Scripted.reply(`ticked ${done}`)
}

/** One long run on a SQLite store: bounded memory, and every event for a live and a late client. */
const longRun = Effect.gen(function*() {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-server-load-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
  const store = yield* SessionStore.makeSqlite({ filename: Path.join(dir, "long.db") })
  // the scripted provider keeps every request it was sent (for tests): it lives outside the
  // server's scope, so closing the server shows what the server itself held
  const provider = yield* Layer.build(Scripted.layer(tickScript))
  const serverScope = yield* Scope.make()
  const server = yield* Server.make({ workflows: [ticker] }).pipe(
    Effect.provideService(SessionStore.SessionStore, store),
    Effect.provide(provider),
    Scope.extend(serverScope)
  )
  const before = heapAfterGc()
  const started = performance.now()
  const outcome = yield* Effect.promise(async () => {
    const response = await fetch(new URL("/api/runs", server.url), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${Redacted.value(server.token)}` },
      body: JSON.stringify({ workflow: "ticker", input: "tick" })
    })
    const run = (await response.json()) as { id: string }
    const live = await follow(new URL(`/api/runs/${run.id}/events`, server.url).href)
    const afterRun = heapAfterGc()
    const late = await follow(new URL(`/api/runs/${run.id}/events`, server.url).href)
    return { live, late, afterRun }
  })
  yield* Scope.close(serverScope, Exit.void)
  const afterClose = heapAfterGc()
  const serverHeld = outcome.afterRun - afterClose
  const wallMs = performance.now() - started
  const inOrder = (seqs: ReadonlyArray<number>) => seqs.every((seq, k) => seq === k + 1)
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1)
  console.log(
    `long run: ${LONG_TURNS} tool calls, ${outcome.live.seqs.length} events (${mb(outcome.live.bytes)} MB of SSE), ${
      wallMs.toFixed(0)
    } ms; live client in order: ${inOrder(outcome.live.seqs)}, ended ${outcome.live.status}; ` +
      `late client from seq 1: ${outcome.late.seqs.length} events, in order: ${inOrder(outcome.late.seqs)}`
  )
  console.log(
    `long run heap after GC: before ${mb(before)} MB, after the run ${mb(outcome.afterRun)} MB, ` +
      `the server closed ${mb(afterClose)} MB: the server held ${mb(serverHeld)} MB after a run whose events ` +
      `carried ${mb(outcome.live.bytes)} MB (the rest: the store's caches and the scripted provider's request log)`
  )
  const ok = outcome.live.status === "done" && inOrder(outcome.live.seqs) && inOrder(outcome.late.seqs) &&
    outcome.late.seqs.length === outcome.live.seqs.length &&
    serverHeld < outcome.live.bytes / 4
  if (!ok) return yield* Effect.dieMessage("long run check failed")
}).pipe(Effect.scoped)

const program = Effect.gen(function*() {
  const server = yield* Server.make({ workflows: [agent] })
  const token = Redacted.value(server.token)
  const samples: Array<{ rss: number; heap: number }> = []
  const timer = setInterval(() => {
    const m = process.memoryUsage()
    samples.push({ rss: m.rss, heap: m.heapUsed })
  }, 100)
  const started = performance.now()
  const outcome = yield* Effect.promise(async () => {
    const runs = await Promise.all(Array.from({ length: RUNS }, async (_, i) => {
      const response = await fetch(new URL("/api/runs", server.url), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ workflow: "loader", input: `task ${i}` })
      })
      return (await response.json()) as { id: string }
    }))
    const clients = await Promise.all(
      runs.flatMap((run) =>
        Array.from({ length: CLIENTS_PER_RUN }, () => follow(new URL(`/api/runs/${run.id}/events`, server.url).href))
      )
    )
    return { runs, clients }
  })
  clearInterval(timer)
  const wallMs = performance.now() - started
  let lost = 0
  let ended = 0
  let done = 0
  let differing = 0
  outcome.clients.forEach((client, i) => {
    if (client.ended) ended++
    if (client.status === "done") done++
    client.seqs.forEach((seq, k) => {
      if (seq !== k + 1) lost++
    })
    const twin = outcome.clients[i - (i % CLIENTS_PER_RUN)]!
    if (twin.seqs.join(",") !== client.seqs.join(",")) differing++
  })
  const events = outcome.clients.reduce((n, c) => n + c.seqs.length, 0)
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1)
  const max = (k: "rss" | "heap") => Math.max(...samples.map((s) => s[k]))
  const first = samples[0] ?? { rss: 0, heap: 0 }
  console.log(`runs ${RUNS}, SSE clients ${outcome.clients.length}, wall ${wallMs.toFixed(0)} ms`)
  console.log(
    `clients that saw end: ${ended}/${outcome.clients.length}; runs done (as seen by clients): ${done}/${outcome.clients.length}`
  )
  console.log(`events received ${events}; out of sequence ${lost}; clients differing from their twin ${differing}`)
  console.log(
    `memory: rss first ${mb(first.rss)} MB, max ${mb(max("rss"))} MB; heap first ${mb(first.heap)} MB, max ${
      mb(max("heap"))
    } MB (${samples.length} samples)`
  )
  if (ended !== outcome.clients.length || done !== outcome.clients.length || lost > 0 || differing > 0) {
    return yield* Effect.dieMessage("load check failed")
  }
}).pipe(
  Effect.scoped,
  Effect.provide(SessionStore.layerMemory),
  Effect.provide(Scripted.layer(script)),
  Effect.zipRight(longRun)
)

Effect.runPromise(program).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
