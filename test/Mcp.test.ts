import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, type Duration, Effect, Either, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { IdGenerator, Mcp, Session, Tool } from "rath"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

const stdioServer = Mcp.stdio({
  name: "fixture",
  command: process.execPath,
  args: [fixture("mcp-stdio.mjs")],
  stderr: "ignore"
})

/** Starts the HTTP fixture for the scope and returns its URL. */
const httpServer = Effect.acquireRelease(
  Effect.async<{ readonly child: ChildProcess.ChildProcess; readonly url: string }, Error>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [fixture("mcp-http.mjs")], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening (\d+)/.exec(out)
      if (match) resume(Effect.succeed({ child, url: `http://127.0.0.1:${match[1]}/mcp` }))
    })
    child.on("error", (error) => resume(Effect.fail(error)))
  }),
  ({ child }) => Effect.sync(() => void child.kill("SIGKILL"))
)

let calls = 0
const runner = (toolkit: Tool.Toolkit) =>
  Effect.map(
    Session.fromUserMessage("hi"),
    (session) => (name: string, args: unknown, timeout?: Duration.DurationInput) =>
      Tool.run(toolkit, { id: `call_${++calls}`, name, arguments: JSON.stringify(args) }, { session, timeout })
  )

const isAlive = (pid: number) => Either.isRight(Either.try(() => process.kill(pid, 0)))

const ids = Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())

describe("Mcp over stdio", () => {
  it.live("passes the server's schemas through and maps results", () =>
    Effect.gen(function*() {
      const toolkit = yield* Mcp.toolkit(stdioServer)
      const byName = new Map(toolkit.definitions.map((definition) => [definition.name, definition.parameters]))
      assert.deepStrictEqual(byName.get("echo"), {
        type: "object",
        properties: { text: { type: "string", minLength: 1 } },
        required: ["text"]
      })
      assert.deepStrictEqual(byName.get("bare"), { type: "object", properties: {} })
      const run = yield* runner(toolkit)

      assert.strictEqual((yield* run("echo", { text: "hi" })).output, "echo: hi")
      assert.deepStrictEqual((yield* run("add", { a: 2, b: 3 })).output, { sum: 5 })
      assert.strictEqual((yield* run("multi", {})).output, "first\nsecond")
      assert.strictEqual((yield* run("bare", {})).output, "bare got {}")
      const failed = yield* run("fail", {})
      assert.strictEqual(failed.error?.kind, "tool_failed")
      assert.include(failed.error?.message, "it broke")
      const invalid = yield* run("echo", { text: "" })
      assert.strictEqual(invalid.error?.kind, "tool_failed")
      assert.include(invalid.error?.message, "non-empty")
      const notAnObject = yield* run("echo", [1])
      assert.strictEqual(notAnObject.error?.kind, "invalid_arguments")
    }).pipe(Effect.scoped, ids))

  it.live("one process per scope, closed with the scope; a timed-out call leaves the server usable", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const toolkit = yield* Scope.extend(Mcp.toolkit(stdioServer), scope)
      const run = yield* runner(toolkit)
      const pid = Number((yield* run("pid", {})).output)
      assert.strictEqual(Number((yield* run("pid", {})).output), pid)
      assert.isTrue(isAlive(pid))
      const slow = yield* run("slow", { ms: 700 }, "100 millis")
      assert.strictEqual(slow.error?.kind, "timeout")
      assert.strictEqual((yield* run("echo", { text: "after" })).output, "echo: after")
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(isAlive(pid), "the server process outlived its scope")
    }).pipe(ids))

  it.live("a server dying mid-call is a typed failure; the next call reconnects, a bounded number of times", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const toolkit = yield* Scope.extend(Mcp.toolkit({ ...stdioServer, reconnects: 1 }), scope)
      const run = yield* runner(toolkit)
      const pid = Number((yield* run("pid", {})).output)
      const died = yield* run("die", {})
      assert.strictEqual(died.error?.kind, "tool_failed")
      assert.include(died.error?.message, "Disconnected")
      // a new server process answers
      const after = yield* run("pid", {})
      assert.isUndefined(after.error, after.error?.message)
      assert.notStrictEqual(Number(after.output), pid)
      assert.isTrue(isAlive(Number(after.output)))
      // it dies too: the one reconnect is spent, so the server stays down for the scope
      yield* run("die", {})
      const gaveUp = yield* run("echo", { text: "anyone?" })
      assert.strictEqual(gaveUp.error?.kind, "tool_failed")
      assert.include(gaveUp.error?.message, "Disconnected")
      assert.include(gaveUp.error?.message, "reconnected 1 times")
      yield* Scope.close(scope, Exit.void)
    }).pipe(ids))

  it.live("a reconnected server's process ends with the scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const toolkit = yield* Scope.extend(Mcp.toolkit(stdioServer), scope)
      const run = yield* runner(toolkit)
      yield* run("die", {})
      const pid = Number((yield* run("pid", {})).output)
      assert.isTrue(isAlive(pid))
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(isAlive(pid), "the reconnected server outlived its scope")
    }).pipe(ids))

  it.live(
    "a result above the SDK's 10 MiB buffer is ResultTooLarge, and the server is usable again",
    () =>
      Effect.gen(function*() {
        const toolkit = yield* Mcp.toolkit(stdioServer)
        const run = yield* runner(toolkit)
        const pid = Number((yield* run("pid", {})).output)
        const big = yield* run("big", { bytes: Mcp.DEFAULT_MAX_MESSAGE_BYTES + 1024 })
        assert.strictEqual(big.error?.kind, "tool_failed")
        assert.include(big.error?.message, "ResultTooLarge")
        assert.isFalse(isAlive(pid), "the overflowed connection's server was ended")
        // not "Not connected" for the rest of the scope: the next call reconnects
        assert.strictEqual((yield* run("echo", { text: "still here" })).output, "echo: still here")
        // a large result that fits arrives whole (Tool.run then shortens what the model sees)
        const fits = yield* run("big", { bytes: 1024 * 1024 })
        assert.isUndefined(fits.error, fits.error?.message)
        assert.deepInclude(fits.output, { truncated: true, originalChars: 1024 * 1024 + 2 })
      }).pipe(Effect.scoped, ids),
    60_000
  )

  it.live("maxMessageBytes moves the limit", () =>
    Effect.gen(function*() {
      const toolkit = yield* Mcp.toolkit({ ...stdioServer, maxMessageBytes: 64 * 1024 })
      const run = yield* runner(toolkit)
      const big = yield* run("big", { bytes: 100 * 1024 })
      assert.include(big.error?.message, "ResultTooLarge")
      assert.include(big.error?.message, String(64 * 1024))
      assert.strictEqual(String((yield* run("big", { bytes: 1000 })).output).length, 1000)
    }).pipe(Effect.scoped, ids))

  it.live("a server that cannot start is ConnectFailed", () =>
    Effect.gen(function*() {
      const result = yield* Effect.either(
        Mcp.toolkit(Mcp.stdio({ name: "ghost", command: "/nonexistent/mcp-server", stderr: "ignore" }))
      )
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.strictEqual(result.left.reason, "ConnectFailed")
    }).pipe(Effect.scoped))
})

describe("Mcp over Streamable HTTP", () => {
  it.live("connects to a server on 127.0.0.1 and calls its tools over one session", () =>
    Effect.gen(function*() {
      const { url } = yield* httpServer
      const toolkit = yield* Mcp.toolkit(Mcp.http({ name: "remote", url, prefix: "remote_" }))
      assert.includeMembers(toolkit.definitions.map((definition) => definition.name), ["remote_echo", "remote_add"])
      const run = yield* runner(toolkit)
      assert.strictEqual((yield* run("remote_echo", { text: "over http" })).output, "echo: over http")
      assert.deepStrictEqual((yield* run("remote_add", { a: 1, b: 1 })).output, { sum: 2 })
      assert.include((yield* run("remote_fail", {})).error?.message, "it broke")
      const pid = (yield* run("remote_pid", {})).output
      assert.strictEqual((yield* run("remote_pid", {})).output, pid)
    }).pipe(Effect.scoped, ids))
})

describe("Mcp configuration", () => {
  it.live("servers named in <RATH_HOME>/config.json, combined in a scoped layer", () =>
    Effect.gen(function*() {
      const home = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-home-"))
      Fs.writeFileSync(
        Path.join(home, "config.json"),
        JSON.stringify({
          providers: { local: { kind: "openai", model: "m", apiKey: "not-used-here" } },
          mcpServers: {
            fixture: { command: process.execPath, args: [fixture("mcp-stdio.mjs")], prefix: "fx_" }
          }
        })
      )
      const withHome = Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["RATH_HOME", home]])))
      const servers = yield* withHome(Mcp.loadConfig)
      assert.deepStrictEqual(Object.keys(servers), ["fixture"])
      const names = yield* Effect.map(Mcp.McpTools, (toolkit) => Array.from(toolkit.tools.keys())).pipe(
        Effect.provide(Mcp.layer(["fixture", Mcp.stdio({ ...stdioServer, name: "inline" })])),
        withHome
      )
      assert.includeMembers(names, ["fx_echo", "echo"])
      const duplicate = yield* Effect.either(
        Effect.provide(Mcp.McpTools, Mcp.layer([stdioServer, stdioServer]))
      )
      assert.isTrue(Either.isLeft(duplicate) && duplicate.left.reason === "DuplicateTool")
      const missing = yield* Effect.either(withHome(Mcp.fromConfig("nope")))
      assert.isTrue(Either.isLeft(missing) && missing.left.reason === "ServerNotFound")
      Fs.rmSync(home, { recursive: true, force: true })
    }))
})
