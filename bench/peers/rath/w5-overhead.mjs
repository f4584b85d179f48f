// W5 overhead, rath against bare Effect, in ONE process: rath's own CPU per conversation.
//
// Both sides run the same program: `conversations` concurrent conversations (one fiber each),
// each `toolCalls + 1` model calls that sleep `sleepMs` and decide with the shared scripted
// model (`decide`), and `toolCalls` calls of the `add` tool. The bare side keeps the
// conversation as a plain array of `{ kind, text }` and runs the tool as `Effect.succeed`; the
// rath side is `agent(session)` exactly as in w5.mjs (sessions, entries, seals, fingerprints,
// the run's bookkeeping). Rounds alternate bare / rath (`--rounds`, default 5, after one warm-up
// round of each), and each round reports the process CPU (`process.cpuUsage`, user + system)
// and the wall time of the whole batch, divided by the number of conversations. The sleeps are
// timers, not CPU, so the CPU difference per conversation is what rath adds over Effect itself.
//
// Prints one JSON line: medians of both sides, the overhead (rath - bare) in CPU µs per
// conversation, every round, and the Effect operations one conversation of each side evaluates
// (counted after the rounds by a Supervisor, so the count costs the timed rounds nothing). RATH_DIST=<dir> measures another build.
import { add, check, decide, emit, parseArgs, round } from "../lib/common.mjs"
import { addTool, loadEffect, loadRath, scriptedProvider, version } from "./lib.mjs"

const { Agent, Provider, Session, Tool } = await loadRath("W5-overhead", ["Agent", "Provider", "Tool"])
const { Effect, Layer, Option, RuntimeFlags, RuntimeFlagsPatch, Schema, Stream, Supervisor } = await loadEffect()
const { conversations = 1000, sleepMs = 20, toolCalls = 4, rounds = 5 } = parseArgs()

const expected = `The answer is ${toolCalls - 1 + 2}`

// --- rath: the agent of w5.mjs --------------------------------------------------------------
const agent = Agent.make({
  name: "adder",
  instructions: "Add numbers with the add tool.",
  tools: [addTool({ Tool, Effect, Schema, add })],
  maxTurns: toolCalls + 5
})
const provider = scriptedProvider({ Provider, Effect, Stream, decide, toolCalls, sleepMs })
const rathOne = (i) =>
  Effect.map(Effect.flatMap(Session.fromUserMessage(`what is ${i} + 2?`), agent), (out) => {
    const answer = Session.lastOf(out, "Assistant")
    check(Option.isSome(answer) && answer.value.text === expected, `rath conversation ${i}`)
  })

// --- bare Effect: the same conversation without rath ----------------------------------------
const bareTool = (args) => Effect.succeed(add(args))
const bareModel = (messages) =>
  Effect.zipRight(Effect.sleep(sleepMs), Effect.sync(() => decide(messages, toolCalls)))
const bareOne = (i) =>
  Effect.gen(function*() {
    const messages = [{ kind: "other", text: "Add numbers with the add tool." }, { kind: "user", text: `what is ${i} + 2?` }]
    for (let turn = 0; turn < toolCalls + 5; turn++) {
      const decision = yield* bareModel(messages)
      if (decision.type === "final") {
        messages.push({ kind: "other", text: decision.text })
        break
      }
      messages.push({ kind: "other", text: "", call: decision.args })
      const output = yield* bareTool(decision.args)
      messages.push({ kind: "tool", text: output })
    }
    check(messages[messages.length - 1].text === expected, `bare conversation ${i}`)
  })

// --- rounds -----------------------------------------------------------------------------------
const batch = (one) =>
  Effect.suspend(() => {
    const cpu = process.cpuUsage()
    const start = performance.now()
    return Effect.map(
      Effect.forEach(Array.from({ length: conversations }, (_, i) => i), one, {
        concurrency: "unbounded",
        discard: true
      }),
      () => {
        const used = process.cpuUsage(cpu)
        return {
          cpuUs: (used.user + used.system) / conversations,
          wallMs: performance.now() - start
        }
      }
    )
  })

// The Effect operations the runtime evaluates for one conversation of a side (a count that does
// not depend on the machine's load): a Supervisor told of every operation (OpSupervision on).
let ops = 0
class OpCounter extends Supervisor.AbstractSupervisor {
  get value() {
    return Effect.void
  }
  onEffect() {
    ops++
  }
}
const countOps = (effect) =>
  Effect.suspend(() => {
    ops = 0
    return Effect.supervised(
      Effect.withRuntimeFlagsPatch(effect, RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)),
      new OpCounter()
    )
  }).pipe(Effect.map(() => ops))

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const results = await Effect.runPromise(
  Effect.gen(function*() {
    // warm-up: one round of each, not counted
    yield* batch(bareOne)
    yield* batch(rathOne)
    const bare = []
    const rath = []
    for (let r = 0; r < rounds; r++) {
      // alternate which side goes first, so neither always follows the other's garbage
      if (r % 2 === 0) {
        bare.push(yield* batch(bareOne))
        rath.push(yield* batch(rathOne))
      } else {
        rath.push(yield* batch(rathOne))
        bare.push(yield* batch(bareOne))
      }
    }
    return { bare, rath, bareOps: yield* countOps(bareOne(-1)), rathOps: yield* countOps(rathOne(-1)) }
  }).pipe(Effect.provide(Layer.succeed(Provider.Provider, provider)))
)

const bareCpu = median(results.bare.map((r) => r.cpuUs))
const rathCpu = median(results.rath.map((r) => r.cpuUs))
emit({
  workload: "W5-overhead",
  peer: "rath",
  store: "none",
  version: version(),
  conversations,
  modelCalls: toolCalls + 1,
  toolCalls,
  sleepMs,
  rounds,
  bareCpuUsPerConversation: round(bareCpu, 1),
  rathCpuUsPerConversation: round(rathCpu, 1),
  overheadCpuUsPerConversation: round(rathCpu - bareCpu, 1),
  bareWallMs: round(median(results.bare.map((r) => r.wallMs)), 1),
  rathWallMs: round(median(results.rath.map((r) => r.wallMs)), 1),
  idealMs: (toolCalls + 1) * sleepMs,
  bareEffectOpsPerConversation: results.bareOps,
  rathEffectOpsPerConversation: results.rathOps,
  roundsBare: results.bare.map((r) => [round(r.cpuUs, 1), round(r.wallMs, 1)]),
  roundsRath: results.rath.map((r) => [round(r.cpuUs, 1), round(r.wallMs, 1)])
})
