// W3 resume, LangGraph.js, in a fresh process: SqliteSaver.fromConnString(file), compile the
// graph, graph.getState({thread_id}) until the 10,000 messages are in hand.
const importStart = performance.now()
const common = await import("../lib/common.mjs")
const { appendGraph, openSqliteSaver, version } = await import("../lib/langgraph.mjs")
await import("@langchain/langgraph-checkpoint-sqlite")
const importMs = performance.now() - importStart

const { n = 10000 } = common.parseArgs()
const dir = common.dataDir("langgraph-w3", { fresh: false })
const start = performance.now()
const saver = await openSqliteSaver(`${dir}/checkpoints.db`, common.applySqlitePragmas)
const graph = appendGraph(saver)
const state = await graph.getState({ configurable: { thread_id: "conv-1" } })
const messages = state.values.messages
const usable = performance.now()
common.check(messages.length === n, `expected ${n} messages, got ${messages.length}`)
common.check(messages.at(-1).id === common.msgId(n - 1), "last message id")
common.check(messages.at(-1).content === common.msgText(n - 1), "last message text")
common.check(messages.at(-1)._getType() === (n % 2 === 0 ? "ai" : "human"), "last message type")
saver.db.close()

common.emit({
  workload: "W3",
  peer: "langgraph",
  store: "sqlite",
  version: version(),
  durability: common.durability("sqlite"),
  n,
  loadMs: common.round(usable - start, 2),
  importMs: common.round(importMs, 2),
  sinceProcessStartMs: common.round(usable, 2)
})
