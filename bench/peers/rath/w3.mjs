// W3 resume, rath, in a fresh process: open the SQLite store, load the latest session value and
// materialise its entries (the transcript the next run would send is one step away).
const importStart = performance.now()
const common = await import("../lib/common.mjs")
const lib = await import("./lib.mjs")
const { Session, SessionStore } = await lib.loadRath("W3", ["SessionStore"])
const { Chunk, Effect } = await lib.loadEffect()
const importMs = performance.now() - importStart

const { readFileSync } = await import("node:fs")
const { n = 10000 } = common.parseArgs()
const dir = common.dataDir("rath-w3", { fresh: false })
const id = readFileSync(`${dir}/session-id.txt`, "utf8")
const synchronous = process.env.SQLITE_SYNC === "FULL" ? "FULL" : "NORMAL"

const cpu = process.cpuUsage()
const start = performance.now()
const { cpuMs, entries, usable } = await Effect.runPromise(
  Effect.scoped(Effect.gen(function*() {
    const sessions = yield* SessionStore.makeSqlite({ filename: `${dir}/rath.db`, synchronous })
    const session = yield* sessions.load(id)
    const entries = Session.entries(session)
    const usable = performance.now()
    const used = process.cpuUsage(cpu)
    return { entries, usable, cpuMs: (used.user + used.system) / 1000 }
  }))
)
const last = Chunk.unsafeLast(entries)
common.check(Chunk.size(entries) === n, `expected ${n} entries, got ${Chunk.size(entries)}`)
common.check(last.text === common.msgText(n - 1), "last entry text")
common.check(last._tag === (n % 2 === 0 ? "Assistant" : "User"), "last entry type")

common.emit({
  workload: "W3",
  peer: "rath",
  store: "sqlite",
  version: lib.version(),
  durability: lib.rathDurability("sqlite"),
  n,
  loadMs: common.round(usable - start, 2),
  // process CPU (user + system, all threads) over the same region: steadier than wall on a busy machine
  cpuLoadMs: common.round(cpuMs, 2),
  importMs: common.round(importMs, 2),
  sinceProcessStartMs: common.round(usable, 2)
})
