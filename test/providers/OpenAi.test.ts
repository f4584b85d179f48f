import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Stream } from "effect"
import { Entry, OpenAi, Provider } from "rath"
import * as Server from "./server.js"
import { KEY, openAiWire } from "./wires.js"

const author = { kind: "user", name: "u" } as const
const base = (id: string) => ({ id: Entry.EntryId.make(id), timestamp: 0, author, parents: [] })

const transcript: ReadonlyArray<Entry.Message> = [
  new Entry.System({ ...base("1"), text: "rules" }),
  new Entry.Compression({ ...base("2"), covers: [], text: "we talked" }),
  new Entry.User({ ...base("3"), text: "add" }),
  new Entry.Assistant({
    ...base("4"),
    text: "",
    toolCalls: [{ id: "c1", name: "add", arguments: "{\"a\":1}", parsed: { a: 1 } }, {
      id: "c2",
      name: "now",
      arguments: ""
    }]
  }),
  new Entry.ToolResult({ ...base("5"), callId: "c1", toolName: "add", output: { sum: 1 }, durationMs: 1 }),
  new Entry.ToolResult({
    ...base("6"),
    callId: "c2",
    toolName: "now",
    output: null,
    error: { kind: "tool_failed", message: "clock broke" },
    durationMs: 1
  })
]

describe("OpenAi", () => {
  it("renders the transcript as Chat Completions messages", () => {
    const messages = OpenAi.renderMessages(Provider.fromEntries(transcript))
    assert.deepStrictEqual(messages, [
      { role: "system", content: "rules" },
      { role: "user", content: "Summary of earlier conversation:\nwe talked" },
      { role: "user", content: "add" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "c1", type: "function", function: { name: "add", arguments: "{\"a\":1}" } },
          { id: "c2", type: "function", function: { name: "now", arguments: "{}" } }
        ]
      },
      { role: "tool", tool_call_id: "c1", content: "{\"sum\":1}" },
      { role: "tool", tool_call_id: "c2", content: "Error (tool_failed): clock broke" }
    ])
  })

  it("maps tool choice, response format, max tokens field and extra arguments", () => {
    const body = OpenAi.renderRequest({
      messages: [],
      toolChoice: { tool: "add" },
      responseFormat: { type: "json_schema", name: "out", schema: { type: "object" }, strict: true },
      maxTokens: 10,
      seed: 7,
      extra: { user: "abc" }
    }, { model: "m", maxTokensField: "max_completion_tokens" })
    assert.deepStrictEqual(body.tool_choice, { type: "function", function: { name: "add" } })
    assert.deepStrictEqual(body.response_format, {
      type: "json_schema",
      json_schema: { name: "out", schema: { type: "object" }, strict: true }
    })
    assert.strictEqual(body.max_completion_tokens, 10)
    assert.isUndefined(body.max_tokens)
    assert.strictEqual(body.seed, 7)
    assert.strictEqual(body.user, "abc")
    assert.strictEqual(OpenAi.renderRequest({ messages: [], toolChoice: "none" }, { model: "m" }).tool_choice, "none")
    assert.strictEqual(OpenAi.finishReason("something_new"), "other")
  })

  it.scopedLive("streams with include_usage, extra headers and organization on the wire", () =>
    Effect.gen(function*() {
      const server = yield* Server.start(() => ({
        sse: openAiWire.stream({ id: "x", model: "m", text: ["hi"], usage: { input: 1, output: 1 }, finish: "stop" })
      }))
      const provider = OpenAi.make({
        apiKey: Redacted.make(KEY),
        baseUrl: `${server.url}/v1`,
        model: "m",
        organization: "org-1",
        headers: { "x-gateway-route": "blue" }
      })
      yield* Stream.runDrain(provider.stream({ messages: Provider.fromEntries(transcript) }))
      const received = server.received[0]!
      assert.deepStrictEqual(received.body.stream_options, { include_usage: true })
      assert.strictEqual(received.headers["x-gateway-route"], "blue")
      assert.strictEqual(received.headers["openai-organization"], "org-1")
      assert.strictEqual(received.body.messages.length, 6)
    }))

  it.scopedLive("tool calls whose id arrives after their arguments are still joined", () =>
    Effect.gen(function*() {
      const chunk = (delta: unknown, finish: string | null = null) =>
        Server.sse({
          id: "x",
          model: "m",
          object: "chat.completion.chunk",
          choices: [{ index: 0, delta, finish_reason: finish }]
        })
      const server = yield* Server.start(() => ({
        sse: [
          chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"q\":" } }] }),
          chunk({ tool_calls: [{ index: 0, id: "late", function: { name: "search", arguments: "\"x\"}" } }] }),
          chunk({}, "tool_calls"),
          "data: [DONE]\n\n"
        ]
      }))
      const provider = OpenAi.make({ apiKey: Redacted.make(KEY), baseUrl: `${server.url}/v1`, model: "m" })
      const parts = [...(yield* Stream.runCollect(provider.stream({ messages: [] })))]
      const toolCalls = parts.filter((p) => p._tag === "ToolCallStart")
      const response = yield* Provider.accumulate(Stream.fromIterable(parts), provider.info)
      assert.deepStrictEqual(response.toolCalls, [{
        id: "late",
        name: "search",
        arguments: "{\"q\":\"x\"}",
        parsed: { q: "x" }
      }])
      assert.deepStrictEqual(toolCalls, [{ _tag: "ToolCallStart", index: 0, id: "late", name: "search" }])
    }))

  it.scopedLive("the embedder posts to /embeddings, keeps order, learns or checks dimensions", () =>
    Effect.gen(function*() {
      const server = yield* Server.start((r) => ({
        json: {
          object: "list",
          model: r.body.model,
          data: [...r.body.input].map((text: string, index: number) => ({
            object: "embedding",
            index,
            embedding: [text.length, index, r.body.dimensions ?? 3].slice(0, r.body.dimensions === 2 ? 2 : 3)
          })).reverse(),
          usage: { prompt_tokens: 1, total_tokens: 1 }
        }
      }))
      const embedder = yield* OpenAi.makeEmbedder({
        apiKey: Redacted.make(KEY),
        baseUrl: `${server.url}/v1`,
        model: "emb-1",
        batchSize: 2
      })
      assert.strictEqual(embedder.dimensions, 3)
      const vectors = yield* embedder.embed(["a", "bb", "ccc"])
      assert.deepStrictEqual(vectors.map((v) => v[0]), [1, 2, 3])
      assert.strictEqual(server.received.length, 3) // the probe, then two batches
      assert.strictEqual(server.received[1]?.path, "/v1/embeddings")
      const wrong = yield* OpenAi.makeEmbedder({
        apiKey: Redacted.make(KEY),
        baseUrl: `${server.url}/v1`,
        model: "emb-1",
        dimensions: 4
      })
      const error = yield* Effect.flip(wrong.embed(["x"]))
      assert.strictEqual(error.reason, "DimensionMismatch")
    }))
})
