// W5 concurrency, OpenAI Agents SDK: N runs started at once (Promise.all); the scripted Model
// sleeps 20 ms per call and makes 5 calls (4 add calls, then the answer). No session.
import { check, emitW5, parseArgs, timedConcurrently } from "../lib/common.mjs"
import { makeAgent, run, ScriptedModel, version } from "../lib/agents.mjs"

const { conversations = 1000, sleepMs = 20, toolCalls = 4 } = parseArgs()
const agent = makeAgent(new ScriptedModel({ toolCalls, sleepMs }))
const expected = `The answer is ${toolCalls - 1 + 2}`
const runOne = async (i) => {
  const result = await run(agent, `what is ${i} + 2?`, { maxTurns: toolCalls + 5 })
  check(result.finalOutput === expected, `conversation ${i}`)
}

await runOne(-1) // warm-up
const { done, wallMs } = await timedConcurrently(conversations, runOne)

emitW5({ peer: "agents", version: version(), conversations, toolCalls, sleepMs, wallMs, done })
