/**
 * One conformance suite, run against every adapter over a local server that speaks its vendor's
 * real wire format. Everything asserted here is the normalised contract of `Provider`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Effect, Either, Fiber, Option, Schedule, Schema, Stream } from "effect"
import { Agent, Entry, IdGenerator, Provider, Replay, Session, Tool } from "rath"
import * as Server from "./server.js"
import type { Scenario } from "./wires.js"
import { wires } from "./wires.js"

const textScenario: Scenario = {
  id: "resp-123",
  model: "served-model-2026-01",
  reasoning: "think first",
  text: ["Hel", "lo ", "world"],
  usage: { input: 20, output: 7, cached: 5 },
  finish: "stop"
}

const toolScenario: Scenario = {
  id: "resp-456",
  model: "served-model-2026-01",
  toolCalls: [
    { id: "call_a", name: "add", args: ["{\"a\":", "1,\"b\":", "2}"] },
    { id: "call_b", name: "now", args: [] }
  ],
  usage: { input: 30, output: 12 },
  finish: "tool_calls"
}

// tool arguments as a model may stream them: spaces and new lines between tokens, numbers and
// escapes cut in the middle, a surrogate pair written as two escapes, non-canonical number forms
const awkwardScenario: Scenario = {
  id: "resp-awk",
  model: "served-model-2026-02",
  toolCalls: [
    {
      id: "call_w",
      name: "write",
      args: [
        "{ \"path\" :\n \"a\\/b.txt\",",
        " \"n\": -1",
        "2.50, \"big\": 1E",
        "2, \"ok\": tr",
        "ue, \"none\": null , \"text\": \"caf\\u00",
        "e9 \\ud83d",
        "\\ude00 \\n\\t\\\"q\\\" é ✓\",",
        "\n  \"list\": [ 1 , [ ], { \"k\" : false } ] }"
      ]
    },
    { id: "call_e", name: "empty", args: [] }
  ],
  usage: { input: 10, output: 40 },
  finish: "tool_calls"
}

const request: Provider.Request = {
  messages: [
    new Entry.System({
      id: Entry.EntryId.make("e1"),
      timestamp: 0,
      author: { kind: "system", name: "s" },
      parents: [],
      text: "be brief"
    }),
    new Entry.User({
      id: Entry.EntryId.make("e2"),
      timestamp: 0,
      author: { kind: "user", name: "u" },
      parents: [],
      text: "hi"
    })
  ],
  model: "asked-model",
  tools: [{ name: "add", description: "adds", parameters: { type: "object", properties: { a: { type: "number" } } } }],
  toolChoice: { tool: "add" },
  maxTokens: 77,
  stop: ["END"],
  temperature: 0.5
}

const waitUntil = (check: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      if (check()) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

const fastRetry = Schedule.spaced("10 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

for (const wire of wires) {
  describe(`conformance: ${wire.kind}`, () => {
    const ok = (scenario: Scenario, id = "req-hdr-1") => (r: Server.Received): Server.Reply =>
      r.body?.stream === true
        ? { sse: wire.stream(scenario), headers: { [wire.requestIdHeader]: id } }
        : { json: wire.json(scenario), headers: { [wire.requestIdHeader]: id } }

    it.scopedLive("stream: text and reasoning deltas, usage, model and request id from the response", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(ok(textScenario))
        const provider = wire.make(server.url)
        const parts = Chunk.toArray(yield* Stream.runCollect(provider.stream(request)))
        assert.deepStrictEqual(parts.flatMap((p) => p._tag === "TextDelta" ? [p.text] : []), ["Hel", "lo ", "world"])
        const response = yield* Provider.accumulate(Stream.fromIterable(parts), provider.info)
        assert.strictEqual(response.text, "Hello world")
        assert.strictEqual(response.reasoning, "think first")
        assert.strictEqual(response.finishReason, "stop")
        assert.strictEqual(response.model, "served-model-2026-01")
        assert.deepStrictEqual(response.provider, {
          kind: wire.kind,
          host: `127.0.0.1:${server.port}`,
          requestId: "req-hdr-1"
        })
        assert.deepStrictEqual(response.usage, {
          inputTokens: 20,
          outputTokens: 7,
          totalTokens: 27,
          cachedInputTokens: 5
        })
        assert.strictEqual(parts[parts.length - 1]?._tag, "Finish")
      }))

    it.scopedLive("chat: the same normalised response without streaming", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(ok(textScenario))
        const response = yield* wire.make(server.url).chat(request)
        assert.strictEqual(server.received[0]?.body.stream, false)
        assert.strictEqual(response.text, "Hello world")
        assert.strictEqual(response.reasoning, "think first")
        assert.strictEqual(response.model, "served-model-2026-01")
        assert.strictEqual(response.provider.requestId, "req-hdr-1")
        assert.deepStrictEqual(response.usage, {
          inputTokens: 20,
          outputTokens: 7,
          totalTokens: 27,
          cachedInputTokens: 5
        })
      }))

    it.scopedLive("tool calls: argument deltas joined by index, an empty argument text is {}", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(ok(toolScenario))
        const provider = wire.make(server.url)
        for (
          const response of [
            yield* Provider.accumulate(provider.stream(request), provider.info),
            yield* provider.chat(request)
          ]
        ) {
          assert.strictEqual(response.finishReason, "tool_calls")
          assert.deepStrictEqual(response.toolCalls.map((c) => [c.id, c.name, c.parsed]), [
            ["call_a", "add", { a: 1, b: 2 }],
            ["call_b", "now", {}]
          ])
        }
        const starts = Chunk.toArray(yield* Stream.runCollect(provider.stream(request))).filter((p) =>
          p._tag === "ToolCallStart"
        )
        assert.deepStrictEqual(starts.map((p) => p._tag === "ToolCallStart" ? p.index : -1), [0, 1])
      }))

    // an agent run nobody watches calls `chat` (OpenAI: the non-streaming endpoint), a watched run
    // `stream`: both must record the same evidence for the same answer
    const plainAndStreamed: ReadonlyArray<[string, Scenario]> = [
      ["text and reasoning", textScenario],
      ["tool calls", toolScenario],
      ["reasoning, text and tool calls with argument deltas", {
        id: "resp-789",
        model: "served-model-2026-02",
        reasoning: "add them, then look at the clock",
        text: ["Let me ", "compute."],
        toolCalls: [
          { id: "call_x", name: "add", args: ["", "{\"a\":", " 40, \"b\"", ": 2}"] },
          { id: "call_y", name: "now", args: [] },
          { id: "call_z", name: "echo", args: ["{\"text\": \"é ✓\"}"] }
        ],
        usage: { input: 1234, output: 56, cached: 1000, reasoning: 17 },
        finish: "tool_calls"
      }],
      ["argument text split inside numbers, escapes and surrogate pairs", awkwardScenario],
      ["a cut-off answer", { ...textScenario, text: ["trunc", "ated"], finish: "length" }],
      ["an unknown finish reason", { ...textScenario, finish: "unknown" }]
    ]
    for (const [name, scenario] of plainAndStreamed) {
      it.scopedLive(`chat and the accumulated stream give the same response: ${name}`, () =>
        Effect.gen(function*() {
          const server = yield* Server.start(ok(scenario))
          const provider = wire.make(server.url)
          const plain = yield* provider.chat(request)
          const streamed = yield* Provider.accumulate(provider.stream(request), provider.info)
          assert.deepStrictEqual(server.received.map((r) => r.body.stream === true), [false, true])
          assert.deepStrictEqual(plain, streamed)
          // and so the same assistant entry (ids and times aside)
          const [a, b] = yield* Effect.forEach([plain, streamed], (response) =>
            Session.empty().pipe(
              Effect.flatMap(Session.append(Provider.toDraft(response, { kind: "agent", name: "a" }, request))),
              Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
            ))
          assert.isTrue(Option.isSome(Session.lastOf(a!, "Assistant")))
          yield* Replay.verify(a!, b!)
          if (scenario === awkwardScenario) {
            // the arguments still arrive piece by piece for whoever watches
            const deltas = Chunk.toArray(yield* Stream.runCollect(provider.stream(request))).filter((p) =>
              p._tag === "ToolCallDelta" && p.index === 0 && p.argumentsDelta !== ""
            )
            assert.isAbove(deltas.length, 4)
            assert.deepStrictEqual(plain.toolCalls[0]?.parsed, {
              path: "a/b.txt",
              n: -12.5,
              big: 100,
              ok: true,
              none: null,
              text: "café 😀 \n\t\"q\" é ✓",
              list: [1, [], { k: false }]
            })
          }
          if (scenario.usage.reasoning !== undefined && wire.kind === "openai") {
            assert.strictEqual(plain.usage?.reasoningTokens, scenario.usage.reasoning)
          }
        }))
    }

    it.scopedLive("a plain agent run (chat) and a watched one (stream) record the same session", () =>
      Effect.gen(function*() {
        // every run asks twice: a tool call whose arguments arrive in pieces, then the answer
        const call: Scenario = {
          ...toolScenario,
          toolCalls: [{ id: "call_add", name: "add", args: ["{ \"a\" : 4", "0,\n \"b\": 2 }"] }]
        }
        const server = yield* Server.start((r, i) => ok(i % 2 === 0 ? call : textScenario)(r))
        const provider = wire.make(server.url)
        const agent = Agent.make({
          name: "calc",
          instructions: "Add with the tool.",
          tools: [Tool.make({
            name: "add",
            description: "adds",
            parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
            handler: ({ a, b }) => Effect.succeed(a + b)
          })]
        })
        const plain = yield* Session.fromUserMessage("40 + 2?").pipe(
          Effect.flatMap(agent),
          Effect.provideService(Provider.Provider, provider)
        )
        const watched = yield* Session.fromUserMessage("40 + 2?").pipe(
          Effect.flatMap((session) => Stream.runLast(Agent.stream(agent)(session))),
          Effect.map((last) => (Option.getOrThrow(last) as Extract<Agent.Event, { _tag: "Done" }>).session),
          Effect.provideService(Provider.Provider, provider)
        )
        assert.deepStrictEqual(server.received.map((r) => r.body.stream === true), [false, false, true, true])
        assert.strictEqual(Option.getOrThrow(Session.lastOf(plain, "ToolResult")).output, 42)
        assert.strictEqual(Option.getOrThrow(Session.lastOf(plain, "Assistant")).text, "Hello world")
        yield* Replay.verify(plain, watched, { ignore: ["durationMs"] })
      }))

    it.scopedLive("the request carries model, tools, forced tool choice, max tokens, stop, and the key", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(ok(textScenario))
        yield* Stream.runDrain(wire.make(server.url).stream(request))
        const received = server.received[0]!
        assert.strictEqual(received.method, "POST")
        assert.strictEqual(received.path, wire.path)
        assert.strictEqual(received.body.model, "asked-model")
        assert.strictEqual(received.body.stream, true)
        assert.strictEqual(wire.maxTokensOf(received.body), 77)
        assert.strictEqual(received.body.temperature, 0.5)
        assert.strictEqual(received.body.tools.length, 1)
        assert.isTrue(JSON.stringify(received.headers).includes("sk-test-0123456789-SECRET"))
      }))

    it.scopedLive("an unknown finish reason is kept as other; length is length", () =>
      Effect.gen(function*() {
        const server = yield* Server.start((r, i) => ok({ ...textScenario, finish: i === 0 ? "unknown" : "length" })(r))
        const provider = wire.make(server.url)
        assert.strictEqual((yield* Provider.accumulate(provider.stream(request), provider.info)).finishReason, "other")
        assert.strictEqual((yield* provider.chat(request)).finishReason, "length")
      }))

    it.scopedLive("the assistant entry records which provider and model answered", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(ok(textScenario))
        const response = yield* wire.make(server.url).chat(request)
        const session = yield* Session.append(yield* Session.empty(), Provider.toDraft(response)).pipe(
          Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
        )
        const entry = Session.lastOf(session, "Assistant")
        assert.isTrue(entry._tag === "Some")
        if (entry._tag === "Some") {
          assert.strictEqual(entry.value.provider?.kind, wire.kind)
          assert.strictEqual(entry.value.provider?.host, `127.0.0.1:${server.port}`)
          assert.strictEqual(entry.value.provider?.requestId, "req-hdr-1")
          assert.strictEqual(entry.value.model, "served-model-2026-01")
          assert.strictEqual(entry.value.finishReason, "stop")
          assert.strictEqual(entry.value.usage?.totalTokens, 27)
        }
      }))

    const errorCases: ReadonlyArray<[number, string, string, Provider.ProviderError["reason"]]> = [
      [401, "invalid x-api-key", "authentication_error", "Unauthorized"],
      [400, "temperature: must be <= 2", "invalid_request_error", "BadRequest"],
      [
        400,
        "prompt is too long: 300000 tokens > 200000 maximum context length",
        "invalid_request_error",
        "ContextLengthExceeded"
      ],
      [404, "model: nope-1 does not exist", "not_found_error", "ModelNotFound"],
      [500, "internal failure", "api_error", "Unavailable"]
    ]
    for (const [status, message, type, reason] of errorCases) {
      it.scopedLive(`HTTP ${status} (${reason}) is a typed error with status, provider, model and message`, () =>
        Effect.gen(function*() {
          const server = yield* Server.start(() => ({ status, json: wire.error(message, type) }))
          const provider = wire.make(server.url)
          for (const call of [provider.chat(request), Stream.runDrain(provider.stream(request))]) {
            const error = yield* Effect.flip(call)
            assert.strictEqual(error._tag, "ProviderError")
            assert.strictEqual(error.reason, reason)
            assert.strictEqual(error.status, status)
            assert.strictEqual(error.provider, wire.kind)
            assert.strictEqual(error.model, "asked-model")
            assert.include(error.detail, message.slice(0, 12))
          }
          // the SDK's own retries are off: one request per call
          assert.strictEqual(server.received.length, 2)
        }))
    }

    it.scopedLive(
      "429 with Retry-After is retried by withRetry, the wait honoured (measured)",
      () =>
        Effect.gen(function*() {
          const server = yield* Server.start((r, i) =>
            i % 2 === 0
              ? { status: 429, headers: { "retry-after": "1" }, json: wire.error("slow down", "rate_limit_error") }
              : ok(textScenario)(r)
          )
          const plain = wire.make(server.url)
          const provider = Provider.withRetry(plain, { schedule: fastRetry })
          // request 1 is a 429 with Retry-After: 1, request 2 succeeds
          const started = yield* Clock.currentTimeMillis
          const parts = Chunk.toArray(yield* Stream.runCollect(provider.stream(request)))
          const waited = (yield* Clock.currentTimeMillis) - started
          assert.isAtLeast(waited, 990)
          const retry = parts.find((p) => p._tag === "Retry")
          assert.isTrue(
            retry !== undefined && retry._tag === "Retry" && retry.delayMillis === 1000 && retry.attempt === 1
          )
          if (retry?._tag === "Retry") assert.strictEqual(retry.error.reason, "RateLimited")
          // request 3 is a 429 again: without withRetry it is the typed error
          const error = yield* Effect.flip(plain.chat(request))
          assert.strictEqual(error.reason, "RateLimited")
          assert.strictEqual(error.retryAfterMillis, 1000)
          assert.strictEqual(server.received.length, 3)
          assert.strictEqual(
            (yield* Provider.accumulate(Stream.fromIterable(parts), provider.info)).text,
            "Hello world"
          )
        }),
      10_000
    )

    it.scopedLive("a stream cut after content fails with Transport and is not retried", () =>
      Effect.gen(function*() {
        const frames = wire.stream(textScenario)
        const server = yield* Server.start(() => ({ sse: frames.slice(0, frames.length - 4), cut: true }))
        const provider = Provider.withRetry(wire.make(server.url), { schedule: fastRetry })
        const results = Chunk.toArray(yield* Stream.runCollect(Stream.either(provider.stream(request))))
        const last = results[results.length - 1]!
        assert.isTrue(Either.isLeft(last))
        if (Either.isLeft(last)) assert.strictEqual(last.left.reason, "Transport")
        assert.isTrue(results.some((r) => Either.isRight(r) && r.right._tag === "TextDelta"))
        assert.strictEqual(server.received.length, 1)
      }))

    it.scopedLive("a stream cut before any content is retried and then succeeds", () =>
      Effect.gen(function*() {
        const server = yield* Server.start((r, i) =>
          i === 0 ? { sse: wire.opening(textScenario), cut: true } : ok(textScenario)(r)
        )
        const provider = Provider.withRetry(wire.make(server.url), { schedule: fastRetry })
        const response = yield* Provider.accumulate(provider.stream(request), provider.info)
        assert.strictEqual(response.text, "Hello world")
        assert.strictEqual(server.received.length, 2)
      }))

    it.scopedLive("a non-JSON body is InvalidResponse (chat, stream, and a broken SSE data line)", () =>
      Effect.gen(function*() {
        const server = yield* Server.start((_, i) =>
          i === 0
            ? { text: "<html>gateway error</html>" }
            : i === 1
            ? { text: "{not json", headers: { "content-type": "application/json" } }
            : i === 2
            ? { text: "<html>gateway error</html>" }
            : { sse: [...wire.opening(textScenario), "event: content_block_delta\ndata: {broken\n\n"] }
        )
        const provider = wire.make(server.url)
        assert.strictEqual((yield* Effect.flip(provider.chat(request))).reason, "InvalidResponse")
        assert.strictEqual((yield* Effect.flip(provider.chat(request))).reason, "InvalidResponse")
        assert.strictEqual((yield* Effect.flip(Stream.runDrain(provider.stream(request)))).reason, "InvalidResponse")
        assert.strictEqual((yield* Effect.flip(Stream.runDrain(provider.stream(request)))).reason, "InvalidResponse")
      }))

    it.scopedLive("interrupting a call aborts its HTTP request (chat and stream)", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(() => ({ hang: true }))
        const provider = wire.make(server.url)
        const chat = yield* Effect.fork(provider.chat(request))
        yield* waitUntil(() => server.received.length === 1, "the chat request")
        yield* Fiber.interrupt(chat)
        yield* waitUntil(() => server.aborted.length === 1, "the chat request to be aborted")
        const stream = yield* Effect.fork(Stream.runDrain(provider.stream(request)))
        yield* waitUntil(() => server.received.length === 2, "the stream request")
        yield* Fiber.interrupt(stream)
        yield* waitUntil(() => server.aborted.length === 2, "the stream request to be aborted")
      }))

    it.scopedLive("a request timeout is a Timeout error", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(() => ({ hang: true }))
        const error = yield* Effect.flip(wire.make(server.url, { timeoutMillis: 150 }).chat(request))
        assert.strictEqual(error.reason, "Timeout")
        assert.isTrue(error.retryable)
      }))

    it.scopedLive("a consumer that stops reading early closes the HTTP request", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(() => ({ sse: wire.stream(textScenario).slice(0, 4), hold: true }))
        const first = yield* Stream.runCollect(Stream.take(wire.make(server.url).stream(request), 1))
        assert.strictEqual(Chunk.size(first), 1)
        yield* waitUntil(() => server.aborted.length === 1, "the request to be closed")
      }))

    it.scopedLive("a stream that stalls after its headers times out and its request is aborted", () =>
      Effect.gen(function*() {
        const server = yield* Server.start(() => ({ sse: wire.opening(textScenario), hold: true }))
        const provider = wire.make(server.url, { timeoutMillis: 200 })
        const error = yield* Effect.flip(Stream.runDrain(provider.stream(request)))
        assert.strictEqual(error.reason, "Timeout")
        yield* waitUntil(() => server.aborted.length === 1, "the stalled stream to be aborted")
      }))
  })
}
