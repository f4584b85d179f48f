/**
 * 15 — whole-run evidence: a run with everything in it (a memory agent, two coders in sandboxes
 * with checks, a selector loop with a retried fork-join of reviewers and an approval, a
 * compressor) is recorded once, then replayed offline: every model call, tool result, approval and
 * memory read is answered from the recording, so the replay needs no provider, runs no tool,
 * opens no sandbox and reads no memory, and gives the same entries. `rath explain` checks each
 * call's messages against its fingerprint; an edited recording is named at the entry and field.
 *
 *   npx tsx examples/15-whole-run-replay.ts
 *
 * @expect recorded 15 model calls \(turn 11, route 3, compress 1, \d+ tokens in the result\), all 15 verified
 * @expect replayed offline: 15 model calls, 7 tool results, 3 memory operations, 0 tools run
 * @expect replay matches the recording
 * @expect entry #\d+ \(ToolResult\) of s_\w+ differs at output
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Layer, Option } from "effect"
import { Approval, Entry, Journal, LocalSandbox, Memory, Model, Replay, Scripted, Session, SessionStore } from "rath"
import * as Kitchen from "./_kitchen.js"

// 1. record: the scripted model, a memory, local sandboxes, an approver; the journal saves every
//    session the run's agents report (the rejected attempt too)
const record = Effect.gen(function*() {
  const final = yield* Kitchen.workflow(yield* Session.fromUserMessage(Kitchen.TASK))
  const store = yield* SessionStore.SessionStore
  const others = yield* Effect.forEach(
    (yield* store.list()).filter((row) => row.id !== final.id),
    (row) => store.load(row.id)
  )
  return [final, ...others] as const
}).pipe(Effect.provide(Layer.mergeAll(
  Scripted.layer(Kitchen.script),
  Memory.layerMemory,
  LocalSandbox.layer(),
  Approval.layerTest(() => Approval.approve("release-manager")),
  Journal.layerStore.pipe(Layer.provideMerge(SessionStore.layerMemory))
)))

const program = Effect.gen(function*() {
  const recording = yield* record
  const [final] = recording
  const calls = new Map(recording.flatMap((s) => Model.calls(s).map((call) => [call.entry.id, call] as const)))
  const purposes = new Map<string, number>()
  for (const { entry } of calls.values()) {
    const purpose = entry._tag === "ModelCall" ? entry.purpose : "turn"
    purposes.set(purpose, (purposes.get(purpose) ?? 0) + 1)
  }
  const verified = Array.from(calls.values()).filter((call) => call.verified === true).length
  console.log(
    `recorded ${calls.size} model calls (${Array.from(purposes, ([purpose, n]) => `${purpose} ${n}`).join(", ")}, ${
      Session.usage(final).inclusive?.totalTokens
    } tokens in the result), all ${verified} verified`
  )

  // 2. replay: the same code, no model, no tools, no sandbox, no memory: the recording answers
  const replayer = yield* Replay.make(recording)
  const input = yield* Session.fromUserMessage(Kitchen.TASK)
  const published = Kitchen.runs.publish
  const replayed = yield* Kitchen.workflow(input).pipe(Effect.provide(replayer.layer))
  console.log(
    `replayed offline: ${yield* replayer.modelCalls} model calls, ${yield* replayer
      .toolCalls} tool results, ${yield* replayer
      .memoryCalls} memory operations, ${Kitchen.runs.publish - published} tools run`
  )
  yield* Replay.verify(final, replayed)
  console.log(`replay matches the recording: ${replayed.length} entries`)

  // 3. edit the recording (a check's output said it passed), and the replay names the edit
  const entries = Chunk.toReadonlyArray(Session.entries(final))
  const edited = entries.map((entry) =>
    entry._tag === "ToolResult" && entry.toolName === "run_shell"
      ? new Entry.ToolResult({ ...entry, output: { exitCode: 0, stdout: "all good" } })
      : entry
  )
  const tampered = Option.getOrThrow(Option.getRight(Session.fromEntries(
    { id: final.id, lineage: final.lineage, base: final.base, placement: Option.getOrUndefined(final.placement) },
    edited
  )))
  const error = yield* Replay.run([tampered, ...recording.slice(1)], Kitchen.workflow, input).pipe(Effect.flip)
  console.log(`\nafter editing a tool result in the recording:\n${error.message}`)
})

program.pipe(NodeRuntime.runMain)
