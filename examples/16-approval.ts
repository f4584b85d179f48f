/**
 * 16 — approval: a tool made with `needsApproval` does not run until the `Approval` policy in
 * effect decides. Approve runs the call as the model asked, reject never runs it (the model reads
 * the reason), edit runs it with other arguments; the decision is kept in the tool result. With no
 * policy provided, approval fails closed: nothing that needs approval runs.
 *
 *   npx tsx examples/16-approval.ts
 *
 * @expect no policy: transfer rejected by policy:none
 * @expect policy: transfer 30 approved by policy:small-amounts, ran: true
 * @expect policy: transfer 5000 rejected by policy:small-amounts \(over 1000 needs a human\), ran: false
 * @expect policy: transfer 900 edited by policy:small-amounts \(rounded down to 500\), ran with amount 500
 * @expect the handler ran 2 times, with amounts 30, 500
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Schema } from "effect"
import type { Provider } from "rath"
import { Agent, Approval, Scripted, Session, Tool } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const ran: Array<number> = []

const transfer = Tool.make({
  name: "transfer",
  description: "Moves money to a named account",
  parameters: Schema.Struct({ to: Schema.String, amount: Schema.Number }),
  // every call needs approval (a function of the arguments decides per call)
  needsApproval: true,
  handler: ({ amount, to }) => Effect.sync(() => (ran.push(amount), { sent: amount, to }))
})

const treasurer = Agent.make({ name: "treasurer", instructions: "Pay what the user asks.", tools: [transfer] })

// the policy: small amounts pass, large ones are refused, the ones between are cut to 500
const smallAmounts = Approval.layerTest((request) => {
  const { amount, to } = request.arguments as { amount: number; to: string }
  if (amount <= 100) return Approval.approve("policy:small-amounts")
  if (amount > 1000) return Approval.reject("over 1000 needs a human", "policy:small-amounts")
  return Approval.edit({ to, amount: 500 }, { reason: "rounded down to 500", by: "policy:small-amounts" })
})

const pay = (amount: number) =>
  Effect.gen(function*() {
    const session = yield* Session.fromUserMessage(`Send ${amount} to ada`)
    const out = yield* treasurer(session)
    const result = Chunk.toReadonlyArray(Session.ownEntries(out)).find((entry) => entry._tag === "ToolResult")
    return result?._tag === "ToolResult" ? result : undefined
  })

const describe = (amount: number, result: Effect.Effect.Success<ReturnType<typeof pay>>) => {
  const approval = result?.approval
  const reason = approval?.reason === undefined ? "" : ` (${approval.reason})`
  const output = result?.output as { sent?: number } | null | undefined
  return `transfer ${amount} ${approval?.decision} by ${approval?.by}${reason}, ${
    approval?.decision === "edited" ? `ran with amount ${output?.sent}` : `ran: ${result?.error === undefined}`
  }`
}

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  // the default policy approves nothing: the call is not run and the model is told why
  const unguarded = yield* pay(30)
  console.log(`no policy: transfer ${unguarded?.approval?.decision} by ${unguarded?.approval?.by}`)
  for (const amount of [30, 5000, 900]) {
    const result = yield* pay(amount).pipe(Effect.provide(smallAmounts))
    console.log(`policy: ${describe(amount, result)}`)
  }
  // the unguarded call and the rejected one never reached the handler
  console.log(`the handler ran ${ran.length} times, with amounts ${ran.join(", ")}`)
})

// the scripted model asks for the amount the user named, then reports the tool's answer
const script = (request: Provider.Request) => {
  const result = request.messages.find((message) => message._tag === "ToolResult")
  if (result !== undefined) return Scripted.reply("Done (or refused): see the tool result.")
  const user = request.messages.find((message) => message._tag === "User")
  const amount = Number(/Send (\d+)/.exec(user?._tag === "User" ? user.text : "")?.[1] ?? 0)
  return Scripted.toolCall("transfer", { to: "ada", amount })
}

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
