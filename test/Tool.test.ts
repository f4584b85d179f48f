import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, Fiber, Option, Schema, TestClock } from "effect"
import * as Fs from "node:fs"
import { Agent, Entry, IdGenerator, LocalSandbox, Placement, Sandbox, Scripted, Session, Tool } from "rath"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const call = (name: string, args: string, parsed?: unknown) => ({
  id: "call_1",
  name,
  arguments: args,
  ...(parsed === undefined ? {} : { parsed })
})

const withSession = <A, E, R>(f: (session: Session.Session) => Effect.Effect<A, E, R>) =>
  Session.fromUserMessage("hi").pipe(
    Effect.flatMap(f),
    Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
  )

const hasRef = (schema: unknown) => JSON.stringify(schema).includes("\"$ref\"")

interface Tree {
  readonly label: string
  readonly children: ReadonlyArray<Tree>
}

describe("Tool.make", () => {
  it("generates an inline JSON Schema, even for nested schemas with identifiers", () => {
    const Point = Schema.Struct({ x: Schema.Number, y: Schema.Number }).annotations({ identifier: "Point" })
    const tool = Tool.make({
      name: "draw",
      description: "Draws",
      parameters: Schema.Struct({
        from: Point,
        to: Schema.optional(Point),
        path: Schema.Array(Point),
        color: Schema.Literal("red", "blue").annotations({ description: "The pen" })
      }),
      handler: () => Effect.void
    })
    assert.isFalse(hasRef(tool.jsonSchema))
    assert.isUndefined(tool.jsonSchema.$schema)
    assert.deepStrictEqual(tool.jsonSchema.required, ["from", "path", "color"])
    assert.deepStrictEqual((tool.jsonSchema.properties as any).color, {
      type: "string",
      enum: ["red", "blue"],
      description: "The pen"
    })
    assert.deepStrictEqual(Tool.definition(tool), { name: "draw", description: "Draws", parameters: tool.jsonSchema })
    assert.isTrue(tool.parallel)
    assert.isFalse(tool.idempotent)
  })

  it("a recursive schema keeps the $defs its references point to", () => {
    const Tree: Schema.Schema<Tree> = Schema.Struct({
      label: Schema.String,
      children: Schema.Array(Schema.suspend(() => Tree))
    }).annotations({ identifier: "Tree" })
    const json = Tool.jsonSchemaOf(Schema.Struct({ tree: Tree }))
    assert.isTrue(hasRef(json))
    assert.property(json.$defs as object, "Tree")
  })

  it("a given JSON Schema passes through unchanged", () => {
    const jsonSchema = { type: "object", properties: { q: { type: "string", pattern: "^a" } } }
    const tool = Tool.make({
      name: "passthrough",
      description: "",
      parameters: Schema.Unknown,
      jsonSchema,
      handler: () => Effect.void
    })
    assert.strictEqual(tool.jsonSchema, jsonSchema)
  })

  it("approval can depend on the arguments", () => {
    const tool = Tool.make({
      name: "rm",
      description: "",
      parameters: Schema.Struct({ path: Schema.String }),
      needsApproval: ({ path }) => path.startsWith("/"),
      handler: () => Effect.void
    })
    assert.isTrue(Tool.requiresApproval(tool, { path: "/etc" }))
    assert.isFalse(Tool.requiresApproval(tool, { path: "a" }))
    assert.isFalse(Tool.requiresApproval(add, {}))
  })
})

describe("Tool.toolkit", () => {
  it("combines tools and toolkits; a duplicate name is a typed error", () => {
    const echo = Tool.make({
      name: "echo",
      description: "",
      parameters: Schema.Struct({ text: Schema.String }),
      handler: ({ text }) => Effect.succeed(text)
    })
    const inner = Either.getOrThrow(Tool.toolkit(add))
    const both = Either.getOrThrow(Tool.toolkit(inner, echo))
    assert.deepStrictEqual(both.definitions.map((d) => d.name), ["add", "echo"])
    const duplicate = Tool.toolkit(inner, add)
    assert.isTrue(Either.isLeft(duplicate))
    if (Either.isLeft(duplicate)) {
      assert.strictEqual(duplicate.left._tag, "ToolError")
      assert.strictEqual(duplicate.left.reason, "DuplicateTool")
      assert.include(duplicate.left.message, "add")
    }
  })
})

describe("Tool.run", () => {
  const kit = Either.getOrThrow(Tool.toolkit(add))

  it.effect("decodes, runs and encodes", () =>
    withSession((session) =>
      Effect.gen(function*() {
        const outcome = yield* Tool.run(kit, call("add", "{\"a\":1,\"b\":2}"), { session })
        assert.strictEqual(outcome.output, 3)
        assert.isUndefined(outcome.error)
        assert.strictEqual(outcome.callId, "call_1")
        // parsed arguments win over the raw text; an approver's edit wins over both
        assert.strictEqual((yield* Tool.run(kit, call("add", "garbage", { a: 2, b: 2 }), { session })).output, 4)
        assert.strictEqual(
          (yield* Tool.run(kit, call("add", "{\"a\":1,\"b\":2}"), { session, arguments: { a: 5, b: 5 } })).output,
          10
        )
      })
    ))

  it.effect("unknown tools, invalid JSON and invalid arguments are structured failures", () =>
    withSession((session) =>
      Effect.gen(function*() {
        const unknown = yield* Tool.run(kit, call("sub", "{}"), { session })
        assert.deepStrictEqual(unknown.error?.kind, "unknown_tool")
        assert.include(unknown.error?.message, "add")
        const json = yield* Tool.run(kit, call("add", "{\"a\":"), { session })
        assert.strictEqual(json.error?.kind, "invalid_arguments")
        assert.include(json.error?.message, "not valid JSON")
        const invalid = yield* Tool.run(kit, call("add", "{\"a\":\"one\"}"), { session })
        assert.strictEqual(invalid.error?.kind, "invalid_arguments")
        assert.include(invalid.error?.message, "[\"a\"]")
        assert.include(invalid.error?.message, "[\"b\"]")
        const empty = yield* Tool.run(kit, call("add", "  "), { session })
        assert.strictEqual(empty.error?.kind, "invalid_arguments", "empty arguments are {} and {} lacks a and b")
        assert.strictEqual(invalid.output, null)
      })
    ))

  it.effect("failures and defects of the handler become tool_failed", () =>
    withSession((session) =>
      Effect.gen(function*() {
        const failing = Tool.make({
          name: "failing",
          description: "",
          parameters: Schema.Struct({}),
          handler: () => Effect.fail(new Tool.ToolError({ reason: "Failed", detail: "nope" }))
        })
        const dying = Tool.make({
          name: "dying",
          description: "",
          parameters: Schema.Struct({}),
          handler: () => Effect.die("boom")
        })
        const tools = Either.getOrThrow(Tool.toolkit(failing, dying))
        const failed = yield* Tool.run(tools, call("failing", "{}"), { session })
        assert.deepStrictEqual(failed.error, { kind: "tool_failed", message: "Failed: nope" })
        const died = yield* Tool.run(tools, call("dying", "{}"), { session })
        assert.strictEqual(died.error?.kind, "tool_failed")
        assert.include(died.error?.message, "boom")
      })
    ))

  it.effect("a timeout (the tool's or the caller's) is kind timeout; duration comes from the Clock", () =>
    withSession((session) =>
      Effect.gen(function*() {
        const slow = Tool.make({
          name: "slow",
          description: "",
          parameters: Schema.Struct({}),
          timeout: "5 seconds",
          handler: () => Effect.as(Effect.sleep("10 seconds"), "done")
        })
        const tools = Either.getOrThrow(Tool.toolkit(slow))
        const fiber = yield* Effect.fork(Tool.run(tools, call("slow", "{}"), { session }))
        yield* TestClock.adjust("5 seconds")
        const outcome = yield* Fiber.join(fiber)
        assert.strictEqual(outcome.error?.kind, "timeout")
        assert.strictEqual(outcome.durationMs, 5000)
        const longer = yield* Effect.fork(Tool.run(tools, call("slow", "{}"), { session, timeout: "20 seconds" }))
        yield* TestClock.adjust("10 seconds")
        const finished = yield* Fiber.join(longer)
        assert.strictEqual(finished.output, "done")
        assert.strictEqual(finished.durationMs, 10_000)
      })
    ))

  it.effect("interruption propagates instead of becoming a result", () =>
    withSession((session) =>
      Effect.gen(function*() {
        const forever = Tool.make({
          name: "forever",
          description: "",
          parameters: Schema.Struct({}),
          handler: () => Effect.never
        })
        const fiber = yield* Effect.fork(
          Tool.run(Either.getOrThrow(Tool.toolkit(forever)), call("forever", "{}"), { session })
        )
        yield* TestClock.adjust("1 second")
        const exit = yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
      })
    ))

  it.effect("an oversized output is cut to valid JSON that says so", () =>
    withSession((session) =>
      Effect.gen(function*() {
        const big = Tool.make({
          name: "big",
          description: "",
          parameters: Schema.Struct({}),
          handler: () => Effect.succeed({ text: "x".repeat(5000) })
        })
        const outcome = yield* Tool.run(Either.getOrThrow(Tool.toolkit(big)), call("big", "{}"), {
          session,
          maxOutputChars: 100
        })
        const output = outcome.output as { truncated: boolean; originalChars: number; preview: string }
        assert.isTrue(output.truncated)
        assert.strictEqual(output.originalChars, 5011)
        assert.strictEqual(output.preview.length, 100)
        assert.deepStrictEqual(JSON.parse(JSON.stringify(output)), output)
        assert.deepStrictEqual(Tool.toJsonOutput({ n: 1n }), {
          unserializable: true,
          detail: "TypeError: Do not know how to serialize a BigInt"
        })
      })
    ))

  it.effect("recorded effects and sandbox land in the outcome; the handler sees its session and call", () =>
    withSession((session) =>
      Effect.gen(function*() {
        const placement = Placement.make({ backend: "local", id: "sbx_1", workspace: "/tmp/ws" })
        const touch = Tool.make({
          name: "touch",
          description: "",
          parameters: Schema.Struct({ path: Schema.String }),
          resource: ({ path }) => `sbx_1:${path}`,
          parallel: false,
          handler: ({ path }, context) =>
            Effect.gen(function*() {
              yield* context.recordSandbox(placement)
              yield* context.recordEffect({ op: "create", path, bytes: 0 })
              return `${context.toolName} ${context.callId} ${context.session.id === session.id}`
            })
        })
        const outcome = yield* Tool.run(Either.getOrThrow(Tool.toolkit(touch)), call("touch", "{\"path\":\"a\"}"), {
          session
        })
        assert.strictEqual(outcome.output, "touch call_1 true")
        assert.deepStrictEqual(outcome.effects, [{ op: "create", path: "a", bytes: 0 }])
        assert.strictEqual(outcome.sandbox, placement)
        assert.strictEqual(touch.resource?.({ path: "a" }, undefined as never), "sbx_1:a")
        assert.isFalse(touch.parallel)
      })
    ))
})

/** The local backend, counting the handles it opens and how many are open now. */
const countingLocal = () => {
  const count = { opened: 0, open: 0 }
  const local = LocalSandbox.backend()
  const backend: Sandbox.Backend = {
    name: "local",
    open: (placement) =>
      Effect.zipRight(
        Effect.acquireRelease(Effect.sync(() => void (count.opened++, count.open++)), () =>
          Effect.sync(() => void count.open--)),
        local.open(placement)
      )
  }
  // idle handles close at once, so "released" is observable as `open === 0`
  return { count, layer: Sandbox.layer({ backends: [backend], idleTimeToLive: 0 }) }
}

const placedSession = Session.fromUserMessage("go").pipe(
  Effect.flatMap((s) => Sandbox.place(s, Placement.make({ backend: "local" })))
)

describe("Tool context.sandbox", () => {
  it.live("an agent's custom tool runs a command through context.sandbox: the result records where it ran", () => {
    const { count, layer } = countingLocal()
    const seen: Array<number> = []
    const shell = Tool.make({
      name: "shell",
      description: "Runs a command in the session's sandbox",
      parameters: Schema.Struct({ command: Schema.String }),
      handler: ({ command }, context) =>
        Effect.gen(function*() {
          const sandbox = yield* context.sandbox
          const again = yield* context.sandbox
          seen.push(count.open)
          const result = yield* sandbox.exec({ command })
          return { same: sandbox === again, stdout: result.stdout, exitCode: result.exitCode }
        })
    })
    return Effect.gen(function*() {
      const placed = yield* placedSession
      const agent = Agent.make({ name: "runner", tools: [shell] })
      const out = yield* agent(placed).pipe(
        Effect.provide(Scripted.layer([
          { toolCalls: [{ id: "s1", name: "shell", arguments: { command: "echo hi > f.txt; cat f.txt; pwd" } }] },
          Scripted.reply("Done.")
        ]))
      )
      const [result] = Chunk.toReadonlyArray(Session.entries(out)).filter(Entry.is("ToolResult"))
      const placement = Option.getOrThrow(placed.placement)
      assert.isUndefined(result?.error)
      const output = result?.output as { same: boolean; stdout: string; exitCode: number }
      assert.isTrue(output.same)
      assert.strictEqual(output.exitCode, 0)
      // the recorded placement is the handle's: the session's id, and the workspace it really used
      assert.strictEqual(result?.sandbox?.backend, "local")
      assert.strictEqual(result?.sandbox?.id, placement.id)
      const workspace = result?.sandbox?.workspace
      assert.isString(workspace)
      assert.strictEqual(output.stdout, `hi\n${workspace}\n`)
      // one handle for the two uses, held while the call ran, released when it ended (its
      // temporary workspace is gone with it)
      assert.deepStrictEqual(seen, [1])
      assert.deepStrictEqual(count, { opened: 1, open: 0 })
      assert.isFalse(Fs.existsSync(workspace!))
    }).pipe(
      Effect.provide(layer),
      Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
    )
  })

  it.live("a tool that never asks opens nothing and records no sandbox; a timed-out one releases its handle", () => {
    const { count, layer } = countingLocal()
    const slow = Tool.make({
      name: "slow",
      description: "",
      parameters: Schema.Struct({}),
      timeout: "200 millis",
      handler: (_, context) => Effect.flatMap(context.sandbox, (sandbox) => sandbox.exec({ command: "sleep 5" }))
    })
    return Effect.gen(function*() {
      const session = yield* placedSession
      const kit = Either.getOrThrow(Tool.toolkit(add, slow))
      const plain = yield* Tool.run(kit, call("add", "{\"a\":1,\"b\":2}"), { session })
      assert.strictEqual(plain.output, 3)
      assert.isUndefined(plain.sandbox)
      assert.strictEqual(count.opened, 0)
      const timedOut = yield* Tool.run(kit, call("slow", "{}"), { session })
      assert.strictEqual(timedOut.error?.kind, "timeout")
      assert.strictEqual(timedOut.sandbox?.id, Option.getOrThrow(session.placement).id)
      assert.deepStrictEqual(count, { opened: 1, open: 0 })
    }).pipe(
      Effect.provide(layer),
      Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
    )
  })

  it.live("a call interrupted from outside releases the sandbox it held", () => {
    const { count, layer } = countingLocal()
    const holding = Tool.make({
      name: "holding",
      description: "",
      parameters: Schema.Struct({}),
      handler: (_, context) => Effect.zipRight(context.sandbox, Effect.never)
    })
    return Effect.gen(function*() {
      const session = yield* placedSession
      const fiber = yield* Effect.fork(
        Tool.run(Either.getOrThrow(Tool.toolkit(holding)), call("holding", "{}"), { session })
      )
      while (count.opened === 0) yield* Effect.sleep("5 millis")
      assert.strictEqual(count.open, 1)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(count, { opened: 1, open: 0 })
    }).pipe(
      Effect.provide(layer),
      Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
    )
  })

  it.live("a session without placement: context.sandbox fails with NoPlacement, a tool failure", () =>
    Effect.gen(function*() {
      const probe = Tool.make({
        name: "probe",
        description: "",
        parameters: Schema.Struct({}),
        handler: (_, context) => Effect.map(context.sandbox, (sandbox) => sandbox.workspace)
      })
      const session = yield* Session.fromUserMessage("hi")
      const outcome = yield* Tool.run(Either.getOrThrow(Tool.toolkit(probe)), call("probe", ""), { session })
      assert.strictEqual(outcome.error?.kind, "tool_failed")
      assert.include(outcome.error?.message, "NoPlacement")
      assert.isUndefined(outcome.sandbox)
    }).pipe(
      Effect.provide(countingLocal().layer),
      Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
    ))
})
