/**
 * 12 — parallel fork-join with merge: three reviewers each get a fork of the same session, run
 * concurrently, and their results merge into one session. Each branch's entries appear once, and
 * the lineage says which branch produced what.
 *
 *   npx tsx examples/12-parallel-fork-join.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect } from "effect"
import type { Provider } from "rath"
import { Agent, Entry, Scripted, Session, Workflow } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const reviewer = (focus: string) =>
  Agent.make({
    name: `${focus}-reviewer`,
    description: `Reviews the change for ${focus}`,
    instructions: `You review code for ${focus} only. One sentence.`
  })

const review = Workflow.parallel([reviewer("style"), reviewer("security"), reviewer("tests")], {
  name: "review",
  concurrency: 3
})

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const change = yield* Session.fromUserMessage("Review: function add(a, b) { return eval(a + '+' + b) }")
  const merged = yield* review(change)
  console.log(`merged session ${merged.id}: ${merged.lineage.operation} of ${merged.lineage.parents.join(" + ")}`)
  for (const entry of Chunk.toReadonlyArray(Session.entries(merged))) {
    if (entry._tag === "Assistant") console.log(`  ${entry.author.name}: ${entry.text}`)
    if (entry._tag === "Merge") console.log(`  merge of ${entry.sessions.join(" + ")}`)
  }
  const all = Chunk.toReadonlyArray(Session.entries(merged))
  console.log(
    `${all.filter(Entry.is("User")).length} user message, ${
      all.filter(Entry.is("Assistant")).length
    } reviews, ${all.length} entries`
  )
  console.log(`tokens: ${Session.usage(merged).inclusive?.totalTokens}`)
})

const answers: Record<string, string> = {
  style: "Name the parameters and drop the string concatenation.",
  security: "eval on inputs allows code injection: use a + b.",
  tests: "Add a test with non-numeric inputs."
}
const script = (request: Provider.Request) => {
  const system = request.messages[0]
  const focus = system?._tag === "System" ? system.text.split(" ")[4]! : "style"
  return Scripted.reply(answers[focus] ?? "Looks fine.", { delay: "20 millis" })
}

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
