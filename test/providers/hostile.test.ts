/**
 * Both adapters against a hostile or broken server on 127.0.0.1: every call settles within its
 * timeout (headers, body and stream); a malformed answer is a typed `InvalidResponse`, never taken
 * for a good one; an answer without the usage rath asked for is flagged `missing`; a request that
 * gets no HTTP answer names the URL and the cause; the SDKs print nothing to the console.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, HashMap, Layer, List, Logger, LogLevel, Option, Stream, TestClock } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Entry, IdGenerator, Provider, Session } from "rath"
import * as Server from "./server.js"
import type { Scenario, Wire } from "./wires.js"
import { anthropicWire, openAiWire, wires } from "./wires.js"

const scenario: Scenario = {
  id: "resp-1",
  model: "served-model",
  text: ["Hel", "lo"],
  usage: { input: 10, output: 3 },
  finish: "stop"
}

const toolScenario: Scenario = {
  id: "resp-2",
  model: "served-model",
  toolCalls: [{ id: "call_1", name: "add", args: ["{\"a\":1}"] }],
  usage: { input: 10, output: 3 },
  finish: "tool_calls"
}

const request: Provider.Request = { messages: [], model: "asked-model" }

const json = (body: unknown, headers?: Record<string, string>): Server.Reply => ({
  raw: JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers }
})

const sse = (frames: ReadonlyArray<string | Uint8Array>, then?: "end" | "hold" | "destroy"): Server.Reply => ({
  raw: frames,
  headers: { "content-type": "text/event-stream" },
  ...(then === undefined ? {} : { then })
})

const chatError = (provider: Provider.Service) => Effect.flip(provider.chat(request))
const streamError = (provider: Provider.Service) => Effect.flip(Stream.runDrain(provider.stream(request)))
const streamed = (provider: Provider.Service) => Provider.accumulate(provider.stream(request), provider.info)

const waitUntil = (check: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (check()) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

/** Runs `effect` and gives how long it took in real time. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = performance.now()
    const result = yield* effect
    return [result, performance.now() - started] as const
  })

/** OpenAI-style frames of a scenario, cut just after the finish chunk (before the usage chunk). */
const beforeUsage = (wire: Wire, s: Scenario) => {
  const frames = wire.stream(s)
  return frames.slice(0, frames.findIndex((frame) => frame.includes("\"usage\"")))
}

for (const wire of wires) {
  describe(`${wire.kind}: every call settles within its timeout`, () => {
    it.scopedLive("chat: headers and half the JSON body, then a stall, is a Timeout (and the request is aborted)", () =>
      Effect.gen(function*() {
        const body = JSON.stringify(wire.json(scenario))
        const server = yield* Server.start(() => ({
          raw: body.slice(0, body.length / 2),
          headers: { "content-type": "application/json" },
          then: "hold"
        }))
        const [error, millis] = yield* timed(chatError(wire.make(server.url, { timeoutMillis: 300 })))
        assert.strictEqual(error.reason, "Timeout")
        assert.isBelow(millis, 3000)
        yield* waitUntil(() => server.aborted.length === 1, "the stalled body to be aborted")
      }))

    it.scopedLive("an HTTP error whose body stalls is a Timeout too", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(() => ({
          status: 500,
          raw: "{\"error\": {\"mess",
          headers: { "content-type": "application/json" },
          then: "hold"
        }))
        const provider = wire.make(server.url, { timeoutMillis: 300 })
        assert.strictEqual((yield* chatError(provider)).reason, "Timeout")
        assert.strictEqual((yield* streamError(provider)).reason, "Timeout")
      }))

    it.scopedLive("stream: a stall between two chunks, after content, is a Timeout", () =>
      Effect.gen(function*() {
        const frames = wire.stream(scenario)
        const firstText = frames.findIndex((frame) => frame.includes("\"Hel\""))
        const server = yield* Server.start(() => sse(frames.slice(0, firstText + 1), "hold"))
        const provider = wire.make(server.url, { timeoutMillis: 300 })
        const results = Chunk.toArray(yield* Stream.runCollect(Stream.either(provider.stream(request))))
        assert.isTrue(results.some((r) => r._tag === "Right" && r.right._tag === "TextDelta"))
        const last = results[results.length - 1]
        assert.isTrue(last?._tag === "Left" && last.left.reason === "Timeout")
        yield* waitUntil(() => server.aborted.length === 1, "the stalled stream to be aborted")
      }))

    // with no timeoutMillis the default (10 minutes) applies to the body and to the stream's
    // silences too: the TestClock stands in for the ten minutes
    it.scoped("the default timeout covers a stalled body and a stalled stream (TestClock)", () =>
      Effect.gen(function*() {
        const body = JSON.stringify(wire.json(scenario))
        const frames = wire.stream(scenario)
        const server = yield* Server.start((r) =>
          r.body?.stream === true
            ? sse(frames.slice(0, 3), "hold")
            : { raw: body.slice(0, 20), headers: { "content-type": "application/json" }, then: "hold" }
        )
        const provider = wire.make(server.url)
        const chat = yield* Effect.fork(chatError(provider))
        const stream = yield* Effect.fork(Stream.runCollect(Stream.either(provider.stream(request))))
        yield* waitUntil(() => server.received.length === 2, "both requests")
        // let both responses' headers and first bytes arrive
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))
        yield* TestClock.adjust("9 minutes")
        assert.isTrue(Option.isNone(yield* Fiber.poll(chat)))
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* Fiber.join(chat)).reason, "Timeout")
        const parts = Chunk.toArray(yield* Fiber.join(stream))
        const last = parts[parts.length - 1]
        assert.isTrue(last?._tag === "Left" && last.left.reason === "Timeout")
      }))
  })

  describe(`${wire.kind}: malformed answers are typed errors`, () => {
    const invalid = (
      name: string,
      reply: (r: Server.Received) => Server.Reply,
      call: "chat" | "stream",
      detail?: string,
      options?: { readonly maxResponseBytes?: number }
    ) =>
      it.scopedLive(`${call}: ${name}`, () =>
        Effect.gen(function*() {
          const server = yield* Server.start(reply)
          const provider = wire.make(server.url, { timeoutMillis: 5000, ...options })
          const error = yield* (call === "chat" ? chatError(provider) : streamError(provider))
          assert.strictEqual(error.reason, "InvalidResponse", error.message)
          if (detail !== undefined) assert.include(error.detail, detail)
        }))

    const body = wire.json(scenario) as Record<string, any>
    const badUtf8 = (text: string) => {
      const at = text.indexOf("Hel")
      return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff, 0xfe]), Buffer.from(text.slice(at))])
    }
    invalid(
      "a JSON body that is not UTF-8",
      () => ({
        raw: badUtf8(JSON.stringify(body)),
        headers: { "content-type": "application/json" }
      }),
      "chat",
      "UTF-8"
    )
    invalid("an SSE body that is not UTF-8", () => sse([badUtf8(wire.stream(scenario).join(""))]), "stream", "UTF-8")
    invalid(
      "JSON labelled text/plain",
      () => ({ raw: JSON.stringify(body), headers: { "content-type": "text/plain" } }),
      "chat",
      "text/plain"
    )
    invalid("a JSON answer to a stream request", () => json(body), "stream", "text/event-stream")
    invalid(
      "SSE frames labelled application/octet-stream",
      () => ({ raw: wire.stream(scenario).join(""), headers: { "content-type": "application/octet-stream" } }),
      "stream"
    )
    invalid(
      "an answer larger than maxResponseBytes",
      () => json(wire.json({ ...scenario, text: ["x".repeat(200_000)] })),
      "chat",
      "maxResponseBytes",
      {
        maxResponseBytes: 100_000
      }
    )
    invalid(
      "a stream larger than maxResponseBytes",
      () => sse(wire.stream({ ...scenario, text: Array.from({ length: 50 }, () => "y".repeat(5_000)) })),
      "stream",
      "maxResponseBytes",
      {
        maxResponseBytes: 100_000
      }
    )
    invalid(
      "an event that is not JSON",
      () => sse([...wire.opening(scenario), "data: {\"broken\n\n"]),
      "stream",
      "JSON"
    )

    if (wire === openAiWire) {
      const withCall = (args: unknown) => {
        const b = wire.json(toolScenario) as any
        b.choices[0].message.tool_calls[0].function.arguments = args
        return b
      }
      invalid("tool-call arguments sent as a JSON object", () => json(withCall({ a: 1 })), "chat", "string of JSON")
      invalid("tool-call arguments sent as a number", () => json(withCall(7)), "chat", "string of JSON")
      invalid(
        "a stream whose tool-call arguments are a JSON object",
        () =>
          sse([
            ...wire.opening(toolScenario),
            Server.sse({
              id: "x",
              model: "m",
              choices: [{
                index: 0,
                delta: { tool_calls: [{ index: 0, id: "c", function: { name: "add", arguments: { a: 1 } } }] }
              }]
            }),
            Server.sse({ id: "x", model: "m", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] })
          ]),
        "stream",
        "string of JSON"
      )
      invalid(
        "content of the wrong type",
        () => {
          const b = structuredClone(body)
          b.choices[0].message.content = 42
          return json(b)
        },
        "chat",
        "content"
      )
      invalid(
        "no finish_reason",
        () => {
          const b = structuredClone(body)
          delete b.choices[0].finish_reason
          return json(b)
        },
        "chat",
        "finish_reason"
      )
      invalid("no choices", () => json({ ...body, choices: [] }), "chat")
      invalid(
        "usage counts as strings",
        () => json({ ...body, usage: { prompt_tokens: "10", completion_tokens: 3 } }),
        "chat",
        "prompt_tokens"
      )
      invalid(
        "a tool call that never gets a name",
        () =>
          sse([
            Server.sse({
              id: "x",
              model: "m",
              choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "c" }] } }]
            }),
            Server.sse({ id: "x", model: "m", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] }),
            "data: [DONE]\n\n"
          ]),
        "stream",
        "name"
      )
      invalid("a chunk that is a number", () => sse([...wire.opening(scenario), "data: 42\n\n"]), "stream")
      invalid(
        "a choice without its delta",
        () =>
          sse([
            ...wire.opening(scenario),
            Server.sse({ id: "x", model: "m", choices: [{ index: 0 }] }),
            Server.sse({ id: "x", model: "m", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })
          ]),
        "stream",
        "delta"
      )

      it.scopedLive("stream: tool-call deltas without an index (as some gateways send them) stay apart", () =>
        Effect.gen(function*() {
          const chunk = (delta: unknown, finish: string | null = null) =>
            Server.sse({ id: "x", model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })
          const server = yield* Server.start(() =>
            sse([
              chunk({ tool_calls: [{ id: "a", function: { name: "add", arguments: "{\"a\":" } }] }),
              chunk({ tool_calls: [{ function: { arguments: "1}" } }] }),
              chunk({ tool_calls: [{ id: "b", function: { name: "now", arguments: "" } }] }),
              chunk({ tool_calls: [{ id: "b", function: { arguments: "{}" } }] }),
              chunk({}, "tool_calls"),
              "data: [DONE]\n\n"
            ])
          )
          const response = yield* streamed(wire.make(server.url))
          assert.deepStrictEqual(response.toolCalls.map((c) => [c.id, c.name, c.arguments]), [
            ["a", "add", "{\"a\":1}"],
            ["b", "now", "{}"]
          ])
          assert.deepStrictEqual(response.missing, ["usage"])
        }))
    } else {
      invalid(
        "a tool input that is an array",
        () => {
          const b = wire.json(toolScenario) as any
          b.content[0].input = [1, 2]
          return json(b)
        },
        "chat",
        "input"
      )
      invalid(
        "a tool input that is a string",
        () => {
          const b = wire.json(toolScenario) as any
          b.content[0].input = "{\"a\":1}"
          return json(b)
        },
        "chat",
        "input"
      )
      invalid(
        "a text block whose text is a number",
        () => {
          const b = structuredClone(body)
          b.content[0].text = 42
          return json(b)
        },
        "chat",
        "text"
      )
      invalid(
        "no stop_reason",
        () => {
          const b = structuredClone(body)
          delete b.stop_reason
          return json(b)
        },
        "chat",
        "stop_reason"
      )
      invalid(
        "usage without output_tokens",
        () => json({ ...body, usage: { input_tokens: 3 } }),
        "chat",
        "output_tokens"
      )
      invalid(
        "a delta for a content block that never started",
        () =>
          sse([
            ...wire.opening(scenario),
            Server.sse({ type: "content_block_delta", index: 3, delta: { type: "text_delta", text: "x" } }),
            ...wire.stream(scenario).slice(1)
          ]),
        "stream",
        "never started"
      )
      invalid(
        "a delta without its index",
        () =>
          sse([
            ...wire.opening(scenario),
            Server.sse({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
            Server.sse({ type: "content_block_delta", delta: { type: "text_delta", text: "x" } })
          ]),
        "stream",
        "index"
      )
      invalid(
        "an event without a type",
        () => sse([...wire.opening(scenario), Server.sse({ index: 0 })]),
        "stream",
        "type"
      )
      invalid(
        "message_stop without a stop_reason",
        () => sse([...wire.opening(scenario), Server.sse({ type: "message_stop" })]),
        "stream",
        "stop_reason"
      )
    }

    it.scopedLive("SSE framing: a BOM, comments, CR and CRLF line ends, writes that split events and characters", () =>
      Effect.gen(function*() {
        const big: Scenario = { ...toolScenario, text: ["é✓😀 ", "中文"], reasoning: "r" }
        const frames = wire.stream(big)
        const framed = Buffer.from(
          "\ufeff: keep-alive\r\n\r\n" +
            frames.map((frame, i) => frame.replace(/\n/g, i % 2 === 0 ? "\r\n" : "\r")).join(": ping\n\n")
        )
        const pieces = Array.from({ length: Math.ceil(framed.length / 7) }, (_, i) => framed.subarray(i * 7, i * 7 + 7))
        const server = yield* Server.start(() => sse(pieces))
        const response = yield* streamed(wire.make(server.url))
        assert.strictEqual(response.text, "é✓😀 中文")
        assert.strictEqual(response.reasoning, "r")
        assert.deepStrictEqual(response.toolCalls.map((c) => c.parsed), [{ a: 1 }])
        assert.strictEqual(response.usage?.totalTokens, 13)
      }))

    it.scopedLive("an error event in the middle of a stream is a typed error of its kind", () =>
      Effect.gen(function*() {
        const error = wire === openAiWire
          ? Server.sse({ error: { message: "overloaded, try later", type: "server_error" } })
          : Server.sse({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, "error")
        const server = yield* Server.start(() => sse([...wire.opening(scenario), error]))
        const failure = yield* streamError(wire.make(server.url))
        assert.strictEqual(failure.reason, "Unavailable")
        assert.isTrue(failure.retryable)
      }))

    it.scopedLive("a huge text within the cap is kept exactly (chat and stream)", () =>
      Effect.gen(function*() {
        const huge = "é✓".repeat(500_000)
        const big: Scenario = { ...scenario, text: [huge.slice(0, 10), huge.slice(10)] }
        const server = yield* Server.start((r) =>
          r.body?.stream === true ? sse(wire.stream(big)) : json(wire.json(big))
        )
        const provider = wire.make(server.url)
        assert.strictEqual((yield* provider.chat(request)).text, huge)
        assert.strictEqual((yield* streamed(provider)).text, huge)
      }))
  })

  describe(`${wire.kind}: usage that rath asked for and did not get is flagged, never zero`, () => {
    it.scopedLive("chat: an answer without usage has missing: [\"usage\"], and so does its entry", () =>
      Effect.gen(function*() {
        const { usage: _, ...rest } = wire.json(scenario) as Record<string, unknown>
        const server = yield* Server.start(() => json(rest))
        const response = yield* wire.make(server.url).chat(request)
        assert.strictEqual(response.text, "Hello")
        assert.isUndefined(response.usage)
        assert.deepStrictEqual(response.missing, ["usage"])
        const session = yield* Session.append(yield* Session.empty(), Provider.toDraft(response)).pipe(
          Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
        )
        const entry = Option.getOrThrow(Session.lastOf(session, "Assistant"))
        assert.deepStrictEqual(entry.missing, ["usage"])
        assert.isUndefined(Entry.usageOf(entry))
      }))

    it.scopedLive("a whole answer with its usage has no missing field", () =>
      Effect.gen(function*() {
        const server = yield* Server.start((r) =>
          r.body?.stream === true ? sse(wire.stream(scenario)) : json(wire.json(scenario))
        )
        const provider = wire.make(server.url)
        for (const response of [yield* provider.chat(request), yield* streamed(provider)]) {
          assert.isUndefined(response.missing)
          assert.strictEqual(response.usage?.totalTokens, 13)
        }
      }))

    if (wire === openAiWire) {
      for (const then of ["end", "destroy"] as const) {
        it.scopedLive(
          `stream: cut after the finish chunk, before the usage chunk (${
            then === "end" ? "closed" : "connection destroyed"
          })`,
          () =>
            Effect.gen(function*() {
              const server = yield* Server.start(() => sse(beforeUsage(wire, scenario), then))
              const provider = wire.make(server.url)
              const parts = Chunk.toArray(yield* Stream.runCollect(provider.stream(request)))
              const finish = parts[parts.length - 1]
              assert.isTrue(finish?._tag === "Finish" && finish.missing?.[0] === "usage")
              const response = yield* Provider.accumulate(Stream.fromIterable(parts), provider.info)
              assert.strictEqual(response.text, "Hello")
              assert.isUndefined(response.usage)
              assert.deepStrictEqual(response.missing, ["usage"])
            })
        )
      }
    } else {
      it.scopedLive("stream: a message_delta without usage leaves the output count unknown: flagged", () =>
        Effect.gen(function*() {
          const frames = wire.stream(scenario).map((frame) =>
            frame.includes("message_delta") ? frame.replace(/,"usage":\{[^}]*\}/, "") : frame
          )
          assert.isFalse(frames.join("").includes("\"output_tokens\":3"))
          const server = yield* Server.start(() => sse(frames))
          const response = yield* streamed(wire.make(server.url))
          assert.strictEqual(response.text, "Hello")
          assert.isUndefined(response.usage)
          assert.deepStrictEqual(response.missing, ["usage"])
        }))

      it.scopedLive("stream: cut after message_delta, before message_stop, is a Transport error", () =>
        Effect.gen(function*() {
          const frames = wire.stream(scenario)
          const server = yield* Server.start(() => sse(frames.slice(0, frames.length - 1), "destroy"))
          assert.strictEqual((yield* streamError(wire.make(server.url))).reason, "Transport")
        }))
    }
  })

  describe(`${wire.kind}: a request that gets no HTTP answer names the URL and the cause`, () => {
    const endpoint = (base: string) => wire === openAiWire ? `${base}/v1/chat/completions` : `${base}/v1/messages`
    const expectFailure = (
      base: string,
      reason: Provider.ProviderError["reason"],
      cause: RegExp
    ) =>
      Effect.gen(function*() {
        const provider = wire.make(base, { timeoutMillis: 10_000 })
        for (const error of [yield* chatError(provider), yield* streamError(provider)]) {
          assert.strictEqual(error.reason, reason, error.message)
          const first = error.message.split("\n")[0]!
          assert.include(first, endpoint(base))
          assert.match(first, cause)
        }
      })

    it.scopedLive("a closed port: connection refused", () =>
      Effect.gen(function*() {
        const port = yield* Effect.async<number>((resume) => {
          const server = Http.createServer().listen(0, "127.0.0.1", () => {
            const free = (server.address() as AddressInfo).port
            server.close(() => resume(Effect.succeed(free)))
          })
        })
        yield* expectFailure(`http://127.0.0.1:${port}`, "Transport", /connection refused \(ECONNREFUSED/)
      }))

    it.scopedLive("an unresolvable host: DNS", () =>
      expectFailure("http://rath-no-such-host.invalid", "Transport", /DNS: .*rath-no-such-host\.invalid/))

    it.scopedLive("a TLS URL on a plain HTTP server: the TLS handshake, with the hint", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(() => json(wire.json(scenario)))
        yield* expectFailure(`https://127.0.0.1:${server.port}`, "Transport", /TLS handshake failed.*plain HTTP/)
      }))

    it.scopedLive("a port fetch refuses: BadRequest, not retried", () =>
      expectFailure("http://127.0.0.1:6000", "BadRequest", /bad port/))
  })
}

describe("the SDKs print nothing on the console; their log lines go to the Effect logger", () => {
  /** Counts the console lines written while `effect` runs. */
  const consoleLines = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const methods = ["log", "info", "warn", "error", "debug"] as const
      const saved = methods.map((method) => console[method])
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          for (const method of methods) {
            console[method] = (...args: Array<unknown>) => void lines.push(`${method}: ${args.map(String).join(" ")}`)
          }
        }),
        () => Effect.sync(() => methods.forEach((method, i) => (console[method] = saved[i]!)))
      )
      const result = yield* effect
      return [result, lines] as const
    })

  it.scopedLive("a broken SSE event (OpenAI) and a deprecated model name (Anthropic)", () =>
    Effect.gen(function*() {
      const openai = yield* Server.start(() => sse([...openAiWire.opening(scenario), "data: {\"broken\n\n"]))
      const anthropic = yield* Server.start((r) =>
        r.body?.stream === true ? sse(anthropicWire.stream(scenario)) : json(anthropicWire.json(scenario))
      )
      const [, lines] = yield* consoleLines(Effect.gen(function*() {
        assert.strictEqual((yield* streamError(openAiWire.make(openai.url))).reason, "InvalidResponse")
        // a model name the Anthropic SDK's messages.create warns about with console.warn
        const claude = anthropicWire.make(anthropic.url, { model: "claude-sonnet-4-5" })
        yield* claude.chat({ messages: [] })
        yield* Stream.runDrain(claude.stream({ messages: [] }))
      }))
      assert.deepStrictEqual(lines, [])
    }))

  for (const wire of wires) {
    it.scopedLive(`${wire.kind}: with the SDK's log level at debug, its lines reach the Effect logger`, () =>
      Effect.gen(function*() {
        const variable = wire === openAiWire ? "OPENAI_LOG" : "ANTHROPIC_LOG"
        yield* Effect.acquireRelease(
          Effect.sync(() => (process.env[variable] = "debug")),
          () => Effect.sync(() => delete process.env[variable])
        )
        const server = yield* Server.start(() => json(wire.json(scenario)))
        const logged: Array<{ readonly message: string; readonly sdk: unknown }> = []
        const logger = Logger.make(({ annotations, message }) => {
          const parts = List.isList(message) ? List.toArray(message) : Array.isArray(message) ? message : [message]
          logged.push({
            message: parts.map(String).join(" "),
            sdk: Option.getOrUndefined(HashMap.get(annotations, "sdk"))
          })
        })
        const [, lines] = yield* consoleLines(
          wire.make(server.url).chat(request).pipe(
            Effect.provide(
              Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.Debug))
            )
          )
        )
        assert.deepStrictEqual(lines, [])
        assert.isTrue(
          logged.some((line) => line.sdk === wire.kind && line.message.includes("sending request")),
          JSON.stringify(logged.map((line) => line.message.slice(0, 80)))
        )
      }))
  }
})
