// W1 append + persist, rath: Session.append(session, draft) then store.save(session) (an
// incremental save: only the new entry and the session's head row are written), one message at a
// time; --store sqlite (SessionStore.layer, WAL) or memory (SessionStore.layerMemory).
// --caller effect (default): the loop is one Effect program. --caller promise: a Promise caller,
// as code outside Effect calls rath: a ManagedRuntime built once from the store layer, and per
// message one `runtime.runPromise` of the composed append-then-save (one fiber per message, not
// one per call). --caller sync: the same with `runtime.runSync` (the SQLite store's operations
// are synchronous underneath, so no promise is needed).
import { check, dataDir, dirBytes, emitW1, parseArgs } from "../lib/common.mjs"
import { draft, loadEffect, loadRath, rathDurability, version } from "./lib.mjs"

const { Entry, Session, SessionStore } = await loadRath("W1", ["SessionStore"])
const { Chunk, Effect, Layer, ManagedRuntime } = await loadEffect()
const { caller = "effect", n = 10000, prefill = 0, store = "sqlite" } = parseArgs()
const dir = dataDir(`rath-w1-${store}`)
const synchronous = process.env.SQLITE_SYNC === "FULL" ? "FULL" : "NORMAL"

const layer = () =>
  store === "sqlite" ? SessionStore.layer({ filename: `${dir}/rath.db`, synchronous }) : memoryLayer
// one memory store for both phases; a SQLite store is closed after the prefill and opened again,
// so the prefill's WAL is checkpointed before the timed region (as for the peers)
const memoryLayer = store === "sqlite" ? undefined : await Effect.runPromise(Layer.memoize(SessionStore.layerMemory).pipe(Effect.scoped))

let session = await Effect.runPromise(Session.empty())
if (prefill > 0) {
  session = await Effect.runPromise(
    Effect.gen(function*() {
      const sessions = yield* SessionStore.SessionStore
      const full = yield* Session.appendAll(session, Array.from({ length: prefill }, (_, i) => draft(Entry, i)))
      yield* sessions.save(full)
      return full
    }).pipe(Effect.provide(layer()))
  )
}

const program = Effect.gen(function*() {
  const sessions = yield* SessionStore.SessionStore
  const before = store === "sqlite" ? dirBytes(dir) : 0
  const start = performance.now()
  for (let i = prefill; i < prefill + n; i++) {
    session = yield* Session.append(session, draft(Entry, i))
    yield* sessions.save(session)
  }
  const totalMs = performance.now() - start
  const grown = store === "sqlite" ? dirBytes(dir) - before : null
  const loaded = yield* sessions.load(session.id)
  const entries = Session.entries(loaded)
  check(Chunk.size(entries) === prefill + n, `expected ${prefill + n} entries`)
  const last = Chunk.unsafeLast(entries)
  check(last.text === draft(Entry, prefill + n - 1).text && last._tag === draft(Entry, prefill + n - 1)._tag, "last entry")
  return { totalMs, grown }
})

const promiseProgram = async () => {
  const runtime = ManagedRuntime.make(layer())
  const sessions = await runtime.runPromise(SessionStore.SessionStore)
  const step = (i) => Effect.flatMap(Session.append(session, draft(Entry, i)), (next) => Effect.as(sessions.save(next), next))
  const before = store === "sqlite" ? dirBytes(dir) : 0
  const start = performance.now()
  if (caller === "sync") {
    for (let i = prefill; i < prefill + n; i++) session = runtime.runSync(step(i))
  } else {
    for (let i = prefill; i < prefill + n; i++) session = await runtime.runPromise(step(i))
  }
  const totalMs = performance.now() - start
  const grown = store === "sqlite" ? dirBytes(dir) - before : null
  const entries = Session.entries(await runtime.runPromise(sessions.load(session.id)))
  check(Chunk.size(entries) === prefill + n, `expected ${prefill + n} entries`)
  await runtime.dispose()
  return { totalMs, grown }
}

const { totalMs, grown } = caller === "effect"
  ? await Effect.runPromise(program.pipe(Effect.provide(layer())))
  : await promiseProgram()

emitW1({
  peer: "rath",
  store,
  caller,
  version: version(),
  durability: rathDurability(store),
  n,
  prefill,
  totalMs,
  bytesOnDisk: store === "sqlite" ? dirBytes(dir) : null,
  grown
})

