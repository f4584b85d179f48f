// rath side of the benchmark: the scripts import the built package (`npm run build` -> dist/),
// which is what users run (RATH_DIST=/path/to/dist benchmarks another build). While a module a
// workload needs has not landed in rath yet, the script prints one JSON line with
// `pending: true` and exits 0, so the runner reports "pending" for rath instead of failing.
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { msgText, repoRoot } from "../lib/common.mjs"

const dist = process.env.RATH_DIST ?? join(repoRoot, "dist")

export const pending = (workload, reason) => {
  process.stdout.write(JSON.stringify({ workload, peer: "rath", pending: true, reason }) + "\n")
  process.exit(0)
}

/** Imports rath from dist/, or reports the workload as pending when `needs` are not exported yet. */
export const loadRath = async (workload, needs) => {
  const entry = join(dist, "index.js")
  if (!existsSync(entry)) pending(workload, "dist/ is not built (npm run build)")
  const rath = await import(pathToFileURL(entry).href)
  const missing = needs.filter((name) => !(name in rath))
  if (missing.length > 0) pending(workload, `rath does not export ${missing.join(", ")} yet`)
  return rath
}

/**
 * `effect` exactly as rath's dist imports it: the same copy and its ESM build (`require.resolve`
 * would give the CommonJS build, a second runtime beside the one rath's modules use).
 */
export const loadEffect = async () => {
  const require = createRequire(join(dirname(dist), "package.json"))
  const root = dirname(require.resolve("effect/package.json"))
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
  return import(pathToFileURL(join(root, manifest.exports["."].import)).href)
}

/** rath's version, from the package.json next to dist/. */
export const version = () =>
  `rath@${JSON.parse(readFileSync(join(dirname(dist), "package.json"), "utf8")).version}`

/** Message i as rath's own entry draft: User for even i, Assistant for odd i. */
export const draft = (Entry, i) => (i % 2 === 0 ? Entry.user(msgText(i)) : Entry.assistant({ text: msgText(i) }))

/** The text of a User/Assistant entry. */
export const entryText = (entry) => entry.text

export const rathDurability = (store) =>
  store === "sqlite"
    ? `sqlite WAL synchronous=${process.env.SQLITE_SYNC === "FULL" ? "FULL (every commit fsynced)" : "NORMAL (committed, not fsynced)"}; typed entries with ids, author, parents, lineage`
    : "none (in memory)"

/**
 * The scripted model through rath's extension point: a `Provider` service (Provider.make with a
 * `stream` and a non-streaming `chat`), deciding from the request's messages exactly as the peers' scripted models do.
 */
export const scriptedProvider = ({ Provider, Effect, Stream, decide, toolCalls, sleepMs }) => {
  const info = { kind: "scripted", model: "scripted-model", host: "scripted.local" }
  let ids = 0
  const normalise = (messages) =>
    messages.map((m) => ({
      kind: m._tag === "User" ? "user" : m._tag === "ToolResult" ? "tool" : "other",
      text: m._tag === "ToolResult" ? (typeof m.output === "string" ? m.output : JSON.stringify(m.output)) : ""
    }))
  const parts = (request) => {
    const id = ++ids
    const decision = decide(normalise(request.messages), toolCalls)
    const out = [{ _tag: "Metadata", model: info.model, requestId: `req_${id}` }]
    if (decision.type === "call") {
      out.push({ _tag: "ToolCallStart", index: 0, id: `call_${id}`, name: "add" })
      out.push({ _tag: "ToolCallDelta", index: 0, argumentsDelta: JSON.stringify(decision.args) })
    } else {
      out.push({ _tag: "TextDelta", text: decision.text })
    }
    out.push({ _tag: "Usage", usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 } })
    out.push({
      _tag: "Finish",
      finishReason: decision.type === "call" ? "tool_calls" : "stop",
      provider: { kind: "scripted", host: "scripted.local", requestId: `req_${id}` }
    })
    return out
  }
  const stream = (request) =>
    sleepMs > 0
      ? Stream.unwrap(Effect.as(Effect.sleep(sleepMs), Stream.suspend(() => Stream.fromIterable(parts(request)))))
      : Stream.suspend(() => Stream.fromIterable(parts(request)))
  // the whole answer at once, as the peers' models give it (LangGraph `_generate`, Agents SDK
  // `getResponse`): the agent asks for it when nobody watches the deltas
  const whole = (request) =>
    Effect.sync(() => Provider.finish(parts(request).reduce(Provider.step, Provider.emptyAccumulator), info))
  const chat = (request) => sleepMs > 0 ? Effect.zipRight(Effect.sleep(sleepMs), whole(request)) : whole(request)
  return Provider.make({ info, stream, chat })
}

/** The add tool as a rath Tool. */
export const addTool = ({ Tool, Effect, Schema, add }) =>
  Tool.make({
    name: "add",
    description: "Adds two numbers.",
    parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
    handler: (args) => Effect.succeed(add(args))
  })
