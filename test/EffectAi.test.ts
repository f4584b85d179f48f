/**
 * The @effect/ai bridges, through the public API: a rath agent over @effect/ai-openai's
 * OpenAiLanguageModel talking to a local server that speaks the OpenAI Responses wire format; the
 * recording replayed offline and through both bridges; a rath provider serving @effect/ai's
 * generateText and streamText; tools both ways.
 */
import { LanguageModel, Tool as AiTool, Toolkit as AiToolkit } from "@effect/ai"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Option, Redacted, Schema, Stream } from "effect"
import { Agent, Approval, Entry, IdGenerator, Provider, Replay, Scripted, Session, Tool } from "rath"
import * as EffectAi from "rath/EffectAi"
import * as Server from "./providers/server.js"
import { divergenceOf } from "./utils.js"

const KEY = "sk-test-effect-ai"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const adder = Agent.make({ name: "adder", tools: [add] })

const ids = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const entriesOf = (session: Session.Session) => Chunk.toReadonlyArray(Session.entries(session))
const assistants = (session: Session.Session) => entriesOf(session).filter(Entry.is("Assistant"))
const results = (session: Session.Session) => entriesOf(session).filter(Entry.is("ToolResult"))

// -----------------------------------------------------------------------------
// the OpenAI Responses wire format (the fields @effect/ai-openai's schemas require)
// -----------------------------------------------------------------------------

const response = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  object: "response",
  created_at: 1_700_000_000,
  status: "in_progress",
  error: null,
  incomplete_details: null,
  output: [],
  instructions: null,
  model: "gpt-test-2026",
  parallel_tool_calls: true,
  tools: [],
  tool_choice: "auto",
  metadata: null,
  temperature: null,
  top_p: null,
  ...extra
})

const events = (list: ReadonlyArray<Record<string, unknown>>) =>
  list.map((event, sequence_number) => Server.sse({ ...event, sequence_number }, event.type as string))

const created = (id: string) => ({ type: "response.created", response: response(id) })
const completed = (id: string, usage: { input: number; cached: number; output: number; reasoning: number }) => ({
  type: "response.completed",
  response: response(id, {
    status: "completed",
    usage: {
      input_tokens: usage.input,
      input_tokens_details: { cached_tokens: usage.cached },
      output_tokens: usage.output,
      output_tokens_details: { reasoning_tokens: usage.reasoning },
      total_tokens: usage.input + usage.output
    }
  })
})
const reasoningItem = { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "enc-SECRET-1" }
const callItem = (args: string) => ({
  type: "function_call",
  id: "fc_1",
  call_id: "call_1",
  name: "add",
  arguments: args,
  status: "completed"
})
const messageItem = (text: string) => ({
  type: "message",
  id: "msg_2",
  role: "assistant",
  status: "completed",
  content: text === "" ? [] : [{ type: "output_text", text, annotations: [] }]
})

/** A first turn: a reasoning item, then a function call whose arguments stream in `pieces`. */
const toolTurn = (pieces: ReadonlyArray<string>) =>
  events([
    created("resp_1"),
    { type: "response.output_item.added", output_index: 0, item: { ...reasoningItem } },
    {
      type: "response.reasoning_summary_text.delta",
      item_id: "rs_1",
      output_index: 0,
      summary_index: 0,
      delta: "add them"
    },
    { type: "response.output_item.done", output_index: 0, item: { ...reasoningItem, summary: [] } },
    { type: "response.output_item.added", output_index: 1, item: callItem("") },
    ...pieces.map((delta) => ({
      type: "response.function_call_arguments.delta",
      item_id: "fc_1",
      output_index: 1,
      delta
    })),
    { type: "response.output_item.done", output_index: 1, item: callItem(pieces.join("")) },
    completed("resp_1", { input: 20, cached: 8, output: 12, reasoning: 5 })
  ])

const textTurn = (text: string) =>
  events([
    created("resp_2"),
    { type: "response.output_item.added", output_index: 0, item: messageItem("") },
    {
      type: "response.output_text.delta",
      item_id: "msg_2",
      output_index: 0,
      content_index: 0,
      delta: text,
      logprobs: []
    },
    { type: "response.output_item.done", output_index: 0, item: messageItem(text) },
    completed("resp_2", { input: 30, cached: 0, output: 3, reasoning: 0 })
  ])

const openAi = (url: string) =>
  OpenAiLanguageModel.layer({ model: "gpt-test", config: { strict: false } }).pipe(
    Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(KEY), apiUrl: url })),
    Layer.provide(FetchHttpClient.layer)
  )

const bridged = (url: string) => EffectAi.layerFromLanguageModel({ model: "gpt-test" }).pipe(Layer.provide(openAi(url)))

describe("EffectAi.fromLanguageModel over OpenAiLanguageModel (Responses wire)", () => {
  it.scopedLive("an agent run: text, reasoning, exact argument text, usage, model, tools; metadata sent back; replays", () =>
    Effect.gen(function*() {
      // argument text with the model's own spacing: rath keeps it as it streamed
      const pieces = ["{\"a\": 2,", " \"b\":3}"]
      const server = yield* Server.start((_, index) => ({ sse: index === 0 ? toolTurn(pieces) : textTurn("5") }))
      const input = yield* Session.fromUserMessage("what is 2 + 3?")
      const recorded = yield* adder(input).pipe(Effect.provide(bridged(server.url)))

      assert.strictEqual(server.received.length, 2)
      assert.strictEqual(server.received[0]!.path, "/responses")
      assert.strictEqual(server.received[0]!.headers.authorization, `Bearer ${KEY}`)
      // the tool's JSON Schema goes out as rath wrote it
      const tool = server.received[0]!.body.tools[0]
      assert.strictEqual(tool.name, "add")
      assert.strictEqual(tool.description, "Adds two numbers")
      assert.deepStrictEqual(tool.parameters, Tool.definition(add).parameters)

      const [first, second] = assistants(recorded)
      assert.strictEqual(first!.reasoning, "add them")
      assert.deepStrictEqual(first!.toolCalls, [{
        id: "call_1",
        name: "add",
        arguments: "{\"a\": 2, \"b\":3}",
        parsed: { a: 2, b: 3 }
      }])
      assert.strictEqual(first!.finishReason, "tool_calls")
      assert.deepStrictEqual(first!.usage, {
        inputTokens: 20,
        outputTokens: 12,
        totalTokens: 32,
        cachedInputTokens: 8,
        reasoningTokens: 5
      })
      assert.strictEqual(first!.model, "gpt-test-2026")
      assert.deepStrictEqual(first!.provider, { kind: "effect-ai", requestId: "resp_1" })
      assert.strictEqual(second!.text, "5")
      assert.strictEqual(second!.finishReason, "stop")
      assert.deepStrictEqual(results(recorded).map((r) => r.output), [5])

      // the reasoning item id and its encrypted content are kept and sent back next turn
      const kept = first!.metadata?.[EffectAi.METADATA_KEY] as any
      assert.strictEqual(kept.reasoning[0].metadata.openai.itemId, "rs_1")
      assert.strictEqual(kept.reasoning[0].metadata.openai.encryptedContent, "enc-SECRET-1")
      const next = server.received[1]!.body.input as ReadonlyArray<any>
      const reasoning = next.find((item) => item.type === "reasoning")
      assert.strictEqual(reasoning.id, "rs_1")
      assert.strictEqual(reasoning.encrypted_content, "enc-SECRET-1")
      const call = next.find((item) => item.type === "function_call")
      assert.strictEqual(call.call_id, "call_1")
      assert.strictEqual(call.id, "fc_1")
      const output = next.find((item) => item.type === "function_call_output")
      assert.strictEqual(output.call_id, "call_1")
      assert.strictEqual(output.output, "5")

      // offline: the recording replays and verifies, no server involved
      const asked = server.received.length
      yield* Replay.run(recorded, adder, input)
      // ...and through both bridges: the replayer served as an @effect/ai LanguageModel, read back
      // as a rath provider
      const replayer = yield* Replay.make(recorded)
      const throughBoth = yield* adder(input).pipe(
        Effect.provide(EffectAi.layerFromLanguageModel({ model: "gpt-test" })),
        // the model the agent asked for does not cross @effect/ai's interface: the bridge sets it
        Effect.provide(EffectAi.layerLanguageModel({ model: "gpt-test" })),
        Effect.provideService(Provider.Provider, replayer.provider),
        Effect.provideService(Tool.Executor, replayer.executor)
      )
      yield* Replay.verify(recorded, throughBoth)
      assert.deepStrictEqual(assistants(throughBoth)[0]!.metadata, first!.metadata)
      assert.strictEqual(server.received.length, asked)

      // the metadata is sealed: a recording whose encrypted reasoning was edited is caught, by field
      const entries = entriesOf(recorded).map((entry) =>
        entry === first
          ? new Entry.Assistant({
            ...first,
            metadata: JSON.parse(JSON.stringify(first.metadata).replace("enc-SECRET-1", "enc-EDITED"))
          })
          : entry
      )
      const edited = Session.fromEntries({ id: recorded.id, lineage: recorded.lineage }, entries).pipe(
        Either.getOrThrow
      )
      const error = yield* Effect.flip(Replay.run(edited, adder, input))
      const divergence = divergenceOf(error)
      assert.strictEqual(divergence?.field, "metadata", String(error))
    }).pipe(ids))

  it.scopedLive("malformed tool JSON fails the whole @effect/ai call; rath answers invalid_arguments and goes on", () =>
    Effect.gen(function*() {
      const server = yield* Server.start((_, index) => ({
        sse: index === 0 ? toolTurn(["{\"a\": 2, \"b\""]) : textTurn("sorry")
      }))
      const input = yield* Session.fromUserMessage("what is 2 + 3?")
      const out = yield* adder(input).pipe(Effect.provide(bridged(server.url)))
      const [first] = assistants(out)
      assert.deepStrictEqual(first!.toolCalls, [{ id: "call_1", name: "add", arguments: "{\"a\": 2, \"b\"" }])
      assert.deepStrictEqual(first!.missing, ["usage"])
      const [result] = results(out)
      assert.strictEqual(result!.error?.kind, "invalid_arguments")
      // the model was told, and answered
      const sent = (server.received[1]!.body.input as ReadonlyArray<any>).find((item) =>
        item.type === "function_call_output"
      )
      assert.include(sent.output, "invalid_arguments")
      assert.strictEqual(assistants(out)[1]!.text, "sorry")
    }).pipe(ids))

  it.scopedLive("an HTTP failure is a typed ProviderError", () =>
    Effect.gen(function*() {
      const server = yield* Server.start(() => ({ status: 429, json: { error: { message: "slow down" } } }))
      const provider = yield* EffectAi.fromLanguageModel().pipe(Effect.provide(openAi(server.url)))
      const error = yield* Effect.flip(provider.chat({ messages: [{ _tag: "User", text: "hi" }] }))
      assert.strictEqual(error.reason, "RateLimited")
      assert.strictEqual(error.status, 429)
      assert.isTrue(error.retryable)
    }))
})

describe("EffectAi.toLanguageModel", () => {
  it.effect("a Scripted provider serves generateText (tools resolved by @effect/ai) and streamText", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([
        Scripted.toolCall("add", { a: 2, b: 3 }),
        Scripted.reply("five", { chunks: ["fi", "ve"] })
      ])
      const model = yield* EffectAi.toLanguageModel().pipe(Effect.provideService(Provider.Provider, scripted.service))
      const Add = AiTool.make("add", {
        description: "Adds two numbers",
        parameters: { a: Schema.Number, b: Schema.Number },
        success: Schema.Number
      })
      const toolkit = AiToolkit.make(Add)
      const handled = yield* toolkit.pipe(Effect.provide(toolkit.toLayer({ add: ({ a, b }) => Effect.succeed(a + b) })))
      const first = yield* model.generateText({ prompt: "what is 2 + 3?", toolkit: handled })
      assert.deepStrictEqual(first.toolCalls.map((c) => [c.name, c.params]), [["add", { a: 2, b: 3 }]])
      assert.deepStrictEqual(first.toolResults.map((r) => r.result), [5])
      assert.strictEqual(first.finishReason, "tool-calls")
      // the provider saw the tool's JSON Schema
      const request = (yield* scripted.requests)[0]!
      assert.deepStrictEqual(request.tools?.map((t) => t.name), ["add"])
      assert.deepStrictEqual(request.tools?.[0]?.parameters.required, ["a", "b"])

      const parts = yield* Stream.runCollect(model.streamText({ prompt: "and now?" }))
      const deltas = Chunk.toReadonlyArray(parts).flatMap((p) => p.type === "text-delta" ? [p.delta] : [])
      assert.deepStrictEqual(deltas, ["fi", "ve"])
      const finish = Chunk.toReadonlyArray(parts).find((p) => p.type === "finish")
      assert.strictEqual(finish?.type === "finish" ? finish.reason : undefined, "stop")
    }))

  it.effect("the layer serves LanguageModel.generateText from the provider in context", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "hello" })
      assert.strictEqual(response.text, "hi there")
      assert.strictEqual(response.finishReason, "stop")
    }).pipe(
      Effect.provide(EffectAi.layerLanguageModel()),
      Effect.provide(Scripted.layer([Scripted.reply("hi there")]))
    ))
})

describe("EffectAi tools", () => {
  const Divide = AiTool.make("divide", {
    description: "Divides a by b",
    parameters: { a: Schema.Number, b: Schema.Number },
    success: Schema.Number,
    failure: Schema.String,
    failureMode: "return"
  })
  const MathKit = AiToolkit.make(Divide)
  const handlers = MathKit.toLayer({
    divide: ({ a, b }) => b === 0 ? Effect.fail("division by zero") : Effect.succeed(a / b)
  })

  it.effect("an @effect/ai toolkit runs as rath tools: evidence, invalid arguments, failures, approval", () =>
    Effect.gen(function*() {
      const toolkit = yield* Effect.provide(MathKit, handlers)
      const tools = EffectAi.fromToolkit(toolkit, { needsApproval: (name) => name === "divide" })
      assert.deepStrictEqual(tools.map((t) => t.name), ["divide"])
      const agent = Agent.make({ name: "calc", tools })
      const scripted = yield* Scripted.make([
        Scripted.toolCall("divide", { a: 6, b: 3 }),
        Scripted.toolCall("divide", { a: 6, b: "x" }),
        Scripted.toolCall("divide", { a: 1, b: 0 }),
        Scripted.reply("done")
      ])
      const input = yield* Session.fromUserMessage("divide")
      const out = yield* agent(input).pipe(
        Effect.provideService(Provider.Provider, scripted.service),
        Effect.provide(Approval.layerApproveAll)
      )
      const [ok, invalid, failed] = results(out)
      assert.strictEqual(ok!.output, 2)
      assert.strictEqual(ok!.approval?.decision, "approved")
      assert.isNumber(ok!.durationMs)
      assert.strictEqual(invalid!.error?.kind, "invalid_arguments")
      assert.strictEqual(failed!.error?.kind, "tool_failed")
      assert.include(failed!.error?.message ?? "", "division by zero")
      // the model saw the schema @effect/ai writes
      const request = (yield* scripted.requests)[0]!
      assert.deepStrictEqual(request.tools?.[0]?.parameters, AiTool.getJsonSchema(Divide) as unknown)
    }).pipe(ids))

  it.effect("a handler reaches the rath call through CurrentCall", () =>
    Effect.gen(function*() {
      const Where = AiTool.make("where", { success: Schema.String })
      const kit = AiToolkit.make(Where)
      const toolkit = yield* Effect.provide(
        kit,
        kit.toLayer({
          where: () =>
            Effect.map(
              Effect.serviceOption(EffectAi.CurrentCall),
              Option.match({ onNone: () => "outside", onSome: (call) => `call ${call.callId} of ${call.toolName}` })
            )
        })
      )
      const out = yield* Agent.make({ name: "w", tools: EffectAi.fromToolkit(toolkit) })(
        yield* Session.fromUserMessage("where?")
      ).pipe(Effect.provide(Scripted.layer([Scripted.toolCall("where", {}, { id: "c9" }), Scripted.reply("ok")])))
      assert.strictEqual(results(out)[0]!.output, "call c9 of where")
    }).pipe(ids))

  it.effect("rath tools export as an @effect/ai toolkit; bad arguments answer the model, not fail the call", () =>
    Effect.gen(function*() {
      const toolkit = yield* EffectAi.toToolkit([add])
      // the toolkit's tools take any value (rath checks it): call it as a model's answer would
      const handle = toolkit.handle as (name: string, params: unknown) => Effect.Effect<AiTool.HandlerResult<any>>
      const good = yield* handle("add", { a: 1, b: 2 })
      assert.deepStrictEqual([good.isFailure, good.result], [false, 3])
      const bad = yield* handle("add", { a: 1 })
      assert.isTrue(bad.isFailure)
      assert.strictEqual((bad.result as any).error.kind, "invalid_arguments")
      assert.deepStrictEqual(AiTool.getJsonSchema(toolkit.tools.add as any), Tool.definition(add).parameters as unknown)
    }))
})
