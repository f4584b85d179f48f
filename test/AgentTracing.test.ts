import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schema, Tracer } from "effect"
import { Agent, IdGenerator, Scripted, Session, Tool } from "rath"

interface Recorded {
  readonly name: string
  readonly spanId: string
  readonly parentId: string | undefined
  readonly attributes: Map<string, unknown>
}

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

describe("Agent tracing", () => {
  it.effect("the run, each model call and each tool call are spans with their attributes", () =>
    Effect.gen(function*() {
      const spans: Array<Recorded> = []
      const add = Tool.make({
        name: "add",
        description: "Adds",
        parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
        handler: ({ a, b }) => Effect.succeed(a + b)
      })
      const input = yield* Session.fromUserMessage("1+2?")
      yield* Agent.make({ name: "calc", tools: [add] })(input).pipe(
        Effect.provide(
          Scripted.layer([
            Scripted.toolCall("add", { a: 1, b: 2 }),
            Scripted.reply("3", { model: "scripted-model-0613" })
          ])
        ),
        Effect.withTracer(recordingTracer(spans))
      )
      const run = spans.find((s) => s.name === "Agent.run")!
      assert.strictEqual(run.attributes.get("rath.agent.name"), "calc")
      assert.strictEqual(run.attributes.get("rath.session.id"), input.id)
      // every model call is one Model.call span, whoever makes it
      const models = spans.filter((s) => s.name === "Model.call")
      assert.strictEqual(models.length, 2)
      // the model asked for, and the one that answered (a gateway may answer with another)
      assert.deepStrictEqual(models.map((model) => model.attributes.get("rath.response.model")), [
        "scripted-model",
        "scripted-model-0613"
      ])
      for (const model of models) {
        assert.strictEqual(model.parentId, run.spanId)
        assert.strictEqual(model.attributes.get("rath.model"), "scripted-model")
        assert.strictEqual(model.attributes.get("rath.author"), "agent:calc")
        assert.strictEqual(model.attributes.get("rath.purpose"), "turn")
        assert.isNumber(model.attributes.get("rath.usage.total_tokens"))
      }
      const tool = spans.find((s) => s.name === "Agent.tool")!
      assert.strictEqual(tool.parentId, run.spanId)
      assert.strictEqual(tool.attributes.get("rath.tool.name"), "add")
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
      assert.deepStrictEqual(seen, [Option.none(), Option.some("Agent.tool")])
      assert.deepStrictEqual(spans.map((s) => s.name).sort(), ["Agent.run", "Agent.tool", "Model.call", "Model.call"])
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))
})
