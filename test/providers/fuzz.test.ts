/**
 * The provider fuzz suite, small and seeded (a few seconds): malformed answers from both local
 * servers, and fuzzed tool-call arguments through `Tool.run` and a persisted agent. The large run
 * is `npx tsx bench/fuzz/providers.ts`; what each count means is written in `./fuzz.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Provider } from "rath"
import * as Fuzz from "./fuzz.js"

const config: Fuzz.Config = {
  seed: 20_261_202,
  providerCases: 48,
  toolCases: 200,
  agentEvery: 25,
  concurrency: 8,
  timeoutMillis: 300,
  maxResponseBytes: 256 * 1024,
  hugeBytes: [40_000, 330_000]
}

describe("provider fuzz (seeded, small)", () => {
  it("the fuzzer's depth bound is rath's", () => {
    assert.strictEqual(Fuzz.ARGUMENT_DEPTH, Provider.MAX_ARGUMENT_DEPTH)
  })

  it.scopedLive(
    "no defect, hang, silently accepted or wrong answer; nothing on the console",
    () =>
      Effect.gen(function*() {
        const report = Fuzz.newReport()
        const [, consoleLines] = yield* Fuzz.countConsole(Effect.gen(function*() {
          yield* Fuzz.runProviders(config, report)
          yield* Fuzz.runTools(config, report)
        }))
        const table = `${Fuzz.format(report, { kinds: true })}\n${report.examples.join("\n")}`
        assert.deepStrictEqual(Object.keys(report.surfaces).sort(), [
          "anthropic/chat",
          "anthropic/stream",
          "openai/chat",
          "openai/stream",
          "tools/Tool.run",
          "tools/agent+persist"
        ])
        for (const [surface, counts] of Object.entries(report.surfaces)) {
          for (const bad of ["defects", "hangs", "silent", "wrong", "falseRejections"] as const) {
            assert.strictEqual(counts[bad], 0, `${surface} ${bad}\n${table}`)
          }
          assert.isAbove(counts.typed, 0, `${surface} typed\n${table}`)
          assert.isAbove(counts.ok, 0, `${surface} ok\n${table}`)
        }
        assert.strictEqual(consoleLines(), 0)
      }),
    60_000
  )
})
