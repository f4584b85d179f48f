// W5 concurrency, OpenAI Agents SDK: N runs started at once (Promise.all); the scripted Model
// sleeps 20 ms per call and makes 5 calls (4 add calls, then the answer). No session.
import { check, emit, parseArgs, percentile, round } from "../lib/common.mjs"
import { makeAgent, run, ScriptedModel, version } from "../lib/agents.mjs"

const { conversations = 1000, sleepMs = 20, toolCalls = 4 } = parseArgs()
const agent = makeAgent(new ScriptedModel({ toolCalls, sleepMs }))
const expected = `The answer is ${toolCalls - 1 + 2}`
const runOne = (i) => run(agent, `what is ${i} + 2?`, { maxTurns: toolCalls + 5 })

check((await runOne(-1)).finalOutput === expected, "warm-up")

const done = new Float64Array(conversations)
const start = performance.now()
await Promise.all(Array.from({ length: conversations }, async (_, i) => {
  const result = await runOne(i)
  done[i] = performance.now() - start
  check(result.finalOutput === expected, `conversation ${i}`)
}))
const wallMs = performance.now() - start

emit({
  workload: "W5",
  peer: "agents",
  store: "none",
  version: version(),
  conversations,
  modelCalls: toolCalls + 1,
  sleepMs,
  wallMs: round(wallMs, 1),
  p50DoneMs: round(percentile(done, 50), 1),
  p99DoneMs: round(percentile(done, 99), 1),
  idealMs: (toolCalls + 1) * sleepMs
})
