/**
 * 05 — custom tool: a schema for the arguments, an Effect for the work. The model's calls, the
 * arguments (raw and parsed), the output and its duration are all entries of the session.
 *
 *   node --import tsx examples/05-custom-tool.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Schema } from "effect"
import type { Provider } from "rath"
import { Agent, Entry, Scripted, Session, Tool } from "rath"
import { lastToolOutput, providerLabel, providerLayer } from "./_provider.js"

// a tool: name, description, parameters as a Schema (the model sees the JSON Schema), a handler
const wordCount = Tool.make({
  name: "word_count",
  description: "Counts the words and characters of a text",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed({ words: text.trim().split(/\s+/).filter(Boolean).length, chars: text.length })
})

const counter = Agent.make({
  name: "counter",
  instructions: "Use word_count to count words; never guess.",
  tools: [wordCount]
})

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const session = yield* Session.fromUserMessage("How many words are in 'the quick brown fox jumps'?")
  const out = yield* counter(session)
  for (const entry of Chunk.toReadonlyArray(Session.ownEntries(out))) {
    console.log(`${entry._tag.padEnd(10)} ${Entry.summary(entry)}`)
  }
  const result = Session.lastOf(out, "ToolResult")
  if (result._tag === "Some") console.log(`\ntool output: ${JSON.stringify(result.value.output)}`)
})

// the scripted model calls the tool, then answers from its output
const script = (request: Provider.Request) => {
  const output = lastToolOutput(request) as { words: number } | undefined
  return output === undefined
    ? Scripted.toolCall("word_count", { text: "the quick brown fox jumps" })
    : Scripted.reply(`There are ${output.words} words.`)
}

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
