/**
 * Load on the run server (not CI): 100 runs started over HTTP on the scripted provider and 200
 * concurrent SSE clients following them (two per run); every run must complete and every client
 * must see its run's events with sequence numbers 1, 2, 3, ... (none lost, none reordered) and
 * the same events as the other client of that run. Server memory (RSS, heap) is sampled every
 * 100 ms.
 *
 *   node --import tsx bench/server-load.ts
 */
import { Effect, Redacted } from "effect"
import type { Provider } from "rath"
import { Agent, Scripted, Server, SessionStore } from "rath"

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
  while (!ended) {
    const { done, value } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
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
  return { seqs, status, ended }
}

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
}).pipe(Effect.scoped, Effect.provide(SessionStore.layerMemory), Effect.provide(Scripted.layer(script)))

Effect.runPromise(program).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
