/**
 * The large run of the store fuzz suite (`test/storeFuzz.ts`; the test suite runs it small):
 * damaged JSONL session files through `Session.fromJsonl`, damaged SQLite store files through
 * `SessionStore.makeSqlite` (open, list, load and export of every session). Prints the counts per
 * surface (what each count means is written at the top of `test/storeFuzz.ts`), then one JSON line.
 *
 *   npx tsx bench/fuzz/store.ts [--seed 1] [--jsonl 10000] [--sqlite 10000] [--timeout 5000] [--kinds]
 *
 * Exits non-zero when any defect, hang or silently wrong read is counted.
 */
import { Effect } from "effect"
import * as Fuzz from "../../test/storeFuzz.js"

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}

const config: Fuzz.Config = {
  seed: arg("seed", 1),
  jsonlTries: arg("jsonl", 10_000),
  sqliteTries: arg("sqlite", 10_000),
  timeoutMillis: arg("timeout", 5000)
}

let uncaught = 0
process.on("uncaughtException", (error) => {
  uncaught++
  process.stderr.write(`uncaught: ${String(error).slice(0, 200)}\n`)
})
process.on("unhandledRejection", (error) => {
  uncaught++
  process.stderr.write(`unhandled rejection: ${String(error).slice(0, 200)}\n`)
})

const program = Effect.gen(function*() {
  const started = performance.now()
  const report = Fuzz.newReport()
  yield* Fuzz.runJsonl(config, report)
  yield* Fuzz.runSqlite(config, report, (done) => process.stderr.write(`sqlite: ${done} stores\n`))
  const seconds = (performance.now() - started) / 1000
  process.stdout.write(`${Fuzz.format(report, { kinds: process.argv.includes("--kinds") })}\n\n`)
  process.stdout.write(`uncaught exceptions and unhandled rejections: ${uncaught}; ${seconds.toFixed(1)} s\n`)
  for (const example of report.examples) process.stdout.write(`  ${example}\n`)
  process.stdout.write(
    `${JSON.stringify({ bench: "fuzz/store", config, surfaces: report.surfaces, uncaught, seconds })}\n`
  )
  return Fuzz.bad(report) + uncaught
})

Effect.runPromise(program).then(
  (bad) => process.exit(bad === 0 ? 0 : 1),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(2)
  }
)
