/**
 * 07 — streaming events and usage: `Agent.stream` runs the same loop as calling the agent and
 * emits typed events (turns, text and tool-call deltas, tool runs, usage, retries, done).
 *
 *   npx tsx examples/07-streaming.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Schema, Stream } from "effect"
import { Agent, Scripted, Session, Tool } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const agent = Agent.make({ name: "calculator", instructions: "Use add for arithmetic.", tools: [add] })

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const session = yield* Session.fromUserMessage("What is 19 + 23?")
  let tokens = 0
  yield* Agent.stream(agent)(session).pipe(
    Stream.runForEach((event) =>
      Effect.sync(() => {
        switch (event._tag) {
          case "TurnStarted":
            return console.log(`-- turn ${event.turn}`)
          case "TextDelta":
            return process.stdout.write(`[text] ${JSON.stringify(event.text)}\n`)
          case "ToolCallDelta":
            return console.log(
              `[tool-call ${event.index}${event.name ? ` ${event.name}` : ""}] +${JSON.stringify(event.argumentsDelta)}`
            )
          case "ToolStarted":
            return console.log(`[tool] ${event.call.name} started`)
          case "ToolFinished":
            return console.log(
              `[tool] ${event.call.name} -> ${JSON.stringify(event.outcome.output)} (${event.outcome.durationMs} ms)`
            )
          case "ToolFailed":
            return console.log(`[tool] ${event.call.name} failed: ${event.outcome.error?.message}`)
          case "Usage":
            tokens += event.usage.totalTokens
            return console.log(`[usage] in ${event.usage.inputTokens} out ${event.usage.outputTokens}`)
          case "Retry":
            return console.log(`[retry] attempt ${event.attempt} in ${event.delayMillis} ms`)
          case "Done":
            return console.log(`-- done (${event.reason}), ${event.session.length} entries, ${tokens} tokens`)
          default:
            return
        }
      })
    )
  )
})

program.pipe(
  Effect.provide(providerLayer([
    Scripted.toolCall("add", { a: 19, b: 23 }, { text: "Let me add that." }),
    Scripted.reply("19 + 23 = 42.", { chunks: ["19 + 23", " = ", "42."] })
  ])),
  NodeRuntime.runMain
)
