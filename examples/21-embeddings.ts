/**
 * 21 — embeddings: hybrid memory recall. Lexical recall finds memories that hold the question's
 * words (or other forms of them); a memory that says the same thing in other words is missed. With
 * an `Embedder` in the context where the memory layer is built, every memory is embedded once when
 * it is stored, the question when it is asked, and a hit's score is the mean of the lexical share
 * and the cosine similarity: `match` says which of the two found it.
 *
 * The embedder here is a small deterministic one written out in full (words mapped to a few
 * concepts, one dimension each), so the example needs no model; in an application,
 * `ProviderConfig.layerEmbedderFromEnv()` gives an OpenAI-compatible one.
 *
 *   npx tsx examples/21-embeddings.ts
 *
 * @expect lexical: "which pet does she have\?" -> no match \(only a recent memory fills in\)
 * @expect lexical: "what does she drink in the morning\?" -> drinks green tea at breakfast \(lexical, 0\.\d+\)
 * @expect hybrid: "which pet does she have\?" -> adopted a kitten last spring \(vector, 0\.\d+\)
 * @expect hybrid: "what does she drink in the morning\?" -> drinks green tea at breakfast \(both, 0\.\d+\)
 * @expect lexical: embedding model none
 * @expect hybrid: embedding model fake-concepts-8
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { Embedder, Memory } from "rath"

// a deterministic embedder: each known word points along its concept's axis
const concepts: Record<string, number> = {
  pet: 0,
  kitten: 0,
  cat: 0,
  dog: 0,
  drink: 1,
  drinks: 1,
  tea: 1,
  coffee: 1,
  morning: 2,
  breakfast: 2,
  spring: 3,
  ada: 4
}
const dimensions = 8
const conceptEmbedder = Embedder.Embedder.of({
  model: "fake-concepts-8",
  dimensions,
  embed: (texts) =>
    Effect.sync(() =>
      texts.map((text) => {
        const vector = new Array<number>(dimensions).fill(0)
        for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
          const axis = concepts[word]
          if (axis !== undefined) vector[axis] = 1
        }
        return vector
      })
    )
})

const facts = ["adopted a kitten last spring", "drinks green tea at breakfast", "works from the Lisbon office"]
const questions = ["which pet does she have?", "what does she drink in the morning?"]

// the same program runs on both memories: only the layer differs
const ask = (label: string) =>
  Effect.gen(function*() {
    const memory = yield* Memory.Memory
    yield* memory.rememberAll(facts.map((text) => ({ namespace: "user:ada", text })))
    for (const query of questions) {
      const [best] = yield* memory.recall({ query, k: 1 })
      const line = best === undefined || best.match === "recent"
        ? `no match${best === undefined ? "" : " (only a recent memory fills in)"}`
        : `${best.text} (${best.match}, ${best.score.toFixed(2)})`
      console.log(`${label}: "${query}" -> ${line}`)
    }
    console.log(`${label}: embedding model ${Option.getOrElse(memory.embeddingModel, () => "none")}`)
  })

const program = Effect.gen(function*() {
  // lexical only: "pet" is in no memory, so the kitten is not found (only a recent one fills in)
  yield* ask("lexical").pipe(Effect.provide(Memory.layerMemory))
  // hybrid: the same memory layer, built with an Embedder in its context
  const hybrid = Memory.layerMemory.pipe(
    Layer.provide(Layer.succeed(Embedder.Embedder, conceptEmbedder))
  )
  yield* ask("hybrid").pipe(Effect.provide(hybrid))
})

program.pipe(NodeRuntime.runMain)
