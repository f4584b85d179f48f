/**
 * Eval: datasets, every scorer, runs (50 cases on the scripted provider, continue, re-run failed,
 * budget), re-scoring from recordings, the paired comparison and both exports.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, Option, Ref, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  Agent,
  Entry,
  Eval,
  LocalSandbox,
  Placement,
  Provider,
  Sandbox,
  Scripted,
  Session,
  SessionStore,
  Tool
} from "rath"

// -----------------------------------------------------------------------------
// helpers
// -----------------------------------------------------------------------------

const lastUser = (request: Provider.Request): string => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!
    if (message._tag === "User") return message.text
  }
  return ""
}

const isJudge = (request: Provider.Request) =>
  request.messages[0]?._tag === "System" && request.messages[0].text.startsWith("You are grading")

/** Answers "What is a + b?" with the sum, wrong when the sum is in `wrong`; a judge passes answers containing "4". */
const arithmetic = (wrong: ReadonlySet<number> = new Set()) => (request: Provider.Request): Scripted.Step => {
  if (isJudge(request)) {
    const answer = [...request.messages].reverse().find((m) => m._tag === "Assistant")
    const good = answer?._tag === "Assistant" && answer.text.includes("4")
    return Scripted.reply(JSON.stringify({ pass: good, score: good ? 0.9 : 0.1, reason: "checked" }))
  }
  const match = /What is (\d+) \+ (\d+)\?/.exec(lastUser(request))
  const sum = match === null ? 0 : Number(match[1]) + Number(match[2])
  return Scripted.reply(String(wrong.has(sum) ? sum + 1 : sum))
}

const datasetOf = (n: number) =>
  Array.from(
    { length: n },
    (_, i) =>
      JSON.stringify({
        id: `q${i}`,
        input: `What is ${i} + ${i}?`,
        expected: String(2 * i),
        metadata: { parity: i % 2 === 0 ? "even" : "odd" }
      })
  ).join("\n")

const solver = Agent.make({ name: "solver", instructions: "Answer with the number only." })

/** A case with an answer already given: what a scorer sees. */
const answered = (answer: string, c: Partial<Eval.Case> = {}) =>
  Effect.gen(function*() {
    const session = yield* Session.make([Entry.user("question"), Entry.assistant({ text: answer })])
    const kase: Eval.Case = { id: "c1", line: 1, input: "question", ...c }
    return { case: kase, session, output: answer }
  })

const verdictOf = <E, R>(scorer: Eval.Scorer<E, R>, input: Eval.ScoreInput) =>
  Effect.map(scorer.score(input), (scored) => scored.verdict)

// -----------------------------------------------------------------------------
// datasets
// -----------------------------------------------------------------------------

describe("Eval datasets", () => {
  it.effect("parses cases, skipping blank lines but keeping line numbers; ids default to the line", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(
        `{"input":"a","expected":"A"}\n\n{"id":"x","input":{"q":1},"metadata":{"k":"v"}}\n`
      )
      assert.deepStrictEqual(cases.map((c) => [c.id, c.line]), [["line-1", 1], ["x", 3]])
      assert.deepStrictEqual(cases[1]!.input, { q: 1 })
      assert.deepStrictEqual(cases[1]!.metadata, { k: "v" })
    }))

  it.effect("a bad line fails with its number and what is wrong", () =>
    Effect.gen(function*() {
      const notJson = yield* Eval.parseDataset(`{"input":"a"}\n{"input":"b"}\n{"input": oops}`, { source: "d.jsonl" })
        .pipe(Effect.flip)
      assert.strictEqual(notJson.reason, "InvalidDataset")
      assert.strictEqual(notJson.line, 3)
      assert.match(notJson.message, /d\.jsonl: line 3 is not a case/)
      const noInput = yield* Eval.parseDataset(`{"input":"a"}\n{"expected":"b"}`).pipe(Effect.flip)
      assert.strictEqual(noInput.line, 2)
      assert.match(noInput.message, /input/)
      const duplicate = yield* Eval.parseDataset(`{"id":"a","input":"1"}\n{"id":"a","input":"2"}`).pipe(Effect.flip)
      assert.strictEqual(duplicate.line, 2)
      assert.match(duplicate.message, /repeats line 1/)
      const empty = yield* Eval.parseDataset("\n\n").pipe(Effect.flip)
      assert.match(empty.message, /no case/)
    }))
})

// -----------------------------------------------------------------------------
// scorers
// -----------------------------------------------------------------------------

describe("Eval scorers", () => {
  it.effect("exact: text (whitespace collapsed, optional case-insensitivity) and JSON (keys in any order)", () =>
    Effect.gen(function*() {
      assert.isTrue((yield* verdictOf(Eval.exact(), yield* answered("  Paris \n", { expected: "Paris" }))).passed)
      assert.isFalse((yield* verdictOf(Eval.exact(), yield* answered("paris", { expected: "Paris" }))).passed)
      assert.isTrue(
        (yield* verdictOf(Eval.exact({ caseInsensitive: true }), yield* answered("paris", { expected: "Paris" })))
          .passed
      )
      const json = yield* verdictOf(
        Eval.exact(),
        yield* answered("```json\n{\"b\":2,\"a\":1}\n```", { expected: { a: 1, b: 2 } })
      )
      assert.isTrue(json.passed)
      const wrong = yield* verdictOf(Eval.exact(), yield* answered("{\"a\":1}", { expected: { a: 1, b: 2 } }))
      assert.isFalse(wrong.passed)
      assert.strictEqual(wrong.score, 0)
      const missing = yield* verdictOf(Eval.exact(), yield* answered("x"))
      assert.isFalse(missing.passed)
      assert.match(String(missing.details?.reason), /no expected value/)
    }))

  it.effect("contains: one text, or every text of a list with the fraction found as the score", () =>
    Effect.gen(function*() {
      assert.isTrue(
        (yield* verdictOf(Eval.contains(), yield* answered("The capital is Paris.", { expected: "Paris" }))).passed
      )
      const partial = yield* verdictOf(
        Eval.contains(),
        yield* answered("red and green", { expected: ["red", "green", "blue", "white"] })
      )
      assert.isFalse(partial.passed)
      assert.strictEqual(partial.score, 0.5)
      assert.deepStrictEqual(partial.details?.missing, ["blue", "white"])
    }))

  it.effect("regex: a given pattern, or the expected string as one; a bad pattern fails the check", () =>
    Effect.gen(function*() {
      assert.isTrue((yield* verdictOf(Eval.regex(/^\d{3}$/), yield* answered("123"))).passed)
      assert.isFalse((yield* verdictOf(Eval.regex(/^\d{3}$/g), yield* answered("1234"))).passed)
      assert.isTrue(
        (yield* verdictOf(Eval.regex(), yield* answered("order #42 shipped", { expected: "#\\d+" }))).passed
      )
      const bad = yield* verdictOf(Eval.regex("("), yield* answered("x"))
      assert.isFalse(bad.passed)
      assert.match(String(bad.details?.reason), /invalid pattern/)
    }))

  it.effect("jsonSchema: a JSON Schema document (given or as the expected value) and an Effect Schema", () =>
    Effect.gen(function*() {
      const schema = {
        type: "object",
        required: ["name", "age"],
        additionalProperties: false,
        properties: {
          name: { type: "string", minLength: 1 },
          age: { type: "integer", minimum: 0 },
          tags: { type: "array", items: { enum: ["a", "b"] } }
        }
      }
      assert.isTrue(
        (yield* verdictOf(Eval.jsonSchema(schema), yield* answered("{\"name\":\"Ada\",\"age\":36,\"tags\":[\"a\"]}")))
          .passed
      )
      const invalid = yield* verdictOf(
        Eval.jsonSchema(schema),
        yield* answered("{\"name\":\"\",\"age\":-1,\"tags\":[\"c\"],\"x\":1}")
      )
      assert.isFalse(invalid.passed)
      const errors = invalid.details?.errors as ReadonlyArray<string>
      assert.includeMembers([...errors], [
        "$.name: shorter than 1 characters",
        "$.age: less than 0",
        "$.tags[0]: must be one of [\"a\",\"b\"]",
        "$: unexpected property \"x\""
      ])
      const fromExpected = yield* verdictOf(
        Eval.jsonSchema(),
        yield* answered("[1,2]", { expected: { type: "array", maxItems: 1 } })
      )
      assert.deepStrictEqual(fromExpected.details?.errors, ["$: more than 1 items"])
      assert.isFalse((yield* verdictOf(Eval.jsonSchema(schema), yield* answered("not json"))).passed)
      const Person = Schema.Struct({ name: Schema.String, age: Schema.Number })
      assert.isTrue(
        (yield* verdictOf(Eval.jsonSchema(Person), yield* answered("{\"name\":\"Ada\",\"age\":36}"))).passed
      )
      const bad = yield* verdictOf(Eval.jsonSchema(Person), yield* answered("{\"name\":\"Ada\"}"))
      assert.isFalse(bad.passed)
      assert.strictEqual((bad.details?.schema as { type: string }).type, "object")
    }))

  it.live("command: runs in the case session's sandbox with the output in its environment; exit 0 passes", () =>
    Effect.gen(function*() {
      const base = yield* answered("42", { expected: "42" })
      const session = yield* Sandbox.place(base.session, Placement.make({ backend: "local" }))
      const handle = yield* Sandbox.handleFor(session)
      Fs.writeFileSync(Path.join(handle.workspace, "answer.txt"), "42\n")
      const input = { ...base, session }
      const pass = yield* verdictOf(
        Eval.command(`test "$(cat answer.txt)" = "$RATH_EVAL_OUTPUT" && test "$RATH_EVAL_EXPECTED" = '"42"'`),
        input
      )
      assert.isTrue(pass.passed, JSON.stringify(pass.details))
      const fail = yield* verdictOf(Eval.command(["sh", "-c", "echo nope >&2; exit 3"], { name: "tests" }), input)
      assert.isFalse(fail.passed)
      assert.strictEqual(fail.details?.exitCode, 3)
      assert.match(String(fail.details?.stderr), /nope/)
      const expected3 = yield* verdictOf(Eval.command("exit 3", { exitCode: 3 }), input)
      assert.isTrue(expected3.passed)
      const unplaced = yield* Eval.command("true").score(base).pipe(Effect.flip)
      assert.strictEqual(unplaced.reason, "ScorerFailed")
      assert.match(unplaced.message, /no placement/)
    }).pipe(Effect.scoped, Effect.provide(LocalSandbox.layer({ idleTimeToLive: "1 minute" }))))

  it.effect("judge: one model call with purpose judge recorded on the session; its JSON verdict is the check", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make((request) => arithmetic()(request))
      const input = yield* answered("2 + 2 = 4", { expected: "4" })
      const scored = yield* Eval.judge({ rubric: "The sum must be right." }).score(input).pipe(
        Effect.provideService(Provider.Provider, scripted.service)
      )
      assert.isTrue(scored.verdict.passed)
      assert.strictEqual(scored.verdict.score, 0.9)
      const call = Option.getOrThrow(Session.lastOf(scored.session!, "ModelCall"))
      assert.strictEqual(call.purpose, "judge")
      assert.strictEqual(call.provider?.kind, "scripted")
      const sent = (yield* scripted.requests)[0]!
      assert.match(
        sent.messages.at(-1)!._tag === "User" ? (sent.messages.at(-1) as { text: string }).text : "",
        /Expected answer: 4/
      )
      assert.strictEqual(sent.temperature, 0)
      // an answer that is no verdict fails the check and keeps the answer
      const confused = yield* Eval.judge({ rubric: "r" }).score(input).pipe(
        Effect.provide(Scripted.layer([Scripted.reply("I cannot say.")]))
      )
      assert.isFalse(confused.verdict.passed)
      assert.strictEqual(confused.verdict.details?.answer, "I cannot say.")
      const word = yield* Eval.judge({ rubric: "r" }).score(input).pipe(
        Effect.provide(Scripted.layer([Scripted.reply("Verdict: PASS")]))
      )
      assert.isTrue(word.verdict.passed)
    }))

  it.effect("a custom scorer", () =>
    Effect.gen(function*() {
      const short = Eval.scorer("short", ({ output }) => Effect.succeed({ passed: output.length < 5, score: 0.25 }))
      const verdict = yield* verdictOf(short, yield* answered("abc"))
      assert.deepStrictEqual([verdict.passed, verdict.score], [true, 0.25])
    }))
})

describe("Eval.measure", () => {
  it.effect("counts calls, tool errors, retries, branches, checks, judge calls and cost from the entries", () =>
    Effect.gen(function*() {
      const usage = { inputTokens: 1000, outputTokens: 500, totalTokens: 1500 }
      const call = (id: string) => ({ id, name: "run", arguments: "{}", parsedArguments: {} })
      const base = yield* Session.make([
        Entry.user("fix the build"),
        Entry.assistant({ text: "", toolCalls: [call("c1")], model: "gpt-x-2026", usage, latencyMs: 40 }),
        Entry.toolResult({
          callId: "c1",
          toolName: "run",
          output: null,
          error: { kind: "tool_failed", message: "exit 1" },
          durationMs: 3
        }),
        Entry.assistant({ text: "", toolCalls: [call("c2")], model: "gpt-x-2026", usage, latencyMs: 60 }),
        Entry.toolResult({ callId: "c2", toolName: "run", output: "ok", durationMs: 3 }),
        Entry.check("tests", false)
      ])
      const left = yield* Session.fork(base).pipe(
        Effect.flatMap(Session.append(Entry.assistant({ text: "done", model: "gpt-x-2026", usage })))
      )
      const right = yield* Session.fork(base).pipe(Effect.flatMap(Session.append(Entry.check("lint", true))))
      const merged = yield* Session.merge(left, right)
      const judged = yield* Session.append(merged, {
        _tag: "ModelCall",
        purpose: "judge",
        text: "{}",
        toolCalls: [],
        model: "judge-model",
        usage: { inputTokens: 10, outputTokens: 2, totalTokens: 12 }
      } as Entry.DraftFor<"ModelCall">)
      const m = Eval.measure(judged, 123, { "gpt-x": { input: 2, output: 10 }, "judge-model": { input: 0, output: 0 } })
      assert.strictEqual(m.modelCalls, 3)
      assert.strictEqual(m.tokens, 4500)
      assert.strictEqual(m.toolCalls, 2)
      assert.strictEqual(m.toolErrors, 1)
      // the failed tool called again, and the failed check followed by another model call
      assert.strictEqual(m.retries, 2)
      assert.strictEqual(m.branches, 2)
      assert.deepStrictEqual([m.checks, m.checksPassed], [2, 1])
      assert.deepStrictEqual([m.judgeCalls, m.judgeTokens], [1, 12])
      assert.strictEqual(m.latencyMs, 123)
      assert.strictEqual(m.modelLatencyMs, 100)
      // 3 calls of 1000 input at $2/M and 500 output at $10/M (the longest prefix "gpt-x" prices them)
      assert.closeTo(m.cost!, 3 * (1000 * 2 + 500 * 10) / 1_000_000, 1e-12)
      const unpriced = Eval.measure(judged, 0, { "other": { input: 1, output: 1 } })
      assert.isUndefined(unpriced.cost)
      assert.deepStrictEqual(unpriced.unpriced, ["gpt-x-2026", "judge-model"])
    }))
})

// -----------------------------------------------------------------------------
// runs
// -----------------------------------------------------------------------------

describe("Eval.run", () => {
  it.effect("a scorer that fails fails its case, not the run", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(4))
      const flaky = Eval.scorer("flaky", ({ case: c }) =>
        c.id === "q2" ? Effect.fail(new Error("judge unavailable")) : Effect.succeed({ passed: true }))
      const report = yield* Eval.run({ dataset: cases, workflow: solver, scorers: [flaky], concurrency: 2 }).pipe(
        Effect.provide([SessionStore.layerMemory, Scripted.layer(arithmetic())])
      )
      assert.strictEqual(report.cases.length, 4)
      const failed = report.cases.filter((c) =>
        !c.pass
      )
      assert.deepStrictEqual(failed.map((c) => c.caseId), ["q2"])
      assert.match(failed[0]!.error ?? "", /judge unavailable/)
    }))

  it.effect("50 cases on the scripted provider: results, totals, saved case sessions with lineage to the run", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(50))
      const progress = yield* Ref.make<Array<Eval.Progress>>([])
      const report = yield* Eval.run({
        name: "sums",
        dataset: cases,
        workflow: solver,
        scorers: [Eval.exact(), Eval.regex(/^\d+$/, { name: "number" })],
        concurrency: 8,
        prices: { "scripted-model": { input: 1, output: 2 } },
        onProgress: (p) => Ref.update(progress, (all) => [...all, p])
      }).pipe(Effect.provide(Scripted.layer(arithmetic(new Set([10, 20, 30, 40, 50])))))
      assert.strictEqual(report.cases.length, 50)
      assert.strictEqual(report.totals.passed, 45)
      assert.strictEqual(report.totals.passRate, 0.9)
      assert.strictEqual(report.totals.modelCalls, 50)
      assert.strictEqual(report.totals.checks, 100)
      assert.strictEqual(report.totals.checksPassed, 95)
      assert.isAbove(report.totals.tokens, 0)
      assert.isDefined(report.totals.cost)
      assert.closeTo(report.totals.meanScore, (45 + 5 * 0.5) / 50, 1e-9)
      const failed = report.cases.filter((c) => !c.pass).map((c) => c.caseId)
      assert.deepStrictEqual(failed, ["q5", "q10", "q15", "q20", "q25"])
      assert.deepStrictEqual(report.cases.map((c) => c.line), Array.from({ length: 50 }, (_, i) => i + 1))
      const seen = yield* Ref.get(progress)
      assert.strictEqual(seen.length, 50)
      assert.strictEqual(seen.at(-1)!.done, 50)
      assert.strictEqual(seen.at(-1)!.passed, 45)
      // each case is a stored session: input, the agent's answer, the checks; its ancestry reaches the run
      const store = yield* SessionStore.SessionStore
      const first = report.cases[0]!
      const session = yield* store.load(first.session)
      const tags = Chunk.toReadonlyArray(Session.entries(session)).map((e) => e._tag === "Custom" ? e.type : e._tag)
      assert.deepStrictEqual(tags.slice(0, 3), ["rath.eval.run", "rath.eval.case", "User"])
      assert.deepStrictEqual(tags.slice(-3), ["Check", "Check", "rath.eval.result"])
      const ancestors = yield* store.ancestors(first.session)
      assert.include(ancestors.map((a) => a.id), report.id)
      assert.strictEqual(first.metrics.modelCalls, 1)
      assert.strictEqual(first.metadata?.parity, "even")
      // the stored run reads back the same
      const loaded = yield* Eval.load(report.id)
      assert.deepStrictEqual(loaded.cases, report.cases)
      assert.match(Eval.summary(loaded), /45\/50 passed \(90\.0%\)/)
    }).pipe(Effect.provide(SessionStore.layerMemory)))

  it.effect("an interrupted run continues where it stopped: saved cases are not run again", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(10))
      const calls = yield* Ref.make(0)
      const interrupting = (session: Session.Session) =>
        Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) => n === 5 ? Effect.interrupt : solver(session))
      const exit = yield* Effect.exit(
        Eval.run({ dataset: cases, workflow: interrupting, scorers: [Eval.exact()], concurrency: 1 })
      )
      assert.isTrue(Exit.isInterrupted(exit))
      const store = yield* SessionStore.SessionStore
      const runs = (yield* store.list()).filter((s) => s.lineage.parents.length === 0)
      assert.strictEqual(runs.length, 1)
      const partial = yield* Eval.load(runs[0]!.id)
      assert.strictEqual(partial.cases.length, 4)
      yield* Ref.set(calls, 0)
      const counting = (session: Session.Session) => Effect.zipRight(Ref.update(calls, (n) => n + 1), solver(session))
      const report = yield* Eval.run({
        dataset: cases,
        workflow: counting,
        scorers: [Eval.exact()],
        continue: partial.id
      })
      assert.strictEqual(report.id, partial.id)
      assert.strictEqual(report.skipped, 4)
      assert.strictEqual(report.ran, 6)
      assert.strictEqual(yield* Ref.get(calls), 6)
      assert.strictEqual(report.cases.length, 10)
      assert.strictEqual(report.totals.passed, 10)
      // a different dataset cannot continue it
      const other = yield* Eval.parseDataset(datasetOf(3))
      const refused = yield* Eval.run({
        dataset: other,
        workflow: solver,
        scorers: [Eval.exact()],
        continue: partial.id
      }).pipe(Effect.flip)
      assert.strictEqual(refused.reason, "InvalidRun")
      // nor other scorers: one run holds one set of verdicts
      const rescored = yield* Eval.run({
        dataset: cases,
        workflow: solver,
        scorers: [Eval.contains()],
        continue: partial.id
      }).pipe(Effect.flip)
      assert.strictEqual(rescored.reason, "InvalidRun")
      assert.match(rescored.message, /scored by exact/)
    }).pipe(Effect.provide([SessionStore.layerMemory, Scripted.layer(arithmetic())])))

  it.effect("a run whose last records never reached the run session recovers them from the saved case sessions", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(10))
      const full = yield* Eval.run({ dataset: cases, workflow: solver, scorers: [Eval.exact()] })
      // a store as a crash would leave it: every case session saved, the run session with 2 records
      const before = yield* SessionStore.SessionStore
      const after = yield* SessionStore.makeMemory
      const runSession = yield* before.load(full.id)
      yield* after.save(Session.take(runSession, 3))
      for (const result of full.cases) {
        yield* after.save(yield* before.load(result.input!))
        yield* after.save(yield* before.load(result.session))
      }
      const calls = yield* Ref.make(0)
      const counting = (session: Session.Session) => Effect.zipRight(Ref.update(calls, (n) => n + 1), solver(session))
      const continued = yield* Eval.run({
        dataset: cases,
        workflow: counting,
        scorers: [Eval.exact()],
        continue: full.id
      }).pipe(
        Effect.provideService(SessionStore.SessionStore, after)
      )
      assert.strictEqual(yield* Ref.get(calls), 0)
      assert.strictEqual(continued.skipped, 10)
      assert.deepStrictEqual(continued.cases, full.cases)
    }).pipe(Effect.provide([SessionStore.layerMemory, Scripted.layer(arithmetic())])))

  it.effect("re-runs only the failed cases; a workflow failure fails its case, not the run", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(6))
      const flaky = (session: Session.Session) =>
        (Session.lastOf(session, "User").pipe(Option.getOrThrow).text.includes(" 3 + 3")
          ? Effect.fail(new Provider.ProviderError({ reason: "Unavailable", provider: "test", detail: "down" }))
          : Effect.void).pipe(Effect.zipRight(solver(session)))
      const first = yield* Eval.run({ dataset: cases, workflow: flaky, scorers: [Eval.exact()] }).pipe(
        Effect.provide(Scripted.layer(arithmetic(new Set([4]))))
      )
      assert.deepStrictEqual(first.cases.filter((c) => !c.pass).map((c) => c.caseId), ["q2", "q3"])
      const errored = first.cases.find((c) => c.caseId === "q3")!
      assert.match(errored.error ?? "", /down/)
      const calls = yield* Ref.make<Array<string>>([])
      const fixed = (session: Session.Session) =>
        Effect.zipRight(
          Ref.update(calls, (all) => [...all, Session.lastOf(session, "User").pipe(Option.getOrThrow).text]),
          solver(session)
        )
      const second = yield* Eval.run({
        dataset: cases,
        workflow: fixed,
        scorers: [Eval.exact()],
        continue: first.id,
        rerun: "failed"
      }).pipe(
        Effect.provide(Scripted.layer(arithmetic()))
      )
      assert.deepStrictEqual(yield* Ref.get(calls), ["What is 2 + 2?", "What is 3 + 3?"])
      assert.strictEqual(second.totals.passed, 6)
      assert.deepStrictEqual(second.cases.map((c) => c.attempt), [1, 1, 2, 2, 1, 1])
    }).pipe(Effect.provide(SessionStore.layerMemory)))

  it.effect("a shared budget: cases stop when the tokens run out", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(20))
      const report = yield* Eval.run({
        dataset: cases,
        workflow: solver,
        scorers: [Eval.exact()],
        budget: 100,
        concurrency: 1
      }).pipe(
        Effect.provide(Scripted.layer(arithmetic()))
      )
      const answered = report.cases.filter((c) => c.metrics.modelCalls > 0).length
      assert.isAbove(answered, 0)
      assert.isBelow(answered, 20)
      assert.isAtMost(report.totals.tokens, 100)
      assert.strictEqual(report.spec.budget, 100)
    }).pipe(Effect.provide(SessionStore.layerMemory)))

  it.live("prepare binds each case to a sandbox; the workflow works there and a command scorer checks its files", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(4))
      const writer = (session: Session.Session) =>
        Effect.scoped(Effect.gen(function*() {
          const handle = yield* Sandbox.handleFor(session)
          const n = Number(/What is (\d+)/.exec(Option.getOrThrow(Session.lastOf(session, "User")).text)![1])
          if (n !== 2) yield* handle.write("answer.txt", String(2 * n))
          return yield* Session.append(session, Entry.assistant({ text: "written" }))
        }))
      const report = yield* Eval.run({
        dataset: cases,
        workflow: writer,
        prepare: (session) => Sandbox.place(session, Placement.make({ backend: "local" })),
        scorers: [
          Eval.command((input) => `test "$(cat answer.txt)" = ${JSON.stringify(String(input.case.expected))}`, {
            name: "file"
          })
        ]
      })
      assert.deepStrictEqual(report.cases.map((c) => c.pass), [true, true, false, true])
      assert.strictEqual(report.cases[2]!.checks[0]!.name, "file")
    }).pipe(Effect.provide([SessionStore.layerMemory, LocalSandbox.layer({ idleTimeToLive: "1 minute" })])))

  it.effect("refuses no scorer and two scorers of one name", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(1))
      const none = yield* Eval.run({ dataset: cases, workflow: solver, scorers: [] as ReadonlyArray<Eval.Scorer> })
        .pipe(Effect.flip)
      assert.match(none.message, /at least one scorer/)
      const twice = yield* Eval.run({ dataset: cases, workflow: solver, scorers: [Eval.exact(), Eval.exact()] }).pipe(
        Effect.flip
      )
      assert.match(twice.message, /two scorers are named exact/)
    }).pipe(Effect.provide([SessionStore.layerMemory, Scripted.layer(arithmetic())])))
})

describe("Eval.rescore", () => {
  it.effect("re-scores a stored run from its recordings: judges replayed, no model called", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(6))
      const scripted = yield* Scripted.make((request) => arithmetic(new Set([4]))(request))
      const rubric = "The sum must be right."
      const first = yield* Eval.run({
        dataset: cases,
        workflow: solver,
        scorers: [Eval.exact(), Eval.judge({ rubric })]
      }).pipe(
        Effect.provideService(Provider.Provider, scripted.service)
      )
      const asked = (yield* scripted.requests).length
      assert.strictEqual(asked, 12)
      assert.strictEqual(first.totals.judgeCalls, 6)
      // no Provider in context: the re-score cannot call a model
      const again = yield* Eval.rescore({
        run: first.id,
        scorers: [Eval.judge({ rubric }), Eval.contains({ name: "has-digit", expected: () => "" })]
      })
      assert.strictEqual((yield* scripted.requests).length, asked)
      assert.strictEqual(again.spec.rescoreOf, first.id)
      assert.deepStrictEqual(
        again.cases.map((c) => c.checks.find((k) => k.name === "judge")!.passed),
        first.cases.map((c) => c.checks.find((k) => k.name === "judge")!.passed)
      )
      assert.deepStrictEqual(again.cases.map((c) => c.metrics.judgeCalls), [1, 1, 1, 1, 1, 1])
      const store = yield* SessionStore.SessionStore
      const rescored = yield* store.load(again.cases[0]!.session)
      assert.deepStrictEqual(rescored.lineage.parents as ReadonlyArray<string>, [first.cases[0]!.session])
      // a judge the recording does not have cannot be answered
      const changed = yield* Eval.rescore({ run: first.id, scorers: [Eval.judge({ rubric: "Something else." })] }).pipe(
        Effect.flip
      )
      assert.strictEqual(changed._tag, "ProviderError")
      assert.strictEqual((changed as Provider.ProviderError).reason, "ReplayDiverged")
    }).pipe(Effect.provide(SessionStore.layerMemory)))
})

// -----------------------------------------------------------------------------
// comparison
// -----------------------------------------------------------------------------

describe("Eval.compare", () => {
  it("paired tests: the exact sign test and Wilcoxon signed-rank against known values", () => {
    assert.closeTo(Eval.signTest(10, 0), 2 / 1024, 1e-12)
    assert.closeTo(Eval.signTest(0, 0), 1, 0)
    // 8 vs 2: P(X <= 2) = 56/1024, two-sided 0.109375
    assert.closeTo(Eval.signTest(8, 2), 0.109375, 1e-12)
    const allUp = Eval.wilcoxon([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.strictEqual(allUp.method, "exact")
    assert.strictEqual(allUp.wPlus, 55)
    assert.closeTo(allUp.p, 2 / 1024, 1e-12)
    // n = 6, W- = 2 (rank 2 negative): P(W <= 2) = 3/64 (sums 0, 1, 2) -> two-sided 6/64
    const mixed = Eval.wilcoxon([1, -2, 3, 4, 5, 6])
    assert.closeTo(mixed.p, 6 / 64, 1e-12)
    const ties = Eval.wilcoxon([0.5, 0.5, 0.5, -0.2, 0.5, 0.5, 0.5, 0.5, 0, 0.5])
    assert.strictEqual(ties.method, "normal")
    assert.strictEqual(ties.n, 9)
    assert.isBelow(ties.p, 0.05)
  })

  it.effect("compares two runs case by case, as text and as an HTML page with plots", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(30))
      const wrongA = new Set([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24])
      const a = yield* Eval.run({ name: "baseline", dataset: cases, workflow: solver, scorers: [Eval.exact()] }).pipe(
        Effect.provide(Scripted.layer(arithmetic(wrongA)))
      )
      const b = yield* Eval.run({ name: "variant", dataset: cases, workflow: solver, scorers: [Eval.exact()] }).pipe(
        Effect.provide(Scripted.layer(arithmetic(new Set([24, 26]))))
      )
      const comparison = Eval.compare(a, b)
      assert.strictEqual(comparison.cases.length, 30)
      assert.isTrue(comparison.sameDataset)
      assert.strictEqual(comparison.pass.fixed, 11)
      assert.strictEqual(comparison.pass.broken, 1)
      assert.strictEqual(comparison.pass.bothFail, 1)
      assert.closeTo(comparison.pass.p, Eval.signTest(11, 1), 1e-12)
      assert.isBelow(comparison.pass.p, 0.01)
      assert.strictEqual(comparison.score.higher, 11)
      assert.strictEqual(comparison.score.lower, 1)
      const text = Eval.compareText(comparison)
      assert.match(text, /fixed 11\s+broken 1\s+McNemar exact p=0\.006/)
      assert.match(text, /- q13 \(line 14\) broken/)
      const html = Eval.compareHtml(comparison)
      assert.match(html, /^<!doctype html>/)
      assert.strictEqual((html.match(/<svg /g) ?? []).length, 3)
      assert.notMatch(html, /<script|src="http|href="http/)
      assert.match(html, /<tr class="fixed"><td>q1<\/td>/)
    }).pipe(Effect.provide(SessionStore.layerMemory)))
})

// -----------------------------------------------------------------------------
// exports
// -----------------------------------------------------------------------------

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

describe("Eval exports", () => {
  it.effect("chat fine-tuning JSONL: messages with tool calls and results, the tools, filters", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(4))
      const calculator = Agent.make({ name: "calc", instructions: "Use the add tool.", tools: [add] })
      const script = (request: Provider.Request): Scripted.Step => {
        const last = request.messages.at(-1)!
        if (last._tag === "ToolResult") return Scripted.reply(String(last.output === 2 ? 3 : last.output))
        const match = /What is (\d+) \+ (\d+)\?/.exec(lastUser(request))!
        return Scripted.toolCall("add", { a: Number(match[1]), b: Number(match[2]) })
      }
      const report = yield* Eval.run({ dataset: cases, workflow: calculator, scorers: [Eval.exact()] }).pipe(
        Effect.provide(Scripted.layer(script))
      )
      assert.strictEqual(report.totals.passed, 3)
      assert.strictEqual(report.totals.toolCalls, 4)
      const items = yield* Eval.items(report)
      const all = yield* Eval.exportChat(items)
      assert.strictEqual(all.length, 4)
      const example = all[0]!
      assert.deepStrictEqual(example.messages.map((m) => m.role), ["system", "user", "assistant", "tool", "assistant"])
      const call = example.messages[2]!
      assert.strictEqual(call.role === "assistant" ? call.tool_calls?.[0]?.function.name : undefined, "add")
      assert.strictEqual(example.messages[3]!.content, "0")
      assert.deepStrictEqual(example.tools?.map((t) => t.function.name), ["add"])
      assert.strictEqual(example.metadata?.case, "q0")
      const passing = yield* Eval.exportChat(items, { passed: true })
      assert.deepStrictEqual(passing.map((e) => e.metadata?.case), ["q0", "q2", "q3"])
      const odd = yield* Eval.exportChat(items, { metadata: { parity: "odd" } })
      assert.deepStrictEqual(odd.map((e) => e.metadata?.case), ["q1", "q3"])
      // every line is valid against the schema, and JSONL round-trips
      const lines = Eval.toJsonl(all).trimEnd().split("\n")
      assert.strictEqual(lines.length, 4)
      for (const line of lines) {
        assert.isTrue(Either.isRight(Schema.decodeUnknownEither(Schema.parseJson(Eval.ChatExample))(line)))
      }
      // the schema refuses a trajectory that does not end with the assistant
      assert.isTrue(
        Either.isLeft(Schema.decodeUnknownEither(Eval.ChatExample)({ messages: [{ role: "user", content: "hi" }] }))
      )
    }).pipe(Effect.provide(SessionStore.layerMemory)))

  it.effect("preference pairs from forks: same prompt, the passing branch chosen and the failing one rejected", () =>
    Effect.gen(function*() {
      const input = yield* Session.make([Entry.system("Be exact."), Entry.user("What is 2 + 2?")])
      const good = yield* Session.fork(input).pipe(
        Effect.flatMap(Session.appendAll([Entry.assistant({ text: "4" }), Entry.check("exact", true)]))
      )
      const bad = yield* Session.fork(input).pipe(
        Effect.flatMap(Session.appendAll([Entry.assistant({ text: "5" }), Entry.check("exact", false)]))
      )
      const unchecked = yield* Session.fork(input).pipe(
        Effect.flatMap(Session.append(Entry.assistant({ text: "four" })))
      )
      const other = yield* Session.make([
        Entry.user("Unrelated"),
        Entry.assistant({ text: "x" }),
        Entry.check("exact", false)
      ])
      const pairs = yield* Eval.exportPreferences([good, bad, unchecked, other].map((session) => ({ session })))
      // the unchecked branch counts as failing (no check passed), so two pairs, both chosen "4"
      assert.strictEqual(pairs.length, 2)
      const pair = pairs[0]!
      assert.deepStrictEqual(pair.prompt, [{ role: "system", content: "Be exact." }, {
        role: "user",
        content: "What is 2 + 2?"
      }])
      assert.deepStrictEqual(pair.chosen, [{ role: "assistant", content: "4" }])
      assert.deepStrictEqual(pair.rejected, [{ role: "assistant", content: "5" }])
      assert.strictEqual(pair.metadata?.chosenSession, good.id)
      assert.strictEqual(pair.metadata?.rejectedSession, bad.id)
      const one = yield* Eval.exportPreferences([good, bad, unchecked].map((session) => ({ session })), {
        maxPerPrompt: 1
      })
      assert.strictEqual(one.length, 1)
      for (const line of Eval.toJsonl(pairs).trimEnd().split("\n")) {
        assert.isTrue(Either.isRight(Schema.decodeUnknownEither(Schema.parseJson(Eval.PreferencePair))(line)))
      }
    }))

  it.effect("preference pairs across two runs of one dataset: the same case passed in one and failed in the other", () =>
    Effect.gen(function*() {
      const cases = yield* Eval.parseDataset(datasetOf(5))
      const a = yield* Eval.run({ dataset: cases, workflow: solver, scorers: [Eval.exact()] }).pipe(
        Effect.provide(Scripted.layer(arithmetic(new Set([2, 4]))))
      )
      const b = yield* Eval.run({ dataset: cases, workflow: solver, scorers: [Eval.exact()] }).pipe(
        Effect.provide(Scripted.layer(arithmetic(new Set([8]))))
      )
      const items = [...(yield* Eval.items(a)), ...(yield* Eval.items(b))]
      const pairs = yield* Eval.exportPreferences(items)
      assert.deepStrictEqual(pairs.map((p) => [p.metadata?.case, p.chosen[0]!.content, p.rejected[0]!.content]), [
        ["q1", "2", "3"],
        ["q2", "4", "5"],
        ["q4", "8", "9"]
      ])
      const onlyQ4 = yield* Eval.exportPreferences(items, { cases: ["q4"] })
      assert.strictEqual(onlyQ4.length, 1)
    }).pipe(Effect.provide(SessionStore.layerMemory)))
})
