/**
 * Eval throughput (not CI): 1,000 cases, each an agent run of 3 model calls (two `add` tool calls,
 * then the answer) that each take 20 ms, at concurrency 100, scored by `exact`, every case saved.
 * Ideal wall time: 1,000 / 100 x 3 x 20 ms = 600 ms. The target is at most 2x that.
 *
 * First the same 1,000 agent runs with no eval (the floor this machine gives the workflow), then
 * the eval with the in-memory `SessionStore` and with the SQLite store in a temporary file
 * (WAL, the default), then the in-memory eval of a workflow of three plain `Model.call`s (no
 * agent loop, no tools), where the eval's own cost is most of the CPU. Prints one JSON line per store: wall time, ideal, ratio, pass count, and the
 * peak RSS and heap sampled every 10 ms while the eval runs (the process's own, after a GC).
 *
 *   node --expose-gc --import tsx bench/eval.bench.ts
 */
import { Effect, Layer, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Entry } from "rath"
import { Agent, Eval, Model, Provider, Session, SessionStore, Tool } from "rath"

const CASES = 1000
const CONCURRENCY = 100
const CALLS = 3
const SLEEP_MS = 20
const IDEAL_MS = Math.ceil(CASES / CONCURRENCY) * CALLS * SLEEP_MS

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

/** A stateless model: `add(a, b)` until two tool results follow the user message, then the sum. */
const model = (): Provider.Service => {
  let ids = 0
  const info = { kind: "scripted", model: "bench-model", host: "bench.local" }
  const usage: Entry.Usage = { inputTokens: 20, outputTokens: 5, totalTokens: 25 }
  const answer = (request: Provider.Request): ReadonlyArray<Provider.StreamPart> => {
    let results = 0
    let last: unknown = undefined
    let question = ""
    for (let i = request.messages.length - 1; i >= 0; i--) {
      const message = request.messages[i]!
      if (message._tag === "User") {
        question = message.text
        break
      }
      if (message._tag === "ToolResult") {
        if (last === undefined) last = message.output
        results++
      }
    }
    const n = Number(/(\d+)/.exec(question)?.[1] ?? 0)
    if (results < CALLS - 1) {
      return [
        { _tag: "ToolCallStart", index: 0, id: `call_${++ids}`, name: "add" },
        {
          _tag: "ToolCallDelta",
          index: 0,
          argumentsDelta: JSON.stringify({ a: results === 0 ? n : Number(last), b: 1 })
        },
        { _tag: "Usage", usage },
        { _tag: "Finish", finishReason: "tool_calls", provider: { kind: "scripted", host: "bench.local" } }
      ]
    }
    return [
      { _tag: "TextDelta", text: String(last) },
      { _tag: "Usage", usage },
      { _tag: "Finish", finishReason: "stop", provider: { kind: "scripted", host: "bench.local" } }
    ]
  }
  const whole = (request: Provider.Request) =>
    Effect.sync(() => Provider.finish(answer(request).reduce(Provider.step, Provider.emptyAccumulator), info))
  return Provider.make({
    info,
    stream: (request) => Stream.unwrap(Effect.as(Effect.sleep(SLEEP_MS), Stream.fromIterable(answer(request)))),
    chat: (request) => Effect.zipRight(Effect.sleep(SLEEP_MS), whole(request))
  })
}

/** A model that answers every request with the case's number plus 2 after 20 ms (no tool calls). */
const textModel = (): Provider.Service => {
  const info = { kind: "scripted", model: "bench-model", host: "bench.local" }
  const usage: Entry.Usage = { inputTokens: 20, outputTokens: 5, totalTokens: 25 }
  const reply = (request: Provider.Request) =>
    Effect.sync(() => {
      const user = request.messages.find((m) => m._tag === "User")
      const n = Number(/(\d+)/.exec(user?._tag === "User" ? user.text : "")?.[1] ?? 0)
      const parts: ReadonlyArray<Provider.StreamPart> = [
        { _tag: "TextDelta", text: String(n + 2) },
        { _tag: "Usage", usage },
        { _tag: "Finish", finishReason: "stop", provider: { kind: "scripted", host: "bench.local" } }
      ]
      return Provider.finish(parts.reduce(Provider.step, Provider.emptyAccumulator), info)
    })
  return Provider.make({
    info,
    stream: (request) =>
      Stream.unwrap(
        Effect.map(Effect.zipRight(Effect.sleep(SLEEP_MS), reply(request)), (r) =>
          Stream.make({ _tag: "TextDelta" as const, text: r.text }))
      ),
    chat: (request) => Effect.zipRight(Effect.sleep(SLEEP_MS), reply(request))
  })
}

/** The lightest workflow with 3 model calls: three `Model.call`s in a row, each recorded as a turn. */
const threeCalls = (session: Session.Session) =>
  Effect.gen(function*() {
    let current = session
    for (let i = 0; i < CALLS; i++) current = (yield* Model.call(current, { purpose: "turn" })).session
    return current
  })

const agent = Agent.make({ name: "adder", instructions: "Add one twice with the tool.", tools: [add] })

const dataset = Array.from(
  { length: CASES },
  (_, i) => JSON.stringify({ id: `c${i}`, input: `Start from ${i}`, expected: String(i + 2) })
)
  .join("\n")

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024 * 10) / 10

const once = (
  label: string,
  store: Layer.Layer<SessionStore.SessionStore, SessionStore.SessionStoreError>,
  workflow: (session: Session.Session) => Effect.Effect<Session.Session, unknown, Provider.Provider> = agent,
  provider: Provider.Service = model()
) =>
  Effect.gen(function*() {
    const cases = yield* Eval.parseDataset(dataset)
    ;(globalThis as { gc?: () => void }).gc?.()
    const base = process.memoryUsage()
    let peakRss = base.rss
    let peakHeap = base.heapUsed
    const sampler = setInterval(() => {
      const now = process.memoryUsage()
      peakRss = Math.max(peakRss, now.rss)
      peakHeap = Math.max(peakHeap, now.heapUsed)
    }, 10)
    const start = performance.now()
    const cpu0 = process.cpuUsage()
    let lastLine = 0
    const report = yield* Eval.run({
      name: `bench-${label}`,
      dataset: cases,
      workflow,
      scorers: [Eval.exact()],
      concurrency: CONCURRENCY,
      onProgress: (p) =>
        Effect.sync(() => {
          if (p.done === p.total || p.done - lastLine >= 250) {
            lastLine = p.done
            process.stderr.write(`eval ${label}: ${p.done}/${p.total} (${p.passed} passed) ${p.elapsedMs} ms\n`)
          }
        })
    }).pipe(Effect.provide(Layer.merge(store, Layer.succeed(Provider.Provider, provider))))
    const wallMs = performance.now() - start
    const cpu = process.cpuUsage(cpu0)
    clearInterval(sampler)
    const result = {
      bench: "eval",
      store: label,
      cases: CASES,
      modelCallsPerCase: CALLS,
      sleepMs: SLEEP_MS,
      concurrency: CONCURRENCY,
      wallMs: Math.round(wallMs),
      idealMs: IDEAL_MS,
      ratio: Math.round(wallMs / IDEAL_MS * 100) / 100,
      withinTwiceIdeal: wallMs <= 2 * IDEAL_MS,
      // CPU time the process spent (user + system): on a shared machine the wall time also
      // counts waiting for a core; this is what the eval itself costs
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      loadAverage1m: Math.round(Os.loadavg()[0]! * 10) / 10,
      passed: report.totals.passed,
      modelCalls: report.totals.modelCalls,
      toolCalls: report.totals.toolCalls,
      peakRssMb: mb(peakRss),
      peakHeapMb: mb(peakHeap),
      rssGrowthMb: mb(peakRss - base.rss)
    }
    console.log(JSON.stringify(result))
    return result
  })

/** The same 1,000 agent runs with no eval around them: what the machine gives the workflow alone. */
const bare = Effect.gen(function*() {
  const cases = yield* Eval.parseDataset(dataset)
  const start = performance.now()
  const cpu0 = process.cpuUsage()
  yield* Effect.forEach(
    cases,
    (c) => Effect.flatMap(Session.fromUserMessage(String(c.input)), (session) => agent(session)),
    { concurrency: CONCURRENCY, discard: true }
  ).pipe(Effect.provideService(Provider.Provider, model()))
  const wallMs = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  console.log(JSON.stringify({
    bench: "eval",
    store: "none (the agent runs alone, no eval)",
    wallMs: Math.round(wallMs),
    idealMs: IDEAL_MS,
    ratio: Math.round(wallMs / IDEAL_MS * 100) / 100,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    loadAverage1m: Math.round(Os.loadavg()[0]! * 10) / 10
  }))
})

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-eval-bench-"))
const program = Effect.gen(function*() {
  // warm up the JIT on a small run, uncounted
  yield* Eval.run({
    dataset: yield* Eval.parseDataset(dataset.split("\n").slice(0, 50).join("\n")),
    workflow: agent,
    scorers: [Eval.exact()],
    concurrency: 25
  }).pipe(Effect.provide(Layer.merge(SessionStore.layerMemory, Layer.succeed(Provider.Provider, model()))))
  yield* bare
  const memory = yield* once("memory", SessionStore.layerMemory)
  const sqlite = yield* once("sqlite", SessionStore.layer({ filename: Path.join(dir, "eval.db") }))
  // the same eval with the lightest 3-call workflow (no tools, no agent loop): the eval's own cost shows
  yield* once("memory, 3 Model.call", SessionStore.layerMemory, threeCalls, textModel())
  if (memory.passed !== CASES || sqlite.passed !== CASES) throw new Error("bench: not every case passed")
})

Effect.runPromise(program).then(
  () => Fs.rmSync(dir, { recursive: true, force: true }),
  (error) => {
    Fs.rmSync(dir, { recursive: true, force: true })
    console.error(error)
    process.exit(1)
  }
)
