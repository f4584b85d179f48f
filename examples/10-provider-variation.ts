/**
 * 10 — provider variation: the workflow names no model. It asks for the `Provider` service, and
 * the layer you provide decides which model answers. The same workflow value runs under two
 * scripted providers (different model names, different answers) and, when an API key is set,
 * under the real one from `ProviderConfig.layerFromEnv()`. Each answer's `Assistant` entry records
 * who answered (provider kind, host, model), so a session always says which model produced it.
 *
 *   npx tsx examples/10-provider-variation.ts
 *   OPENAI_API_KEY=... OPENAI_DEFAULT_MODEL=... npx tsx examples/10-provider-variation.ts
 *
 * @expect \[terse\] planner: scripted @ scripted\.local / terse-1 -> "1\. Tests\. 2\. Ship\."
 * @expect \[terse\] reviewer: scripted @ scripted\.local / terse-1 -> "Approved\."
 * @expect \[verbose\] planner: scripted @ scripted\.local / verbose-2 -> "First write the tests
 * @expect \[verbose\] reviewer: scripted @ scripted\.local / verbose-2 -> "The plan is sound
 * @expect \[real\] (skipped: no API key|planner: )
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect } from "effect"
import type { Layer } from "effect"
import type { Provider } from "rath"
import { Agent, ProviderConfig, Scripted, Session, Workflow } from "rath"
import { useRealModel } from "./_provider.js"

// ---- the workflow: written once, never changed between runs -------------------------------

const planner = Agent.make({ name: "planner", instructions: "Plan the release in at most two short steps." })
const reviewer = Agent.make({ name: "reviewer", instructions: "Review the plan above in one sentence." })
const release = Workflow.andThen(planner, reviewer)

const workflow = Effect.gen(function*() {
  const task = yield* Session.fromUserMessage("We want to release version 1.0 this week.")
  return yield* release(task)
})

// ---- running it under different providers -----------------------------------------------

const runUnder = (label: string, provider: Layer.Layer<Provider.Provider, ProviderConfig.ProviderConfigError>) =>
  Effect.gen(function*() {
    const done = yield* workflow.pipe(Effect.provide(provider))
    for (const entry of Chunk.toReadonlyArray(Session.entries(done))) {
      if (entry._tag !== "Assistant") continue
      // the evidence: who answered, recorded in the entry itself
      const who = `${entry.provider?.kind} @ ${entry.provider?.host ?? "?"} / ${entry.model}`
      console.log(`[${label}] ${entry.author.name}: ${who} -> ${JSON.stringify(entry.text)}`)
    }
  })

const terse = Scripted.layer([
  Scripted.reply("1. Tests. 2. Ship."),
  Scripted.reply("Approved.")
], { model: "terse-1" })

const verbose = Scripted.layer([
  Scripted.reply("First write the tests for every public function, then tag and publish 1.0."),
  Scripted.reply("The plan is sound, but add a changelog before publishing.")
], { model: "verbose-2" })

const program = Effect.gen(function*() {
  yield* runUnder("terse", terse)
  yield* runUnder("verbose", verbose)
  if (useRealModel()) yield* runUnder("real", ProviderConfig.layerFromEnv())
  else console.log("[real] skipped: no API key (set OPENAI_API_KEY or ANTHROPIC_API_KEY to add a real run)")
})

program.pipe(NodeRuntime.runMain)
