/**
 * Whole-run evidence: the kitchen-sink workflow (examples/_kitchen.ts: a memory agent, a fork-join
 * of two coders in sandboxes with checks, a selector loop with a retry and an approval, a
 * compressor) recorded once, then replayed offline with every live service failing: the replay
 * makes no provider request, runs no tool, reads no memory and opens no sandbox, and gives the same
 * entries. An edit of the recording is named at the entry and field that was edited.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Stream } from "effect"
import {
  Approval,
  Entry,
  Journal,
  LocalSandbox,
  Memory,
  Model,
  Provider,
  Replay,
  Sandbox,
  Scripted,
  Selector,
  Session,
  SessionStore,
  Tool
} from "rath"
import * as Kitchen from "../examples/_kitchen.js"
import { divergenceOf } from "./utils.js"

const live = Layer.mergeAll(
  Scripted.layer(Kitchen.script),
  Memory.layerMemory,
  LocalSandbox.layer(),
  Approval.layerTest(() => Approval.approve("release-manager")),
  // every session the run's agents and workflows report is saved: the rejected attempt too
  Journal.layerStore.pipe(Layer.provideMerge(SessionStore.layerMemory))
)

/** Records the run: its result first, then every other session the journal saved. */
const record = Effect.gen(function*() {
  const input = yield* Session.fromUserMessage(Kitchen.TASK)
  const final = yield* Kitchen.workflow(input)
  const store = yield* SessionStore.SessionStore
  const others = yield* Effect.forEach(
    (yield* store.list()).filter((row) => row.id !== final.id),
    (row) => store.load(row.id)
  )
  return [final, ...others] as const
}).pipe(Effect.provide(live))

// every live service fails, and counts how often it was asked
const asked = { provider: 0, memory: 0, tools: 0, sandboxes: 0 }
const refused = <A>(count: () => void, value: A) => {
  count()
  return value
}
const failingProvider = Provider.make({
  info: { kind: "failing", model: "none" },
  stream: () =>
    refused(
      () => asked.provider++,
      Stream.fail(new Provider.ProviderError({ reason: "Unavailable", provider: "failing", detail: "no requests" }))
    )
})
const failingMemory: Memory.Service = {
  store: "failing",
  embeddingModel: Option.none(),
  vectorIndex: "none",
  remember: () =>
    Effect.fail(refused(() => asked.memory++, new Memory.MemoryError({ reason: "StoreFailed", detail: "no" }))),
  rememberAll: () =>
    Effect.fail(refused(() => asked.memory++, new Memory.MemoryError({ reason: "StoreFailed", detail: "no" }))),
  recall: () =>
    Effect.fail(refused(() => asked.memory++, new Memory.MemoryError({ reason: "StoreFailed", detail: "no" }))),
  commit: () =>
    Effect.fail(refused(() => asked.memory++, new Memory.MemoryError({ reason: "StoreFailed", detail: "no" }))),
  forget: () =>
    Effect.fail(refused(() => asked.memory++, new Memory.MemoryError({ reason: "StoreFailed", detail: "no" }))),
  list: () =>
    Effect.fail(refused(() => asked.memory++, new Memory.MemoryError({ reason: "StoreFailed", detail: "no" })))
}
const failingExecutor: Tool.ExecutorService = {
  execute: (_toolkit, call) =>
    Effect.sync(() =>
      refused(() => asked.tools++, {
        callId: call.id,
        toolName: call.name,
        output: null,
        error: { kind: "tool_failed" as const, message: "no tool runs" },
        durationMs: 0,
        effects: []
      })
    )
}
const failingSandbox = Sandbox.layer({
  backends: [{
    name: "local",
    open: () =>
      Effect.fail(
        refused(() => asked.sandboxes++, new Sandbox.SandboxError({ reason: "StartFailed", detail: "no sandboxes" }))
      )
  }]
})
const failing = Layer.mergeAll(
  Layer.succeed(Provider.Provider, failingProvider),
  Layer.succeed(Memory.Memory, failingMemory),
  Layer.succeed(Tool.Executor, failingExecutor),
  failingSandbox
)

/** Replays the workflow against `recorded` with every live service failing. */
const replay = (recorded: ReadonlyArray<Session.Session>) =>
  Effect.gen(function*() {
    const input = yield* Session.fromUserMessage(Kitchen.TASK)
    return yield* Replay.run(recorded, Kitchen.workflow, input)
  }).pipe(Effect.provide(failing))

/** The recording with one entry of its result replaced. */
const edit = (
  recording: readonly [Session.Session, ...ReadonlyArray<Session.Session>],
  find: (entry: Entry.Entry) => boolean,
  change: (entry: Entry.Entry) => Entry.Entry
) => {
  const [recorded, ...others] = recording
  const entries = Chunk.toReadonlyArray(Session.entries(recorded))
  const index = entries.findIndex(find)
  assert.isAtLeast(index, 0, "the entry to edit is in the recording")
  const changed = Session.fromEntries(
    {
      id: recorded.id,
      lineage: recorded.lineage,
      placement: Option.getOrUndefined(recorded.placement),
      base: recorded.base
    },
    entries.map((entry, i) => (i === index ? change(entry) : entry))
  )
  return { index, recording: [Option.getOrThrow(Option.getRight(changed)), ...others] }
}

describe("whole-run replay (the kitchen sink)", () => {
  it.live("recorded once, it replays with no provider request, tool run, memory read or sandbox: the same entries", () =>
    Effect.gen(function*() {
      const recording = yield* record
      const recorded = recording[0]
      const entries = Chunk.toReadonlyArray(Session.entries(recorded))
      const count = (tag: Entry.Tag) => entries.filter((entry) => entry._tag === tag).length
      // everything the workflow does is in the recording
      assert.deepStrictEqual(
        entries.filter(Entry.is("ModelCall")).map((entry) => entry.purpose),
        ["route", "route", "route", "compress"]
      )
      // the accepted attempt merged back, and the two reviewers' fork-join
      assert.strictEqual(count("Merge"), 2)
      assert.strictEqual(count("Check"), 1)
      assert.deepStrictEqual(
        entries.filter(Entry.is("Memory")).map((entry) => entry.operation),
        ["remember", "recall", "commit"]
      )
      const published = entries.filter(Entry.is("ToolResult")).find((entry) => entry.toolName === "publish")!
      assert.deepStrictEqual(published.approval, { decision: "approved", by: "release-manager" })
      assert.strictEqual(Kitchen.runs.publish, 1)

      Object.assign(asked, { provider: 0, memory: 0, tools: 0, sandboxes: 0 })
      const before = Kitchen.runs.publish
      const replayer = yield* Replay.make(recording)
      const input = yield* Session.fromUserMessage(Kitchen.TASK)
      const replayed = yield* Kitchen.workflow(input).pipe(
        Effect.provideService(Provider.Provider, replayer.provider),
        Effect.provideService(Tool.Executor, replayer.executor),
        Effect.provideService(Memory.Memory, replayer.memory),
        Effect.provide(failing)
      )
      assert.deepStrictEqual(asked, { provider: 0, memory: 0, tools: 0, sandboxes: 0 })
      assert.strictEqual(Kitchen.runs.publish, before, "no tool ran")
      // every recorded call answered, the rejected attempt's too
      const recordedCalls = new Set(recording.flatMap((s) => Model.calls(s).map((call) => call.entry.id)))
      assert.strictEqual(yield* replayer.modelCalls, recordedCalls.size)
      assert.isAbove(recordedCalls.size, entries.filter(Entry.isModelCall).length)
      assert.isAbove(yield* replayer.toolCalls, count("ToolResult"))
      assert.strictEqual(yield* replayer.memoryCalls, 3)
      assert.isTrue(Option.isNone(yield* replayer.divergence))
      assert.strictEqual(replayed.length, recorded.length)
      yield* Replay.verify(recorded, replayed)
      // and through Replay.run
      const again = yield* replay(recording)
      assert.isTrue(Option.isNone(Replay.diff(recorded, again)))
    }))

  it.live("an edited tool result is named: that entry, field output", () =>
    Effect.gen(function*() {
      const { index, recording } = edit(
        yield* record,
        (entry) => entry._tag === "ToolResult" && entry.toolName === "run_shell",
        (entry) => new Entry.ToolResult({ ...(entry as Entry.ToolResult), output: { exitCode: 0, stdout: "ok" } })
      )
      const error = yield* Effect.flip(replay(recording))
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.index, index)
      assert.strictEqual(divergence.kind, "ToolResult")
      assert.strictEqual(divergence.field, "output")
      assert.deepStrictEqual(divergence.actual, { exitCode: 0, stdout: "ok" })
    }))

  it.live("an edited recall hit is named: that entry, field hits[0].text", () =>
    Effect.gen(function*() {
      const { index, recording } = edit(
        yield* record,
        (entry) => entry._tag === "Memory" && entry.operation === "recall",
        (entry) => {
          const memory = entry as Entry.Memory
          return new Entry.Memory({
            ...memory,
            hits: memory.hits!.map((hit) => ({ ...hit, text: "The team prefers loops." }))
          })
        }
      )
      const error = yield* Effect.flip(replay(recording))
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.index, index)
      assert.strictEqual(divergence.kind, "Memory")
      assert.strictEqual(divergence.field, "hits[0].text")
      assert.strictEqual(divergence.actual, "The team prefers loops.")
    }))

  it.live("an edited selector choice is named: that decision, field data.choice", () =>
    Effect.gen(function*() {
      const { index, recording } = edit(
        yield* record,
        (entry) => Option.isSome(Selector.recordOf(entry)),
        (entry) => {
          const custom = entry as Entry.Custom
          return new Entry.Custom({ ...custom, data: { ...(custom.data as object), choice: "done" } })
        }
      )
      const error = yield* Effect.flip(replay(recording))
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.index, index)
      assert.strictEqual(divergence.kind, "Custom")
      assert.strictEqual(divergence.field, "data.choice")
      assert.strictEqual(divergence.expected, "done")
      assert.strictEqual(divergence.actual, "review")
    }))

  it.live("an edited compressor summary is named: that entry, field text", () =>
    Effect.gen(function*() {
      const { index, recording } = edit(
        yield* record,
        (entry) => entry._tag === "Compression",
        (entry) => new Entry.Compression({ ...(entry as Entry.Compression), text: "Summary: nothing happened." })
      )
      const error = yield* Effect.flip(replay(recording))
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.index, index)
      assert.strictEqual(divergence.kind, "Compression")
      assert.strictEqual(divergence.field, "text")
      assert.strictEqual(divergence.expected, "Summary: nothing happened.")
    }))

  it.live("every model call's rebuilt request hashes to its recorded fingerprint, and usage is their sum", () =>
    Effect.gen(function*() {
      const recording = yield* record
      const [recorded] = recording
      // over every session the run saved (the rejected attempt's included), each call once
      const all = new Map(
        recording.flatMap((session) => Model.calls(session).map((call) => [call.entry.id, call] as const))
      )
      const mismatched = recording.flatMap((session) => Model.calls(session).filter((call) => call.verified !== true))
      // planner 1, coders 3 + 3, routing 3, reviewers 1 + 1, publisher 2, compressor 1
      assert.strictEqual(all.size, 15)
      assert.deepStrictEqual(mismatched.map((call) => call.entry.id), [], `of ${all.size} calls`)
      const calls = Model.calls(recorded)
      // agent turns, routing calls and the summary call, each from its own branch's history
      assert.isAbove(calls.length, 10)
      assert.deepStrictEqual(calls.filter((call) => call.verified !== true).map((call) => call.entry.id), [])
      const sum = calls.reduce<Entry.Usage | undefined>(
        (total, call) => Entry.sumUsage(total, call.entry.usage),
        undefined
      )
      assert.deepStrictEqual(Session.usage(recorded).inclusive, sum)
      // in the merged session, the second reviewer's call was sent its own branch: not the first
      // reviewer's answer, which the merge lays out before it
      const tests = calls.find((call) => call.entry.author.name === "reviewer-tests")!
      const style = calls.find((call) => call.entry.author.name === "reviewer-style")!
      assert.isBelow(style.index, tests.index)
      const said = (call: typeof tests) => call.request.messages.flatMap((m) => m._tag === "Assistant" ? [m.text] : [])
      assert.isFalse(said(tests).some((text) => text.startsWith("Style:")))
      assert.isTrue(said(tests).some((text) => text.startsWith("Coder A")))
    }))
})
