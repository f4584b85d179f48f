/**
 * 06 — MCP tools: the tools of a Model Context Protocol server become ordinary rath tools.
 * `Mcp.toolkit(Mcp.stdio(...))` starts the server (examples/mcp-server.mjs) as a child process,
 * lists its tools and returns a toolkit an agent can use; the server lives as long as the scope
 * and its process ends when the scope closes.
 *
 *   npx tsx examples/06-mcp-tool.ts
 *
 * @expect server tools: add, shout, pid
 * @expect ToolResult add -> \{"sum":42\}
 * @expect assistant: 20 \+ 22 = 42
 * @expect server process \d+ running inside the scope: true
 * @expect server process \d+ running after the scope closed: false
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect } from "effect"
import type { Provider } from "rath"
import { Agent, Entry, Mcp, Scripted, Session, Tool } from "rath"
import { lastToolOutput, providerLabel, providerLayer } from "./_provider.js"

const server = Mcp.stdio({
  name: "example",
  command: process.execPath, // node
  args: [new URL("./mcp-server.mjs", import.meta.url).pathname],
  stderr: "ignore"
})

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0) // signal 0: only asks whether the process exists
    return true
  } catch (_) {
    return false
  }
}

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const pid = yield* Effect.scoped(Effect.gen(function*() {
    // connects once for the whole scope: every call goes to the same server process
    const tools = yield* Mcp.toolkit(server)
    console.log(`server tools: ${tools.definitions.map((definition) => definition.name).join(", ")}`)

    const calculator = Agent.make({
      name: "calculator",
      instructions: "Use the add tool for arithmetic; never compute in your head.",
      tools: [tools]
    })
    const session = yield* Session.fromUserMessage("What is 20 + 22?")
    const out = yield* calculator(session)
    for (const entry of Chunk.toReadonlyArray(Session.ownEntries(out))) {
      if (entry._tag === "Custom") continue // the agent's spec and run end
      console.log(`${entry._tag.padEnd(10)} ${Entry.summary(entry)}`)
    }
    const reply = Session.lastOf(out, "Assistant")
    if (reply._tag === "Some") console.log(`\nassistant: ${reply.value.text}`)

    // a tool can also be run directly, without a model
    const asked = yield* Tool.run(tools, { id: "direct-1", name: "pid", arguments: "{}" }, { session })
    const pid = Number(asked.output)
    console.log(`server process ${pid} running inside the scope: ${isRunning(pid)}`)
    return pid
  }))
  // the scope closed: the client disconnected and the server process ended
  console.log(`server process ${pid} running after the scope closed: ${isRunning(pid)}`)
})

// the scripted model calls the server's add tool, then answers from its output
const script = (request: Provider.Request) => {
  const output = lastToolOutput(request) as { sum: number } | undefined
  return output === undefined ? Scripted.toolCall("add", { a: 20, b: 22 }) : Scripted.reply(`20 + 22 = ${output.sum}`)
}

program.pipe(Effect.provide(providerLayer(script)), NodeRuntime.runMain)
