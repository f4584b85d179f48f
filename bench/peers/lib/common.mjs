// Shared definitions of ../../../../shared/BENCH.md (mirrored in docs/performance.md): the
// message payload, the scripted model's decision, sizes on disk, percentiles, and the one JSON
// line each workload script prints. Plain ESM with no dependency, so every peer uses the same
// definitions.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const peersRoot = dirname(dirname(fileURLToPath(import.meta.url)))
export const repoRoot = dirname(dirname(peersRoot))

const LOREM =
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et " +
  "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris."

/** Message i: exactly 100 ASCII characters, `message <i>: ` then fixed lorem ipsum. */
export const msgText = (i) => `message ${i}: ${LOREM}`.slice(0, 100)
/** `user` for even i, `assistant` for odd i. */
export const msgRole = (i) => (i % 2 === 0 ? "user" : "assistant")
/** The stable id, where the framework has ids. */
export const msgId = (i) => `m${i}`

/** `--name value` / `--name=value` flags; numbers are parsed. */
export const parseArgs = (argv = process.argv.slice(2)) => {
  const out = {}
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k]
    if (!arg.startsWith("--")) continue
    let [name, value] = arg.slice(2).split("=", 2)
    if (value === undefined) {
      const next = argv[k + 1]
      if (next !== undefined && !next.startsWith("--")) {
        value = next
        k++
      } else value = "true"
    }
    out[name] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value
  }
  return out
}

/** Every run gets a fresh data directory under bench/peers/.data (on the real disk, not tmpfs). */
export const dataDir = (name, { fresh = true } = {}) => {
  const dir = process.env.BENCH_DATA_DIR ?? join(peersRoot, ".data", name)
  if (fresh) rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Sum of the sizes of all regular files under dir. */
export const dirBytes = (dir) => {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += dirBytes(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

/** SQLite durability for both SQLite peers: NORMAL (WAL default) unless SQLITE_SYNC=FULL. */
export const sqliteSync = () => (process.env.SQLITE_SYNC === "FULL" ? "FULL" : "NORMAL")
export const durability = (store) =>
  store === "sqlite"
    ? `sqlite WAL synchronous=${sqliteSync()}${sqliteSync() === "FULL" ? " (every commit fsynced)" : " (committed, not fsynced)"}`
    : store === "jsonfile"
    ? `file rewritten per append${process.env.SQLITE_SYNC === "FULL" ? ", fsynced" : ", not fsynced"}`
    : "none (in memory)"

/** Opens a better-sqlite3 database with the benchmark's settings. */
export const applySqlitePragmas = (db) => {
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${sqliteSync()}`)
  return db
}

const require = createRequire(join(peersRoot, "package.json"))
/** The installed version of a package of bench/peers. */
export const versionOf = (pkg) => {
  const main = require.resolve(pkg)
  let dir = dirname(main)
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
      if (json.name === pkg) return json.version
    } catch {
      // keep walking up
    }
    const up = dirname(dir)
    if (up === dir) return "unknown"
    dir = up
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const percentile = (values, p) => {
  if (values.length === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}
export const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length
export const round = (x, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x)

/**
 * The scripted model's decision, from a conversation normalised to `{ kind: "user" | "tool" |
 * "other", text }`: count the tool results after the last user message; below `toolCalls`,
 * call `add({a: count, b: 2})`; otherwise answer `The answer is <last tool output>`.
 */
export const decide = (normalised, toolCalls) => {
  let lastUser = -1
  for (let k = normalised.length - 1; k >= 0; k--) {
    if (normalised[k].kind === "user") {
      lastUser = k
      break
    }
  }
  let count = 0
  let lastOutput = ""
  for (let k = lastUser + 1; k < normalised.length; k++) {
    if (normalised[k].kind === "tool") {
      count++
      lastOutput = normalised[k].text
    }
  }
  return count < toolCalls
    ? { type: "call", args: { a: count, b: 2 } }
    : { type: "final", text: `The answer is ${lastOutput}` }
}

/** The tool, shared by every peer: add(a, b) = String(a + b). */
export const add = ({ a, b }) => String(a + b)

/** Phase statistics (µs) for W4. */
export const phaseStats = (turnMs) => ({
  perTurnUs: round((mean(turnMs) * 1000), 1),
  p50Us: round(percentile(turnMs, 50) * 1000, 1),
  p99Us: round(percentile(turnMs, 99) * 1000, 1)
})

/**
 * W4's two timed phases for an async turn: cold (the process's first `turns` turns) and warm
 * (`turns` turns after `turns` more untimed ones). `turn(i)` runs and checks turn `i`.
 */
export const timedPhases = async (turns, turn) => {
  const phase = async (offset) => {
    const times = []
    for (let t = 0; t < turns; t++) {
      const start = performance.now()
      await turn(offset + t)
      times.push(performance.now() - start)
    }
    return times
  }
  const cold = phaseStats(await phase(0))
  await phase(turns)
  return { cold, warm: phaseStats(await phase(2 * turns)) }
}

/** W5's timed region for async conversations: all started at once, each one's completion time. */
export const timedConcurrently = async (conversations, runOne) => {
  const done = new Float64Array(conversations)
  const start = performance.now()
  await Promise.all(Array.from({ length: conversations }, async (_, i) => {
    await runOne(i)
    done[i] = performance.now() - start
  }))
  return { wallMs: performance.now() - start, done }
}

/** The W1 line; `grown` is the store's growth during the timed loop (null for memory). */
export const emitW1 = ({ peer, store, caller, version, durability, n, prefill, totalMs, bytesOnDisk, grown }) =>
  emit({
    workload: "W1",
    peer,
    store,
    ...(caller === undefined ? {} : { caller }),
    version,
    durability,
    n,
    prefill,
    totalMs: round(totalMs, 2),
    perAppendUs: round((totalMs * 1000) / n, 1),
    bytesOnDisk,
    bytesPerAppend: grown === null ? null : round(grown / n, 1)
  })

/** The W2 line; `grown` is the store's growth during the timed branches (null for memory). */
export const emitW2 = ({ peer, store, mode, version, durability, base, branches, totalMs, grown, bytesOnDisk }) =>
  emit({
    workload: "W2",
    peer,
    store,
    ...(mode === undefined ? {} : { mode }),
    version,
    durability,
    base,
    branches,
    totalMs: round(totalMs, 2),
    perBranchUs: round((totalMs * 1000) / branches, 1),
    bytesPerBranch: grown === null ? null : round(grown / branches, 1),
    bytesOnDisk
  })

/** The W4 line. */
export const emitW4 = ({ peer, version, turns, cold, warm }) =>
  emit({
    workload: "W4",
    peer,
    store: "none",
    version,
    turns,
    coldPerTurnUs: cold.perTurnUs,
    coldP50Us: cold.p50Us,
    coldP99Us: cold.p99Us,
    warmPerTurnUs: warm.perTurnUs,
    warmP50Us: warm.p50Us,
    warmP99Us: warm.p99Us
  })

/** The W5 line. */
export const emitW5 = ({ peer, version, conversations, toolCalls, sleepMs, wallMs, done, effectFloorMs }) =>
  emit({
    workload: "W5",
    peer,
    store: "none",
    version,
    conversations,
    modelCalls: toolCalls + 1,
    sleepMs,
    wallMs: round(wallMs, 1),
    p50DoneMs: round(percentile(done, 50), 1),
    p99DoneMs: round(percentile(done, 99), 1),
    idealMs: (toolCalls + 1) * sleepMs,
    ...(effectFloorMs === undefined ? {} : { effectFloorMs: round(effectFloorMs, 1) })
  })

/** Prints the one JSON line; adds the in-process peak RSS cross-check. */
export const emit = (fields) => {
  process.stdout.write(
    JSON.stringify({
      ...fields,
      maxRssKiBInProcess: process.resourceUsage().maxRSS,
      node: process.version
    }) + "\n"
  )
}

/** Fails the run loudly (exit 1) when a check does not hold. */
export const check = (condition, message) => {
  if (!condition) {
    process.stderr.write(`check failed: ${message}\n`)
    process.exit(1)
  }
}
