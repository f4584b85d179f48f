import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Fiber, Option, Ref, Schema, Stream, TestClock } from "effect"
import { Agent, Approval, Budget, Entry, IdGenerator, Provider, Scripted, Session, Tool, Workflow } from "rath"
import { inFlight } from "./fixtures/in-flight.js"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const ids = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const withScript = <A, E>(
  script: ReadonlyArray<Scripted.Step> | ((request: Provider.Request, index: number) => Scripted.Step),
  body: (scripted: Scripted.Scripted) => Effect.Effect<A, E, Provider.Provider>
) =>
  Effect.gen(function*() {
    const scripted = yield* Scripted.make(script)
    return yield* body(scripted).pipe(Effect.provideService(Provider.Provider, scripted.service))
  }).pipe(ids)

const entriesOf = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session))
const results = (session: Session.Session) => entriesOf(session).filter(Entry.is("ToolResult"))
const assistants = (session: Session.Session) => entriesOf(session).filter(Entry.is("Assistant"))

describe("Agent", () => {
  it.effect("a model that stops at once: one call, reason stop, spec recorded, entries authored by the agent", () =>
    withScript([Scripted.reply("Hi there")], (scripted) =>
      Effect.gen(function*() {
        const agent = Agent.make({ name: "greeter", instructions: "Be brief.", description: "Greets", tools: [add] })
        const input = yield* Session.fromUserMessage("hello")
        const out = yield* agent(input)
        assert.strictEqual((yield* scripted.requests).length, 1)
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).reason, "stop")
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).turns, 1)
        const spec = Option.getOrThrow(Agent.lastSpec(out))
        assert.strictEqual(spec.name, "greeter")
        assert.strictEqual(spec.provider, "scripted")
        assert.strictEqual(spec.model, "scripted-model")
        assert.strictEqual(spec.instructionsHash, Agent.hashText("Be brief."))
        assert.deepStrictEqual(spec.tools.map((t) => t.name), ["add"])
        // lineage: the run is a step by the agent
        assert.strictEqual(out.lineage.operation, "step")
        assert.deepStrictEqual(out.lineage.by, { kind: "agent", name: "greeter" })
        assert.deepStrictEqual(out.lineage.parents, [input.id])
        for (const entry of Chunk.toReadonlyArray(Session.ownEntries(out))) {
          assert.deepStrictEqual(entry.author, { kind: "agent", name: "greeter" })
        }
        // the model saw the instructions first, then the user message
        const request = (yield* scripted.requests)[0]!
        assert.deepStrictEqual(request.messages.map((m) => m._tag), ["System", "User"])
        assert.deepStrictEqual(request.tools?.map((t) => t.name), ["add"])
        assert.strictEqual(agent.name, "greeter")
        assert.strictEqual(agent.description, "Greets")
        const last = assistants(out)[0]!
        assert.strictEqual(last.text, "Hi there")
        assert.strictEqual(last.provider?.kind, "scripted")
      })))

  it.effect("instructions are recorded once when the same agent runs again", () =>
    withScript([Scripted.reply("one"), Scripted.reply("two")], () =>
      Effect.gen(function*() {
        const agent = Agent.make({ name: "a", instructions: "Be brief." })
        const once = yield* agent(yield* Session.fromUserMessage("hi"))
        const twice = yield* agent(yield* Session.append(once, Entry.user("again")))
        assert.strictEqual(entriesOf(twice).filter(Entry.is("System")).length, 1)
      })))

  it.scoped("a write tool then stop: the file is on disk and the result says how many bytes", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const write = Tool.make({
        name: "write_file",
        description: "Writes a file in the workspace",
        parameters: Schema.Struct({ path: Schema.String, content: Schema.String }),
        resource: ({ path }) => path,
        handler: ({ content, path }, context) =>
          Effect.gen(function*() {
            yield* fs.writeFileString(`${dir}/${path}`, content)
            const bytes = Buffer.byteLength(content)
            yield* context.recordEffect({ op: "write", path, bytes })
            return { path, bytes }
          })
      })
      const out = yield* withScript(
        [Scripted.toolCall("write_file", { path: "hello.txt", content: "héllo" }), Scripted.reply("Wrote it.")],
        () => Effect.flatMap(Session.fromUserMessage("write hello"), Agent.make({ name: "writer", tools: [write] }))
      )
      assert.strictEqual(yield* fs.readFileString(`${dir}/hello.txt`), "héllo")
      const [result] = results(out)
      assert.deepStrictEqual(result!.output, { path: "hello.txt", bytes: 6 })
      assert.deepStrictEqual(result!.effects, [{ op: "write", path: "hello.txt", bytes: 6 }])
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).reason, "stop")
      assert.strictEqual(assistants(out).length, 2)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("invalid arguments, unknown tool and a failing tool become results; siblings still run", () =>
    withScript([
      {
        toolCalls: [
          { id: "c1", name: "add", arguments: "{not json" },
          { id: "c2", name: "nope", arguments: {} },
          { id: "c3", name: "boom", arguments: "" },
          { id: "c4", name: "add", arguments: { a: "x" } },
          { id: "c5", name: "add", arguments: { a: 1, b: 2 } }
        ]
      },
      Scripted.reply("done")
    ], (scripted) =>
      Effect.gen(function*() {
        const boom = Tool.make({
          name: "boom",
          description: "Always fails",
          parameters: Schema.Struct({}),
          handler: () => Effect.fail(new Error("kaboom"))
        })
        const out = yield* Effect.flatMap(
          Session.fromUserMessage("go"),
          Agent.make({ name: "a", tools: [add, boom] })
        )
        const got = results(out).map((r) => [r.callId, r.error?.kind, r.output])
        assert.deepStrictEqual(got, [
          ["c1", "invalid_arguments", null],
          ["c2", "unknown_tool", null],
          ["c3", "tool_failed", null],
          ["c4", "invalid_arguments", null],
          ["c5", undefined, 3]
        ])
        assert.match(results(out)[2]!.error!.message, /kaboom/)
        // the model was sent every failure
        const second = (yield* scripted.requests)[1]!
        assert.strictEqual(second.messages.filter((m) => m._tag === "ToolResult").length, 5)
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).reason, "stop")
      })))

  it.effect("three parallel-safe tools that sleep 250 ms overlap and their results stay in call order", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<{ id: number; start: number; end: number }>>([])
      const sleepy = Tool.make({
        name: "sleepy",
        description: "Sleeps",
        parameters: Schema.Struct({ id: Schema.Number, ms: Schema.Number }),
        handler: ({ id, ms }) =>
          Effect.gen(function*() {
            const start = yield* Clock.currentTimeMillis
            yield* Effect.sleep(ms)
            const end = yield* Clock.currentTimeMillis
            yield* Ref.update(log, (all) => [...all, { id, start, end }])
            return id
          })
      })
      const fiber = yield* withScript([
        {
          toolCalls: [
            { id: "a", name: "sleepy", arguments: { id: 1, ms: 250 } },
            { id: "b", name: "sleepy", arguments: { id: 2, ms: 100 } },
            { id: "c", name: "sleepy", arguments: { id: 3, ms: 50 } }
          ]
        },
        Scripted.reply("ok")
      ], () => Effect.flatMap(Session.fromUserMessage("go"), Agent.make({ name: "a", tools: [sleepy] }))).pipe(
        Effect.fork
      )
      yield* TestClock.adjust(250)
      const out = yield* Fiber.join(fiber)
      const spans = yield* Ref.get(log)
      // they finished in reverse order, all started at 0: they ran together
      assert.deepStrictEqual(spans.map((s) => s.id), [3, 2, 1])
      assert.isTrue(spans.every((s) => s.start === 0))
      assert.deepStrictEqual(results(out).map((r) => r.output), [1, 2, 3])
      assert.deepStrictEqual(results(out).map((r) => r.callId), ["a", "b", "c"])
    }))

  it.effect("two calls on one resource never overlap; calls on another resource run alongside", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<{ path: string; start: number; end: number }>>([])
      const write = Tool.make({
        name: "write",
        description: "Writes",
        parameters: Schema.Struct({ path: Schema.String }),
        resource: ({ path }) => path,
        handler: ({ path }) =>
          Effect.gen(function*() {
            const start = yield* Clock.currentTimeMillis
            yield* Effect.sleep(100)
            const end = yield* Clock.currentTimeMillis
            yield* Ref.update(log, (all) => [...all, { path, start, end }])
            return path
          })
      })
      const fiber = yield* withScript([
        {
          toolCalls: [
            { id: "1", name: "write", arguments: { path: "x" } },
            { id: "2", name: "write", arguments: { path: "x" } },
            { id: "3", name: "write", arguments: { path: "y" } }
          ]
        },
        Scripted.reply("ok")
      ], () => Effect.flatMap(Session.fromUserMessage("go"), Agent.make({ name: "a", tools: [write] }))).pipe(
        Effect.fork
      )
      yield* TestClock.adjust(100)
      yield* TestClock.adjust(100)
      const out = yield* Fiber.join(fiber)
      const spans = yield* Ref.get(log)
      const xs = spans.filter((s) => s.path === "x")
      assert.deepStrictEqual(xs.map((s) => [s.start, s.end]), [[0, 100], [100, 200]])
      assert.deepStrictEqual(spans.filter((s) => s.path === "y").map((s) => [s.start, s.end]), [[0, 100]])
      assert.deepStrictEqual(results(out).map((r) => r.callId), ["1", "2", "3"])
    }))

  it.effect("toolConcurrency bounds the calls of a turn in flight at once", () =>
    Effect.gen(function*() {
      const inTools = inFlight()
      const sleepy = Tool.make({
        name: "sleepy",
        description: "Sleeps",
        parameters: Schema.Struct({ id: Schema.Number }),
        handler: ({ id }) => inTools.busy(id)
      })
      const calls = [1, 2, 3, 4, 5].map((id) => ({ id: `c${id}`, name: "sleepy", arguments: { id } }))
      const fiber = yield* withScript(
        [{ toolCalls: calls }, Scripted.reply("ok")],
        () =>
          Effect.flatMap(Session.fromUserMessage("go"), Agent.make({ name: "a", tools: [sleepy], toolConcurrency: 2 }))
      ).pipe(Effect.fork)
      // five calls two at a time: three rounds of 100 ms
      yield* TestClock.adjust(200)
      assert.isNull(fiber.unsafePoll(), "not done after two rounds")
      yield* TestClock.adjust(100)
      const out = yield* Fiber.join(fiber)
      assert.strictEqual(inTools.most(), 2)
      assert.deepStrictEqual(results(out).map((r) => r.output), [1, 2, 3, 4, 5])
    }))

  it.effect("a tool call that outlives toolTimeout becomes a timeout result and the loop goes on", () =>
    Effect.gen(function*() {
      const finished = yield* Ref.make(false)
      const slow = Tool.make({
        name: "slow",
        description: "Takes a minute",
        parameters: Schema.Struct({}),
        handler: () => Effect.sleep("1 minute").pipe(Effect.zipRight(Ref.set(finished, true)), Effect.as("late"))
      })
      const fiber = yield* withScript(
        [
          {
            toolCalls: [{ id: "s", name: "slow", arguments: {} }, { id: "q", name: "add", arguments: { a: 1, b: 2 } }]
          },
          Scripted.reply("gave up on slow")
        ],
        (scripted) =>
          Effect.gen(function*() {
            const agent = Agent.make({ name: "a", tools: [slow, add], toolTimeout: "1 second" })
            const out = yield* Effect.flatMap(Session.fromUserMessage("go"), agent)
            return { out, requests: yield* scripted.requests }
          })
      ).pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      const { out, requests } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(results(out).map((r) => [r.callId, r.error?.kind, r.output]), [
        ["s", "timeout", null],
        ["q", undefined, 3]
      ])
      assert.isFalse(yield* Ref.get(finished), "the slow call was stopped")
      // the model read the timeout and answered: the loop went on
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[1]!.messages.filter((m) => m._tag === "ToolResult")[0]?.error?.kind, "timeout")
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).reason, "stop")
    }))

  it.effect("a tool that is not parallel-safe runs alone", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const mk = (name: string, parallel: boolean) =>
        Tool.make({
          name,
          description: name,
          parameters: Schema.Struct({}),
          parallel,
          handler: () =>
            Effect.gen(function*() {
              yield* Ref.update(log, (all) => [...all, `${name}:start`])
              yield* Effect.sleep(10)
              yield* Ref.update(log, (all) => [...all, `${name}:end`])
            })
        })
      const fiber = yield* withScript([
        {
          toolCalls: [
            { id: "1", name: "p1", arguments: {} },
            { id: "2", name: "solo", arguments: {} },
            { id: "3", name: "p2", arguments: {} }
          ]
        },
        Scripted.reply("ok")
      ], () =>
        Effect.flatMap(
          Session.fromUserMessage("go"),
          Agent.make({ name: "a", tools: [mk("p1", true), mk("solo", false), mk("p2", true)] })
        )).pipe(Effect.fork)
      for (let i = 0; i < 3; i++) yield* TestClock.adjust(10)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(log), [
        "p1:start",
        "p1:end",
        "solo:start",
        "solo:end",
        "p2:start",
        "p2:end"
      ])
    }))

  it.effect("an interrupted run answers every call of its turn (finished or interrupted) and ends interrupted", () =>
    Effect.gen(function*() {
      const wait = Tool.make({
        name: "wait",
        description: "Sleeps",
        parameters: Schema.Struct({ ms: Schema.Number }),
        handler: ({ ms }) => Effect.as(Effect.sleep(ms), ms)
      })
      const fiber = yield* withScript([
        {
          toolCalls: [
            { id: "slow", name: "wait", arguments: { ms: 10_000 } },
            { id: "fast", name: "wait", arguments: { ms: 10 } }
          ]
        }
      ], () =>
        Effect.flatMap(
          Session.fromUserMessage("go"),
          Workflow.withTimeout(Agent.make({ name: "a", tools: [wait] }), "1 second")
        )).pipe(Effect.flip, Effect.fork)
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "WorkflowError")
      const partial = (error as Workflow.WorkflowError).session!
      assert.deepStrictEqual(results(partial).map((r) => [r.callId, r.error?.kind, r.output]), [
        ["slow", "interrupted", null],
        ["fast", undefined, 10]
      ])
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(partial)).reason, "interrupted")
    }))

  it.effect("maxTurns = 3 with endless tool calls: exactly 3 model calls and reason max_turns", () =>
    withScript(() => Scripted.toolCall("add", { a: 1, b: 1 }), (scripted) =>
      Effect.gen(function*() {
        const out = yield* Effect.flatMap(
          Session.fromUserMessage("loop"),
          Agent.make({ name: "a", tools: [add], maxTurns: 3 })
        )
        assert.strictEqual((yield* scripted.requests).length, 3)
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).reason, "max_turns")
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).turns, 3)
        assert.strictEqual(results(out).length, 3)
      })))

  it.effect("streamed text Hel + lo gives an assistant entry Hello, and the events in order", () =>
    withScript([Scripted.reply("Hello", { chunks: ["Hel", "lo"] })], () =>
      Effect.gen(function*() {
        const agent = Agent.make({ name: "a" })
        const events = yield* Agent.stream(agent)(yield* Session.fromUserMessage("hi")).pipe(Stream.runCollect)
        const list = Chunk.toReadonlyArray(events)
        assert.deepStrictEqual(list.map((e) => e._tag), [
          "RunStarted",
          "TurnStarted",
          "TextDelta",
          "TextDelta",
          "Usage",
          "TurnFinished",
          "Done"
        ])
        assert.deepStrictEqual(list.filter((e) => e._tag === "TextDelta").map((e) => e.text), ["Hel", "lo"])
        const done = list[list.length - 1]!
        assert.strictEqual(done._tag, "Done")
        if (done._tag === "Done") {
          assert.strictEqual(assistants(done.session)[0]!.text, "Hello")
          assert.strictEqual(done.reason, "stop")
        }
      })))

  it.effect("a streamed tool call then done: tool-call deltas, tool events, two turns", () =>
    withScript(
      [Scripted.toolCall("add", { a: 2, b: 3 }, { id: "call-1" }), Scripted.reply("5")],
      () =>
        Effect.gen(function*() {
          const agent = Agent.make({ name: "a", tools: [add] })
          const list = Chunk.toReadonlyArray(
            yield* Agent.stream(agent)(yield* Session.fromUserMessage("2+3?")).pipe(Stream.runCollect)
          )
          const deltas = list.filter((e) => e._tag === "ToolCallDelta")
          assert.strictEqual(deltas[0]?._tag === "ToolCallDelta" && deltas[0].name, "add")
          assert.strictEqual(
            deltas.map((e) => e._tag === "ToolCallDelta" ? e.argumentsDelta : "").join(""),
            "{\"a\":2,\"b\":3}"
          )
          const tags = list.map((e) => e._tag)
          assert.isTrue(tags.indexOf("ToolStarted") > tags.indexOf("TurnFinished"))
          assert.isTrue(tags.includes("ToolFinished"))
          assert.strictEqual(tags.filter((t) => t === "TurnStarted").length, 2)
          const done = list[list.length - 1]!
          assert.isTrue(done._tag === "Done" && results(done.session)[0]!.output === 5)
        })
    ))

  it.effect("a plain run and a streamed run produce the same session", () =>
    Effect.gen(function*() {
      const script = [Scripted.toolCall("add", { a: 1, b: 2 }, { id: "x" }), Scripted.reply("3")]
      const agent = Agent.make({ name: "a", tools: [add] })
      const plain = yield* withScript(script, () => Effect.flatMap(Session.fromUserMessage("q"), agent))
      const streamed = yield* withScript(script, () =>
        Effect.flatMap(Session.fromUserMessage("q"), (s) =>
          Agent.stream(agent)(s).pipe(
            Stream.runLast,
            Effect.map((last) =>
              Option.getOrThrow(last)
            ),
            Effect.map((event) => (event as Extract<Agent.Event, { _tag: "Done" }>).session)
          )))
      assert.strictEqual(Session.toJsonl(plain), Session.toJsonl(streamed))
    }))

  it.effect("provider retries are forwarded as events", () =>
    Effect.gen(function*() {
      const error = new Provider.ProviderError({ reason: "RateLimited", provider: "test", detail: "slow down" })
      const inner = yield* Scripted.make([Scripted.reply("ok")])
      const retrying = Provider.make({
        info: inner.service.info,
        stream: (request) =>
          Stream.concat(
            Stream.make<Array<Provider.StreamPart>>({ _tag: "Retry", attempt: 1, delayMillis: 10, error }),
            inner.service.stream(request)
          )
      })
      const list = yield* Effect.map(Session.fromUserMessage("q"), Agent.stream(Agent.make({ name: "a" }))).pipe(
        Stream.unwrap,
        Stream.runCollect,
        Effect.provideService(Provider.Provider, retrying),
        ids
      )
      const retry = Chunk.toReadonlyArray(list).find((e) => e._tag === "Retry")
      assert.isTrue(retry !== undefined && retry._tag === "Retry" && retry.attempt === 1)
    }))

  it.effect("a provider error fails with AgentError carrying the partial session", () =>
    withScript([Scripted.toolCall("add", { a: 1, b: 2 }), Scripted.fail("Unavailable")], () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Effect.flatMap(Session.fromUserMessage("q"), Agent.make({ name: "a", tools: [add] }))
        )
        assert.strictEqual(error._tag, "AgentError")
        if (error._tag !== "AgentError") return
        assert.strictEqual(error.reason, "ProviderFailed")
        assert.strictEqual(error.cause?._tag === "ProviderError" ? error.cause.reason : undefined, "Unavailable")
        const partial = error.session!
        assert.strictEqual(results(partial)[0]!.output, 3)
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(partial)).reason, "error")
        assert.match(error.message, /Unavailable/)
      })))

  it.effect("budget crossing ends the loop once with reason budget", () =>
    withScript(
      () => Scripted.toolCall("add", { a: 1, b: 1 }, { text: "x".repeat(40) }),
      (scripted) =>
        Effect.gen(function*() {
          const input = yield* Session.fromUserMessage("count")
          const out = yield* Agent.make({ name: "a", tools: [add], budget: 600 })(input)
          const calls = (yield* scripted.requests).length
          assert.isTrue(calls >= 1 && calls < 64)
          const ends = entriesOf(out).filter((e) => e._tag === "Custom" && e.type === Agent.END_ENTRY)
          assert.strictEqual(ends.length, 1)
          assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).reason, "budget")
          assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).turns, calls)
          // spent stays under the cap
          assert.isTrue((Session.usage(out).own?.totalTokens ?? 0) <= 600)
        })
    ))

  it.effect("budget exceeded can be a typed error; forks share the parent's budget", () =>
    withScript(() => Scripted.reply("y".repeat(200)), () =>
      Effect.gen(function*() {
        const agent = Agent.make({ name: "a", onBudgetExceeded: "fail" })
        const budget = yield* Budget.make({ tokens: 150 })
        const input = yield* Session.fromUserMessage("q")
        // the first run spends ~55 tokens, the second as much, the third cannot fit
        const first = yield* agent(input).pipe(Effect.provideService(Budget.Budget, budget))
        const fork = yield* Session.fork(input)
        yield* agent(fork).pipe(Effect.provideService(Budget.Budget, budget))
        const error = yield* Effect.flip(agent(first).pipe(Effect.provideService(Budget.Budget, budget)))
        assert.strictEqual(error._tag === "AgentError" ? error.reason : error._tag, "BudgetExceeded")
        if (error._tag !== "AgentError") return
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(error.session!)).reason, "budget")
        assert.isTrue((yield* budget.spent) > 100)
      })))

  it.effect("a run cut by a timeout or a race settles its reservation: nothing stays reserved", () =>
    withScript(() => Scripted.reply("slow", { delay: "10 seconds" }), () =>
      Effect.gen(function*() {
        const budget = yield* Budget.make({ tokens: 10_000 })
        const agent = Agent.make({ name: "a", maxTokens: 10 })
        const input = yield* Session.fromUserMessage("q")
        // a timeout
        const timed = yield* Workflow.withTimeout(agent, "1 second")(input).pipe(
          Effect.provideService(Budget.Budget, budget),
          Effect.fork
        )
        yield* TestClock.adjust("2 seconds")
        const error = yield* Fiber.join(timed).pipe(Effect.flip)
        assert.strictEqual(error._tag, "WorkflowError")
        assert.strictEqual(yield* budget.remaining, 10_000)
        assert.strictEqual(yield* budget.spent, 0)
        // a race lost to another effect
        const raced = yield* Effect.race(
          agent(input),
          Effect.as(Effect.sleep("1 second"), input)
        ).pipe(Effect.provideService(Budget.Budget, budget), Effect.fork)
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(yield* Fiber.join(raced), input)
        assert.strictEqual(yield* budget.remaining, 10_000)
        // the interrupted run recorded its end
        const partial = error._tag === "WorkflowError" ? error.session! : input
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(partial)).reason, "interrupted")
      })))

  it.effect("authors: what a program appends is the program's, a user message the user's, a run's its own", () =>
    withScript([Scripted.reply("hi")], () =>
      Effect.gen(function*() {
        const start = yield* Session.fromUserMessage("hello")
        const noted = yield* Session.appendAll(start, [Entry.check("lint", true), Entry.user("and then?")])
        const answered = yield* Agent.make({ name: "a" })(noted)
        const stepped = yield* Workflow.make({ name: "w" }, (s) => Session.append(s, Entry.check("w-check", true)))(
          answered
        )
        const authors = entriesOf(stepped).map((entry) => `${entry._tag}:${entry.author.kind}:${entry.author.name}`)
        assert.deepStrictEqual(authors, [
          "User:user:user",
          "Check:program:program",
          "User:user:user",
          "Custom:agent:a",
          "Assistant:agent:a",
          "Custom:agent:a",
          "Check:workflow:w"
        ])
      })))

  it.effect("approval: approve, reject (the model is told why) and edit are recorded", () =>
    withScript([
      {
        toolCalls: [
          { id: "ok", name: "danger", arguments: { n: 1 } },
          { id: "no", name: "danger", arguments: { n: 2 } },
          { id: "ed", name: "danger", arguments: { n: 3 } },
          { id: "free", name: "add", arguments: { a: 1, b: 1 } }
        ]
      },
      Scripted.reply("done")
    ], (scripted) =>
      Effect.gen(function*() {
        const ran = yield* Ref.make<ReadonlyArray<number>>([])
        const danger = Tool.make({
          name: "danger",
          description: "Needs approval",
          parameters: Schema.Struct({ n: Schema.Number }),
          needsApproval: true,
          handler: ({ n }) => Effect.as(Ref.update(ran, (all) => [...all, n]), n * 10)
        })
        const approver = yield* Approval.makeTest((request) =>
          request.call.id === "no"
            ? Approval.reject("too risky", "alice")
            : request.call.id === "ed"
            ? Approval.edit({ n: 30 }, { reason: "smaller", by: "alice" })
            : Approval.approve("alice")
        )
        const out = yield* Effect.flatMap(
          Session.fromUserMessage("go"),
          Agent.make({ name: "a", tools: [danger, add] })
        )
          .pipe(Effect.provideService(Approval.Approval, approver.service))
        assert.deepStrictEqual((yield* approver.requests).map((r) => r.call.id), ["ok", "no", "ed"])
        assert.deepStrictEqual([...(yield* Ref.get(ran))].sort(), [1, 30])
        const [ok, no, ed, free] = results(out)
        assert.deepStrictEqual(ok!.approval, { decision: "approved", by: "alice" })
        assert.strictEqual(ok!.output, 10)
        assert.deepStrictEqual(no!.approval, { decision: "rejected", reason: "too risky", by: "alice" })
        assert.strictEqual(no!.error?.kind, "rejected")
        assert.match(no!.error!.message, /too risky/)
        assert.deepStrictEqual(ed!.approval, { decision: "edited", reason: "smaller", by: "alice" })
        assert.strictEqual(ed!.output, 300)
        assert.isUndefined(free!.approval)
        const sent = (yield* scripted.requests)[1]!.messages.filter((m) => m._tag === "ToolResult")
        assert.strictEqual(sent[1]?._tag === "ToolResult" && sent[1].error?.kind, "rejected")
      })))

  it.effect("approval fails closed: with no policy provided a call that needs approval is not run", () =>
    withScript([Scripted.toolCall("danger", { n: 1 }), Scripted.reply("done")], (scripted) =>
      Effect.gen(function*() {
        const ran = yield* Ref.make(0)
        const danger = Tool.make({
          name: "danger",
          description: "Needs approval",
          parameters: Schema.Struct({ n: Schema.Number }),
          needsApproval: true,
          handler: ({ n }) => Effect.as(Ref.update(ran, (count) => count + 1), n)
        })
        // no Approval layer anywhere
        const out = yield* Effect.flatMap(Session.fromUserMessage("go"), Agent.make({ name: "a", tools: [danger] }))
        assert.strictEqual(yield* Ref.get(ran), 0, "the handler never ran")
        const [result] = results(out)
        assert.strictEqual(result!.error?.kind, "rejected")
        assert.include(result!.error!.message, "no approval policy is provided")
        assert.deepStrictEqual(result!.approval?.by, "policy:none")
        // the model is told, and the run goes on
        const sent = (yield* scripted.requests)[1]!.messages
        assert.isTrue(sent.some((m) => m._tag === "ToolResult" && m.error?.kind === "rejected"))
      })))

  it.effect("approval through a queue: the call waits until someone answers", () =>
    withScript([Scripted.toolCall("danger", { n: 1 }), Scripted.reply("done")], () =>
      Effect.gen(function*() {
        const danger = Tool.make({
          name: "danger",
          description: "Needs approval",
          parameters: Schema.Struct({ n: Schema.Number }),
          needsApproval: ({ n }) => n > 0,
          handler: ({ n }) => Effect.succeed(n)
        })
        const { pending, service } = yield* Approval.makeQueue()
        const fiber = yield* Effect.flatMap(Session.fromUserMessage("go"), Agent.make({ name: "a", tools: [danger] }))
          .pipe(Effect.provideService(Approval.Approval, service), Effect.fork)
        const asked = yield* pending.take
        assert.strictEqual(asked.request.agent, "a")
        assert.deepStrictEqual(asked.request.arguments, { n: 1 })
        yield* asked.respond(Approval.reject("not today"))
        const out = yield* Fiber.join(fiber)
        assert.strictEqual(results(out)[0]!.error?.kind, "rejected")
      })))

  it.effect("a duplicate tool name is a typed InvalidAgent error", () =>
    withScript([], () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Effect.flatMap(Session.fromUserMessage("q"), Agent.make({ name: "a", tools: [add, add] }))
        )
        assert.strictEqual(error.reason, "InvalidAgent")
      })))

  it.effect("other agents' instructions are not sent; this agent's come first", () =>
    withScript([Scripted.reply("one"), Scripted.reply("two")], (scripted) =>
      Effect.gen(function*() {
        const first = Agent.make({ name: "first", instructions: "You are first." })
        const second = Agent.make({ name: "second", instructions: "You are second." })
        yield* Effect.flatMap(Session.fromUserMessage("q"), first).pipe(Effect.flatMap(second))
        const sent = (yield* scripted.requests)[1]!.messages
        assert.deepStrictEqual(sent.map((m) => m._tag), ["System", "User", "Assistant"])
        assert.strictEqual(sent[0]?._tag === "System" && sent[0].text, "You are second.")
      })))
})

describe("Budget", () => {
  it.effect("reserves, settles, refuses what does not fit, and a child charges its parent", () =>
    Effect.gen(function*() {
      const parent = yield* Budget.make({ tokens: 100 })
      const child = yield* Budget.child(80).pipe(Effect.provideService(Budget.Budget, parent))
      const held = yield* child.reserve(60)
      assert.isDefined(held)
      assert.strictEqual(yield* parent.remaining, 40)
      yield* child.settle(held!, 30)
      assert.strictEqual(yield* child.spent, 30)
      assert.strictEqual(yield* parent.spent, 30)
      // 50 fits both: the child has 50 left, the parent 70
      assert.isDefined(yield* child.reserve(50))
      // the child has nothing left now
      assert.isUndefined(yield* child.reserve(1))
      // a budget with room of its own is still refused when its parent (20 left) has none
      const other = yield* Budget.make({ tokens: 1000, parent })
      assert.isUndefined(yield* other.reserve(60))
      assert.strictEqual(Budget.unlimited.cap, Infinity)
    }))
})
