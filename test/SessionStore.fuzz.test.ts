/**
 * The store fuzz suite, small and seeded (a few seconds): damaged JSONL session files and damaged
 * SQLite store files, read back. The large run is `npx tsx bench/fuzz/store.ts`; what each count
 * means is written in `./storeFuzz.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fuzz from "./storeFuzz.js"

const config: Fuzz.Config = { seed: 20_261_202, jsonlTries: 600, sqliteTries: 66, timeoutMillis: 5000 }

describe("store fuzz (seeded, small)", () => {
  it.live(
    "no defect, hang or silently wrong session, over every kind of damage",
    () =>
      Effect.gen(function*() {
        const report = Fuzz.newReport()
        yield* Fuzz.runJsonl(config, report)
        yield* Fuzz.runSqlite(config, report)
        const table = `${Fuzz.format(report, { kinds: true })}\n${report.examples.join("\n")}`
        assert.deepStrictEqual(Object.keys(report.surfaces).sort(), [
          "jsonl",
          "sqlite export",
          "sqlite list",
          "sqlite load",
          "sqlite open"
        ])
        assert.strictEqual(report.surfaces.jsonl!.tries, config.jsonlTries)
        assert.strictEqual(report.surfaces["sqlite open"]!.tries, config.sqliteTries)
        // the damage reached what is read: most tries end in a typed error
        assert.isAbove(report.surfaces.jsonl!.typed, config.jsonlTries / 2, table)
        assert.isAbove(report.surfaces["sqlite load"]!.typed, 0, table)
        assert.strictEqual(Fuzz.bad(report), 0, table)
      }),
    60_000
  )
})
