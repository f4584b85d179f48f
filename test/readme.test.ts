/**
 * Every TypeScript snippet in the README type-checks against the sources, as a user would write it
 * (`import ... from "rath"`), and the first one runs and prints what it should.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const readme = readFileSync(join(root, "README.md"), "utf8")
const snippets = Array.from(readme.matchAll(/```ts\n([\s\S]*?)```/g), (match) => match[1]!)

/** Writes the snippets into a fresh directory under test-output, with a tsconfig that maps `rath` to src. */
const writeSnippets = (name: string): string => {
  const dir = join(root, "test-output", name)
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
  return dir
}

const node = (args: ReadonlyArray<string>) =>
  Effect.async<{ code: number; output: string; stdout: string }>((resume) => {
    const child = execFile(process.execPath, args, { cwd: root, timeout: 120_000 }, (error, stdout, stderr) =>
      resume(
        Effect.succeed({
          code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
          output: stdout + stderr,
          stdout
        })
      ))
    return Effect.sync(() => child.kill())
  })

describe("README", () => {
  it("has TypeScript snippets", () => {
    assert.isAtLeast(snippets.length, 5)
  })

  it.live("every snippet type-checks", () =>
    Effect.gen(function*() {
      const dir = writeSnippets("readme")
      const result = yield* node([
        join(root, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        join(dir, "tsconfig.json")
      ])
      assert.strictEqual(result.code, 0, `README snippets do not type-check:\n${result.output}`)
    }), 120_000)

  it.live(
    "the first snippet runs and prints the merged session, its lineage and the JSONL round trip",
    () =>
      Effect.gen(function*() {
        const dir = writeSnippets("readme-run")
        const result = yield* node([
          join(root, "node_modules", "tsx", "dist", "cli.mjs"),
          "--tsconfig",
          join(dir, "tsconfig.json"),
          join(dir, "snippet-01.ts")
        ])
        assert.strictEqual(result.code, 0, `README snippet 1 failed:\n${result.output}`)
        // ids are random (the default IdGenerator): name them by order of appearance
        const names = new Map<string, string>()
        const stable = result.stdout.replace(/s_[0-9a-z]+/g, (id) => {
          if (!names.has(id)) names.set(id, `s${names.size + 1}`)
          return names.get(id)!
        })
        assert.strictEqual(
          stable,
          [
            "Session(s1, 5 entries, merge of s2 + s3)",
            "  #0 User [user:user] Write a function that reverses a string.",
            // the user's message is the user's; what the program appends outside any agent is the program's
            "  #1 Assistant [program:program] const reverse = (s) => [...s].reverse().join('')",
            "  #2 Assistant [program:program] const reverse = (s) => s.split('').reverse().join('')",
            "  #3 Check [program:program] check handles emoji failed",
            "  #4 Merge [program:program] merge of s2 + s3",
            "flowchart TD",
            "  n0[\"s4: root, 1 entries\"]",
            "  n1[\"s2: fork, 2 entries\"]",
            "  n2[\"s3: fork, 3 entries\"]",
            "  n3[\"s1: merge, 5 entries\"]",
            "  n0 -->|fork| n1",
            "  n0 -->|fork| n2",
            "  n1 -->|merge| n3",
            "  n2 -->|merge| n3",
            "",
            "true 5",
            ""
          ].join("\n")
        )
      }),
    120_000
  )
})
