// A small MCP server over stdio, for examples/06-mcp-tool.ts: three tools, plain JSON Schema.
//
//   node examples/mcp-server.mjs   (speaks MCP on stdin/stdout; start it from an MCP client)
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js"

const tools = [
  {
    name: "add",
    description: "Adds two numbers",
    inputSchema: {
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"]
    },
    outputSchema: { type: "object", properties: { sum: { type: "number" } }, required: ["sum"] }
  },
  {
    name: "shout",
    description: "Returns its text in capitals",
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] }
  },
  { name: "pid", description: "The server's process id", inputSchema: { type: "object", properties: {} } }
]

const server = new Server({ name: "rath-example", version: "1.0.0" }, { capabilities: { tools: {} } })
server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }))
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const args = request.params.arguments ?? {}
  switch (request.params.name) {
    case "add": {
      const sum = Number(args.a) + Number(args.b)
      // structuredContent is what rath gives the model as the tool's output
      return { content: [{ type: "text", text: String(sum) }], structuredContent: { sum } }
    }
    case "shout":
      return { content: [{ type: "text", text: String(args.text).toUpperCase() }] }
    case "pid":
      return { content: [{ type: "text", text: String(process.pid) }] }
    default:
      return { isError: true, content: [{ type: "text", text: `unknown tool ${request.params.name}` }] }
  }
})
await server.connect(new StdioServerTransport())
