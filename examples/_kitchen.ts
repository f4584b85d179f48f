/**
 * The kitchen-sink workflow of example 15 and test/kitchen-sink.test.ts: every kind of evidence a
 * run can hold, in one run.
 *
 * 1. the program remembers a fact (a memory `remember`);
 * 2. a planner with memory recalls it (untrusted context for the planner only) and plans; its
 *    run is committed to memory;
 * 3. two coders, each on a fork in a sandbox of its own, write and run a check script; a check
 *    reads each fork's result and records a `Check`; the fork that passed is merged back;
 * 4. a selector loop routes to a review (a `Workflow.parallel` fork-join of two reviewers, under a
 *    retry), then to a publisher whose `publish` tool needs approval, then decides it is done;
 * 5. a compressor summarises the run.
 *
 * Shared so that the recording and its replay run the same code.
 */
import { Effect, Option, Schema } from "effect"
import type { Provider } from "rath"
import {
  Agent,
  Builtin,
  Compressor,
  Entry,
  Memory,
  Placement,
  Sandbox,
  Scripted,
  Selector,
  Session,
  Tool,
  Workflow
} from "rath"

export const TASK = "Write slugify(text) in slugify.mjs with a check, review it and publish it."

export const FACT = "The team prefers regular expressions for string work."

/** How many times `publish` really ran in this process (a replay runs no tool). */
export const runs = { publish: 0 }

const publish = Tool.make({
  name: "publish",
  description: "Publishes a version of the package",
  parameters: Schema.Struct({ version: Schema.String }),
  needsApproval: true,
  handler: ({ version }) => Effect.sync(() => (runs.publish++, { published: version }))
})

const planner = Agent.make({
  name: "planner",
  instructions: "You are the planner. Answer with a short plan.",
  memory: { namespace: "project", k: 3, query: "string work", commitOnForward: true }
})

const coder = (variant: "a" | "b") =>
  Agent.make({
    name: `coder-${variant}`,
    instructions: `You are coder ${variant.toUpperCase()}. Write slugify.mjs and check.mjs, then run the check.`,
    tools: [Builtin.writeFile, Builtin.runShell],
    maxTurns: 6
  })

/** The check of a branch: the exit code of the last `run_shell` the coder ran, as a `Check` entry. */
const check = (session: Session.Session) => {
  const ran = Session.findLast(
    session,
    (entry): entry is Entry.ToolResult => entry._tag === "ToolResult" && entry.toolName === "run_shell"
  )
  const exitCode = Option.match(ran, {
    onNone: () => -1,
    onSome: (result) => (result.output as { readonly exitCode?: number } | null)?.exitCode ?? -1
  })
  return Session.append(session, Entry.check("node check.mjs", exitCode === 0, { details: { exitCode } }))
}

/** One attempt: a fork of the plan, placed in a sandbox of its own, coded and checked. */
const attempt = (planned: Session.Session, variant: "a" | "b") =>
  Session.fork(planned, { by: { kind: "workflow", name: `attempt-${variant}` } }).pipe(
    Effect.flatMap((fork) => Sandbox.place(fork, Placement.make({ backend: "local", id: `sandbox-${variant}` }))),
    Effect.flatMap(coder(variant)),
    Effect.flatMap(check)
  )

const passed = (session: Session.Session) => Option.exists(Session.lastOf(session, "Check"), (entry) => entry.passed)

const reviewer = (focus: "style" | "tests") =>
  Agent.make({
    name: `reviewer-${focus}`,
    instructions: `You are the ${focus} reviewer. Review the accepted attempt.`
  })

const publisher = Agent.make({
  name: "publisher",
  description: "Publishes the accepted attempt",
  instructions: "You are the publisher. Publish version 1.0.0 with the publish tool.",
  tools: [publish]
})

const review = Workflow.make(
  { name: "review", description: "Two reviewers look at the accepted attempt" },
  Workflow.retry(Workflow.parallel([reviewer("style"), reviewer("tests")], { name: "reviews" }), { times: 1 })
)

const route = Selector.make({ name: "router", candidates: [review, publisher] })

/** The selector loop: plain code, bounded. */
const routed = Workflow.make(
  { name: "routed", description: "Review, publish, done" },
  (start) =>
    Effect.gen(function*() {
      let session = start
      for (let i = 0; i < 4; i++) {
        const decision = yield* route(session)
        if (Workflow.isDone(decision.next)) return decision.session
        session = yield* decision.next(decision.session)
      }
      return session
    })
)

/** The whole run, from a session holding the task. */
export const workflow = (input: Session.Session) =>
  Effect.gen(function*() {
    const { session: remembered } = yield* Memory.rememberInto(input, { namespace: "project", text: FACT })
    const planned = yield* planner(remembered)
    const attempts = yield* Effect.all([attempt(planned, "a"), attempt(planned, "b")], { concurrency: 2 })
    const accepted = attempts.find(passed) ?? attempts[0]
    const merged = yield* Session.merge(planned, accepted)
    const published = yield* routed(merged)
    return yield* Compressor.make({ keepLast: 2 })(published)
  })

const SLUGIFY = {
  a: `export const slugify = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")\n`,
  // attempt B forgets the punctuation: its check fails, for real
  b: `export const slugify = (text) => text.trim().toLowerCase().split(" ").join("-")\n`
}

const CHECK = `import { slugify } from "./slugify.mjs"
const ok = slugify("Hello, World!") === "hello-world"
console.log(ok ? "ok" : "FAIL")
process.exit(ok ? 0 : 1)
`

/** The scripted model the recording is made with: it answers from what each request holds. */
export const script = (request: Provider.Request): Scripted.Step => {
  const system = request.messages[0]
  const text = system?._tag === "System" ? system.text : ""
  const results = request.messages.filter(Entry.is("ToolResult"))
  if (request.toolChoice === "none") {
    return Scripted.reply("Summary: coder A's regular expression passed its check, B's did not; A was published.")
  }
  if (typeof request.toolChoice === "object") {
    const said = request.messages.flatMap((m) => m._tag === "Assistant" ? [m.text] : [])
    const reviewed = said.some((t) => t.startsWith("Style:")) && said.some((t) => t.startsWith("Tests:"))
    const published = said.some((t) => t.startsWith("Published"))
    const choice = !reviewed ? "review" : !published ? "publisher" : "done"
    return Scripted.toolCall("select", { choice, reason: `${choice} next` })
  }
  if (text.startsWith("You are the planner")) {
    const recalled = request.messages.some((m) => m._tag === "User" && m.text.includes("regular expressions"))
    return Scripted.reply(recalled ? "Plan: slugify with a regular expression, then check it." : "Plan: slugify.")
  }
  if (text.startsWith("You are coder")) {
    const variant = text.startsWith("You are coder A") ? "a" : "b"
    if (results.length === 0) {
      return {
        toolCalls: [
          { name: "write_file", arguments: { path: "slugify.mjs", content: SLUGIFY[variant] } },
          { name: "write_file", arguments: { path: "check.mjs", content: CHECK } }
        ]
      }
    }
    if (results.length === 2) return Scripted.toolCall("run_shell", { command: "node check.mjs" })
    return Scripted.reply(`Coder ${variant.toUpperCase()} ran the check.`)
  }
  if (text.startsWith("You are the style reviewer")) return Scripted.reply("Style: attempt A reads well.")
  if (text.startsWith("You are the tests reviewer")) return Scripted.reply("Tests: attempt A passed its check.")
  if (text.startsWith("You are the publisher")) {
    return !results.some((result) => result.toolName === "publish")
      ? Scripted.toolCall("publish", { version: "1.0.0" })
      : Scripted.reply("Published 1.0.0.")
  }
  return Scripted.reply("I do not know this request.")
}
