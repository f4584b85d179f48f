// W4 loop overhead, OpenAI Agents SDK: 1,000 runs (scripted Model, one add call, final answer),
// no session. cold = the process's first 1,000 turns; warm = 1,000 turns after 1,000 more.
import { check, emitW4, parseArgs, timedPhases } from "../lib/common.mjs"
import { makeAgent, run, ScriptedModel, version } from "../lib/agents.mjs"

const { turns = 1000 } = parseArgs()
const agent = makeAgent(new ScriptedModel({ toolCalls: 1, sleepMs: 0 }))

const { cold, warm } = await timedPhases(turns, async (i) => {
  const result = await run(agent, `what is ${i} + 2?`)
  check(result.finalOutput === "The answer is 2" && result.history.length === 4, `turn ${i}`)
})

emitW4({ peer: "agents", version: version(), turns, cold, warm })
