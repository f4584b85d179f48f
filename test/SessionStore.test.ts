/**
 * The SessionStore conformance suite: every test runs against the in-memory store, against a
 * real SQLite file in a temporary folder, and against a fresh database on a real PostgreSQL server
 * (one server for the file, started by `startPostgres`; skipped outside CI when PostgreSQL is not
 * installed).
 */
import { assert, describe, it, layer, type Vitest } from "@effect/vitest"
import { Chunk, Effect, Either, Equal, Layer, Option, TestClock, TestContext } from "effect"
import { join } from "node:path"
import { Entry, IdGenerator, Placement, Session, SessionStore } from "rath"
import { skipPostgres } from "./postgres.js"
import { freshDatabase, PgServerLive } from "./postgresDb.js"
import { scopedTempDir } from "./utils.js"

const tempDir = scopedTempDir("rath-store-")

const sqlite = Layer.unwrapScoped(
  Effect.map(tempDir, (dir) => SessionStore.layer({ filename: join(dir, "nested", "rath.db") }))
)

/** A fresh database per test on the file's server, through the URL a runner's config would give. */
const postgres = Layer.unwrapEffect(Effect.map(freshDatabase, (url) => SessionStore.layerFromUrl(url)))

const agent: Entry.Author = { kind: "agent", name: "coder" }

/** A session that uses every entry kind. */
const everyKind = Effect.gen(function*() {
  const local = Placement.make({ backend: "local", id: "ws-1", workspace: "/tmp/ws" })
  const s = yield* Session.fromAgentPrompt({ instructions: "be brief", message: "add 2 and 3", agent: "coder" })
  return yield* Session.appendAll(s, [
    Entry.placed(local),
    Entry.assistant({
      text: "",
      toolCalls: [{ id: "c1", name: "add", arguments: "{\"a\":2,\"b\":3}", parsed: { a: 2, b: 3 } }],
      model: "m",
      provider: { kind: "scripted", host: "127.0.0.1" },
      finishReason: "tool_calls",
      usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15, cachedInputTokens: 2 }
    }),
    Entry.toolResult({ callId: "c1", toolName: "add", output: 5, durationMs: 3, sandbox: local }),
    Entry.toolResult({
      callId: "c2",
      toolName: "fail",
      output: null,
      durationMs: 1,
      error: { kind: "tool_failed", message: "boom" },
      effects: [{ op: "write", path: "a.txt", bytes: 3 }],
      approval: { decision: "approved", by: "me" }
    }),
    Entry.memory({
      operation: "recall",
      store: "notes",
      namespace: undefined,
      query: "sum",
      hits: [{ id: "m1", text: "2+3", score: 0.5 }],
      written: undefined
    }),
    Entry.compression({ covers: [], text: "summary", model: undefined, usage: undefined }),
    Entry.check("tests", true, { details: { passed: 3 } }),
    Entry.custom("note", { nested: [1, "two", { three: null }] }),
    Entry.placed(Placement.make({ backend: "bwrap" }), { previous: local })
  ])
})

const grow = (session: Session.Session, n: number, label = "m") =>
  Effect.reduce(
    Array.from({ length: n }, (_, i) => i),
    session,
    (s, i) => Session.append(s, i % 2 === 0 ? Entry.user(`${label} ${i}`) : Entry.assistant({ text: `${label} ${i}` }))
  )

const reasonOf = <A>(either: Either.Either<A, SessionStore.SessionStoreError>): string =>
  Either.isLeft(either) ? either.left.reason : "ok"

const conformance = <R>(
  it: { readonly effect: Vitest.Tester<R> },
  backend: Layer.Layer<SessionStore.SessionStore, SessionStore.SessionStoreError, R>
) => {
  {
    // a fresh TestClock per test (a `layer(...)` block would otherwise share one)
    const run = <A, E>(body: Effect.Effect<A, E, SessionStore.SessionStore>) =>
      body.pipe(
        Effect.provide(backend),
        Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential()),
        Effect.provide(TestContext.TestContext)
      )

    it.effect("save then load gives back the same session, every entry kind included", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const session = yield* everyKind
        const result = yield* store.save(session)
        assert.deepStrictEqual(result, { appended: session.length, created: true })
        const loaded = yield* store.load(session.id)
        assert.isTrue(Equal.equals(loaded, session))
        assert.strictEqual(Session.toJsonl(loaded), Session.toJsonl(session))
        assert.deepStrictEqual(Session.usage(loaded), Session.usage(session))
        assert.isTrue(Equal.equals(loaded.placement, session.placement))
      })))

    it.effect("two sessions whose different entries share an id each load their own (ids are not content)", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        // two runs with their own sequential generators: both mint e_000001
        const sequential = <A>(effect: Effect.Effect<A>) =>
          Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())
        const a = yield* sequential(Session.fromUserMessage("hello from run A"))
        const b = yield* sequential(Effect.flatMap(Session.fork(a), () => Session.fromUserMessage("secret from run B")))
        assert.strictEqual(Session.entries(a).pipe(Chunk.unsafeHead).id, Session.entries(b).pipe(Chunk.unsafeHead).id)
        yield* store.save(a)
        yield* store.save(b)
        for (const session of [a, b]) {
          const loaded = yield* store.load(session.id)
          assert.strictEqual(Session.toJsonl(loaded), Session.toJsonl(session))
        }
      })))

    it.effect("an empty session round-trips, and saves are incremental and idempotent", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const empty = yield* Session.empty()
        yield* store.save(empty)
        assert.isTrue(Equal.equals(yield* store.load(empty.id), empty))
        const two = yield* grow(empty, 2)
        assert.deepStrictEqual(yield* store.save(two), { appended: 2, created: false })
        assert.deepStrictEqual(yield* store.save(two), { appended: 0, created: false })
        const five = yield* grow(two, 3)
        assert.deepStrictEqual(yield* store.save(five), { appended: 3, created: false })
        assert.isTrue(Equal.equals(yield* store.load(empty.id), five))
      })))

    it.effect("forks and merges round-trip exactly, whichever side was saved first", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const base = yield* grow(yield* Session.fromUserMessage("root"), 4, "base")
        yield* store.save(base)
        const left = yield* grow(yield* Session.fork(base), 3, "left")
        const right = yield* grow(yield* Session.fork(base, { by: agent }), 2, "right")
        yield* store.save(right)
        const merged = yield* Session.merge(left, right)
        // left was never saved: the merged session brings its entries along
        yield* store.save(merged)
        yield* store.save(left)
        const after = yield* grow(yield* Session.fork(merged), 2, "after")
        yield* store.save(after)
        for (const session of [base, left, right, merged, after]) {
          const loaded = yield* store.load(session.id)
          assert.isTrue(Equal.equals(loaded, session), `round trip of ${session.id}`)
        }
        // a merge of a merge, and a merge with an ancestor
        const again = yield* Session.merge(after, yield* grow(right, 1, "late"))
        const withAncestor = yield* Session.merge(after, base)
        yield* store.save(again)
        yield* store.save(withAncestor)
        assert.isTrue(Equal.equals(yield* store.load(again.id), again))
        assert.isTrue(Equal.equals(yield* store.load(withAncestor.id), withAncestor))
      })))

    it.effect("a diverged history is a Conflict and the stored session is unchanged", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const base = yield* grow(yield* Session.fromUserMessage("root"), 2)
        yield* store.save(base)
        const ours = yield* Session.append(base, Entry.user("ours"))
        const theirs = yield* Session.append(base, Entry.user("theirs"))
        yield* store.save(ours)
        const conflict = yield* Effect.either(store.save(theirs))
        assert.strictEqual(reasonOf(conflict), "Conflict")
        if (Either.isLeft(conflict)) {
          assert.strictEqual(conflict.left.sessionId, base.id)
          assert.match(conflict.left.message, /diverged/)
        }
        // an older value of the same session is behind the store: also refused
        assert.strictEqual(reasonOf(yield* Effect.either(store.save(base))), "Conflict")
        assert.isTrue(Equal.equals(yield* store.load(base.id), ours))
      })))

    it.effect("text with NUL, quotes, backslashes and non-ASCII round-trips, and list by text still finds it", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const odd = "nul \u0000 quote \" backslash \\u0000 Grüße 你好 \ud83d\ude00 TAIL"
        const session = yield* Session.fromUserMessage(odd).pipe(
          Effect.flatMap(Session.append(Entry.custom("odd", { text: odd, nested: ["\u0000"] })))
        )
        yield* store.save(session)
        const loaded = yield* store.load(session.id)
        assert.isTrue(Equal.equals(loaded, session))
        assert.strictEqual(Session.toJsonl(loaded), Session.toJsonl(session))
        assert.deepStrictEqual((yield* store.list({ text: "tail" })).map((row) => row.id), [session.id])
        assert.deepStrictEqual((yield* store.list({ since: -0.5, until: 0.5 })).map((row) => row.id), [
          session.id
        ])
      })))

    it.effect("unknown ids are NotFound", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        assert.strictEqual(reasonOf(yield* Effect.either(store.load("s_missing"))), "NotFound")
        assert.strictEqual(reasonOf(yield* Effect.either(store.delete("s_missing"))), "NotFound")
        assert.strictEqual(reasonOf(yield* Effect.either(store.ancestors("s_missing"))), "NotFound")
        assert.strictEqual(reasonOf(yield* Effect.either(store.exportJsonl("s_missing"))), "NotFound")
      })))

    it.effect("list filters by time, agent, parent and text", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const a = yield* Session.fromUserMessage("Find the BUG in parser.ts")
        yield* TestClock.adjust(1000)
        const b = yield* Session.step(a, agent).pipe(Effect.flatMap(Session.append(Entry.assistant({ text: "fixed" }))))
        yield* TestClock.adjust(1000)
        const c = yield* Session.fromUserMessage("unrelated")
        yield* store.save(a)
        yield* store.save(b)
        yield* store.save(c, { agent: { name: "reviewer", model: "m" } })
        const ids = (rows: ReadonlyArray<SessionStore.Summary>) => rows.map((row) => row.id)
        assert.deepStrictEqual(ids(yield* store.list()), [a.id, b.id, c.id])
        assert.deepStrictEqual(ids(yield* store.list({ since: 1000 })), [b.id, c.id])
        assert.deepStrictEqual(ids(yield* store.list({ since: 500, until: 2000 })), [b.id])
        assert.deepStrictEqual(ids(yield* store.list({ agent: "coder" })), [b.id])
        assert.deepStrictEqual(ids(yield* store.list({ agent: "reviewer" })), [c.id])
        assert.deepStrictEqual(ids(yield* store.list({ parent: a.id })), [b.id])
        // text is searched in every entry of a session's history, ASCII case-insensitively
        assert.deepStrictEqual(ids(yield* store.list({ text: "the bug" })), [a.id, b.id])
        assert.deepStrictEqual(ids(yield* store.list({ text: "FIXED" })), [b.id])
        assert.deepStrictEqual(ids(yield* store.list({ text: "%" })), [])
        assert.deepStrictEqual(ids(yield* store.list({ limit: 1 })), [a.id])
        const [summary] = yield* store.list({ agent: "reviewer" })
        assert.deepStrictEqual(summary!.agent, Option.some({ name: "reviewer", model: "m" }))
        assert.deepStrictEqual(summary!.head, Option.map(Session.head(c), (entry) => entry.id))
        assert.strictEqual(summary!.length, 1)
      })))

    it.effect("ancestors and descendants walk the lineage, nearest first", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const root = yield* Session.fromUserMessage("root")
        const a = yield* Session.fork(root)
        const b = yield* Session.fork(root)
        const a1 = yield* Session.fork(a)
        const m = yield* Session.merge(a1, b)
        for (const s of [root, a, b, a1, m]) yield* store.save(s)
        const ids = (rows: ReadonlyArray<SessionStore.Summary>) => rows.map((row) => row.id)
        assert.deepStrictEqual(ids(yield* store.ancestors(m.id)), [b.id, a1.id, root.id, a.id])
        assert.deepStrictEqual(ids(yield* store.ancestors(root.id)), [])
        assert.deepStrictEqual(ids(yield* store.descendants(root.id)), [a.id, b.id, a1.id, m.id])
        assert.deepStrictEqual(ids(yield* store.descendants(a1.id)), [m.id])
      })))

    it.effect("delete removes a session and keeps the history its forks still use", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const base = yield* grow(yield* Session.fromUserMessage("root"), 3)
        const fork = yield* grow(yield* Session.fork(base), 2, "fork")
        yield* store.save(base)
        yield* store.save(fork)
        yield* store.delete(base.id)
        assert.strictEqual(reasonOf(yield* Effect.either(store.load(base.id))), "NotFound")
        assert.isTrue(Equal.equals(yield* store.load(fork.id), fork))
        // saving it again stores it anew
        yield* store.save(base)
        assert.isTrue(Equal.equals(yield* store.load(base.id), base))
        const more = yield* grow(yield* Session.fork(base), 1, "more")
        yield* store.save(more)
        assert.isTrue(Equal.equals(yield* store.load(more.id), more))
      })))

    it.effect("prune removes sessions last saved before the cutoff", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const old = yield* Session.fromUserMessage("old")
        yield* store.save(old)
        yield* TestClock.adjust("2 hours")
        const fresh = yield* Session.fromUserMessage("fresh")
        yield* store.save(fresh)
        assert.strictEqual(yield* store.prune("1 hour"), 1)
        assert.strictEqual(yield* store.prune("1 hour"), 0)
        assert.strictEqual(reasonOf(yield* Effect.either(store.load(old.id))), "NotFound")
        assert.isTrue(Equal.equals(yield* store.load(fresh.id), fresh))
      })))

    it.effect("the agent record is saved with the session and kept when a save omits it", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const s = yield* Session.fromUserMessage("hi")
        yield* store.save(s, { agent: { name: "coder", maxTurns: 3 } })
        yield* store.save(yield* Session.append(s, Entry.user("more")))
        const [row] = yield* store.list()
        assert.deepStrictEqual(row!.agent, Option.some({ name: "coder", maxTurns: 3 }))
        assert.strictEqual(row!.length, 2)
      })))

    it.effect("exportJsonl and importJsonl use the session JSONL format; a torn file keeps its prefix", () =>
      run(Effect.gen(function*() {
        const store = yield* SessionStore.SessionStore
        const session = yield* everyKind
        yield* store.save(session)
        const text = yield* store.exportJsonl(session.id)
        assert.strictEqual(text, Session.toJsonl(session))
        // a torn copy under another id: the intact prefix is imported and reported
        const other = yield* grow(yield* Session.fromUserMessage("other"), 4)
        const full = Session.toJsonl(other)
        const lines = full.split("\n")
        const torn = lines.slice(0, 4).join("\n") + "\n" + lines[4]!.slice(0, 10)
        const imported = yield* store.importJsonl(torn)
        assert.isFalse(imported.closed)
        assert.strictEqual(imported.droppedLines, 1)
        assert.strictEqual(imported.session.length, 3)
        const loaded = yield* store.load(other.id)
        assert.isTrue(Equal.equals(loaded, imported.session))
        assert.deepStrictEqual(
          Chunk.toReadonlyArray(Session.entries(loaded)).map((e) => e.id),
          Chunk.toReadonlyArray(Session.entries(other)).slice(0, 3).map((e) => e.id)
        )
        // the complete file continues it (fast-forward)
        const complete = yield* store.importJsonl(full)
        assert.isTrue(complete.closed)
        assert.isTrue(Equal.equals(yield* store.load(other.id), other))
        const invalid = yield* Effect.either(store.importJsonl("not a session\n"))
        assert.strictEqual(reasonOf(invalid), "InvalidJsonl")
      })))
  }
}

describe("SessionStore conformance (memory)", () => conformance(it, SessionStore.layerMemory))
describe("SessionStore conformance (sqlite)", () => conformance(it, sqlite))
describe.skipIf(skipPostgres)("SessionStore conformance (postgres)", () => {
  layer(PgServerLive, { timeout: "60 seconds", excludeTestServices: true })((it) => conformance(it, postgres))
})
