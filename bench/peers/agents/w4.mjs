// W4 loop overhead, OpenAI Agents SDK: 1,000 runs (scripted Model, one add call, final answer),
// no session. cold = the process's first 1,000 turns; warm = 1,000 turns after 1,000 more.
import { check, emit, parseArgs, phaseStats } from "../lib/common.mjs"
import { makeAgent, run, ScriptedModel, version } from "../lib/agents.mjs"

const { turns = 1000 } = parseArgs()
const agent = makeAgent(new ScriptedModel({ toolCalls: 1, sleepMs: 0 }))

const phase = async (offset) => {
  const times = []
  for (let t = 0; t < turns; t++) {
    const i = offset + t
    const start = performance.now()
    const result = await run(agent, `what is ${i} + 2?`)
    times.push(performance.now() - start)
    check(result.finalOutput === "The answer is 2" && result.history.length === 4, `turn ${i}`)
  }
  return times
}

const cold = phaseStats(await phase(0))
await phase(turns)
const warm = phaseStats(await phase(2 * turns))

emit({
  workload: "W4",
  peer: "agents",
  store: "none",
  version: version(),
  turns,
  coldPerTurnUs: cold.perTurnUs,
  coldP50Us: cold.p50Us,
  coldP99Us: cold.p99Us,
  warmPerTurnUs: warm.perTurnUs,
  warmP50Us: warm.p50Us,
  warmP99Us: warm.p99Us
})
