/**
 * One conformance suite, run against every sandbox backend: the local backend always, the
 * bubblewrap backend when `bwrap` is installed (in CI it must be: a missing bwrap fails there).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { BwrapSandbox, IdGenerator, LocalSandbox, Placement, Sandbox } from "rath"

const bwrapInstalled = ChildProcess.spawnSync("bwrap", ["--version"]).status === 0
const inCi = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"

const backends: Array<{ readonly name: string; readonly backend: () => Sandbox.Backend; readonly run: boolean }> = [
  { name: "local", backend: () => LocalSandbox.backend(), run: true },
  { name: "bwrap", backend: () => BwrapSandbox.backend(), run: bwrapInstalled }
]

if (!bwrapInstalled) {
  if (inCi) {
    describe("bwrap sandbox", () => {
      it("bubblewrap is installed in CI", () => {
        assert.fail(`bwrap is missing in CI: ${BwrapSandbox.INSTALL_HINT}`)
      })
    })
  } else {
    console.warn(`skipping the bwrap sandbox conformance suite: bwrap is missing; ${BwrapSandbox.INSTALL_HINT}`)
  }
}

const errorOf = <A>(result: Either.Either<A, Sandbox.SandboxError>): Sandbox.SandboxError => {
  assert.isTrue(Either.isLeft(result), "expected a SandboxError")
  return (result as Either.Left<Sandbox.SandboxError, A>).left
}

for (const { backend, name, run } of backends) {
  describe.skipIf(!run)(`Sandbox conformance: ${name}`, () => {
    const SandboxLive = Sandbox.layer({ backends: [backend()], idleTimeToLive: 0 })
    const provide = <A, E>(effect: Effect.Effect<A, E, Sandbox.Sandbox | Scope.Scope>) =>
      effect.pipe(
        Effect.scoped,
        Effect.provide(SandboxLive),
        Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
      )
    const fresh = Effect.flatMap(Sandbox.bind(Placement.make({ backend: name })), Sandbox.handle)

    it.live("stdout, stderr and exit code 7", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        const result = yield* handle.exec({ command: "echo out; echo err >&2; exit 7" })
        assert.strictEqual(result.stdout, "out\n")
        assert.strictEqual(result.stderr, "err\n")
        assert.strictEqual(result.exitCode, 7)
        assert.isFalse(result.truncated)
      })))

    it.live("argv commands, env pass-through and stdin", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        const env = yield* handle.exec({
          command: ["sh", "-c", "printf %s \"$GREETING\""],
          env: { GREETING: "hi there" }
        })
        assert.strictEqual(env.stdout, "hi there")
        const cat = yield* handle.exec({ command: ["cat"], stdin: "from stdin\n" })
        assert.strictEqual(cat.stdout, "from stdin\n")
      })))

    it.live("the default cwd is the workspace root; cwd is relative to it", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        yield* handle.write("marker.txt", "root")
        yield* handle.write("sub/inner.txt", "inner")
        assert.strictEqual((yield* handle.exec({ command: "cat marker.txt" })).stdout, "root")
        assert.strictEqual((yield* handle.exec({ command: "cat inner.txt", cwd: "sub" })).stdout, "inner")
        const escape = yield* Effect.either(handle.exec({ command: "pwd", cwd: "../.." }))
        assert.strictEqual(errorOf(escape).reason, "PathEscape")
      })))

    it.live("a timeout is a typed Timeout, kills the process group, and the sandbox stays usable", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        const started = performance.now()
        const timedOut = yield* Effect.either(
          handle.exec({ command: "(sleep 0.6; echo late > late.txt) & sleep 5", timeout: "150 millis" })
        )
        assert.strictEqual(errorOf(timedOut).reason, "Timeout")
        assert.isBelow(performance.now() - started, 4000, "the timeout did not end the 5 s command")
        const after = yield* handle.exec({ command: "echo still here" })
        assert.strictEqual(after.stdout, "still here\n")
        yield* Effect.sleep("900 millis")
        assert.isFalse(yield* handle.exists("late.txt"), "a background process of the timed-out command survived")
      })))

    it.live("output is capped", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        const result = yield* handle.exec({ command: "head -c 100000 /dev/zero | tr '\\0' x", maxOutputBytes: 1000 })
        assert.strictEqual(result.stdout.length, 1000)
        assert.isTrue(result.truncated)
      })))

    it.live("file round-trips, text and bytes, and the command sees them", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        const written = yield* handle.write("notes/a.txt", "héllo\nworld\n")
        assert.deepStrictEqual(written, { path: "notes/a.txt", bytes: 13, created: true })
        assert.strictEqual(yield* handle.readText("notes/a.txt"), "héllo\nworld\n")
        assert.strictEqual((yield* handle.exec({ command: "cat notes/a.txt" })).stdout, "héllo\nworld\n")
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
        yield* handle.write("bin/all.bin", bytes)
        assert.deepStrictEqual(yield* handle.readBytes("bin/all.bin"), bytes)
        assert.strictEqual((yield* handle.exec({ command: "wc -c < bin/all.bin" })).stdout.trim(), "256")
        yield* handle.exec({ command: "printf made > by-command.txt" })
        assert.strictEqual(yield* handle.readText("by-command.txt"), "made")
        const stat = yield* handle.stat("bin/all.bin")
        assert.strictEqual(stat.kind, "file")
        assert.strictEqual(stat.size, 256)
        assert.isFalse((yield* handle.write("notes/a.txt", "again")).created)
      })))

    it.live("list is sorted; missing reads fail; writes create parents", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        yield* handle.write("b.txt", "b")
        yield* handle.write("a.txt", "a")
        yield* handle.write("c/d/e.txt", "e")
        assert.deepStrictEqual(yield* handle.list(), [
          { name: "a.txt", kind: "file" },
          { name: "b.txt", kind: "file" },
          { name: "c", kind: "directory" }
        ])
        assert.deepStrictEqual(yield* handle.list("c/d"), [{ name: "e.txt", kind: "file" }])
        assert.strictEqual(errorOf(yield* Effect.either(handle.readText("nope.txt"))).reason, "NotFound")
        assert.strictEqual(errorOf(yield* Effect.either(handle.list("nope"))).reason, "NotFound")
        assert.isTrue(yield* handle.exists("c/d/e.txt"))
        assert.isFalse(yield* handle.exists("c/d/f.txt"))
      })))

    it.live("edit replaces exactly one occurrence; absent and ambiguous are typed errors", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        yield* handle.write("f.txt", "one two two three")
        yield* handle.edit("f.txt", "one", "ONE")
        assert.strictEqual(yield* handle.readText("f.txt"), "ONE two two three")
        assert.strictEqual(errorOf(yield* Effect.either(handle.edit("f.txt", "four", "4"))).reason, "EditNoMatch")
        assert.strictEqual(errorOf(yield* Effect.either(handle.edit("f.txt", "two", "2"))).reason, "EditAmbiguous")
        assert.strictEqual(yield* handle.readText("f.txt"), "ONE two two three")
      })))

    it.live("path escapes are refused: ../x, /etc/passwd, a symlink to /, a symlink chain", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        yield* handle.exec({ command: "ln -s / to-root && ln -s to-root/etc chain1 && ln -s chain1 chain2" })
        yield* handle.exec({
          command: "mkdir inside && echo ok > inside/f && ln -s inside alias && ln -s alias alias2"
        })
        for (const path of ["../x", "a/../../x", "/etc/passwd", "to-root/etc/passwd", "chain2/passwd", "chain1"]) {
          const read = yield* Effect.either(handle.readText(path))
          assert.strictEqual(errorOf(read).reason, "PathEscape", `read ${path}`)
          const write = yield* Effect.either(handle.write(path, "pwned"))
          assert.strictEqual(errorOf(write).reason, "PathEscape", `write ${path}`)
        }
        assert.strictEqual(errorOf(yield* Effect.either(handle.list("to-root"))).reason, "PathEscape")
        // symlinks that stay inside are followed
        assert.strictEqual(yield* handle.readText("alias2/f"), "ok\n")
        assert.strictEqual(yield* handle.resolve("alias2/f"), "inside/f")
        assert.strictEqual(yield* handle.resolve(Path.join(handle.workspace, "inside")), "inside")
      })))

    it.live("runs code with node and python3", () =>
      provide(Effect.gen(function*() {
        const handle = yield* fresh
        const node = yield* handle.runCode({ language: "node", code: "console.log(6 * 7)" })
        assert.strictEqual(node.stdout, "42\n")
        const python = yield* Effect.either(handle.runCode({ language: "python", code: "print(6 * 7)" }))
        if (Either.isRight(python)) assert.strictEqual(python.right.stdout, "42\n")
        else assert.strictEqual(python.left.reason, "Unsupported")
        const failing = yield* handle.runCode({ language: "node", code: "process.exit(3)" })
        assert.strictEqual(failing.exitCode, 3)
      })))

    it.live("two sandboxes never see each other's files", () =>
      provide(Effect.gen(function*() {
        const one = yield* fresh
        const two = yield* fresh
        assert.notStrictEqual(one.workspace, two.workspace)
        yield* one.write("secret.txt", "one")
        assert.isFalse(yield* two.exists("secret.txt"))
        assert.strictEqual((yield* two.exec({ command: "ls -A" })).stdout, "")
        const peek = yield* Effect.either(two.readText(Path.join(one.workspace, "secret.txt")))
        assert.strictEqual(errorOf(peek).reason, "PathEscape")
      })))

    it.live("many parallel sandboxes all clean up; a released temporary workspace is gone", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const workspaces = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) =>
            Effect.gen(function*() {
              const handle = yield* fresh
              yield* handle.write(`f${i}.txt`, String(i))
              const result = yield* handle.exec({ command: `cat f${i}.txt` })
              assert.strictEqual(result.stdout, String(i))
              return handle.workspace
            }),
          { concurrency: "unbounded" }
        ).pipe(Scope.extend(scope))
        assert.strictEqual(new Set(workspaces).size, 8)
        for (const workspace of workspaces) assert.isTrue(Fs.existsSync(workspace))
        yield* Scope.close(scope, Exit.void)
        for (const workspace of workspaces) assert.isFalse(Fs.existsSync(workspace), `${workspace} remains`)
      }).pipe(Effect.provide(SandboxLive), Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

    it.live("a given workspace is kept on release and reopened by a new service (a restart)", () =>
      Effect.gen(function*() {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-given-"))
        const placement = Placement.make({ backend: name, id: "sbx_keep", workspace: dir })
        yield* provide(Effect.flatMap(Sandbox.handle(placement), (handle) => handle.write("kept.txt", "still")))
        assert.isTrue(Fs.existsSync(Path.join(dir, "kept.txt")))
        const reopened = yield* provide(
          Effect.flatMap(Sandbox.handle(placement), (handle) => handle.readText("kept.txt"))
        )
        assert.strictEqual(reopened, "still")
        Fs.rmSync(dir, { recursive: true, force: true })
      }))
  })
}
