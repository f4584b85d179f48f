/**
 * Persisting agent runs as they go, and resuming interrupted or cut runs without repeating
 * completed model or tool calls.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Equal, Exit, Fiber, Layer, Option, Ref, Schema, TestClock } from "effect"
import { Agent, Entry, IdGenerator, Provider, Resume, Scripted, Session, SessionStore, Tool, Workflow } from "rath"

const ids = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const entriesOf = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session))
const results = (session: Session.Session) =>
  Chunk.toReadonlyArray(Session.transcript(session)).filter(Entry.is("ToolResult"))

/** A tool that counts its runs. */
const counted = (name: string, options: { readonly idempotent: boolean; readonly sleep?: number }) =>
  Effect.map(Ref.make(0), (runs) => ({
    runs,
    tool: Tool.make({
      name,
      description: `Adds two numbers (${name})`,
      parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
      idempotent: options.idempotent,
      handler: ({ a, b }) =>
        Ref.update(runs, (n) => n + 1).pipe(
          Effect.zipRight(options.sleep === undefined ? Effect.void : Effect.sleep(options.sleep)),
          Effect.as(a + b)
        )
    })
  }))

const scripted = (
  script: ReadonlyArray<Scripted.Step> | ((request: Provider.Request, index: number) => Scripted.Step)
) => Scripted.make(script)

const on = <A, E, R>(provider: Scripted.Scripted, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Provider.Provider, provider.service)

/** The session cut after its first `n` entries, as a crash would leave it in the store. */
const cutAt = (session: Session.Session, n: number): Session.Session => {
  let node = session.node
  while (node !== undefined && node.length > n) node = node.prev
  return Session.unsafeMake({ ...session, base: Math.min(session.base, n), node })
}

const storedRun = Effect.gen(function*() {
  const store = yield* SessionStore.SessionStore
  const rows = yield* store.list()
  const run = rows.find((row) => Option.isSome(row.agent))
  assert.isDefined(run, "the run was saved with its agent record")
  return yield* store.load(run!.id)
})

/** The store in context, with every save it is asked for recorded as `<session id>:<length>`. */
const spied = Effect.map(SessionStore.SessionStore, (store) => {
  const saves: Array<string> = []
  const spy = SessionStore.SessionStore.of({
    ...store,
    save: (session, options) => {
      saves.push(`${session.id}:${session.length}`)
      return store.save(session, options)
    }
  })
  return { store, spy, saves }
})

/** The lengths saved under one session id, in order. */
const savedLengths = (saves: ReadonlyArray<string>, id: string) =>
  saves.filter((save) => save.startsWith(`${id}:`)).map((save) => Number(save.slice(id.length + 1)))

describe("Resume.persist", () => {
  it.effect("saves every entry before the next model call starts, with the spec as the agent record", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const { tool } = yield* counted("add", { idempotent: true })
      // at each model call, the stored run must already hold everything the run wrote
      const seen: Array<readonly [number, string]> = []
      const provider = yield* scripted(() => (_request, index) =>
        Effect.gen(function*() {
          const rows = yield* store.list()
          const run = rows.find((row) => Option.isSome(row.agent))
          const stored = run === undefined ? undefined : yield* store.load(run.id)
          const last = stored === undefined ? undefined : Option.getOrUndefined(Session.head(stored))
          seen.push([stored?.length ?? 0, last?._tag === "Custom" ? last.type : last?._tag ?? "none"])
          return index < 2 ? Scripted.toolCall("add", { a: index, b: 1 }, { id: `c${index}` }) : Scripted.reply("done")
        }).pipe(Effect.orDie)
      )
      const agent = Agent.make({ name: "adder", instructions: "Add.", tools: [tool] })
      const out = yield* on(provider, Effect.flatMap(Session.fromUserMessage("go"), (s) => Resume.persist(agent(s))))
      // user, spec, system; then + assistant + result per turn
      assert.deepStrictEqual(seen, [[3, "System"], [5, "ToolResult"], [7, "ToolResult"]])
      const stored = yield* store.load(out.id)
      assert.isTrue(Equal.equals(stored, out))
      const row = (yield* store.list()).find((r) => r.id === out.id)!
      assert.strictEqual((Option.getOrThrow(row.agent) as Agent.Spec).name, "adder")
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("an afterRun hook that fails loses no answer: the answer was saved before the hook ran", () =>
    Effect.gen(function*() {
      const provider = yield* scripted([Scripted.reply("Hello")])
      const writer = Agent.make({
        name: "writer",
        hooks: { afterRun: () => Effect.fail("the commit failed" as const) }
      })
      const exit = yield* on(
        provider,
        Effect.exit(Effect.flatMap(Session.fromUserMessage("Say hello"), (s) => Resume.persist(writer(s))))
      )
      assert.isTrue(Exit.isFailure(exit))
      const stored = yield* storedRun
      const answer = Session.lastOf(stored, "Assistant")
      assert.isTrue(Option.isSome(answer) && answer.value.text === "Hello", "the paid answer is in the store")
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a workflow's result (a fork-join merge) is saved too", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const provider = yield* scripted(() => Scripted.reply("fine"))
      const review = Workflow.parallel([Agent.make({ name: "a" }), Agent.make({ name: "b" })], { name: "review" })
      const merged = yield* on(
        provider,
        Effect.flatMap(Session.fromUserMessage("go"), (s) => Resume.persist(review(s)))
      )
      assert.strictEqual(merged.lineage.operation, "merge")
      assert.isTrue(Equal.equals(yield* store.load(merged.id), merged))
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a fork-join saves each branch as it goes; the merge's parents load and the lineage is whole", () =>
    Effect.gen(function*() {
      const { saves, spy, store } = yield* spied
      // at each model call, the calling branch's run must already be stored up to its instructions
      const seenAtCall: Array<string> = []
      const provider = yield* scripted(() => (request) =>
        Effect.gen(function*() {
          const system = request.messages[0]
          const name = system?._tag === "System" ? system.text : "?"
          const rows = yield* store.list({ agent: name })
          const stored = rows.length === 1 ? yield* store.load(rows[0]!.id) : undefined
          const head = stored === undefined ? undefined : Option.getOrUndefined(Session.head(stored))
          seenAtCall.push(`${name}:${head?._tag ?? "nothing"}`)
          return Scripted.reply(`${name} says fine`)
        }).pipe(Effect.orDie)
      )
      const review = Workflow.parallel([
        Agent.make({ name: "a", instructions: "a" }),
        Agent.make({ name: "b", instructions: "b" })
      ], { name: "review" })
      const input = yield* Session.fromUserMessage("go")
      const merged = yield* on(provider, Resume.persist(review(input))).pipe(
        Effect.provideService(SessionStore.SessionStore, spy)
      )
      assert.deepStrictEqual(seenAtCall.sort(), ["a:System", "b:System"])
      const [left, right] = merged.lineage.parents
      assert.isDefined(left)
      assert.isDefined(right)
      for (const parent of [left!, right!]) {
        const branch = yield* store.load(parent)
        // the branch's run: saved at its start-up (fork's user entry + spec + system) and at its end
        assert.deepStrictEqual(savedLengths(saves, parent), [3, 5])
        assert.strictEqual(Option.getOrThrow(Agent.lastEnd(branch)).reason, "stop")
        assert.strictEqual(branch.lineage.operation, "step")
        // its fork is stored too
        const [fork] = branch.lineage.parents
        assert.strictEqual((yield* store.load(fork!)).lineage.operation, "fork")
      }
      assert.isTrue(Equal.equals(yield* store.load(merged.id), merged))
      assert.deepStrictEqual(savedLengths(saves, merged.id), [10], "the merge is saved once")
      // the stored lineage: both branch runs, then both forks (the input is the caller's)
      const ancestors = (yield* store.ancestors(merged.id)).map((row) => [row.lineage.operation, row.lineage.by?.name])
      assert.deepStrictEqual(ancestors, [
        ["step", "a"],
        ["step", "b"],
        ["fork", "review/a"],
        ["fork", "review/b"]
      ])
      const run = (yield* store.list({ agent: "a" })).find((row) => row.id === left)
      assert.strictEqual((Option.getOrThrow(run!.agent) as Agent.Spec).name, "a")
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("writes are batched: start-up is one save, a turn's tool results are one save", () =>
    Effect.gen(function*() {
      const { saves, spy } = yield* spied
      const { tool } = yield* counted("add", { idempotent: true })
      const provider = yield* scripted([
        {
          toolCalls: [
            { id: "c1", name: "add", arguments: { a: 1, b: 1 } },
            { id: "c2", name: "add", arguments: { a: 2, b: 2 } },
            { id: "c3", name: "add", arguments: { a: 3, b: 3 } }
          ]
        },
        Scripted.reply("2, 4 and 6")
      ])
      const agent = Agent.make({ name: "adder", instructions: "Add.", tools: [tool] })
      const out = yield* on(provider, Effect.flatMap(Session.fromUserMessage("go"), (s) => Resume.persist(agent(s))))
        .pipe(Effect.provideService(SessionStore.SessionStore, spy))
      // user + spec + system; the answer with three calls; its three results; the answer and the end
      assert.deepStrictEqual(savedLengths(saves, out.id), [3, 4, 7, 9])
      assert.strictEqual(saves.length, 4)
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a persist nested in another on the same store saves each value once", () =>
    Effect.gen(function*() {
      const { saves, spy } = yield* spied
      const provider = yield* scripted([Scripted.reply("Hello")])
      const writer = Agent.make({ name: "writer", instructions: "Write." })
      const out = yield* on(
        provider,
        Effect.flatMap(Session.fromUserMessage("go"), (s) => Resume.persist(Resume.persist(writer(s))))
      ).pipe(Effect.provideService(SessionStore.SessionStore, spy))
      // start-up, then the answer with the end: the same two saves as one persist makes
      assert.deepStrictEqual(savedLengths(saves, out.id), [3, 5])
      assert.strictEqual(saves.length, 2)
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a failed save stops the run with the SessionStoreError, before any model call", () =>
    Effect.gen(function*() {
      const memory = yield* SessionStore.makeMemory
      const failing = SessionStore.SessionStore.of({
        ...memory,
        save: (session) =>
          Effect.fail(
            new SessionStore.SessionStoreError({ reason: "Unavailable", detail: "disk full", sessionId: session.id })
          )
      })
      const provider = yield* scripted([Scripted.reply("never")])
      const error = yield* on(
        provider,
        Effect.flatMap(Session.fromUserMessage("go"), (s) => Resume.persist(Agent.make({ name: "a" })(s)))
      ).pipe(Effect.provideService(SessionStore.SessionStore, failing), Effect.flip)
      assert.strictEqual(error._tag, "JournalError")
      assert.strictEqual(error._tag === "JournalError" ? error.cause?.reason : undefined, "Unavailable")
      assert.strictEqual((yield* provider.requests).length, 0, "no model call after a failed save")
    }).pipe(ids))
})

describe("Resume.layer", () => {
  it.effect("provided to a program, it persists every agent run in it as it goes", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const { tool } = yield* counted("add", { idempotent: true })
      // at each model call, the calling run is stored with everything it wrote so far
      const stored: Array<number> = []
      const provider = yield* scripted(() => (request, index) =>
        Effect.gen(function*() {
          const rows = yield* store.list()
          const runs = rows.filter((row) => Option.isSome(row.agent))
          const latest = runs.at(-1)
          stored.push(latest === undefined ? 0 : (yield* store.load(latest.id)).length)
          const answered = request.messages.at(-1)?._tag === "ToolResult"
          return index === 0 && !answered ? Scripted.toolCall("add", { a: 1, b: 2 }) : Scripted.reply("3")
        }).pipe(Effect.orDie)
      )
      const first = Agent.make({ name: "first", tools: [tool] })
      const second = Agent.make({ name: "second" })
      // plain code: two agents one after the other, nothing about persistence in it
      const program = Effect.gen(function*() {
        const input = yield* Session.fromUserMessage("1+2?")
        const once = yield* first(input)
        return yield* second(yield* Session.append(once, Entry.user("and again?")))
      })
      const out = yield* on(provider, program).pipe(Effect.provide(Resume.layer))
      // first: user + spec at its first call, + answer + result at its second; second: its start-up
      assert.deepStrictEqual(stored, [2, 4, 8])
      assert.isTrue(Equal.equals(yield* store.load(out.id), out))
      const records = (yield* store.list()).flatMap((row) =>
        Option.isSome(row.agent) ? [(row.agent.value as Agent.Spec).name] : []
      )
      assert.deepStrictEqual(records, ["first", "second"])
      // the first run is the second's lineage parent, both stored
      assert.deepStrictEqual((yield* store.ancestors(out.id)).map((row) => row.lineage.by?.name), ["first"])
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a failed save is a typed JournalError, under the layer alone and inside persist (saved once)", () =>
    Effect.gen(function*() {
      const memory = yield* SessionStore.makeMemory
      let attempts = 0
      const failing = SessionStore.SessionStore.of({
        ...memory,
        save: (session) => {
          attempts++
          return Effect.fail(
            new SessionStore.SessionStoreError({ reason: "Unavailable", detail: "disk full", sessionId: session.id })
          )
        }
      })
      const provider = yield* scripted([Scripted.reply("never"), Scripted.reply("never")])
      const run = Effect.flatMap(Session.fromUserMessage("go"), Agent.make({ name: "a" }))
      const provided = Layer.provide(Resume.layer, Layer.succeed(SessionStore.SessionStore, failing))
      const failed = yield* on(provider, run).pipe(Effect.provide(provided), Effect.flip)
      assert.strictEqual(failed._tag, "JournalError")
      assert.include(failed.message, "disk full")
      assert.strictEqual(failed._tag === "JournalError" ? failed.cause?.reason : undefined, "Unavailable")
      assert.strictEqual(attempts, 1)
      const error = yield* on(provider, Resume.persist(run)).pipe(
        Effect.provide(provided),
        Effect.provideService(SessionStore.SessionStore, failing),
        Effect.flip
      )
      assert.strictEqual(error._tag, "JournalError")
      assert.strictEqual(attempts, 2, "persist under the layer does not save a second time")
      assert.strictEqual((yield* provider.requests).length, 0, "no model call after a failed save")
    }).pipe(ids))
})

describe("Resume.resume", () => {
  it.effect("a run interrupted mid-tool resumes: finished calls are kept, the idempotent open call re-runs", () =>
    Effect.gen(function*() {
      const fast = yield* counted("fast", { idempotent: false, sleep: 10 })
      const slow = yield* counted("slow", { idempotent: true, sleep: 10_000 })
      const agent = Agent.make({ name: "worker", instructions: "Work.", tools: [fast.tool, slow.tool] })
      // the slow call comes first: the fast one's real result lands after the interrupted one
      const first = yield* scripted([{
        toolCalls: [{ id: "s1", name: "slow", arguments: { a: 1, b: 2 } }, {
          id: "f1",
          name: "fast",
          arguments: { a: 3, b: 4 }
        }]
      }])
      const fiber = yield* on(first, Effect.flatMap(Session.fromUserMessage("go"), (s) => Resume.persist(agent(s))))
        .pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const interrupted = yield* storedRun
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(interrupted)).reason, "interrupted")
      const state = Option.getOrThrow(Resume.inspect(interrupted))
      assert.strictEqual(state.status, "interrupted")
      assert.deepStrictEqual(state.openCalls.map((call) => call.id), ["s1", "f1"])
      assert.deepStrictEqual(state.recorded.map((r) => r?.output), [undefined, 7])

      const second = yield* scripted([Scripted.reply("3 and 7")])
      const resumed = yield* on(second, Resume.persist(Resume.resume(agent)(interrupted))).pipe(
        Effect.fork,
        Effect.tap(() => TestClock.adjust("10 seconds")),
        Effect.flatMap(Fiber.join)
      )
      assert.strictEqual((yield* second.requests).length, 1, "one new model call, none repeated")
      assert.strictEqual(yield* Ref.get(fast.runs), 1, "the finished call is not re-run")
      assert.strictEqual(yield* Ref.get(slow.runs), 2, "the idempotent open call re-runs once")
      // the model is sent one result per call, none of them interrupted
      const sent = (yield* second.requests)[0]!.messages.filter(Entry.is("ToolResult"))
      assert.deepStrictEqual(sent.map((r) => [r.callId, r.output, r.error?.kind]), [
        ["s1", 3, undefined],
        ["f1", 7, undefined]
      ])
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(resumed)).reason, "stop")
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(resumed)).turns, 2)
      assert.strictEqual(resumed.lineage.operation, "step")
      assert.deepStrictEqual(resumed.lineage.parents, [interrupted.id])
      // the stored interrupted run is untouched, the resumed run is stored too
      const store = yield* SessionStore.SessionStore
      assert.isTrue(Equal.equals(yield* store.load(interrupted.id), interrupted))
      assert.isTrue(Equal.equals(yield* store.load(resumed.id), resumed))
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a resumed run interrupted again resumes again: the open call is still the first answer's", () =>
    Effect.gen(function*() {
      const slow = yield* counted("slow", { idempotent: true, sleep: 10_000 })
      const agent = Agent.make({ name: "worker", tools: [slow.tool] })
      const interruptAfter = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.fork(effect).pipe(
          Effect.tap(() => TestClock.adjust("1 second")),
          Effect.flatMap(Fiber.interrupt)
        )
      const first = yield* scripted([Scripted.toolCall("slow", { a: 1, b: 2 }, { id: "s1" })])
      yield* on(first, interruptAfter(Effect.flatMap(Session.fromUserMessage("go"), (s) => Resume.persist(agent(s)))))
      const store = yield* SessionStore.SessionStore
      const once = yield* storedRun
      // the resume is interrupted too, while it re-runs the open call
      const second = yield* scripted([])
      yield* on(second, interruptAfter(Resume.persist(Resume.resume(agent)(once))))
      const [twice] = yield* store.list({ parent: once.id })
      const interruptedTwice = yield* store.load(twice!.id)
      const state = Option.getOrThrow(Resume.inspect(interruptedTwice))
      assert.strictEqual(state.status, "interrupted")
      assert.strictEqual(state.turns, 1)
      assert.deepStrictEqual(state.openCalls.map((call) => call.id), ["s1"])

      const third = yield* scripted([Scripted.reply("3")])
      const done = yield* on(third, Resume.resume(agent)(interruptedTwice)).pipe(
        Effect.fork,
        Effect.tap(() => TestClock.adjust("10 seconds")),
        Effect.flatMap(Fiber.join)
      )
      assert.strictEqual((yield* second.requests).length, 0)
      assert.strictEqual((yield* third.requests).length, 1)
      assert.strictEqual(yield* Ref.get(slow.runs), 3)
      assert.deepStrictEqual(results(done).map((r) => [r.callId, r.output]), [["s1", 3]])
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(done)).turns, 2)
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a run cut after an answer with a tool call (no result) resumes without a new call for that answer", () =>
    Effect.gen(function*() {
      const add = yield* counted("add", { idempotent: true })
      const agent = Agent.make({ name: "adder", tools: [add.tool] })
      const first = yield* scripted([Scripted.toolCall("add", { a: 2, b: 3 }, { id: "c1" }), Scripted.reply("5")])
      const full = yield* on(first, Effect.flatMap(Session.fromUserMessage("2+3?"), agent))
      const at = entriesOf(full).findIndex((e) => e._tag === "Assistant")
      const crashed = cutAt(full, at + 1) // the answer is stored, its result is not
      assert.strictEqual(yield* Ref.get(add.runs), 1)

      const state = Option.getOrThrow(Resume.inspect(crashed))
      assert.strictEqual(state.status, "cut")
      assert.deepStrictEqual(state.openCalls.map((c) => c.id), ["c1"])
      const second = yield* scripted([Scripted.reply("5")])
      const resumed = yield* on(second, Resume.resume(agent)(crashed))
      assert.strictEqual((yield* second.requests).length, 1)
      assert.strictEqual(yield* Ref.get(add.runs), 2)
      assert.deepStrictEqual(results(resumed).map((r) => [r.callId, r.output]), [["c1", 5]])
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(resumed)).reason, "stop")

      // cut after the result, before the next model call: only the model call is made
      const third = yield* scripted([Scripted.reply("5")])
      const again = yield* on(third, Resume.resume(agent)(cutAt(full, at + 2)))
      assert.strictEqual((yield* third.requests).length, 1)
      assert.strictEqual(yield* Ref.get(add.runs), 2, "the recorded call is not re-run")
      assert.deepStrictEqual(results(again).map((r) => [r.callId, r.output]), [["c1", 5]])

      // cut after the final answer (before rath.run.end): no model call at all
      const fourth = yield* scripted([])
      const ended = yield* on(fourth, Resume.resume(agent)(cutAt(full, full.length - 1)))
      assert.strictEqual((yield* fourth.requests).length, 0)
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(ended)).reason, "stop")
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(ended)).turns, 2)
    }).pipe(ids))

  it.effect("fromStore loads a cut run, resumes it and saves the continuation", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore.SessionStore
      const add = yield* counted("add", { idempotent: true })
      const agent = Agent.make({ name: "adder", tools: [add.tool] })
      const first = yield* scripted([Scripted.toolCall("add", { a: 2, b: 3 }, { id: "c1" }), Scripted.reply("5")])
      const full = yield* on(first, Effect.flatMap(Session.fromUserMessage("2+3?"), agent))
      const crashed = cutAt(full, entriesOf(full).findIndex((e) => e._tag === "ToolResult") + 1)
      yield* store.save(crashed)
      const second = yield* scripted([Scripted.reply("5")])
      const resumed = yield* on(second, Resume.fromStore(agent)(crashed.id))
      assert.strictEqual(yield* Ref.get(add.runs), 1, "the stored result is not re-run")
      assert.strictEqual((yield* second.requests).length, 1)
      assert.isTrue(Equal.equals(yield* store.load(resumed.id), resumed))
      const missing = yield* on(second, Resume.fromStore(agent)("s_missing")).pipe(Effect.flip)
      assert.strictEqual((missing as SessionStore.SessionStoreError).reason, "NotFound")
    }).pipe(Effect.provide(SessionStore.layerMemory), ids))

  it.effect("a missing result of a non-idempotent tool stops the resume with a typed error naming it", () =>
    Effect.gen(function*() {
      const pay = yield* counted("pay", { idempotent: false })
      const agent = Agent.make({ name: "payer", tools: [pay.tool] })
      const first = yield* scripted([Scripted.toolCall("pay", { a: 1, b: 1 }, { id: "p1" }), Scripted.reply("paid")])
      const full = yield* on(first, Effect.flatMap(Session.fromUserMessage("pay"), agent))
      const at = entriesOf(full).findIndex((e) => e._tag === "Assistant")
      const second = yield* scripted([Scripted.reply("never")])
      const error = yield* on(second, Resume.resume(agent)(cutAt(full, at + 1))).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ResumeError")
      const resumeError = error as Resume.ResumeError
      assert.strictEqual(resumeError.reason, "NotIdempotent")
      assert.deepStrictEqual(resumeError.calls, [{ id: "p1", name: "pay" }])
      assert.include(resumeError.message, "pay (p1)")
      assert.strictEqual((yield* second.requests).length, 0)
      assert.strictEqual(yield* Ref.get(pay.runs), 1)
    }).pipe(ids))

  it.effect("another agent, changed instructions or tool schemas: AgentMismatch; no run: NoRun", () =>
    Effect.gen(function*() {
      const add = yield* counted("add", { idempotent: true })
      const agent = Agent.make({ name: "adder", instructions: "Add.", tools: [add.tool] })
      const first = yield* scripted([Scripted.toolCall("add", { a: 2, b: 3 }, { id: "c1" }), Scripted.reply("5")])
      const full = yield* on(first, Effect.flatMap(Session.fromUserMessage("2+3?"), agent))
      const crashed = cutAt(full, full.length - 2)
      const attempts = [
        Agent.make({ name: "other", instructions: "Add.", tools: [add.tool] }),
        Agent.make({ name: "adder", instructions: "Add carefully.", tools: [add.tool] }),
        Agent.make({ name: "adder", instructions: "Add." })
      ]
      const reasons: Array<string> = []
      for (const other of attempts) {
        const error = yield* on(first, Resume.resume(other)(crashed)).pipe(Effect.flip)
        reasons.push(`${(error as Resume.ResumeError).reason}: ${(error as Resume.ResumeError).detail}`)
      }
      assert.match(reasons[0]!, /^AgentMismatch: the run was made by agent adder/)
      assert.match(reasons[1]!, /^AgentMismatch: the instructions differ/)
      assert.match(reasons[2]!, /^AgentMismatch: the tool schemas differ/)

      const plain = yield* Session.fromUserMessage("hi")
      const noRun = yield* on(first, Resume.resume(agent)(plain)).pipe(Effect.flip)
      assert.strictEqual((noRun as Resume.ResumeError).reason, "NoRun")
      // a finished run has nothing in flight: returned as it is
      assert.strictEqual(yield* on(first, Resume.resume(agent)(full)), full)
    }).pipe(ids))
})
