// W1 append + persist, OpenAI Agents SDK: session.addItems([item(i)]) one at a time, with
// --store sqlite (SqliteSession, one JSON row per item), memory (MemorySession, shipped) or
// jsonfile (JsonFileSession, the whole array rewritten per append).
import { MemorySession } from "@openai/agents"
import { check, dataDir, dirBytes, durability, emitW1, msgId, parseArgs } from "../lib/common.mjs"
import { item, JsonFileSession, openSqliteStore, SqliteSession, version } from "../lib/agents.mjs"

const { n = 10000, prefill = 0, store = "sqlite" } = parseArgs()
const dir = dataDir(`agents-w1-${store}`)
let db = store === "sqlite" ? openSqliteStore(`${dir}/sessions.db`) : undefined
let session = store === "sqlite"
  ? new SqliteSession("conv-1", db)
  : store === "jsonfile"
  ? new JsonFileSession("conv-1", dir)
  : new MemorySession({ sessionId: "conv-1" })

if (prefill > 0) {
  const items = []
  for (let i = 0; i < prefill; i++) items.push(item(i))
  await session.addItems(items)
  if (store === "sqlite") {
    // closed and opened again so the prefill's WAL is checkpointed before the timed region
    db.close()
    db = openSqliteStore(`${dir}/sessions.db`)
    session = new SqliteSession("conv-1", db)
  }
}

const onDisk = store !== "memory"
const before = onDisk ? dirBytes(dir) : 0
const start = performance.now()
for (let i = prefill; i < prefill + n; i++) {
  await session.addItems([item(i)])
}
const totalMs = performance.now() - start
const grown = onDisk ? dirBytes(dir) - before : null

const items = await session.getItems()
check(items.length === prefill + n, `expected ${prefill + n} items, got ${items.length}`)
check(items.at(-1).id === msgId(prefill + n - 1), "last item id")
db?.close()

emitW1({
  peer: "agents",
  store,
  version: version(),
  durability: durability(store),
  n,
  prefill,
  totalMs,
  bytesOnDisk: onDisk ? dirBytes(dir) : null,
  grown
})

