import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Equal, Exit, Fiber, Option, Scope, TestClock } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { BwrapSandbox, IdGenerator, LocalSandbox, Placement, Sandbox, Session } from "rath"

/** A backend whose handles only log their lifetime: refcounting is the service's job. */
const recording = (log: Array<string>): Sandbox.Backend => ({
  name: "fake",
  open: (placement) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        log.push(`open ${Placement.label(placement)}`)
        return { placement, workspace: "/nowhere" } as unknown as Sandbox.Handle
      }),
      () => Effect.sync(() => void log.push(`close ${Placement.label(placement)}`))
    )
})

const failed = <A>(result: Either.Either<A, Sandbox.SandboxError>): Sandbox.SandboxError => {
  assert.isTrue(Either.isLeft(result), "expected a SandboxError")
  return (result as Either.Left<Sandbox.SandboxError, A>).left
}

describe("Sandbox service", () => {
  it.scoped("shares one handle per placement, released when the last scope closes and the idle time passes", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sandbox = yield* Sandbox.make({ backends: [recording(log)], idleTimeToLive: "1 minute" })
      const placement = Placement.make({ backend: "fake", id: "sbx_1" })
      const a = yield* Scope.make()
      const b = yield* Scope.make()
      const first = yield* Scope.extend(sandbox.handle(placement), a)
      const second = yield* Scope.extend(sandbox.handle(Placement.make({ backend: "fake", id: "sbx_1" })), b)
      assert.strictEqual(first, second)
      assert.deepStrictEqual(log, ["open fake:sbx_1"])
      yield* Scope.close(a, Exit.void)
      yield* TestClock.adjust("2 minutes")
      assert.deepStrictEqual(log, ["open fake:sbx_1"], "still held by the second scope")
      yield* Scope.close(b, Exit.void)
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(log, ["open fake:sbx_1"], "idle, not yet expired")
      // used again before it expires: the same handle, no reopen
      yield* Effect.scoped(sandbox.handle(placement))
      yield* TestClock.adjust("59 seconds")
      assert.deepStrictEqual(log, ["open fake:sbx_1"])
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(log, ["open fake:sbx_1", "close fake:sbx_1"])
      yield* Effect.scoped(sandbox.handle(placement))
      assert.deepStrictEqual(log, ["open fake:sbx_1", "close fake:sbx_1", "open fake:sbx_1"])
    }))

  it.scoped("different placements are different sandboxes", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const sandbox = yield* Sandbox.make({ backends: [recording(log)], idleTimeToLive: 0 })
      yield* sandbox.handle(Placement.make({ backend: "fake", id: "a" }))
      yield* sandbox.handle(Placement.make({ backend: "fake", id: "b" }))
      assert.deepStrictEqual(log, ["open fake:a", "open fake:b"])
    }))

  it.effect("an unknown backend and a session without placement are typed errors", () =>
    Effect.gen(function*() {
      const sandbox = Sandbox.layer({ backends: [recording([])] })
      const unknown = yield* Effect.either(
        Effect.scoped(Sandbox.handle(Placement.make({ backend: "docker" }))).pipe(Effect.provide(sandbox))
      )
      assert.strictEqual(failed(unknown).reason, "UnknownBackend")
      assert.include(failed(unknown).message, "fake")
      const session = yield* Session.fromUserMessage("hi")
      const none = yield* Effect.either(Effect.scoped(Sandbox.handleFor(session)).pipe(Effect.provide(sandbox)))
      assert.strictEqual(failed(none).reason, "NoPlacement")
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  const log: Array<string> = []
  it.effect("place gives a placement an identity and records a Placement entry; handleFor resolves it", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("hi")
      const placed = yield* Sandbox.place(session, Placement.make({ backend: "fake" }))
      const placement = Option.getOrThrow(placed.placement)
      assert.strictEqual(placement.backend, "fake")
      assert.isDefined(placement.id)
      assert.strictEqual(Option.getOrThrow(Session.head(placed))._tag, "Placement")
      assert.deepStrictEqual(log, [], "placing opens nothing")
      const handle = yield* Effect.scoped(Sandbox.handleFor(placed))
      assert.isTrue(Placement.isCompatible(handle.placement, placement))
      assert.deepStrictEqual(log, [`open ${Placement.label(placement)}`])
      const kept = yield* Sandbox.bind(placement)
      assert.strictEqual(kept, placement, "a bound placement keeps its identity")
      // a placement recorded in a persisted session reopens the same sandbox
      const restored = yield* Session.fromJsonl(Session.toJsonl(placed))
      assert.isTrue(Equal.equals(Option.getOrThrow(restored.session.placement), placement))
    }).pipe(
      Effect.provide(Sandbox.layer({ backends: [recording(log)] })),
      Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
    ))
})

describe("local backend", () => {
  it.live("interrupting exec kills the whole process group", () =>
    Effect.gen(function*() {
      const handle = yield* Sandbox.handle(Placement.make({ backend: "local", id: "sbx_int" }))
      const fiber = yield* Effect.fork(handle.exec({ command: "sleep 30 & echo $! > bg.pid; sleep 30" }))
      let pid = ""
      while (pid === "") {
        yield* Effect.sleep("20 millis")
        pid = (yield* Effect.either(handle.readText("bg.pid"))).pipe(Either.getOrElse(() => "")).trim()
      }
      yield* Fiber.interrupt(fiber)
      // gone, or a zombie waiting for init to reap it; SIGKILL is delivered asynchronously, so a
      // loaded machine gets a moment (the process would otherwise live for 30 s)
      const dead = () => {
        const state = Either.try(() => Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0])
        return Either.isLeft(state) || state.right === "Z"
      }
      for (let waited = 0; !dead() && waited < 3000; waited += 20) yield* Effect.sleep("20 millis")
      assert.isTrue(dead(), `background process ${pid} survived the interruption`)
    }).pipe(Effect.scoped, Effect.provide(LocalSandbox.layer({ idleTimeToLive: 0 }))))

  it.live("runCode with a missing interpreter is Unsupported", () => {
    const bin = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-bin-"))
    Fs.symlinkSync("/bin/sh", Path.join(bin, "sh"))
    return Effect.gen(function*() {
      const handle = yield* Sandbox.handle(Placement.make({ backend: "local", id: "sbx_nopy" }))
      const result = yield* Effect.either(handle.runCode({ language: "python", code: "print(1)" }))
      assert.strictEqual(failed(result).reason, "Unsupported")
      assert.include(failed(result).message, "python3")
      // a script of one's own that exits 127 is still a result
      const own = yield* handle.exec({ command: "exit 127" })
      assert.strictEqual(own.exitCode, 127)
    }).pipe(
      Effect.scoped,
      Effect.provide(LocalSandbox.layer({ env: { PATH: bin }, idleTimeToLive: 0 })),
      Effect.ensuring(Effect.sync(() => Fs.rmSync(bin, { recursive: true, force: true })))
    )
  })

  it.live("commands do not inherit the host's secrets, only PATH, HOME, locale and the like", () =>
    Effect.gen(function*() {
      process.env.RATH_TEST_SECRET = "sk-leak"
      const handle = yield* Sandbox.handle(Placement.make({ backend: "local", id: "sbx_env" }))
      const result = yield* handle.exec({ command: "printf '%s|%s' \"$RATH_TEST_SECRET\" \"$PATH\"" })
      assert.strictEqual(result.stdout, `|${process.env.PATH}`)
    }).pipe(
      Effect.scoped,
      Effect.provide(LocalSandbox.layer({ idleTimeToLive: 0 })),
      Effect.ensuring(Effect.sync(() => delete process.env.RATH_TEST_SECRET))
    ))

  it.live("a missing program is SpawnFailed", () =>
    Effect.gen(function*() {
      const handle = yield* Sandbox.handle(Placement.make({ backend: "local", id: "sbx_nf" }))
      const result = yield* Effect.either(handle.exec({ command: ["definitely-not-a-program-rath"] }))
      assert.strictEqual(failed(result).reason, "SpawnFailed")
    }).pipe(Effect.scoped, Effect.provide(LocalSandbox.layer({ idleTimeToLive: 0 }))))
})

const bwrapInstalled = ChildProcess.spawnSync("bwrap", ["--version"]).status === 0

describe("bwrap backend", () => {
  it.live("reports clearly when bubblewrap is missing", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(
        Effect.scoped(Sandbox.handle(Placement.make({ backend: "bwrap", id: "sbx_missing" })))
      )
      const error = failed(result)
      assert.strictEqual(error.reason, "Unavailable")
      assert.include(error.message, "apt-get install -y bubblewrap")
    }).pipe(Effect.provide(BwrapSandbox.layer({ executable: "/nonexistent/bwrap", idleTimeToLive: 0 }))))

  // the CI guard lives in SandboxConformance.test.ts
  describe.skipIf(!bwrapInstalled)("isolation (needs bwrap: apt-get install -y bubblewrap)", () => {
    it.live("read-only system, uid 1000, no capabilities, private /tmp, workspace at /ws", () =>
      Effect.gen(function*() {
        const handle = yield* Sandbox.handle(Placement.make({ backend: "bwrap", id: "sbx_iso" }))
        const result = yield* handle.exec({
          command: "id -u; grep CapEff /proc/self/status; pwd; touch /usr/x 2>/dev/null || echo ro; "
            + "touch /etc/x 2>/dev/null || echo ro; ls /root 2>/dev/null || echo noroot; echo tmp > /tmp/t && cat /tmp/t; "
            + "cat /etc/shadow 2>/dev/null | wc -c"
        })
        assert.strictEqual(result.exitCode, 0, result.stderr)
        assert.deepStrictEqual(result.stdout.trim().split("\n").map((line) => line.trim()), [
          "1000",
          "CapEff:\t0000000000000000",
          "/ws",
          "ro",
          "ro",
          "noroot",
          "tmp",
          "0"
        ])
      }).pipe(Effect.scoped, Effect.provide(BwrapSandbox.layer({ idleTimeToLive: 0 }))))

    it.live("no network unless the placement asks for it", () =>
      Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const server = Net.createServer((socket) => socket.end("pong"))
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      ).pipe(
        Effect.flatMap((server) =>
          Effect.gen(function*() {
            const port = (server.address() as Net.AddressInfo).port
            const code = `require("net").connect(${port}, "127.0.0.1").on("data", (d) => console.log(String(d)))`
              + `.on("error", (e) => { console.log("error " + e.code); })`
            const isolated = yield* Sandbox.handle(Placement.make({ backend: "bwrap", id: "sbx_nonet" }))
            const blocked = yield* isolated.runCode({ language: "node", code, timeout: "5 seconds" })
            assert.match(blocked.stdout, /^error /)
            const open = yield* Sandbox.handle(Placement.make({ backend: "bwrap", id: "sbx_net", network: true }))
            const reached = yield* open.runCode({ language: "node", code, timeout: "5 seconds" })
            assert.strictEqual(reached.stdout, "pong\n")
          })
        ),
        Effect.scoped,
        Effect.provide(BwrapSandbox.layer({ idleTimeToLive: 0 }))
      ))
  })
})
