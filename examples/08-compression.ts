/**
 * 08 — compression: lossy context, lossless record. A compressor asks the model for a summary
 * and appends a Compression entry; what models are sent afterwards uses the summary, while every
 * original entry stays in the session as evidence.
 *
 *   npx tsx examples/08-compression.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect } from "effect"
import { Agent, Compressor, Entry, Scripted, Session } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const show = (title: string, entries: ReadonlyArray<Entry.Entry>) => {
  console.log(`${title} (${entries.length})`)
  for (const entry of entries) console.log(`  ${entry._tag.padEnd(11)} ${Entry.summary(entry).slice(0, 70)}`)
}

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const long = yield* Session.make([
    Entry.system("You are a trip planner."),
    Entry.user("I want to visit Lisbon in May for five days."),
    Entry.assistant({ text: "Lovely. Do you prefer museums or food?" }),
    Entry.user("Food, and I am vegetarian."),
    Entry.assistant({ text: "Noted: vegetarian food tour." }),
    Entry.user("Budget is 1200 euros."),
    Entry.assistant({ text: "That works for a mid-range hotel." }),
    Entry.user("Now suggest a first day.")
  ])

  const compress = Compressor.make({ keepLast: 1 })
  const compressed = yield* compress(long)
  show("all entries (the record)", Chunk.toReadonlyArray(Session.entries(compressed)))
  show("transcript (what a model is sent)", Chunk.toReadonlyArray(Session.transcript(compressed)))

  const planner = Agent.make({ name: "planner" })
  const answered = yield* planner(compressed)
  const reply = Session.lastOf(answered, "Assistant")
  console.log(`\nplanner: ${reply._tag === "Some" ? reply.value.text : "(none)"}`)
})

program.pipe(
  Effect.provide(providerLayer([
    Scripted.reply("Lisbon, 5 days in May; vegetarian food focus; budget 1200 EUR; mid-range hotel."),
    Scripted.reply("Day 1: Alfama walk, then a vegetarian tasting menu in Príncipe Real.")
  ])),
  NodeRuntime.runMain
)
