import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, RuntimeFlags, RuntimeFlagsPatch, Schema, Supervisor } from "effect"
import { Agent, Entry, Provider, Scripted, Session, Tool } from "rath"

// The shape of the hot path (issue 15): how many Effect operations a tool call and an agent turn
// evaluate, counted by a Supervisor told of every operation. A count does not depend on the
// machine, so these bounds hold on any machine; a change that adds effects to every call fails them.

class OpCounter extends Supervisor.AbstractSupervisor<void> {
  ops = 0
  get value() {
    return Effect.void
  }
  override onEffect() {
    this.ops++
  }
}

const countOps = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const counter = new OpCounter()
    return Effect.supervised(
      Effect.withRuntimeFlagsPatch(effect, RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)),
      counter
    ).pipe(Effect.map((value) => ({ value, ops: counter.ops })))
  })

const Args = Schema.Struct({ a: Schema.Number, b: Schema.Number })
const addNow = Tool.make({
  name: "add",
  description: "Adds",
  parameters: Args,
  handler: ({ a, b }) => Effect.succeed(a + b)
})
const addLater = Tool.make({
  name: "add",
  description: "Adds",
  parameters: Args,
  handler: ({ a, b }) => Effect.sync(() => a + b)
})

const entriesOf = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session))
// what a result records, without what differs from run to run (ids, times)
const recorded = (session: Session.Session) =>
  entriesOf(session).filter(Entry.is("ToolResult")).map((entry) => {
    const { id: _id, parents: _parents, timestamp: _timestamp, ...rest } = entry as unknown as Record<string, unknown>
    return { keys: Object.keys(entry), ...rest } as {
      readonly keys: ReadonlyArray<string>
      readonly [field: string]: unknown
    }
  })

const runWith = (tool: Tool.Tool, turns: number) =>
  Effect.gen(function*() {
    const scripted = yield* Scripted.make([
      ...Array.from({ length: turns }, (_, i) => Scripted.toolCall("add", { a: i, b: 2 })),
      Scripted.reply("done")
    ])
    const agent = Agent.make({ name: "adder", tools: [tool], maxTurns: turns + 2 })
    const input = yield* Session.fromUserMessage("add")
    return yield* countOps(Effect.provideService(agent(input), Provider.Provider, scripted.service))
  })

describe("the hot path's shape", () => {
  it.effect("a handler that is already its value (Effect.succeed) records what an effectful one records", () =>
    Effect.gen(function*() {
      const now = yield* runWith(addNow, 3)
      const later = yield* runWith(addLater, 3)
      assert.deepStrictEqual(recorded(now.value), recorded(later.value))
      assert.deepStrictEqual(recorded(now.value).map((r) => r.output), [2, 3, 4])
    }))

  it.effect("a turn whose tool is already its value costs the model call and about nothing else", () =>
    Effect.gen(function*() {
      const now = (yield* runWith(addNow, 4)).ops - (yield* runWith(addNow, 3)).ops
      const later = (yield* runWith(addLater, 4)).ops - (yield* runWith(addLater, 3)).ops
      // one turn: the scripted model call and the tool call with its result appended (177 Effect
      // operations for a W5 conversation before issue 15's cut, 109 after)
      assert.isAtMost(now, 12, `Effect operations per turn with an Effect.succeed tool: ${now}`)
      // an effectful handler runs under the sandbox's release guard: a few operations more
      assert.isAtMost(later - now, 10, `more per turn with an Effect.sync tool: ${later - now}`)
    }))

  it.effect("Tool.execute of a call whose handler is its value evaluates two operations", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("add")
      const toolkit = Either.getOrThrow(Tool.toolkit(addNow))
      const call = { id: "call_1", name: "add", arguments: "{\"a\":1,\"b\":2}" }
      const { ops, value } = yield* countOps(Tool.execute(toolkit, call, { session }))
      assert.strictEqual(value.output, 3)
      assert.isAtMost(ops, 2, `Effect operations: ${ops}`)
    }))

  it.effect("handlers that fail or die at once give the outcomes of the same failures run as effects", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("go")
      const boom = new Error("boom")
      const handlers: ReadonlyArray<readonly [string, () => Effect.Effect<unknown, unknown>]> = [
        ["fails", () => Effect.fail("bad input")],
        ["dies", () => Effect.die(boom)],
        ["void", () => Effect.void],
        ["object", () => Effect.succeed({ sum: 3, parts: [1, 2] })]
      ]
      for (const [name, handler] of handlers) {
        const outcomeOf = (run: () => Effect.Effect<unknown, unknown>) =>
          Effect.map(
            Tool.run(
              Either.getOrThrow(
                Tool.toolkit(Tool.make({ name, description: name, parameters: Schema.Struct({}), handler: run }))
              ),
              { id: "call_1", name, arguments: "{}" },
              { session }
            ),
            ({ durationMs: _durationMs, ...rest }) => rest
          )
        const atOnce = yield* outcomeOf(handler)
        const asEffect = yield* outcomeOf(() => Effect.suspend(handler))
        assert.deepStrictEqual(atOnce, asEffect, name)
      }
    }))

  it.effect("an executor made from the default one (a spread with its own execute) runs every call through it", () =>
    Effect.gen(function*() {
      const base = yield* Tool.Executor
      let executed = 0
      const counting: Tool.ExecutorService = {
        ...base,
        execute: (toolkit, call, options) => {
          executed++
          return base.execute(toolkit, call, options)
        }
      }
      const scripted = yield* Scripted.make([Scripted.toolCall("add", { a: 1, b: 2 }), Scripted.reply("done")])
      const agent = Agent.make({ name: "adder", tools: [addNow], maxTurns: 3 })
      const out = yield* agent(yield* Session.fromUserMessage("add")).pipe(
        Effect.provideService(Provider.Provider, scripted.service),
        Effect.provideService(Tool.Executor, counting)
      )
      assert.strictEqual(executed, 1)
      assert.deepStrictEqual(recorded(out).map((r) => r.output), [3])
    }))
})
