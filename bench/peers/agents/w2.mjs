// W2 fork fan-out, OpenAI Agents SDK (no fork primitive; the idiom is copying): for each branch,
// items = await source.getItems(), a new session `branch-<b>` in the same store seeded with
// items, then addItems([msg]). --store sqlite | memory.
import { MemorySession } from "@openai/agents"
import { check, dataDir, dirBytes, durability, emitW2, msgId, parseArgs } from "../lib/common.mjs"
import { item, openSqliteStore, SqliteSession, version } from "../lib/agents.mjs"

const { base = 1000, branches = 1000, store = "sqlite" } = parseArgs()
const dir = dataDir(`agents-w2-${store}`)
const db = store === "sqlite" ? openSqliteStore(`${dir}/sessions.db`) : undefined
const open = (id, initialItems) =>
  store === "sqlite" ? new SqliteSession(id, db) : new MemorySession({ sessionId: id, initialItems })

const seed = []
for (let i = 0; i < base; i++) seed.push(item(i))
const source = open("conv-1", [])
await source.addItems(seed)

const before = store === "sqlite" ? dirBytes(dir) : 0
const start = performance.now()
const created = []
for (let b = 0; b < branches; b++) {
  const items = await source.getItems()
  const branch = open(`branch-${b}`, items)
  if (store === "sqlite") await branch.addItems(items)
  await branch.addItems([item(base + b)])
  created.push(branch)
}
const totalMs = performance.now() - start
const grown = store === "sqlite" ? dirBytes(dir) - before : null

check((await source.getItems()).length === base, "the source stays at base messages")
for (const b of [0, branches - 1]) {
  const items = await created[b].getItems()
  check(items.length === base + 1, `branch ${b} holds base + 1 items`)
  check(items.at(-1).id === msgId(base + b) && items.at(-2).id === msgId(base - 1), `branch ${b} is independent`)
}
db?.close()

emitW2({
  peer: "agents",
  store,
  version: version(),
  durability: durability(store),
  base,
  branches,
  totalMs,
  grown,
  bytesOnDisk: store === "sqlite" ? dirBytes(dir) : null
})

