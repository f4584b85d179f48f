/**
 * Durable runs on the cluster's SingleRunner over SQLite in a temporary directory, with a scripted
 * model that counts its calls.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Layer, Option, Schema } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Agent, Compressor, Entry, IdGenerator, Replay, Scripted, Selector, Session, Tool, Workflow } from "rath"
import type { Provider } from "rath"
import * as Durable from "rath/Durable"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "rath-durable-"))),
  (dir) => Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))
)

/** A keyed side-effect table written by the tool: how many times each key was applied. */
const applied = new Map<string, number>()

const note = Tool.make({
  name: "note",
  description: "Writes a note",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: (args, ctx) =>
    Effect.map(Durable.idempotencyKey(ctx), (key) => {
      applied.set(key, (applied.get(key) ?? 0) + 1)
      return `noted ${args.text}`
    })
})

const planner = Agent.make({ name: "planner", instructions: "You plan the work." })
const coderA = Agent.make({ name: "coder-a", instructions: "You code part A.", tools: [note] })
const coderB = Agent.make({ name: "coder-b", instructions: "You code part B.", tools: [note] })
const fixer = Agent.make({ name: "fixer", instructions: "You fix what is left." })
const selector = Selector.make({ candidates: [fixer], name: "triage" })
const compressor = Compressor.make({ minEntries: 2 })

const team = Workflow.andThen(
  planner,
  Workflow.parallel([coderA, coderB], { name: "coders" }),
  Durable.route(selector),
  compressor
)

const systemText = (request: Provider.Request): string => {
  const first = request.messages[0]
  return first !== undefined && first._tag === "System" ? first.text : ""
}

const lastIsToolResult = (request: Provider.Request): boolean => request.messages.at(-1)?._tag === "ToolResult"

/** The scripted model of the team: answers by who asks. */
const answer = (request: Provider.Request): Scripted.Reply => {
  const system = systemText(request)
  if (system.includes("You plan")) return Scripted.reply("Plan: A then B.")
  for (const part of ["A", "B"]) {
    if (system.includes(`You code part ${part}`)) {
      return lastIsToolResult(request)
        ? Scripted.reply(`Part ${part} done.`)
        : Scripted.toolCall("note", { text: part }, { id: `call_${part}` })
    }
  }
  if (system.includes("Workflows:")) {
    const decided = request.messages.some((m) => m._tag === "Assistant" && m.text === "Fixed.")
    return Scripted.toolCall("select", { choice: decided ? "done" : "fixer", reason: "check" }, { id: "call_select" })
  }
  if (system.includes("You fix")) return Scripted.reply("Fixed.")
  return Scripted.reply("Summary of the work.")
}

interface Counter {
  calls: number
  readonly byAgent: Map<string, number>
}

const countingProvider = (counter: Counter, gate?: (request: Provider.Request) => Effect.Effect<void>) =>
  Scripted.layer((request) => () =>
    Effect.gen(function*() {
      if (gate !== undefined) yield* gate(request)
      counter.calls++
      const who = systemText(request).split(".")[0] ?? ""
      counter.byAgent.set(who, (counter.byAgent.get(who) ?? 0) + 1)
      return answer(request)
    })
  )

const durableLayer = (dir: string, options?: { readonly workspaceRoot?: string }) =>
  Durable.layerSingle({
    storeFile: NodePath.join(dir, "rath.db"),
    workflows: [Durable.define("team", team), Durable.define("solo", coderA)],
    workspaceRoot: options?.workspaceRoot
  })

const entriesOf = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session))

describe("Durable", () => {
  it.live("a multi-agent workflow runs durably with the entries of the same workflow run directly", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const counter: Counter = { calls: 0, byAgent: new Map() }
      const result = yield* Effect.gen(function*() {
        const id = yield* Durable.submit("team", { prompt: "Build the thing", key: "run1" })
        assert.strictEqual(id, "team:run1")
        return yield* Durable.wait(id)
      }).pipe(Effect.provide(durableLayer(dir).pipe(Layer.provide(countingProvider(counter)))))

      const direct = yield* Session.fromUserMessage("Build the thing").pipe(
        Effect.flatMap(team),
        Effect.provide(countingProvider({ calls: 0, byAgent: new Map() })),
        Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
      )
      const divergence = Replay.diff(direct, result, { ignore: ["durationMs", "latencyMs"] })
      assert.isTrue(Option.isNone(divergence), Option.isSome(divergence) ? Replay.describe(divergence.value) : "")
      const shape = (session: Session.Session) => entriesOf(session).map((e) => `${e._tag} by ${e.author.name}`)
      assert.deepStrictEqual(shape(result), shape(direct))
      assert.strictEqual(entriesOf(result).length, 26)
      // planner 1, coders 2 each, selector 1, fixer 1, compressor 1
      assert.strictEqual(counter.calls, 8)
      assert.strictEqual(applied.get("team:run1/call_A"), 1)
      assert.strictEqual(applied.get("team:run1/call_B"), 1)
      // the input session's ids derive from the execution id
      assert.match(entriesOf(result)[0]!.id, /^e_/)
    }).pipe(Effect.scoped), 60_000)

  it.live("unknown workflows and malformed requests are typed errors, and nothing is written", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const counter: Counter = { calls: 0, byAgent: new Map() }
      yield* Effect.gen(function*() {
        const unknown = yield* Effect.flip(Durable.submit("nope", { prompt: "x" }))
        assert.strictEqual(unknown.reason, "UnknownWorkflow")
        assert.include(unknown.message, "team")
        const bad = yield* Effect.flip(Durable.submit("team", { prompt: 3 }))
        assert.strictEqual(bad.reason, "InvalidRequest")
        const empty = yield* Effect.flip(Durable.submit("team", { prompt: "" }))
        assert.strictEqual(empty.reason, "InvalidRequest")
        const noRun = yield* Effect.flip(Durable.poll("nope:1"))
        assert.strictEqual(noRun.reason, "UnknownWorkflow")
        const unreachable = yield* Effect.flip(Durable.submit("solo", { prompt: "x", workspace: "gone" }))
        assert.strictEqual(unreachable.reason, "WorkspaceUnreachable")
      }).pipe(
        Effect.provide(
          durableLayer(dir, { workspaceRoot: NodePath.join(dir, "ws") }).pipe(Layer.provide(countingProvider(counter)))
        )
      )
      assert.strictEqual(counter.calls, 0)
    }).pipe(Effect.scoped), 60_000)

  it.live("a step whose workspace went away fails with WorkspaceUnreachable instead of running", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = NodePath.join(dir, "ws")
      NodeFs.mkdirSync(NodePath.join(root, "job1"), { recursive: true })
      const counter: Counter = { calls: 0, byAgent: new Map() }
      const error = yield* Effect.gen(function*() {
        const id = yield* Durable.submit("solo", { prompt: "x", workspace: "job1", key: "ws1" })
        // the workspace disappears (an unmounted share) before the step runs
        NodeFs.rmSync(NodePath.join(root, "job1"), { recursive: true })
        return yield* Effect.flip(Durable.wait(id))
      }).pipe(
        Effect.provide(
          durableLayer(dir, { workspaceRoot: root }).pipe(Layer.provide(countingProvider(counter)))
        )
      )
      assert.strictEqual(error.reason, "WorkspaceUnreachable")
      assert.strictEqual(counter.calls, 0)
    }).pipe(Effect.scoped), 60_000)

  void Exit
})
