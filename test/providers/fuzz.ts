/**
 * A seeded fuzzer for the provider surface: malformed model answers from local OpenAI-compatible
 * and Anthropic servers (JSON and SSE), and fuzzed tool-call argument text through `Tool.run` and
 * through an agent whose sessions are persisted. The test suite runs it small
 * (`test/providers/fuzz.test.ts`); `bench/fuzz/providers.ts` runs it large and prints the counts.
 *
 * Every generated answer carries its expectation, decided when it is made:
 * - `Ok`: a well-formed answer; the call must succeed with exactly its content (text, reasoning,
 *   tool calls' ids, names and argument text, finish reason, usage counts, model) and no flag.
 * - `Flagged`: a well-formed answer without the usage rath asked for; the call must succeed with
 *   its content, no usage, and `missing: ["usage"]`.
 * - `Error`: a malformed answer (cut before the answer is whole, a stall, invalid JSON, a field rath
 *   reads with the wrong type, a required field missing, bad UTF-8, larger than the cap, a wrong
 *   content type, an HTTP error, an error event); the call must fail with a `ProviderError`.
 *
 * Each call ends up in exactly one count:
 * - `defects`: the call died, or failed with something that is not a `ProviderError`;
 * - `hangs`: it had not settled when its watchdog fired (20 times the adapter's timeout);
 * - `silent`: it succeeded although the answer was malformed (`Error`), or lacked the usage and
 *   the response did not say so (`Flagged` but usage present or no `missing` flag): a malformed
 *   answer silently accepted;
 * - `wrong`: it succeeded with content that differs from what the server sent;
 * - `falseRejections`: a typed error (or a `missing` flag) for an `Ok` answer, or a typed error for
 *   a `Flagged` one (not silent, but stricter than needed);
 * - `slow`: a `Timeout` for an `Ok` or `Flagged` answer: the machine was too busy to get a whole
 *   answer through within the timeout (not the adapter's doing; raise `timeoutMillis`);
 * - `typed`: the typed error an `Error` answer expects;
 * - `flagged`: the flagged success a `Flagged` answer expects;
 * - `ok`: the exact answer an `Ok` answer expects.
 */
import { Cause, Chunk, Duration, Effect, Either, Exit, Option, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Agent, Provider, Resume, Scripted, Session, SessionStore, Tool } from "rath"
import * as Server from "./server.js"
import type { Scenario, Wire } from "./wires.js"
import { anthropicWire, openAiWire } from "./wires.js"

// -----------------------------------------------------------------------------
// seeded randomness
// -----------------------------------------------------------------------------

/** mulberry32: a small, fast, seeded generator. */
export interface Random {
  readonly next: () => number
  readonly int: (n: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  readonly chance: (p: number) => boolean
}

export const random = (seed: number): Random => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return { next, int, pick: (items) => items[int(items.length)]!, chance: (p) => next() < p }
}

const ALPHABET = [
  "a",
  "b",
  "z",
  " ",
  " ",
  "\n",
  "\t",
  "\"",
  "\\",
  "/",
  "é",
  "✓",
  "😀",
  "中",
  "\u2028",
  "\u0001",
  "{",
  "}",
  "[",
  "]",
  ":",
  ",",
  "word"
]

const text = (g: Random, max: number) => {
  let out = ""
  const n = 1 + g.int(max)
  for (let i = 0; i < n; i++) out += g.pick(ALPHABET)
  return out
}

const KEYS = ["a", "b", "path", "text", "n", "list", "ok", "x_y", "é"]

const jsonValue = (g: Random, depth: number): unknown => {
  const roll = g.int(depth <= 0 ? 5 : 7)
  switch (roll) {
    case 0:
      return g.int(2_000_000) - 1_000_000
    case 1:
      return g.pick([1.5, -0.25, 1e21, 3.14159, 0])
    case 2:
      return text(g, 12)
    case 3:
      return g.chance(0.5)
    case 4:
      return null
    case 5:
      return Array.from({ length: g.int(4) }, () => jsonValue(g, depth - 1))
    default:
      return jsonObject(g, depth - 1)
  }
}

const jsonObject = (g: Random, depth: number): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  const n = g.int(4)
  for (let i = 0; i < n; i++) out[g.pick(KEYS)] = jsonValue(g, depth)
  return out
}

/** Splits text at random places (surrogate pairs and escapes included) into 1..max pieces. */
const split = (g: Random, value: string, max: number): Array<string> => {
  const cuts = Array.from({ length: g.int(max) }, () => g.int(value.length + 1)).sort((a, b) => a - b)
  const pieces: Array<string> = []
  let at = 0
  for (const cut of cuts) {
    pieces.push(value.slice(at, cut))
    at = cut
  }
  pieces.push(value.slice(at))
  return pieces
}

const scenarioOf = (g: Random, id: number, options?: { readonly toolCall?: boolean }): Scenario => {
  const input = g.int(100_000)
  const calls = options?.toolCall === true ? 1 + g.int(2) : g.chance(0.4) ? 1 + g.int(3) : 0
  return {
    id: `resp-${id}`,
    model: `model-${g.int(50)}`,
    ...(g.chance(0.3) ? { reasoning: text(g, 40) } : {}),
    ...(g.chance(0.85) || calls === 0 ? { text: Array.from({ length: 1 + g.int(6) }, () => text(g, 30)) } : {}),
    ...(calls === 0 ? {} : {
      toolCalls: Array.from({ length: calls }, (_, i) => {
        const args = { ...jsonObject(g, 3), q: text(g, 8) }
        return {
          id: `call_${i}_${g.int(1e6)}`,
          name: g.pick(["add", "search", "write"]),
          args: split(g, JSON.stringify(args), 5)
        }
      })
    }),
    usage: {
      input,
      output: g.int(50_000),
      ...(g.chance(0.3) ? { cached: g.int(input + 1) } : {}),
      ...(g.chance(0.2) ? { reasoning: g.int(1000) } : {})
    },
    finish: g.pick(["stop", "tool_calls", "length", "unknown"] as const)
  }
}

// -----------------------------------------------------------------------------
// expectations
// -----------------------------------------------------------------------------

/** The content of an answer, as rath must report it. */
export interface Answer {
  readonly text: string
  readonly reasoning: string | undefined
  readonly toolCalls: ReadonlyArray<readonly [string, string, string]>
  readonly finishReason: string
  readonly usage: readonly [number, number, number] | undefined
  readonly model: string | undefined
}

export type Expect =
  | { readonly _tag: "Ok"; readonly answer: Answer }
  | { readonly _tag: "Flagged"; readonly answer: Answer }
  | { readonly _tag: "Error" }

const finishOf = { stop: "stop", tool_calls: "tool_calls", length: "length", unknown: "other" } as const

const answerOf = (s: Scenario): Answer => ({
  text: (s.text ?? []).join(""),
  reasoning: s.reasoning === undefined || s.reasoning === "" ? undefined : s.reasoning,
  toolCalls: (s.toolCalls ?? []).map((call) => [call.id, call.name, call.args.join("")] as const),
  finishReason: finishOf[s.finish],
  usage: [s.usage.input, s.usage.output, s.usage.input + s.usage.output],
  model: s.model
})

const ok = (s: Scenario): Expect => ({ _tag: "Ok", answer: answerOf(s) })
const flagged = (s: Scenario): Expect => ({ _tag: "Flagged", answer: { ...answerOf(s), usage: undefined } })
const error: Expect = { _tag: "Error" }

const observed = (response: Provider.Response): Answer => ({
  text: response.text,
  reasoning: response.reasoning,
  toolCalls: response.toolCalls.map((call) => [call.id, call.name, call.arguments] as const),
  finishReason: response.finishReason,
  usage: response.usage === undefined
    ? undefined
    : [response.usage.inputTokens, response.usage.outputTokens, response.usage.totalTokens],
  model: response.model
})

const same = (a: Answer, b: Answer) => JSON.stringify(a) === JSON.stringify(b)

// -----------------------------------------------------------------------------
// mutations
// -----------------------------------------------------------------------------

type Path = ReadonlyArray<string | number>

/** A field rath reads: values of a type the wire format forbids there, and what deleting it means. */
interface Field {
  readonly path: Path
  readonly wrong: ReadonlyArray<unknown>
  readonly onDelete?: "Error" | "Flagged" | "Ok" | undefined
}

const notString: ReadonlyArray<unknown> = [42, true, {}, [], ["x"], { a: 1 }]
const notNumber: ReadonlyArray<unknown> = ["12", true, {}, [], -1, 1.5]
const notArray: ReadonlyArray<unknown> = ["x", 42, {}, true]
const notObject: ReadonlyArray<unknown> = ["x", 42, [], true]
const notType: ReadonlyArray<unknown> = [42, {}, [], true]
const orNull = (values: ReadonlyArray<unknown>) => [...values, null]

const get = (value: unknown, path: Path): unknown =>
  path.reduce<unknown>((at, key) => (typeof at === "object" && at !== null ? (at as any)[key] : undefined), value)

const has = (value: unknown, path: Path) => {
  const parent = get(value, path.slice(0, -1))
  return typeof parent === "object" && parent !== null && path[path.length - 1]! in parent
}

const set = (value: unknown, path: Path, to: unknown): unknown => {
  const copy = structuredClone(value) as any
  const parent = get(copy, path.slice(0, -1)) as any
  parent[path[path.length - 1]!] = to
  return copy
}

const remove = (value: unknown, path: Path): unknown => {
  const copy = structuredClone(value) as any
  const parent = get(copy, path.slice(0, -1)) as any
  if (Array.isArray(parent)) parent.splice(path[path.length - 1] as number, 1)
  else delete parent[path[path.length - 1]!]
  return copy
}

const present = (value: unknown, fields: ReadonlyArray<Field>) => fields.filter((field) => has(value, field.path))

const openAiChatFields = (body: any): Array<Field> => {
  const fields: Array<Field> = [
    { path: ["choices"], wrong: orNull(notArray), onDelete: "Error" },
    { path: ["choices", 0], wrong: orNull(notObject) },
    { path: ["choices", 0, "message"], wrong: orNull(notObject), onDelete: "Error" },
    { path: ["choices", 0, "message", "content"], wrong: notString },
    { path: ["choices", 0, "message", "reasoning_content"], wrong: notString },
    { path: ["choices", 0, "message", "tool_calls"], wrong: notArray },
    { path: ["choices", 0, "finish_reason"], wrong: orNull(notString), onDelete: "Error" },
    { path: ["usage"], wrong: notObject, onDelete: "Flagged" },
    { path: ["usage", "prompt_tokens"], wrong: orNull(notNumber), onDelete: "Error" },
    { path: ["usage", "completion_tokens"], wrong: orNull(notNumber), onDelete: "Error" },
    { path: ["usage", "total_tokens"], wrong: notNumber },
    { path: ["model"], wrong: orNull(notString) },
    { path: ["id"], wrong: orNull(notString) }
  ]
  const calls: Array<unknown> = body?.choices?.[0]?.message?.tool_calls ?? []
  calls.forEach((_, i) => {
    const at = ["choices", 0, "message", "tool_calls", i]
    fields.push(
      { path: at, wrong: orNull(notObject) },
      { path: [...at, "id"], wrong: orNull(notString), onDelete: "Error" },
      { path: [...at, "function"], wrong: orNull(notObject), onDelete: "Error" },
      { path: [...at, "function", "name"], wrong: orNull(notString), onDelete: "Error" },
      { path: [...at, "function", "arguments"], wrong: orNull(notString), onDelete: "Error" }
    )
  })
  return present(body, fields)
}

const openAiChunkFields = (chunk: any): Array<Field> => {
  const fields: Array<Field> = [
    { path: ["choices"], wrong: orNull(notArray), onDelete: "Error" },
    { path: ["model"], wrong: orNull(notString) },
    { path: ["id"], wrong: orNull(notString) }
  ]
  if (Array.isArray(chunk?.choices) && chunk.choices.length > 0) {
    const delta = chunk.choices[0].delta ?? {}
    fields.push(
      { path: ["choices", 0], wrong: orNull(notObject) },
      { path: ["choices", 0, "index"], wrong: orNull(["0", {}, true]) },
      { path: ["choices", 0, "delta"], wrong: orNull(notObject), onDelete: "Error" },
      { path: ["choices", 0, "delta", "content"], wrong: notString },
      { path: ["choices", 0, "delta", "reasoning_content"], wrong: notString },
      { path: ["choices", 0, "delta", "tool_calls"], wrong: notArray }
    )
    if (typeof chunk.choices[0].finish_reason === "string") {
      fields.push({ path: ["choices", 0, "finish_reason"], wrong: notString, onDelete: "Error" })
    }
    const calls: Array<any> = Array.isArray(delta.tool_calls) ? delta.tool_calls : []
    calls.forEach((call, i) => {
      const at = ["choices", 0, "delta", "tool_calls", i]
      // an id or a name missing from the delta that starts a call: the call never gets one
      const starts = typeof call?.id === "string"
      fields.push(
        { path: at, wrong: orNull(notObject) },
        // a missing index is inferred (calls stream one after the other): the same answer
        { path: [...at, "index"], wrong: orNull(["0", {}, true, -1, 1.5]), onDelete: "Ok" },
        { path: [...at, "id"], wrong: notString, onDelete: starts ? "Error" : undefined },
        { path: [...at, "function"], wrong: notObject, onDelete: starts ? "Error" : undefined },
        { path: [...at, "function", "name"], wrong: notString, onDelete: starts ? "Error" : undefined },
        { path: [...at, "function", "arguments"], wrong: notString }
      )
    })
  }
  if (typeof chunk?.usage === "object" && chunk.usage !== null) {
    fields.push(
      { path: ["usage"], wrong: notObject, onDelete: "Flagged" },
      { path: ["usage", "prompt_tokens"], wrong: orNull(notNumber), onDelete: "Error" },
      { path: ["usage", "completion_tokens"], wrong: orNull(notNumber), onDelete: "Error" }
    )
  }
  return present(chunk, fields)
}

const anthropicBlockFields = (block: any, at: Path): Array<Field> => {
  const fields: Array<Field> = [
    { path: at, wrong: orNull(notObject) },
    { path: [...at, "type"], wrong: orNull(notType), onDelete: "Error" }
  ]
  if (block?.type === "text") fields.push({ path: [...at, "text"], wrong: orNull(notString), onDelete: "Error" })
  if (block?.type === "thinking") {
    fields.push({ path: [...at, "thinking"], wrong: orNull(notString), onDelete: "Error" })
  }
  if (block?.type === "tool_use") {
    fields.push(
      { path: [...at, "id"], wrong: orNull(notString), onDelete: "Error" },
      { path: [...at, "name"], wrong: orNull(notString), onDelete: "Error" },
      { path: [...at, "input"], wrong: orNull(["x", 42, [], true]) }
    )
  }
  return fields
}

const anthropicChatFields = (body: any): Array<Field> => {
  const fields: Array<Field> = [
    { path: ["content"], wrong: orNull(notArray), onDelete: "Error" },
    { path: ["stop_reason"], wrong: orNull(notString), onDelete: "Error" },
    { path: ["usage"], wrong: notObject, onDelete: "Flagged" },
    { path: ["usage", "input_tokens"], wrong: orNull(notNumber), onDelete: "Error" },
    { path: ["usage", "output_tokens"], wrong: orNull(notNumber), onDelete: "Error" },
    { path: ["model"], wrong: orNull(notString) },
    { path: ["id"], wrong: orNull(notString) }
  ]
  const blocks: Array<any> = Array.isArray(body?.content) ? body.content : []
  blocks.forEach((block, i) => {
    for (const field of anthropicBlockFields(block, ["content", i])) {
      // a tool input is required in a message (it is optional only in a stream's block start)
      fields.push(field.path[field.path.length - 1] === "input" ? { ...field, onDelete: "Error" } : field)
    }
  })
  return present(body, fields)
}

const anthropicEventFields = (event: any): Array<Field> => {
  const fields: Array<Field> = [{ path: ["type"], wrong: orNull(notType), onDelete: "Error" }]
  const index: Field = { path: ["index"], wrong: orNull(notNumber), onDelete: "Error" }
  switch (event?.type) {
    case "message_start":
      fields.push(
        { path: ["message"], wrong: orNull(notObject), onDelete: "Error" },
        { path: ["message", "model"], wrong: orNull(notString) },
        { path: ["message", "id"], wrong: orNull(notString) },
        { path: ["message", "usage"], wrong: notObject, onDelete: "Flagged" },
        { path: ["message", "usage", "input_tokens"], wrong: notNumber, onDelete: "Flagged" }
      )
      break
    case "content_block_start":
      fields.push(
        index,
        { path: ["content_block"], wrong: orNull(notObject), onDelete: "Error" },
        ...anthropicBlockFields(event.content_block, ["content_block"]).slice(1)
      )
      break
    case "content_block_delta": {
      fields.push(
        index,
        { path: ["delta"], wrong: orNull(notObject), onDelete: "Error" },
        { path: ["delta", "type"], wrong: orNull(notType), onDelete: "Error" }
      )
      const key = { text_delta: "text", input_json_delta: "partial_json", thinking_delta: "thinking" }[
        event.delta?.type as string
      ]
      if (key !== undefined) fields.push({ path: ["delta", key], wrong: orNull(notString), onDelete: "Error" })
      break
    }
    case "content_block_stop":
      fields.push(index)
      break
    case "message_delta":
      fields.push(
        { path: ["delta"], wrong: orNull(notObject), onDelete: "Error" },
        { path: ["delta", "stop_reason"], wrong: orNull(notString), onDelete: "Error" },
        { path: ["usage"], wrong: notObject, onDelete: "Flagged" },
        { path: ["usage", "output_tokens"], wrong: notNumber, onDelete: "Flagged" }
      )
      break
  }
  return present(event, fields)
}

/** An SSE frame: its event name and data text. */
const parseFrame = (frame: string): { readonly event: string | undefined; readonly data: string } => {
  const lines = frame.split("\n")
  const event = lines.find((line) => line.startsWith("event: "))?.slice(7)
  return { event, data: lines.filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n") }
}

const frameOf = (event: string | undefined, data: string) =>
  `${event === undefined ? "" : `event: ${event}\n`}data: ${data}\n\n`

/** Breaks JSON text (or the `[DONE]` marker) so that it no longer parses and is no marker. */
const breakJson = (g: Random, value: string): string => {
  const broken = (text: string) => {
    if (text === value || text.trim() === "[DONE]") return false
    try {
      JSON.parse(text)
      return false
    } catch {
      return true
    }
  }
  for (let i = 0; i < 10; i++) {
    const at = g.int(value.length + 1)
    const text = value.slice(0, at) + g.pick(["{", "}", "[", "]", ",", ":", "\"", "x", "\u0000", "'"]) +
      value.slice(at + (g.chance(0.5) ? 1 : 0))
    if (broken(text)) return text
  }
  return `${value}}`
}

const BAD_UTF8: ReadonlyArray<ReadonlyArray<number>> = [
  [0xff],
  [0xc3],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xc0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80]
]

const insertBytes = (g: Random, bytes: Uint8Array, from = 0): Uint8Array => {
  const at = from + g.int(bytes.length - from + 1)
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(g.pick(BAD_UTF8)), bytes.subarray(at)])
}

/** Splits bytes into 1..4 writes (a UTF-8 sequence may straddle two). */
const pieces = (g: Random, bytes: Uint8Array): Array<Uint8Array> => {
  const cuts = Array.from({ length: g.int(4) }, () => g.int(bytes.length + 1)).sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let at = 0
  for (const cut of cuts) {
    out.push(bytes.subarray(at, cut))
    at = cut
  }
  out.push(bytes.subarray(at))
  return out.filter((piece) => piece.length > 0)
}

// -----------------------------------------------------------------------------
// cases
// -----------------------------------------------------------------------------

export interface Config {
  readonly seed: number
  /** Cases per adapter (half `chat`, half `stream`). */
  readonly providerCases: number
  readonly toolCases: number
  /** Every n-th tool case also runs through an agent persisted to a store (0: none). */
  readonly agentEvery: number
  readonly concurrency: number
  /**
   * The adapters' `timeoutMillis` for the answers that stall (a stall must end as a `Timeout`);
   * the others run on adapters with ten times as long, so that a busy machine does not turn a
   * slow whole answer into a timeout. A call's watchdog is 20 times its adapter's timeout.
   */
  readonly timeoutMillis: number
  /** The adapters' `maxResponseBytes`. */
  readonly maxResponseBytes: number
  /** Sizes of huge strings: within the cap, and beyond it. */
  readonly hugeBytes: readonly [number, number]
}

export interface Case {
  readonly id: number
  readonly wire: Wire
  readonly mode: "chat" | "stream"
  readonly kind: string
  readonly reply: Server.Reply
  readonly expect: Expect
}

const CHAT_KINDS = [
  "none",
  "charset",
  "cut",
  "stall",
  "stallHeaders",
  "invalidJson",
  "wrongType",
  "missingField",
  "badUtf8",
  "hugeText",
  "hugeModel",
  "overCap",
  "contentType",
  "argsObject",
  "status",
  "errorBody"
] as const

const STREAM_KINDS = [
  "none",
  "charset",
  "cutFrame",
  "cutByte",
  "stallFrame",
  "stallByte",
  "stallHeaders",
  "invalidJson",
  "wrongType",
  "missingField",
  "badUtf8",
  "hugeText",
  "overCap",
  "contentType",
  "argsObject",
  "errorEvent",
  "status"
] as const

const jsonReply = (
  bytes: Uint8Array | string,
  g: Random,
  options?: {
    readonly type?: string | undefined
    readonly status?: number | undefined
    readonly then?: "end" | "hold" | "destroy" | undefined
  }
): Server.Reply => ({
  raw: pieces(g, typeof bytes === "string" ? Buffer.from(bytes) : bytes),
  headers: options?.type === "" ? {} : { "content-type": options?.type ?? "application/json" },
  ...(options?.status === undefined ? {} : { status: options.status }),
  ...(options?.then === undefined ? {} : { then: options.then })
})

const sseReply = (
  bytes: Uint8Array | string,
  g: Random,
  options?: { readonly type?: string | undefined; readonly then?: "end" | "hold" | "destroy" }
): Server.Reply => jsonReply(bytes, g, { type: options?.type ?? "text/event-stream", then: options?.then })

const huge = (g: Random, bytes: number) => {
  const unit = g.pick(["x", "é", "✓", "😀", "ab\"\\\n"])
  return unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)))
}

const statusReply = (g: Random): Server.Reply =>
  jsonReply(
    g.pick([
      "<html>bad gateway</html>",
      "{\"error\": {\"message\": \"x\"",
      "",
      "{\"error\":{\"message\":\"no\"}}",
      "nope"
    ]),
    g,
    {
      status: g.pick([400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 529]),
      type: g.pick(["application/json", "text/html", ""])
    }
  )

/** What a stream cut after `kept` whole frames is: whole, whole but without usage, or not whole. */
const keptExpect = (wire: Wire, s: Scenario, frames: ReadonlyArray<string>, kept: number, hold: boolean): Expect => {
  const n = frames.length
  if (wire === anthropicWire) return kept >= n ? ok(s) : error
  // OpenAI: ..., finish, usage, [DONE]; a held stream ends only at [DONE]
  if (hold) return kept >= n ? ok(s) : error
  if (kept >= n - 1) return ok(s)
  if (kept === n - 2) return flagged(s)
  return error
}

/** How many frames lie whole within the first `bytes` bytes. */
const wholeFrames = (frames: ReadonlyArray<string>, bytes: number) => {
  let total = 0
  let kept = 0
  for (const frame of frames) {
    total += Buffer.byteLength(frame)
    if (total > bytes) break
    kept++
  }
  return kept
}

const chatCase = (g: Random, id: number, wire: Wire, config: Config): Case => {
  const kind = g.pick(CHAT_KINDS)
  const make = (reply: Server.Reply, expect: Expect): Case => ({ id, wire, mode: "chat", kind, reply, expect })
  const s = scenarioOf(g, id, { toolCall: kind === "argsObject" })
  const body = wire.json(s) as any
  const bytes = Buffer.from(JSON.stringify(body))
  const fields = wire === openAiWire ? openAiChatFields(body) : anthropicChatFields(body)
  switch (kind) {
    case "none":
      return make(jsonReply(bytes, g), ok(s))
    case "charset":
      return make(
        jsonReply(bytes, g, { type: g.pick(["application/json; charset=utf-8", "application/vnd.x+json"]) }),
        ok(s)
      )
    case "cut":
      return make(jsonReply(bytes.subarray(0, g.int(bytes.length)), g, { then: g.pick(["end", "destroy"]) }), error)
    case "stall":
      return make(jsonReply(bytes.subarray(0, g.int(bytes.length)), g, { then: "hold" }), error)
    case "stallHeaders":
      return make({ hang: true }, error)
    case "invalidJson":
      return make(jsonReply(breakJson(g, bytes.toString()), g), error)
    case "wrongType": {
      const field = g.pick(fields.filter((f) => f.wrong.length > 0))
      return make(jsonReply(JSON.stringify(set(body, field.path, g.pick(field.wrong))), g), error)
    }
    case "missingField": {
      const field = g.pick(fields.filter((f) => f.onDelete !== undefined))
      const expect = field.onDelete === "Flagged" ? flagged(s) : field.onDelete === "Ok" ? ok(s) : error
      return make(jsonReply(JSON.stringify(remove(body, field.path)), g), expect)
    }
    case "badUtf8":
      return make(jsonReply(insertBytes(g, bytes), g), error)
    case "hugeText": {
      const big: Scenario = { ...s, text: [huge(g, config.hugeBytes[0])] }
      return make(jsonReply(JSON.stringify(wire.json(big)), g), ok(big))
    }
    case "hugeModel": {
      const big: Scenario = { ...s, model: huge(g, config.hugeBytes[0] / 4) }
      return make(jsonReply(JSON.stringify(wire.json(big)), g), ok(big))
    }
    case "overCap": {
      const big: Scenario = { ...s, text: [huge(g, config.hugeBytes[1])] }
      return make(jsonReply(JSON.stringify(wire.json(big)), g), error)
    }
    case "contentType":
      return make(
        jsonReply(bytes, g, {
          type: g.pick([
            "text/plain",
            "text/html",
            "application/octet-stream",
            "text/event-stream",
            "",
            "application/jsonx"
          ])
        }),
        error
      )
    case "argsObject": {
      const i = g.int(s.toolCalls!.length)
      const path = wire === openAiWire
        ? ["choices", 0, "message", "tool_calls", i, "function", "arguments"]
        : ["content", (body.content as Array<any>).findIndex((b) => b.type === "tool_use") + i, "input"]
      const value = get(body, path)
      // OpenAI: the argument text as a JSON object; Anthropic: the input object as JSON text
      const mutated = set(body, path, typeof value === "string" ? JSON.parse(value) : JSON.stringify(value))
      return make(jsonReply(JSON.stringify(mutated), g), error)
    }
    case "status":
      return make(statusReply(g), error)
    case "errorBody":
      return make(jsonReply(JSON.stringify(wire.error("something failed", "api_error")), g), error)
  }
}

const streamCase = (g: Random, id: number, wire: Wire, config: Config): Case => {
  const kind = g.pick(STREAM_KINDS)
  const make = (reply: Server.Reply, expect: Expect): Case => ({ id, wire, mode: "stream", kind, reply, expect })
  const s = scenarioOf(g, id, { toolCall: kind === "argsObject" })
  const frames = wire.stream(s)
  const joined = frames.join("")
  const bytes = Buffer.from(joined)
  const n = frames.length
  const fieldsOf = (data: unknown) => wire === openAiWire ? openAiChunkFields(data) : anthropicEventFields(data)
  /** Replaces frame `i`'s data. */
  const withFrame = (i: number, data: string) =>
    frames.map((frame, j) => (j === i ? frameOf(parseFrame(frame).event, data) : frame)).join("")
  /** The JSON frames (not `[DONE]`) with their data parsed. */
  const jsonFrames = frames.flatMap((frame, i) => {
    const { data } = parseFrame(frame)
    return data === "[DONE]" ? [] : [{ i, data: JSON.parse(data) as unknown }]
  })
  switch (kind) {
    case "none":
      return make(sseReply(bytes, g), ok(s))
    case "charset":
      return make(sseReply(bytes, g, { type: "text/event-stream; charset=utf-8" }), ok(s))
    case "cutFrame": {
      const kept = g.int(n)
      const then = g.pick(["end", "destroy"] as const)
      return make(sseReply(frames.slice(0, kept).join(""), g, { then }), keptExpect(wire, s, frames, kept, false))
    }
    case "cutByte": {
      const at = g.int(bytes.length)
      const then = g.pick(["end", "destroy"] as const)
      return make(
        sseReply(bytes.subarray(0, at), g, { then }),
        keptExpect(wire, s, frames, wholeFrames(frames, at), false)
      )
    }
    case "stallFrame": {
      const kept = g.int(n + 1)
      return make(
        sseReply(frames.slice(0, kept).join(""), g, { then: "hold" }),
        keptExpect(wire, s, frames, kept, true)
      )
    }
    case "stallByte": {
      const at = g.int(bytes.length)
      return make(
        sseReply(bytes.subarray(0, at), g, { then: "hold" }),
        keptExpect(wire, s, frames, wholeFrames(frames, at), true)
      )
    }
    case "stallHeaders":
      return make({ hang: true }, error)
    case "invalidJson": {
      const i = g.int(n)
      return make(sseReply(withFrame(i, breakJson(g, parseFrame(frames[i]!).data)), g), error)
    }
    case "wrongType": {
      const candidates = jsonFrames.flatMap(({ data, i }) =>
        fieldsOf(data).filter((f) => f.wrong.length > 0).map((field) => ({ i, data, field }))
      )
      const { data, field, i } = g.pick(candidates)
      return make(sseReply(withFrame(i, JSON.stringify(set(data, field.path, g.pick(field.wrong)))), g), error)
    }
    case "missingField": {
      const candidates = jsonFrames.flatMap(({ data, i }) =>
        fieldsOf(data).filter((f) => f.onDelete !== undefined).map((field) => ({ i, data, field }))
      )
      const { data, field, i } = g.pick(candidates)
      const expect = field.onDelete === "Flagged" ? flagged(s) : field.onDelete === "Ok" ? ok(s) : error
      return make(sseReply(withFrame(i, JSON.stringify(remove(data, field.path))), g), expect)
    }
    case "badUtf8": {
      // inside a frame's data, after its "data: " prefix
      const i = g.int(n)
      const before = Buffer.byteLength(frames.slice(0, i).join(""))
      const frame = Buffer.from(frames[i]!)
      const data = frame.indexOf("data: ") + 6
      const broken = Buffer.concat([
        bytes.subarray(0, before),
        insertBytes(g, frame.subarray(0, frame.length - 2), data),
        frame.subarray(frame.length - 2),
        bytes.subarray(before + frame.length)
      ])
      return make(sseReply(broken, g), error)
    }
    case "hugeText": {
      const big: Scenario = { ...s, text: [...(s.text ?? []), huge(g, config.hugeBytes[0])] }
      return make(sseReply(wire.stream(big).join(""), g), ok(big))
    }
    case "overCap": {
      const big: Scenario = { ...s, text: [...(s.text ?? []), huge(g, config.hugeBytes[1])] }
      return make(sseReply(wire.stream(big).join(""), g), error)
    }
    case "contentType":
      return make(
        sseReply(bytes, g, {
          type: g.pick(["application/json", "text/plain", "text/html", "", "application/x-ndjson"])
        }),
        error
      )
    case "argsObject": {
      // a tool-call argument piece sent as a JSON object instead of text
      const candidates = jsonFrames.filter(({ data }) =>
        wire === openAiWire
          ? typeof get(data, ["choices", 0, "delta", "tool_calls", 0, "function", "arguments"]) === "string"
          : get(data, ["delta", "type"]) === "input_json_delta"
      )
      const { data, i } = g.pick(candidates)
      const path = wire === openAiWire
        ? ["choices", 0, "delta", "tool_calls", 0, "function", "arguments"]
        : ["delta", "partial_json"]
      return make(sseReply(withFrame(i, JSON.stringify(set(data, path, { a: 1 }))), g), error)
    }
    case "errorEvent": {
      // anywhere before the last frame (the terminal event, after which nothing is read)
      const at = 1 + g.int(n - 1)
      const event = wire === openAiWire
        ? Server.sse({ error: { message: "overloaded", type: "server_error" } })
        : Server.sse({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }, "error")
      return make(sseReply([...frames.slice(0, at), event, ...frames.slice(at)].join(""), g), error)
    }
    case "status":
      return make(statusReply(g), error)
  }
}

/** The generator of case `id`: its own seed, so a case is the same whatever order cases run in. */
const caseRandom = (seed: number, id: number) => random(Math.imul(seed, 0x9e3779b1) ^ Math.imul(id + 1, 0x85ebca6b))

/**
 * Case `id` of a run (made when it runs: a run's huge answers never sit in memory together): the
 * first `providerCases` speak OpenAI, the next Anthropic; even ids are `chat`, odd ones `stream`.
 */
export const providerCase = (config: Config, id: number): Case => {
  const g = caseRandom(config.seed, id)
  const wire = id < config.providerCases ? openAiWire : anthropicWire
  return id % 2 === 0 ? chatCase(g, id, wire, config) : streamCase(g, id, wire, config)
}

// -----------------------------------------------------------------------------
// running
// -----------------------------------------------------------------------------

export interface Counts {
  tries: number
  ok: number
  flagged: number
  typed: number
  falseRejections: number
  slow: number
  defects: number
  hangs: number
  silent: number
  wrong: number
}

const zero = (): Counts => ({
  tries: 0,
  ok: 0,
  flagged: 0,
  typed: 0,
  falseRejections: 0,
  slow: 0,
  defects: 0,
  hangs: 0,
  silent: 0,
  wrong: 0
})

export interface Report {
  /** Counts by surface (`openai/chat`, `anthropic/stream`, `tools/Tool.run`, ...). */
  readonly surfaces: Record<string, Counts>
  /** Counts by surface and mutation kind. */
  readonly kinds: Record<string, Counts>
  /** A few examples of each bad outcome, to reproduce. */
  readonly examples: Array<string>
}

type Outcome = "ok" | "flagged" | "typed" | "falseRejections" | "slow" | "defects" | "hangs" | "silent" | "wrong"

const record = (report: Report, surface: string, kind: string, outcome: Outcome, example: string) => {
  for (const [map, key] of [[report.surfaces, surface], [report.kinds, `${surface} ${kind}`]] as const) {
    const counts = (map[key] ??= zero())
    counts.tries++
    counts[outcome]++
  }
  if (
    outcome !== "ok" && outcome !== "flagged" && outcome !== "typed" && outcome !== "slow" &&
    report.examples.length < 40
  ) {
    report.examples.push(`${outcome} ${surface} ${kind}: ${example}`.slice(0, 400))
  }
}

const emptyReport = (): Report => ({ surfaces: {}, kinds: {}, examples: [] })

const isProviderError = Schema.is(Provider.ProviderError)

/** The outcome of a provider call against its expectation. */
const judge = (
  exit: Option.Option<Exit.Exit<Provider.Response, unknown>>,
  expect: Expect
): readonly [Outcome, string] => {
  if (Option.isNone(exit)) return ["hangs", "the watchdog fired"]
  const result = exit.value
  if (Exit.isFailure(result)) {
    const failure = Cause.failureOption(result.cause)
    if (Option.isNone(failure) || !isProviderError(failure.value)) {
      return ["defects", Cause.pretty(result.cause).split("\n").slice(0, 3).join(" | ")]
    }
    if (expect._tag === "Error") return ["typed", ""]
    return [failure.value.reason === "Timeout" ? "slow" : "falseRejections", failure.value.message.slice(0, 300)]
  }
  const response = result.value
  if (expect._tag === "Error") return ["silent", JSON.stringify(observed(response)).slice(0, 300)]
  const flag = response.missing?.includes("usage") === true
  if (expect._tag === "Flagged") {
    if (!flag || response.usage !== undefined) return ["silent", `usage missing but not flagged`]
    return same(observed(response), expect.answer)
      ? ["flagged", ""]
      : ["wrong", `${JSON.stringify(observed(response)).slice(0, 200)}`]
  }
  if (flag) return ["falseRejections", "flagged missing usage on a whole answer"]
  return same(observed(response), expect.answer)
    ? ["ok", ""]
    : ["wrong", `${JSON.stringify(observed(response)).slice(0, 150)} vs ${JSON.stringify(expect.answer).slice(0, 150)}`]
}

const watchdog = <A, E>(effect: Effect.Effect<A, E>, millis: number) =>
  Effect.timeoutOption(Effect.disconnect(Effect.exit(effect)), Duration.millis(millis))

/**
 * Runs the provider cases against one local server speaking both wire formats (a case is picked by
 * the model its request names) and fills `report`.
 */
export const runProviders = (config: Config, report: Report = emptyReport(), onProgress?: (done: number) => void) =>
  Effect.gen(function*() {
    const byModel = new Map<string, Case>()
    const server = yield* Server.start((r) => byModel.get(r.body?.model)?.reply ?? { status: 500, raw: "no case" })
    const adapters = (timeoutMillis: number) =>
      new Map([openAiWire, anthropicWire].map((wire) => [
        wire,
        wire.make(server.url, { timeoutMillis, maxResponseBytes: config.maxResponseBytes })
      ]))
    const short = adapters(config.timeoutMillis)
    const long = adapters(config.timeoutMillis * 10)
    const providers = long
    // warm up (SDK loading, the first fetch): not counted
    const warm = scenarioOf(random(0), -1)
    byModel.set("fuzz-warm", {
      id: -1,
      wire: openAiWire,
      mode: "chat",
      kind: "warm",
      reply: { json: {} },
      expect: ok(warm)
    })
    for (const [wire, provider] of providers) {
      byModel.set("fuzz-warm", { ...byModel.get("fuzz-warm")!, reply: { json: wire.json(warm) } })
      yield* Effect.exit(provider.chat({ messages: [], model: "fuzz-warm" }))
    }
    let done = 0
    const ids = Array.from({ length: config.providerCases * 2 }, (_, id) => id)
    yield* Effect.forEach(ids, (id) => {
      const c = providerCase(config, id)
      byModel.set(`fuzz-${id}`, c)
      const stalls = c.kind.startsWith("stall")
      const provider = (stalls ? short : long).get(c.wire)!
      const request: Provider.Request = { messages: [], model: `fuzz-${c.id}` }
      const call = c.mode === "chat"
        ? provider.chat(request)
        : Provider.accumulate(provider.stream(request), provider.info)
      return Effect.map(watchdog(call, config.timeoutMillis * (stalls ? 20 : 200)), (exit) => {
        byModel.delete(`fuzz-${id}`)
        const [outcome, example] = judge(exit, c.expect)
        record(report, `${c.wire.kind}/${c.mode}`, c.kind, outcome, `case ${c.id}: ${example}`)
        if (++done % 500 === 0) onProgress?.(done)
      })
    }, { concurrency: config.concurrency, discard: true })
    return report
  })

// -----------------------------------------------------------------------------
// tool arguments
// -----------------------------------------------------------------------------

const Num = Schema.Struct({ x: Schema.Number })
const Any = Schema.Struct({ x: Schema.Unknown })
const Str = Schema.Struct({ s: Schema.String })
const parametersOf = { num: Num, any: Any, str: Str } as const
type ToolName = keyof typeof parametersOf

const tools = [
  Tool.make({ name: "num", description: "n", parameters: Num, handler: ({ x }) => Effect.succeed({ kind: typeof x }) }),
  Tool.make({ name: "any", description: "a", parameters: Any, handler: ({ x }) => Effect.succeed({ kind: typeof x }) }),
  Tool.make({
    name: "str",
    description: "s",
    parameters: Str,
    handler: ({ s }) => Effect.succeed({ length: s.length })
  })
]

/**
 * The deepest argument nesting a tool call may have (`Provider.MAX_ARGUMENT_DEPTH`; written out so
 * that the fuzzer also runs against code that has no such bound).
 */
export const ARGUMENT_DEPTH = 64

/** The nesting depth of JSON text (brackets inside strings skipped), computed apart from rath's. */
const depthOf = (value: string): number => {
  let depth = 0
  let max = 0
  let inString = false
  let escaped = false
  for (const char of value) {
    if (inString) {
      if (escaped) escaped = false
      else if (char === "\\") escaped = true
      else if (char === "\"") inString = false
    } else if (char === "\"") inString = true
    else if (char === "[" || char === "{") max = Math.max(max, ++depth)
    else if (char === "]" || char === "}") depth--
  }
  return max
}

/** What running a call with this argument text must give: a result, or `invalid_arguments`. */
export const expectedTool = (tool: ToolName, value: string): "ok" | "invalid_arguments" => {
  let raw: unknown
  if (value.trim() === "") raw = {}
  else if (depthOf(value) > ARGUMENT_DEPTH) return "invalid_arguments"
  else {
    try {
      raw = JSON.parse(value)
    } catch {
      return "invalid_arguments"
    }
  }
  const schema = parametersOf[tool] as Schema.Schema<unknown, any>
  return Either.isRight(Schema.decodeUnknownEither(schema)(raw, { onExcessProperty: "ignore" }))
    ? "ok"
    : "invalid_arguments"
}

const nest = (levels: number, inner: string, object: boolean) =>
  object
    ? `${"{\"a\":".repeat(levels)}${inner}${"}".repeat(levels)}`
    : `${"[".repeat(levels)}${inner}${"]".repeat(levels)}`

const DEPTHS = [1, 10, 62, 63, 64, 65, 100, 1_000, 5_000, 20_000, 60_000]

export const toolCase = (g: Random): { readonly tool: ToolName; readonly text: string; readonly kind: string } => {
  const kind = g.pick([
    "valid",
    "wrongType",
    "invalidJson",
    "cut",
    "deep",
    "deepString",
    "empty",
    "weird",
    "huge",
    "extra"
  ])
  const tool = g.pick(["num", "any", "str"] as const)
  const valid = () =>
    JSON.stringify(
      tool === "num" ? { x: g.int(1000) - 500 } : tool === "any" ? { x: jsonValue(g, 4) } : { s: text(g, 40) }
    )
  switch (kind) {
    case "valid":
      return { tool, kind, text: g.chance(0.3) ? JSON.stringify(JSON.parse(valid()), null, 2) : valid() }
    case "wrongType":
      return {
        tool,
        kind,
        text: JSON.stringify(
          tool === "str" ? { s: g.pick([1, null, [], {}]) } : { x: g.pick(["1", null, [], {}, true]) }
        )
      }
    case "invalidJson":
      return { tool, kind, text: breakJson(g, valid()) }
    case "cut": {
      const full = valid()
      return { tool, kind, text: full.slice(0, g.int(full.length)) }
    }
    case "deep": {
      const levels = g.pick(DEPTHS)
      const key = tool === "str" ? "s" : "x"
      return { tool, kind, text: `{"${key}":${nest(levels, g.pick(["0", "\"a\"", "null", "[]"]), g.chance(0.3))}}` }
    }
    case "deepString":
      return { tool, kind, text: JSON.stringify({ s: "[{".repeat(g.int(20_000)), x: 1 }) }
    case "empty":
      return { tool, kind, text: g.pick(["", "  ", "\n"]) }
    case "weird":
      return {
        tool,
        kind,
        text: g.pick([
          "{\"x\": 1e400}",
          "{\"x\": -0}",
          "{\"__proto__\": {\"x\": 1}}",
          "{\"x\": 1, \"x\": \"a\"}",
          "{\"s\": \"\\ud800\"}",
          "{\"s\": \"\\u0000\"}",
          "null",
          "[]",
          "42",
          "\"x\"",
          "true",
          "{\"x\": 1} trailing",
          "\ufeff{\"x\": 1}"
        ])
      }
    case "huge":
      return {
        tool,
        kind,
        text: JSON.stringify(tool === "str" ? { s: "y".repeat(1_000_000) } : { x: 1, pad: "y".repeat(1_000_000) })
      }
    default:
      return { tool, kind, text: JSON.stringify({ ...(JSON.parse(valid()) as object), extra: [1, 2], y: "z" }) }
  }
}

/**
 * Runs fuzzed tool-call argument text through `Tool.run` and, for every `agentEvery`-th case,
 * through an agent (a scripted model calls the tool with that text) whose sessions are persisted to
 * a SQLite store, then written and read as JSONL.
 */
export const runTools = (config: Config, report: Report = emptyReport()) =>
  Effect.gen(function*() {
    const toolkit = yield* Tool.toolkit(...tools)
    const session = yield* Session.empty()
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "rath-fuzz-"))),
      (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
    )
    const store = SessionStore.layer({ filename: join(dir, "sessions.db") })
    const agent = Agent.make({ name: "fuzz", tools })
    const ids = Array.from({ length: config.toolCases }, (_, i) => i)
    yield* Effect.forEach(ids, (i) =>
      Effect.gen(function*() {
        const c = { i, ...toolCase(caseRandom(config.seed + 1, i)) }
        const expected = expectedTool(c.tool, c.text)
        const direct = yield* watchdog(
          Tool.run(toolkit, { id: `c${c.i}`, name: c.tool, arguments: c.text }, { session }),
          5_000
        )
        const outcome = (kind: string | undefined): Outcome =>
          kind === (expected === "ok" ? undefined : "invalid_arguments")
            ? expected === "ok" ? "ok" : "typed"
            : expected === "ok"
            ? "falseRejections"
            : "silent"
        const judged = (exit: Option.Option<Exit.Exit<unknown, unknown>>, kind: () => string | undefined) =>
          Option.isNone(exit)
            ? "hangs" as const
            : Exit.isFailure(exit.value)
            ? "defects" as const
            : outcome(kind())
        const text = c.text.length > 80 ? `${c.text.slice(0, 80)}… (${c.text.length})` : c.text
        const directOutcome = judged(
          direct,
          () => Option.isSome(direct) && Exit.isSuccess(direct.value) ? direct.value.value.error?.kind : "?"
        )
        record(report, "tools/Tool.run", c.kind, directOutcome, `${c.tool} ${text}`)
        if (config.agentEvery <= 0 || c.i % config.agentEvery !== 0) return
        const run = Effect.gen(function*() {
          const start = yield* Session.fromUserMessage("go")
          const end = yield* Resume.persist(agent(start))
          const back = yield* Session.fromJsonl(Session.toJsonl(end))
          const results = Chunk.toArray(Session.entries(back.session)).flatMap((e) =>
            e._tag === "ToolResult" ? [e] : []
          )
          return results[0]?.error?.kind
        }).pipe(
          Effect.provide(Scripted.layer([Scripted.toolCall(c.tool, c.text, { id: "a" }), Scripted.reply("done")])),
          Effect.provide(store)
        )
        const viaAgent = yield* watchdog(run, 10_000)
        record(
          report,
          "tools/agent+persist",
          c.kind,
          judged(
            viaAgent,
            () => Option.isSome(viaAgent) && Exit.isSuccess(viaAgent.value) ? viaAgent.value.value : "?"
          ),
          `${c.tool} ${text}`
        )
      }), { concurrency: Math.min(config.concurrency, 4), discard: true })
    return report
  })

/** Counts everything an SDK prints on the console while `effect` runs. */
export const countConsole = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    let lines = 0
    const methods = ["log", "info", "warn", "error", "debug", "trace"] as const
    const saved = methods.map((method) => console[method])
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        for (const method of methods) console[method] = () => void lines++
      }),
      () => Effect.sync(() => methods.forEach((method, i) => (console[method] = saved[i]!)))
    )
    const result = yield* effect
    return [result, () => lines] as const
  })

export const newReport = emptyReport

/** The counts as a table, one line per surface (and per mutation kind with `kinds`). */
export const format = (report: Report, options?: { readonly kinds?: boolean }): string => {
  const columns = [
    "tries",
    "ok",
    "flagged",
    "typed",
    "falseRejections",
    "slow",
    "defects",
    "hangs",
    "silent",
    "wrong"
  ] as const
  const width = (column: string) => Math.max(column.length, 6) + 1
  const row = (name: string, counts: Counts) =>
    `${name.padEnd(36)}${columns.map((column) => String(counts[column]).padStart(width(column))).join("")}`
  const lines = [`${"surface".padEnd(36)}${columns.map((column) => column.padStart(width(column))).join("")}`]
  for (const [name, counts] of Object.entries(report.surfaces).sort()) lines.push(row(name, counts))
  if (options?.kinds === true) {
    lines.push("")
    for (const [name, counts] of Object.entries(report.kinds).sort()) lines.push(row(name, counts))
  }
  return lines.join("\n")
}
