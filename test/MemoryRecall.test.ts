/**
 * What recall finds and how it scores it (stemming, thresholdable scores, the recency fallback),
 * commits that store a text once, the re-indexing of a store written before stemming, typed errors
 * for every bad store file, and a floor on the recall-quality set (bench/data/memory-recall.json).
 */
import { assert, describe, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import { Effect, Layer } from "effect"
import { spawnSync } from "node:child_process"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Entry, IdGenerator, Memory, Session } from "rath"
import { scopedTempDir } from "./utils.js"

const tempDir = scopedTempDir("rath-memory-recall-")

const ids = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const backends: ReadonlyArray<{
  readonly name: string
  readonly layer: Layer.Layer<Memory.Memory, Memory.MemoryError>
}> = [
  { name: "memory", layer: Layer.effect(Memory.Memory, Memory.makeMemory()) },
  {
    name: "sqlite",
    layer: Layer.unwrapScoped(
      Effect.map(tempDir, (dir) => Memory.layerSqlite({ filename: NodePath.join(dir, "m.db") }))
    )
  }
]

const texts = (hits: ReadonlyArray<Memory.Hit>) => hits.map((hit) => hit.text)

for (const backend of backends) {
  const withStore = <A, E>(effect: Effect.Effect<A, E, Memory.Memory>) =>
    effect.pipe(Effect.provide(backend.layer), ids)

  describe(`Memory recall (${backend.name})`, () => {
    it.effect("another form of a word finds the memory, in seven languages", () =>
      withStore(Effect.gen(function*() {
        const memory = yield* Memory.Memory
        const pairs: ReadonlyArray<readonly [string, string]> = [
          ["drink", "Ada drinks green tea"],
          ["live", "Bob lives near the river"],
          ["what is Carol running", "Carol runs the payroll"],
          ["que mange Ada", "Ada mangeait des croissants chaque matin"],
          ["welche Bücher liest Ada", "Ada las das Buch über Vulkane"],
          ["qué canciones canta Eve", "Eve cantaba canciones de cuna"],
          ["che cosa studia Frank", "Frank studiava architettura a Milano"],
          ["onde mora Bob", "Bob morava em Coimbra"],
          ["wie werkt er op zaterdag", "Dan werkte op zaterdag in de bakkerij"],
          ["Größe", "die Groesse passt nicht, die Grösse schon"]
        ]
        yield* memory.rememberAll(pairs.map(([, text]) => ({ namespace: "n", text })))
        // unrelated memories, so that no word is in half the store
        yield* memory.rememberAll(
          ["the office closes at seven", "the printer is broken", "lunch is at noon", "the VPN drops"].map((text) => ({
            namespace: "n",
            text
          }))
        )
        for (const [query, text] of pairs) {
          const hits = yield* memory.recall({ query, k: 1, fallback: "none" })
          assert.deepStrictEqual(texts(hits), [text], query)
          assert.isAbove(hits[0]!.score, 0.3, query)
        }
      })))

    it.effect("one language's stem never matches another's", () =>
      withStore(Effect.gen(function*() {
        const memory = yield* Memory.Memory
        // Italian, Spanish and Portuguese stem "note" to "not"; this text is English
        yield* memory.remember({ namespace: "n", text: "I do not like the rain" })
        yield* memory.remember({ namespace: "n", text: "a note on the fridge" })
        assert.deepStrictEqual(texts(yield* memory.recall({ query: "note", fallback: "none" })), [
          "a note on the fridge"
        ])
      })))

    it.effect("a word in half the memories or more scores like any other (no near-zero)", () =>
      withStore(Effect.gen(function*() {
        const memory = yield* Memory.Memory
        yield* memory.remember({ namespace: "n", text: "Ada drinks tea" })
        yield* memory.remember({ namespace: "n", text: "Bob drinks coffee" })
        // "tea" is in half the store (FTS5's idf: 0, clamped to 1e-6), "drinks" in all of it
        const tea = yield* memory.recall({ query: "tea", minScore: 0.5 })
        assert.deepStrictEqual(texts(tea), ["Ada drinks tea"])
        assert.strictEqual(tea[0]!.score, 1)
        const drink = yield* memory.recall({ query: "who drinks", minScore: 0.5 })
        assert.sameMembers(texts(drink), ["Ada drinks tea", "Bob drinks coffee"])
        for (const hit of drink) assert.strictEqual(hit.score, 1)
        // half the query's weight: below 1, far above 0
        const half = yield* memory.recall({ query: "tea coffee", fallback: "none" })
        assert.strictEqual(half.length, 2)
        for (const hit of half) assert.isTrue(hit.score > 0.4 && hit.score < 0.6)
      })))

    it.effect("a fact sharing no word with the question comes back as a flagged recent memory", () =>
      withStore(Effect.gen(function*() {
        const memory = yield* Memory.Memory
        yield* memory.remember({ namespace: "user:bob", text: "Bob drinks coffee" })
        const old = yield* memory.remember({ namespace: "user:ada", text: "Ada likes tea" })
        const allergy = yield* memory.remember({ namespace: "user:ada", text: "I am allergic to peanuts" })
        const hits = yield* memory.recall({ query: "what snack should I buy", namespace: "user:ada", k: 3 })
        // nothing matches: the namespace's memories, newest first, score 0, match "recent"
        assert.deepStrictEqual(hits.map((hit) => [hit.id, hit.score, hit.match]), [
          [allergy.id, 0, "recent"],
          [old.id, 0, "recent"]
        ])
        // a match comes first; recent memories fill the rest, never repeating it
        const tea = yield* memory.recall({ query: "tea", namespace: "user:ada", k: 3 })
        assert.deepStrictEqual(tea.map((hit) => [hit.id, hit.match]), [[old.id, "lexical"], [allergy.id, "recent"]])
        assert.deepStrictEqual(
          (yield* memory.recall({ query: "tea", namespace: "user:ada", k: 1 })).map((hit) => hit.id),
          [old.id]
        )
        // turned off by fallback "none" or by any positive minimum score
        assert.deepStrictEqual(
          yield* memory.recall({ query: "what snack", namespace: "user:ada", fallback: "none" }),
          []
        )
        assert.deepStrictEqual(yield* memory.recall({ query: "what snack", namespace: "user:ada", minScore: 0.01 }), [])
        const error = yield* Effect.flip(memory.recall({ query: "x", fallback: "always" as "none" }))
        assert.strictEqual(error.reason, "InvalidRequest")
        // the rendered block says it matched nothing
        assert.include(Memory.renderUntrusted(hits), `[1] (id=${allergy.id} score=0.000 match=recent)`)
      })))

    it.effect("commit stores a text once per namespace, whichever session brings it", () =>
      withStore(Effect.gen(function*() {
        const memory = yield* Memory.Memory
        const run = (question: string) =>
          Effect.flatMap(
            Session.fromUserMessage(question),
            Session.append(Entry.assistant({ text: "Summary: the demo ran three agents." }))
          )
        const first = yield* memory.commit(yield* run("run the demo"), { namespace: "demo" })
        assert.deepStrictEqual([first.written.length, first.skipped], [2, 0])
        // a second run of the same demo: a new session, the same texts (one respaced and recased)
        const second = yield* memory.commit(yield* run("Run   the DEMO"), { namespace: "demo" })
        assert.deepStrictEqual([second.written.length, second.skipped], [0, 2])
        // the same text twice in one session is stored once
        const twice = yield* Session.fromUserMessage("hello").pipe(
          Effect.flatMap(Session.append(Entry.assistant({ text: "hi" }))),
          Effect.flatMap(Session.append(Entry.user("hello")))
        )
        const third = yield* memory.commit(twice, { namespace: "demo" })
        assert.deepStrictEqual([third.written.map((item) => item.text), third.skipped], [["hello", "hi"], 1])
        // another namespace is another store
        const other = yield* memory.commit(yield* run("run the demo"), { namespace: "elsewhere" })
        assert.strictEqual(other.written.length, 2)
        assert.strictEqual((yield* memory.list({ namespace: "demo" })).length, 4)
        // forgetting a memory lets a commit store its text again
        const [summary] = (yield* memory.list({ namespace: "demo" })).filter((item) => item.text.startsWith("Summary"))
        yield* memory.forget({ ids: [summary!.id] })
        const again = yield* memory.commit(yield* run("run the demo"), { namespace: "demo" })
        assert.deepStrictEqual(again.written.map((item) => item.text), ["Summary: the demo ran three agents."])
      })))
  })
}

// -----------------------------------------------------------------------------
// a store written before stemming
// -----------------------------------------------------------------------------

describe("Memory SQLite re-indexing", () => {
  it.scoped("a store of schema 1 (terms without stems) is re-indexed on open, and keeps working", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = NodePath.join(dir, "old.db")
      // the tables and rows exactly as schema 1 wrote them: terms lowercased and folded, no stems
      const db = new Sqlite(filename)
      db.exec(`
        CREATE TABLE rath_memories (pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL,
          text TEXT NOT NULL, source TEXT, session_id TEXT, entry_ids TEXT NOT NULL, metadata TEXT NOT NULL,
          created_at INTEGER NOT NULL, commit_entry TEXT, embedding BLOB, embedding_model TEXT);
        CREATE TABLE rath_memory_terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX rath_memories_namespace ON rath_memories (namespace, created_at);
        CREATE VIRTUAL TABLE rath_memories_fts USING fts5(terms, content='', contentless_delete=1, tokenize='ascii');
        PRAGMA user_version = 1;`)
      const rows = [
        [1, "mem_old1", "Ada drinks green tea", "ada drinks green tea"],
        [2, "mem_old2", "Bob lives in Lyon", "bob lives in lyon"],
        [3, "mem_old3", "the café opens at six", "the cafe opens at six"]
      ] as const
      for (const [pk, id, text, terms] of rows) {
        db.prepare(`INSERT INTO rath_memories (pk, id, namespace, text, entry_ids, metadata, created_at)
          VALUES (?, ?, 'n', ?, '[]', '{}', ?)`).run(pk, id, text, pk)
        db.prepare("INSERT INTO rath_memories_fts (rowid, terms) VALUES (?, ?)").run(pk, terms)
        for (const term of new Set(terms.split(" "))) {
          db.prepare("INSERT INTO rath_memory_terms VALUES (?, 1) ON CONFLICT (term) DO UPDATE SET df = df + 1")
            .run(term)
        }
      }
      db.prepare("INSERT INTO rath_memory_terms VALUES ('', 3)").run()
      db.close()

      const found = yield* Effect.gen(function*() {
        const memory = yield* Memory.Memory
        const drink = yield* memory.recall({ query: "drink", fallback: "none" })
        const live = yield* memory.recall({ query: "who lived in Lyon", fallback: "none" })
        // forgetting uses the new terms: the statistics stay right, nothing is found any more
        yield* memory.forget({ ids: ["mem_old1"] })
        const gone = yield* memory.recall({ query: "drinks", fallback: "none" })
        // commit deduplication sees the old rows too
        const commit = yield* memory.commit(
          yield* Session.fromUserMessage("Bob lives in Lyon"),
          { namespace: "n", kinds: ["User"] }
        )
        return { drink: texts(drink), live: texts(live), gone, skipped: commit.skipped }
      }).pipe(Effect.provide(Memory.layerSqlite({ filename })))
      assert.deepStrictEqual(found, {
        drink: ["Ada drinks green tea"],
        live: ["Bob lives in Lyon"],
        gone: [],
        skipped: 1
      })
      const reopened = new Sqlite(filename, { readonly: true })
      const version = reopened.pragma("user_version", { simple: true })
      const meta = reopened.prepare("SELECT value FROM rath_memory_meta WHERE key = 'terms'").get() as { value: string }
      const count = reopened.prepare("SELECT df FROM rath_memory_terms WHERE term = ''").get() as { df: number }
      reopened.close()
      assert.strictEqual(version, 2)
      assert.match(meta.value, /^2:en,fr,de,es,it,pt,nl$/)
      assert.strictEqual(count.df, 2)
      // opened again: not re-indexed a second time, still right
      const again = yield* Effect.flatMap(Memory.Memory, (memory) => memory.recall({ query: "cafe", fallback: "none" }))
        .pipe(Effect.provide(Memory.layerSqlite({ filename })))
      assert.deepStrictEqual(texts(again), ["the café opens at six"])
    }).pipe(ids))

  it.scoped("a store of a newer schema is refused", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = NodePath.join(dir, "new.db")
      const db = new Sqlite(filename)
      db.pragma("user_version = 9")
      db.close()
      const error = yield* Effect.flip(Layer.build(Memory.layerSqlite({ filename })))
      assert.strictEqual(error.reason, "StoreFailed")
      assert.include(error.detail, "newer")
    }))
})

// -----------------------------------------------------------------------------
// bad store files
// -----------------------------------------------------------------------------

const open = (filename: string) => Effect.flip(Layer.build(Memory.layerSqlite({ filename })))

const isRoot = process.getuid?.() === 0
const CI = process.env.CI === "true"

/** A tmpfs of `size` mounted at a fresh directory for the scope (needs root), or `undefined`. */
const tmpfs = (size: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "rath-memory-tmpfs-"))
      const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]).status === 0
      return { dir, mounted }
    }),
    ({ dir, mounted }) =>
      Effect.sync(() => {
        if (mounted) spawnSync("umount", ["-l", dir])
        NodeFs.rmSync(dir, { recursive: true, force: true })
      })
  )

/** Fills the file system holding `dir` until a write fails with ENOSPC. */
const fill = (dir: string) => {
  const fd = NodeFs.openSync(NodePath.join(dir, "filler"), "w")
  const block = Buffer.alloc(4096, 1)
  try {
    for (;;) NodeFs.writeSync(fd, block)
  } catch (cause) {
    if (!(typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOSPC")) throw cause
  } finally {
    NodeFs.closeSync(fd)
  }
}

const mountNote = "needs root and `mount -t tmpfs` (run the suite as root, as CI does)"

describe("Memory SQLite: every bad store file is a typed MemoryError", () => {
  it.scoped("a directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* open(dir)
      assert.strictEqual(error._tag, "MemoryError")
      assert.strictEqual(error.reason, "StoreFailed")
      assert.include(error.detail, "it is a directory")
    }))

  it.scoped("a file that is not a database", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = NodePath.join(dir, "notes.txt")
      NodeFs.writeFileSync(filename, "these are my notes, not a database\n".repeat(10))
      const error = yield* open(filename)
      assert.strictEqual(error.reason, "Corrupt")
      assert.include(error.detail, "not an SQLite database")
    }))

  it.scoped("a truncated store, cut inside its header and inside its pages", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = NodePath.join(dir, "whole.db")
      yield* Effect.flatMap(
        Memory.Memory,
        (memory) =>
          memory.rememberAll(Array.from({ length: 400 }, (_, i) => ({ namespace: "n", text: `memory number ${i}` })))
      ).pipe(Effect.provide(Memory.layerSqlite({ filename })), ids)
      const whole = NodeFs.readFileSync(filename)
      for (const length of [50, Math.floor(whole.length / 2) + 100, whole.length - 4096]) {
        const cut = NodePath.join(dir, `cut-${length}.db`)
        NodeFs.writeFileSync(cut, whole.subarray(0, length))
        const error = yield* open(cut)
        assert.strictEqual(error.reason, "Corrupt", `${length} bytes`)
        assert.include(error.detail, "truncated")
      }
    }))

  it.scoped("a dangling symlink is refused, not followed to create its target", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const link = NodePath.join(dir, "memory.db")
      const target = NodePath.join(dir, "elsewhere.db")
      NodeFs.symlinkSync(target, link)
      const error = yield* open(link)
      assert.strictEqual(error.reason, "StoreFailed")
      assert.include(error.detail, "does not exist")
      assert.isFalse(NodeFs.existsSync(target))
      // and one into a missing directory
      const deep = NodePath.join(dir, "deep.db")
      NodeFs.symlinkSync(NodePath.join(dir, "missing", "x.db"), deep)
      assert.strictEqual((yield* open(deep)).reason, "StoreFailed")
    }))

  it.scoped("a read-only store", () =>
    Effect.gen(function*() {
      if (!isRoot) {
        // an ordinary user cannot write a file without write permission
        const dir = yield* tempDir
        const filename = NodePath.join(dir, "ro.db")
        new Sqlite(filename).close()
        NodeFs.chmodSync(filename, 0o444)
        const error = yield* open(filename)
        assert.strictEqual(error.reason, "StoreFailed")
        assert.include(error.detail, "read-only")
        return
      }
      // root writes through permissions: a read-only mount is what stops it
      const { dir, mounted } = yield* tmpfs("1m")
      if (!mounted) {
        assert.isFalse(CI, `a read-only store test ${mountNote}`)
        return
      }
      const filename = NodePath.join(dir, "ro.db")
      yield* Effect.flatMap(Memory.Memory, (memory) => memory.remember({ namespace: "n", text: "kept" }))
        .pipe(Effect.provide(Memory.layerSqlite({ filename })), ids)
      assert.strictEqual(spawnSync("mount", ["-o", "remount,ro", dir]).status, 0)
      const error = yield* open(filename)
      assert.strictEqual(error.reason, "StoreFailed")
      assert.include(error.detail, "read-only")
      // a new store on read-only media too
      assert.include((yield* open(NodePath.join(dir, "new.db"))).detail, "read-only")
    }))

  it.scoped("a full disk: opening a new store, and remember on an open one", () =>
    Effect.gen(function*() {
      const { dir, mounted } = yield* tmpfs("256k")
      if (!mounted) {
        assert.isFalse(CI, `the full-disk test ${mountNote}`)
        return
      }
      // remember on a store whose disk fills up while it is open
      const filename = NodePath.join(dir, "full.db")
      const { error, kept } = yield* Effect.gen(function*() {
        const memory = yield* Memory.Memory
        yield* memory.remember({ namespace: "n", text: "written before the disk filled" })
        fill(dir)
        const error = yield* Effect.flip(
          memory.rememberAll(
            Array.from({ length: 50 }, (_, i) => ({ namespace: "n", text: `${i} ${"x".repeat(4000)}` }))
          )
        )
        // nothing of the failed batch is stored, nothing before it is lost
        return { error, kept: texts(yield* memory.recall({ query: "disk filled", k: 100 })) }
      }).pipe(Effect.provide(Memory.layerSqlite({ filename })), ids)
      assert.deepStrictEqual(kept, ["written before the disk filled"])
      assert.strictEqual(error._tag, "MemoryError")
      assert.strictEqual(error.reason, "StoreFailed")
      assert.include(error.detail, "the disk is full")
      // a new store on the full disk
      const fresh = yield* open(NodePath.join(dir, "fresh.db"))
      assert.strictEqual(fresh.reason, "StoreFailed")
      assert.include(fresh.detail, "the disk is full")
    }))
})

// -----------------------------------------------------------------------------
// a floor on the recall-quality set
// -----------------------------------------------------------------------------

interface Data {
  readonly cases: { readonly [category: string]: ReadonlyArray<readonly [string, string]> }
  readonly distractors: ReadonlyArray<string>
  readonly concepts: { readonly [word: string]: string }
}

const data: Data = JSON.parse(
  NodeFs.readFileSync(NodePath.join(import.meta.dirname, "..", "bench", "data", "memory-recall.json"), "utf8")
)

/** The share of `cases` whose memory is among the first 5 hits (every 3rd case of each category). */
const recallAt5 = (layer: Layer.Layer<Memory.Memory, Memory.MemoryError>) =>
  Effect.gen(function*() {
    const memory = yield* Memory.Memory
    const sample = Object.fromEntries(
      Object.entries(data.cases).map(([category, cases]) => [category, cases.filter((_, i) => i % 3 === 0)])
    )
    const stored = Array.from(new Set(Object.values(sample).flat().map(([, text]) => text)))
    yield* memory.rememberAll([...stored, ...data.distractors].map((text) => ({ namespace: "q", text })))
    const out: Record<string, number> = {}
    for (const [category, cases] of Object.entries(sample)) {
      let found = 0
      for (const [query, text] of cases) {
        const hits = yield* memory.recall({ query, k: 5, fallback: "none" })
        if (hits.some((hit) => hit.text === text)) found++
      }
      out[category] = found / cases.length
    }
    return out
  }).pipe(Effect.provide(layer), ids)

describe("Memory recall quality (a third of bench/data/memory-recall.json)", () => {
  it.effect("lexical: inflection, accents, CJK and distractors above their floors", () =>
    Effect.gen(function*() {
      const lexical = yield* recallAt5(Layer.effect(Memory.Memory, Memory.makeMemory()))
      assert.isAtLeast(lexical["inflection-en"]!, 0.75)
      assert.isAtLeast(lexical["inflection-intl"]!, 0.75)
      assert.isAtLeast(lexical.accents!, 0.8)
      assert.isAtLeast(lexical.cjk!, 0.8)
      assert.isAtLeast(lexical.distractor!, 0.8)
    }))

  it.effect("hybrid (fake embedder with the concept map): paraphrases found, the rest kept", () =>
    Effect.gen(function*() {
      const hybrid = yield* recallAt5(
        Layer.effect(Memory.Memory, Memory.makeMemory()).pipe(
          Layer.provide(Memory.layerFakeEmbedder({ dimensions: 256, concepts: data.concepts }))
        )
      )
      assert.isAtLeast(hybrid.paraphrase!, 0.6)
      assert.isAtLeast(hybrid["inflection-en"]!, 0.75)
      assert.isAtLeast(hybrid.accents!, 0.8)
    }))
})
