/**
 * Tool-call argument text is bounded before it is parsed: nesting deeper than
 * `Provider.MAX_ARGUMENT_DEPTH` is a typed `invalid_arguments` result, never a defect or a hang,
 * through `Tool.run`, an agent, and an agent whose sessions are persisted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Option, Schema } from "effect"
import { join } from "node:path"
import { Agent, Provider, Resume, Scripted, Session, SessionStore, Tool } from "rath"
import { scopedTempDir } from "./utils.js"

const tempDir = scopedTempDir("rath-args-")

/** `{"x": [[[...0...]]]}` with `levels` nested arrays. */
const nested = (levels: number) => `{"x":${"[".repeat(levels)}0${"]".repeat(levels)}}`

const echo = (name: string, x: Schema.Schema.Any) =>
  Tool.make({
    name,
    description: name,
    parameters: Schema.Struct({ x }) as unknown as Schema.Schema<{ readonly x: unknown }, any>,
    handler: ({ x }) => Effect.succeed({ got: typeof x })
  })

const toolkit = Tool.toolkit(echo("num", Schema.Number), echo("any", Schema.Unknown))

/** Fails the test (instead of hanging it) if `effect` takes longer than `seconds` of real time. */
const settles = <A, E, R>(effect: Effect.Effect<A, E, R>, seconds = 10) =>
  effect.pipe(
    Effect.timeoutFail({ duration: Duration.seconds(seconds), onTimeout: () => "never settled" as const })
  )

describe("tool-call arguments nested too deep", () => {
  it("the bounded parser refuses depth before parsing and keeps the raw text", () => {
    const deep = nested(Provider.MAX_ARGUMENT_DEPTH + 1)
    const call = Provider.toolCall("c", "num", deep)
    assert.strictEqual(call.arguments, deep)
    assert.isUndefined(call.parsed)
    const refused = Provider.parseArgumentsEither(deep)
    assert.isTrue(refused._tag === "Left" && refused.left.includes(`${Provider.MAX_ARGUMENT_DEPTH} levels`))
    // the limit itself is fine, and brackets inside strings do not count
    assert.isDefined(Provider.toolCall("c", "num", nested(Provider.MAX_ARGUMENT_DEPTH - 1)).parsed)
    const text = JSON.stringify({ s: "[".repeat(10_000) })
    assert.deepStrictEqual(Provider.toolCall("c", "any", text).parsed, { s: "[".repeat(10_000) })
    assert.isTrue(Provider.argumentsWithinDepth({ a: [[1]] }))
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.isFalse(Provider.argumentsWithinDepth(cyclic))
  })

  for (const [tool, levels] of [["num", 5_000], ["any", 20_000], ["num", 100_000]] as const) {
    it.live(`Tool.run: ${levels} levels in a ${tool === "num" ? "number" : "Unknown"} field is invalid_arguments`, () =>
      Effect.gen(function*() {
        const session = yield* Session.empty()
        const kit = yield* toolkit
        const outcome = yield* settles(
          Tool.run(kit, { id: "c1", name: tool, arguments: nested(levels) }, { session })
        )
        assert.strictEqual(outcome.error?.kind, "invalid_arguments")
        assert.include(outcome.error?.message ?? "", "levels")
        // a parsed value that deep (an entry written by hand, an approver's edit) is refused too
        const value = JSON.parse(nested(levels)) as unknown
        const edited = yield* settles(
          Tool.run(kit, { id: "c2", name: tool, arguments: "{}" }, { session, arguments: value })
        )
        assert.strictEqual(edited.error?.kind, "invalid_arguments")
      }))
  }

  it.scopedLive("an agent run persisted to a store and to JSONL: the call is answered invalid_arguments", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const agent = Agent.make({ name: "deep", tools: [echo("num", Schema.Number), echo("any", Schema.Unknown)] })
      const session = yield* settles(
        Session.fromUserMessage("go").pipe(
          Effect.flatMap((start) => Resume.persist(agent(start))),
          Effect.provide(Scripted.layer([
            Scripted.toolCall("num", nested(5_000), { id: "a" }),
            Scripted.toolCall("any", nested(20_000), { id: "b" }),
            Scripted.reply("done")
          ])),
          Effect.provide(SessionStore.layer({ filename: join(dir, "sessions.db") }))
        ),
        20
      )
      const all = Chunk.toArray(Session.entries(session))
      const results = all.flatMap((e) => e._tag === "ToolResult" ? [e] : [])
      assert.deepStrictEqual(results.map((r) => r.error?.kind), ["invalid_arguments", "invalid_arguments"])
      const calls = all.flatMap((e) => e._tag === "Assistant" ? e.toolCalls : [])
      assert.deepStrictEqual(calls.map((c) => c.parsed), [undefined, undefined])
      assert.strictEqual(calls[0]?.arguments, nested(5_000))
      // and the session writes as JSONL and reads back
      const text = Session.toJsonl(session)
      const back = yield* Session.fromJsonl(text)
      assert.strictEqual(Option.getOrThrow(Session.lastOf(back.session, "Assistant")).text, "done")
    }))
})
