import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Ref, Schema, TestClock } from "effect"
import { Agent, Entry, IdGenerator, Journal, Provider, Scripted, Session, Tool, Workflow } from "rath"
import { inFlight } from "./fixtures/in-flight.js"

const ids = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const entriesOf = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session))

const say = (name: string, text: string) =>
  Workflow.make({ name, description: `says ${text}` }, (session) => Session.append(session, Entry.assistant({ text })))

describe("Workflow", () => {
  it.effect("make records a lineage step by the workflow, which authors unauthored entries", () =>
    Effect.gen(function*() {
      const input = yield* Session.fromUserMessage("hi")
      const out = yield* say("greet", "hello")(input)
      assert.strictEqual(out.lineage.operation, "step")
      assert.deepStrictEqual(out.lineage.by, { kind: "workflow", name: "greet" })
      assert.deepStrictEqual(entriesOf(out)[1]!.author, { kind: "workflow", name: "greet" })
      assert.strictEqual(say("x", "y").name, "x")
      assert.strictEqual(say("x", "y").description, "says y")
    }).pipe(ids))

  it.effect("andThen runs steps in order", () =>
    Effect.gen(function*() {
      const both = Workflow.andThen(say("a", "one"), say("b", "two"))
      const out = yield* Effect.flatMap(Session.fromUserMessage("go"), both)
      assert.deepStrictEqual(entriesOf(out).map(Entry.summary), ["go", "one", "two"])
      assert.strictEqual(both.name, "a -> b")
    }).pipe(ids))

  it.effect("parallel with three branches yields one merged session with each branch's entries once", () =>
    Effect.gen(function*() {
      const input = yield* Session.fromUserMessage("review this")
      const review = Workflow.parallel([say("style", "S"), say("security", "X"), say("tests", "T")], {
        name: "review",
        concurrency: 2
      })
      const out = yield* review(input)
      const texts = entriesOf(out).filter(Entry.is("Assistant")).map((e) => e.text)
      assert.deepStrictEqual(texts, ["S", "X", "T"])
      assert.strictEqual(entriesOf(out).filter(Entry.is("User")).length, 1)
      // one join: one Merge entry whose parents are the three branches' heads
      const merges = entriesOf(out).filter(Entry.is("Merge"))
      assert.strictEqual(merges.length, 1)
      assert.strictEqual(merges[0]!.parents.length, 3)
      assert.strictEqual(merges[0]!.sessions.length, 3)
      assert.strictEqual(out.lineage.parents.length, 3)
      const ids = entriesOf(out).map((e) => e.id)
      assert.strictEqual(new Set(ids).size, ids.length)
      assert.strictEqual(out.lineage.operation, "merge")
      // each branch was a fork named after it
      const authors = entriesOf(out).filter(Entry.is("Assistant")).map((e) => e.author.name)
      assert.deepStrictEqual(authors, ["style", "security", "tests"])
    }).pipe(ids))

  it.effect("parallel branches run concurrently (overlap on the test clock)", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const slow = (name: string) =>
        Workflow.make({ name }, (session) =>
          Effect.gen(function*() {
            yield* Ref.update(log, (all) => [...all, `${name}:start`])
            yield* Effect.sleep(100)
            yield* Ref.update(log, (all) => [...all, `${name}:end`])
            return session
          }))
      const fiber = yield* Effect.flatMap(Session.fromUserMessage("go"), Workflow.parallel([slow("a"), slow("b")]))
        .pipe(Effect.fork)
      yield* TestClock.adjust(100)
      yield* Fiber.join(fiber)
      const log2 = yield* Ref.get(log)
      // both started before either ended: they overlapped
      assert.deepStrictEqual(log2.slice(0, 2), ["a:start", "b:start"])
      assert.deepStrictEqual([...log2.slice(2)].sort(), ["a:end", "b:end"])
    }).pipe(ids))

  it.effect("parallel runs at most `concurrency` branches at once", () =>
    Effect.gen(function*() {
      const branches = inFlight()
      const slow = (name: string) => Workflow.make({ name }, branches.busy)
      const five = Workflow.parallel(["a", "b", "c", "d", "e"].map(slow), { concurrency: 2 })
      const fiber = yield* Effect.flatMap(Session.fromUserMessage("go"), five).pipe(Effect.fork)
      // five branches two at a time: three rounds of 100 ms
      yield* TestClock.adjust(200)
      assert.isNull(fiber.unsafePoll(), "not done after two rounds")
      yield* TestClock.adjust(100)
      const out = yield* Fiber.join(fiber)
      assert.strictEqual(branches.most(), 2)
      assert.strictEqual(entriesOf(out).filter(Entry.is("Merge")).length, 1)
      assert.strictEqual(out.lineage.parents.length, 5)
    }).pipe(ids))

  it.effect("parallel reports every session it makes to the journal, as the branches go", () =>
    Effect.gen(function*() {
      const heard: Array<Session.Session> = []
      const watcher: Journal.Service = { report: (session) => Effect.sync(() => void heard.push(session)) }
      const scripted = yield* Scripted.make(() => Scripted.reply("fine"))
      const branches = [Agent.make({ name: "a" }), say("b", "plain")] as const
      const out = yield* Effect.flatMap(
        Session.fromUserMessage("go"),
        Workflow.parallel(branches, { name: "review" })
      ).pipe(
        Effect.provideService(Journal.Journal, watcher),
        Effect.provideService(Provider.Provider, scripted.service)
      )
      const label = (s: Session.Session) => `${s.lineage.operation}:${s.lineage.by?.name ?? ""}:${s.length}`
      const of = (name: string) => heard.filter((s) => s.lineage.by?.name === name).map(label)
      // the fork, then the agent's start-up and end (it reports them itself)
      assert.deepStrictEqual(of("review/a"), ["fork:review/a:1"])
      assert.deepStrictEqual(of("a"), ["step:a:2", "step:a:4"])
      // a branch that is no agent: its fork, its step (Workflow.make) and its result
      assert.deepStrictEqual(of("review/b"), ["fork:review/b:1"])
      assert.deepStrictEqual(of("b"), ["step:b:1", "step:b:2"])
      // the merge, last: the value the fork-join returns
      assert.strictEqual(heard.at(-1), out)
      const last = (name: string) => heard.filter((s) => s.lineage.by?.name === name).at(-1)!.id
      assert.deepStrictEqual(out.lineage.parents, [last("a"), last("b")])
      assert.deepStrictEqual(heard.map((s) => s.id).filter((id) => id === out.id), [out.id])
    }).pipe(ids))

  it.effect("loop runs while the predicate holds, bounded by maxIterations", () =>
    Effect.gen(function*() {
      const input = yield* Session.fromUserMessage("go")
      const step = say("tick", "tick")
      const bounded = Workflow.loop(step, { while: () => true, maxIterations: 3 })
      assert.strictEqual((yield* bounded(input)).length, 4)
      const predicate = Workflow.loop({ while: (s) => Effect.succeed(s.length < 3), maxIterations: 10 })(step)
      assert.strictEqual((yield* predicate(input)).length, 3)
    }).pipe(ids))

  it.effect("done is the identity", () =>
    Effect.gen(function*() {
      const input = yield* Session.fromUserMessage("go")
      assert.strictEqual(yield* Workflow.done(input), input)
      assert.isTrue(Workflow.isDone(Workflow.done))
    }).pipe(ids))

  it.effect("retry re-runs a failing step on the same input", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const flaky = Workflow.make({ name: "flaky" }, (session) =>
        Effect.flatMap(
          Ref.updateAndGet(attempts, (n) => n + 1),
          (n) => n < 3 ? Effect.fail("nope" as const) : Effect.succeed(session)
        ))
      yield* Effect.flatMap(Session.fromUserMessage("go"), Workflow.retry(flaky, { times: 5 }))
      assert.strictEqual(yield* Ref.get(attempts), 3)
    }).pipe(ids))

  it.effect("withTimeout interrupts an agent and keeps what it produced, ending with interrupted", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([
        Scripted.toolCall("missing", {}),
        Scripted.reply("late", { delay: "10 seconds" })
      ])
      const agent = Agent.make({ name: "slow" })
      const fiber = yield* Effect.flatMap(Session.fromUserMessage("go"), Workflow.withTimeout(agent, "1 second")).pipe(
        Effect.provideService(Provider.Provider, scripted.service),
        Effect.flip,
        Effect.fork
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "WorkflowError")
      if (error._tag !== "WorkflowError") return
      assert.strictEqual(error.reason, "Timeout")
      const partial = error.session!
      assert.strictEqual(entriesOf(partial).filter(Entry.is("ToolResult"))[0]?.error?.kind, "unknown_tool")
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(partial)).reason, "interrupted")
    }).pipe(ids))

  it.effect("a timed-out fork-join keeps what every branch produced, merged", () =>
    Effect.gen(function*() {
      const wait = Tool.make({
        name: "wait",
        description: "Sleeps",
        parameters: Schema.Struct({ ms: Schema.Number }),
        handler: ({ ms }) => Effect.as(Effect.sleep(ms), ms)
      })
      const scripted = yield* Scripted.make((request) => {
        const system = request.messages[0]
        const fast = system?._tag === "System" && system.text === "fast"
        const answered = request.messages.some((m) => m._tag === "ToolResult")
        return answered ? Scripted.reply("finished") : Scripted.toolCall("wait", { ms: fast ? 10 : 60_000 })
      })
      const fast = Agent.make({ name: "fast", instructions: "fast", tools: [wait] })
      const slow = Agent.make({ name: "slow", instructions: "slow", tools: [wait] })
      const fiber = yield* Effect.flatMap(
        Session.fromUserMessage("go"),
        Workflow.withTimeout(Workflow.parallel([fast, slow], { name: "race" }), "1 second")
      ).pipe(Effect.provideService(Provider.Provider, scripted.service), Effect.flip, Effect.fork)
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "WorkflowError")
      const partial = (error as Workflow.WorkflowError).session!
      const ends = entriesOf(partial).filter((e) => e._tag === "Custom" && e.type === Agent.END_ENTRY)
        .map((e) => e._tag === "Custom" ? (e.data as Agent.RunEnd) : undefined)
      assert.deepStrictEqual(ends.map((end) => [end?.agent, end?.reason]), [["fast", "stop"], ["slow", "interrupted"]])
      assert.strictEqual(entriesOf(partial).filter(Entry.is("User")).length, 1)
      assert.strictEqual(partial.lineage.operation, "merge")
    }).pipe(ids))

  it.effect("agents compose as workflows: a parallel fork-join of two agents", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make((request) => {
        const system = request.messages.find((m) => m._tag === "System")
        return Scripted.reply(system?._tag === "System" ? `answer to: ${system.text}` : "?")
      })
      const a = Agent.make({ name: "optimist", instructions: "Be positive." })
      const b = Agent.make({ name: "pessimist", instructions: "Be negative." })
      const out = yield* Effect.flatMap(Session.fromUserMessage("Rate it"), Workflow.parallel([a, b])).pipe(
        Effect.provideService(Provider.Provider, scripted.service)
      )
      const answers = entriesOf(out).filter(Entry.is("Assistant"))
      assert.deepStrictEqual(answers.map((e) => [e.author.name, e.text]), [
        ["optimist", "answer to: Be positive."],
        ["pessimist", "answer to: Be negative."]
      ])
    }).pipe(ids))
})
