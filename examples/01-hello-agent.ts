/**
 * 01 — hello agent: an agent is a function from a session to a session.
 *
 *   npx tsx examples/01-hello-agent.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Option } from "effect"
import { Agent, Session } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const greeter = Agent.make({
  name: "greeter",
  description: "Greets the user in one sentence",
  instructions: "You are a friendly greeter. Answer in one sentence."
})

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const session = yield* Session.fromUserMessage("Hello! Who are you?")
  const answered = yield* greeter(session)

  // the session is the evidence: every entry, who wrote it, and why the run ended
  console.log(String(answered))
  const reply = Session.lastOf(answered, "Assistant")
  if (reply._tag === "Some") {
    console.log(`\nassistant: ${reply.value.text}`)
    console.log(`answered by: ${reply.value.provider?.kind} / ${reply.value.model}`)
  }
  console.log(`run ended: ${Option.getOrThrow(Agent.lastEnd(answered)).reason}`)
  console.log(`lineage: ${answered.lineage.operation} by ${answered.lineage.by?.kind}:${answered.lineage.by?.name}`)
  console.log(
    `entries: ${Chunk.size(Session.entries(answered))}, tokens: ${Session.usage(answered).inclusive?.totalTokens}`
  )
})

program.pipe(
  Effect.provide(providerLayer([{ text: "Hello! I am rath's greeter, a scripted agent." }])),
  NodeRuntime.runMain
)
