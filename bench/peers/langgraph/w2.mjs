// W2 fork fan-out, LangGraph.js (time travel): fork from the persisted 1,000-message checkpoint,
// one message per branch: --mode update (graph.updateState, 1 checkpoint per branch) or --mode
// invoke (graph.invoke from the fork's checkpoint, runs the node, 3 checkpoints per branch).
import { MemorySaver } from "@langchain/langgraph"
import { applySqlitePragmas, check, dataDir, dirBytes, durability, emitW2, msgId, parseArgs } from "../lib/common.mjs"
import { appendGraph, msg, openSqliteSaver, version } from "../lib/langgraph.mjs"

const { base = 1000, branches = 1000, store = "sqlite", mode = "update" } = parseArgs()
const dir = dataDir(`langgraph-w2-${store}-${mode}`)
const saver = store === "sqlite" ? await openSqliteSaver(`${dir}/checkpoints.db`, applySqlitePragmas) : new MemorySaver()
const graph = appendGraph(saver)
const thread = { configurable: { thread_id: "conv-1" } }

const messages = []
for (let i = 0; i < base; i++) messages.push(msg(i))
await graph.updateState(thread, { messages }, "append")

const before = store === "sqlite" ? dirBytes(dir) : 0
const start = performance.now()
const forkConfig = (await graph.getState(thread)).config
let lastBranch
for (let b = 0; b < branches; b++) {
  if (mode === "update") {
    lastBranch = await graph.updateState(forkConfig, { messages: [msg(base + b)] }, "append")
  } else {
    await graph.invoke({ next: base + b }, { configurable: forkConfig.configurable, durability: "sync" })
  }
}
const totalMs = performance.now() - start
const grown = store === "sqlite" ? dirBytes(dir) - before : null

const source = await graph.getState(forkConfig)
check(source.values.messages.length === base, "the source stays at base messages")
if (lastBranch !== undefined) {
  const branch = await graph.getState(lastBranch)
  check(branch.values.messages.length === base + 1, "a branch holds base + 1 messages")
  check(branch.values.messages.at(-1).id === msgId(base + branches - 1), "a branch ends with its own message")
  check(branch.values.messages.at(-2).id === msgId(base - 1), "and sees no other branch's message")
} else {
  const latest = await graph.getState(thread)
  check(latest.values.messages.length === base + 1, "the latest branch holds base + 1 messages")
  check(latest.values.messages.at(-2).id === msgId(base - 1), "and sees no other branch's message")
}
if (store === "sqlite") saver.db.close()

emitW2({
  peer: "langgraph",
  store,
  mode,
  version: version(),
  durability: durability(store),
  base,
  branches,
  totalMs,
  grown,
  bytesOnDisk: store === "sqlite" ? dirBytes(dir) : null
})

