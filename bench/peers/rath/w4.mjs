// W4 loop overhead, rath: 1,000 agent runs (scripted Provider, one add call, final answer), no
// store. cold = the process's first 1,000 turns; warm = 1,000 turns after 1,000 more. The loop
// runs inside one Effect program (how rath is used); each turn is timed around `agent(session)`.
import { add, check, decide, emitW4, parseArgs, phaseStats } from "../lib/common.mjs"
import { addTool, loadEffect, loadRath, scriptedProvider, version } from "./lib.mjs"

const { Agent, Provider, Session, Tool } = await loadRath("W4", ["Agent", "Provider", "Tool"])
const { Effect, Layer, Option, Schema, Stream } = await loadEffect()
const { turns = 1000 } = parseArgs()

const agent = Agent.make({ name: "adder", instructions: "Add numbers with the add tool.", tools: [addTool({ Tool, Effect, Schema, add })] })
const provider = scriptedProvider({ Provider, Effect, Stream, decide, toolCalls: 1, sleepMs: 0 })

const phase = (offset) =>
  Effect.gen(function*() {
    const times = []
    for (let t = 0; t < turns; t++) {
      const i = offset + t
      const start = performance.now()
      const out = yield* agent(yield* Session.fromUserMessage(`what is ${i} + 2?`))
      times.push(performance.now() - start)
      const answer = Session.lastOf(out, "Assistant")
      check(Option.isSome(answer) && answer.value.text === "The answer is 2", `turn ${i}`)
    }
    return times
  })

const { cold, warm } = await Effect.runPromise(
  Effect.gen(function*() {
    const cold = yield* phase(0)
    yield* phase(turns)
    const warm = yield* phase(2 * turns)
    return { cold: phaseStats(cold), warm: phaseStats(warm) }
  }).pipe(Effect.provide(Layer.succeed(Provider.Provider, provider)))
)

emitW4({ peer: "rath", version: version(), turns, cold, warm })
