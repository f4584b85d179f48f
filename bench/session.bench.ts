/**
 * Session value benchmark: fork and append cost (time and retained heap) at 10, 1,000 and 100,000
 * entries, and JSONL encode/decode throughput. Fork must cost the same whatever the length, since
 * a fork shares its parent's history.
 *
 * Prints one JSON line per measurement.
 */
import { Effect } from "effect"
import { Entry, IdGenerator, Session } from "rath"

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

const LOREM = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
const msgText = (i: number) => `message ${i}: ${LOREM.repeat(2)}`.slice(0, 100)
const draft = (i: number): Entry.Draft => i % 2 === 0 ? Entry.user(msgText(i)) : Entry.assistant({ text: msgText(i) })

const build = (n: number) =>
  Effect.gen(function*() {
    let session = yield* Session.empty()
    for (let i = 0; i < n; i++) session = yield* Session.append(session, draft(i))
    return session
  })

const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const measure = (size: number) =>
  Effect.gen(function*() {
    const base = yield* build(size)
    const ops = 10_000
    // fork
    const forks: Array<Session.Session> = new Array(ops)
    const heapBeforeFork = heapUsed()
    let start = performance.now()
    for (let i = 0; i < ops; i++) forks[i] = yield* Session.fork(base)
    const forkUs = ((performance.now() - start) * 1000) / ops
    const forkBytes = (heapUsed() - heapBeforeFork) / ops
    forks.length = 0
    // append (each to the same base: every append is independent)
    const appended: Array<Session.Session> = new Array(ops)
    const heapBeforeAppend = heapUsed()
    start = performance.now()
    for (let i = 0; i < ops; i++) appended[i] = yield* Session.append(base, draft(size + i))
    const appendUs = ((performance.now() - start) * 1000) / ops
    const appendBytes = (heapUsed() - heapBeforeAppend) / ops
    appended.length = 0
    console.log(JSON.stringify({
      bench: "session.fork_append",
      entries: size,
      ops,
      forkUs: round(forkUs),
      forkRetainedBytes: Math.round(forkBytes),
      appendUs: round(appendUs),
      appendRetainedBytes: Math.round(appendBytes)
    }))
  })

const jsonl = (size: number) =>
  Effect.gen(function*() {
    const session = yield* build(size)
    let start = performance.now()
    const text = Session.toJsonl(session)
    const encodeMs = performance.now() - start
    start = performance.now()
    const decoded = yield* Session.fromJsonl(text)
    const decodeMs = performance.now() - start
    if (decoded.session.length !== size) throw new Error("decode lost entries")
    console.log(JSON.stringify({
      bench: "session.jsonl",
      entries: size,
      bytes: text.length,
      encodeMs: round(encodeMs),
      decodeMs: round(decodeMs),
      encodeEntriesPerSec: Math.round(size / (encodeMs / 1000)),
      decodeEntriesPerSec: Math.round(size / (decodeMs / 1000)),
      encodeMBPerSec: round(text.length / 1e6 / (encodeMs / 1000)),
      decodeMBPerSec: round(text.length / 1e6 / (decodeMs / 1000))
    }))
  })

const round = (x: number) => Math.round(x * 100) / 100

const program = Effect.gen(function*() {
  // warm the JIT on a small run first
  yield* measure(10)
  for (const size of [10, 1_000, 100_000]) yield* measure(size)
  yield* jsonl(1_000)
  yield* jsonl(100_000)
}).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential()))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
