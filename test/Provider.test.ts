import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Entry, Provider, Scripted, Session } from "rath"
import * as Seal from "../src/internal/seal.js"

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
      // a plain object with the fields that are set, in their order
      assert.strictEqual(Object.getPrototypeOf(response), Object.prototype)
      assert.deepStrictEqual(Object.keys(response), ["text", "toolCalls", "finishReason", "usage", "model", "provider"])
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
  it.effect("hashes exactly what is sent: the messages' content, the tools, the model and every option", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("what is 2 + 2?").pipe(
        Effect.flatMap(Session.append(Entry.system("be brief"))),
        Effect.flatMap(
          Session.append(Entry.assistant({ text: "", toolCalls: [Provider.toolCall("c1", "add", "{\"a\":2}")] }))
        ),
        Effect.flatMap(Session.append(Entry.toolResult({ callId: "c1", toolName: "add", output: { sum: 4 } }))),
        Effect.flatMap(Session.append(Entry.assistant({ text: "4", reasoning: "adding" })))
      )
      const messages = Session.messages(session)
      const tools = [{ name: "add", description: "Adds.", parameters: { type: "object" } }]
      const base: Provider.Request = { messages, tools, toolChoice: "auto", model: "m1" }
      // the same content in fresh objects (other ids, times and authors: not sent) hashes the same
      const copies: Array<Provider.Message> = messages.map((m) => ({ ...m }))
      assert.strictEqual(Provider.fingerprint({ ...base, messages: copies }), Provider.fingerprint(base))
      assert.isTrue(Provider.fingerprint(base).startsWith(Provider.FINGERPRINT_PREFIX))
      // anything that is sent changes it
      const changed: ReadonlyArray<Provider.Request> = [
        { ...base, messages: messages.slice(0, 2) },
        { ...base, messages: [...messages.slice(0, 4), { _tag: "Assistant", text: "5", toolCalls: [] }] },
        { ...base, messages: [...messages.slice(0, 4), { _tag: "Assistant", text: "4", toolCalls: [] }] },
        {
          ...base,
          messages: [...messages.slice(0, 3), { _tag: "ToolResult", callId: "c1", toolName: "add", output: { sum: 5 } }]
        },
        { ...base, tools: [{ ...tools[0]!, description: "Adds two." }] },
        { ...base, tools: [] },
        { ...base, toolChoice: { tool: "add" } },
        { ...base, model: "m2" },
        { ...base, temperature: 0.5 },
        { ...base, topP: 0.9 },
        { ...base, maxTokens: 100 },
        { ...base, stop: ["x"] },
        { ...base, seed: 7 },
        { ...base, responseFormat: { type: "json_object" } },
        { ...base, extra: { user: "u1" } }
      ]
      const all = new Set([Provider.fingerprint(base), ...changed.map(Provider.fingerprint)])
      assert.strictEqual(all.size, changed.length + 1)
      // computed again (cached pieces), the same
      for (const request of changed) assert.strictEqual(Provider.fingerprint(request), Provider.fingerprint(request))
    }))

  // values recorded by earlier builds (before the digests were made cheaper): recordings are
  // matched by them, so they must never change
  const pinnedMessages: ReadonlyArray<Provider.Message> = [
    { _tag: "System", text: "be brief" },
    { _tag: "User", text: "what is 2 + 2?" },
    {
      _tag: "Assistant",
      text: "",
      reasoning: "adding",
      toolCalls: [{ id: "c1", name: "add", arguments: "{\"a\":2}" }],
      metadata: { anthropic: { signature: "s" } }
    },
    { _tag: "ToolResult", callId: "c1", toolName: "add", output: { sum: 4 } },
    {
      _tag: "ToolResult",
      callId: "c2",
      toolName: "add",
      output: "four",
      error: { kind: "tool_failed", message: "no" }
    },
    { _tag: "Assistant", text: "4", toolCalls: [] }
  ]
  const pinnedTools = [{ name: "add", description: "Adds.", parameters: { type: "object" } }]

  it("keeps the recorded values, whatever was fingerprinted before", () => {
    const full = () => ({
      messages: pinnedMessages,
      tools: pinnedTools,
      toolChoice: "auto" as const,
      model: "m1",
      temperature: 0.5
    })
    const expected = {
      full: "v2:26f15051696e59d720983727b7b87653",
      three: "v2:e5b0b914ae9b476d20e3a7e31b54f801",
      none: "v2:1a8f0dad84e34436465307ca2a704599"
    }
    assert.strictEqual(Provider.fingerprint(full()), expected.full)
    // a shorter list after the longer one, and the longer one again (digests cached or not)
    assert.strictEqual(Provider.fingerprint({ messages: pinnedMessages.slice(0, 3) }), expected.three)
    assert.strictEqual(Provider.fingerprint(full()), expected.full)
    assert.strictEqual(Provider.fingerprint({ messages: [] }), expected.none)
    // fresh objects (nothing cached) give the same
    const fresh = pinnedMessages.map((m) => ({ ...m }))
    assert.strictEqual(Provider.fingerprint({ ...full(), messages: fresh }), expected.full)
  })

  it("keeps the recorded values for long messages and for options asked again or changed in place", () => {
    // a long message's digest is cached, a short one's is not; options that are all primitives are
    // reused from the last call, an array of stop sequences changed in place is not
    const long: Provider.Message = { _tag: "ToolResult", callId: "c9", toolName: "read", output: "x".repeat(300) }
    const messages: ReadonlyArray<Provider.Message> = [{ _tag: "User", text: "read it" }, long]
    const stop = ["a"]
    for (let i = 0; i < 2; i++) {
      assert.strictEqual(
        Provider.fingerprint({ messages, model: "m1", temperature: 0.5 }),
        "v2:1c336925c574687dda40a1f43c3fe6c0"
      )
    }
    assert.strictEqual(Provider.fingerprint({ messages, model: "m1", stop }), "v2:de47376106c71face87adf006797960b")
    stop.push("b")
    assert.strictEqual(Provider.fingerprint({ messages, model: "m1", stop }), "v2:e4bddb93545c4340b349ca140bf6f701")
  })

  it("gives the value of fresh messages whatever lists the same message objects were in before", () => {
    // a pool of message objects fingerprinted in many orders and groupings (growing lists, a
    // message moved to the front, one left out, one twice, another prefix): each fingerprint
    // equals that of the same content in fresh objects, which nothing was cached for
    const pool: Array<Provider.Message> = Array.from({ length: 8 }, (_, i) =>
      i % 2 === 0
        ? { _tag: "User", text: `u${i}` }
        : { _tag: "Assistant", text: `a${i}`, toolCalls: [] })
    let seed = 7
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    }
    const lists: Array<Array<Provider.Message>> = []
    for (let k = 0; k <= pool.length; k++) lists.push(pool.slice(0, k))
    lists.push([pool[5]!, ...pool.slice(0, 5)], pool.slice(1), [pool[0]!, pool[2]!, pool[3]!], [pool[1]!, pool[1]!])
    for (let r = 0; r < 200; r++) lists.push(Array.from({ length: next(7) }, () => pool[next(pool.length)]!))
    for (let r = 0; r < 3; r++) {
      for (const messages of lists) {
        assert.strictEqual(
          Provider.fingerprint({ messages }),
          Provider.fingerprint({ messages: messages.map((m) => ({ ...m })) }),
          messages.map((m) => m._tag === "User" || m._tag === "Assistant" ? m.text : m._tag).join(",")
        )
      }
    }
  })
})

describe("seals", () => {
  it("keep the digests recorded by earlier builds (recordings are checked against them)", () => {
    assert.deepStrictEqual(
      Seal.seal("Assistant", {
        text: "4",
        toolCalls: [{ id: "c1", name: "add", arguments: "{\"a\":2}", parsed: { a: 2 } }],
        metadata: { x: 1 }
      }),
      {
        text: "79e74b7edfa3d2ae53d0048c064cd640",
        toolCalls: "444c3b8f2d6643a3cdc77633c30f61aa",
        metadata: "a3acda466789f1fc4218ef85104b2fed"
      }
    )
    assert.deepStrictEqual(Seal.seal("Memory", { hits: [{ text: "t", score: 1 }], written: [] }), {
      "hits[0].text": "e4c26962a8a025f9913fcafe84075354",
      "hits[0].score": "a82f6b51cba5797ddb1cb0fe63e4e775",
      hits: "c0b455b8a75660ef7c3a4a0df260f21d"
    })
  })
})
