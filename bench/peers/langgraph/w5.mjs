// W5 concurrency, LangGraph.js: N agent runs started at once (Promise.all); the scripted model
// sleeps 20 ms per call and makes 5 calls (4 add calls, then the answer). No checkpointer.
import { check, emit, parseArgs, percentile, round } from "../lib/common.mjs"
import { agentGraph, finalText, ScriptedChatModel, version } from "../lib/langgraph.mjs"

const { conversations = 1000, sleepMs = 20, toolCalls = 4 } = parseArgs()
const graph = agentGraph(new ScriptedChatModel({ toolCalls, sleepMs }))
const runOne = (i) =>
  graph.invoke({ messages: [{ role: "user", content: `what is ${i} + 2?` }] }, { recursionLimit: 100 })

check(finalText(await runOne(-1)) === `The answer is ${toolCalls - 1 + 2}`, "warm-up")

const done = new Float64Array(conversations)
const start = performance.now()
await Promise.all(Array.from({ length: conversations }, async (_, i) => {
  const state = await runOne(i)
  done[i] = performance.now() - start
  check(finalText(state) === `The answer is ${toolCalls - 1 + 2}`, `conversation ${i}`)
}))
const wallMs = performance.now() - start

emit({
  workload: "W5",
  peer: "langgraph",
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
