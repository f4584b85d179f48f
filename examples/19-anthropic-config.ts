/**
 * 19 — Anthropic and the config file: providers are named in `~/.rath/config.json` (`RATH_HOME`
 * moves the directory) and built by `ProviderConfig`; the same agent runs on whichever one is the
 * default. Here the file names a provider of kind `anthropic` whose base URL is a local server
 * speaking the Anthropic Messages wire format (started by this example, on 127.0.0.1), so it runs
 * with no network and no real key. The key comes from the variable the file names (`apiKeyEnv`),
 * is `Redacted` from the moment it is read, and is sent only in the request's headers.
 *
 *   npx tsx examples/19-anthropic-config.ts
 *
 * @expect config file: .*config\.json, default provider local-claude \(kind anthropic\)
 * @expect key as rath holds it: <redacted>
 * @expect server saw: POST /v1/messages, key in the headers true, model claude-local
 * @expect assistant: Bonjour ! \(from the local Anthropic-wire server\)
 * @expect answered by: anthropic at 127\.0\.0\.1:\d+ \(request req_local_1\), model claude-local-20261201
 * @expect the key appears in the session: false
 */
import { NodeFileSystem, NodeRuntime } from "@effect/platform-node"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Agent, ProviderConfig, Session } from "rath"

const KEY = "sk-local-example"

// a local server that answers as the Anthropic Messages API does (JSON, or SSE when asked to stream)
const seen: Array<string> = []
let served = 0
const server = createServer((req, res) => {
  let body = ""
  req.on("data", (chunk) => (body += chunk))
  req.on("end", () => {
    const request = JSON.parse(body) as { model: string; stream?: boolean }
    const sent = [req.headers["x-api-key"], req.headers.authorization].some((value) => value?.includes(KEY) === true)
    seen.push(`${req.method} ${req.url}, key in the headers ${sent}, model ${request.model}`)
    const id = `msg_local_${++served}`
    const text = "Bonjour ! (from the local Anthropic-wire server)"
    const usage = { input_tokens: 12, output_tokens: 9 }
    const message = { id, type: "message", role: "assistant", model: "claude-local-20261201" }
    res.setHeader("request-id", `req_local_${served}`)
    if (request.stream !== true) {
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify({
        ...message,
        content: [{ type: "text", text }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage
      }))
      return
    }
    res.setHeader("content-type", "text/event-stream")
    const event = (type: string, data: object) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
    event("message_start", { message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage } })
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } })
    event("content_block_delta", { index: 0, delta: { type: "text_delta", text } })
    event("content_block_stop", { index: 0 })
    event("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 9 } })
    event("message_stop", {})
    res.end()
  })
})

const listen = Effect.acquireRelease(
  Effect.async<number>((resume) => {
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
  }),
  () => Effect.sync(() => server.close())
)

// the config file, in a directory of its own (as ~/.rath would be)
const writeConfig = (port: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const home = mkdtempSync(join(tmpdir(), "rath-example-19-"))
      writeFileSync(
        join(home, "config.json"),
        JSON.stringify(
          {
            default: "local-claude",
            providers: {
              "local-claude": {
                kind: "anthropic",
                baseUrl: `http://127.0.0.1:${port}`,
                model: "claude-local",
                apiKeyEnv: "LOCAL_CLAUDE_KEY",
                maxTokens: 256
              }
            }
          },
          null,
          2
        )
      )
      return home
    }),
    (home) => Effect.sync(() => rmSync(home, { recursive: true, force: true }))
  )

const linguist = Agent.make({ name: "linguist", instructions: "Answer in French." })

const program = Effect.gen(function*() {
  const port = yield* listen
  const home = yield* writeConfig(port)
  // the environment the configuration reads: any ConfigProvider can stand in for process.env
  const environment = Layer.setConfigProvider(
    ConfigProvider.fromMap(new Map([["RATH_HOME", home], ["LOCAL_CLAUDE_KEY", KEY]]))
  )

  const resolved = yield* ProviderConfig.load.pipe(Effect.provide(Layer.merge(environment, NodeFileSystem.layer)))
  const chosen = resolved.providers[resolved.default!]!
  console.log(`config file: ${resolved.path}, default provider ${chosen.name} (kind ${chosen.kind})`)
  console.log(`key as rath holds it: ${Option.getOrThrow(chosen.apiKey)}`)

  const answered = yield* Session.fromUserMessage("Say hello.").pipe(
    Effect.flatMap(linguist),
    Effect.provide(ProviderConfig.layerFromEnv().pipe(Layer.provide(environment)))
  )
  console.log(`server saw: ${seen.join("; ")}`)
  const reply = Option.getOrThrow(Session.lastOf(answered, "Assistant"))
  console.log(`assistant: ${reply.text}`)
  console.log(
    `answered by: ${reply.provider?.kind} at ${reply.provider?.host} (request ${reply.provider?.requestId}), model ${reply.model}`
  )
  console.log(`the key appears in the session: ${Session.toJsonl(answered).includes(KEY)}`)
})

program.pipe(Effect.scoped, NodeRuntime.runMain)
