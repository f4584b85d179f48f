/**
 * Every rung of the examples ladder runs, with no API key, as a user would run it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { readdirSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const examples = readdirSync(join(root, "examples"))
  .filter((name) => /^\d\d-.*\.ts$/.test(name))
  .sort()

const run = (file: string) =>
  Effect.async<{ code: number; stdout: string; stderr: string }>((resume) => {
    const env = { ...process.env }
    delete env.OPENAI_API_KEY
    delete env.ANTHROPIC_API_KEY
    const child = execFile(
      process.execPath,
      ["--import", "tsx", join("examples", file)],
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
      }), 90_000)
  }
})
