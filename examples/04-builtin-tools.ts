/**
 * 04 — built-in tools: an agent given `Builtin` tools (write_file, read_file, list_files,
 * edit_file, run_shell) works in its session's sandbox. Each tool result is evidence of what
 * changed: the effect (operation, canonical path, bytes, SHA-256 of what was written, exit code)
 * and the sandbox it ran in.
 *
 *   npx tsx examples/04-builtin-tools.ts
 *
 * @expect write_file +create hello\.sh \d+ bytes sha256:[0-9a-f]{12} in local:sbx_
 * @expect edit_file +edit hello\.sh \d+ bytes sha256:[0-9a-f]{12} in local:sbx_
 * @expect run_shell +exec \. exit 0 in local:sbx_
 * @expect list_files +list \. in local:sbx_
 * @expect read_file +read hello\.sh \d+ bytes in local:sbx_
 * @expect run_shell output: "hello, rath"
 * @expect assistant: The script prints "hello, rath"\.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Layer, Option } from "effect"
import type { Provider } from "rath"
import { Agent, Builtin, LocalSandbox, Placement, Sandbox, Scripted, Session } from "rath"
import { providerLabel, providerLayer } from "./_provider.js"

const coder = Agent.make({
  name: "coder",
  instructions: "You work in a sandbox. Write, edit and run files with your tools; report what the program printed.",
  // opt-in: the agent gets exactly these tools (no run_code, no file_exists)
  tools: [Builtin.writeFile, Builtin.readFile, Builtin.listFiles, Builtin.editFile, Builtin.runShell]
})

const program = Effect.gen(function*() {
  console.log(`model: ${providerLabel()}`)
  const task = yield* Session.fromUserMessage(
    "Write hello.sh printing 'hello, world', change it to greet rath instead, run it, and tell me what it printed."
  )
  // the session says where its tools run; the sandbox opens on the first tool call
  const placed = yield* Sandbox.place(task, Placement.make({ backend: "local" }))

  // hold the sandbox for the whole run (a temporary workspace lives as long as its handle)
  const done = yield* Effect.scoped(Effect.gen(function*() {
    const handle = yield* Sandbox.handleFor(placed)
    console.log(`workspace: ${handle.workspace}\n`)
    return yield* coder(placed)
  }))

  // the evidence: one line per tool result
  for (const entry of Chunk.toReadonlyArray(Session.entries(done))) {
    if (entry._tag !== "ToolResult") continue
    const sandbox = entry.sandbox === undefined ? "?" : Placement.label(entry.sandbox)
    const effects = (entry.effects ?? []).map((effect) =>
      [
        effect.op,
        effect.path,
        effect.bytes === undefined ? undefined : `${effect.bytes} bytes`,
        effect.sha256 === undefined ? undefined : `sha256:${effect.sha256.slice(0, 12)}`,
        effect.exitCode === undefined ? undefined : `exit ${effect.exitCode}`
      ].filter((part) => part !== undefined).join(" ")
    )
    const status = entry.error === undefined ? "" : ` FAILED ${entry.error.message}`
    console.log(`${entry.toolName.padEnd(10)} ${effects.join(", ")} in ${sandbox} (${entry.durationMs} ms)${status}`)
    if (entry.toolName === "run_shell") {
      console.log(`run_shell output: ${JSON.stringify((entry.output as { stdout?: string } | null)?.stdout?.trim())}`)
    }
  }
  const reply = Session.lastOf(done, "Assistant")
  if (reply._tag === "Some") console.log(`\nassistant: ${reply.value.text}`)
  console.log(`run ended: ${Option.getOrThrow(Agent.lastEnd(done)).reason}`)
})

// the scripted model: write, edit, run, look around, then answer from what the script printed
const steps: ReadonlyArray<Scripted.Reply> = [
  Scripted.toolCall("write_file", { path: "hello.sh", content: "echo 'hello, world'\n" }),
  Scripted.toolCall("edit_file", { path: "hello.sh", old_text: "world", new_text: "rath" }),
  Scripted.toolCall("run_shell", { command: "sh hello.sh" }),
  Scripted.toolCall("list_files", {}),
  Scripted.toolCall("read_file", { path: "hello.sh" })
]
const script = (request: Provider.Request, index: number) => {
  const ran = request.messages.find((message) => message._tag === "ToolResult" && message.toolName === "run_shell")
  const printed = ran?._tag === "ToolResult" ? (ran.output as { stdout: string }).stdout.trim() : "nothing"
  return steps[index] ?? Scripted.reply(`The script prints "${printed}".`)
}

program.pipe(
  Effect.provide(Layer.merge(providerLayer(script), LocalSandbox.layer({ idleTimeToLive: 0 }))),
  NodeRuntime.runMain
)
