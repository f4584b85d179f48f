/**
 * SessionStore benchmarks (BENCH.md W1, W2, W3 for rath's SQLite store), one JSON line each:
 *
 * - `append-persist`: append + save 10,000 messages one at a time (each save commits before the
 *   next append starts); then the fsync figure beside it: synchronous=FULL, 2,000 appends timed
 *   after an 8,000-message prefill (`prefill` in its line; its `bytesPerAppend` is null: the
 *   growth is read from the first line).
 * - `fork-fanout`: 1,000 forks of a saved 1,000-message session, one new message each, saved.
 * - `resume-load`: load of a 10,000-entry session in a fresh process (a child is spawned).
 * - `append-split`: where an append's CPU time goes, in one process, rounds interleaved: SQLite's
 *   own commit with rath's statements (bare better-sqlite3 on a rath store file: BEGIN IMMEDIATE,
 *   the node INSERT, the head's compare-and-set UPDATE, COMMIT), the same with the Agents SDK
 *   SQLiteSession's layout and transaction (the W1 peer), `store.save` alone, `Session.append`
 *   alone, and the two together. `peerFloorOverRathFloor` bounds the W1 ratio any rath could
 *   reach over that peer with SQLite doing this work per commit (the peer's own JavaScript aside).
 *
 * Durability: SQLite WAL with synchronous=NORMAL (a committed save survives a process crash; it
 * is not fsynced, so an OS crash may lose the last commits). `SQLITE_SYNC=FULL` fsyncs every
 * commit. Run: `npm run bench -- store` or `node --import tsx bench/store.bench.ts`.
 */
import Database from "better-sqlite3"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Entry, Session, SessionStore } from "rath"

const LOREM = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore " +
  "et dolore magna aliqua. ut enim ad minim veniam, quis nostrud exercitation ullamco laboris"
const msgText = (i: number): string => `message ${i}: ${LOREM}`.slice(0, 100)
const msg = (i: number): Entry.Draft => i % 2 === 0 ? Entry.user(msgText(i)) : Entry.assistant({ text: msgText(i) })

type Sync = "NORMAL" | "FULL"
const synchronous: Sync = process.env.SQLITE_SYNC === "FULL" ? "FULL" : "NORMAL"
const durabilityOf = (sync: Sync) =>
  sync === "FULL"
    ? "WAL, synchronous=FULL: every commit fsynced"
    : "WAL, synchronous=NORMAL: committed (survives a process crash), not fsynced"
const common = { peer: "rath", store: "sqlite", version: "0.1.0", durability: durabilityOf(synchronous) }

const dirBytes = (dir: string): number =>
  readdirSync(dir).reduce((sum, name) => {
    const stat = statSync(join(dir, name))
    return stat.isFile() ? sum + stat.size : sum
  }, 0)

const print = (line: Record<string, unknown>) => process.stdout.write(JSON.stringify(line) + "\n")
const maxRssKiBInProcess = () => process.resourceUsage().maxRSS
/** CPU time (user + system) in µs since `from`: less distorted than wall time on a busy machine. */
const cpuUs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from)
  return used.user + used.system
}
const loadAverage = () => +loadavg()[0]!.toFixed(2)

/**
 * W1. `prefill` messages are saved first in one untimed save (BENCH.md `--prefill`), then `n`
 * appends are timed: the marginal cost of an append at a long history.
 */
const appendPersist = (n: number, options?: { readonly prefill?: number; readonly sync?: Sync }) =>
  Effect.gen(function*() {
    const prefill = options?.prefill ?? 0
    const sync = options?.sync ?? synchronous
    const dir = mkdtempSync(join(tmpdir(), "rath-bench-w1-"))
    const filename = join(dir, "rath.db")
    let before = 0
    let after = 0
    let totalMs = 0
    let cpuTotalUs = 0
    let id = ""
    yield* Effect.scoped(Effect.gen(function*() {
      const store = yield* SessionStore.makeSqlite({ filename, synchronous: sync })
      let session = yield* Session.make(Array.from({ length: prefill }, (_, i) => msg(i)))
      id = session.id
      yield* store.save(session)
      before = dirBytes(dir)
      const cpu = process.cpuUsage()
      const start = performance.now()
      for (let i = prefill; i < prefill + n; i++) {
        session = yield* Session.append(session, msg(i))
        yield* store.save(session)
      }
      totalMs = performance.now() - start
      cpuTotalUs = cpuUs(cpu)
      after = dirBytes(dir)
      const check = yield* store.load(id)
      if (check.length !== prefill + n) throw new Error(`expected ${prefill + n} messages, found ${check.length}`)
    }))
    const bytesOnDisk = dirBytes(dir)
    print({
      ...common,
      durability: durabilityOf(sync),
      workload: "W1",
      name: "append-persist",
      n,
      prefill,
      totalMs: +totalMs.toFixed(1),
      perAppendUs: +(totalMs * 1000 / n).toFixed(1),
      cpuPerAppendUs: +(cpuTotalUs / n).toFixed(1),
      bytesOnDisk,
      // after a prefill the WAL it left is truncated during the timed appends, so the growth
      // says nothing: bytes come from the run without a prefill
      bytesPerAppend: prefill === 0 ? +((after - before) / n).toFixed(1) : null,
      bytesPerAppendClosed: +(bytesOnDisk / (prefill + n)).toFixed(1),
      maxRssKiBInProcess: maxRssKiBInProcess(),
      loadAverage: loadAverage()
    })
    return { dir, filename, id }
  })

const forkFanout = (base: number, branches: number) =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), "rath-bench-w2-"))
    const filename = join(dir, "rath.db")
    let before = 0
    let after = 0
    let totalMs = 0
    let cpuTotalUs = 0
    yield* Effect.scoped(Effect.gen(function*() {
      const store = yield* SessionStore.makeSqlite({ filename, synchronous })
      const drafts = Array.from({ length: base }, (_, i) => msg(i))
      const source = yield* Session.make(drafts)
      yield* store.save(source)
      before = dirBytes(dir)
      const cpu = process.cpuUsage()
      const start = performance.now()
      for (let b = 0; b < branches; b++) {
        const fork = yield* Session.fork(source)
        yield* store.save(yield* Session.append(fork, msg(base + b)))
      }
      totalMs = performance.now() - start
      cpuTotalUs = cpuUs(cpu)
      after = dirBytes(dir)
      const check = yield* store.load(source.id)
      if (check.length !== base) throw new Error(`the source changed: ${check.length} entries`)
      const branchesStored = yield* store.list({ parent: source.id })
      if (branchesStored.length !== branches) throw new Error(`expected ${branches} branches`)
    }))
    const bytesOnDisk = dirBytes(dir)
    print({
      ...common,
      workload: "W2",
      name: "fork-fanout",
      base,
      branches,
      totalMs: +totalMs.toFixed(1),
      perBranchUs: +(totalMs * 1000 / branches).toFixed(1),
      cpuPerBranchUs: +(cpuTotalUs / branches).toFixed(1),
      bytesPerBranch: +((after - before) / branches).toFixed(1),
      bytesOnDisk,
      maxRssKiBInProcess: maxRssKiBInProcess(),
      loadAverage: loadAverage()
    })
    rmSync(dir, { recursive: true, force: true })
  })

/** The child side of W3: open the store and load the session, timed. */
const loadChild = (filename: string, id: string, importMs: number) =>
  Effect.gen(function*() {
    const cpu = process.cpuUsage()
    const start = performance.now()
    const session = yield* Effect.scoped(Effect.gen(function*() {
      const store = yield* SessionStore.makeSqlite({ filename, synchronous })
      const loaded = yield* store.load(id)
      // usable: the messages are in hand as rath's own values
      const entries = Session.entries(loaded)
      const last = Session.head(loaded)
      if (last._tag === "None" || (last.value as Entry.User).text !== msgText(entries.length - 1)) {
        throw new Error("unexpected last message")
      }
      return loaded
    }))
    const loadMs = performance.now() - start
    const cpuLoadMs = cpuUs(cpu) / 1000
    print({
      ...common,
      workload: "W3",
      name: "resume-load",
      n: session.length,
      loadMs: +loadMs.toFixed(1),
      cpuLoadMs: +cpuLoadMs.toFixed(1),
      importMs: +importMs.toFixed(1),
      sinceProcessStartMs: +performance.now().toFixed(1),
      maxRssKiBInProcess: maxRssKiBInProcess(),
      loadAverage: loadAverage()
    })
  })

/** Bare better-sqlite3 commits, `n` of them, each a transaction like an append's; CPU µs per commit. */
const bareCommits = (filename: string, layout: "rath" | "peer", n: number): number => {
  const db = new Database(filename)
  const text = (i: number) =>
    JSON.stringify({
      id: `e_${String(i).padStart(20, "0")}`,
      timestamp: 1_796_000_000_000 + i,
      text: msgText(i),
      _tag: "User"
    })
  let commit: (i: number) => void
  if (layout === "rath") {
    // the file is a rath store (schema, pragmas and session row made by SessionStore): its own
    // statements, as storeSql's fast save runs them
    db.pragma(`synchronous = ${synchronous}`)
    db.pragma("wal_autocheckpoint = 1000")
    db.pragma("journal_size_limit = 1048576")
    const row = db.prepare("SELECT key, head, head_entry, length FROM rath_sessions").get() as {
      key: number
      head: number | null
      head_entry: string | null
      length: number
    }
    const insert = db.prepare("INSERT INTO rath_nodes (id, prev, pos, data, crc) VALUES (?, ?, ?, ?, ?)")
    const move = db.prepare(
      "UPDATE rath_sessions SET head = ?, head_entry = ?, length = ?, updated_at = ?, placement = ?, agent = coalesce(?, agent), crc = ?, agent_crc = coalesce(?, agent_crc) WHERE key = ? AND head IS ? AND head_entry IS ? AND length = ?"
    )
    let { head, head_entry: headEntry, length } = row
    const tx = db.transaction((i: number) => {
      const id = Number(insert.run(null, head, length + 1, text(i), i).lastInsertRowid)
      const entry = `e_${i}`
      if (move.run(id, entry, length + 1, i, null, null, i, null, row.key, head, headEntry, length).changes !== 1) {
        throw new Error("the head moved")
      }
      head = id
      headEntry = entry
      length++
    })
    commit = (i) => tx.immediate(i)
  } else {
    db.pragma("journal_mode = WAL")
    db.pragma(`synchronous = ${synchronous}`)
    db.exec(`CREATE TABLE agent_sessions (session_id TEXT PRIMARY KEY, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
      CREATE TABLE agent_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, message_data TEXT NOT NULL,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (session_id) REFERENCES agent_sessions (session_id) ON DELETE CASCADE);
      CREATE INDEX idx_agent_messages_session_id ON agent_messages (session_id, created_at);`)
    const session = db.prepare("INSERT OR IGNORE INTO agent_sessions (session_id) VALUES (?)")
    const item = db.prepare("INSERT INTO agent_messages (session_id, message_data) VALUES (?, ?)")
    const touch = db.prepare("UPDATE agent_sessions SET updated_at = CURRENT_TIMESTAMP WHERE session_id = ?")
    const tx = db.transaction((i: number) => {
      session.run("conv-1")
      item.run("conv-1", JSON.stringify({ type: "message", role: "user", content: text(i) }))
      touch.run("conv-1")
    })
    commit = (i) => tx(i)
  }
  const cpu = process.cpuUsage()
  for (let i = 0; i < n; i++) commit(i)
  const used = cpuUs(cpu)
  db.close()
  return used / n
}

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** Where an append's CPU goes (see the header): `rounds` interleaved rounds of `n` operations each. */
const appendSplit = (n: number, rounds: number) =>
  Effect.gen(function*() {
    const runs: Record<"sqliteRath" | "sqlitePeer" | "save" | "append" | "appendAndSave", Array<number>> = {
      sqliteRath: [],
      sqlitePeer: [],
      save: [],
      append: [],
      appendAndSave: []
    }
    for (let round = 0; round < rounds; round++) {
      const dir = mkdtempSync(join(tmpdir(), "rath-bench-split-"))
      // a rath store with one empty session: the bare commits run rath's statements on its file
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* SessionStore.makeSqlite({ filename: join(dir, "bare.db"), synchronous })
        yield* store.save(yield* Session.empty())
      }))
      runs.sqliteRath.push(bareCommits(join(dir, "bare.db"), "rath", n))
      runs.sqlitePeer.push(bareCommits(join(dir, "peer.db"), "peer", n))
      yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* SessionStore.makeSqlite({ filename: join(dir, "rath.db"), synchronous })
        // Session.append alone, then store.save alone of those sessions (a save each, in order)
        let session = yield* Session.empty()
        const sessions: Array<Session.Session> = []
        let cpu = process.cpuUsage()
        for (let i = 0; i < n; i++) {
          session = yield* Session.append(session, msg(i))
          sessions.push(session)
        }
        runs.append.push(cpuUs(cpu) / n)
        yield* store.save(sessions[0]!)
        cpu = process.cpuUsage()
        for (let i = 1; i < n; i++) yield* store.save(sessions[i]!)
        runs.save.push(cpuUs(cpu) / (n - 1))
        sessions.length = 0
        // both, as W1 runs them
        session = yield* Session.empty()
        cpu = process.cpuUsage()
        for (let i = 0; i < n; i++) {
          session = yield* Session.append(session, msg(i))
          yield* store.save(session)
        }
        runs.appendAndSave.push(cpuUs(cpu) / n)
      }))
      rmSync(dir, { recursive: true, force: true })
    }
    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, +median(v).toFixed(1)])) as Record<
      keyof typeof runs,
      number
    >
    print({
      ...common,
      workload: "W1",
      name: "append-split",
      n,
      rounds,
      clock: "process CPU (user + system) µs per operation, median of the rounds",
      sqliteRathUs: m.sqliteRath,
      sqlitePeerUs: m.sqlitePeer,
      saveUs: m.save,
      appendUs: m.append,
      appendAndSaveUs: m.appendAndSave,
      saveAboveSqliteUs: +(m.save - m.sqliteRath).toFixed(1),
      peerFloorOverRathFloor: +(m.sqlitePeer / m.sqliteRath).toFixed(2),
      runs,
      loadAverage: loadAverage()
    })
  })

const [mode, childFile, childId] = process.argv.slice(2)
if (mode === "--split") {
  await Effect.runPromise(appendSplit(Number(childFile ?? 10_000), Number(childId ?? 3)))
} else if (mode === "--load" && childFile !== undefined && childId !== undefined) {
  const importMs = performance.now()
  await Effect.runPromise(loadChild(childFile, childId, importMs))
} else {
  const w1 = await Effect.runPromise(appendPersist(10_000))
  if (synchronous === "NORMAL") {
    // the fsync figure beside it: every commit fsynced costs ~0.25 ms here, so 2,000 appends
    // timed after an 8,000-message prefill (the same 10,000-message history) keep the run short
    const full = await Effect.runPromise(appendPersist(2_000, { prefill: 8_000, sync: "FULL" }))
    rmSync(full.dir, { recursive: true, force: true })
  }
  await Effect.runPromise(forkFanout(1_000, 1_000))
  await Effect.runPromise(appendSplit(10_000, 3))
  const self = fileURLToPath(import.meta.url)
  const child = spawnSync(process.execPath, ["--import", "tsx", self, "--load", w1.filename, w1.id], {
    stdio: ["ignore", "inherit", "inherit"]
  })
  rmSync(w1.dir, { recursive: true, force: true })
  if (child.status !== 0) process.exit(1)
}
