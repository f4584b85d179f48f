/**
 * Every TypeScript snippet in the README type-checks against the sources, as a user would write it
 * (`import ... from "rath"`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const readme = readFileSync(join(root, "README.md"), "utf8")
const snippets = Array.from(readme.matchAll(/```ts\n([\s\S]*?)```/g), (match) => match[1]!)

describe("README", () => {
  it("has TypeScript snippets", () => {
    assert.isAtLeast(snippets.length, 5)
  })

  it.live("every snippet type-checks", () =>
    Effect.gen(function*() {
      const dir = join(root, "test-output", "readme")
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { recursive: true })
      snippets.forEach((code, i) => writeFileSync(join(dir, `snippet-${String(i + 1).padStart(2, "0")}.ts`), code))
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          extends: "../../tsconfig.base.json",
          compilerOptions: { noEmit: true, paths: { rath: ["../../src/index.ts"] } },
          include: ["*.ts"]
        })
      )
      const result = yield* Effect.async<{ code: number; output: string }>((resume) => {
        execFile(
          process.execPath,
          [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")],
          { cwd: root, timeout: 120_000 },
          (error, stdout, stderr) =>
            resume(
              Effect.succeed({
                code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
                output: stdout + stderr
              })
            )
        )
      })
      assert.strictEqual(result.code, 0, `README snippets do not type-check:\n${result.output}`)
    }), 120_000)
})
