// W4 loop overhead, rath: 1,000 agent runs (scripted Provider, one add call, final answer), no
// store. cold = the process's first 1,000 turns; warm = 1,000 turns after 1,000 more. The loop
// runs inside one Effect program (how rath is used); each turn is timed around `agent(session)`.
import { add, check, decide, emit, parseArgs, phaseStats, round } from "../lib/common.mjs"
import { addTool, loadEffect, loadRath, scriptedProvider, version } from "./lib.mjs"

const { Agent, Provider, Session, Tool } = await loadRath("W4", ["Agent", "Provider", "Tool"])
const { Effect, Layer, Option, Schema, Stream } = await loadEffect()
const { turns = 1000 } = parseArgs()

const agent = Agent.make({ name: "adder", instructions: "Add numbers with the add tool.", tools: [addTool({ Tool, Effect, Schema, add })] })
const provider = scriptedProvider({ Provider, Effect, Stream, decide, toolCalls: 1, sleepMs: 0 })

const phase = (offset) =>
  Effect.gen(function*() {
    const times = []
    const cpu = process.cpuUsage()
    for (let t = 0; t < turns; t++) {
      const i = offset + t
      const start = performance.now()
      const out = yield* agent(yield* Session.fromUserMessage(`what is ${i} + 2?`))
      times.push(performance.now() - start)
      const answer = Session.lastOf(out, "Assistant")
      check(Option.isSome(answer) && answer.value.text === "The answer is 2", `turn ${i}`)
    }
    const used = process.cpuUsage(cpu)
    times.cpuUs = (used.user + used.system) / turns
    return times
  })

const { cold, warm } = await Effect.runPromise(
  Effect.gen(function*() {
    const cold = yield* phase(0)
    yield* phase(turns)
    const warm = yield* phase(2 * turns)
    return {
      cold: { ...phaseStats(cold), cpuUs: cold.cpuUs },
      warm: { ...phaseStats(warm), cpuUs: warm.cpuUs }
    }
  }).pipe(Effect.provide(Layer.succeed(Provider.Provider, provider)))
)

// the W4 line (as emitW4 prints it) and the process CPU per turn of each phase (user + system,
// process.cpuUsage): on a loaded machine wall time per turn mostly measures the other processes
emit({
  workload: "W4",
  peer: "rath",
  store: "none",
  version: version(),
  turns,
  coldPerTurnUs: cold.perTurnUs,
  coldP50Us: cold.p50Us,
  coldP99Us: cold.p99Us,
  warmPerTurnUs: warm.perTurnUs,
  warmP50Us: warm.p50Us,
  warmP99Us: warm.p99Us,
  coldCpuPerTurnUs: round(cold.cpuUs, 1),
  warmCpuPerTurnUs: round(warm.cpuUs, 1)
})
