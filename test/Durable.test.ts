/**
 * Durable runs on the cluster's SingleRunner over SQLite in a temporary directory, with a scripted
 * model that counts its calls.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Layer, Option, Schema } from "effect"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import {
  Agent,
  Approval,
  Compressor,
  Entry,
  IdGenerator,
  Replay,
  Scripted,
  Selector,
  Session,
  SessionStore,
  Tool,
  Workflow
} from "rath"
import type { Provider } from "rath"
import * as Durable from "rath/Durable"
import * as engine from "../src/internal/durable/engine.js"
import { seeded, stepTag } from "../src/internal/durable/ids.js"
import { freePort, skipPostgres, startPostgres } from "./postgres.js"
import { scopedTempDir } from "./utils.js"

const tempDir = scopedTempDir("rath-durable-")

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
  // a selector loop: the triage picks the fixer, then done
  Workflow.loop(Durable.route(selector), {
    while: (session) =>
      Option.match(Selector.lastRecord(session, "triage"), {
        onNone: () => true,
        onSome: (record) => record.choice !== "done"
      }),
    maxIterations: 3
  }),
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
      return systemText(request).includes("You release") ? releaseAnswer(request) : answer(request)
    })
  )

const deploy = Tool.make({
  name: "deploy",
  description: "Deploys the build",
  parameters: Schema.Struct({ target: Schema.String }),
  needsApproval: true,
  handler: (args, ctx) =>
    Effect.map(Durable.idempotencyKey(ctx), (key) => {
      applied.set(key, (applied.get(key) ?? 0) + 1)
      return `deployed to ${args.target}`
    })
})

const releaser = Agent.make({ name: "releaser", instructions: "You release.", tools: [deploy] })

const releaseAnswer = (request: Provider.Request): Scripted.Reply =>
  lastIsToolResult(request)
    ? Scripted.reply("Released.")
    : Scripted.toolCall("deploy", { target: "prod" }, { id: "call_deploy" })

const durableLayer = (dir: string, options?: { readonly workspaceRoot?: string }) =>
  Durable.layerSingle({
    storeFile: NodePath.join(dir, "rath.db"),
    workflows: [Durable.define("team", team), Durable.define("solo", coderA), Durable.define("release", releaser)],
    workspaceRoot: options?.workspaceRoot
  })

const entriesOf = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session))

describe("Durable", () => {
  it.live(
    "a multi-agent workflow runs durably with the entries of the same workflow run directly",
    () =>
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
        assert.strictEqual(entriesOf(result).length, 28)
        // planner 1, coders 2 each, selector 2, fixer 1, compressor 1
        assert.strictEqual(counter.calls, 9)
        assert.deepStrictEqual(
          entriesOf(result).flatMap((e) => Option.toArray(Selector.recordOf(e))).map((r) => r.choice),
          ["fixer", "done"]
        )
        assert.strictEqual(applied.get("team:run1/call_A"), 1)
        assert.strictEqual(applied.get("team:run1/call_B"), 1)
        // the input session's ids derive from the execution id
        assert.match(entriesOf(result)[0]!.id, /^e_/)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "unknown workflows and malformed requests are typed errors, and nothing is written",
    () =>
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
            durableLayer(dir, { workspaceRoot: NodePath.join(dir, "ws") }).pipe(
              Layer.provide(countingProvider(counter))
            )
          )
        )
        assert.strictEqual(counter.calls, 0)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a step whose workspace went away fails with WorkspaceUnreachable instead of running",
    () =>
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
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a run cut mid-way continues in a new runtime over the same files without repeating recorded calls",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const first: Counter = { calls: 0, byAgent: new Map() }
        const reached = yield* Deferred.make<void>()
        // the first runtime: coder-b's second model call never answers; the runtime is shut down then
        const gate = (request: Provider.Request) =>
          systemText(request).includes("You code part B") && lastIsToolResult(request)
            ? Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never)
            : Effect.void
        yield* Effect.gen(function*() {
          const id = yield* Durable.submit("team", { prompt: "Build the thing", key: "cut1" })
          assert.strictEqual(id, "team:cut1")
          yield* Deferred.await(reached)
          // let coder-a finish what it is doing, if it still is
          yield* Effect.sleep("300 millis")
        }).pipe(Effect.provide(durableLayer(dir).pipe(Layer.provide(countingProvider(first, gate)))))
        const answeredBefore = first.calls
        assert.isAtLeast(answeredBefore, 2)

        // a new runtime over the same files: the run continues by itself
        const second: Counter = { calls: 0, byAgent: new Map() }
        const result = yield* Durable.wait("team:cut1").pipe(
          Effect.provide(durableLayer(dir).pipe(Layer.provide(countingProvider(second))))
        )
        // every call that had an answer was not asked again: 9 answered calls in all
        assert.strictEqual(answeredBefore + second.calls, 9)
        assert.strictEqual(second.byAgent.get("You plan the work"), undefined)
        assert.strictEqual(second.byAgent.get("You code part B"), 1)
        const texts = entriesOf(result).filter(Entry.is("Assistant")).map((e) => e.text)
        // each answer once: the resumed coder-b did not ask its first call again
        assert.deepStrictEqual(texts, ["Plan: A then B.", "", "Part A done.", "", "Part B done.", "Fixed."])
        assert.strictEqual(entriesOf(result).filter(Entry.is("Compression")).length, 1)
        // the tool's effect was applied once per call
        assert.strictEqual(applied.get("team:cut1/call_B"), 1)
      }).pipe(Effect.scoped),
    90_000
  )

  it.live(
    "a tool call waits for approval on a durable deferred, answered after a restart",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const first: Counter = { calls: 0, byAgent: new Map() }
        yield* Effect.gen(function*() {
          const id = yield* Durable.submit("release", { prompt: "Ship it", key: "rel1" })
          for (;;) {
            const status = yield* Durable.poll(id)
            if (status._tag === "Suspended") break
            assert.strictEqual(status._tag, "Running")
            yield* Effect.sleep("50 millis")
          }
        }).pipe(Effect.provide(durableLayer(dir).pipe(Layer.provide(countingProvider(first)))))
        assert.strictEqual(first.calls, 1)
        assert.isUndefined(applied.get("release:rel1/call_deploy"))

        const second: Counter = { calls: 0, byAgent: new Map() }
        const result = yield* Effect.gen(function*() {
          assert.strictEqual((yield* Durable.poll("release:rel1"))._tag, "Suspended")
          yield* Durable.approve("release:rel1", "call_deploy", Approval.approve("ops"))
          return yield* Durable.wait("release:rel1")
        }).pipe(Effect.provide(durableLayer(dir).pipe(Layer.provide(countingProvider(second)))))
        // the recorded answer that asked for the deploy was not asked again
        assert.strictEqual(second.calls, 1)
        assert.strictEqual(applied.get("release:rel1/call_deploy"), 1)
        const results = entriesOf(result).filter(Entry.is("ToolResult"))
        assert.strictEqual(results.length, 1)
        assert.deepStrictEqual(results[0]!.output, "deployed to prod")
        assert.strictEqual(results[0]!.approval?.decision, "approved")
        assert.deepStrictEqual(entriesOf(result).filter(Entry.is("Assistant")).map((e) => e.text).at(-1), "Released.")
      }).pipe(Effect.scoped),
    90_000
  )

  it.live.skipIf(skipPostgres)(
    "a runner on Postgres (NodeClusterSocket) runs the workflow too",
    () =>
      Effect.gen(function*() {
        const pg = yield* startPostgres
        const port = yield* freePort
        const counter: Counter = { calls: 0, byAgent: new Map() }
        const result = yield* Durable.submit("team", { prompt: "Build the thing", key: "pg1" }).pipe(
          Effect.flatMap(Durable.wait),
          Effect.provide(
            Durable.layerRunner({
              url: pg.url,
              host: "127.0.0.1",
              port,
              workflows: [Durable.define("team", team)]
            }).pipe(Layer.provide([countingProvider(counter), SessionStore.layerMemory]))
          )
        )
        assert.strictEqual(counter.calls, 9)
        assert.strictEqual(entriesOf(result).filter(Entry.is("Compression")).length, 1)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live.skipIf(skipPostgres)(
    "a client (layerClient) submits and waits for a run that a runner on the same Postgres runs",
    () =>
      Effect.gen(function*() {
        const pg = yield* startPostgres
        const port = yield* freePort
        const counter: Counter = { calls: 0, byAgent: new Map() }
        const workflows = [Durable.define("solo", coderA)]
        // the runner: its own scope, up while the client works
        yield* Layer.build(
          Durable.layerRunner({ url: pg.url, host: "127.0.0.1", port, workflows }).pipe(
            Layer.provide([countingProvider(counter), SessionStore.layerFromUrl(pg.url)])
          )
        )
        const result = yield* Effect.gen(function*() {
          const id = yield* Durable.submit("solo", { prompt: "Build the thing", key: "client1" })
          assert.strictEqual(id, "solo:client1")
          const session = yield* Durable.wait(id)
          assert.strictEqual((yield* Durable.poll(id))._tag, "Done")
          const unknown = yield* Effect.flip(Durable.submit("nope", { prompt: "x" }))
          assert.strictEqual(unknown.reason, "UnknownWorkflow")
          return session
        }).pipe(
          Effect.provide(
            Durable.layerClient({ url: pg.url, workflows: [Durable.define("solo", coderA)] }).pipe(
              Layer.provide(SessionStore.layerFromUrl(pg.url))
            )
          )
        )
        // the runner made the calls (the client has no provider at all)
        assert.strictEqual(counter.calls, 2)
        assert.strictEqual(entriesOf(result).filter(Entry.is("Assistant")).at(-1)?.text, "Part A done.")
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "interrupt ends a run that waits for an approval: its status is Failed with Interrupted",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const counter: Counter = { calls: 0, byAgent: new Map() }
        const status = yield* Effect.gen(function*() {
          const id = yield* Durable.submit("release", { prompt: "Ship it", key: "stop1" })
          while ((yield* Durable.poll(id))._tag !== "Suspended") yield* Effect.sleep("50 millis")
          yield* Durable.interrupt(id)
          for (;;) {
            const status = yield* Durable.poll(id)
            if (status._tag === "Failed" || status._tag === "Done") return status
            yield* Effect.sleep("50 millis")
          }
        }).pipe(
          Effect.timeout("30 seconds"),
          Effect.provide(durableLayer(dir).pipe(Layer.provide(countingProvider(counter))))
        )
        assert.strictEqual(status._tag, "Failed")
        if (status._tag === "Failed") assert.strictEqual(status.error.reason, "Interrupted")
        assert.strictEqual(counter.calls, 1)
        assert.isUndefined(applied.get("release:stop1/call_deploy"))
      }).pipe(Effect.scoped),
    90_000
  )

  it.live(
    "two overlapping attempts of one step race on one store: one writes, the other takes its run",
    () =>
      Effect.gen(function*() {
        // at-least-once execution: the cluster may run a step's activity twice at once (a shard moved
        // while its old owner still ran it). Here attempt B reads the store first (nothing there),
        // then A runs the step whole, then B saves: the store's compare-and-set refuses B's save.
        const dir = yield* tempDir
        const storeFile = NodePath.join(dir, "rath.db")
        const executionId = "solo:race1"
        const position = "step/0/agent:coder-a"
        const tag = stepTag(executionId, position)
        const counterA: Counter = { calls: 0, byAgent: new Map() }
        const counterB: Counter = { calls: 0, byAgent: new Map() }
        const bLoaded = yield* Deferred.make<void>()
        const aDone = yield* Deferred.make<void>()
        const outcomes = yield* Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          // the input, as the workflow's start step makes it (its ids from the execution id)
          const input = yield* Session.fromUserMessage("Build the thing").pipe(
            Effect.provideService(IdGenerator.IdGenerator, seeded(stepTag(executionId, "start"), 0))
          )
          yield* store.save(input)
          let loads = 0
          let saves = 0
          const storeB: SessionStore.Service = {
            ...store,
            load: (id) =>
              Effect.tap(Effect.exit(store.load(id)), () =>
                loads++ === 0 ? Deferred.succeed(bLoaded, undefined) : Effect.void)
                .pipe(Effect.flatten),
            save: (session, options) =>
              Effect.zipRight(saves++ === 0 ? Deferred.await(aDone) : Effect.void, store.save(session, options))
          }
          const attempt = (attemptStore: SessionStore.Service, counter: Counter) =>
            engine.leafBody(
              { executionId, workflow: "solo", store: attemptStore, workspaceRoot: undefined, takeoverAfter: 30_000 },
              position,
              { kind: "agent", name: "coder-a" },
              input,
              coderA,
              coderA,
              new Map()
            ).pipe(
              Effect.provideService(SessionStore.SessionStore, attemptStore),
              Effect.provideService(engine.CurrentExecution, executionId),
              Effect.provide(countingProvider(counter))
            )
          const a = Effect.zipRight(Deferred.await(bLoaded), attempt(store, counterA)).pipe(
            Effect.ensuring(Deferred.succeed(aDone, undefined))
          )
          const b = attempt(storeB, counterB)
          return yield* Effect.all([a, b], { concurrency: 2 })
        }).pipe(Effect.provide(SessionStore.layer({ filename: storeFile })))

        // both attempts end with the one run that was written
        const runId = `s_${tag}.0.1`
        assert.deepStrictEqual(outcomes, [{ _tag: "Done", sessionId: runId }, { _tag: "Done", sessionId: runId }])
        // A made the step's two model calls; B lost before its first: no call paid twice
        assert.strictEqual(counterA.calls, 2)
        assert.strictEqual(counterB.calls, 0)
        assert.strictEqual(applied.get("solo:race1/call_A"), 1)

        // the workflow then completes on that store with the same entries as the step run directly
        const total: Counter = { calls: 0, byAgent: new Map() }
        const result = yield* Effect.gen(function*() {
          const id = yield* Durable.submit("solo", { prompt: "Build the thing", key: "race1" })
          return yield* Durable.wait(id)
        }).pipe(Effect.provide(durableLayer(dir).pipe(Layer.provide(countingProvider(total)))))
        assert.strictEqual(result.id, runId)
        assert.strictEqual(total.calls, 0)
        const direct = yield* Session.fromUserMessage("Build the thing").pipe(
          Effect.flatMap(coderA),
          Effect.provide(countingProvider({ calls: 0, byAgent: new Map() })),
          Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
        )
        const divergence = Replay.diff(direct, result, { ignore: ["durationMs", "latencyMs"] })
        assert.isTrue(Option.isNone(divergence), Option.isSome(divergence) ? Replay.describe(divergence.value) : "")
        assert.strictEqual(
          entriesOf(result).filter((e) =>
            e._tag === "Custom" && e.type === "rath.agent"
          ).length,
          1
        )
      }).pipe(Effect.scoped),
    60_000
  )

  void Exit
})
