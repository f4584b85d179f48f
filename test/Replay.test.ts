import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import { Agent, Entry, IdGenerator, Provider, Replay, Scripted, Session, Tool, Workflow } from "rath"
import { divergenceOf } from "./utils.js"

// a minimal tool loop written against the public boundary (Provider + Tool.execute), so replay is
// tested independently of the agent
const loop = <R>(toolkit: Tool.Toolkit<R>) => (input: Session.Session) =>
  Effect.gen(function*() {
    let session = input
    for (let turn = 0; turn < 5; turn++) {
      const request: Provider.Request = {
        messages: Session.messages(session),
        tools: toolkit.definitions
      }
      const response = yield* Provider.chat(request)
      session = yield* Session.append(session, Provider.toDraft(response, { kind: "agent", name: "mini" }, request))
      if (response.toolCalls.length === 0) return session
      for (const call of response.toolCalls) {
        const outcome = yield* Tool.execute(toolkit, call, { session })
        session = yield* Session.append(
          session,
          Entry.toolResult({ ...outcome, author: { kind: "tool", name: outcome.toolName } })
        )
      }
    }
    return session
  })

const makeToolkit = (sideEffects: Array<number>) =>
  Tool.toolkit(Tool.make({
    name: "add",
    description: "Adds two numbers",
    parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
    handler: ({ a, b }) => Effect.sync(() => (sideEffects.push(a + b), a + b))
  })).pipe(Effect.orDie)

const record = Effect.gen(function*() {
  const effects: Array<number> = []
  const toolkit = yield* makeToolkit(effects)
  const scripted = yield* Scripted.make([Scripted.toolCall("add", { a: 2, b: 3 }), Scripted.reply("The answer is 5")])
  const input = yield* Session.fromUserMessage("what is 2 + 3?")
  const recorded = yield* loop(toolkit)(input).pipe(Effect.provideService(Provider.Provider, scripted.service))
  return { recorded, effects }
})

describe("Replay", () => {
  it.effect("re-runs a workflow offline from the recording, without running tools, and verifies", () =>
    Effect.gen(function*() {
      const { effects, recorded } = yield* record
      assert.deepStrictEqual(effects, [5])
      assert.strictEqual(recorded.length, 4)

      const replayEffects: Array<number> = []
      const toolkit = yield* makeToolkit(replayEffects)
      const replayer = yield* Replay.make(recorded)
      const input = yield* Session.fromUserMessage("what is 2 + 3?")
      const replayed = yield* loop(toolkit)(input).pipe(
        Effect.provideService(Provider.Provider, replayer.provider),
        Effect.provideService(Tool.Executor, replayer.executor)
      )
      assert.deepStrictEqual(replayEffects, [], "no tool ran during the replay")
      assert.strictEqual(yield* replayer.modelCalls, 2)
      assert.strictEqual(yield* replayer.toolCalls, 1)
      yield* Replay.verify(recorded, replayed)
      const last = Option.getOrThrow(Session.lastOf(replayed, "Assistant"))
      assert.strictEqual(last.text, "The answer is 5")
      assert.strictEqual(last.provider?.kind, "scripted")
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("the layer provides both the provider and the executor", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const toolkit = yield* makeToolkit([])
      const replayed = yield* Session.fromUserMessage("what is 2 + 3?").pipe(
        Effect.flatMap(loop(toolkit)),
        Effect.provide(Replay.layer(recorded))
      )
      assert.isTrue(Option.isNone(Replay.diff(recorded, replayed)))
    }))

  it.effect("a divergent model request fails with a readable report", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const toolkit = yield* makeToolkit([])
      const error = yield* Session.fromUserMessage("what is 2 + 4?").pipe(
        Effect.flatMap(loop(toolkit)),
        Effect.provide(Replay.layer(recorded)),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ProviderError")
      assert.strictEqual(error.reason, "ReplayDiverged")
      assert.include(error.message, "model request #0")
      assert.include(error.message, "what is 2 + 3?")
      assert.include(error.message, "what is 2 + 4?")
      // the divergence names the recording's entry and field: the user's message, its text
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.index, 0)
      assert.strictEqual(divergence.kind, "User")
      assert.strictEqual(divergence.field, "text")
      assert.strictEqual(divergence.expected, "what is 2 + 3?")
      assert.strictEqual(divergence.actual, "what is 2 + 4?")
    }))

  it.effect("asking for more model calls than were recorded is a divergence", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const replayer = yield* Replay.make(recorded)
      const messages = Session.messages(recorded)
      const error = yield* Effect.flip(replayer.provider.chat({ messages }))
      assert.strictEqual(error.reason, "ReplayDiverged")
    }))

  it.effect("verify reports the first differing entry and field", () =>
    Effect.gen(function*() {
      const { recorded } = yield* record
      const entries = Chunk.toReadonlyArray(Session.entries(recorded))
      const result = entries[2] as Entry.ToolResult
      const tampered = new Entry.ToolResult({ ...result, output: 6 })
      const changed = Session.fromEntries(
        { id: recorded.id, lineage: recorded.lineage },
        [...entries.slice(0, 2), tampered, ...entries.slice(3)]
      ).pipe(Option.getRight, Option.getOrThrow)
      const error = yield* Effect.flip(Replay.verify(recorded, changed))
      assert.strictEqual(error.index, 2)
      assert.strictEqual(error.kind, "ToolResult")
      assert.strictEqual(error.field, "output")
      assert.strictEqual(error.expected, 5)
      assert.strictEqual(error.actual, 6)
      assert.include(error.message, "entry #2 (ToolResult) differs at output")

      const shorter = Session.fromEntries({ id: recorded.id, lineage: recorded.lineage }, entries.slice(0, 3)).pipe(
        Option.getRight,
        Option.getOrThrow
      )
      const missing = yield* Effect.flip(Replay.verify(recorded, shorter))
      assert.strictEqual(missing.index, 3)
      assert.isUndefined(missing.actual)
    }))
})

// -----------------------------------------------------------------------------
// concurrent workflows: the branches of a fork-join interleave, in the recording and the replay
// -----------------------------------------------------------------------------

const TURNS = 40

const adder = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

// every branch asks `add` TURNS times, then answers with its running total; the call id is the
// same in every turn of every branch ("c"), and the numbers depend on the branch's instructions
// and input, so a result handed to the wrong branch or turn shows in the replayed session
const script = (request: Provider.Request): Scripted.Reply => {
  const results = request.messages.filter((m): m is Entry.ToolResult => m._tag === "ToolResult")
  const label = request.messages.filter((m) => m._tag === "System" || m._tag === "User").map((m) =>
    m._tag === "System" || m._tag === "User" ? m.text : ""
  ).join("/")
  if (results.length >= TURNS) {
    return Scripted.reply(`${label}: ${results.reduce((sum, r) => sum + (r.output as number), 0)}`)
  }
  return Scripted.toolCall("add", { a: label.length, b: results.length }, { id: "c" })
}

// the order in which the replay's requests arrive, by the asker's instructions and input
const watched = (replayer: Replay.Replayer, log: Array<string>): Provider.Service => {
  const note = (request: Provider.Request) =>
    Effect.sync(() => {
      const user = request.messages.filter((m) => m._tag === "User").map((m) => (m as Entry.User).text)
      log.push(`${(request.messages[0] as Entry.System).text}|${user.join("|")}`)
    })
  return {
    ...replayer.provider,
    chat: (request) => Effect.zipRight(note(request), replayer.provider.chat(request)),
    stream: (request) => Stream.unwrap(Effect.as(note(request), replayer.provider.stream(request)))
  }
}

const switches = (log: ReadonlyArray<string>): number => log.filter((key, i) => i > 0 && key !== log[i - 1]).length

const recordAndReplay = <E>(
  workflow: (session: Session.Session) => Effect.Effect<Session.Session, E, Provider.Provider>
) =>
  Effect.gen(function*() {
    const scripted = yield* Scripted.make(script)
    const recorded = yield* Session.fromUserMessage("go").pipe(
      Effect.flatMap(workflow),
      Effect.provideService(Provider.Provider, scripted.service)
    )
    const replayer = yield* Replay.make(recorded)
    const log: Array<string> = []
    const replayed = yield* Session.fromUserMessage("go").pipe(
      Effect.flatMap(workflow),
      Effect.provideService(Provider.Provider, watched(replayer, log)),
      Effect.provideService(Tool.Executor, replayer.executor)
    )
    return { recorded, replayed, replayer, log }
  })

describe("Replay of concurrent workflows", () => {
  it.effect("two different agents in parallel, with long interleaving branches, replay exactly", () =>
    Effect.gen(function*() {
      const workflow = Workflow.parallel([
        Agent.make({ name: "a", instructions: "A", tools: [adder] }),
        Agent.make({ name: "b", instructions: "Bee", tools: [adder] })
      ], { name: "review" })
      const { log, recorded, replayed, replayer } = yield* recordAndReplay(workflow)
      // the premise: the branches' requests interleave (they do not run one after the other)
      assert.isAbove(switches(log), 2, `the branches interleave: ${log.join(", ")}`)
      assert.strictEqual(yield* replayer.modelCalls, 2 * (TURNS + 1))
      assert.strictEqual(yield* replayer.toolCalls, 2 * TURNS)
      yield* Replay.verify(recorded, replayed)
      assert.isTrue(
        Chunk.some(Session.entries(replayed), (e) => e._tag === "Assistant" && e.text === `Bee/go: ${TURNS * 6 + 780}`)
      )
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("the same agent in both branches, on different inputs, replays exactly", () =>
    Effect.gen(function*() {
      const agent = Agent.make({ name: "solver", instructions: "Solve", tools: [adder] })
      const on = (input: string) =>
        Workflow.make({ name: input }, (session) => Effect.flatMap(Session.append(session, Entry.user(input)), agent))
      const workflow = Workflow.parallel([on("left"), on("right, longer")], { name: "both" })
      const { log, recorded, replayed, replayer } = yield* recordAndReplay(workflow)
      assert.isAbove(switches(log), 2, `the branches interleave: ${log.join(", ")}`)
      assert.strictEqual(yield* replayer.modelCalls, 2 * (TURNS + 1))
      yield* Replay.verify(recorded, replayed)
    }))

  it.effect("the same agent on the same input in both branches replays exactly", () =>
    Effect.gen(function*() {
      const agent = Agent.make({ name: "twin", instructions: "Twin", tools: [adder] })
      const workflow = Workflow.parallel([agent, agent], { name: "twins" })
      const { recorded, replayed, replayer } = yield* recordAndReplay(workflow)
      assert.strictEqual(yield* replayer.modelCalls, 2 * (TURNS + 1))
      yield* Replay.verify(recorded, replayed)
    }))

  it.effect("a changed prompt in one branch fails with the message that differs", () =>
    Effect.gen(function*() {
      const tools = [adder]
      const scripted = yield* Scripted.make(script)
      const recorded = yield* Session.fromUserMessage("go").pipe(
        Effect.flatMap(Workflow.parallel([
          Agent.make({ name: "a", instructions: "A", tools }),
          Agent.make({ name: "b", instructions: "Bee", tools })
        ])),
        Effect.provideService(Provider.Provider, scripted.service)
      )
      const error = yield* Session.fromUserMessage("go").pipe(
        Effect.flatMap(Workflow.parallel([
          Agent.make({ name: "a", instructions: "A", tools }),
          Agent.make({ name: "b", instructions: "Bee, changed", tools })
        ])),
        Effect.provide(Replay.layer(recorded)),
        Effect.flip
      )
      const cause = (error as Agent.AgentError).cause as Provider.ProviderError
      assert.strictEqual(cause.reason, "ReplayDiverged")
      // b's instructions: the System entry b recorded, its text
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.kind, "System")
      assert.strictEqual(divergence.field, "text")
      assert.strictEqual(divergence.expected, "Bee")
      assert.strictEqual(divergence.actual, "Bee, changed")
      const entry = Chunk.toReadonlyArray(Session.entries(recorded))[divergence.index]!
      assert.deepStrictEqual(entry.author, { kind: "agent", name: "b" })
      assert.include(cause.detail, `agent "b"`)
    }))

  it.effect("a changed tool in one branch fails with the tool field that differs", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make(script)
      const both = (tool: Tool.Tool) =>
        Workflow.parallel([
          Agent.make({ name: "a", instructions: "A", tools: [adder] }),
          Agent.make({ name: "b", instructions: "Bee", tools: [tool] })
        ])
      const recorded = yield* Session.fromUserMessage("go").pipe(
        Effect.flatMap(both(adder)),
        Effect.provideService(Provider.Provider, scripted.service)
      )
      const changed = Tool.make({ ...adder, description: "Adds two numbers, carefully" })
      const error = yield* Session.fromUserMessage("go").pipe(
        Effect.flatMap(both(changed)),
        Effect.provide(Replay.layer(recorded)),
        Effect.flip
      )
      const cause = (error as Agent.AgentError).cause as Provider.ProviderError
      assert.strictEqual(cause.reason, "ReplayDiverged")
      // b's request is compared with b's recorded history (not with a's entries laid before it
      // in the merged recording): the messages agree, the tool does not, as b's spec recorded it
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.kind, "Custom")
      assert.strictEqual(divergence.field, "data.tools[0].description")
      assert.strictEqual(divergence.actual, "Adds two numbers, carefully")
      const spec = Chunk.toReadonlyArray(Session.entries(recorded))[divergence.index]!
      assert.isTrue(Agent.SPEC_ENTRY === (spec._tag === "Custom" ? spec.type : ""))
      assert.deepStrictEqual(spec.author, { kind: "agent", name: "b" })
      assert.include(cause.detail, `agent "b"`)
    }))

  it.effect("nested fork-joins followed by a step on the merged session replay exactly", () =>
    Effect.gen(function*() {
      const agent = (name: string) => Agent.make({ name, instructions: name.toUpperCase(), tools: [adder] })
      const workflow = Workflow.andThen(
        Workflow.parallel([agent("a"), Workflow.parallel([agent("b"), agent("c")], { name: "inner" })], {
          name: "outer"
        }),
        agent("summary")
      )
      const { recorded, replayed, replayer } = yield* recordAndReplay(workflow)
      // the summary sees the branches' results and answers at once
      assert.strictEqual(yield* replayer.modelCalls, 3 * (TURNS + 1) + 1)
      yield* Replay.verify(recorded, replayed)

      const changed = Workflow.andThen(
        Workflow.parallel([agent("a"), Workflow.parallel([agent("b"), agent("c")], { name: "inner" })], {
          name: "outer"
        }),
        Agent.make({ name: "summary", instructions: "SUMMARISE", tools: [adder] })
      )
      const error = yield* Session.fromUserMessage("go").pipe(
        Effect.flatMap(changed),
        Effect.provide(Replay.layer(recorded)),
        Effect.flip
      )
      const cause = (error as Agent.AgentError).cause as Provider.ProviderError
      assert.include(cause.detail, `model request #${3 * (TURNS + 1)} of the re-run`)
      const divergence = divergenceOf(error)!
      assert.strictEqual(divergence.kind, "System")
      assert.strictEqual(divergence.field, "text")
      assert.strictEqual(divergence.expected, "SUMMARY")
    }))
})
