/**
 * Agent loop benchmarks (see /work/shared/BENCH.md):
 *
 * - W4 loop overhead: 1,000 agent runs one after another, no persistence. Each run starts from
 *   a fresh user message `what is <i> + 2?`; the scripted model calls `add` once and then answers
 *   `The answer is <output>`: 2 model calls and 1 tool call per turn. `cold` is the first 1,000
 *   turns of the process, then 1,000 uncounted turns, then `warm`.
 * - W5 concurrency: 1,000 conversations started at once, each 5 model calls (4 `add` calls, then
 *   the answer) that sleep 20 ms each: ideal wall time 100 ms.
 *
 * The model is a `Provider` built here with `Provider.make` (the extension point a real adapter
 * uses), stateless and deciding only from the request, as the contract says. Prints one JSON line
 * per workload.
 */
import { Effect, Option, Schema, Stream } from "effect"
import type { Entry } from "rath"
import { Agent, Provider, Session, Tool } from "rath"

const version = "0.1.0"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(String(a + b))
})

/** The contract's scripted model: counts tool results after the last user message. */
const scriptedModel = (toolCalls: number, sleepMs: number): Provider.Service => {
  let callIds = 0
  const info = { kind: "scripted", model: "bench-model", host: "bench.local" }
  const answer = (request: Provider.Request): ReadonlyArray<Provider.StreamPart> => {
    let count = 0
    let last: unknown = undefined
    for (let i = request.messages.length - 1; i >= 0; i--) {
      const message = request.messages[i]!
      if (message._tag === "User") break
      if (message._tag === "ToolResult") {
        if (last === undefined) last = message.output
        count++
      }
    }
    const usage: Entry.Usage = { inputTokens: 10, outputTokens: 5, totalTokens: 15 }
    if (count < toolCalls) {
      return [
        { _tag: "ToolCallStart", index: 0, id: `call_${++callIds}`, name: "add" },
        { _tag: "ToolCallDelta", index: 0, argumentsDelta: JSON.stringify({ a: count, b: 2 }) },
        { _tag: "Usage", usage },
        { _tag: "Finish", finishReason: "tool_calls", provider: { kind: "scripted", host: "bench.local" } }
      ]
    }
    return [
      { _tag: "TextDelta", text: `The answer is ${String(last)}` },
      { _tag: "Usage", usage },
      { _tag: "Finish", finishReason: "stop", provider: { kind: "scripted", host: "bench.local" } }
    ]
  }
  // the whole answer at once, as the peers' models give it: the agent asks for it when nobody
  // watches the deltas (Agent.stream uses `stream`)
  const whole = (request: Provider.Request) =>
    Effect.sync(() => Provider.finish(answer(request).reduce(Provider.step, Provider.emptyAccumulator), info))
  return Provider.make({
    info,
    stream: sleepMs === 0
      ? (request) => Stream.fromIterable(answer(request))
      : (request) => Stream.unwrap(Effect.as(Effect.sleep(sleepMs), Stream.fromIterable(answer(request)))),
    chat: sleepMs === 0 ? whole : (request) => Effect.zipRight(Effect.sleep(sleepMs), whole(request))
  })
}

const agent = Agent.make({ name: "calculator", tools: [add] })

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
const round = (n: number) => Math.round(n * 10) / 10

const turn = (i: number) =>
  Effect.gen(function*() {
    const session = yield* Session.fromUserMessage(`what is ${i} + 2?`)
    const out = yield* agent(session)
    const last = Session.lastOf(out, "Assistant")
    if (last._tag !== "Some" || last.value.text !== "The answer is 2") {
      return yield* Effect.dieMessage(`turn ${i}: unexpected answer ${last._tag === "Some" ? last.value.text : "none"}`)
    }
  })

const phase = (n: number, offset: number) =>
  Effect.gen(function*() {
    const times = new Array<number>(n)
    const cpu0 = process.cpuUsage()
    const start = performance.now()
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      yield* turn(offset + i)
      times[i] = (performance.now() - t0) * 1000
    }
    const totalMs = performance.now() - start
    const cpu = process.cpuUsage(cpu0)
    const sorted = [...times].sort((a, b) => a - b)
    return {
      perTurnUs: round((totalMs * 1000) / n),
      cpuPerTurnUs: round((cpu.user + cpu.system) / n),
      p50: round(percentile(sorted, 50)),
      p99: round(percentile(sorted, 99))
    }
  })

const w4 = Effect.gen(function*() {
  const n = 1000
  const cold = yield* phase(n, 0)
  yield* phase(n, n)
  const warm = yield* phase(n, 2 * n)
  console.log(JSON.stringify({
    workload: "W4",
    bench: "agent.loop_overhead",
    peer: "rath",
    store: "none",
    version,
    n,
    modelCallsPerTurn: 2,
    toolCallsPerTurn: 1,
    coldPerTurnUs: cold.perTurnUs,
    warmPerTurnUs: warm.perTurnUs,
    coldCpuPerTurnUs: cold.cpuPerTurnUs,
    warmCpuPerTurnUs: warm.cpuPerTurnUs,
    coldP50Us: cold.p50,
    coldP99Us: cold.p99,
    warmP50Us: warm.p50,
    warmP99Us: warm.p99,
    maxRssKiBInProcess: process.resourceUsage().maxRSS
  }))
}).pipe(Effect.provideService(Provider.Provider, scriptedModel(1, 0)))

const w5 = Effect.gen(function*() {
  const conversations = 1000
  const model = scriptedModel(4, 20)
  const one = (i: number) =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage(`what is ${i} + 2?`)
      const out = yield* agent(session)
      if (Option.getOrThrow(Agent.lastEnd(out)).turns !== 5) {
        return yield* Effect.dieMessage(`conversation ${i}: not 5 model calls`)
      }
    }).pipe(Effect.provideService(Provider.Provider, model))
  yield* one(-1) // warm-up
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  const done = yield* Effect.forEach(
    Array.from({ length: conversations }, (_, i) => i),
    (i) => Effect.map(one(i), () => performance.now() - start),
    { concurrency: "unbounded" }
  )
  const wallMs = performance.now() - start
  const cpu = process.cpuUsage(cpu0)
  const sorted = [...done].sort((a, b) => a - b)
  console.log(JSON.stringify({
    workload: "W5",
    bench: "agent.concurrency",
    peer: "rath",
    store: "none",
    version,
    conversations,
    modelCallsEach: 5,
    sleepMs: 20,
    wallMs: round(wallMs),
    p50DoneMs: round(percentile(sorted, 50)),
    p99DoneMs: round(percentile(sorted, 99)),
    idealMs: 100,
    // CPU time of the timed region: on a loaded machine wall time overstates the cost
    cpuMs: round((cpu.user + cpu.system) / 1000),
    maxRssKiBInProcess: process.resourceUsage().maxRSS
  }))
})

Effect.runPromise(Effect.andThen(w4, w5)).catch((error) => {
  console.error(error)
  process.exit(1)
})
