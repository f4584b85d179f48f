import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Builtin, IdGenerator, LocalSandbox, Placement, Sandbox, Session, Tool } from "rath"

let calls = 0
const call = (name: string, args: unknown) => ({ id: `call_${++calls}`, name, arguments: JSON.stringify(args) })

/** A session placed in a fresh temporary local sandbox, and a runner for built-in tool calls. */
const setup = Effect.gen(function*() {
  const session = yield* Session.fromUserMessage("work").pipe(
    Effect.flatMap((s) => Sandbox.place(s, Placement.make({ backend: "local" })))
  )
  const run = (name: string, args: unknown) => Tool.run(Builtin.toolkit, call(name, args), { session })
  return { session, run }
})

const provide = <A, E>(effect: Effect.Effect<A, E, Sandbox.Sandbox>) =>
  effect.pipe(
    Effect.provide(LocalSandbox.layer({ idleTimeToLive: "1 minute" })),
    Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
  )

describe("Builtin tools", () => {
  it("are opt-in toolkits with the documented names", () => {
    assert.deepStrictEqual(Array.from(Builtin.toolkit.tools.keys()), [
      "read_file",
      "write_file",
      "list_files",
      "file_exists",
      "edit_file",
      "run_shell",
      "run_code"
    ])
    assert.deepStrictEqual(Array.from(Builtin.files.tools.keys()), [
      "read_file",
      "write_file",
      "list_files",
      "file_exists",
      "edit_file"
    ])
    assert.deepStrictEqual(Builtin.writeFile.jsonSchema.required, ["path", "content"])
    assert.isFalse(Builtin.runShell.parallel)
  })

  it.live("write, read, list, exists and edit record their effects and the sandbox", () =>
    provide(Effect.gen(function*() {
      const { run, session } = yield* setup
      const placement = Option.getOrThrow(session.placement)

      const written = yield* run("write_file", { path: "./src/../src/a.txt", content: "hello world" })
      assert.isUndefined(written.error)
      assert.deepStrictEqual(written.output, { path: "src/a.txt", bytes: 11, created: true })
      assert.deepStrictEqual(written.effects, [{
        op: "create",
        path: "src/a.txt",
        bytes: 11,
        sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
      }])
      assert.strictEqual(written.sandbox?.id, placement.id)
      assert.isTrue(Fs.existsSync(Path.join(written.sandbox!.workspace!, "src/a.txt")))

      const rewritten = yield* run("write_file", { path: "src/a.txt", content: "hello there" })
      assert.strictEqual(rewritten.effects[0]?.op, "write")

      const read = yield* run("read_file", { path: "src/a.txt" })
      assert.deepStrictEqual(read.output, { path: "src/a.txt", content: "hello there" })
      assert.deepStrictEqual(read.effects, [{ op: "read", path: "src/a.txt", bytes: 11 }])

      const edited = yield* run("edit_file", { path: "src/a.txt", old_text: "there", new_text: "rath" })
      assert.deepStrictEqual(edited.output, { path: "src/a.txt", bytes: 10 })
      assert.strictEqual(edited.effects[0]?.op, "edit")

      const list = yield* run("list_files", {})
      assert.deepStrictEqual(list.output, { path: ".", entries: ["src/"] })
      const exists = yield* run("file_exists", { path: "src/a.txt" })
      assert.deepStrictEqual(exists.output, { path: "src/a.txt", exists: true })
      const missing = yield* run("file_exists", { path: "src/b.txt" })
      assert.deepStrictEqual(missing.output, { path: "src/b.txt", exists: false })
    })))

  it.live("failures come back as tool results, never crashes", () =>
    provide(Effect.gen(function*() {
      const { run } = yield* setup
      yield* run("write_file", { path: "f.txt", content: "x x" })
      const escape = yield* run("read_file", { path: "../../etc/passwd" })
      assert.strictEqual(escape.error?.kind, "tool_failed")
      assert.include(escape.error?.message, "PathEscape")
      const absent = yield* run("read_file", { path: "nope.txt" })
      assert.include(absent.error?.message, "NotFound")
      const ambiguous = yield* run("edit_file", { path: "f.txt", old_text: "x", new_text: "y" })
      assert.include(ambiguous.error?.message, "EditAmbiguous")
      const invalid = yield* run("write_file", { path: 3 })
      assert.strictEqual(invalid.error?.kind, "invalid_arguments")
    })))

  it.live("run_shell and run_code record exit codes and elapsed time", () =>
    provide(Effect.gen(function*() {
      const { run } = yield* setup
      yield* run("write_file", { path: "sub/x.txt", content: "in sub" })
      const shell = yield* run("run_shell", { command: "cat x.txt; exit 3", cwd: "sub" })
      assert.deepStrictEqual(
        { ...(shell.output as Record<string, unknown>), elapsedMs: 0 },
        { exitCode: 3, stdout: "in sub", stderr: "", elapsedMs: 0 }
      )
      assert.deepStrictEqual(shell.effects.map((effect) => ({ ...effect, elapsedMs: 0 })), [
        { op: "exec", path: "sub", exitCode: 3, elapsedMs: 0 }
      ])
      assert.isAtLeast(shell.effects[0]!.elapsedMs!, 0)
      assert.isDefined(shell.sandbox)
      const code = yield* run("run_code", { language: "node", code: "console.log(require('fs').readdirSync('.'))" })
      assert.strictEqual((code.output as { stdout: string }).stdout, "[ 'sub' ]\n")
      assert.deepStrictEqual(code.effects.map((effect) => ({ ...effect, elapsedMs: 0 })), [
        { op: "exec", exitCode: 0, elapsedMs: 0 }
      ])
      assert.isNumber(code.effects[0]!.elapsedMs)
      const slow = yield* run("run_shell", { command: "sleep 5", timeout_seconds: 0.2 })
      assert.strictEqual(slow.error?.kind, "tool_failed")
      assert.include(slow.error?.message, "Timeout")
    })))

  it.effect("writes and edits declare the sandbox-qualified path as their resource", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("hi").pipe(
        Effect.flatMap((s) => Session.to(s, Placement.make({ backend: "local", id: "sbx_1" })))
      )
      const context = {
        session,
        callId: "c",
        toolName: "write_file",
        recordEffect: () => Effect.void,
        recordSandbox: () => Effect.void
      }
      assert.strictEqual(
        Builtin.writeFile.resource?.({ path: "./a/../b.txt", content: "" }, context),
        "local:sbx_1:b.txt"
      )
      assert.strictEqual(
        Builtin.editFile.resource?.({ path: "b.txt", old_text: "", new_text: "" }, context),
        "local:sbx_1:b.txt"
      )
      assert.isUndefined(Builtin.readFile.resource)
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it.live("a session without placement gets a clear tool failure", () =>
    provide(Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("hi")
      const outcome = yield* Tool.run(Builtin.toolkit, call("list_files", {}), { session })
      assert.strictEqual(outcome.error?.kind, "tool_failed")
      assert.include(outcome.error?.message, "NoPlacement")
    })))
})
