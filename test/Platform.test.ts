/**
 * What rath does through `@effect/platform` instead of by hand: probing for a program with
 * `Command`, and the temporary workspace of a sandbox through `FileSystem`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { BwrapSandbox, IdGenerator, LocalSandbox, Placement, Sandbox } from "rath"

describe("BwrapSandbox.isInstalled (a Command probe)", () => {
  it.live("true when the program answers --version with exit 0, false when it fails or is missing", () =>
    Effect.gen(function*() {
      // GNU true exits 0 on --version; GNU false exits 1 even on --version
      assert.isTrue(yield* BwrapSandbox.isInstalled("true"))
      assert.isFalse(yield* BwrapSandbox.isInstalled("false"))
      assert.isFalse(yield* BwrapSandbox.isInstalled("rath-no-such-program"))
      assert.isFalse(yield* BwrapSandbox.isInstalled(Path.join(import.meta.dirname, "no-such-dir", "bwrap")))
    }))
})

describe("a sandbox's temporary workspace", () => {
  const SandboxLive = Sandbox.layer({ backends: [LocalSandbox.backend()], idleTimeToLive: 0 })

  it.live("is a fresh rath-sbx- directory, removed on release even when a command deleted it first", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const workspace = yield* Effect.gen(function*() {
        const handle = yield* Sandbox.handle(Placement.make({ backend: "local" }))
        assert.match(Path.basename(handle.workspace), /^rath-sbx-/)
        assert.strictEqual(Fs.realpathSync(handle.workspace), handle.workspace)
        const result = yield* handle.exec({ command: "rm -rf \"$PWD\" && echo gone" })
        assert.strictEqual(result.stdout, "gone\n")
        return handle.workspace
      }).pipe(Scope.extend(scope))
      assert.isFalse(Fs.existsSync(workspace))
      const closed = yield* Effect.exit(Scope.close(scope, Exit.void))
      assert.isTrue(Exit.isSuccess(closed), "the release failed")
    }).pipe(Effect.provide(SandboxLive), Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))
})
