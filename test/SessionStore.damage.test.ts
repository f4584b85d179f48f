/**
 * Damaged stores (issue 19): a damaged row is `Corrupt`, never another session; every open of a
 * damaged file is a typed `SessionStoreError`; a store on read-only media can be read; a stored
 * entry that fails its schema is a typed error where it is exported or shown.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Equal } from "effect"
import { spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Entry, IdGenerator, Session, SessionStore } from "rath"
import * as Source from "../src/cli/Source.js"
import { nodeChecksum } from "../src/internal/storeCodec.js"
import { editSqlite, scopedTempDir, typedStoreFailure, withSqliteStore } from "./utils.js"

const tempDir = scopedTempDir("rath-damage-")

const withStore = withSqliteStore

const deterministic = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

/** A session with an assistant answer that finished with "stop", saved to a new store. */
const savedStore = (dir: string) =>
  Effect.gen(function*() {
    const filename = join(dir, "rath.db")
    let session = yield* Session.fromUserMessage("hello")
    session = yield* Session.append(session, Entry.assistant({ text: "hello there", finishReason: "stop" }))
    session = yield* Session.append(session, Entry.user("thanks"))
    yield* withStore(filename, (store) => store.save(session))
    return { filename, session }
  })

const edit = editSqlite

const typedFailure = typedStoreFailure

describe("SessionStore damage (issue 19)", () => {
  it.scoped("a changed row whose entry still decodes (\"stop\" to \"stoq\", a changed text) is Corrupt", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      edit(filename, `UPDATE rath_nodes SET data = replace(data, '"stop"', '"stoq"')`)
      const stoq = yield* typedFailure(withStore(filename, (store) => store.load(session.id)))
      assert.strictEqual(stoq.reason, "Corrupt")
      assert.include(stoq.message, "entry #2 fails its checksum")
      // the same with a change the schema cannot see
      edit(
        filename,
        `UPDATE rath_nodes SET data = replace(replace(data, '"stoq"', '"stop"'), 'hello there', 'hellp there')`
      )
      const text = yield* typedFailure(withStore(filename, (store) => store.load(session.id)))
      assert.strictEqual(text.reason, "Corrupt")
      // a changed session row (its length) too, before its chain is walked
      edit(filename, `UPDATE rath_nodes SET data = replace(data, 'hellp there', 'hello there')`)
      assert.isTrue(Equal.equals(yield* withStore(filename, (store) => store.load(session.id)), session))
      edit(filename, "UPDATE rath_sessions SET created_at = created_at + 1")
      const row = yield* typedFailure(withStore(filename, (store) => store.list()))
      assert.strictEqual(row.reason, "Corrupt")
      assert.include(row.message, "checksum")
    })))

  it.scoped("a column renamed in the stored schema text is a typed Corrupt at open, not a defect", () =>
    deterministic(Effect.gen(function*() {
      const { filename } = yield* savedStore(yield* tempDir)
      // one bit flipped in the schema text: "data" ("t" is 0x74) becomes "daua" (0x75)
      const bytes = readFileSync(filename)
      let flipped = 0
      for (let at = bytes.indexOf("data TEXT"); at !== -1; at = bytes.indexOf("data TEXT", at + 1)) {
        bytes[at + 2] = bytes[at + 2]! ^ 0x01
        flipped++
      }
      assert.isAbove(flipped, 0)
      writeFileSync(filename, bytes)
      const error = yield* typedFailure(withStore(filename, () => Effect.void))
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.message, "damaged")
    })))

  it.scoped("a file that is no database, a truncated store and a directory are typed errors", () =>
    deterministic(Effect.gen(function*() {
      const dir = yield* tempDir
      const notDb = join(dir, "not.db")
      writeFileSync(notDb, "this is not a database, it is a text file long enough to have a header".repeat(20))
      const a = yield* typedFailure(withStore(notDb, (store) => store.list()))
      // the reason the docs give for a damaged file
      assert.strictEqual(a.reason, "Corrupt")
      const { filename, session } = yield* savedStore(dir)
      const bytes = readFileSync(filename)
      const cut = join(dir, "cut.db")
      writeFileSync(cut, bytes.subarray(0, 1500))
      const b = yield* typedFailure(withStore(cut, (store) => store.load(session.id)))
      assert.include(["Corrupt", "NotFound"], b.reason)
      const folder = join(dir, "folder.db")
      mkdirSync(folder)
      const c = yield* typedFailure(withStore(folder, () => Effect.void))
      assert.strictEqual(c.reason, "Unavailable")
      assert.include(c.message, "directory")
    })))

  it.scoped("a version-2 store (rows without checksums) migrates and loads", () =>
    deterministic(Effect.gen(function*() {
      const { filename, session } = yield* savedStore(yield* tempDir)
      // back to schema 2: no checksum columns, no record of migration 3
      edit(
        filename,
        `ALTER TABLE rath_nodes DROP COLUMN crc; ALTER TABLE rath_sessions DROP COLUMN crc;
         ALTER TABLE rath_sessions DROP COLUMN agent_crc; DELETE FROM rath_migrations WHERE migration_id = 3;`
      )
      const loaded = yield* withStore(filename, (store) => store.load(session.id))
      assert.isTrue(Equal.equals(loaded, session))
      // the migration gave the old rows their checksums: a change is now caught
      edit(filename, `UPDATE rath_nodes SET data = replace(data, 'hello there', 'hellp there')`)
      const error = yield* typedFailure(withStore(filename, (store) => store.load(session.id)))
      assert.strictEqual(error.reason, "Corrupt")
    })))

  it.scoped("a stored entry that fails its schema: export and the command line give a typed error", () =>
    deterministic(
      Effect.gen(function*() {
        const { filename, session } = yield* savedStore(yield* tempDir)
        // written by other software: the row's checksum is right, its entry is not
        const db = new Database(filename)
        const row = db.prepare("SELECT id, prev, pos, data FROM rath_nodes WHERE pos = 2").get() as {
          id: number
          prev: number | null
          pos: number
          data: string
        }
        const data = row.data.replace("\"stop\"", "\"stoq\"")
        db.prepare("UPDATE rath_nodes SET data = ?, crc = ? WHERE id = ?").run(
          data,
          nodeChecksum(row.prev, row.pos, data),
          row.id
        )
        db.close()
        const exported = yield* typedFailure(withStore(filename, (store) => store.exportJsonl(session.id)))
        assert.strictEqual(exported.reason, "Corrupt")
        assert.include(exported.message, "entry #2")
        const source = yield* Source.openStore(filename)
        const shown = yield* Effect.flip(source.load(session.id))
        assert.strictEqual(shown.reason, "InvalidData")
        assert.include(shown.message, "entry #2")
        assert.include(shown.message, "fails its schema")
      }).pipe(Effect.provide(NodeContext.layer))
    ))

  it.scoped("a store on read-only media can be read (list, load, export); a save says it is read-only", () =>
    deterministic(Effect.gen(function*() {
      const dir = yield* tempDir
      const source = join(dir, "src")
      mkdirSync(source)
      const { filename, session } = yield* savedStore(source)
      const readOnly = join(dir, "ro")
      mkdirSync(readOnly)
      const root = process.getuid?.() === 0
      // root writes through permissions: a read-only bind mount; anyone else: permissions
      const mounted = root &&
        spawnSync("mount", ["--bind", source, readOnly]).status === 0 &&
        spawnSync("mount", ["-o", "remount,bind,ro", readOnly]).status === 0
      if (root && !mounted) {
        spawnSync("umount", [readOnly])
        if (process.env.CI === "true") assert.fail("cannot make a read-only bind mount as root")
        return
      }
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (mounted) spawnSync("umount", [readOnly])
          else chmodSync(source, 0o755)
        })
      )
      if (!mounted) {
        chmodSync(filename, 0o444)
        chmodSync(source, 0o555)
      }
      const path = mounted ? join(readOnly, "rath.db") : filename
      const read = yield* withStore(path, (store) =>
        Effect.all({
          list: store.list(),
          load: store.load(session.id),
          exported: store.exportJsonl(session.id),
          save: Effect.flip(store.save(session))
        }))
      assert.strictEqual(read.list.length, 1)
      assert.isTrue(Equal.equals(read.load, session))
      assert.strictEqual(read.exported, Session.toJsonl(session))
      assert.strictEqual(read.save.reason, "Unavailable")
      assert.include(read.save.message, "read-only")
    })))

  it.effect("the memory store's export of an entry that fails its schema is Corrupt, not a defect", () =>
    deterministic(Effect.gen(function*() {
      const store = yield* SessionStore.makeMemory
      let session = yield* Session.fromUserMessage("hi")
      session = yield* Session.append(
        session,
        Entry.assistant({ text: "x", finishReason: "stoq" as unknown as "stop" })
      )
      yield* store.save(session)
      const error = yield* typedFailure(store.exportJsonl(session.id))
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.message, "entry #2")
    })))
})
