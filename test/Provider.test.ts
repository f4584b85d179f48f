import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { createHash } from "node:crypto"
import { Entry, Provider, Scripted, Session } from "rath"

describe("Provider.accumulate", () => {
  it.effect("joins text and tool-call argument deltas by index, an empty argument string is {}", () =>
    Effect.gen(function*() {
      const parts: Array<Provider.StreamPart> = [
        { _tag: "Metadata", model: "m-1", requestId: "req-1" },
        { _tag: "TextDelta", text: "Hel" },
        { _tag: "TextDelta", text: "lo" },
        { _tag: "ToolCallStart", index: 1, id: "b", name: "second" },
        { _tag: "ToolCallStart", index: 0, id: "a", name: "first" },
        { _tag: "ToolCallDelta", index: 0, argumentsDelta: "" },
        { _tag: "ToolCallDelta", index: 0, argumentsDelta: "{\"x\":" },
        { _tag: "ToolCallDelta", index: 0, argumentsDelta: "1}" },
        { _tag: "ToolCallDelta", index: 1, argumentsDelta: "" },
        { _tag: "Usage", usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 } },
        { _tag: "Finish", finishReason: "tool_calls", provider: { kind: "test", host: "h" } }
      ]
      const response = yield* Provider.accumulate(Stream.fromIterable(parts), { kind: "test", model: "default" })
      assert.strictEqual(response.text, "Hello")
      assert.deepStrictEqual(response.toolCalls.map((call) => [call.id, call.name, call.arguments, call.parsed]), [
        ["a", "first", "{\"x\":1}", { x: 1 }],
        ["b", "second", "", {}]
      ])
      assert.strictEqual(response.model, "m-1")
      assert.strictEqual(response.provider.requestId, "req-1")
      assert.strictEqual(response.usage?.totalTokens, 5)
    }))

  it.effect("carries the Finish part's missing flag into the response and the assistant entry", () =>
    Effect.gen(function*() {
      const parts: Array<Provider.StreamPart> = [
        { _tag: "TextDelta", text: "hi" },
        { _tag: "Finish", finishReason: "stop", provider: { kind: "test" }, missing: ["usage"] }
      ]
      const response = yield* Provider.accumulate(Stream.fromIterable(parts), { kind: "test", model: "m" })
      assert.deepStrictEqual(response.missing, ["usage"])
      assert.isUndefined(response.usage)
      const draft = Provider.toDraft(response)
      assert.deepStrictEqual(draft.missing, ["usage"])
      // a whole answer has no missing field at all
      const whole = yield* Provider.accumulate(
        Stream.fromIterable(parts.map((p) => p._tag === "Finish" ? { ...p, missing: [] } : p)),
        { kind: "test", model: "m" }
      )
      assert.isFalse("missing" in whole)
      assert.isFalse("missing" in Provider.toDraft(whole))
    }))

  it("keeps unparseable argument text raw, without parsed arguments", () => {
    const call = Provider.toolCall("c", "t", "{not json")
    assert.strictEqual(call.arguments, "{not json")
    assert.isUndefined(call.parsed)
  })
})

describe("Scripted", () => {
  it.effect("answers in order, records requests, and fails clearly when exhausted", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([
        Scripted.reply("one", { chunks: ["o", "ne"] }),
        Scripted.toolCall("add", { a: 1 })
      ])
      const first = yield* scripted.service.chat({ messages: [], model: "asked-model" })
      assert.strictEqual(first.text, "one")
      assert.strictEqual(first.provider.kind, "scripted")
      assert.strictEqual(first.model, "asked-model")
      const second = yield* scripted.service.chat({ messages: [] })
      assert.strictEqual(second.finishReason, "tool_calls")
      assert.deepStrictEqual(second.toolCalls[0]?.parsed, { a: 1 })
      const error = yield* Effect.flip(scripted.service.chat({ messages: [] }))
      assert.strictEqual(error.reason, "ScriptExhausted")
      assert.match(error.message, /2 replies/)
      assert.strictEqual((yield* scripted.requests).length, 3)
      assert.strictEqual(yield* scripted.remaining, 0)
    }))

  it.effect("streams text in the scripted chunks", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([Scripted.reply("Hello", { chunks: ["Hel", "lo"] })])
      const parts = yield* Stream.runCollect(scripted.service.stream({ messages: [] }))
      const deltas = Array.from(parts).flatMap((part) => part._tag === "TextDelta" ? [part.text] : [])
      assert.deepStrictEqual(deltas, ["Hel", "lo"])
    }))
})

describe("Provider.fingerprint", () => {
  it.effect("is the hash of the request's content, whatever was fingerprinted before it", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("what is 2 + 2?").pipe(
        Effect.flatMap(Session.append(Entry.system("be brief"))),
        Effect.flatMap(
          Session.append(Entry.assistant({ text: "", toolCalls: [Provider.toolCall("c1", "add", "{\"a\":2}")] }))
        ),
        Effect.flatMap(Session.append(Entry.toolResult({ callId: "c1", toolName: "add", output: { sum: 4 } }))),
        Effect.flatMap(Session.append(Entry.assistant({ text: "4", reasoning: "adding" })))
      )
      const messages = Chunk.toReadonlyArray(Session.transcript(session))
      const tools = [{ name: "add", description: "Adds.", parameters: { type: "object" } }]
      // the definition: sha256 of the JSON of [messages without ids/times/authors, tools, choice, format]
      const reference = (request: Provider.Request) =>
        "sha256:" + createHash("sha256").update(JSON.stringify([
          request.messages.map((m) =>
            m._tag === "Assistant"
              ? [m._tag, m.text, m.reasoning ?? null, m.toolCalls.map((c) => [c.id, c.name, c.arguments])]
              : m._tag === "ToolResult"
              ? [m._tag, m.callId, m.toolName, m.output ?? null, m.error ?? null]
              : [m._tag, m.text]
          ),
          (request.tools ?? []).map((t) => [t.name, t.description, t.parameters]),
          request.toolChoice ?? "auto",
          request.responseFormat ?? null
        ])).digest("hex").slice(0, 32)
      const requests: Array<Provider.Request> = [
        { messages },
        { messages: messages.slice(0, 2), tools, toolChoice: "auto" },
        { messages, tools, toolChoice: { tool: "add" } },
        { messages, tools: [], responseFormat: { type: "json_object" } }
      ]
      for (const request of requests) {
        // twice: the second call reads the cached pieces
        assert.strictEqual(Provider.fingerprint(request), reference(request))
        assert.strictEqual(Provider.fingerprint(request), reference(request))
      }
      assert.notStrictEqual(Provider.fingerprint(requests[0]!), Provider.fingerprint(requests[1]!))
    }))
})
