/**
 * 05 — custom tool: a schema for the arguments, an Effect for the work. Every call the model
 * makes is an entry of the session with its arguments twice (the raw JSON text the model wrote and
 * its parsed value), and every result is an entry with the output and how long it took.
 * Arguments the schema rejects never reach the handler: the error goes back to the model, which
 * calls again.
 *
 *   npx tsx examples/05-custom-tool.ts
 *
 * @expect call 1: word_count raw \{"text":42\}
 * @expect result 1: error invalid_arguments: .*\["text"\].*Expected string, actual 42 in \d+ ms
 * @expect call 2: word_count raw \{"text":"the quick brown fox jumps"\} parsed \{"text":"the quick brown fox jumps"\}
 * @expect result 2: output \{"words":5,"chars":25\} in \d+ ms
 * @expect the handler ran 1 time
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Schema } from "effect"
import type { Provider } from "rath"
import { Agent, Entry, Scripted, Session, Tool } from "rath"
import { lastToolOutput, providerLabel, providerLayer } from "./_provider.js"

let handled = 0

// a tool: name, description, parameters as a Schema (the model sees the JSON Schema), a handler
const wordCount = Tool.make({
  name: "word_count",
  description: "Counts the words and characters of a text",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) =>
    Effect.sync(() => {
      handled++
      return { words: text.trim().split(/\s+/).filter(Boolean).length, chars: text.length }
    })
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
    if (entry._tag !== "Custom") console.log(`${entry._tag.padEnd(10)} ${Entry.summary(entry)}`)
  }
  console.log("")
  let calls = 0
  let results = 0
  for (const entry of Chunk.toReadonlyArray(Session.ownEntries(out))) {
    if (entry._tag === "Assistant") {
      for (const call of entry.toolCalls) {
        const parsed = call.parsed === undefined ? "" : ` parsed ${JSON.stringify(call.parsed)}`
        console.log(`call ${++calls}: ${call.name} raw ${call.arguments}${parsed}`)
      }
    }
    if (entry._tag === "ToolResult") {
      console.log(
        `result ${++results}: ${
          entry.error === undefined
            ? `output ${JSON.stringify(entry.output)}`
            : `error ${entry.error.kind}: ${entry.error.message.replace(/\s+/g, " ")}`
        } in ${entry.durationMs} ms`
      )
    }
  }
  console.log(`the handler ran ${handled} time${handled === 1 ? "" : "s"}`)
})

// the scripted model first sends a number where the schema wants a string, then fixes its call
const script = (request: Provider.Request) => {
  const answered = request.messages.some((message) => message._tag === "ToolResult")
  const output = lastToolOutput(request) as { words?: number } | null | undefined
  if (!answered) return Scripted.toolCall("word_count", { text: 42 })
  return output?.words === undefined
    ? Scripted.toolCall("word_count", { text: "the quick brown fox jumps" })
    : Scripted.reply(`There are ${output.words} words.`)
}

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
