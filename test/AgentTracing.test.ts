import { assert, describe, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Effect, Either, Option, Schema, Tracer } from "effect"
import { Agent, type Entry, IdGenerator, Model, Scripted, Session, Telemetry, Tool } from "rath"

interface Recorded {
  readonly name: string
  readonly spanId: string
  readonly parentId: string | undefined
  readonly kind: Tracer.SpanKind
  readonly attributes: Map<string, unknown>
}

/** The span's attributes whose names start with `prefix`. */
const pick = (span: Recorded, prefix: string): Record<string, unknown> =>
  Object.fromEntries([...span.attributes].filter(([key]) => key.startsWith(prefix)))

/** A tracer that keeps every span it starts. */
const recordingTracer = (spans: Array<Recorded>): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const attributes = new Map<string, unknown>()
      const spanId = `span-${spans.length + 1}`
      spans.push({
        name,
        spanId,
        parentId: Option.isSome(parent) ? parent.value.spanId : undefined,
        kind,
        attributes
      })
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId,
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes,
        links,
        sampled: true,
        kind,
        end: () => {},
        attribute: (key, value) => void attributes.set(key, value),
        event: () => {},
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })

const add = Tool.make({
  name: "add",
  description: "Adds",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const calcScript = () =>
  Scripted.layer([
    Scripted.toolCall("add", { a: 1, b: 2 }),
    Scripted.reply("3", { model: "scripted-model-0613" })
  ])

describe("Agent tracing", () => {
  it.effect("the run, each model call and each tool call are GenAI spans with gen_ai.* and rath.* attributes", () =>
    Effect.gen(function*() {
      const spans: Array<Recorded> = []
      const input = yield* Session.fromUserMessage("1+2?")
      const output = yield* Agent.make({ name: "calc", description: "Does sums", tools: [add] })(input).pipe(
        Effect.provide(calcScript()),
        Effect.withTracer(recordingTracer(spans))
      )
      const run = spans.find((s) => s.name === "invoke_agent calc")!
      assert.strictEqual(run.parentId, undefined)
      assert.deepStrictEqual(pick(run, "gen_ai."), {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "calc",
        "gen_ai.agent.description": "Does sums",
        // the run's own session (a step of the input): the one its model and tool calls are in
        "gen_ai.conversation.id": output.id,
        "gen_ai.provider.name": "scripted",
        "gen_ai.request.model": "scripted-model",
        // the run's tokens: both model calls
        "gen_ai.usage.input_tokens": Session.usage(output).inclusive!.inputTokens,
        "gen_ai.usage.output_tokens": Session.usage(output).inclusive!.outputTokens
      })
      assert.strictEqual(run.attributes.get("rath.agent.name"), "calc")
      assert.strictEqual(run.attributes.get("rath.session.id"), input.id)
      assert.notStrictEqual(output.id, input.id)
      // every model call is one chat span, whoever makes it, named after the model asked for
      const models = spans.filter((s) => s.name.startsWith("chat "))
      assert.deepStrictEqual(models.map((s) => s.name), ["chat scripted-model", "chat scripted-model"])
      // the model asked for, and the one that answered (a gateway may answer with another)
      assert.deepStrictEqual(models.map((model) => model.attributes.get("gen_ai.response.model")), [
        "scripted-model",
        "scripted-model-0613"
      ])
      assert.deepStrictEqual(models.map((model) => model.attributes.get("gen_ai.response.finish_reasons")), [
        ["tool_calls"],
        ["stop"]
      ])
      const entries = Chunk.toReadonlyArray(Session.entries(output)).filter((e): e is Entry.Assistant =>
        e._tag === "Assistant"
      )
      for (const [i, model] of models.entries()) {
        const entry = entries[i]!
        assert.strictEqual(model.parentId, run.spanId)
        assert.strictEqual(model.kind, "client")
        assert.strictEqual(model.attributes.get("gen_ai.operation.name"), "chat")
        assert.strictEqual(model.attributes.get("gen_ai.provider.name"), "scripted")
        assert.strictEqual(model.attributes.get("gen_ai.request.model"), "scripted-model")
        assert.strictEqual(model.attributes.get("gen_ai.conversation.id"), output.id)
        assert.strictEqual(model.attributes.get("gen_ai.agent.name"), "calc")
        assert.strictEqual(model.attributes.get("gen_ai.response.id"), entry.provider!.requestId)
        assert.strictEqual(model.attributes.get("gen_ai.usage.input_tokens"), entry.usage!.inputTokens)
        assert.strictEqual(model.attributes.get("gen_ai.usage.output_tokens"), entry.usage!.outputTokens)
        assert.strictEqual(model.attributes.get("server.address"), "scripted.local")
        assert.strictEqual(model.attributes.get("rath.model"), "scripted-model")
        assert.strictEqual(model.attributes.get("rath.author"), "agent:calc")
        assert.strictEqual(model.attributes.get("rath.purpose"), "turn")
        assert.isNumber(model.attributes.get("rath.usage.total_tokens"))
        // no content unless asked for
        assert.isFalse(model.attributes.has("gen_ai.input.messages"))
        assert.isFalse(model.attributes.has("gen_ai.output.messages"))
      }
      const tool = spans.find((s) => s.name === "execute_tool add")!
      assert.strictEqual(tool.parentId, run.spanId)
      assert.strictEqual(tool.kind, "internal")
      const call = entries[0]!.toolCalls[0]!
      assert.deepStrictEqual(pick(tool, "gen_ai."), {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Adds",
        "gen_ai.conversation.id": output.id,
        "gen_ai.agent.name": "calc"
      })
      assert.strictEqual(tool.attributes.get("rath.tool.name"), "add")
      assert.strictEqual(tool.attributes.get("rath.tool.call_id"), call.id)
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("content goes on the spans only when CaptureContent is on", () =>
    Effect.gen(function*() {
      const spans: Array<Recorded> = []
      const input = yield* Session.fromUserMessage("1+2?")
      yield* Agent.make({ name: "calc", instructions: "Use add.", tools: [add] })(input).pipe(
        Effect.provide(calcScript()),
        Effect.provideService(Telemetry.CaptureContent, true),
        Effect.withTracer(recordingTracer(spans))
      )
      const [first, second] = spans.filter((s) => s.name.startsWith("chat "))
      assert.deepStrictEqual(JSON.parse(first!.attributes.get("gen_ai.system_instructions") as string), [
        { type: "text", content: "Use add." }
      ])
      assert.deepStrictEqual(JSON.parse(first!.attributes.get("gen_ai.input.messages") as string), [
        { role: "user", parts: [{ type: "text", content: "1+2?" }] }
      ])
      const [answer] = JSON.parse(first!.attributes.get("gen_ai.output.messages") as string)
      assert.strictEqual(answer.role, "assistant")
      assert.strictEqual(answer.finish_reason, "tool_calls")
      assert.deepStrictEqual(answer.parts.map((p: { type: string; name?: string; arguments?: unknown }) => p), [
        { type: "tool_call", id: answer.parts[0].id, name: "add", arguments: { a: 1, b: 2 } }
      ])
      // the second call is sent the tool's answer
      const sent = JSON.parse(second!.attributes.get("gen_ai.input.messages") as string)
      assert.deepStrictEqual(sent.at(-1), {
        role: "tool",
        parts: [{ type: "tool_call_response", id: answer.parts[0].id, response: 3 }]
      })
      assert.deepStrictEqual(JSON.parse(second!.attributes.get("gen_ai.output.messages") as string), [
        { role: "assistant", parts: [{ type: "text", content: "3" }], finish_reason: "stop" }
      ])
      const tool = spans.find((s) => s.name === "execute_tool add")!
      assert.strictEqual(tool.attributes.get("gen_ai.tool.call.arguments"), "{\"a\":1,\"b\":2}")
      assert.strictEqual(tool.attributes.get("gen_ai.tool.call.result"), "3")
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("layerCaptureContentFromEnv reads OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", () =>
    Effect.gen(function*() {
      const read = (env: ReadonlyArray<[string, string]>) =>
        Telemetry.CaptureContent.pipe(
          Effect.provide(Telemetry.layerCaptureContentFromEnv),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env))),
          Effect.either
        )
      const key = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
      assert.deepStrictEqual(yield* read([]), Either.right(false))
      assert.deepStrictEqual(yield* read([[key, "true"]]), Either.right(true))
      assert.deepStrictEqual(yield* read([[key, "false"]]), Either.right(false))
      assert.isTrue(Either.isLeft(yield* read([[key, "yes please"]])))
    }))

  it.effect("a failed tool call names its error kind; a failed model call its error", () =>
    Effect.gen(function*() {
      const spans: Array<Recorded> = []
      const input = yield* Session.fromUserMessage("1+2?")
      const failed = yield* Agent.make({ name: "calc", tools: [add] })(input).pipe(
        Effect.provide(Scripted.layer([Scripted.toolCall("add", { a: "one" })])),
        Effect.withTracer(recordingTracer(spans)),
        Effect.flip
      )
      assert.strictEqual(failed._tag, "AgentError")
      const recorded = (failed as Agent.AgentError).session!
      const tool = spans.find((s) => s.name === "execute_tool add")!
      assert.strictEqual(tool.attributes.get("error.type"), "invalid_arguments")
      const [, second] = spans.filter((s) => s.name.startsWith("chat "))
      assert.strictEqual(second!.attributes.get("error.type"), "ProviderError.ScriptExhausted")
      const run = spans.find((s) => s.name === "invoke_agent calc")!
      assert.strictEqual(run.attributes.get("error.type"), "AgentError.ProviderFailed")
      // the session the run recorded before it failed
      assert.strictEqual(run.attributes.get("gen_ai.conversation.id"), recorded.id)
      assert.strictEqual(second!.attributes.get("gen_ai.conversation.id"), recorded.id)
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("Model.call on its own is a chat span with the request's settings", () =>
    Effect.gen(function*() {
      const spans: Array<Recorded> = []
      const session = yield* Session.fromUserMessage("Is 7 prime?")
      yield* Model.call(session, {
        purpose: "judge",
        model: "judge-model",
        temperature: 0,
        topP: 0.5,
        maxTokens: 64,
        seed: 7,
        stop: ["END"],
        responseFormat: { type: "json_object" }
      }).pipe(
        Effect.provide(Scripted.layer([Scripted.reply("{\"prime\":true}")])),
        Effect.withTracer(recordingTracer(spans))
      )
      assert.deepStrictEqual(spans.map((s) => s.name), ["chat judge-model"])
      assert.deepStrictEqual(pick(spans[0]!, "gen_ai.request."), {
        "gen_ai.request.model": "judge-model",
        "gen_ai.request.temperature": 0,
        "gen_ai.request.top_p": 0.5,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.seed": 7,
        "gen_ai.request.stop_sequences": ["END"]
      })
      assert.strictEqual(spans[0]!.attributes.get("gen_ai.output.type"), "json")
      assert.strictEqual(spans[0]!.attributes.get("rath.purpose"), "judge")
      assert.strictEqual(spans[0]!.attributes.get("rath.author"), "program:program")
      assert.isFalse(spans[0]!.attributes.has("gen_ai.agent.name"))
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("Tool.run on its own is an execute_tool span too", () =>
    Effect.gen(function*() {
      const spans: Array<Recorded> = []
      const session = yield* Session.fromUserMessage("go")
      const toolkit = yield* Tool.toolkit(add)
      const outcome = yield* Tool.run(toolkit, { id: "c1", name: "add", arguments: "{\"a\":2,\"b\":2}" }, {
        session
      }).pipe(Effect.withTracer(recordingTracer(spans)))
      assert.strictEqual(outcome.output, 4)
      assert.deepStrictEqual(spans.map((s) => [s.name, s.attributes.get("gen_ai.tool.call.id")]), [
        ["execute_tool add", "c1"]
      ])
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.effect("with Effect's default tracer (which records nowhere) a run makes no spans; with any other it does", () =>
    Effect.gen(function*() {
      const seen: Array<Option.Option<string>> = []
      const probe = Tool.make({
        name: "probe",
        description: "Reports the span it runs in",
        parameters: Schema.Struct({}),
        handler: () =>
          Effect.map(Effect.option(Effect.currentSpan), (span) => {
            seen.push(Option.map(span, (s) => s.name))
            return "ok"
          })
      })
      const agent = Agent.make({ name: "probe", tools: [probe] })
      const script = () => Scripted.layer([Scripted.toolCall("probe", {}), Scripted.reply("done")])
      const input = yield* Session.fromUserMessage("go")
      yield* agent(input).pipe(Effect.provide(script()))
      const spans: Array<Recorded> = []
      yield* agent(input).pipe(Effect.provide(script()), Effect.withTracer(recordingTracer(spans)))
      assert.deepStrictEqual(seen, [Option.none(), Option.some("execute_tool probe")])
      assert.deepStrictEqual(spans.map((s) => s.name).sort(), [
        "chat scripted-model",
        "chat scripted-model",
        "execute_tool probe",
        "invoke_agent probe"
      ])
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))
})
