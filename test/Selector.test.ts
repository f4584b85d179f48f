import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect } from "effect"
import { Budget, Entry, IdGenerator, Provider, Scripted, Selector, Session, Workflow } from "rath"

const ids = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const say = (name: string, description: string) =>
  Workflow.make({ name, description }, (session) => Session.append(session, Entry.assistant({ text: name })))

const research = say("research", "Looks things up")
const write = say("write", "Writes the answer")
const selector = Selector.make({ candidates: [research, write] })

describe("Selector", () => {
  it.effect("picks the second candidate through a forced tool call and records the decision", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([Scripted.toolCall("select", { choice: "write", reason: "enough facts" })])
      const input = yield* Session.fromUserMessage("Write a report")
      const decision = yield* selector(input).pipe(Effect.provideService(Provider.Provider, scripted.service))
      assert.strictEqual(decision.next, write)
      assert.strictEqual(decision.choice, "write")
      assert.strictEqual(decision.reason, "enough facts")
      const request = (yield* scripted.requests)[0]!
      assert.deepStrictEqual(request.toolChoice, { tool: "select" })
      const schema = request.tools?.[0]?.parameters as { properties: { choice: { enum: Array<string> } } }
      assert.deepStrictEqual(schema.properties.choice.enum, ["research", "write", "done"])
      const system = request.messages[0]!
      assert.isTrue(system._tag === "System" && system.text.includes("- write: Writes the answer"))
      const last = Chunk.toReadonlyArray(Session.entries(decision.session)).at(-1)!
      assert.strictEqual(last._tag, "Custom")
      if (last._tag !== "Custom") return
      assert.strictEqual(last.type, Selector.DECISION_ENTRY)
      const record = last.data as Selector.Record
      assert.deepStrictEqual(record.candidates, ["research", "write"])
      assert.strictEqual(record.choice, "write")
      assert.strictEqual(record.reason, "enough facts")
      const out = yield* decision.next(decision.session)
      assert.strictEqual(Chunk.toReadonlyArray(Session.entries(out)).filter(Entry.is("Assistant"))[0]?.text, "write")
    }).pipe(ids))

  it.effect("done returns Workflow.done", () =>
    Effect.gen(function*() {
      const decision = yield* Effect.flatMap(Session.fromUserMessage("x"), selector).pipe(
        Effect.provide(Scripted.layer([Scripted.toolCall("select", { choice: "done", reason: "finished" })]))
      )
      assert.isTrue(Workflow.isDone(decision.next))
    }).pipe(ids))

  it.effect("a nonsense answer is a typed error, not a silent done", () =>
    Effect.gen(function*() {
      const input = yield* Session.fromUserMessage("x")
      const bad = yield* Effect.flip(
        selector(input).pipe(
          Effect.provide(Scripted.layer([Scripted.toolCall("select", { choice: "dance", reason: "fun" })]))
        )
      )
      assert.strictEqual(bad.reason, "InvalidChoice")
      assert.match(bad.message, /dance/)
      const prose = yield* Effect.flip(selector(input).pipe(Effect.provide(Scripted.layer([Scripted.reply("2")]))))
      assert.strictEqual(prose.reason, "InvalidChoice")
    }).pipe(ids))

  it.effect("a selector loop stays plain code", () =>
    Effect.gen(function*() {
      const layer = Scripted.layer([
        Scripted.toolCall("select", { choice: "research", reason: "need facts" }),
        Scripted.toolCall("select", { choice: "write", reason: "ready" }),
        Scripted.toolCall("select", { choice: "done", reason: "written" })
      ])
      const program = Effect.gen(function*() {
        let session = yield* Session.fromUserMessage("report")
        for (let i = 0; i < 5; i++) {
          const decision = yield* selector(session)
          session = decision.session
          if (Workflow.isDone(decision.next)) break
          session = yield* decision.next(session)
        }
        return session
      })
      const out = yield* program.pipe(Effect.provide(layer))
      const texts = Chunk.toReadonlyArray(Session.entries(out)).filter(Entry.is("Assistant")).map((e) => e.text)
      assert.deepStrictEqual(texts, ["research", "write"])
    }).pipe(ids))

  it.effect("a spent budget: no model call, a typed error (or a recorded done, when asked)", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([Scripted.toolCall("select", { choice: "write", reason: "ready" })])
      const input = yield* Session.fromUserMessage("Write a report")
      const tiny = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(Budget.withBudget(5), Effect.provideService(Provider.Provider, scripted.service))
      const error = yield* Effect.flip(tiny(selector(input)))
      assert.strictEqual(error.reason, "BudgetExceeded")
      assert.strictEqual(error.session, input)
      const lenient = Selector.make({ candidates: [research, write], onBudgetExceeded: "done" })
      const decision = yield* tiny(lenient(input))
      assert.isTrue(Workflow.isDone(decision.next))
      assert.match(decision.reason, /^budget: /)
      const last = Chunk.toReadonlyArray(Session.entries(decision.session)).at(-1)!
      assert.isTrue(last._tag === "Custom" && last.type === Selector.DECISION_ENTRY)
      assert.strictEqual(last._tag === "Custom" ? (last.data as Selector.Record).choice : "", "done")
      assert.strictEqual((yield* scripted.requests).length, 0, "the model was never called")
      // a budget that covers the call: the model routes
      const routed = yield* selector(input).pipe(
        Budget.withBudget(10_000),
        Effect.provideService(Provider.Provider, scripted.service)
      )
      assert.strictEqual(routed.next, write)
    }).pipe(ids))

  it.effect("duplicate or reserved candidate names are a typed error", () =>
    Effect.gen(function*() {
      const bad = Selector.make({ candidates: [research, say("done", "oops")] })
      const error = yield* Effect.flip(
        Effect.flatMap(Session.fromUserMessage("x"), bad).pipe(Effect.provide(Scripted.layer([])))
      )
      assert.strictEqual(error.reason, "InvalidCandidates")
    }).pipe(ids))
})
