/**
 * 22 — @effect/ai bridges: an `@effect/ai` `LanguageModel` as a rath provider, an `@effect/ai`
 * toolkit as rath tools, and a rath provider serving `@effect/ai`'s own `generateText`.
 *
 * With no key, the `LanguageModel` is a scripted rath provider served through
 * `EffectAi.toLanguageModel`: the same interface `OpenAiLanguageModel` or `AnthropicLanguageModel`
 * implement. With `OPENAI_API_KEY` set it is `@effect/ai-openai`'s `OpenAiLanguageModel` on the
 * Responses API (model `OPENAI_DEFAULT_MODEL`, default gpt-5-mini). The agent code is the same.
 *
 *   node --import tsx examples/22-effect-ai.ts
 *
 * @expect model: scripted rath provider behind @effect/ai
 * @expect ToolResult convert -> 68
 * @expect answered by: effect-ai
 * @expect @effect/ai generateText: "Hello from rath"
 */
import { LanguageModel, Tool as AiTool, Toolkit as AiToolkit } from "@effect/ai"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { FetchHttpClient } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Config, Effect, Layer, Option, Schema } from "effect"
import { Agent, Entry, Scripted, Session } from "rath"
import * as EffectAi from "rath/EffectAi"

// an @effect/ai tool and its handler, written as any @effect/ai user writes them
const Convert = AiTool.make("convert", {
  description: "Converts degrees Celsius to Fahrenheit",
  parameters: { celsius: Schema.Number },
  success: Schema.Number
})
const Weather = AiToolkit.make(Convert)
const WeatherHandlers = Weather.toLayer({ convert: ({ celsius }) => Effect.succeed(celsius * 9 / 5 + 32) })

// the LanguageModel: OpenAI's when a key is set, else a scripted rath provider behind @effect/ai
const real = (process.env.OPENAI_API_KEY ?? "") !== "" && process.env.RATH_EXAMPLES_SCRIPTED !== "1"
const model = real ? process.env.OPENAI_DEFAULT_MODEL ?? "gpt-5-mini" : "scripted-model"
const languageModel: Layer.Layer<LanguageModel.LanguageModel, unknown> = real
  ? OpenAiLanguageModel.layer({ model }).pipe(
    Layer.provide(OpenAiClient.layerConfig({ apiKey: Config.redacted("OPENAI_API_KEY") })),
    Layer.provide(FetchHttpClient.layer)
  )
  : EffectAi.layerLanguageModel().pipe(
    Layer.provide(Scripted.layer([
      Scripted.toolCall("convert", { celsius: 20 }),
      Scripted.reply("20 °C is 68 °F.")
    ]))
  )

const program = Effect.gen(function*() {
  console.log(`model: ${real ? "OpenAiLanguageModel (Responses API)" : "scripted rath provider behind @effect/ai"}`)

  // 1. a rath agent on the @effect/ai model, with the @effect/ai toolkit as rath tools
  const toolkit = yield* Effect.provide(Weather, WeatherHandlers)
  const agent = Agent.make({
    name: "weather",
    instructions: "Use convert for unit conversions.",
    tools: EffectAi.fromToolkit(toolkit)
  })
  const out = yield* agent(yield* Session.fromUserMessage("What is 20 °C in Fahrenheit?")).pipe(
    Effect.provide(EffectAi.layerFromLanguageModel({ model }).pipe(Layer.provide(languageModel)))
  )
  for (const entry of Chunk.toReadonlyArray(Session.ownEntries(out))) {
    console.log(`${entry._tag.padEnd(10)} ${Entry.summary(entry)}`)
  }
  const last = Session.lastOf(out, "Assistant")
  if (Option.isSome(last)) console.log(`answered by: ${last.value.provider?.kind} (${last.value.model})`)

  // 2. the other way: a rath provider serves @effect/ai's generateText
  const response = yield* LanguageModel.generateText({ prompt: "Say hello" }).pipe(
    Effect.provide(EffectAi.layerLanguageModel()),
    Effect.provide(Scripted.layer([Scripted.reply("Hello from rath")]))
  )
  console.log(`@effect/ai generateText: ${JSON.stringify(response.text)} (${response.finishReason})`)
})

program.pipe(NodeRuntime.runMain)
