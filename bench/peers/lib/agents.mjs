// OpenAI Agents SDK (JS) side of the benchmark: native input items, the scripted model as a
// `Model` (getResponse), the add tool, and the two sessions the JS SDK does not ship:
// SqliteSession (the Python SDK's SQLiteSession layout on better-sqlite3: one JSON row per
// item) and JsonFileSession (the examples/memory FileSession pattern: one JSON array per
// session, re-read, validated and rewritten on every addItems).
import { Agent, protocol, run, setTracingDisabled, tool, Usage } from "@openai/agents"
import Database from "better-sqlite3"
import { fsyncSync, openSync, closeSync } from "node:fs"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { z } from "zod"
import { add, applySqlitePragmas, decide, msgId, msgText, sleep, versionOf } from "./common.mjs"

setTracingDisabled(true)

export const version = () => `@openai/agents@${versionOf("@openai/agents")}`

/** Message i as an Agents SDK input item. */
export const item = (i) =>
  i % 2 === 0
    ? { id: msgId(i), type: "message", role: "user", content: msgText(i) }
    : {
      id: msgId(i),
      type: "message",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: msgText(i) }]
    }

/** The text of a message item (user content is a string, assistant content a list of parts). */
export const itemText = (it) =>
  typeof it.content === "string" ? it.content : it.content.map((part) => part.text ?? "").join("")

const SCHEMA = `
CREATE TABLE IF NOT EXISTS agent_sessions (
  session_id TEXT PRIMARY KEY,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS agent_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL,
  message_data TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  FOREIGN KEY (session_id) REFERENCES agent_sessions (session_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_agent_messages_session_id ON agent_messages (session_id, created_at);
`

/** One better-sqlite3 connection shared by the sessions of a store (WAL, same pragmas as LangGraph's). */
export const openSqliteStore = (file) => {
  const db = applySqlitePragmas(new Database(file))
  db.exec(SCHEMA)
  return db
}

/** A `Session` with the Python SDK's SQLiteSession layout: one JSON row per item. */
export class SqliteSession {
  constructor(sessionId, db) {
    this.sessionId = sessionId
    this.db = db
    this.insertSession = db.prepare("INSERT OR IGNORE INTO agent_sessions (session_id) VALUES (?)")
    this.insertItem = db.prepare("INSERT INTO agent_messages (session_id, message_data) VALUES (?, ?)")
    this.touch = db.prepare("UPDATE agent_sessions SET updated_at = CURRENT_TIMESTAMP WHERE session_id = ?")
    this.selectAll = db.prepare("SELECT message_data FROM agent_messages WHERE session_id = ? ORDER BY id ASC")
    this.selectLast = db.prepare(
      "SELECT message_data FROM agent_messages WHERE session_id = ? ORDER BY id DESC LIMIT ?"
    )
    this.selectPop = db.prepare("SELECT id, message_data FROM agent_messages WHERE session_id = ? ORDER BY id DESC LIMIT 1")
    this.deleteId = db.prepare("DELETE FROM agent_messages WHERE id = ?")
    this.add = db.transaction((items) => {
      this.insertSession.run(this.sessionId)
      for (const it of items) this.insertItem.run(this.sessionId, JSON.stringify(it))
      this.touch.run(this.sessionId)
    })
  }
  async getSessionId() {
    return this.sessionId
  }
  async getItems(limit) {
    const rows = limit === undefined
      ? this.selectAll.all(this.sessionId)
      : this.selectLast.all(this.sessionId, limit).reverse()
    const items = []
    for (const row of rows) {
      try {
        items.push(JSON.parse(row.message_data))
      } catch {
        // the Python SDK skips rows that are not valid JSON
      }
    }
    return items
  }
  async addItems(items) {
    if (items.length > 0) this.add(items)
  }
  async popItem() {
    const row = this.selectPop.get(this.sessionId)
    if (row === undefined) return undefined
    this.deleteId.run(row.id)
    return JSON.parse(row.message_data)
  }
  async clearSession() {
    this.db.prepare("DELETE FROM agent_messages WHERE session_id = ?").run(this.sessionId)
    this.db.prepare("DELETE FROM agent_sessions WHERE session_id = ?").run(this.sessionId)
  }
}

const validItems = z.array(protocol.ModelItem)

/** The FileSession pattern of the SDK's examples/memory: one JSON array per session file. */
export class JsonFileSession {
  constructor(sessionId, dir) {
    this.sessionId = sessionId
    this.file = join(dir, `${sessionId}.json`)
  }
  async getSessionId() {
    return this.sessionId
  }
  async #read() {
    let text
    try {
      text = await readFile(this.file, "utf8")
    } catch (error) {
      if (error.code === "ENOENT") return []
      throw error
    }
    return validItems.parse(JSON.parse(text))
  }
  async #write(items) {
    await writeFile(this.file, JSON.stringify(items), "utf8")
    if (process.env.SQLITE_SYNC === "FULL") {
      const fd = openSync(this.file, "r")
      fsyncSync(fd)
      closeSync(fd)
    }
  }
  async getItems(limit) {
    const items = await this.#read()
    return limit === undefined ? items : items.slice(-limit)
  }
  async addItems(items) {
    if (items.length === 0) return
    const current = await this.#read()
    current.push(...items)
    await this.#write(current)
  }
  async popItem() {
    const current = await this.#read()
    const last = current.pop()
    await this.#write(current)
    return last
  }
  async clearSession() {
    await this.#write([])
  }
}

const normalise = (input) =>
  (typeof input === "string" ? [{ type: "message", role: "user", content: input }] : input).map((it) => ({
    kind: it.type === "message" && it.role === "user"
      ? "user"
      : it.type === "function_call_result"
      ? "tool"
      : "other",
    text: it.type === "function_call_result"
      ? (typeof it.output === "string" ? it.output : it.output?.text ?? JSON.stringify(it.output))
      : ""
  }))

let callIds = 0

/** The scripted model through the SDK's extension point: an object implementing `Model`. */
export class ScriptedModel {
  constructor({ toolCalls, sleepMs = 0 }) {
    this.toolCalls = toolCalls
    this.sleepMs = sleepMs
  }
  async getResponse(request) {
    if (this.sleepMs > 0) await sleep(this.sleepMs)
    const decision = decide(normalise(request.input), this.toolCalls)
    const id = ++callIds
    const output = decision.type === "call"
      ? [{
        type: "function_call",
        id: `fc_${id}`,
        callId: `call_${id}`,
        name: "add",
        arguments: JSON.stringify(decision.args),
        status: "completed"
      }]
      : [{
        type: "message",
        id: `msg_${id}`,
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: decision.text }]
      }]
    return { usage: new Usage(), output, responseId: `resp_${id}` }
  }
  // eslint-disable-next-line require-yield
  async *getStreamedResponse() {
    throw new Error("the scripted model does not stream")
  }
}

export const addTool = tool({
  name: "add",
  description: "Adds two numbers.",
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: add
})

export const makeAgent = (model) =>
  new Agent({ name: "adder", instructions: "Add numbers with the add tool.", model, tools: [addTool] })

export { run }
