/**
 * 24 — tracing to a collector: every run, model call and tool call is an OpenTelemetry span named
 * and annotated after the GenAI semantic conventions (`invoke_agent`, `chat`, `execute_tool`,
 * `gen_ai.*` attributes). `Otlp.layerJson` from `@effect/opentelemetry` sends them over OTLP/HTTP
 * to any collector, with no OpenTelemetry SDK. With no endpoint set, this example starts a small
 * collector in the process and prints the trace it received.
 *
 *   node --import tsx examples/24-tracing.ts
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 node --import tsx examples/24-tracing.ts
 *   OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true node --import tsx examples/24-tracing.ts
 *
 * @expect collector received 4 spans in one trace
 * @expect invoke_agent calculator \(internal\)
 * @expect ├─ chat \S+ \(client\) finish=tool_calls
 * @expect ├─ execute_tool add \(internal\) call=\S+
 * @expect └─ chat \S+ \(client\) finish=stop
 */
import * as Otlp from "@effect/opentelemetry/Otlp"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Agent, Scripted, Session, Telemetry, Tool } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const agent = Agent.make({ name: "calculator", instructions: "Use add for arithmetic.", tools: [add] })

// -----------------------------------------------------------------------------
// a stand-in collector: what Jaeger, Langfuse, Phoenix or Honeycomb would receive
// -----------------------------------------------------------------------------

interface WireSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly startTimeUnixNano: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: AnyValue }>
}

// an attribute value in OTLP JSON: a string, a number or a list (finish reasons) here
interface AnyValue {
  readonly stringValue?: string
  readonly intValue?: string | number
  readonly arrayValue?: { readonly values: ReadonlyArray<AnyValue> }
}

const show = (value: AnyValue | undefined): string =>
  value === undefined
    ? "-"
    : value.arrayValue !== undefined
    ? value.arrayValue.values.map(show).join(",")
    : String(value.stringValue ?? value.intValue)

/** An OTLP/HTTP JSON receiver on 127.0.0.1, for the scope; it keeps the spans it is sent. */
const localCollector = Effect.acquireRelease(
  Effect.async<{ readonly server: Http.Server; readonly spans: Array<WireSpan> }>((resume) => {
    const spans: Array<WireSpan> = []
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        if (req.url === "/v1/traces") {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
          for (const resource of body.resourceSpans) {
            for (const scope of resource.scopeSpans) spans.push(...scope.spans)
          }
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, spans })))
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

const kinds: Record<number, string> = { 1: "internal", 2: "server", 3: "client" }

const printTrace = (spans: ReadonlyArray<WireSpan>) => {
  const traces = new Set(spans.map((span) => span.traceId))
  console.log(
    `collector received ${spans.length} spans in ${traces.size === 1 ? "one trace" : `${traces.size} traces`}`
  )
  const attr = (span: WireSpan, key: string) => show(span.attributes.find((a) => a.key === key)?.value)
  const describe = (span: WireSpan) => {
    const extra = span.name.startsWith("chat ")
      ? ` finish=${attr(span, "gen_ai.response.finish_reasons")} tokens=${attr(span, "gen_ai.usage.input_tokens")}+${
        attr(span, "gen_ai.usage.output_tokens")
      }`
      : span.name.startsWith("execute_tool ")
      ? ` call=${attr(span, "gen_ai.tool.call.id")}`
      : ` conversation=${attr(span, "gen_ai.conversation.id")}`
    return `${span.name} (${kinds[span.kind] ?? span.kind})${extra}`
  }
  const byStart = (a: WireSpan, b: WireSpan) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1)
  const print = (span: WireSpan, prefix: string, childPrefix: string) => {
    console.log(`${prefix}${describe(span)}`)
    const children = spans.filter((s) => s.parentSpanId === span.spanId).sort(byStart)
    children.forEach((child, i) => {
      const last = i === children.length - 1
      print(child, `${childPrefix}${last ? "└─ " : "├─ "}`, `${childPrefix}${last ? "   " : "│  "}`)
    })
  }
  for (const root of spans.filter((s) => !s.parentSpanId)) print(root, "", "")
}

// -----------------------------------------------------------------------------
// the program: the same agent run, traced
// -----------------------------------------------------------------------------

const run = Effect.gen(function*() {
  const session = yield* Session.fromUserMessage("What is 19 + 23?")
  const answered = yield* agent(session)
  console.log(`answer: ${answered.length} entries, session ${answered.id}`)
})

const script = [
  Scripted.toolCall("add", { a: 19, b: 23 }),
  Scripted.reply("19 + 23 = 42.")
]

/**
 * The exporter: to `OTEL_EXPORTER_OTLP_ENDPOINT` (headers from `OTEL_EXPORTER_OTLP_HEADERS`,
 * `key=value,key=value`) when set, else to the given local URL. It flushes when its scope closes.
 */
const exporter = (localUrl: string) => {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
  const headers = Object.fromEntries(
    (process.env.OTEL_EXPORTER_OTLP_HEADERS ?? "").split(",").filter((pair) => pair.includes("=")).map((pair) => {
      const at = pair.indexOf("=")
      return [pair.slice(0, at).trim(), decodeURIComponent(pair.slice(at + 1).trim())]
    })
  )
  return Otlp.layerJson({
    baseUrl: endpoint ?? localUrl,
    resource: { serviceName: "rath-example", serviceVersion: "0.1.0" },
    headers
  }).pipe(Layer.provide(NodeHttpClient.layerUndici))
}

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const collector = yield* localCollector
  const { port } = collector.server.address() as AddressInfo
  yield* run.pipe(
    Effect.provide(providerLayer(script)),
    // content stays off the spans unless asked for (it holds what users typed and tools read)
    Effect.provide(Telemetry.layerCaptureContentFromEnv),
    // the spans go out when this layer's scope closes, at the end of the run
    Effect.provide(exporter(`http://127.0.0.1:${port}`))
  )
  if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) {
    console.log(`spans sent to ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`)
  } else {
    printTrace(collector.spans)
  }
})

program.pipe(Effect.scoped, NodeRuntime.runMain)
