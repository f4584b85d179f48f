// W4 loop overhead, LangGraph.js: 1,000 agent turns (scripted model, one add call, final answer),
// no checkpointer. cold = the process's first 1,000 turns; warm = 1,000 turns after 1,000 more.
import { check, emitW4, parseArgs, timedPhases } from "../lib/common.mjs"
import { agentGraph, finalText, ScriptedChatModel, version } from "../lib/langgraph.mjs"

const { turns = 1000 } = parseArgs()
const graph = agentGraph(new ScriptedChatModel({ toolCalls: 1, sleepMs: 0 }))

const { cold, warm } = await timedPhases(turns, async (i) => {
  const state = await graph.invoke({ messages: [{ role: "user", content: `what is ${i} + 2?` }] })
  check(finalText(state) === "The answer is 2" && state.messages.length === 4, `turn ${i}`)
})

emitW4({ peer: "langgraph", version: version(), turns, cold, warm })
