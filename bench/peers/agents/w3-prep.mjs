// W3 preparation (untimed), OpenAI Agents SDK: a 10,000-item session written with one bulk addItems.
import { check, dataDir, parseArgs } from "../lib/common.mjs"
import { item, JsonFileSession, openSqliteStore, SqliteSession } from "../lib/agents.mjs"

const { n = 10000, store = "sqlite" } = parseArgs()
const dir = dataDir(`agents-w3-${store}`)
const db = store === "sqlite" ? openSqliteStore(`${dir}/sessions.db`) : undefined
const session = store === "sqlite" ? new SqliteSession("conv-1", db) : new JsonFileSession("conv-1", dir)
const items = []
for (let i = 0; i < n; i++) items.push(item(i))
await session.addItems(items)
check((await session.getItems()).length === n, "prepared")
db?.close()
