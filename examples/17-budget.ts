/**
 * 17 — budget: a token cap that every model call reserves against before it is sent. A run whose
 * next call would not fit ends with reason `budget` (or fails, if you ask it to); a budget given
 * to a whole workflow with `Budget.withBudget` is shared by every agent in it, and a child budget
 * also charges its parent.
 *
 *   npx tsx examples/17-budget.ts
 *
 * @expect agent with budget 400: ended budget after \d+ model calls, \d+ tokens used
 * @expect agent with onBudgetExceeded fail: AgentError BudgetExceeded: the budget of 400 tokens cannot cover about \d+ more tokens
 * @expect workflow budget 600 shared by 2 agents: first ended stop, second ended budget
 * @expect the parent budget of 10000 spent \d+ tokens: the same as the child
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Option, Schema } from "effect"
import type { Provider } from "rath"
import { Agent, Budget, Scripted, Session, Tool } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const search = Tool.make({
  name: "search",
  description: "Searches the notes",
  parameters: Schema.Struct({ query: Schema.String }),
  handler: ({ query }) => Effect.succeed({ hits: [`a note about ${query}`, "another note, rather long ".repeat(6)] })
})

// an agent that would keep searching (its turn limit is far away): only the budget stops it
const researcher = (options: { budget?: number; onBudgetExceeded?: "stop" | "fail"; name?: string }) =>
  Agent.make({
    name: options.name ?? "researcher",
    instructions: "Search until you are sure.",
    tools: [search],
    maxTurns: 50,
    ...options
  })

const calls = (session: Session.Session) =>
  Chunk.toReadonlyArray(Session.ownEntries(session)).filter((entry) => entry._tag === "Assistant").length

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const task = yield* Session.fromUserMessage("What do the notes say about tea?")

  // 1. a cap on one run: the run ends, the session keeps what was done
  const capped = yield* researcher({ budget: 400 })(task)
  const end = Option.getOrThrow(Agent.lastEnd(capped))
  console.log(
    `agent with budget 400: ended ${end.reason} after ${calls(capped)} model calls, ${
      Session.usage(capped).own?.totalTokens
    } tokens used`
  )

  // 2. the same cap, but running out is an error the caller handles
  const failed = yield* researcher({ budget: 400, onBudgetExceeded: "fail" })(task).pipe(Effect.flip)
  console.log(`agent with onBudgetExceeded fail: ${failed._tag} ${failed.reason}: ${failed.cause?.message}`)

  // 3. one budget for a workflow: two agents draw on it in turn
  const answerer = Agent.make({ name: "answerer", instructions: "Answer in one line." })
  const [first, second] = yield* Effect.gen(function*() {
    const a = yield* answerer(task)
    const b = yield* researcher({ name: "second" })(a)
    return [a, b] as const
  }).pipe(Budget.withBudget(600))
  console.log(
    `workflow budget 600 shared by 2 agents: first ended ${
      Option.getOrThrow(Agent.lastEnd(first)).reason
    }, second ended ${Option.getOrThrow(Agent.lastEnd(second)).reason}`
  )

  // 4. a child budget charges its parent too
  const parent = yield* Budget.make({ tokens: 10_000 })
  const child = yield* researcher({ budget: 300 })(task).pipe(Effect.provideService(Budget.Budget, parent))
  console.log(
    `the parent budget of 10000 spent ${yield* parent.spent} tokens: ${
      (yield* parent.spent) === Session.usage(child).own?.totalTokens ? "the same as the child" : "not the child's"
    }`
  )
})

// the scripted model: the answerer answers at once; the researcher searches again and again
const script = (request: Provider.Request) =>
  request.tools === undefined || request.tools.length === 0
    ? Scripted.reply("Tea is mentioned twice.")
    : Scripted.toolCall("search", { query: "tea" })

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
