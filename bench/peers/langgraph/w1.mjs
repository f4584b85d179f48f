// W1 append + persist, LangGraph.js: graph.invoke({next: i}, {thread_id, durability: "sync"}) on
// the one-node append graph; SqliteSaver on a file (--store sqlite) or MemorySaver (--store memory).
import { MemorySaver } from "@langchain/langgraph"
import { applySqlitePragmas, check, dataDir, dirBytes, durability, emitW1, msgId, parseArgs } from "../lib/common.mjs"
import { appendGraph, msg, openSqliteSaver, version } from "../lib/langgraph.mjs"

const { n = 1000, prefill = 0, store = "sqlite" } = parseArgs()
const dir = dataDir(`langgraph-w1-${store}`)
const open = async () =>
  store === "sqlite" ? await openSqliteSaver(`${dir}/checkpoints.db`, applySqlitePragmas) : new MemorySaver()
let saver = await open()
let graph = appendGraph(saver)
const thread = { configurable: { thread_id: "conv-1" } }

if (prefill > 0) {
  const messages = []
  for (let i = 0; i < prefill; i++) messages.push(msg(i))
  await graph.updateState(thread, { messages }, "append")
  if (store === "sqlite") {
    // closed and opened again so the prefill's WAL is checkpointed before the timed region
    saver.db.close()
    saver = await open()
    graph = appendGraph(saver)
  }
}

const before = store === "sqlite" ? dirBytes(dir) : 0
const start = performance.now()
for (let i = prefill; i < prefill + n; i++) {
  await graph.invoke({ next: i }, { ...thread, durability: "sync" })
}
const totalMs = performance.now() - start
const grown = store === "sqlite" ? dirBytes(dir) - before : null

const state = await graph.getState(thread)
check(state.values.messages.length === prefill + n, `expected ${prefill + n} messages`)
check(state.values.messages.at(-1).id === msgId(prefill + n - 1), "last message id")
if (store === "sqlite") saver.db.close()

emitW1({
  peer: "langgraph",
  store,
  version: version(),
  durability: durability(store),
  n,
  prefill,
  totalMs,
  bytesOnDisk: store === "sqlite" ? dirBytes(dir) : null,
  grown
})

