// W3 preparation (untimed), LangGraph.js: a 10,000-message thread written with one bulk updateState.
import { applySqlitePragmas, check, dataDir, parseArgs } from "../lib/common.mjs"
import { appendGraph, msg, openSqliteSaver } from "../lib/langgraph.mjs"

const { n = 10000 } = parseArgs()
const dir = dataDir("langgraph-w3")
const saver = await openSqliteSaver(`${dir}/checkpoints.db`, applySqlitePragmas)
const graph = appendGraph(saver)
const messages = []
for (let i = 0; i < n; i++) messages.push(msg(i))
await graph.updateState({ configurable: { thread_id: "conv-1" } }, { messages }, "append")
check((await graph.getState({ configurable: { thread_id: "conv-1" } })).values.messages.length === n, "prepared")
saver.db.close()
