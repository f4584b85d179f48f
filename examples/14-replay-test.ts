/**
 * 14 — replay tests: record a workflow run once, commit the JSONL, and re-run the same workflow
 * code against the recording, offline: the recording answers every model request (after checking
 * it is the request that was recorded) and every tool call (no tool runs). `Replay.verify` then
 * compares the re-run with the recording entry by entry. test/replay-recording.test.ts is the
 * same check as an `it.effect` test.
 *
 *   npx tsx examples/14-replay-test.ts            # replay the committed recording
 *   npx tsx examples/14-replay-test.ts --record   # record it again (real model if a key is set)
 *
 * @expect replay matches the recording: 11 entries, tools really run: 0
 * @expect entry #8 \(System\) differs at text:\n  expected "Check the solver's answer
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Option } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Agent, Replay, Session, Workflow } from "rath"
import { question, runs, script, solver, workflow } from "./_calculator.js"
import { providerLabel, providerLayer } from "./_provider.js"

const file = join(import.meta.dirname, "recordings", "14-replay.jsonl")

// 1. record (only with --record): run the workflow once and write the session as JSONL
const record = Effect.gen(function*() {
  console.log(`recording with: ${providerLabel()}`)
  const recorded = yield* workflow(yield* Session.fromUserMessage(question))
  writeFileSync(file, Session.toJsonl(recorded))
  console.log(`recorded ${recorded.length} entries to examples/recordings/14-replay.jsonl`)
}).pipe(Effect.provide(providerLayer(script)))

// 2. replay: the same workflow code, with the recording as the model and the tools
const replay = Effect.gen(function*() {
  const { session: recorded } = yield* Session.fromJsonl(readFileSync(file, "utf8"))
  const replayed = yield* workflow(yield* Session.fromUserMessage(question)).pipe(
    Effect.provide(Replay.layer(recorded))
  )
  yield* Replay.verify(recorded, replayed)
  console.log(`replay matches the recording: ${replayed.length} entries, tools really run: ${runs.add}`)
  console.log(
    `last answer: ${Session.lastOf(replayed, "Assistant").pipe((a) => a._tag === "Some" ? a.value.text : "")}`
  )
  console.log(`run ended: ${Option.getOrThrow(Agent.lastEnd(replayed)).reason}`)

  // 3. change the code (the checker's instructions) and the replay reports where it diverges
  const changed = Workflow.andThen(
    solver,
    Agent.make({ name: "checker", instructions: "Check the answer twice." })
  )
  const error = yield* changed(yield* Session.fromUserMessage(question)).pipe(
    Effect.provide(Replay.layer(recorded)),
    Effect.flip
  )
  console.log(`\nafter changing the checker's instructions:\n${error.message}`)
})

const program = process.argv.includes("--record") ? Effect.zipRight(record, replay) : replay

program.pipe(NodeRuntime.runMain)
