/**
 * 09 — memory: facts stored in a SQLite file (`Memory.layerSqlite`, full-text ranked by BM25)
 * outlive the process. An agent with `memory: { namespace, commitOnForward: true }` recalls the
 * facts that match the user's message before its first model call, gives them to the model as
 * untrusted context (a delimited user-role block, never system instructions), and commits the
 * conversation back afterwards. Every interaction is a `Memory` entry of the session, so you can
 * see which memories an answer saw.
 *
 *   npx tsx examples/09-memory.ts
 *
 * @expect remembered 4 facts in user:ada \(store sqlite:.*memory\.db\)
 * @expect recall in user:ada for "Where does Ada live, and what does Ada drink\?": \d hits
 * @expect \n {4}\d\.\d+(e-\d+)? Ada lives in Zürich\.\n
 * @expect commit to user:ada: 2 memories written
 * @expect the model saw an <untrusted-memory> block: true \(a User message by system:memory:assistant\)
 * @expect assistant: From memory: .*Ada lives in Zürich
 * @expect reopened .*memory\.db: 6 memories in user:ada
 * @expect recall "Zürich" -> Ada lives in Zürich
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Provider } from "rath"
import { Agent, Entry, Memory, Scripted, Session } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const namespace = "user:ada"

const assistant = Agent.make({
  name: "assistant",
  instructions: "Answer about the user from what you remember. Say when you do not know.",
  memory: { namespace, commitOnForward: true }
})

// first process: remember, then ask
const firstRun = Effect.gen(function*() {
  const memory = yield* Memory.Memory
  // facts from earlier conversations (an agent can also call assistant.remember(session, text))
  const facts = yield* memory.rememberAll([
    { namespace, text: "Ada drinks green tea, never coffee." },
    { namespace, text: "Ada lives in Zürich." },
    { namespace, text: "Ada's cat is called Mímir." },
    { namespace, text: "The build server reboots every Sunday." }
  ])
  console.log(`remembered ${facts.length} facts in ${namespace} (store ${memory.store})`)

  const question = yield* Session.fromUserMessage("Where does Ada live, and what does Ada drink?")
  const answered = yield* assistant(question)

  // the Memory entries: what was recalled (query, hits, scores) and what was committed
  for (const entry of Chunk.toReadonlyArray(Session.entries(answered))) {
    if (entry._tag !== "Memory") continue
    if (entry.operation === "recall") {
      console.log(`recall in ${entry.namespace} for "${entry.query}": ${entry.hits?.length ?? 0} hits`)
      for (const hit of entry.hits ?? []) console.log(`    ${hit.score.toPrecision(3)} ${hit.text}`)
    } else {
      console.log(`${entry.operation} to ${entry.namespace}: ${entry.written?.length ?? 0} memories written`)
    }
  }
  // the block of recalled memories, addressed to the agent that recalled it: only that agent is sent it
  const context = Chunk.toReadonlyArray(Session.transcript(answered)).filter(Entry.is("User")).find(Memory.isContext)
  console.log(
    `the model saw an <untrusted-memory> block: ${context?.text.startsWith("<untrusted-memory>") === true}`
      + ` (a ${context?._tag} message by ${context?.author.kind}:${context?.author.name})`
  )
  const reply = Session.lastOf(answered, "Assistant")
  if (reply._tag === "Some") console.log(`assistant: ${reply.value.text}`)
})

// a second process, later: the same file, every memory still there
const secondRun = (filename: string) =>
  Effect.gen(function*() {
    const memory = yield* Memory.Memory
    const stored = yield* memory.list({ namespace })
    console.log(`\nreopened ${filename}: ${stored.length} memories in ${namespace}`)
    for (const item of stored) console.log(`    ${item.text}`)
    for (const query of ["Zürich", "Mímir"]) {
      const hits = yield* memory.recall({ query, namespace, k: 1 })
      console.log(`recall "${query}" -> ${hits[0]?.text ?? "nothing"}`)
    }
  })

// the scripted model answers from the recalled block it was given
const script = (request: Provider.Request) => {
  const block = request.messages.find((message) =>
    message._tag === "User" && message.text.startsWith("<untrusted-memory>")
  )
  const recalled = block?._tag === "User"
    ? block.text.split("\n").filter((line, i, lines) => i > 0 && lines[i - 1]!.startsWith("["))
    : []
  return Scripted.reply(recalled.length === 0 ? "I do not know." : `From memory: ${recalled.join(" ")}`)
}

const program = Effect.acquireUseRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-memory-"))),
  (dir) =>
    Effect.gen(function*() {
      console.log(`model: ${providerLabel()}`)
      const filename = Path.join(dir, "memory.db")
      // each layer opens the file and closes it when its program ends
      yield* firstRun.pipe(Effect.provide(Memory.layerSqlite({ filename })))
      yield* secondRun(filename).pipe(Effect.provide(Memory.layerSqlite({ filename })))
    }),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
