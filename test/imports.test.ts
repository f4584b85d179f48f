/**
 * DESIGN: no import circles in `src/`. Value-level imports only (an `import type` loads nothing),
 * parsed with the TypeScript compiler.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import ts from "typescript"
import { lazy } from "../src/internal/lazy.js"

const root = resolve(import.meta.dirname, "..", "src")

const sources = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : []
  })

/** The files each file loads at run time (relative imports and re-exports, type-only ones skipped). */
const valueImports = (file: string): Array<string> => {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const out: Array<string> = []
  const add = (specifier: string) => {
    if (specifier.startsWith(".")) out.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")))
  }
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause
      const named = clause?.namedBindings
      const typeOnly = clause !== undefined && (clause.isTypeOnly || (
        clause.name === undefined && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 &&
        named.elements.every((element) => element.isTypeOnly)
      ))
      if (!typeOnly) add(node.moduleSpecifier.text)
    } else if (
      ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier) &&
      !node.isTypeOnly
    ) {
      add(node.moduleSpecifier.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return out
}

/** Every cycle found by a depth-first walk, as `a.ts -> b.ts` paths relative to `src/`. */
const cycles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): Array<string> => {
  const state = new Map<string, "open" | "done">()
  const stack: Array<string> = []
  const found: Array<string> = []
  const walk = (node: string) => {
    state.set(node, "open")
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        found.push(stack.slice(stack.indexOf(next)).map((f) => relative(root, f)).join(" -> "))
      } else if (!state.has(next)) walk(next)
    }
    stack.pop()
    state.set(node, "done")
  }
  for (const node of graph.keys()) if (!state.has(node)) walk(node)
  return found
}

describe("src/ imports", () => {
  it("have no cycles", () => {
    const graph = new Map(sources(root).map((file) => [file, valueImports(file)] as const))
    assert.isAbove(graph.size, 40)
    assert.isAbove([...graph.values()].flat().length, 100, "the import graph was read")
    assert.deepStrictEqual(cycles(graph), [])
  })

  it("the cycle check finds a cycle when there is one", () => {
    const a = join(root, "A.ts")
    const b = join(root, "B.ts")
    assert.deepStrictEqual(cycles(new Map([[a, [b]], [b, [a]]])), ["A.ts -> B.ts"])
  })
})

/**
 * Runs `script` (an ES module body) in a child process that imports rath from source, and
 * returns the provider and MCP SDK modules it loaded (a resolve hook reports them).
 */
const sdkModulesLoadedBy = (script: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "rath-imports-"))),
    (dir) =>
      Effect.async<Array<string>, Error>((resume) => {
        writeFileSync(
          join(dir, "hooks.mjs"),
          `export async function resolve(specifier, context, next) {
            const resolved = await next(specifier, context)
            if (/node_modules\\/(openai|@anthropic-ai\\/sdk|@modelcontextprotocol\\/sdk|@effect\\/ai)\\//.test(resolved.url)) {
              process.stderr.write("sdk " + resolved.url + "\\n")
            }
            return resolved
          }`
        )
        writeFileSync(
          join(dir, "register.mjs"),
          `import { register } from "node:module"\nregister("./hooks.mjs", import.meta.url)\n`
        )
        const rath = JSON.stringify(join(root, "index.ts"))
        execFile(
          process.execPath,
          [
            "--import",
            join(dir, "register.mjs"),
            "--import",
            "tsx",
            "--input-type=module",
            "-e",
            `const rath = await import(${rath})\n${script}`
          ],
          { cwd: resolve(root, "..") },
          (error, _stdout, stderr) =>
            resume(
              error === null
                ? Effect.succeed(stderr.split("\n").filter((line) => line.startsWith("sdk ")))
                : Effect.fail(new Error(`${error.message}\n${stderr}`))
            )
        )
      }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

describe("importing rath", () => {
  it.live(
    "loads no provider or MCP SDK, nor @effect/ai, until one is used (they are a third of the import time)",
    () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* sdkModulesLoadedBy(""), [])
        // the check sees them when they do load
        const used = yield* sdkModulesLoadedBy(
          `const { Effect, Redacted } = await import("effect")
        await Effect.runPromise(rath.OpenAi.client({ apiKey: Redacted.make("k") }))`
        )
        assert.isTrue(used.some((line) => line.includes("/node_modules/openai/")), used.join("\n"))
        assert.isFalse(used.some((line) => line.includes("@anthropic-ai")))
      }),
    60_000
  )

  it.live(
    "loads @effect/ai (an optional peer) only with the rath/EffectAi subpath",
    () =>
      Effect.gen(function*() {
        // the test above sees no @effect/ai module under `import "rath"`; the subpath loads it
        const bridged = yield* sdkModulesLoadedBy(`await import(${JSON.stringify(join(root, "EffectAi.ts"))})`)
        assert.isTrue(bridged.some((line) => line.includes("/node_modules/@effect/ai/")), bridged.join("\n"))
      }),
    60_000
  )
})

describe("internal/lazy", () => {
  it.effect("loads once for every caller, and a load that failed is tried again", () =>
    Effect.gen(function*() {
      let loads = 0
      const load = lazy(() => {
        loads++
        return loads === 1 ? Promise.reject(new Error("not yet")) : Promise.resolve({ loads })
      })
      const failed = yield* Effect.either(Effect.tryPromise(load))
      assert.isTrue(failed._tag === "Left")
      const [a, b] = yield* Effect.all([Effect.promise(load), Effect.promise(load)], { concurrency: 2 })
      assert.strictEqual(a, b)
      assert.strictEqual(loads, 2)
    }))
})
