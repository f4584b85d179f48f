/**
 * 13 — persistence and resume: an agent run saved to a SQLite file as it goes, interrupted in the
 * middle of a tool call, and resumed from the file: completed model and tool calls are not made
 * again, and only the call that was in flight (an idempotent tool) re-runs.
 *
 *   npx tsx examples/13-persistence-resume.ts
 *
 * @expect in flight: status interrupted, 1 model call\(s\) made, open calls: forecast
 * @expect tool runs in all: clock 1, forecast 2
 * @expect resumed run ended: stop after 2 model calls
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Fiber, Option, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Provider } from "rath"
import { Agent, Entry, Resume, Scripted, Session, SessionStore, Tool } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const runs = { clock: 0, forecast: 0 }

// not idempotent (a resume must never run it twice): it finishes before the interruption
const clock = Tool.make({
  name: "clock",
  description: "The current date",
  parameters: Schema.Struct({}),
  handler: () => Effect.sync(() => (runs.clock++, "2026-11-23"))
})

// slow, and safe to repeat: the interruption lands while it runs
const forecast = Tool.make({
  name: "forecast",
  description: "The weather forecast for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  idempotent: true,
  handler: ({ city }) =>
    Effect.sync(() => runs.forecast++).pipe(
      Effect.zipRight(Effect.sleep("300 millis")),
      Effect.as({ city, forecast: "sunny, 18°C" })
    )
})

const planner = Agent.make({
  name: "planner",
  instructions: "Check the date and the forecast, then answer in one sentence.",
  tools: [clock, forecast]
})

// the scripted model: both tools at once, then an answer from their results
const script = (request: Provider.Request) => {
  const results = request.messages.filter(Entry.is("ToolResult"))
  return results.length === 0
    ? {
      toolCalls: [
        { id: "call_clock", name: "clock", arguments: {} },
        { id: "call_forecast", name: "forecast", arguments: { city: "Paris" } }
      ]
    }
    : Scripted.reply(`On ${results[0]!.output} Paris will be ${(results[1]!.output as { forecast: string }).forecast}.`)
}

const show = (label: string, session: Session.Session) => {
  console.log(`\n${label} (${session.id}, ${session.length} entries):`)
  for (const entry of Chunk.toReadonlyArray(Session.ownEntries(session))) {
    const summary = Entry.summary(entry)
    console.log(`  ${entry._tag.padEnd(10)} ${summary.length > 90 ? `${summary.slice(0, 90)}...` : summary}`)
  }
}

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const dir = mkdtempSync(join(tmpdir(), "rath-example-13-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  const filename = join(dir, "rath.db")
  const input = yield* Session.fromUserMessage("Plan my walk in Paris today.")

  // 1. run with persist: every entry is saved before the run goes on; interrupt it mid-tool
  const runId = yield* Effect.gen(function*() {
    const fiber = yield* Effect.fork(Resume.persist(planner(input)))
    yield* Effect.sleep("150 millis")
    yield* Fiber.interrupt(fiber)
    const store = yield* SessionStore.SessionStore
    const [row] = yield* store.list({ agent: "planner" })
    return row!.id
  }).pipe(Effect.provide(SessionStore.layer({ filename })))
  console.log(`interrupted; tool runs so far: clock ${runs.clock}, forecast ${runs.forecast}`)

  // 2. a new store connection (as a new process would have): load, inspect, resume
  const resumed = yield* Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const stored = yield* store.load(runId)
    show("stored run", stored)
    const state = Option.getOrThrow(Resume.inspect(stored))
    console.log(
      `\nin flight: status ${state.status}, ${state.turns} model call(s) made, open calls: ${
        state.openCalls.map((call) => call.name).join(", ")
      }`
    )
    return yield* Resume.persist(Resume.resume(planner)(stored))
  }).pipe(Effect.provide(SessionStore.layer({ filename })))

  show("resumed run", resumed)
  console.log(`\ntool runs in all: clock ${runs.clock}, forecast ${runs.forecast}`)
  console.log(
    `resumed run ended: ${Option.getOrThrow(Agent.lastEnd(resumed)).reason} after ${
      Option.getOrThrow(Agent.lastEnd(resumed)).turns
    } model calls`
  )
  console.log(`lineage: ${resumed.lineage.operation} of ${resumed.lineage.parents.join(", ")}`)
})

program.pipe(Effect.scoped, Effect.provide(providerLayer(script)), NodeRuntime.runMain)
