// W2 fork fan-out, rath: load the persisted 1,000-message session, then per branch
// Session.fork (O(1), shares the history), Session.append one message, store.save (writes only
// the new entry and the branch's row). --store sqlite | memory.
import { check, dataDir, dirBytes, emitW2, parseArgs } from "../lib/common.mjs"
import { draft, loadEffect, loadRath, rathDurability, version } from "./lib.mjs"

const { Entry, Session, SessionStore } = await loadRath("W2", ["SessionStore"])
const { Chunk, Effect } = await loadEffect()
const { base = 1000, branches = 1000, store = "sqlite" } = parseArgs()
const dir = dataDir(`rath-w2-${store}`)
const synchronous = process.env.SQLITE_SYNC === "FULL" ? "FULL" : "NORMAL"

const program = Effect.gen(function*() {
  const sessions = yield* SessionStore.SessionStore
  const seeded = yield* Session.make(Array.from({ length: base }, (_, i) => draft(Entry, i)))
  yield* sessions.save(seeded)

  const before = store === "sqlite" ? dirBytes(dir) : 0
  const start = performance.now()
  const source = yield* sessions.load(seeded.id)
  const ids = []
  for (let b = 0; b < branches; b++) {
    const branch = yield* Session.append(yield* Session.fork(source), draft(Entry, base + b))
    yield* sessions.save(branch)
    ids.push(branch.id)
  }
  const totalMs = performance.now() - start
  const grown = store === "sqlite" ? dirBytes(dir) - before : null

  check(Chunk.size(Session.entries(yield* sessions.load(seeded.id))) === base, "the source stays at base messages")
  for (const b of [0, branches - 1]) {
    const entries = Session.entries(yield* sessions.load(ids[b]))
    check(Chunk.size(entries) === base + 1, `branch ${b} holds base + 1 entries`)
    check(Chunk.unsafeLast(entries).text === draft(Entry, base + b).text, `branch ${b} ends with its own message`)
    check(Chunk.unsafeGet(entries, base - 1).text === draft(Entry, base - 1).text, `branch ${b} is independent`)
  }
  return { totalMs, grown }
})

const layer = store === "sqlite"
  ? SessionStore.layer({ filename: `${dir}/rath.db`, synchronous })
  : SessionStore.layerMemory
const { totalMs, grown } = await Effect.runPromise(program.pipe(Effect.provide(layer)))

emitW2({
  peer: "rath",
  store,
  version: version(),
  durability: rathDurability(store),
  base,
  branches,
  totalMs,
  grown,
  bytesOnDisk: store === "sqlite" ? dirBytes(dir) : null
})

