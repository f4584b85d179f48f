/**
 * 23 — the AI SDK UI stream: an agent behind a `useChat` endpoint. `UiStream.handler` reads the
 * body the AI SDK's `DefaultChatTransport` posts, imports its `UIMessage[]` into a session, runs
 * the agent and streams the run as the UI message stream (server-sent events). Here the client is
 * a plain `fetch` that prints each chunk; a React app would use `useChat({ api: "/api/chat" })`.
 * Then the finished run is exported as `UIMessage[]` and imported back.
 *
 *   node --import tsx examples/23-ai-sdk-stream.ts
 *
 * @expect x-vercel-ai-ui-message-stream: v1
 * @expect tool-output-available add -> 42
 * @expect data-rath-session \{"sessionId":"s_\w+","agent":"calculator","reason":"stop"
 * @expect finish \(stop\)
 * @expect exported: user, assistant \[step-start, text, tool-add, step-start, text\]
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { createServer } from "node:http"
import { Agent, Session, Tool } from "rath"
import * as UiStream from "rath/UiStream"
import { providerLabel, providerLayer } from "./_provider.js"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const agent = Agent.make({ name: "calculator", instructions: "Use add for arithmetic.", tools: [add] })

const script = () =>
  providerLayer([
    { text: "Let me add that.", toolCalls: [{ name: "add", arguments: { a: 19, b: 23 } }] },
    { text: "19 + 23 = 42.", chunks: ["19 + 23", " = ", "42."] }
  ])

/** One line per chunk, short enough to read. */
const show = (chunk: UiStream.UIMessageChunk): string => {
  switch (chunk.type) {
    case "text-delta":
    case "reasoning-delta":
      return `${chunk.type} ${JSON.stringify(chunk.delta)}`
    case "tool-input-start":
      return `${chunk.type} ${chunk.toolName}`
    case "tool-input-delta":
      return `${chunk.type} +${JSON.stringify(chunk.inputTextDelta)}`
    case "tool-input-available":
      return `${chunk.type} ${chunk.toolName}(${JSON.stringify(chunk.input)})`
    case "finish":
      return `finish (${chunk.finishReason})`
    default:
      return chunk.type.startsWith("data-")
        ? `${chunk.type} ${JSON.stringify((chunk as { data: unknown }).data)}`
        : chunk.type
  }
}

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  // the server: one POST route, on a free port of 127.0.0.1, for as long as the scope lasts
  const server = yield* Layer.build(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
  const chat = UiStream.handler(agent).pipe(Effect.provide(script()))
  yield* HttpServer.serveEffect(HttpRouter.empty.pipe(HttpRouter.post("/api/chat", chat))).pipe(Effect.provide(server))
  const address = (yield* Effect.provide(HttpServer.HttpServer, server)).address
  const url = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}/api/chat` : ""

  // the client: what DefaultChatTransport posts
  const response = yield* Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id: "chat-1",
        trigger: "submit-message",
        messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "What is 19 + 23?" }] }]
      })
    })
  )
  console.log(`${response.status} ${response.headers.get("content-type")}`)
  console.log(`x-vercel-ai-ui-message-stream: ${response.headers.get("x-vercel-ai-ui-message-stream")}`)
  const body = yield* Effect.promise(() => response.text())
  let lastCall = ""
  for (const event of body.split("\n\n")) {
    if (!event.startsWith("data: ")) continue
    if (event === "data: [DONE]") {
      console.log("[DONE]")
      continue
    }
    const chunk = Schema.decodeUnknownSync(UiStream.UIMessageChunk)(JSON.parse(event.slice(6)))
    if (chunk.type === "tool-input-available") lastCall = chunk.toolName
    console.log(
      chunk.type === "tool-output-available"
        ? `tool-output-available ${lastCall} -> ${JSON.stringify(chunk.output)}`
        : show(chunk)
    )
  }

  // the same run, exported as the UIMessage[] useChat keeps, and imported back
  const session = yield* Session.fromUserMessage("What is 19 + 23?").pipe(
    Effect.flatMap(agent),
    Effect.provide(script())
  )
  const messages = UiStream.fromSession(session)
  console.log(
    `exported: ${
      messages.map((m) => m.role === "assistant" ? `${m.role} [${m.parts.map((p) => p.type).join(", ")}]` : m.role)
        .join(", ")
    }`
  )
  const imported = yield* UiStream.toSession(messages)
  console.log(`imported: ${imported.length} entries, ${Session.transcript(imported).length} in the transcript`)
})

program.pipe(Effect.scoped, NodeRuntime.runMain)
