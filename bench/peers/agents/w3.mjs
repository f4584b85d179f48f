// W3 resume, OpenAI Agents SDK, in a fresh process: open the session, new Agent(...),
// session.getItems() until the 10,000 items are in hand. --store sqlite | jsonfile.
const importStart = performance.now()
const common = await import("../lib/common.mjs")
const agents = await import("../lib/agents.mjs")
const importMs = performance.now() - importStart

const { n = 10000, store = "sqlite" } = common.parseArgs()
const dir = common.dataDir(`agents-w3-${store}`, { fresh: false })
const cpu = process.cpuUsage()
const start = performance.now()
const db = store === "sqlite" ? agents.openSqliteStore(`${dir}/sessions.db`) : undefined
const session = store === "sqlite" ? new agents.SqliteSession("conv-1", db) : new agents.JsonFileSession("conv-1", dir)
const agent = agents.makeAgent(new agents.ScriptedModel({ toolCalls: 1 }))
const items = await session.getItems()
const usable = performance.now()
const used = process.cpuUsage(cpu)
common.check(agent.name === "adder", "agent")
common.check(items.length === n, `expected ${n} items, got ${items.length}`)
common.check(items.at(-1).id === common.msgId(n - 1), "last item id")
common.check(agents.itemText(items.at(-1)) === common.msgText(n - 1), "last item text")
db?.close()

common.emit({
  workload: "W3",
  peer: "agents",
  store,
  version: agents.version(),
  durability: common.durability(store),
  n,
  loadMs: common.round(usable - start, 2),
  // process CPU (user + system, all threads) over the same region, as rath's script reports it
  cpuLoadMs: common.round((used.user + used.system) / 1000, 2),
  importMs: common.round(importMs, 2),
  sinceProcessStartMs: common.round(usable, 2)
})
