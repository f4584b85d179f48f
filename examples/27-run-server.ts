/**
 * 27 — a run server: an agent registered with `Server.make` (on 127.0.0.1, a free port), a run
 * started over HTTP with the bearer token, its events read from the server-sent event stream as
 * they are saved (each with its sequence number), then the server stops. `rath serve --module`
 * does the same for the workflows a module exports (see docs/server.md).
 *
 *   node --import tsx examples/27-run-server.ts
 *
 * @expect server at http://127\.0\.0\.1:\d+/
 * @expect 201 run run_\S+ started: running
 * @expect 1 entry User: What is the capital of France\?
 * @expect entry Assistant: Paris\.
 * @expect status done
 * @expect end
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Redacted } from "effect"
import { Agent, Server, SessionStore } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const geographer = Agent.make({ name: "geographer", description: "answers geography questions" })

/** Reads a run's server-sent events until `end`. */
const readEvents = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    const lines: Array<string> = []
    let buffer = ""
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return lines
      buffer += decoder.decode(value, { stream: true })
      let cut: number
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const field = (name: string) => block.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2)
        const event = field("event")
        if (event === undefined) continue
        const data = JSON.parse(field("data") ?? "null")
        lines.push(
          event === "entry"
            ? `${field("id")} entry ${data.entry._tag}: ${data.entry.text ?? data.entry.type ?? ""}`
            : event === "status"
            ? `${field("id")} status ${data.status}`
            : `${field("id")} ${event}`
        )
        if (event === "end") {
          await reader.cancel()
          return lines
        }
      }
    }
  })

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const server = yield* Server.make({ workflows: [geographer] })
  console.log(`server at ${server.url} (the token stays in this process: it is never printed here)`)
  const response = yield* Effect.promise(() =>
    fetch(new URL("/api/runs", server.url), {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${Redacted.value(server.token)}` },
      body: JSON.stringify({ workflow: "geographer", input: "What is the capital of France?" })
    })
  )
  const run = yield* Effect.promise(() => response.json() as Promise<{ id: string; status: string }>)
  console.log(`${response.status} run ${run.id} started: ${run.status}`)
  for (const line of yield* readEvents(new URL(`/api/runs/${run.id}/events`, server.url).href)) console.log(line)
}).pipe(Effect.scoped)

program.pipe(
  Effect.provide(SessionStore.layerMemory),
  Effect.provide(providerLayer(["Paris."].map((text) => ({ text })))),
  NodeRuntime.runMain
)
