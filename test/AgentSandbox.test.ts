import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Agent, Builtin, Entry, IdGenerator, LocalSandbox, Placement, Sandbox, Scripted, Session } from "rath"

describe("Agent in a real local sandbox", () => {
  it.live("the built-in write tool then stop: the file is on disk, the result says how many bytes, the sandbox is recorded", () =>
    Effect.gen(function*() {
      const placed = yield* Session.fromUserMessage("write the notes").pipe(
        Effect.flatMap((s) => Sandbox.place(s, Placement.make({ backend: "local" })))
      )
      const agent = Agent.make({ name: "scribe", instructions: "Write files when asked.", tools: [Builtin.files] })
      const out = yield* agent(placed).pipe(
        Effect.provide(Scripted.layer([
          {
            toolCalls: [
              { id: "w1", name: "write_file", arguments: { path: "notes/a.txt", content: "first" } },
              { id: "w2", name: "write_file", arguments: { path: "notes/a.txt", content: "second!" } },
              { id: "w3", name: "write_file", arguments: { path: "notes/b.txt", content: "other" } }
            ]
          },
          Scripted.reply("Done.")
        ]))
      )
      const results = Chunk.toReadonlyArray(Session.entries(out)).filter(Entry.is("ToolResult"))
      assert.deepStrictEqual(results.map((r) => r.callId), ["w1", "w2", "w3"])
      assert.deepStrictEqual(results.map((r) => (r.output as { bytes: number }).bytes), [5, 7, 5])
      for (const result of results) {
        assert.isUndefined(result.error)
        assert.strictEqual(result.sandbox?.backend, "local")
      }
      // two writes to one path ran in call order: the second one won
      const handle = yield* Sandbox.handleFor(out)
      assert.strictEqual(Fs.readFileSync(Path.join(handle.workspace, "notes/a.txt"), "utf8"), "second!")
      assert.strictEqual(Fs.readFileSync(Path.join(handle.workspace, "notes/b.txt"), "utf8"), "other")
      assert.strictEqual(Option.getOrThrow(Agent.lastEnd(out)).reason, "stop")
      assert.isTrue(Option.isSome(out.placement))
    }).pipe(
      Effect.scoped,
      Effect.provide(LocalSandbox.layer({ idleTimeToLive: "1 minute" })),
      Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
    ))
})
