// `npm run bench:peers`: rath, LangGraph.js and the OpenAI Agents SDK side by side on the five
// workloads of docs/performance.md (the contract is BENCH.md). Installs the peers (`npm ci` in
// bench/peers when needed), builds rath (`npm run build`), runs every config 3 times, each in a
// fresh process under `/usr/bin/time -v` (peak RSS), takes medians and writes
// bench/peers/results/{raw.jsonl,medians.json,summary.md}.
//
//   npm run bench:peers                      everything (about 10-15 minutes on 2 cores)
//   npm run bench:peers -- W1 agents         only configs whose id contains every filter
//   npm run bench:peers -- --runs 1          one run per config
//   npm run bench:peers -- --no-install --no-build
//   npm run bench:peers -- rath --update     re-run the matching configs, keep the rest of the last full run
//   npm run bench:peers -- --report          rewrite summary.md from results/ without running anything
//   npm run bench:peers -- --keep-data       keep the data directories (bench/peers/.data) after the run
//
// Only Node built-ins here: this file runs before the peers are installed.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { cpus, loadavg, release, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const peersRoot = dirname(fileURLToPath(import.meta.url))
const repoRoot = dirname(dirname(peersRoot))
const resultsDir = join(peersRoot, "results")

const argv = process.argv.slice(2)
const flag = (name) => argv.includes(`--${name}`)
const option = (name, fallback) => {
  const k = argv.indexOf(`--${name}`)
  return k >= 0 && argv[k + 1] !== undefined ? argv[k + 1] : fallback
}
const runs = Number(option("runs", "3"))
const filters = argv.filter((arg, k) => !arg.startsWith("--") && argv[k - 1] !== "--runs")
const log = (line) => process.stderr.write(`bench:peers: ${line}\n`)

// ---------------------------------------------------------------------------------------------
// The configs. `n` below the nominal size is deliberate and reported (see `why`): those peers
// cannot do the nominal size within about a minute per run, because their cost per operation
// grows with the history. `compare` names the rath config a peer's ratio is taken against.
// ---------------------------------------------------------------------------------------------

const FULL = { SQLITE_SYNC: "FULL" }
const SAME_N =
  "10,000 nominal; all three run 2,000 so the ratio compares equal work: LangGraph.js needs ~20 s per 1,000 here, 10,000 would take minutes"
const configs = [
  // W1 append + persist (nominal n = 10,000)
  { id: "W1 rath sqlite", w: "W1", peer: "rath", store: "sqlite", script: "rath/w1.mjs", args: ["--n", "10000"] },
  {
    id: "W1 rath sqlite fsync",
    w: "W1",
    peer: "rath",
    store: "sqlite",
    env: FULL,
    script: "rath/w1.mjs",
    args: ["--n", "2000"],
    why: "every commit fsynced: the fsync dominates"
  },
  { id: "W1 rath memory", w: "W1", peer: "rath", store: "memory", script: "rath/w1.mjs", args: ["--n", "10000", "--store", "memory"] },
  {
    id: "W1 rath sqlite @10k",
    w: "W1",
    peer: "rath",
    store: "sqlite",
    script: "rath/w1.mjs",
    args: ["--n", "1000", "--prefill", "10000"],
    why: "marginal cost of an append at a 10,000-message history"
  },
  {
    id: "W1 langgraph sqlite",
    w: "W1",
    peer: "langgraph",
    store: "sqlite",
    script: "langgraph/w1.mjs",
    args: ["--n", "500"],
    compare: "W1 rath sqlite",
    why: "every append rewrites the whole state (3 checkpoints): 10,000 would take hours"
  },
  {
    id: "W1 langgraph sqlite @10k",
    w: "W1",
    peer: "langgraph",
    store: "sqlite",
    script: "langgraph/w1.mjs",
    args: ["--n", "10", "--prefill", "10000"],
    compare: "W1 rath sqlite @10k",
    why: "marginal cost of an append at a 10,000-message history"
  },
  {
    id: "W1 langgraph memory",
    w: "W1",
    peer: "langgraph",
    store: "memory",
    script: "langgraph/w1.mjs",
    args: ["--n", "500", "--store", "memory"],
    compare: "W1 rath memory",
    why: "MemorySaver also serialises the whole state per checkpoint"
  },
  { id: "W1 agents sqlite", w: "W1", peer: "agents", store: "sqlite", script: "agents/w1.mjs", args: ["--n", "10000"], compare: "W1 rath sqlite" },
  {
    id: "W1 agents sqlite @10k",
    w: "W1",
    peer: "agents",
    store: "sqlite",
    script: "agents/w1.mjs",
    args: ["--n", "1000", "--prefill", "10000"],
    compare: "W1 rath sqlite @10k",
    why: "marginal cost of an append at a 10,000-message history"
  },
  {
    id: "W1 agents sqlite fsync",
    w: "W1",
    peer: "agents",
    store: "sqlite",
    env: FULL,
    script: "agents/w1.mjs",
    args: ["--n", "2000"],
    compare: "W1 rath sqlite fsync",
    why: "every commit fsynced: the fsync dominates"
  },
  {
    id: "W1 agents memory",
    w: "W1",
    peer: "agents",
    store: "memory",
    script: "agents/w1.mjs",
    args: ["--n", "10000", "--store", "memory"],
    compare: "W1 rath memory"
  },
  {
    id: "W1 agents jsonfile",
    w: "W1",
    peer: "agents",
    store: "jsonfile",
    script: "agents/w1.mjs",
    args: ["--n", "2000", "--store", "jsonfile"],
    compare: "W1 rath sqlite",
    why: "the whole file is re-read, validated and rewritten per append"
  },
  // W2 fork fan-out (base 1,000, nominal 1,000 branches)
  { id: "W2 rath sqlite", w: "W2", peer: "rath", store: "sqlite", script: "rath/w2.mjs", args: ["--branches", "1000"] },
  {
    id: "W2 langgraph sqlite update",
    w: "W2",
    peer: "langgraph",
    store: "sqlite",
    script: "langgraph/w2.mjs",
    args: ["--branches", "300", "--mode", "update"],
    compare: "W2 rath sqlite",
    why: "each branch writes a full 1,001-message checkpoint"
  },
  {
    id: "W2 langgraph sqlite invoke",
    w: "W2",
    peer: "langgraph",
    store: "sqlite",
    script: "langgraph/w2.mjs",
    args: ["--branches", "100", "--mode", "invoke"],
    compare: "W2 rath sqlite",
    why: "each branch writes 3 full checkpoints"
  },
  { id: "W2 agents sqlite", w: "W2", peer: "agents", store: "sqlite", script: "agents/w2.mjs", args: ["--branches", "1000"], compare: "W2 rath sqlite" },
  {
    id: "W2 rath memory",
    w: "W2",
    peer: "rath",
    store: "memory",
    script: "rath/w2.mjs",
    args: ["--branches", "1000", "--store", "memory"]
  },
  {
    id: "W2 agents memory",
    w: "W2",
    peer: "agents",
    store: "memory",
    script: "agents/w2.mjs",
    args: ["--branches", "1000", "--store", "memory"],
    compare: "W2 rath memory"
  },
  // W3 resume (10,000 messages, fresh process)
  { id: "W3 rath sqlite", w: "W3", peer: "rath", store: "sqlite", prep: "rath/w3-prep.mjs", script: "rath/w3.mjs", args: [] },
  {
    id: "W3 langgraph sqlite",
    w: "W3",
    peer: "langgraph",
    store: "sqlite",
    prep: "langgraph/w3-prep.mjs",
    script: "langgraph/w3.mjs",
    args: [],
    compare: "W3 rath sqlite"
  },
  {
    id: "W3 agents sqlite",
    w: "W3",
    peer: "agents",
    store: "sqlite",
    prep: "agents/w3-prep.mjs",
    script: "agents/w3.mjs",
    args: [],
    compare: "W3 rath sqlite"
  },
  {
    id: "W3 agents jsonfile",
    w: "W3",
    peer: "agents",
    store: "jsonfile",
    prep: "agents/w3-prep.mjs",
    script: "agents/w3.mjs",
    args: ["--store", "jsonfile"],
    compare: "W3 rath sqlite"
  },
  // W4 loop overhead (1,000 turns per phase)
  { id: "W4 rath", w: "W4", peer: "rath", store: "none", script: "rath/w4.mjs", args: ["--turns", "1000"] },
  { id: "W4 langgraph", w: "W4", peer: "langgraph", store: "none", script: "langgraph/w4.mjs", args: ["--turns", "1000"], compare: "W4 rath" },
  { id: "W4 agents", w: "W4", peer: "agents", store: "none", script: "agents/w4.mjs", args: ["--turns", "1000"], compare: "W4 rath" },
  // W5 concurrency (1,000 and 10,000 conversations, 5 calls of 20 ms)
  { id: "W5 rath 1k", w: "W5", peer: "rath", store: "none", script: "rath/w5.mjs", args: ["--conversations", "1000"] },
  {
    id: "W5 langgraph 1k",
    w: "W5",
    peer: "langgraph",
    store: "none",
    script: "langgraph/w5.mjs",
    args: ["--conversations", "1000"],
    compare: "W5 rath 1k"
  },
  { id: "W5 agents 1k", w: "W5", peer: "agents", store: "none", script: "agents/w5.mjs", args: ["--conversations", "1000"], compare: "W5 rath 1k" },
  { id: "W5 rath 2k", w: "W5", peer: "rath", store: "none", script: "rath/w5.mjs", args: ["--conversations", "2000"], why: SAME_N },
  {
    id: "W5 langgraph 2k",
    w: "W5",
    peer: "langgraph",
    store: "none",
    script: "langgraph/w5.mjs",
    args: ["--conversations", "2000"],
    compare: "W5 rath 2k",
    why: SAME_N
  },
  {
    id: "W5 agents 2k",
    w: "W5",
    peer: "agents",
    store: "none",
    script: "agents/w5.mjs",
    args: ["--conversations", "2000"],
    compare: "W5 rath 2k",
    why: SAME_N
  },
  {
    id: "W5 rath 10k",
    w: "W5",
    peer: "rath",
    store: "none",
    script: "rath/w5.mjs",
    args: ["--conversations", "10000"],
    why: "rath alone at the nominal 10,000 (its target); no peer runs 10,000 within the minute"
  }
]

// ---------------------------------------------------------------------------------------------
// Setup: install the peers, build rath, find GNU time.
// ---------------------------------------------------------------------------------------------

const sh = (cmd, args, cwd) => {
  log(`${cwd === repoRoot ? "" : "(bench/peers) "}${cmd} ${args.join(" ")}`)
  const result = spawnSync(cmd, args, { cwd, stdio: ["ignore", "inherit", "inherit"] })
  return result.status === 0
}

// a fresh clone: rath's own dependencies first (the build needs them), then the peers
if (!flag("no-install") && !existsSync(join(repoRoot, "node_modules", "typescript"))) {
  if (!sh("npm", ["ci", "--no-audit", "--no-fund"], repoRoot)) {
    log("npm ci failed at the repository root")
    process.exit(1)
  }
}

const installed = () => {
  const marker = join(peersRoot, "node_modules", ".package-lock.json")
  return existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(peersRoot, "package-lock.json")).mtimeMs
}
if (!flag("no-install") && (flag("reinstall") || !installed())) {
  if (!sh("npm", ["ci", "--no-audit", "--no-fund"], peersRoot)) {
    log("npm ci failed in bench/peers")
    process.exit(1)
  }
}

const reportOnly = flag("report")
const selected = reportOnly
  ? []
  : configs.filter((c) => filters.every((f) => c.id.toLowerCase().includes(f.toLowerCase())))
if (selected.length === 0 && !reportOnly) {
  log(`no config matches ${filters.join(" ")}`)
  process.exit(1)
}

let buildOk = true
if (!flag("no-build") && !process.env.RATH_DIST && selected.some((c) => c.peer === "rath")) {
  buildOk = sh("npm", ["run", "build", "--silent"], repoRoot)
  if (!buildOk) log("npm run build failed: rath's rows will say so")
}

let gnuTime = existsSync("/usr/bin/time")
if (!gnuTime && process.getuid?.() === 0) {
  gnuTime = sh("apt-get", ["install", "-y", "-qq", "time"], repoRoot) && existsSync("/usr/bin/time")
}
if (!gnuTime) log("/usr/bin/time is missing (apt-get install -y time): peak RSS falls back to getrusage")

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

const parseTime = (stderr) => {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)/.exec(stderr)
  return {
    gnuMaxRssKiB: rss ? Number(rss[1]) : undefined,
    gnuWallMs: wall ? ((Number(wall[1] ?? 0) * 60 + Number(wall[2])) * 60 + Number(wall[3])) * 1000 : undefined
  }
}

const node = (script, args, env, timed) => {
  const command = timed && gnuTime ? "/usr/bin/time" : process.execPath
  const full = timed && gnuTime ? ["-v", process.execPath, join(peersRoot, script), ...args] : [join(peersRoot, script), ...args]
  const result = spawnSync(command, full, {
    cwd: peersRoot,
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 10 * 60 * 1000
  })
  return result
}

const gitHead = (() => {
  const r = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : undefined
})()

const rathSource = process.env.RATH_DIST
  ? `the build at \`RATH_DIST=${process.env.RATH_DIST}\`${process.env.RATH_DIST_NOTE ? ` (${process.env.RATH_DIST_NOTE})` : ""}`
  : `this checkout's \`dist/\` (\`npm run build\`)${gitHead ? ` at ${gitHead}` : ""}`
const raw = []
const outcomes = new Map()
const started = new Date()
const load = loadavg().map((x) => x.toFixed(2)).join(" ")
for (const config of selected) {
  const lines = []
  let state = "ok"
  let reason
  for (let r = 0; r < runs; r++) {
    if (config.peer === "rath" && !buildOk) {
      state = "failed"
      reason = "npm run build failed"
      break
    }
    if (config.prep) {
      const prep = node(config.prep, config.args, config.env ?? {}, false)
      if (prep.status !== 0) {
        const line = prep.stdout.trim().split("\n").at(-1)
        if (line?.includes('"pending":true')) {
          state = "pending"
          reason = JSON.parse(line).reason
        } else {
          state = "failed"
          reason = `prep exited ${prep.status ?? prep.signal}: ${prep.stderr.trim().split("\n").slice(-3).join(" | ")}`
        }
        break
      }
      const pendingLine = prep.stdout.trim().split("\n").at(-1)
      if (pendingLine?.includes('"pending":true')) {
        state = "pending"
        reason = JSON.parse(pendingLine).reason
        break
      }
    }
    log(`${config.id} run ${r + 1}/${runs}`)
    const result = node(config.script, config.args, config.env ?? {}, true)
    const last = result.stdout.trim().split("\n").at(-1)
    let line
    try {
      line = JSON.parse(last)
    } catch {
      line = undefined
    }
    if (result.status !== 0 || line === undefined) {
      state = "failed"
      const logFile = join(peersRoot, ".data", "logs", `${config.id.replace(/[^\w@.-]+/g, "-")}-run${r + 1}.stderr`)
      mkdirSync(dirname(logFile), { recursive: true })
      writeFileSync(logFile, result.stderr)
      const lines = result.stderr.split("\n").map((l) => l.trim())
      const cause = lines.find((l) => /^(check failed|\w*Error|FiberFailure|\{)/.test(l)) ??
        lines.filter((l) => l !== "" && !l.startsWith("at ")).slice(-3).join(" ")
      reason = `exited ${result.status ?? result.signal}: ${cause.slice(0, 300)} (stderr: bench/peers/.data/logs/)`
      break
    }
    if (line.pending) {
      state = "pending"
      reason = line.reason
      break
    }
    const timing = parseTime(result.stderr)
    const record = { config: config.id, run: r + 1, ...line, ...timing, env: config.env ?? {} }
    raw.push(record)
    lines.push(record)
  }
  if (state !== "ok") log(`${config.id}: ${state}${reason ? ` (${reason})` : ""}`)
  outcomes.set(config.id, { config, state, reason, lines, median: median(lines) })
}

// --update: re-run only the selected configs and keep every other config's runs from the last
// full run (bench/peers/results/raw.jsonl + medians.json), e.g. `-- rath --update` once a rath
// module lands. The summary says which rows were re-run when.
const update = flag("update") || reportOnly
let previous
if (update) {
  const medianFile = join(resultsDir, "medians.json")
  if (!existsSync(medianFile)) {
    log("--update needs a previous full run (bench/peers/results/medians.json)")
    process.exit(1)
  }
  previous = JSON.parse(readFileSync(medianFile, "utf8"))
  const previousRaw = readFileSync(join(resultsDir, "raw.jsonl"), "utf8").split("\n").filter(Boolean).map((l) =>
    JSON.parse(l)
  )
  const fresh = new Map(outcomes)
  outcomes.clear()
  for (const config of configs) {
    if (fresh.has(config.id)) {
      outcomes.set(config.id, fresh.get(config.id))
      continue
    }
    const before = (previous.configs ?? previous)[config.id]
    if (before === undefined) continue
    const lines = previousRaw.filter((l) => l.config === config.id)
    raw.push(...lines)
    outcomes.set(config.id, { config, state: before.state, reason: before.reason, lines, median: median(lines) })
  }
}

function median(lines) {
  if (lines.length === 0) return undefined
  const out = { ...lines[0] }
  for (const key of Object.keys(lines[0])) {
    if (typeof lines[0][key] !== "number" || key === "run") continue
    const values = lines.map((l) => l[key]).filter((v) => typeof v === "number").sort((a, b) => a - b)
    const mid = Math.floor(values.length / 2)
    out[key] = values.length % 2 === 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2
  }
  delete out.run
  out.runs = lines.length
  return out
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

const fmt = (x, digits = 1) => {
  if (x === undefined || x === null || Number.isNaN(x)) return "—"
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString("en-US")
  return x.toFixed(digits)
}
const bytes = (x) =>
  x === undefined || x === null ? "—" : x >= 1048576 ? `${(x / 1048576).toFixed(1)} MB` : x >= 1024 ? `${(x / 1024).toFixed(1)} KB` : `${Math.round(x)} B`
const mib = (kib) => (kib === undefined ? "—" : `${(kib / 1024).toFixed(0)} MiB`)
const us = (x) => (x === undefined ? "—" : x >= 10000 ? `${fmt(x / 1000, 1)} ms` : `${fmt(x, 1)} µs`)
const ms = (x) => (x === undefined ? "—" : x >= 10000 ? `${fmt(x / 1000, 2)} s` : `${fmt(x, 1)} ms`)
const peerName = { rath: "rath", langgraph: "LangGraph.js", agents: "OpenAI Agents SDK" }
const rssOf = (m) => m?.gnuMaxRssKiB ?? m?.maxRssKiBInProcess

const ratio = (config, field) => {
  if (!config.compare) return ""
  const base = outcomes.get(config.compare)
  const mine = outcomes.get(config.id)?.median?.[field]
  if (base === undefined) return "n/a"
  if (base.state !== "ok") return base.state === "pending" ? "rath pending" : "rath failed"
  const theirs = field === "rss" ? rssOf(base.median) : base.median[field]
  const value = field === "rss" ? rssOf(outcomes.get(config.id)?.median) : mine
  if (!value || !theirs) return "—"
  const x = value / theirs
  return `${x >= 10 ? fmt(x, 0) : x >= 0.95 ? x.toFixed(1) : x.toPrecision(2)}×`
}

const rowsFor = (w) => [...outcomes.values()].filter((o) => o.config.w === w)
const status = (o) => `${o.state}: ${String(o.reason ?? "").replace(/[|\n]/g, " ")}`

const tables = {
  W1: {
    title: "W1 — append + persist (one message per operation, persisted before the next)",
    head: ["runtime", "store", "durability", "n", "prefill", "per append", "× rath", "bytes / append", "bytes on disk", "peak RSS"],
    row: (o, m) => [m.n, m.prefill, us(m.perAppendUs), ratio(o.config, "perAppendUs"), bytes(m.bytesPerAppend), bytes(m.bytesOnDisk), mib(rssOf(m))]
  },
  W2: {
    title: "W2 — fork fan-out (branches of a persisted 1,000-message conversation, one message each)",
    head: ["runtime", "store", "durability", "branches", "per branch", "× rath", "bytes / branch", "× rath", "bytes on disk", "peak RSS", "× rath"],
    row: (o, m) => [
      m.branches,
      us(m.perBranchUs),
      ratio(o.config, "perBranchUs"),
      bytes(m.bytesPerBranch),
      m.bytesPerBranch === null ? "" : ratio(o.config, "bytesPerBranch"),
      bytes(m.bytesOnDisk),
      mib(rssOf(m)),
      ratio(o.config, "rss")
    ]
  },
  W3: {
    title: "W3 — resume a 10,000-message conversation in a fresh process",
    head: ["runtime", "store", "durability", "n", "load", "× rath", "import", "since process start", "× rath", "GNU wall", "peak RSS"],
    row: (o, m) => [
      m.n,
      ms(m.loadMs),
      ratio(o.config, "loadMs"),
      ms(m.importMs),
      ms(m.sinceProcessStartMs),
      ratio(o.config, "sinceProcessStartMs"),
      ms(m.gnuWallMs),
      mib(rssOf(m))
    ]
  },
  W4: {
    title: "W4 — loop overhead (scripted model + one add call per turn, no persistence)",
    head: ["runtime", "store", "durability", "turns", "warm / turn", "× rath", "warm p50", "warm p99", "cold / turn", "cold p50", "cold p99", "peak RSS"],
    row: (o, m) => [
      m.turns,
      us(m.warmPerTurnUs),
      ratio(o.config, "warmPerTurnUs"),
      us(m.warmP50Us),
      us(m.warmP99Us),
      us(m.coldPerTurnUs),
      us(m.coldP50Us),
      us(m.coldP99Us),
      mib(rssOf(m))
    ]
  },
  W5: {
    title: "W5 — concurrency (conversations started at once; 5 model calls of 20 ms each; ideal 100 ms)",
    head: [
      "runtime",
      "store",
      "durability",
      "conversations",
      "wall",
      "× rath",
      "p50 done",
      "p99 done",
      "wall / ideal",
      "Effect floor",
      "peak RSS",
      "× rath"
    ],
    row: (o, m) => [
      m.conversations,
      ms(m.wallMs),
      ratio(o.config, "wallMs"),
      ms(m.p50DoneMs),
      ms(m.p99DoneMs),
      `${fmt(m.wallMs / m.idealMs, 1)}×`,
      m.effectFloorMs === undefined ? "—" : ms(m.effectFloorMs),
      mib(rssOf(m)),
      ratio(o.config, "rss")
    ]
  }
}

const durabilityOf = (o) =>
  o.median?.durability ??
    (o.config.peer === "rath" && o.config.store !== "none"
      ? "—"
      : o.config.store === "none"
      ? "—"
      : o.config.store === "sqlite"
      ? `sqlite WAL synchronous=${o.config.env?.SQLITE_SYNC === "FULL" ? "FULL" : "NORMAL"}`
      : o.config.store)

const md = []
const cpu = cpus()[0]?.model ?? "unknown CPU"
md.push("# rath vs LangGraph.js vs OpenAI Agents SDK — side by side")
md.push("")
md.push(
  `Generated by \`npm run bench:peers\` on ${update ? previous.meta?.started ?? "?" : started.toISOString()}: ${cpus().length} × ${cpu}, ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}; load average at start ${
      update ? previous.meta?.load ?? "?" : load
    }. ` +
    `Medians of ${runs} run(s) per config, each in a fresh process; peak RSS from ${
      gnuTime ? "`/usr/bin/time -v`" : "getrusage (GNU time missing)"
    }. ` +
    "Ratios are peer ÷ rath from the same run (above 1× means the peer is slower or bigger). " +
    "A size below the nominal one is deliberate and explained under the table. " +
    "Definitions: docs/performance.md."
)
const updates = update
  ? [
    ...(previous.updated ?? []),
    ...(reportOnly ? [] : [{ at: started.toISOString(), load, rath: rathSource, configs: selected.map((c) => c.id) }])
  ]
  : []
for (const u of updates) {
  md.push("")
  md.push(
    `Re-run on ${u.at} (load average ${u.load}${u.rath ? `; rath: ${u.rath}` : ""}), replacing those rows of the full run: ${
      u.configs.join(", ")
    }.`
  )
}
md.push("")
const versions = new Map()
for (const o of outcomes.values()) if (o.median?.version) versions.set(o.config.peer, o.median.version)
md.push(`Versions: ${[...versions.values()].join(", ") || "—"}.`)
md.push("")
md.push(`rath: ${update && previous.meta?.rath ? previous.meta.rath : rathSource}.`)
md.push("")

// Headline: workload × runtime.
const headline = [
  ["W1 per append, sqlite, from empty", "W1 rath sqlite", "W1 langgraph sqlite", "W1 agents sqlite", "perAppendUs", us],
  ["W1 per append, sqlite, at 10,000", "W1 rath sqlite @10k", "W1 langgraph sqlite @10k", "W1 agents sqlite @10k", "perAppendUs", us],
  ["W1 bytes per append, sqlite, from empty", "W1 rath sqlite", "W1 langgraph sqlite", "W1 agents sqlite", "bytesPerAppend", bytes],
  ["W2 per branch, sqlite", "W2 rath sqlite", "W2 langgraph sqlite update", "W2 agents sqlite", "perBranchUs", us],
  ["W2 bytes per branch, sqlite", "W2 rath sqlite", "W2 langgraph sqlite update", "W2 agents sqlite", "bytesPerBranch", bytes],
  ["W3 load 10,000 messages", "W3 rath sqlite", "W3 langgraph sqlite", "W3 agents sqlite", "loadMs", ms],
  ["W4 warm overhead per turn", "W4 rath", "W4 langgraph", "W4 agents", "warmPerTurnUs", us],
  ["W5 wall, 1,000 conversations", "W5 rath 1k", "W5 langgraph 1k", "W5 agents 1k", "wallMs", ms],
  ["W5 wall, 2,000 conversations", "W5 rath 2k", "W5 langgraph 2k", "W5 agents 2k", "wallMs", ms],
  ["W5 wall, 10,000 conversations", "W5 rath 10k", "-", "-", "wallMs", ms]
]
md.push("## Summary (medians; sizes as in the tables below)")
md.push("")
md.push("| workload | rath | LangGraph.js | × rath | OpenAI Agents SDK | × rath |")
md.push("|---|---|---|---|---|---|")
for (const [label, rathId, lgId, agId, field, show] of headline) {
  const cell = (id) => {
    if (id === "-") return "—"
    const o = outcomes.get(id)
    if (o === undefined) return "not run"
    if (o.state !== "ok") return o.state
    const size = o.median.n ?? o.median.branches ?? o.median.conversations
    const nominal = o.config.why && o.config.why !== SAME_N ? ` (n=${size.toLocaleString("en-US")}${o.median.prefill ? ` after ${o.median.prefill.toLocaleString("en-US")}` : ""})` : ""
    return `${show(o.median[field])}${nominal}`
  }
  const r = (id) => {
    const o = outcomes.get(id)
    return o === undefined || o.state !== "ok" ? "" : ratio(o.config, field)
  }
  md.push(`| ${label} | ${cell(rathId)} | ${cell(lgId)} | ${r(lgId)} | ${cell(agId)} | ${r(agId)} |`)
}
md.push("")
const rathW1 = outcomes.get("W1 rath sqlite")
md.push(
  `Durability: rath ${rathW1?.state === "ok" ? `— ${rathW1.median.durability}` : "— pending (its SessionStore has not landed)"}; ` +
    "both SQLite peers run better-sqlite3 with journal_mode=WAL and synchronous=NORMAL (a committed transaction " +
    "survives a process crash; commits are not fsynced); the `fsync` rows set SQLITE_SYNC=FULL (every commit fsynced) for all."
)
md.push("")

for (const [w, table] of Object.entries(tables)) {
  const rows = rowsFor(w)
  if (rows.length === 0) continue
  md.push(`## ${table.title}`)
  md.push("")
  md.push(`| ${table.head.join(" | ")} |`)
  md.push(`|${table.head.map(() => "---").join("|")}|`)
  const notes = []
  for (const o of rows) {
    const label = o.config.id.split(" ").slice(2).join(" ")
    const first = [`${peerName[o.config.peer]}${label && !["sqlite", "memory", "jsonfile"].includes(label) ? ` (${label})` : ""}`, o.config.store, durabilityOf(o)]
    if (o.state !== "ok") {
      md.push(`| ${[...first, status(o), ...table.head.slice(4).map(() => "")].join(" | ")} |`)
      continue
    }
    md.push(`| ${[...first, ...table.row(o, o.median)].join(" | ")} |`)
    if (o.config.why) {
      const note = o.config.why === SAME_N ? `- ${o.config.why}.` : `- ${peerName[o.config.peer]} (${label}): ${o.config.why}.`
      if (!notes.includes(note)) notes.push(note)
    }
  }
  if (notes.length > 0) {
    md.push("")
    md.push("Sizes other than nominal:")
    md.push(...notes)
  }
  md.push("")
}

mkdirSync(resultsDir, { recursive: true })
const partial = !update && (filters.length > 0 || runs !== 3)
const suffix = partial ? "-partial" : ""
writeFileSync(join(resultsDir, `raw${suffix}.jsonl`), raw.map((r) => JSON.stringify(r)).join("\n") + "\n")
writeFileSync(
  join(resultsDir, `medians${suffix}.json`),
  JSON.stringify(
    {
      meta: update ? previous.meta : { started: started.toISOString(), load, runs, rath: rathSource },
      updated: updates,
      configs: Object.fromEntries(
        [...outcomes].map(([id, o]) => [id, { state: o.state, reason: o.reason, median: o.median }])
      )
    },
    null,
    2
  ) + "\n"
)
writeFileSync(join(resultsDir, `summary${suffix}.md`), md.join("\n"))
process.stdout.write(md.join("\n") + "\n")
log(`wrote bench/peers/results/summary${suffix}.md, raw${suffix}.jsonl, medians${suffix}.json`)

// the data directories hold hundreds of MB (LangGraph checkpoints, copied sessions): drop them,
// keep the logs of failed runs
if (!flag("keep-data") && existsSync(join(peersRoot, ".data"))) {
  for (const entry of readdirSync(join(peersRoot, ".data"))) {
    if (entry !== "logs") rmSync(join(peersRoot, ".data", entry), { recursive: true, force: true })
  }
}

const failed = [...outcomes.values()].filter((o) => o.state === "failed")
process.exit(failed.length === 0 ? 0 : 1)
