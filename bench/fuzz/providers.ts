/**
 * The large run of the provider fuzz suite (`test/providers/fuzz.ts`; the test suite runs it
 * small): local OpenAI-compatible and Anthropic servers on 127.0.0.1 answer with malformed model
 * outputs (JSON and SSE: cuts, stalls, invalid JSON, wrong types, missing fields, bad UTF-8, huge
 * strings, wrong content types, HTTP errors, error events), and fuzzed tool-call argument text goes
 * through `Tool.run` and through an agent persisted to a store. Prints the counts per surface
 * (what each count means is written at the top of `test/providers/fuzz.ts`), then one JSON line.
 *
 *   npx tsx bench/fuzz/providers.ts [--seed 1] [--cases 10000] [--tools 5000] [--agent-every 10]
 *                                   [--concurrency 16] [--timeout 1000] [--kinds]
 *
 * `--cases` is per adapter (half `chat`, half `stream`). Exits non-zero when any defect, hang,
 * silent acceptance or wrong answer is counted.
 */
import { Effect, Logger, LogLevel } from "effect"
import * as Fuzz from "../../test/providers/fuzz.js"

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}

const timeoutMillis = arg("timeout", 1000)
const maxResponseBytes = 2 * 1024 * 1024
const config: Fuzz.Config = {
  seed: arg("seed", 1),
  providerCases: arg("cases", 10_000),
  toolCases: arg("tools", 5_000),
  agentEvery: arg("agent-every", 10),
  concurrency: arg("concurrency", 16),
  timeoutMillis,
  maxResponseBytes,
  hugeBytes: [Math.floor(maxResponseBytes / 5), Math.floor(maxResponseBytes * 1.3)]
}

// a defect can also escape every fiber: count what reaches the process
let uncaught = 0
process.on("uncaughtException", (error) => {
  uncaught++
  process.stderr.write(`uncaught: ${String(error).slice(0, 200)}\n`)
})
process.on("unhandledRejection", (error) => {
  uncaught++
  process.stderr.write(`unhandled rejection: ${String(error).slice(0, 200)}\n`)
})

// the SDKs' log lines that reach the Effect logger (they must not reach the console)
let sdkLogLines = 0
const logger = Logger.make(() => void sdkLogLines++)

const program = Effect.gen(function*() {
  const started = performance.now()
  const report = Fuzz.newReport()
  const [, consoleLines] = yield* Fuzz.countConsole(Effect.gen(function*() {
    yield* Fuzz.runProviders(config, report, (done) => process.stderr.write(`providers: ${done} calls\n`))
    yield* Fuzz.runTools(config, report)
  }))
  const seconds = (performance.now() - started) / 1000
  const lines = consoleLines()
  process.stdout.write(`${Fuzz.format(report, { kinds: process.argv.includes("--kinds") })}\n\n`)
  process.stdout.write(
    `console lines: ${lines}; SDK log lines on the Effect logger: ${sdkLogLines}; ` +
      `uncaught exceptions and unhandled rejections: ${uncaught}; ${seconds.toFixed(1)} s\n`
  )
  for (const example of report.examples) process.stdout.write(`  ${example}\n`)
  process.stdout.write(
    `${
      JSON.stringify({
        bench: "fuzz/providers",
        config,
        surfaces: report.surfaces,
        consoleLines: lines,
        sdkLogLines,
        uncaught,
        seconds
      })
    }\n`
  )
  const bad = Object.values(report.surfaces).reduce((n, c) => n + c.defects + c.hangs + c.silent + c.wrong, 0) +
    uncaught + lines
  return bad
})

Effect.runPromise(
  Effect.scoped(program).pipe(
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Logger.withMinimumLogLevel(LogLevel.Warning)
  )
).then(
  (bad) => process.exit(bad === 0 ? 0 : 1),
  (error) => {
    process.stderr.write(`fuzz: ${String(error)}\n`)
    process.exit(2)
  }
)
