/**
 * `rath eval`: run (with progress on stderr), show, continue, rescore, compare (text and HTML) and
 * export, end to end on a SQLite store, with a workflow module on the scripted provider.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { rath } from "./cli-fixture.js"

const src = Path.join(import.meta.dirname, "..", "src", "index.ts")

const moduleText = (wrong: ReadonlyArray<number>) => `
import { Agent, Eval, Scripted } from ${JSON.stringify(src)}
const wrong = new Set(${JSON.stringify(wrong)})
export const workflow = Agent.make({ name: "solver", instructions: "Answer with the number only." })
export const scorers = [Eval.exact(), Eval.judge({ rubric: "right sum" })]
export const prices = { "scripted-model": { input: 1, output: 1 } }
export const layer = Scripted.layer((request) => {
  const first = request.messages[0]
  if (first && first._tag === "System" && first.text.startsWith("You are grading")) {
    const answer = [...request.messages].reverse().find((m) => m._tag === "Assistant")
    const expected = /Expected answer: (\\d+)/.exec(request.messages.at(-1).text)?.[1]
    return Scripted.reply(JSON.stringify({ pass: answer?.text === expected, score: answer?.text === expected ? 1 : 0 }))
  }
  const user = [...request.messages].reverse().find((m) => m._tag === "User")
  const n = Number(/What is (\\d+)/.exec(user?.text ?? "")?.[1] ?? 0)
  return Scripted.reply(String(wrong.has(n) ? 2 * n + 1 : 2 * n))
})
`

const runIdOf = (stdout: string) => /run id: (\S+)/.exec(stdout)?.[1] ?? ""

layer(NodeContext.layer)("rath eval", (it) => {
  it.scoped("run, show, continue, rescore, compare and export on a SQLite store", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-eval-cli-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const dataset = Path.join(dir, "cases.jsonl")
      Fs.writeFileSync(
        dataset,
        Array.from({ length: 8 }, (_, i) =>
          JSON.stringify({ id: `q${i}`, input: `What is ${i} doubled?`, expected: String(2 * i) })).join("\n")
      )
      const a = Path.join(dir, "a.ts")
      const b = Path.join(dir, "b.ts")
      Fs.writeFileSync(a, moduleText([1, 3, 5]))
      Fs.writeFileSync(b, moduleText([7]))
      const store = Path.join(dir, "eval.db")

      const first = yield* rath(
        "eval",
        "run",
        "-d",
        dataset,
        "-w",
        a,
        "--store",
        store,
        "--name",
        "baseline",
        "--concurrency",
        "3"
      )
      assert.strictEqual(first.code, 0, first.stderr)
      assert.match(first.stdout, /eval baseline \(.+\): 5\/8 passed \(62\.5%\)/)
      assert.match(first.stdout, /judge calls 8/)
      assert.match(first.stdout, /cost \$/)
      assert.match(first.stderr, /eval \[#+\] 8\/8 {2}pass 5 {2}fail 3/)
      const idA = runIdOf(first.stdout)

      const shown = yield* rath("eval", "show", idA, "--store", store)
      assert.strictEqual(shown.code, 0, shown.stderr)
      assert.match(shown.stdout, /FAIL q1 \(line 2\) score 0\.000 {2}exact:x judge:x/)

      // nothing left to run; then re-run the failures with the fixed module
      const again = yield* rath("eval", "run", "-d", dataset, "-w", a, "--store", store, "--continue", idA)
      assert.match(again.stdout, /ran 0 case\(s\), skipped 8/)
      const fixed = yield* rath(
        "eval",
        "run",
        "-d",
        dataset,
        "-w",
        b,
        "--store",
        store,
        "--continue",
        idA,
        "--rerun-failed"
      )
      assert.match(fixed.stdout, /ran 3 case\(s\), skipped 5/)
      assert.match(fixed.stdout, /8\/8 passed/)

      const second = yield* rath(
        "eval",
        "run",
        "-d",
        dataset,
        "-w",
        b,
        "--store",
        store,
        "--name",
        "variant",
        "--min-pass-rate",
        "0.9"
      )
      assert.strictEqual(second.code, 6)
      assert.match(second.stderr, /pass rate 87\.5% is below 90\.0%/)
      const idB = runIdOf(second.stdout)

      const rescored = yield* rath("eval", "rescore", idB, "-w", b, "--store", store)
      assert.strictEqual(rescored.code, 0, rescored.stderr)
      assert.match(rescored.stdout, /variant \(re-scored\).*7\/8 passed/)

      // the first run as it was before the re-run cannot be compared, but run A (now all passing) vs B can
      const html = Path.join(dir, "report.html")
      const compared = yield* rath("eval", "compare", idA, idB, "--store", store, "--html", html)
      assert.strictEqual(compared.code, 0, compared.stderr)
      assert.match(compared.stdout, /fixed 0\s+broken 1\s+McNemar exact p=1\.000/)
      assert.match(Fs.readFileSync(html, "utf8"), /<svg /)

      const chat = Path.join(dir, "chat.jsonl")
      const exported = yield* rath("eval", "export", idB, "--format", "chat", "--passed", "-o", chat, "--store", store)
      assert.strictEqual(exported.code, 0, exported.stderr)
      const lines = Fs.readFileSync(chat, "utf8").trimEnd().split("\n").map((line) =>
        JSON.parse(line)
      )
      assert.strictEqual(lines.length, 7)
      assert.deepStrictEqual(lines[0].messages.map((m: { role: string }) => m.role), ["system", "user", "assistant"])
      const pairs = yield* rath("eval", "export", idA, idB, "--format", "preferences", "--store", store)
      assert.strictEqual(pairs.code, 0, pairs.stderr)
      const pair = JSON.parse(pairs.stdout.split("\n")[0]!)
      assert.deepStrictEqual([pair.metadata.case, pair.chosen[0].content, pair.rejected[0].content], ["q7", "14", "15"])

      const missing = yield* rath("eval", "show", "s_nope", "--store", store)
      assert.strictEqual(missing.code, 3)
      const badData = Path.join(dir, "bad.jsonl")
      Fs.writeFileSync(badData, "{\"input\":\"a\"}\n{\"input\":")
      const bad = yield* rath("eval", "run", "-d", badData, "-w", a, "--store", store)
      assert.strictEqual(bad.code, 4)
      assert.match(bad.stderr, /line 2/)
    }), 60_000)
})
