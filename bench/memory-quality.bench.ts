/**
 * Memory recall quality: recall@5 and MRR over the query/memory pairs of
 * `bench/data/memory-recall.json` (inflection, accents, CJK, paraphrase, distractors), lexical
 * and hybrid, per category.
 *
 * Every case memory (each distinct text once) and every distractor is stored in one namespace of
 * a fresh SQLite file, case memories first in a fixed shuffled order, the distractors last (so a
 * recency fallback, when the code has one, returns distractors: it cannot inflate the figures).
 * Each case then recalls its query with k = 5: `recallAt5` is the share of cases whose memory is
 * among the hits, `mrr` the mean of 1 / rank (0 when not found). `matchedAt5` counts only hits
 * that matched the query (not flagged `match: "recent"`).
 *
 * Hybrid uses `Memory.fakeEmbedder` (256 dimensions) with the data file's concept map: words of
 * one concept share a direction, every other word hashes to its own. It is deterministic and
 * stands for an embedder that knows those synonyms, nothing more.
 */
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { IdGenerator, Memory } from "../src/index.js"

interface Data {
  readonly cases: { readonly [category: string]: ReadonlyArray<readonly [string, string]> }
  readonly distractors: ReadonlyArray<string>
  readonly concepts: { readonly [word: string]: string }
}

const here = NodePath.dirname(fileURLToPath(import.meta.url))
const data: Data = JSON.parse(NodeFs.readFileSync(NodePath.join(here, "data", "memory-recall.json"), "utf8"))
const K = 5
const NAMESPACE = "bench"

// a deterministic shuffle (LCG), so no category sits at the end of the insertion order
const shuffled = <A>(items: ReadonlyArray<A>): Array<A> => {
  let seed = 7
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0
    const j = seed % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

interface Row {
  readonly category: string
  readonly cases: number
  readonly recallAt5: number
  readonly matchedAt5: number
  readonly mrr: number
}

const round = (x: number) => Math.round(x * 1000) / 1000

const run = (mode: "lexical" | "hybrid") =>
  Effect.gen(function*() {
    const memory = yield* Memory.Memory
    const caseTexts = shuffled(Array.from(new Set(Object.values(data.cases).flat().map(([, text]) => text))))
    yield* memory.rememberAll([...caseTexts, ...data.distractors].map((text) => ({ namespace: NAMESPACE, text })))
    const rows: Array<Row> = []
    const totals = { n: 0, found: 0, matched: 0, rr: 0 }
    for (const [category, cases] of Object.entries(data.cases)) {
      let found = 0
      let matched = 0
      let rr = 0
      for (const [query, text] of cases) {
        const hits = yield* memory.recall({ query, k: K, namespace: NAMESPACE })
        const rank = hits.findIndex((hit) => hit.text === text)
        if (rank >= 0) {
          found++
          rr += 1 / (rank + 1)
          const flagged = (hits[rank] as { readonly match?: string }).match
          if (flagged !== "recent") matched++
        }
      }
      totals.n += cases.length
      totals.found += found
      totals.matched += matched
      totals.rr += rr
      rows.push({
        category,
        cases: cases.length,
        recallAt5: round(found / cases.length),
        matchedAt5: round(matched / cases.length),
        mrr: round(rr / cases.length)
      })
    }
    rows.push({
      category: "all",
      cases: totals.n,
      recallAt5: round(totals.found / totals.n),
      matchedAt5: round(totals.matched / totals.n),
      mrr: round(totals.rr / totals.n)
    })
    return rows.map((row) => ({ workload: "memory-quality", peer: "rath", store: "sqlite", mode, k: K, ...row }))
  })

const program = Effect.gen(function*() {
  const table: Array<string> = []
  for (const mode of ["lexical", "hybrid"] as const) {
    const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "rath-memory-quality-"))
    const sqlite = Memory.layerSqlite({ filename: NodePath.join(dir, "memory.db") })
    const layer = mode === "lexical"
      ? sqlite
      : sqlite.pipe(Layer.provide(Memory.layerFakeEmbedder({ dimensions: 256, concepts: data.concepts })))
    const rows = yield* run(mode).pipe(Effect.provide(layer))
    NodeFs.rmSync(dir, { recursive: true, force: true })
    for (const row of rows) {
      console.log(JSON.stringify(row))
      table.push(
        `${mode.padEnd(8)} ${row.category.padEnd(16)} ${String(row.cases).padStart(4)}  recall@5 ${
          row.recallAt5.toFixed(3)
        }  matched@5 ${row.matchedAt5.toFixed(3)}  MRR ${row.mrr.toFixed(3)}`
      )
    }
  }
  process.stderr.write(`${table.join("\n")}\n`)
})

await Effect.runPromise(program.pipe(Effect.provide(IdGenerator.layerSequential())))
