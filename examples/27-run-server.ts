/**
 * 27 — a run server: an agent registered with `Server.make` (on 127.0.0.1, a free port), a run
 * started over HTTP with the bearer token, its events read from the server-sent event stream as
 * they are saved (each with its sequence number), the session's timeline with each model call's
 * cost from a price table, then the server stops.
 *
 *   node --import tsx examples/27-run-server.ts
 *
 * This file is also a module for `rath serve` (it exports `workflows`, `layer` and `prices`), so
 * the debugger page can start runs of the same agent on the scripted model:
 *
 *   npx rath serve --module examples/27-run-server.ts --store .rath/server.db
 *
 * @expect server at http://127\.0\.0\.1:\d+/
 * @expect 201 run run_\S+ started: running
 * @expect 1 entry User: What is the capital of France\?
 * @expect entry Assistant: Paris\.
 * @expect status done
 * @expect end
 * @expect timeline: model scripted-model \d+/\d+ tok, \$0\.\d+
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Redacted } from "effect"
import { pathToFileURL } from "node:url"
import type { Eval } from "rath"
import { Agent, Server, SessionStore } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const geographer = Agent.make({ name: "geographer", description: "answers geography questions" })

/** What `rath serve --module` registers: the agent, its model, and a price table (USD per million tokens). */
export const workflows = [geographer]
export const layer = providerLayer(() => ({ text: "Paris." }))
export const prices: Eval.Prices = { "scripted-model": { input: 1, output: 4 } }

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
  const server = yield* Server.make({ workflows, prices })
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
  // the session's timeline: each model call with its tokens and its cost from the price table
  const get = <A>(path: string) => Effect.promise(() => fetch(new URL(path, server.url)).then((r) => r.json() as A))
  const info = yield* get<{ result: string }>(`/api/runs/${run.id}`)
  const timeline = yield* get<{
    items: Array<{ kind: string; label: string; tokens: { input: number; output: number }; cost: number | null }>
  }>(`/api/sessions/${info.result}/timeline`)
  for (const item of timeline.items) {
    if (item.kind !== "model") continue
    const cost = item.cost === null ? "unpriced" : `$${item.cost.toFixed(6)}`
    console.log(`timeline: model ${item.label} ${item.tokens.input}/${item.tokens.output} tok, ${cost}`)
  }
}).pipe(Effect.scoped)

// run when executed, not when `rath serve --module` imports it
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  program.pipe(
    Effect.provide(SessionStore.layerMemory),
    Effect.provide(layer),
    NodeRuntime.runMain
  )
}
