// W5 concurrency, LangGraph.js: N agent runs started at once (Promise.all); the scripted model
// sleeps 20 ms per call and makes 5 calls (4 add calls, then the answer). No checkpointer.
import { check, emitW5, parseArgs, timedConcurrently } from "../lib/common.mjs"
import { agentGraph, finalText, ScriptedChatModel, version } from "../lib/langgraph.mjs"

const { conversations = 1000, sleepMs = 20, toolCalls = 4 } = parseArgs()
const graph = agentGraph(new ScriptedChatModel({ toolCalls, sleepMs }))
const expected = `The answer is ${toolCalls - 1 + 2}`
const runOne = async (i) => {
  const state = await graph.invoke({ messages: [{ role: "user", content: `what is ${i} + 2?` }] }, {
    recursionLimit: 100
  })
  check(finalText(state) === expected, `conversation ${i}`)
}

await runOne(-1) // warm-up
const { done, wallMs } = await timedConcurrently(conversations, runOne)

emitW5({ peer: "langgraph", version: version(), conversations, toolCalls, sleepMs, wallMs, done })
