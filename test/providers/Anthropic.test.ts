import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Anthropic, Entry, Provider } from "rath"
import * as Server from "./server.js"
import { KEY } from "./wires.js"

const author = { kind: "user", name: "u" } as const
const base = (id: string) => ({ id: Entry.EntryId.make(id), timestamp: 0, author, parents: [] })

const transcript: ReadonlyArray<Entry.Message> = [
  new Entry.System({ ...base("1"), text: "rule one" }),
  new Entry.User({ ...base("2"), text: "do two things" }),
  new Entry.System({ ...base("3"), text: "rule two" }),
  new Entry.Assistant({
    ...base("4"),
    text: "on it",
    reasoning: "hidden",
    toolCalls: [{ id: "t1", name: "a", arguments: "{\"x\":1}", parsed: { x: 1 } }, {
      id: "t2",
      name: "b",
      arguments: ""
    }]
  }),
  new Entry.ToolResult({ ...base("5"), callId: "t1", toolName: "a", output: "fine", durationMs: 1 }),
  new Entry.ToolResult({
    ...base("6"),
    callId: "t2",
    toolName: "b",
    output: null,
    error: { kind: "timeout", message: "too slow" },
    durationMs: 1
  }),
  new Entry.Compression({ ...base("7"), covers: [], text: "earlier" })
]

describe("Anthropic", () => {
  it("joins system entries and groups consecutive tool results into one user message", () => {
    const rendered = Anthropic.renderMessages(Provider.fromEntries(transcript))
    assert.strictEqual(rendered.system, "rule one\n\nrule two")
    assert.deepStrictEqual(rendered.messages, [
      { role: "user", content: [{ type: "text", text: "do two things" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "on it" },
          { type: "tool_use", id: "t1", name: "a", input: { x: 1 } },
          { type: "tool_use", id: "t2", name: "b", input: {} }
        ]
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "t1", content: "fine" },
          { type: "tool_result", tool_use_id: "t2", content: "Error (timeout): too slow", is_error: true },
          { type: "text", text: "Summary of earlier conversation:\nearlier" }
        ]
      }
    ])
  })

  it("maps tool choice, max_tokens from the request or the configured default, and stop reasons", () => {
    const options = { model: "c", maxTokens: 999 }
    const choice = (toolChoice: Provider.ToolChoice) =>
      Anthropic.renderRequest({ messages: [], toolChoice }, options).tool_choice
    assert.deepStrictEqual(choice("auto"), { type: "auto" })
    assert.deepStrictEqual(choice("none"), { type: "none" })
    assert.deepStrictEqual(choice("required"), { type: "any" })
    assert.deepStrictEqual(choice({ tool: "a" }), { type: "tool", name: "a" })
    assert.strictEqual(Anthropic.renderRequest({ messages: [] }, options).max_tokens, 999)
    assert.strictEqual(Anthropic.renderRequest({ messages: [], maxTokens: 5 }, options).max_tokens, 5)
    const body = Anthropic.renderRequest({
      messages: [],
      stop: ["X"],
      responseFormat: { type: "json_schema", name: "o", schema: { type: "object" } }
    }, options)
    assert.deepStrictEqual(body.stop_sequences, ["X"])
    assert.deepStrictEqual(body.output_config, { format: { type: "json_schema", schema: { type: "object" } } })
    assert.deepStrictEqual(
      ["end_turn", "stop_sequence", "max_tokens", "tool_use", "refusal", "pause_turn", "brand_new"].map(
        Anthropic.finishReason
      ),
      ["stop", "stop", "length", "tool_calls", "content_filter", "other", "other"]
    )
  })

  it.scopedLive("usage comes from message_start and message_delta; the key is sent", () =>
    Effect.gen(function*() {
      const server = yield* Server.start(() => ({
        sse: [
          Server.sse({
            type: "message_start",
            message: {
              id: "msg_1",
              type: "message",
              role: "assistant",
              model: "claude-x",
              content: [],
              usage: { input_tokens: 10, cache_read_input_tokens: 4, cache_creation_input_tokens: 2, output_tokens: 1 }
            }
          }, "message_start"),
          Server.sse(
            { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
            "content_block_start"
          ),
          Server.sse(
            { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hey" } },
            "content_block_delta"
          ),
          Server.sse({ type: "content_block_stop", index: 0 }, "content_block_stop"),
          Server.sse(
            { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 9 } },
            "message_delta"
          ),
          Server.sse({ type: "message_stop" }, "message_stop")
        ]
      }))
      const provider = Anthropic.make({ apiKey: Redacted.make(KEY), baseUrl: server.url, model: "c", maxTokens: 64 })
      const response = yield* Provider.accumulate(
        provider.stream({ messages: Provider.fromEntries(transcript) }),
        provider.info
      )
      assert.deepStrictEqual(response.usage, {
        inputTokens: 16,
        outputTokens: 9,
        totalTokens: 25,
        cachedInputTokens: 4
      })
      assert.strictEqual(response.provider.requestId, "msg_1")
      const received = server.received[0]!
      // @anthropic-ai/sdk 1.x sends the key as a bearer token
      assert.strictEqual(received.headers.authorization, `Bearer ${KEY}`)
      assert.strictEqual(received.body.max_tokens, 64)
      assert.strictEqual(received.body.system, "rule one\n\nrule two")
    }))

  it.effect("json_object has no Messages API equivalent: a BadRequest before any request", () =>
    Effect.gen(function*() {
      const provider = Anthropic.make({
        apiKey: Redacted.make(KEY),
        baseUrl: "http://127.0.0.1:9",
        model: "c",
        maxTokens: 1
      })
      const error = yield* Effect.flip(
        Stream.runDrain(provider.stream({ messages: [], responseFormat: { type: "json_object" } }))
      )
      assert.strictEqual(error.reason, "BadRequest")
    }))
})
