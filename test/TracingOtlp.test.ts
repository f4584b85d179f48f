/**
 * An agent run exported over OTLP/HTTP (JSON) by `@effect/opentelemetry`'s `Otlp.layerJson`, with
 * no OpenTelemetry SDK, to a collector this test starts on 127.0.0.1: what a Jaeger, Langfuse,
 * Phoenix or Honeycomb endpoint would receive.
 */
import * as Otlp from "@effect/opentelemetry/Otlp"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Schema } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Agent, type Entry, IdGenerator, Scripted, Session, Telemetry, Tool } from "rath"

interface Received {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: unknown
}

/** A collector on 127.0.0.1 that keeps every request body, for the scope. */
const collector = Effect.map(
  Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly received: Array<Received> }>((resume) => {
      const received: Array<Received> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          received.push({
            path: req.url ?? "",
            headers: req.headers,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8"))
          })
          res.writeHead(200, { "content-type": "application/json" })
          res.end("{}")
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, received })))
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ),
  ({ received, server }) => ({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received })
)

// the OTLP JSON wire format (opentelemetry-proto, JSON mapping)
interface AnyValue {
  readonly stringValue?: string
  readonly intValue?: string | number
  readonly doubleValue?: number
  readonly boolValue?: boolean
  readonly arrayValue?: { readonly values: ReadonlyArray<AnyValue> }
}
interface WireSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: AnyValue }>
  readonly status: { readonly code: number }
}
interface TracesBody {
  readonly resourceSpans: ReadonlyArray<{
    readonly resource: { readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: AnyValue }> }
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<WireSpan> }>
  }>
}

const plain = (value: AnyValue): unknown =>
  value.stringValue !== undefined
    ? value.stringValue
    : value.intValue !== undefined
    ? Number(value.intValue)
    : value.doubleValue !== undefined
    ? value.doubleValue
    : value.boolValue !== undefined
    ? value.boolValue
    : value.arrayValue !== undefined
    ? value.arrayValue.values.map(plain)
    : undefined

const attributesOf = (span: WireSpan): Record<string, unknown> =>
  Object.fromEntries(span.attributes.map(({ key, value }) => [key, plain(value)]))

// opentelemetry-proto SpanKind
const SPAN_KIND_INTERNAL = 1
const SPAN_KIND_CLIENT = 3

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

describe("tracing over OTLP/HTTP", () => {
  it.live("an agent run with a tool call arrives as one trace: invoke_agent over chat, execute_tool, chat", () =>
    Effect.gen(function*() {
      const { received, url } = yield* collector
      const input = yield* Session.fromUserMessage("What is 19 + 23?")
      const output = yield* Agent.make({ name: "calculator", tools: [add] })(input).pipe(
        Effect.provide(Scripted.layer([
          Scripted.toolCall("add", { a: 19, b: 23 }),
          Scripted.reply("42", { model: "scripted-model-0613" })
        ])),
        Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential()),
        // the exporter flushes what it holds when its layer's scope closes
        Effect.provide(
          Otlp.layerJson({
            baseUrl: url,
            resource: { serviceName: "rath-test", serviceVersion: "0.1.0" },
            headers: { authorization: "Bearer test-token" }
          }).pipe(Layer.provide(NodeHttpClient.layerUndici))
        )
      )

      const traces = received.filter((r) => r.path === "/v1/traces")
      assert.isAbove(traces.length, 0, "no request reached /v1/traces")
      assert.strictEqual(traces[0]!.headers.authorization, "Bearer test-token")
      assert.match(String(traces[0]!.headers["content-type"]), /application\/json/)
      const bodies = traces.map((t) => t.body as TracesBody)
      const service = bodies[0]!.resourceSpans[0]!.resource.attributes.find((a) => a.key === "service.name")
      assert.strictEqual(service?.value.stringValue, "rath-test")
      const spans = bodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)))

      // the tree: one root, everything else its child, one trace
      const root = spans.find((s) => s.name === "invoke_agent calculator")!
      assert.isDefined(root)
      assert.isUndefined(root.parentSpanId || undefined)
      assert.strictEqual(root.kind, SPAN_KIND_INTERNAL)
      assert.deepStrictEqual(
        spans.filter((s) => s !== root).map((s) => s.name).sort(),
        ["chat scripted-model", "chat scripted-model", "execute_tool add"]
      )
      for (const span of spans) {
        assert.strictEqual(span.traceId, root.traceId)
        if (span !== root) assert.strictEqual(span.parentSpanId, root.spanId, `${span.name}'s parent`)
        assert.notStrictEqual(span.status.code, 2, `${span.name} ended in error`)
      }

      const entries = Chunk.toReadonlyArray(Session.entries(output)).filter((e): e is Entry.Assistant =>
        e._tag === "Assistant"
      )
      const run = attributesOf(root)
      assert.strictEqual(run["gen_ai.operation.name"], "invoke_agent")
      assert.strictEqual(run["gen_ai.agent.name"], "calculator")
      assert.strictEqual(run["gen_ai.conversation.id"], output.id)
      assert.strictEqual(run["gen_ai.provider.name"], "scripted")
      assert.strictEqual(run["rath.session.id"], input.id)

      const chats = spans.filter((s) => s.name.startsWith("chat ")).map(attributesOf)
      assert.deepStrictEqual(
        chats.map((c) => [c["gen_ai.response.model"], c["gen_ai.response.finish_reasons"]]),
        [["scripted-model", ["tool_calls"]], ["scripted-model-0613", ["stop"]]]
      )
      for (const [i, chat] of chats.entries()) {
        assert.strictEqual(chat["gen_ai.operation.name"], "chat")
        assert.strictEqual(chat["gen_ai.provider.name"], "scripted")
        assert.strictEqual(chat["gen_ai.request.model"], "scripted-model")
        assert.strictEqual(chat["gen_ai.conversation.id"], output.id)
        assert.strictEqual(chat["gen_ai.response.id"], entries[i]!.provider!.requestId)
        assert.strictEqual(chat["gen_ai.usage.input_tokens"], entries[i]!.usage!.inputTokens)
        assert.strictEqual(chat["gen_ai.usage.output_tokens"], entries[i]!.usage!.outputTokens)
        assert.strictEqual(chat["rath.purpose"], "turn")
        assert.notProperty(chat, "gen_ai.input.messages")
      }
      assert.isTrue(spans.filter((s) => s.name.startsWith("chat ")).every((s) => s.kind === SPAN_KIND_CLIENT))

      const tool = spans.find((s) => s.name === "execute_tool add")!
      assert.strictEqual(tool.kind, SPAN_KIND_INTERNAL)
      const call = attributesOf(tool)
      assert.strictEqual(call["gen_ai.operation.name"], "execute_tool")
      assert.strictEqual(call["gen_ai.tool.name"], "add")
      assert.strictEqual(call["gen_ai.tool.call.id"], entries[0]!.toolCalls[0]!.id)
      assert.strictEqual(call["gen_ai.conversation.id"], output.id)
      assert.notProperty(call, "gen_ai.tool.call.result")
    }).pipe(Effect.scoped))

  it.live("with content on, the chat spans carry the messages as JSON text", () =>
    Effect.gen(function*() {
      const { received, url } = yield* collector
      const input = yield* Session.fromUserMessage("What is 19 + 23?")
      yield* Agent.make({ name: "calculator", tools: [add] })(input).pipe(
        Effect.provide(Scripted.layer([Scripted.toolCall("add", { a: 19, b: 23 }), Scripted.reply("42")])),
        Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential()),
        Effect.provide(Telemetry.layerCaptureContent),
        Effect.provide(
          Otlp.layerJson({ baseUrl: url, resource: { serviceName: "rath-test" } }).pipe(
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )
      )
      const spans = received.filter((r) => r.path === "/v1/traces").flatMap((r) =>
        (r.body as TracesBody).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans))
      )
      const [first, second] = spans.filter((s) => s.name.startsWith("chat ")).map(attributesOf)
      assert.deepStrictEqual(JSON.parse(first!["gen_ai.input.messages"] as string), [
        { role: "user", parts: [{ type: "text", content: "What is 19 + 23?" }] }
      ])
      assert.deepStrictEqual(JSON.parse(second!["gen_ai.output.messages"] as string), [
        { role: "assistant", parts: [{ type: "text", content: "42" }], finish_reason: "stop" }
      ])
      const tool = attributesOf(spans.find((s) => s.name === "execute_tool add")!)
      assert.strictEqual(tool["gen_ai.tool.call.result"], "42")
    }).pipe(Effect.scoped))
})
