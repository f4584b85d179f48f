/**
 * 18 — loop, retry, timeout: the workflow combinators that bound repetition and time. They take a
 * step (`Session => Effect<Session>`, an agent or a workflow) and return a step.
 *
 * - `Workflow.loop(step, { while, maxIterations })`: runs the step while a condition on the session
 *   holds, never more than the bound;
 * - `Workflow.retry(step, { times, while })`: re-runs a failing step on the same input session;
 * - `Workflow.withTimeout(step, duration)`: fails with a `WorkflowError` "Timeout" that carries the
 *   latest session the step reported, so the work done before the timeout is not lost.
 *
 *   npx tsx examples/18-loop-retry-timeout.ts
 *
 * @expect loop: 3 drafts, the last check passed: true
 * @expect loop bound: stopped after 4 iterations \(maxIterations\), the check still failing
 * @expect retry: 2 failures, then it worked on attempt 3
 * @expect retry gives up: FlakyError after 2 attempts
 * @expect timeout: WorkflowError Timeout in slow-writer: did not finish in time; 2 of 3 parts kept
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Data, Effect, Option } from "effect"
import { Entry, Journal, Session, Workflow } from "rath"

// a step that writes a draft and checks it: the draft passes when it is long enough
const draft = (goal: number) =>
  Workflow.make({ name: "drafter" }, (session) => {
    const drafts = Chunk.toReadonlyArray(Session.entries(session)).filter((e) => e._tag === "Assistant").length + 1
    return Session.appendAll(session, [
      Entry.assistant({ text: `draft ${drafts}: ${"word ".repeat(drafts * 10)}` }),
      Entry.check("long enough", drafts >= goal, { details: { drafts } })
    ])
  })

const lastCheckPassed = (session: Session.Session) =>
  Option.match(Session.lastOf(session, "Check"), { onNone: () => false, onSome: (check) => check.passed })

class FlakyError extends Data.TaggedError("FlakyError")<{ readonly attempt: number }> {}

const program = Effect.gen(function*() {
  const task = yield* Session.fromUserMessage("Write a paragraph about tea.")

  // loop until the check passes (here: the third draft), bounded at 5
  const looped = yield* Workflow.loop(draft(3), { while: (s) => !lastCheckPassed(s), maxIterations: 5 })(task)
  const drafts = Chunk.toReadonlyArray(Session.entries(looped)).filter((e) => e._tag === "Assistant").length
  console.log(`loop: ${drafts} drafts, the last check passed: ${lastCheckPassed(looped)}`)

  // the bound always holds: a goal never reached stops at maxIterations
  let iterations = 0
  const bounded = yield* Workflow.loop(draft(100), {
    while: (s, i) => (iterations = i + 1, !lastCheckPassed(s)),
    maxIterations: 4
  })(task)
  console.log(
    `loop bound: stopped after ${iterations} iterations (maxIterations), the check still ${
      lastCheckPassed(bounded) ? "passing" : "failing"
    }`
  )

  // retry a step that fails twice: each attempt starts from the same input session
  let attempts = 0
  const flaky = (session: Session.Session) =>
    Effect.suspend(() => {
      attempts++
      return attempts < 3
        ? Effect.fail(new FlakyError({ attempt: attempts }))
        : Session.append(session, Entry.assistant({ text: `worked on attempt ${attempts}` }))
    })
  const retried = yield* Workflow.retry(flaky, { times: 3, while: (error) => error._tag === "FlakyError" })(task)
  console.log(
    `retry: ${attempts - 1} failures, then it ${Option.getOrThrow(Session.lastOf(retried, "Assistant")).text}`
  )

  // a retry that runs out of attempts fails with the step's own error
  attempts = 0
  const gaveUp = yield* Workflow.retry(flaky, { times: 1 })(task).pipe(Effect.flip)
  console.log(`retry gives up: ${gaveUp._tag} after ${gaveUp.attempt} attempts`)

  // a step that reports its progress part by part, and takes too long
  const slow = Workflow.make({ name: "slow-writer" }, (session) =>
    Effect.gen(function*() {
      let current = session
      for (const part of [1, 2, 3]) {
        current = yield* Session.append(current, Entry.assistant({ text: `part ${part}` }))
        yield* Journal.report(current)
        yield* Effect.sleep(part === 1 ? "10 millis" : "2 seconds")
      }
      return current
    }))
  const timedOut = yield* Workflow.withTimeout(slow, "200 millis")(task).pipe(Effect.flip)
  if (timedOut._tag !== "WorkflowError") return yield* timedOut
  const kept = timedOut.session === undefined
    ? 0
    : Chunk.toReadonlyArray(Session.entries(timedOut.session)).filter((e) => e._tag === "Assistant").length
  console.log(
    `timeout: ${timedOut._tag} ${timedOut.reason} in ${timedOut.workflow}: ${timedOut.detail}; ${kept} of 3 parts kept`
  )
})

program.pipe(NodeRuntime.runMain)
