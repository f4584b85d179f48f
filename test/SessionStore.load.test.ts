/**
 * Loading a long session from the SQLite store (issue 15): the chain is read in windows of
 * consecutive rows (256, 512, then the rest here), each as two plain columns. The entries come
 * back as they were saved (fields, order, classes, shared authors), and a damaged row in any
 * window, at its edges included, is `Corrupt` naming that entry.
 */
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Chunk, Effect } from "effect"
import { join } from "node:path"
import { Entry, IdGenerator, Session } from "rath"
import { nodeChecksum } from "../src/internal/storeCodec.js"
import { editSqlite, scopedTempDir, typedStoreFailure, withSqliteStore } from "./utils.js"

const tempDir = scopedTempDir("rath-load-")

const withStore = withSqliteStore

const deterministic = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const LENGTH = 1000

/** Entry i of the long session: every few entries another kind, or an author of its own. */
const draft = (i: number) => {
  switch (i % 5) {
    case 0:
      return Entry.user(`message ${i}`)
    case 1:
      return Entry.assistant({
        text: `answer ${i}`,
        toolCalls: [{ id: `call_${i}`, name: "add", arguments: JSON.stringify({ a: i, b: 2 }) }],
        author: { kind: "agent", name: "adder" },
        usage: { inputTokens: i, outputTokens: 1, totalTokens: i + 1 }
      })
    case 2:
      return Entry.toolResult({ callId: `call_${i - 1}`, toolName: "add", output: String(i + 2) })
    case 3:
      return Entry.assistant({ text: `answer ${i}`, finishReason: "stop" })
    default:
      return Entry.user(`message ${i} ${"é€😀".repeat(i % 7)}`)
  }
}

/** A session of LENGTH entries, saved alone to a new store: row id i holds entry #i. */
const savedStore = (dir: string) =>
  Effect.gen(function*() {
    const filename = join(dir, "rath.db")
    const session = yield* Session.make(Array.from({ length: LENGTH }, (_, i) => draft(i)))
    yield* withStore(filename, (store) => store.save(session))
    return { filename, session }
  })

const edit = editSqlite

const typedFailure = typedStoreFailure

/** Rewrites a node's text with the checksum that matches it, as other software could. */
const forgeNode = (filename: string, row: ReturnType<typeof nodeRow>, data: string) =>
  edit(
    filename,
    "UPDATE rath_nodes SET data = ?, crc = ? WHERE id = ?",
    data,
    nodeChecksum(row.prev, row.pos, data),
    row.id
  )

/** The stored node at a position, read as other software would. */
const nodeRow = (filename: string, pos: number) => {
  const db = new Database(filename)
  try {
    return db.prepare("SELECT id, prev, pos, data FROM rath_nodes WHERE pos = ?").get(pos) as {
      id: number
      prev: number | null
      pos: number
      data: string
    }
  } finally {
    db.close()
  }
}

describe("SessionStore load of a long session (sqlite)", () => {
  it.scoped("gives back every entry as saved: fields in order, classes, shared authors, usage", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      const loaded = yield* withStore(filename, (store) => store.load(session.id))
      const saved = Chunk.toReadonlyArray(Session.entries(session))
      const back = Chunk.toReadonlyArray(Session.entries(loaded))
      assert.strictEqual(back.length, LENGTH)
      for (let i = 0; i < LENGTH; i++) {
        assert.strictEqual(JSON.stringify(back[i]), JSON.stringify(saved[i]), `entry #${i + 1}`)
        assert.strictEqual(Object.getPrototypeOf(back[i]), Object.getPrototypeOf(saved[i]), `class of #${i + 1}`)
      }
      // one author value per default author, as Session.append makes them
      assert.strictEqual(back[0]!.author, Entry.userAuthor)
      assert.strictEqual(back[3]!.author, Entry.programAuthor)
      assert.strictEqual(back[998]!.author, back[3]!.author)
      // an author of its own: one value across the session too
      assert.strictEqual(back[1]!.author, back[996]!.author)
      assert.deepStrictEqual(Session.usage(loaded), Session.usage(session))
      assert.strictEqual(loaded.length, LENGTH)
    })))

  it.scoped("the entries of a loaded session are its chain's, in order, loaded whole or on top of a held chain", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      /** `Session.entries` against a walk of the chain itself: the same entry objects, oldest first. */
      const matchesChain = (loaded: Session.Session) => {
        const entries = Chunk.toReadonlyArray(Session.entries(loaded))
        const walked = Array.from(Session.chain(loaded.node), (node) => node.entry).reverse()
        assert.strictEqual(entries.length, loaded.length)
        for (let i = 0; i < walked.length; i++) assert.strictEqual(entries[i], walked[i], `entry #${i + 1}`)
        // every node as Session.link makes it: the same fields, in order, the same length and usage
        let linked: Session.Node | undefined = undefined
        const nodes = Array.from(Session.chain(loaded.node)).reverse()
        for (let i = 0; i < nodes.length; i++) {
          linked = Session.link(linked, nodes[i]!.entry)
          assert.deepStrictEqual(Object.keys(nodes[i]!), Object.keys(linked), `node #${i + 1}`)
          assert.strictEqual(nodes[i]!.length, linked.length, `node #${i + 1}`)
          assert.deepStrictEqual(nodes[i]!.usage, linked.usage, `usage at node #${i + 1}`)
        }
      }
      yield* withStore(filename, (store) =>
        Effect.gen(function*() {
          const loaded = yield* store.load(session.id)
          matchesChain(loaded)
          // a fork of the loaded session, saved and loaded again: only its own row is read, on
          // top of the loaded chain, and its entries are that chain's and its own
          const fork = yield* Session.fork(loaded)
          const next = yield* Session.append(fork, Entry.user("one more"))
          yield* store.save(next)
          const back = yield* store.load(next.id)
          assert.strictEqual(back.node!.prev, loaded.node)
          matchesChain(back)
          assert.strictEqual((Chunk.unsafeLast(Session.entries(back)) as Entry.User).text, "one more")
          // the loaded session itself, once more: the same head node, the same entries
          const again = yield* store.load(session.id)
          assert.strictEqual(again.node, loaded.node)
          assert.strictEqual(Session.entries(again), Session.entries(loaded))
        }))
    })))

  it.scoped("a row whose tag is a name every object has (constructor, __proto__, toString) is Corrupt", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      // written by other software: the row's checksum is right, its tag is no entry's
      const row = nodeRow(filename, 300)
      for (const tag of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
        const data = row.data.replace(/"_tag":"[A-Za-z]+"/, `"_tag":"${tag}"`)
        assert.notStrictEqual(data, row.data)
        forgeNode(filename, row, data)
        const error = yield* typedFailure(withStore(filename, (store) => store.load(session.id)))
        assert.strictEqual(error.reason, "Corrupt", tag)
        assert.include(error.message, "entry #300", tag)
      }
    })))

  it.scoped("a row with a __proto__ field (checksum right) is Corrupt, never an entry of another prototype", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      const row = nodeRow(filename, 300)
      // JSON.parse keeps "__proto__" as an own field; copied onto an entry by assignment it would
      // replace the entry's prototype (its class, its methods) instead
      const data = row.data.replace(/^\{/, `{"__proto__":{"text":"forged"},`)
      assert.notStrictEqual(data, row.data)
      forgeNode(filename, row, data)
      const error = yield* typedFailure(withStore(filename, (store) => store.load(session.id)))
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.message, "entry #300")
      assert.include(error.message, "__proto__")
    })))

  it.scoped("a row damaged anywhere (first, last, either side of a window's edge) is Corrupt naming its entry", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      // windows from the head: rows 745..1000, 233..744, 1..232
      for (const position of [1, 2, 232, 233, 500, 744, 745, 999, 1000]) {
        edit(filename, `UPDATE rath_nodes SET data = replace(data, '"_tag"', '"_tag" ') WHERE id = ?`, position)
        const error = yield* typedFailure(withStore(filename, (store) => store.load(session.id)))
        assert.strictEqual(error.reason, "Corrupt")
        assert.include(error.message, `entry #${position} fails its checksum`)
        edit(filename, `UPDATE rath_nodes SET data = replace(data, '"_tag" ', '"_tag"') WHERE id = ?`, position)
      }
      const loaded = yield* withStore(filename, (store) => store.load(session.id))
      assert.strictEqual(loaded.length, LENGTH)
    })))

  it.scoped("a value of the wrong type or a missing checksum in a window is Corrupt naming its entry", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      const load = typedFailure(withStore(filename, (store) => store.load(session.id)))
      edit(filename, "UPDATE rath_nodes SET data = CAST(data AS BLOB) WHERE id = 600")
      const blob = yield* load
      assert.strictEqual(blob.reason, "Corrupt")
      assert.include(blob.message, "entry #600: the node holds a value of the wrong type")
      edit(filename, "UPDATE rath_nodes SET data = CAST(data AS TEXT) WHERE id = 600")
      // text that is not a number (the column's affinity would turn "123" back into 123)
      edit(filename, "UPDATE rath_nodes SET crc = 'x' || crc WHERE id = 900")
      const text = yield* load
      assert.include(text.message, "entry #900 fails its checksum")
      edit(filename, "UPDATE rath_nodes SET crc = substr(crc, 2) WHERE id = 900")
      edit(filename, "UPDATE rath_nodes SET crc = NULL WHERE id = 100")
      const missing = yield* load
      assert.include(missing.message, "entry #100 has no checksum")
    })))
})
