/**
 * 11 — selector loop: an LLM router over self-describing workflows. The selector forces a
 * structured choice (a `select` tool call whose choice is one of the names or "done"), returns
 * the chosen workflow and records the decision. The loop itself is plain code.
 *
 *   npx tsx examples/11-selector-loop.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect } from "effect"
import type { Provider } from "rath"
import { Agent, Entry, Scripted, Selector, Session, Workflow } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const researcher = Agent.make({
  name: "researcher",
  description: "Collects the facts the answer needs",
  instructions: "List the relevant facts briefly."
})
const writer = Agent.make({
  name: "writer",
  description: "Writes the final answer from the facts",
  instructions: "Write the final answer in two sentences."
})
const route = Selector.make({ candidates: [researcher, writer] })

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  let session = yield* Session.fromUserMessage("Why is the sky blue?")
  for (let i = 0; i < 5; i++) {
    const decision = yield* route(session)
    console.log(`selector chose ${decision.choice}: ${decision.reason}`)
    session = decision.session
    if (Workflow.isDone(decision.next)) break
    session = yield* decision.next(session)
  }
  for (const entry of Chunk.toReadonlyArray(Session.entries(session))) {
    if (entry._tag === "Assistant") console.log(`${entry.author.name}: ${entry.text}`)
  }
  const decisions = Chunk.toReadonlyArray(Session.entries(session)).filter(Entry.is("Custom"))
    .filter((entry) => entry.type === Selector.DECISION_ENTRY)
  console.log(`${decisions.length} decisions recorded`)
})

// the scripted model answers as the router while it is asked to select, as an agent otherwise
const script = (request: Provider.Request, _index: number) => {
  if (request.toolChoice !== undefined && typeof request.toolChoice === "object") {
    // a model sees what was said, not who said it: the researcher's facts, then the writer's answer
    const said = request.messages.flatMap((m) => m._tag === "Assistant" ? [m.text] : [])
    const researched = said.some((text) => text.startsWith("Sunlight"))
    const written = said.some((text) => text.startsWith("The sky"))
    const choice = !researched ? "researcher" : !written ? "writer" : "done"
    const reason = choice === "researcher" ? "facts first" : choice === "writer" ? "facts are in" : "answered"
    return Scripted.toolCall("select", { choice, reason })
  }
  const system = request.messages[0]
  return system?._tag === "System" && system.text.startsWith("List")
    ? Scripted.reply("Sunlight scatters off air molecules; shorter (blue) wavelengths scatter most.")
    : Scripted.reply(
      "The sky looks blue because air scatters blue light more than red. We see that light from all directions."
    )
}

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
