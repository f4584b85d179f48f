/**
 * The replay-test pattern (docs/persistence.md, "Replay tests"): a workflow run recorded once
 * (examples/recordings/14-replay.jsonl, made by `examples/14-replay-test.ts --record`) is replayed
 * on every test run: no network, no tool runs, and the re-run must match the recording.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Agent, Provider, Replay, Session, Tool, Workflow } from "rath"
import { question, runs, solver, workflow } from "../examples/_calculator.js"

const recording = Effect.flatMap(
  Effect.sync(() => readFileSync(join(import.meta.dirname, "..", "examples", "recordings", "14-replay.jsonl"), "utf8")),
  Session.fromJsonl
)

describe("replay of a committed recording", () => {
  it.effect("the calculator workflow replays offline and matches its recording", () =>
    Effect.gen(function*() {
      const { closed, session: recorded } = yield* recording
      assert.isTrue(closed, "the recording is complete")
      const replayer = yield* Replay.make(recorded)
      const before = runs.add
      const replayed = yield* workflow(yield* Session.fromUserMessage(question)).pipe(
        Effect.provideService(Provider.Provider, replayer.provider),
        Effect.provideService(Tool.Executor, replayer.executor)
      )
      yield* Replay.verify(recorded, replayed)
      assert.strictEqual(yield* replayer.modelCalls, 3)
      assert.strictEqual(yield* replayer.toolCalls, 1)
      assert.strictEqual(runs.add, before, "no tool ran")
      assert.strictEqual(Option.getOrThrow(Session.lastOf(replayed, "ToolResult")).output, 42)
    }))

  it.effect("changed code fails the replay with the first divergent request", () =>
    Effect.gen(function*() {
      const { session: recorded } = yield* recording
      const changed = Workflow.andThen(solver, Agent.make({ name: "checker", instructions: "Check twice." }))
      const error = yield* changed(yield* Session.fromUserMessage(question)).pipe(
        Effect.provide(Replay.layer(recorded)),
        Effect.flip
      )
      assert.strictEqual(error._tag, "AgentError")
      const cause = (error as Agent.AgentError).cause as Provider.ProviderError
      assert.strictEqual(cause.reason, "ReplayDiverged")
      assert.include(cause.detail, "model request #2 of the re-run")
      // the checker's instructions: the System entry of the recording, its text
      assert.include(cause.detail, "entry #8 (System) differs at text")
      assert.include(cause.detail, `actual   "Check twice."`)
    }))

  it.effect("another question diverges at the first model request", () =>
    Effect.gen(function*() {
      const { session: recorded } = yield* recording
      const replayed = yield* workflow(yield* Session.fromUserMessage("What is 17 + 26?")).pipe(
        Effect.provide(Replay.layer(recorded)),
        Effect.flip
      )
      // the first request already differs (the user's question)
      assert.include(((replayed as Agent.AgentError).cause as Provider.ProviderError).detail, "What is 17 + 26?")
    }))
})
