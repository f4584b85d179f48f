/**
 * Every rung of the examples ladder runs, with no API key, as a user would run it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const examples = readdirSync(join(root, "examples"))
  .filter((name) => /^\d\d-.*\.ts$/.test(name))
  .sort()

// what some rungs must print, beyond exiting 0 (a rung without an entry only has to run)
const expected: Record<string, ReadonlyArray<RegExp>> = {
  "01-hello-agent.ts": [/run ended: stop/, /answered by: scripted/],
  "05-custom-tool.ts": [/ToolResult word_count -> \{"words":5/, /There are 5 words/],
  "07-streaming.ts": [/\[tool\] add -> 42/, /\[text\] " = "/, /-- done \(stop\)/],
  "08-compression.ts": [
    /all entries \(the record\) \(10\)/,
    /ModelCall   compress call: Lisbon/,
    /transcript \(what a model is sent\) \(3\)/
  ],
  "11-selector-loop.ts": [/selector chose writer/, /selector chose done/, /3 decisions recorded/],
  "12-parallel-fork-join.ts": [/1 user message, 3 reviews/]
}

// a rung can also state what it must print in its own header: ` * @expect <regular expression>`
const declared = (file: string): ReadonlyArray<RegExp> =>
  Array.from(
    readFileSync(join(root, "examples", file), "utf8").matchAll(/^\s*\*\s*@expect\s+(.+?)\s*$/gm),
    (match) => new RegExp(match[1]!)
  )

const run = (file: string) =>
  Effect.async<{ code: number; stdout: string; stderr: string }>((resume) => {
    const env = { ...process.env }
    delete env.OPENAI_API_KEY
    delete env.ANTHROPIC_API_KEY
    const child = execFile(
      // as the README and every rung's header say: `npx tsx examples/<rung>.ts`
      process.execPath,
      [join(root, "node_modules", "tsx", "dist", "cli.mjs"), join("examples", file)],
      { cwd: root, env, timeout: 60_000 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("examples", () => {
  it("the ladder is not empty", () => {
    assert.isAbove(examples.length, 0)
  })
  for (const file of examples) {
    it.live(file, () =>
      Effect.gen(function*() {
        const result = yield* run(file)
        assert.strictEqual(result.code, 0, `${file} failed:\n${result.stderr}`)
        assert.isAbove(result.stdout.trim().length, 0, `${file} printed nothing`)
        for (const pattern of [...(expected[file] ?? []), ...declared(file)]) assert.match(result.stdout, pattern)
      }), 90_000)
  }
})
