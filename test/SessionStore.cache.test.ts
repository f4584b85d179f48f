/**
 * Loads share: a SQLite store keeps the nodes it loaded (weakly, by row id), so sessions loaded
 * one by one that share stored history share it in memory too, as the forks made in the process
 * do. Observed through the public API only: `session.node` chains, `Equal`, and what a later load
 * gives back after writes, deletes and more loads than the store remembers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Equal } from "effect"
import { join } from "node:path"
import { Entry, IdGenerator, Session, SessionStore } from "rath"
import { scopedTempDir } from "./utils.js"

const tempDir = scopedTempDir("rath-cache-")

const deterministic = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const grow = (session: Session.Session, n: number, label = "m") =>
  Effect.reduce(
    Array.from({ length: n }, (_, i) => i),
    session,
    (s, i) => Session.append(s, i % 2 === 0 ? Entry.user(`${label} ${i}`) : Entry.assistant({ text: `${label} ${i}` }))
  )

/** The node at 1-based position `length` of a session's chain. */
const nodeAt = (session: Session.Session, length: number): Session.Node | undefined => {
  let node = session.node
  while (node !== undefined && node.length > length) node = node.prev
  return node
}

/** A source of `base` entries and `forks` forks of it, one entry each, saved and closed. */
const stored = (filename: string, base: number, forks: number) =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* SessionStore.makeSqlite({ filename })
    const source = yield* grow(yield* Session.empty(), base, "source")
    yield* store.save(source)
    const branches: Array<Session.Session> = []
    for (let b = 0; b < forks; b++) {
      const fork = yield* Session.append(yield* Session.fork(source), Entry.user(`branch ${b}`))
      yield* store.save(fork)
      branches.push(fork)
    }
    return { source, branches }
  }))

describe("SessionStore load cache (sqlite)", () => {
  it.scoped("forks loaded one by one hold the common history once: the same node objects", () =>
    deterministic(Effect.gen(function*() {
      const filename = join(yield* tempDir, "rath.db")
      const { branches, source } = yield* stored(filename, 50, 20)
      const store = yield* SessionStore.makeSqlite({ filename })
      // the forks first, without the source: the first load reads the history, the others meet it
      const loaded: Array<Session.Session> = []
      for (const fork of branches) loaded.push(yield* store.load(fork.id))
      const shared = loaded[0]!.node!.prev!
      assert.strictEqual(shared.length, 50)
      for (const [b, fork] of loaded.entries()) {
        assert.isTrue(Equal.equals(fork, branches[b]!))
        assert.strictEqual(fork.node!.prev, shared, `fork ${b} shares the history node`)
      }
      // the source, loaded afterwards, is that same chain
      const again = yield* store.load(source.id)
      assert.isTrue(Equal.equals(again, source))
      assert.strictEqual(again.node, shared)
      // and a second load of a fork gives the very same chain
      assert.strictEqual((yield* store.load(branches[3]!.id)).node, loaded[3]!.node)
    })))

  it.scoped("after writes, a load is the saved session, sharing what did not change", () =>
    deterministic(Effect.gen(function*() {
      const filename = join(yield* tempDir, "rath.db")
      const { branches, source } = yield* stored(filename, 30, 3)
      const store = yield* SessionStore.makeSqlite({ filename })
      const before = yield* store.load(source.id)
      // the source goes on, in this process and from another connection
      const longer = yield* grow(before, 4, "more")
      yield* store.save(longer)
      const reloaded = yield* store.load(source.id)
      assert.isTrue(Equal.equals(reloaded, longer))
      assert.strictEqual(nodeAt(reloaded, 30), before.node, "the stored history is the node loaded before")
      const other = yield* Effect.scoped(Effect.gen(function*() {
        const second = yield* SessionStore.makeSqlite({ filename })
        const next = yield* grow(yield* second.load(source.id), 2, "other")
        yield* second.save(next)
        return next
      }))
      const fromOther = yield* store.load(source.id)
      assert.isTrue(Equal.equals(fromOther, other))
      assert.strictEqual(Chunk.size(Session.entries(fromOther)), 36)
      assert.strictEqual(nodeAt(fromOther, 34), reloaded.node)
      // a fork of the grown source, saved and loaded, continues that chain
      const fork = yield* Session.append(yield* Session.fork(fromOther), Entry.user("late fork"))
      yield* store.save(fork)
      const loadedFork = yield* store.load(fork.id)
      assert.isTrue(Equal.equals(loadedFork, fork))
      assert.strictEqual(loadedFork.node!.prev, fromOther.node)
      // deleting sessions forgets what the store held: later loads read the rows again, correctly
      yield* store.delete(branches[2]!.id)
      const branch = yield* store.load(branches[0]!.id)
      assert.isTrue(Equal.equals(branch, branches[0]!))
      const refill = yield* Session.append(yield* Session.fork(source), Entry.user("after delete"))
      yield* store.save(refill)
      assert.isTrue(Equal.equals(yield* store.load(refill.id), refill))
    })))

  it.scoped(
    "the cache is bounded: after more loads than it remembers, loads still give the saved sessions",
    () =>
      deterministic(Effect.gen(function*() {
        const filename = join(yield* tempDir, "rath.db")
        // 1,100 forks of one source: each load remembers its head (and meets the source's head, the
        // node it jumps to), more ids than the store keeps (1,024)
        const { branches, source } = yield* stored(filename, 10, 1_100)
        const store = yield* SessionStore.makeSqlite({ filename })
        const first = yield* store.load(branches[0]!.id)
        for (let b = 1; b < branches.length; b++) {
          const fork = yield* store.load(branches[b]!.id)
          if (b % 300 === 0) assert.isTrue(Equal.equals(fork, branches[b]!))
          // the history every load meets stays remembered
          assert.strictEqual(fork.node!.prev, first.node!.prev)
        }
        // the first fork's head is no longer remembered: loading it again builds its own head node,
        // equal to the saved session, on the history the store still holds
        const again = yield* store.load(branches[0]!.id)
        assert.isTrue(Equal.equals(again, branches[0]!))
        assert.notStrictEqual(again.node, first.node)
        assert.strictEqual(again.node!.prev, first.node!.prev)
        assert.isTrue(Equal.equals(yield* store.load(source.id), source))
      })),
    { timeout: 120_000 }
  )
})
