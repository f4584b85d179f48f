// W4 loop overhead, LangGraph.js: 1,000 agent turns (scripted model, one add call, final answer),
// no checkpointer. cold = the process's first 1,000 turns; warm = 1,000 turns after 1,000 more.
import { check, emit, parseArgs, phaseStats } from "../lib/common.mjs"
import { agentGraph, finalText, ScriptedChatModel, version } from "../lib/langgraph.mjs"

const { turns = 1000 } = parseArgs()
const graph = agentGraph(new ScriptedChatModel({ toolCalls: 1, sleepMs: 0 }))

const phase = async (offset) => {
  const times = []
  for (let t = 0; t < turns; t++) {
    const i = offset + t
    const start = performance.now()
    const state = await graph.invoke({ messages: [{ role: "user", content: `what is ${i} + 2?` }] })
    times.push(performance.now() - start)
    check(finalText(state) === "The answer is 2" && state.messages.length === 4, `turn ${i}`)
  }
  return times
}

const cold = phaseStats(await phase(0))
await phase(turns)
const warm = phaseStats(await phase(2 * turns))

emit({
  workload: "W4",
  peer: "langgraph",
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
