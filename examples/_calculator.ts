/**
 * The workflow of example 14 and of test/replay-recording.test.ts: a solver agent with an `add`
 * tool, then a checker agent. Shared so that the recording and its replay test run the same code.
 */
import { Effect, Schema } from "effect"
import type { Provider } from "rath"
import { Agent, Entry, Scripted, Tool, Workflow } from "rath"

/** How many times `add` really ran in this process (a replay runs no tool). */
export const runs = { add: 0 }

export const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.sync(() => (runs.add++, a + b))
})

export const solver = Agent.make({
  name: "solver",
  instructions: "Solve the user's sum with the add tool; never guess.",
  tools: [add]
})

export const checker = Agent.make({
  name: "checker",
  instructions: "Check the solver's answer. Reply OK or WRONG, with one reason."
})

export const workflow = Workflow.andThen(solver, checker)

export const question = "What is 17 + 25?"

/** The scripted model the recording was made with: call add, answer from its result, then check. */
export const script = (request: Provider.Request): Scripted.Step => {
  const system = request.messages[0]
  if (system?._tag === "System" && system.text.startsWith("Check")) {
    return Scripted.reply("OK: 17 + 25 is 42, and the add tool said so.")
  }
  const result = request.messages.filter(Entry.is("ToolResult")).at(-1)
  return result === undefined
    ? Scripted.toolCall("add", { a: 17, b: 25 }, { id: "call_add" })
    : Scripted.reply(`17 + 25 = ${result.output}`)
}
