/**
 * 26 — durable runs: a multi-agent workflow (a planner, two coders in parallel, a compressor) runs
 * on Effect's cluster engine in single-machine mode (`SingleRunner`, SQLite), through
 * `rath/Durable`. Each agent run, fork, merge and compression is a durable step named by its
 * position; a second runtime over the same files finds the finished run and submitting the same
 * key again runs nothing. See docs/distributed.md.
 *
 *   npx tsx examples/26-durable.ts
 *
 * @expect run team:demo-1 is Done
 * @expect again: team:demo-1 Done, 0 more model calls
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import type { Provider } from "rath"
import { Agent, Compressor, Scripted, Session, Workflow } from "rath"
import * as Durable from "rath/Durable"
import { providerLabel, providerLayer } from "./_provider.js"

const planner = Agent.make({ name: "planner", instructions: "You plan the work in one sentence." })
const coder = (part: string) =>
  Agent.make({ name: `coder-${part}`, instructions: `You write part ${part} of the code, in one sentence.` })

const team = Workflow.andThen(
  planner,
  Workflow.parallel([coder("A"), coder("B")], { name: "coders" }),
  Compressor.make({ minEntries: 2 })
)

let calls = 0
const script = (request: Provider.Request) => {
  calls++
  const system = request.messages[0]
  const text = system?._tag === "System" ? system.text : ""
  if (text.includes("You plan")) return Scripted.reply("Plan: part A parses, part B prints.")
  if (text.includes("part A")) return Scripted.reply("Part A: a parser.")
  if (text.includes("part B")) return Scripted.reply("Part B: a printer.")
  return Scripted.reply("Planned, then A and B written.")
}

const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "rath-durable-example-"))
const runner = Durable.layerSingle({
  storeFile: NodePath.join(dir, "rath.db"),
  workflows: [Durable.define("team", team)]
}).pipe(Layer.provide(providerLayer(script)))

const first = Effect.gen(function*() {
  const id = yield* Durable.submit("team", { prompt: "Write a tiny calculator", key: "demo-1" })
  const result = yield* Durable.wait(id)
  const status = yield* Durable.poll(id)
  console.log(`run ${id} is ${status._tag}: session ${result.id}, ${result.length} entries`)
  for (const entry of Chunk.toReadonlyArray(Session.entries(result))) {
    if (entry._tag === "Assistant") console.log(`  ${entry.author.name}: ${entry.text}`)
    if (entry._tag === "Compression") console.log(`  compression: ${entry.text}`)
  }
}).pipe(Effect.provide(runner))

// a new runtime over the same files: the same key is the same run, already done
const again = Effect.gen(function*() {
  const before = calls
  const id = yield* Durable.submit("team", { prompt: "Write a tiny calculator", key: "demo-1" })
  yield* Durable.wait(id)
  const status = yield* Durable.poll(id)
  console.log(`again: ${id} ${status._tag}, ${calls - before} more model calls`)
}).pipe(Effect.provide(runner))

console.log(`model: ${providerLabel()}`)
Effect.zipRight(first, again).pipe(
  Effect.ensuring(Effect.sync(() => NodeFs.rmSync(dir, { recursive: true, force: true }))),
  NodeRuntime.runMain
)
