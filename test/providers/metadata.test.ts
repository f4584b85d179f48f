/**
 * Provider metadata round trip: what a vendor needs to continue a conversation (Anthropic's signed
 * and redacted thinking, OpenRouter-style `reasoning_details` on Chat Completions) is kept on the
 * assistant entry and sent back, on the wire, with the next turn of an agent's run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Redacted, Schema } from "effect"
import { Agent, Anthropic, Entry, IdGenerator, OpenAi, Provider, Session, Tool } from "rath"
import * as Server from "./server.js"
import { KEY } from "./wires.js"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const run = (provider: Provider.Service) =>
  Effect.gen(function*() {
    const input = yield* Session.fromUserMessage("what is 2 + 3?")
    return yield* Agent.make({ name: "adder", tools: [add] })(input)
  }).pipe(
    // the agent calls `chat`: this provider's `chat` folds its stream, so the stream is what runs
    Effect.provideService(Provider.Provider, Provider.make({ info: provider.info, stream: provider.stream })),
    Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
  )

const assistants = (session: Session.Session) =>
  Chunk.toReadonlyArray(Session.entries(session)).filter(Entry.is("Assistant"))

const anthropicStream = (frames: ReadonlyArray<[string, unknown]>) =>
  frames.map(([type, data]) => Server.sse({ type, ...(data as object) }, type))

const messageStart = (id: string) =>
  [
    "message_start",
    {
      message: {
        id,
        type: "message",
        role: "assistant",
        model: "claude-x",
        content: [],
        usage: { input_tokens: 10, output_tokens: 1 }
      }
    }
  ] as [string, unknown]

const messageEnd = (stop: string): Array<[string, unknown]> => [
  ["message_delta", { delta: { stop_reason: stop }, usage: { output_tokens: 7 } }],
  ["message_stop", {}]
]

describe("provider metadata round trip", () => {
  it.scopedLive("Anthropic: signed thinking and redacted thinking come back, in order, before the turn's tool use", () =>
    Effect.gen(function*() {
      const server = yield* Server.start((_, index) =>
        index === 0
          ? {
            sse: anthropicStream([
              messageStart("msg_1"),
              ["content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }],
              ["content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "add " } }],
              ["content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "them" } }],
              ["content_block_delta", { index: 0, delta: { type: "signature_delta", signature: "sig-AAA" } }],
              ["content_block_stop", { index: 0 }],
              ["content_block_start", { index: 1, content_block: { type: "redacted_thinking", data: "enc-BBB" } }],
              ["content_block_stop", { index: 1 }],
              ["content_block_start", {
                index: 2,
                content_block: { type: "tool_use", id: "toolu_1", name: "add", input: {} }
              }],
              ["content_block_delta", {
                index: 2,
                delta: { type: "input_json_delta", partial_json: "{\"a\":2,\"b\":3}" }
              }],
              ["content_block_stop", { index: 2 }],
              ...messageEnd("tool_use")
            ])
          }
          : {
            sse: anthropicStream([
              messageStart("msg_2"),
              ["content_block_start", { index: 0, content_block: { type: "text", text: "" } }],
              ["content_block_delta", { index: 0, delta: { type: "text_delta", text: "5" } }],
              ["content_block_stop", { index: 0 }],
              ...messageEnd("end_turn")
            ])
          }
      )
      const provider = Anthropic.make({ apiKey: Redacted.make(KEY), baseUrl: server.url, model: "c", maxTokens: 64 })
      const out = yield* run(provider)
      assert.strictEqual(server.received.length, 2)
      const blocks = [
        { type: "thinking", thinking: "add them", signature: "sig-AAA" },
        { type: "redacted_thinking", data: "enc-BBB" }
      ]
      // the entry keeps them (and the reasoning text as before)
      const first = assistants(out)[0]!
      assert.strictEqual(first.reasoning, "add them")
      assert.deepStrictEqual(first.metadata, { anthropic: { blocks } })
      // ...sealed: an edit of the recording is detected
      assert.isString(first.seal?.metadata)
      // the second request sends them back as the assistant turn's first blocks
      const assistant = server.received[1]!.body.messages[1]
      assert.strictEqual(assistant.role, "assistant")
      assert.deepStrictEqual(assistant.content, [
        ...blocks,
        { type: "tool_use", id: "toolu_1", name: "add", input: { a: 2, b: 3 } }
      ])
      // the first request had nothing to send back
      assert.deepStrictEqual(server.received[0]!.body.messages.map((m: any) => m.role), ["user"])
    }))

  it.scopedLive("Anthropic chat (not streamed) keeps the same blocks; unsigned thinking is never sent back", () =>
    Effect.gen(function*() {
      const server = yield* Server.start(() => ({
        json: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: "claude-x",
          content: [
            { type: "thinking", thinking: "hmm", signature: "sig-1" },
            { type: "redacted_thinking", data: "enc-2" },
            { type: "text", text: "hi" }
          ],
          stop_reason: "end_turn",
          usage: { input_tokens: 3, output_tokens: 4 }
        }
      }))
      const provider = Anthropic.make({ apiKey: Redacted.make(KEY), baseUrl: server.url, model: "c", maxTokens: 64 })
      const response = yield* provider.chat({ messages: [{ _tag: "User", text: "hi" }] })
      assert.deepStrictEqual(response.metadata, {
        anthropic: {
          blocks: [{ type: "thinking", thinking: "hmm", signature: "sig-1" }, {
            type: "redacted_thinking",
            data: "enc-2"
          }]
        }
      })
      // reasoning with no metadata (another vendor's, an older entry's) is not sent: unsigned thinking is refused
      const rendered = Anthropic.renderMessages([
        { _tag: "User", text: "q" },
        { _tag: "Assistant", text: "a", reasoning: "unsigned", toolCalls: [] },
        { _tag: "Assistant", text: "b", toolCalls: [], metadata: { openai: { reasoning_details: [{ x: 1 }] } } }
      ])
      assert.deepStrictEqual(rendered.messages[1]!.content, [{ type: "text", text: "a" }, { type: "text", text: "b" }])
    }))

  it.scopedLive("OpenAI-compatible: streamed reasoning_details are joined by index and sent back on the assistant message", () =>
    Effect.gen(function*() {
      const chunk = (delta: unknown, finish: string | null = null) =>
        Server.sse({ id: "cmpl", model: "m-1", choices: [{ index: 0, delta, finish_reason: finish }] })
      const server = yield* Server.start((_, index) => ({
        sse: index === 0
          ? [
            chunk({
              role: "assistant",
              reasoning: "add ",
              reasoning_details: [{ type: "reasoning.text", text: "add ", index: 0, format: "anthropic-claude-v1" }]
            }),
            chunk({ reasoning: "them", reasoning_details: [{ type: "reasoning.text", text: "them", index: 0 }] }),
            chunk({ reasoning_details: [{ type: "reasoning.text", signature: "sig-X", index: 0 }] }),
            chunk({ reasoning_details: [{ type: "reasoning.encrypted", data: "enc-Y", index: 1 }] }),
            chunk({
              tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "add", arguments: "" } }]
            }),
            chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"a\":2," } }] }),
            chunk({ tool_calls: [{ index: 0, function: { arguments: "\"b\":3}" } }] }),
            chunk({}, "tool_calls"),
            Server.sse({ id: "cmpl", model: "m-1", choices: [], usage: { prompt_tokens: 5, completion_tokens: 6 } }),
            "data: [DONE]\n\n"
          ]
          : [
            chunk({ role: "assistant", content: "5" }),
            chunk({}, "stop"),
            Server.sse({ id: "cmpl", model: "m-1", choices: [], usage: { prompt_tokens: 5, completion_tokens: 1 } }),
            "data: [DONE]\n\n"
          ]
      }))
      const provider = OpenAi.make({ apiKey: Redacted.make(KEY), baseUrl: `${server.url}/v1`, model: "m" })
      const out = yield* run(provider)
      const details = [
        { type: "reasoning.text", text: "add them", index: 0, format: "anthropic-claude-v1", signature: "sig-X" },
        { type: "reasoning.encrypted", data: "enc-Y", index: 1 }
      ]
      const first = assistants(out)[0]!
      assert.strictEqual(first.reasoning, "add them")
      const host = `127.0.0.1:${server.port}`
      assert.deepStrictEqual(first.metadata, { openai: { host, reasoning_details: details } })
      const sent = server.received[1]!.body.messages[1]
      assert.strictEqual(sent.role, "assistant")
      assert.deepStrictEqual(sent.reasoning_details, details)
      // another endpoint (OpenAI itself refuses the field) is not sent them
      const elsewhere = OpenAi.renderRequest({ messages: Session.messages(out) }, {
        model: "m",
        baseUrl: "https://api.openai.com/v1"
      })
      assert.isFalse(JSON.stringify(elsewhere.messages).includes("reasoning_details"))
      assert.deepStrictEqual(sent.tool_calls.map((c: any) => c.function.arguments), ["{\"a\":2,\"b\":3}"])
      // a gateway that sends no reasoning_details gets none back
      const plain = OpenAi.renderMessages([{ _tag: "Assistant", text: "x", reasoning: "r", toolCalls: [] }])
      assert.deepStrictEqual(plain, [{ role: "assistant", content: "x" }])
    }))

  it.scopedLive("OpenAI-compatible chat (not streamed) keeps reasoning_details as they came", () =>
    Effect.gen(function*() {
      const details = [{ type: "reasoning.encrypted", data: "enc-Z", id: "rs_1" }]
      const server = yield* Server.start(() => ({
        json: {
          id: "cmpl",
          model: "m-1",
          choices: [{
            index: 0,
            message: { role: "assistant", content: "hi", reasoning_details: details },
            finish_reason: "stop"
          }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
        }
      }))
      const provider = OpenAi.make({ apiKey: Redacted.make(KEY), baseUrl: `${server.url}/v1`, model: "m" })
      const response = yield* provider.chat({ messages: [{ _tag: "User", text: "hi" }] })
      assert.deepStrictEqual(response.metadata, {
        openai: { host: `127.0.0.1:${server.port}`, reasoning_details: details }
      })
    }))

  it.effect("the field is optional: entries and JSONL written before it decode, and it survives JSONL", () =>
    Effect.gen(function*() {
      const base = {
        id: Entry.EntryId.make("e1"),
        timestamp: 0,
        author: { kind: "user", name: "u" } as const,
        parents: []
      }
      // an entry as rath wrote it before the field existed
      const old = Schema.decodeUnknownEither(Entry.Entry)({ _tag: "Assistant", ...base, text: "hi", toolCalls: [] })
      assert.isTrue(Either.isRight(old))
      const withMetadata = new Entry.Assistant({
        ...base,
        text: "hi",
        toolCalls: [],
        metadata: { anthropic: { blocks: [{ type: "redacted_thinking", data: "enc" }] } }
      })
      const session = Session.appendEntry(yield* Session.empty(), withMetadata)
      const back = yield* Session.fromJsonl(Session.toJsonl(session))
      const entry = Chunk.toReadonlyArray(Session.entries(back.session))[0] as Entry.Assistant
      assert.deepStrictEqual(entry.metadata, withMetadata.metadata)
    }))

  it("metadata is part of the request fingerprint only when present", () => {
    const plain: Provider.Message = { _tag: "Assistant", text: "a", toolCalls: [] }
    const signed: Provider.Message = {
      ...plain,
      metadata: { anthropic: { blocks: [{ type: "redacted_thinking", data: "x" }] } }
    }
    const other: Provider.Message = {
      ...plain,
      metadata: { anthropic: { blocks: [{ type: "redacted_thinking", data: "y" }] } }
    }
    const fp = (message: Provider.Message) => Provider.fingerprint({ messages: [message] })
    assert.notStrictEqual(fp(plain), fp(signed))
    assert.notStrictEqual(fp(signed), fp(other))
    assert.strictEqual(fp(plain), fp({ _tag: "Assistant", text: "a", toolCalls: [] }))
  })
})
