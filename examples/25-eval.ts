/**
 * 25 — evaluation from evidence: run a dataset through two variants of an agent (different
 * instructions), score every case (an exact match and an LLM judge whose call is recorded like any
 * other), compare the runs case by case with a paired test, re-score the first run without calling
 * any model, and export preference pairs (the variant that passed a case chosen, the one that
 * failed it rejected). Every case is a saved session that forks its run.
 *
 *   node --import tsx examples/25-eval.ts
 *
 * @expect eval baseline \(\S+\): 8/12 passed \(66\.7%\)
 * @expect eval careful \(\S+\): 12/12 passed \(100\.0%\)
 * @expect fixed 4\s+broken 0\s+McNemar exact p=0\.125
 * @expect re-scored without a model: 8/12 passed, judge calls answered from the recording: 12
 * @expect preference pairs: 4, e.g. chosen "27" over rejected "28"
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import type { Provider } from "rath"
import { Agent, Eval, Scripted, SessionStore } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

// 12 cases: "What is 9 * n?", expected 9n
const dataset = Array.from(
  { length: 12 },
  (_, i) =>
    JSON.stringify({
      id: `times-${i + 1}`,
      input: `What is 9 * ${i + 1}? Answer with the number only.`,
      expected: String(9 * (i + 1))
    })
)
  .join("\n")

const baseline = Agent.make({ name: "quick", instructions: "Answer fast." })
const careful = Agent.make({
  name: "careful",
  instructions: "Work it out step by step, then answer with the number only."
})

const text = (message: Provider.Message | undefined) =>
  message === undefined || message._tag === "ToolResult" ? "" : message.text

// the scripted model: the quick agent is off by one on every third case; the judge compares with the expected answer
const script = (request: Provider.Request): Scripted.Step => {
  const first = text(request.messages[0])
  const last = text(request.messages.at(-1))
  if (first.startsWith("You are grading")) {
    const answer = text([...request.messages].reverse().find((m) => m._tag === "Assistant"))
    const expected = /Expected answer: (\d+)/.exec(last)?.[1]
    const pass = answer.trim() === expected
    return Scripted.reply(
      JSON.stringify({ pass, score: pass ? 1 : 0, reason: pass ? "correct" : `expected ${expected}` })
    )
  }
  const n = Number(/9 \* (\d+)/.exec(last)?.[1] ?? 0)
  const sloppy = first === "Answer fast." && n % 3 === 0
  return Scripted.reply(String(9 * n + (sloppy ? 1 : 0)))
}

const scorers = [Eval.exact(), Eval.judge({ rubric: "The answer is the correct product." })]

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const cases = yield* Eval.parseDataset(dataset, { source: "times.jsonl" })
  const a = yield* Eval.run({ name: "baseline", dataset: cases, workflow: baseline, scorers, concurrency: 4 })
  const b = yield* Eval.run({ name: "careful", dataset: cases, workflow: careful, scorers, concurrency: 4 })
  console.log(Eval.summary(a))
  console.log(Eval.summary(b))

  // case by case: which cases the variant fixed or broke, and whether that is more than chance
  const comparison = Eval.compare(a, b)
  console.log(`\n${Eval.compareText(comparison)}`)
  const html = Eval.compareHtml(comparison)
  console.log(`HTML report: ${html.length} characters, ${html.match(/<svg /g)?.length ?? 0} plots, no script`)

  // score the stored baseline again with no model at all: the judge is answered from each case's recording
  const again = yield* Eval.rescore({ run: a.id, scorers }).pipe(Effect.provide(Layer.empty))
  console.log(
    `\nre-scored without a model: ${again.totals.passed}/${again.totals.cases} passed, judge calls answered from the recording: ${again.totals.judgeCalls}`
  )

  // training data: the same prompt answered by both variants, one passed and one failed
  const items = [...(yield* Eval.items(a)), ...(yield* Eval.items(b))]
  const pairs = yield* Eval.exportPreferences(items)
  const first = pairs[0]!
  console.log(
    `preference pairs: ${pairs.length}, e.g. chosen ${JSON.stringify(first.chosen[0]!.content)} over rejected ${
      JSON.stringify(first.rejected[0]!.content)
    }`
  )
  const chat = yield* Eval.exportChat(items, { passed: true })
  console.log(`chat fine-tuning examples from passing cases: ${chat.length}`)
}).pipe(Effect.provide(Layer.merge(providerLayer(script), SessionStore.layerMemory)))

program.pipe(NodeRuntime.runMain)
