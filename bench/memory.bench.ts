/**
 * Memory recall latency: 10,000 and 100,000 memories in a SQLite file, lexical (FTS5 bm25) and
 * hybrid (lexical score and cosine similarity averaged, with the deterministic fake embedder at 256
 * dimensions), p50 and p95 per query over 200 queries after 20 warm-up queries.
 *
 * Memories are 8 to 23 words drawn with a Zipf-like skew from a 5,000-word vocabulary of
 * pronounceable letter-only words, a quarter of them with an English-like ending (`-s`, `-ed`,
 * `-ing`), so that every word goes through the stemmers; no word is a stop word, so no text's
 * language is detected and every supported language's stemmer runs on every word (the largest
 * index the term pipeline makes).
 *
 * Each line is one (n, mode). The store is bulk-loaded once per n through `rememberAll`
 * (batches of 500 rows per transaction, embeddings computed at load, sqlite-vec index written),
 * then opened without an embedder (lexical) and with one (hybrid, sqlite-vec's vec0 KNN); at
 * 10,000 also with the in-process scan that replaces sqlite-vec when it does not load (its first
 * query reads every vector: `firstQueryMs`, outside the per-query figures).
 *
 * `p50Ms`/`p95Ms` are wall time; `cpuP50Ms`/`cpuP95Ms` the process's CPU time per query:
 * `process.cpuUsage()` user + system around one `memory.recall` call, so every thread of the process
 * (the main thread's JS and SQLite work, and whatever GC and libuv threads ran meanwhile). Recall
 * is synchronous SQLite and JS work, so on an idle machine the two agree; on a loaded one the CPU
 * figures are the steadier. `uptime`'s load average is printed to stderr with each size.
 *
 * Durability: better-sqlite3 defaults, WAL with synchronous=NORMAL.
 */
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { performance } from "node:perf_hooks"
import { IdGenerator, Memory } from "../src/index.js"

const SIZES = (process.env.MEMORY_BENCH_SIZES ?? "10000,100000").split(",").map(Number)
// MEMORY_BENCH_MODES=lexical measures lexical recall only (and loads without embeddings)
const MODES = (process.env.MEMORY_BENCH_MODES ?? "lexical,hybrid").split(",")
const QUERIES = 200
const WARMUP = 20
const K = 10
const DIMENSIONS = 256
const VOCABULARY = 5000

// a deterministic LCG; words drawn with a Zipf-like skew, so some terms are common
let seed = 42
const next = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
  return seed / 2 ** 32
}
const SYLLABLES = ["ka", "lo", "mi", "ne", "tu", "ra", "si", "po", "de", "ga", "fu", "be", "zo", "hi", "wa", "yo"]
const ENDINGS = ["", "s", "ed", "ing"]
const spell = (index: number) => {
  let out = ""
  let rest = index
  do {
    out += SYLLABLES[rest % SYLLABLES.length]
    rest = Math.floor(rest / SYLLABLES.length)
  } while (rest > 0 || out.length < 4)
  return out + ENDINGS[index % 7 === 0 ? 1 : index % 11 === 0 ? 2 : index % 13 === 0 ? 3 : 0]
}
const word = () => spell(Math.floor(VOCABULARY ** next()))
const sentence = (length: number) => Array.from({ length }, word).join(" ")

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

const round = (x: number) => Math.round(x * 1000) / 1000

const measure = (
  n: number,
  mode: "lexical" | "hybrid" | "hybrid-scan",
  filename: string,
  queries: ReadonlyArray<string>
) =>
  Effect.gen(function*() {
    const memory = yield* Memory.Memory
    const first = performance.now()
    yield* memory.recall({ query: queries[0]!, k: K })
    const firstMs = performance.now() - first
    for (let i = 1; i < WARMUP; i++) yield* memory.recall({ query: queries[i]!, k: K })
    const times: Array<number> = []
    const cpu: Array<number> = []
    let hits = 0
    for (let i = 0; i < QUERIES; i++) {
      const cpuStart = process.cpuUsage()
      const start = performance.now()
      const result = yield* memory.recall({ query: queries[WARMUP + i]!, k: K })
      times.push(performance.now() - start)
      const used = process.cpuUsage(cpuStart)
      cpu.push((used.user + used.system) / 1000)
      hits += result.length
    }
    times.sort((a, b) => a - b)
    cpu.sort((a, b) => a - b)
    return {
      workload: "memory-recall",
      peer: "rath",
      store: "sqlite",
      version: "0.1.0",
      n,
      mode,
      vectorIndex: memory.vectorIndex,
      k: K,
      queries: QUERIES,
      dimensions: mode === "lexical" ? undefined : DIMENSIONS,
      p50Ms: round(percentile(times, 0.5)),
      p95Ms: round(percentile(times, 0.95)),
      meanMs: round(times.reduce((a, b) => a + b, 0) / times.length),
      // CPU time of this process per query: the same work, less sensitive to a loaded machine
      cpuP50Ms: round(percentile(cpu, 0.5)),
      cpuP95Ms: round(percentile(cpu, 0.95)),
      meanHits: hits / QUERIES,
      firstQueryMs: round(firstMs),
      bytesOnDisk: NodeFs.readdirSync(NodePath.dirname(filename))
        .map((name) => NodeFs.statSync(NodePath.join(NodePath.dirname(filename), name)).size)
        .reduce((a, b) => a + b, 0)
    }
  })

const program = Effect.gen(function*() {
  for (const n of SIZES) {
    const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "rath-memory-bench-"))
    const filename = NodePath.join(dir, "memory.db")
    const embedder = Memory.layerFakeEmbedder({ dimensions: DIMENSIONS })
    const hybridToo = MODES.includes("hybrid")
    const inputs = Array.from({ length: n }, (_, i) => ({
      namespace: `user:${i % 10}`,
      text: sentence(8 + Math.floor(next() * 16))
    }))
    const start = performance.now()
    yield* Effect.gen(function*() {
      const memory = yield* Memory.Memory
      yield* memory.rememberAll(inputs)
    }).pipe(
      Effect.provide(
        hybridToo ? Memory.layerSqlite({ filename }).pipe(Layer.provide(embedder)) : Memory.layerSqlite({ filename })
      )
    )
    const loadMs = performance.now() - start
    process.stderr.write(
      `memory bench: loaded ${n} in ${Math.round(loadMs)} ms (load average ${NodeOs.loadavg()[0]!.toFixed(1)})\n`
    )
    const queries = Array.from({ length: QUERIES + WARMUP }, () => sentence(2 + Math.floor(next() * 3)))
    const lexical = yield* measure(n, "lexical", filename, queries).pipe(
      Effect.provide(Memory.layerSqlite({ filename }))
    )
    console.log(JSON.stringify({ ...lexical, loadMs: Math.round(loadMs), perInsertUs: round(loadMs * 1000 / n) }))
    if (!hybridToo) {
      NodeFs.rmSync(dir, { recursive: true, force: true })
      continue
    }
    const hybrid = yield* measure(n, "hybrid", filename, queries).pipe(
      Effect.provide(Memory.layerSqlite({ filename }).pipe(Layer.provide(embedder)))
    )
    console.log(JSON.stringify({ ...hybrid, loadMs: Math.round(loadMs), perInsertUs: round(loadMs * 1000 / n) }))
    if (n <= 10_000) {
      // the fallback when sqlite-vec does not load: the vectors scanned in process
      const scan = yield* measure(n, "hybrid-scan", filename, queries).pipe(
        Effect.provide(Memory.layerSqlite({ filename, vectorSearch: "scan" }).pipe(Layer.provide(embedder)))
      )
      console.log(JSON.stringify({ ...scan, loadMs: Math.round(loadMs), perInsertUs: round(loadMs * 1000 / n) }))
    }
    NodeFs.rmSync(dir, { recursive: true, force: true })
  }
})

await Effect.runPromise(program.pipe(Effect.provide(IdGenerator.layerSequential())))
