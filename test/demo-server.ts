/**
 * A local OpenAI-compatible endpoint for `rath demo` on the real-model path: a Chat Completions
 * server on 127.0.0.1 (JSON, or SSE when the request asks to stream) that answers the demo's
 * requests with a small scripted policy, the way a model would: the planner gets a plan, each
 * coder writes two files with tool calls (arguments streamed in pieces), runs the check, then
 * reports; the compressor gets a summary. Coder A's slugify is right, coder B's is wrong.
 */
import type { Effect, Scope } from "effect"
import type { Received, Reply, Server } from "./providers/server.js"
import { start } from "./providers/server.js"
import type { Scenario } from "./providers/wires.js"
import { openAiWire } from "./providers/wires.js"

/** The model the server says answered (the request asks for another one). */
export const SERVED_MODEL = "local-slugify-7b-2026-11"

export const SLUGIFY_A = `export function slugify(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
}
`
// forgets the punctuation and the repeated spaces: its check fails
export const SLUGIFY_B = `export function slugify(text) {
  return text.trim().toLowerCase().split(" ").join("-")
}
`
export const CHECK = `import { slugify } from "./slugify.mjs"
const cases = [["Hello, World!", "hello-world"], ["  Effect  is   great ", "effect-is-great"]]
let failed = 0
for (const [input, expected] of cases) {
  const actual = slugify(input)
  if (actual !== expected) failed++
  console.log((actual === expected ? "ok   " : "FAIL ") + JSON.stringify(input) + " -> " + JSON.stringify(actual))
}
process.exit(failed === 0 ? 0 : 1)
`

/** A JSON text cut into pieces, the way a model streams tool-call arguments. */
const pieces = (value: unknown): Array<string> => {
  const text = JSON.stringify(value)
  const size = Math.ceil(text.length / 3)
  return [text.slice(0, size), text.slice(size, 2 * size), text.slice(2 * size)]
}

const contentOf = (message: any): string =>
  typeof message?.content === "string"
    ? message.content
    : Array.isArray(message?.content)
    ? message.content.map((part: any) => part?.text ?? "").join("")
    : ""

/** What the scripted model answers to one Chat Completions body. */
export const policy = (body: any, index: number): Scenario => {
  const messages: Array<any> = Array.isArray(body?.messages) ? body.messages : []
  const system = contentOf(messages.find((message) => message.role === "system"))
  const base = { id: `chatcmpl-${index}`, model: SERVED_MODEL, usage: { input: 100 + index, output: 20 } }
  if (body?.tool_choice === "none") {
    return {
      ...base,
      text: ["Coder A's regular-expression slugify passed check.mjs; ", "coder B's was rejected; A was merged."],
      finish: "stop"
    }
  }
  if (system.startsWith("You are the planner")) {
    return {
      ...base,
      text: ["1. Lower-case.\n", "2. Dash runs of non-alphanumerics.\n", "3. Trim dashes.\n4. Check two cases."],
      finish: "stop"
    }
  }
  const variant = /^You are coder (A|B)/.exec(system)?.[1]
  if (variant === undefined) return { ...base, text: ["I have nothing to add."], finish: "stop" }
  const results = messages.filter((message) => message.role === "tool").length
  if (results === 0) {
    return {
      ...base,
      text: [`Writing coder ${variant}'s version and its check.`],
      toolCalls: [
        {
          id: `call_${variant}_slugify`,
          name: "write_file",
          args: pieces({ path: "slugify.mjs", content: variant === "A" ? SLUGIFY_A : SLUGIFY_B })
        },
        { id: `call_${variant}_check`, name: "write_file", args: pieces({ path: "check.mjs", content: CHECK }) }
      ],
      finish: "tool_calls"
    }
  }
  if (results === 2) {
    // `env` first: the sandbox's environment lands in the session, and must not hold the key
    return {
      ...base,
      toolCalls: [{ id: `call_${variant}_run`, name: "run_shell", args: pieces({ command: "env; node check.mjs" }) }],
      finish: "tool_calls"
    }
  }
  const last = contentOf(messages[messages.length - 1])
  return {
    ...base,
    text: [/"exitCode":\s*0\b/.test(last) ? "check.mjs passes." : "check.mjs fails: a case is wrong."],
    finish: "stop"
  }
}

/** The demo's OpenAI-compatible endpoint: JSON or SSE as the request asks, with a request id header. */
export const reply = (request: Received, index: number): Reply => {
  if (request.method !== "POST" || request.path !== openAiWire.path) {
    return { status: 404, json: openAiWire.error(`no route ${request.method} ${request.path}`, "not_found") }
  }
  const scenario = policy(request.body, index)
  const headers = { "x-request-id": `req_demo_${index}` }
  return request.body?.stream === true
    ? { sse: openAiWire.stream(scenario), headers }
    : { json: openAiWire.json(scenario), headers }
}

/** The demo's endpoint on 127.0.0.1. */
export const demoServer: Effect.Effect<Server, never, Scope.Scope> = start(reply)

/** An endpoint that refuses every request with 401, like a gateway given a wrong key. */
export const unauthorizedServer: Effect.Effect<Server, never, Scope.Scope> = start(() => ({
  status: 401,
  json: openAiWire.error(
    "Incorrect API key provided: sk-demo-****. You can find your API key at the dashboard.",
    "invalid_api_key"
  )
}))
