/**
 * 20 — MCP over HTTP: `Mcp.http({ url, headers })` connects to a Model Context Protocol server over
 * Streamable HTTP, and its tools become ordinary rath tools. The example starts a real MCP server
 * (the SDK's `StreamableHTTPServerTransport`) on 127.0.0.1 that wants a bearer token; the client
 * sends the headers it was given and holds one MCP session (one connection handshake) for its
 * whole scope, however many calls it makes. A tool that answers `isError` is a failed tool result the model reads, not a crash.
 *
 *   npx tsx examples/20-mcp-http.ts
 *
 * @expect server at http://127\.0\.0\.1:\d+/mcp, tools: lookup, fail
 * @expect ToolResult lookup -> \{"city":"Lisbon","country":"Portugal"\}
 * @expect ToolResult fail failed
 * @expect assistant: Lisbon is in Portugal\.
 * @expect without the token: McpError ConnectFailed
 * @expect MCP sessions opened for 2 tool calls and the tool list: 1
 */
import { NodeRuntime } from "@effect/platform-node"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { Chunk, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { Provider } from "rath"
import { Agent, Entry, Mcp, Scripted, Session } from "rath"
import { lastToolOutput, providerLabel, providerLayer } from "./_provider.js"

const TOKEN = "example-token"

// one MCP server per client session, as the SDK's Streamable HTTP transport expects
const makeServer = () => {
  const server = new Server({ name: "rath-example-http", version: "1.0.0" }, { capabilities: { tools: {} } })
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      {
        name: "lookup",
        description: "The country a city is in",
        inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
      },
      { name: "fail", description: "Always fails", inputSchema: { type: "object", properties: {} } }
    ]
  }))
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    if (request.params.name === "lookup") {
      const city = String(request.params.arguments?.city)
      const found = { city, country: city === "Lisbon" ? "Portugal" : "unknown" }
      return { content: [{ type: "text", text: JSON.stringify(found) }], structuredContent: found }
    }
    return { isError: true, content: [{ type: "text", text: "this tool always fails" }] }
  })
  return server
}

const sessions = new Map<string, StreamableHTTPServerTransport>()
let opened = 0

const http = createServer((req, res) => {
  if (req.headers.authorization !== `Bearer ${TOKEN}`) {
    res.writeHead(401).end("missing or wrong bearer token")
    return
  }
  let data = ""
  req.on("data", (chunk) => (data += chunk))
  req.on("end", async () => {
    const body = data === "" ? undefined : JSON.parse(data)
    const id = req.headers["mcp-session-id"]
    let transport = typeof id === "string" ? sessions.get(id) : undefined
    if (transport === undefined) {
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => {
          opened++
          sessions.set(sessionId, created)
        }
      })
      created.onclose = () => {
        if (created.sessionId !== undefined) sessions.delete(created.sessionId)
      }
      await makeServer().connect(created)
      transport = created
    }
    await transport.handleRequest(req, res, body)
  })
})

const listen = Effect.acquireRelease(
  Effect.async<string>((resume) => {
    http.listen(
      0,
      "127.0.0.1",
      () => resume(Effect.succeed(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`))
    )
  }),
  () => Effect.sync(() => (http.closeAllConnections(), http.close()))
)

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const url = yield* listen

  yield* Effect.scoped(Effect.gen(function*() {
    const tools = yield* Mcp.toolkit(Mcp.http({ name: "geo", url, headers: { authorization: `Bearer ${TOKEN}` } }))
    console.log(`server at ${url}, tools: ${tools.definitions.map((definition) => definition.name).join(", ")}`)
    const geographer = Agent.make({
      name: "geographer",
      instructions: "Use lookup for facts about cities.",
      tools: [tools]
    })
    const out = yield* Session.fromUserMessage("Which country is Lisbon in?").pipe(Effect.flatMap(geographer))
    for (const entry of Chunk.toReadonlyArray(Session.ownEntries(out))) {
      if (entry._tag !== "Custom") console.log(`${entry._tag.padEnd(10)} ${Entry.summary(entry)}`)
    }
    const reply = Session.lastOf(out, "Assistant")
    if (reply._tag === "Some") console.log(`\nassistant: ${reply.value.text}`)
  }))

  // the server refuses a client without the token: connecting fails with a typed error
  const refused = yield* Effect.scoped(Mcp.toolkit(Mcp.http({ name: "geo", url }))).pipe(Effect.flip)
  console.log(`without the token: ${refused._tag} ${refused.reason}`)

  // one client per scope: one MCP session on the server for everything the agent did
  console.log(`MCP sessions opened for 2 tool calls and the tool list: ${opened}`)
}).pipe(Effect.scoped)

// the scripted model: a call that fails, a lookup, then the answer from the lookup's output
const script = (request: Provider.Request, index: number) => {
  if (index === 0) return Scripted.toolCall("fail", {})
  const output = lastToolOutput(request) as { country?: string } | null | undefined
  return output?.country === undefined
    ? Scripted.toolCall("lookup", { city: "Lisbon" })
    : Scripted.reply(`Lisbon is in ${output.country}.`)
}

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
