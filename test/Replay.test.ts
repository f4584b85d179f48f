import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Option, Schema } from "effect"
import { Entry, IdGenerator, Provider, Replay, Scripted, Session, Tool } from "rath"

// a minimal tool loop written against the public boundary (Provider + Tool.execute), so replay is
// tested independently of the agent
const loop = <R>(toolkit: Tool.Toolkit<R>) => (input: Session.Session) =>
  Effect.gen(function*() {
    let session = input
    for (let turn = 0; turn < 5; turn++) {
      const request: Provider.Request = {
        messages: Chunk.toReadonlyArray(Session.transcript(session)),
        tools: toolkit.definitions
      }
      const response = yield* Provider.chat(request)
      session = yield* Session.append(session, Provider.toDraft(response, { kind: "agent", name: "mini" }, request))
      if (response.toolCalls.length === 0) return session
      for (const call of response.toolCalls) {
        const outcome = yield* Tool.execute(toolkit, call, { session })
        session = yield* Session.append(
          session,
          Entry.toolResult({ ...outcome, author: { kind: "tool", name: outcome.toolName } })
        )
      }
    }
    return session
  })

const makeToolkit = (sideEffects: Array<number>) =>
  Tool.toolkit(Tool.make({
    name: "add",
    description: "Adds two numbers",
    parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
    handler: ({ a, b }) => Effect.sync(() => (sideEffects.push(a + b), a + b))
  })).pipe(Effect.orDie)

const record = Effect.gen(function*() {
  const effects: Array<number> = []
  const toolkit = yield* makeToolkit(effects)
  const scripted = yield* Scripted.make([Scripted.toolCall("add", { a: 2, b: 3 }), Scripted.reply("The answer is 5")])
  const input = yield* Session.fromUserMessage("what is 2 + 3?")
  const recorded = yield* loop(toolkit)(input).pipe(Effect.provideService(Provider.Provider, scripted.service))
  return { recorded, effects }
})

describe("Replay", () => {
  it.effect("re-runs a workflow offline from the recording, without running tools, and verifies", () =>
    Effect.gen(function*() {
      const { effects, recorded } = yield* record
      assert.deepStrictEqual(effects, [5])
      assert.strictEqual(recorded.length, 4)

      const replayEffects: Array<number> = []
      const toolkit = yield* makeToolkit(replayEffects)
      const replayer = yield* Replay.make(recorded)
      const input = yield* Session.fromUserMessage("what is 2 + 3?")
      const replayed = yield* loop(toolkit)(input).pipe(
        Effect.provideService(Provider.Provider, replayer.provider),
        Effect.provideService(Tool.Executor, replayer.executor)
      )
      assert.deepStrictEqual(replayEffects, [], "no tool ran during the replay")
      assert.strictEqual(yield* replayer.modelCalls, 2)
      assert.strictEqual(yield* replayer.toolCalls, 1)
      yield* Replay.verify(recorded, replayed)
      const last = Option.getOrThrow(Session.lastOf(replayed, "Assistant"))
      assert.strictEqual(last.text, "The answer is 5")
      assert.strictEqual(last.provider?.kind, "scripted")
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("the layer provides both the provider and the executor", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const toolkit = yield* makeToolkit([])
      const replayed = yield* Session.fromUserMessage("what is 2 + 3?").pipe(
        Effect.flatMap(loop(toolkit)),
        Effect.provide(Replay.layer(recorded))
      )
      assert.isTrue(Option.isNone(Replay.diff(recorded, replayed)))
    }))

  it.effect("a divergent model request fails with a readable report", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const toolkit = yield* makeToolkit([])
      const error = yield* Session.fromUserMessage("what is 2 + 4?").pipe(
        Effect.flatMap(loop(toolkit)),
        Effect.provide(Replay.layer(recorded)),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.reason, "ReplayDiverged")
      assert.include(error.message, "model request #0")
      assert.include(error.message, "messages[0]")
      assert.include(error.message, "what is 2 + 3?")
      assert.include(error.message, "what is 2 + 4?")
    }))

  it.effect("asking for more model calls than were recorded is a divergence", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const replayer = yield* Replay.make(recorded)
      const messages = Chunk.toReadonlyArray(Session.transcript(recorded))
      const error = yield* Effect.flip(replayer.provider.chat({ messages }))
      assert.strictEqual(error.reason, "ReplayDiverged")
    }))

  it.effect("verify reports the first differing entry and field", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const entries = Chunk.toReadonlyArray(Session.entries(recorded))
      const result = entries[2] as Entry.ToolResult
      const tampered = new Entry.ToolResult({ ...result, output: 6 })
      const changed = Session.fromEntries(
        { id: recorded.id, lineage: recorded.lineage },
        [...entries.slice(0, 2), tampered, ...entries.slice(3)]
      ).pipe(Option.getRight, Option.getOrThrow)
      const error = yield* Effect.flip(Replay.verify(recorded, changed))
      assert.strictEqual(error.index, 2)
      assert.strictEqual(error.kind, "ToolResult")
      assert.strictEqual(error.field, "output")
      assert.strictEqual(error.expected, 5)
      assert.strictEqual(error.actual, 6)
      assert.include(error.message, "entry #2 (ToolResult) differs at output")

      const shorter = Session.fromEntries({ id: recorded.id, lineage: recorded.lineage }, entries.slice(0, 3)).pipe(
        Option.getRight,
        Option.getOrThrow
      )
      const missing = yield* Effect.flip(Replay.verify(recorded, shorter))
      assert.strictEqual(missing.index, 3)
      assert.isUndefined(missing.actual)
    }))
})
