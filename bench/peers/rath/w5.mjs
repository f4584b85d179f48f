// W5 concurrency, rath: N agent runs started at once (Effect.forEach, unbounded concurrency: one
// fiber each, the equivalent of Promise.all); the scripted Provider sleeps 20 ms per call and
// makes 5 calls (4 add calls, then the answer). No store.
import { add, check, decide, emit, parseArgs, percentile, round } from "../lib/common.mjs"
import { addTool, loadEffect, loadRath, scriptedProvider, version } from "./lib.mjs"

const { Agent, Provider, Session, Tool } = await loadRath("W5", ["Agent", "Provider", "Tool"])
const { Effect, Layer, Option, Schema, Stream } = await loadEffect()
const { conversations = 1000, sleepMs = 20, toolCalls = 4 } = parseArgs()

const agent = Agent.make({
  name: "adder",
  instructions: "Add numbers with the add tool.",
  tools: [addTool({ Tool, Effect, Schema, add })],
  maxTurns: toolCalls + 5
})
const provider = scriptedProvider({ Provider, Effect, Stream, decide, toolCalls, sleepMs })
const expected = `The answer is ${toolCalls - 1 + 2}`
const runOne = (i) =>
  Effect.map(Effect.flatMap(Session.fromUserMessage(`what is ${i} + 2?`), agent), (out) => {
    const answer = Session.lastOf(out, "Assistant")
    check(Option.isSome(answer) && answer.value.text === expected, `conversation ${i}`)
  })

// The floor under any Effect program of this shape, measured in the same process just before:
// N fibers started at once, each only sleeping 5 × sleepMs (no model, no tool, no session).
const floor = Effect.gen(function*() {
  const bare = Effect.forEach(Array.from({ length: toolCalls + 1 }), () => Effect.sleep(sleepMs), { discard: true })
  yield* bare
  const start = performance.now()
  yield* Effect.forEach(Array.from({ length: conversations }), () => bare, { concurrency: "unbounded", discard: true })
  return performance.now() - start
})

const { wallMs, done, effectFloorMs, cpuUs } = await Effect.runPromise(
  Effect.gen(function*() {
    const effectFloorMs = yield* floor
    yield* runOne(-1)
    const done = new Float64Array(conversations)
    const cpu = process.cpuUsage()
    const start = performance.now()
    yield* Effect.forEach(
      Array.from({ length: conversations }, (_, i) => i),
      (i) => Effect.map(runOne(i), () => (done[i] = performance.now() - start)),
      { concurrency: "unbounded", discard: true }
    )
    const wallMs = performance.now() - start
    const used = process.cpuUsage(cpu)
    return { wallMs, done, effectFloorMs, cpuUs: (used.user + used.system) / conversations }
  }).pipe(Effect.provide(Layer.succeed(Provider.Provider, provider)))
)

// the W5 line (as emitW5 prints it) and the process CPU per conversation of the timed region
emit({
  workload: "W5",
  peer: "rath",
  store: "none",
  version: version(),
  conversations,
  modelCalls: toolCalls + 1,
  sleepMs,
  wallMs: round(wallMs, 1),
  p50DoneMs: round(percentile(done, 50), 1),
  p99DoneMs: round(percentile(done, 99), 1),
  idealMs: (toolCalls + 1) * sleepMs,
  effectFloorMs: round(effectFloorMs, 1),
  cpuUsPerConversation: round(cpuUs, 1)
})
