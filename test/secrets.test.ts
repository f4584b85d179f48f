/**
 * Secrets never leave in text: a broken config.json's error names the field, never a value of the
 * file; a gateway that echoes the key in its 401 body gets it neither into the `rath.run.end`
 * entry nor into the error printed. And the one reader of `<RATH_HOME>/config.json`: providers and
 * MCP servers come from one file, read against one Schema.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Agent, Anthropic, IdGenerator, Mcp, OpenAi, ProviderConfig, Scripted, Session } from "rath"
import * as Redact from "../src/internal/redact.js"
import * as Server from "./providers/server.js"

const KEY = "sk-live-5ecret-Key-0123456789"
const HEADER = "Bearer tok-header-secret-42"

const tempHome = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-secrets-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const writeConfig = (dir: string, content: unknown) =>
  Fs.writeFileSync(
    Path.join(dir, "config.json"),
    typeof content === "string" ? content : JSON.stringify(content, null, 2)
  )

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const env = Layer.merge(NodeFileSystem.layer, ProviderConfig.layerRegistry())

const ids = Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())

/** Every text a failure can show: its message, its detail, its cause, and what --verbose prints. */
const everything = (error: unknown): string => {
  const parts: Array<string> = [String(error)]
  if (error instanceof Error) parts.push(error.message, error.stack ?? "")
  if (typeof error === "object" && error !== null && "cause" in error) parts.push(everything(error.cause))
  try {
    parts.push(JSON.stringify(error))
  } catch (_) {
    // a circular cause: the parts above are enough
  }
  return parts.join("\n")
}

describe("a broken config.json never shows its secrets", () => {
  const broken: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    ["a misspelt field", { providers: { gw: { kind: "openai", apiKey: KEY, modle: "m" } } }, /providers\.gw\.modle/],
    [
      "a wrong type",
      { providers: { gw: { kind: "openai", apiKey: KEY, timeoutMillis: "10" } } },
      /providers\.gw\.timeoutMillis: Expected number, got a string/
    ],
    ["providers as an array", { providers: [{ kind: "openai", apiKey: KEY }] }, /providers: Expected/],
    [
      "a secret header and a wrong kind",
      { providers: { gw: { kind: 3, headers: { authorization: HEADER }, apiKey: KEY } } },
      /providers\.gw\.kind: Expected string, got a number/
    ],
    [
      "a misspelt MCP field next to a token",
      { mcpServers: { gh: { commnd: "npx", env: { GITHUB_TOKEN: KEY } } } },
      /mcpServers\.gh\.commnd/
    ]
  ]
  for (const [what, content, names] of broken) {
    it.scoped(`${what}: InvalidFile names the field, not the values`, () =>
      Effect.gen(function*() {
        const dir = yield* tempHome
        writeConfig(dir, content)
        const error = yield* Effect.flip(ProviderConfig.load.pipe(withEnv({ RATH_HOME: dir })))
        assert.strictEqual(error.reason, "InvalidFile")
        assert.match(error.message, names)
        const shown = everything(error)
        assert.notInclude(shown, KEY)
        assert.notInclude(shown, "5ecret")
        assert.notInclude(shown, "tok-header-secret")
        // the MCP side reads the same file and says the same, as safely
        const mcp = yield* Effect.flip(Mcp.loadConfig.pipe(withEnv({ RATH_HOME: dir })))
        assert.strictEqual(mcp.reason, "ConfigInvalid")
        assert.match(mcp.message, names)
        assert.notInclude(everything(mcp), KEY)
      }).pipe(Effect.provide(env)))
  }

  it.scoped("a file that is not JSON: CorruptFile with the line, without V8's excerpt of the text", () =>
    Effect.gen(function*() {
      const dir = yield* tempHome
      writeConfig(dir, `{\n  "providers": { "gw": { "kind": "openai", "apiKey": ${KEY} } }\n}\n`)
      const error = yield* Effect.flip(ProviderConfig.load.pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(error.reason, "CorruptFile")
      assert.strictEqual(error.line, 2)
      // V8 quotes the text around the error ("...\"apiKey\": sk-live-5e\"..."): a key's first characters
      assert.notInclude(everything(error), "sk-live")
    }).pipe(Effect.provide(env)))
})

describe("a vendor that echoes the key", () => {
  const echoing = Server.start((request) => ({
    status: 401,
    json: {
      error: {
        message: `Incorrect API key provided: ${
          String(request.headers["x-api-key"] ?? request.headers.authorization).replace(/^Bearer /, "")
        } (${String(request.headers["x-gateway-auth"])})`,
        type: "invalid_request_error",
        code: "invalid_api_key"
      }
    }
  }))

  const runOnce = Effect.flatMap(Session.fromUserMessage("hi"), Agent.make({ name: "a" }))

  const assertScrubbed = (error: unknown) => {
    assert.isTrue(typeof error === "object" && error !== null && "_tag" in error && error._tag === "AgentError")
    const agentError = error as Agent.AgentError
    assert.strictEqual(agentError.reason, "ProviderFailed")
    assert.include(agentError.message, "Unauthorized")
    assert.include(agentError.message, "<redacted>", "the echo is still there, masked")
    assert.notInclude(everything(agentError), KEY)
    assert.notInclude(everything(agentError), "tok-header-secret")
    const end = Option.getOrThrow(Agent.lastEnd(agentError.session!))
    assert.strictEqual(end.reason, "error")
    assert.include(end.detail, "<redacted>")
    assert.notInclude(JSON.stringify(Session.toJsonl(agentError.session!)), KEY)
    assert.notInclude(end.detail, "tok-header-secret")
  }

  it.scoped("configured in config.json: neither rath.run.end nor the AgentError holds the key", () =>
    Effect.gen(function*() {
      const server = yield* echoing
      const dir = yield* tempHome
      writeConfig(dir, {
        providers: {
          gw: {
            kind: "openai",
            baseUrl: server.url,
            model: "m",
            apiKey: KEY,
            headers: { "x-gateway-auth": HEADER },
            maxRetries: 0
          }
        }
      })
      const error = yield* Effect.flip(
        runOnce.pipe(Effect.provide(ProviderConfig.layerFromEnv()), withEnv({ RATH_HOME: dir }), ids)
      )
      assert.strictEqual(server.received.length, 1)
      assert.strictEqual(server.received[0]!.headers.authorization, `Bearer ${KEY}`, "the key was sent")
      assertScrubbed(error)
    }))

  it.scoped("built in code (OpenAi.layer): the adapter scrubs its own key", () =>
    Effect.gen(function*() {
      const server = yield* echoing
      const error = yield* Effect.flip(
        runOnce.pipe(
          Effect.provide(OpenAi.layer({
            apiKey: Redacted.make(KEY),
            baseUrl: server.url,
            model: "m",
            headers: { "x-gateway-auth": HEADER }
          })),
          ids
        )
      )
      assertScrubbed(error)
    }))

  it.scoped("built in code (Anthropic.layer): the adapter scrubs its own key", () =>
    Effect.gen(function*() {
      const server = yield* echoing
      const error = yield* Effect.flip(
        runOnce.pipe(
          Effect.provide(Anthropic.layer({
            apiKey: Redacted.make(KEY),
            baseUrl: server.url,
            model: "m",
            maxTokens: 16,
            headers: { "x-gateway-auth": HEADER }
          })),
          ids
        )
      )
      assert.include(JSON.stringify(server.received[0]!.headers), KEY, "the key was sent")
      assertScrubbed(error)
    }))

  it.scoped("the configuration's secrets are known to the whole program, whatever provider fails", () =>
    Effect.gen(function*() {
      const dir = yield* tempHome
      writeConfig(dir, { providers: { gw: { kind: "openai", model: "m", apiKey: KEY } } })
      // the configured layer makes its keys known; the provider that fails is another one
      const error = yield* Effect.flip(
        runOnce.pipe(
          Effect.provide(Scripted.layer([Scripted.fail("Unauthorized", `bad key ${KEY}`, { status: 401 })])),
          Effect.provide(ProviderConfig.layerFromEnv()),
          withEnv({ RATH_HOME: dir }),
          ids
        )
      )
      assertScrubbed(error)
    }))
})

describe("one reader of config.json", () => {
  it.scoped("following docs/mcp.md: mcpServers beside providers loads for both readers", () =>
    Effect.gen(function*() {
      const dir = yield* tempHome
      writeConfig(dir, {
        default: "gw",
        providers: { gw: { kind: "openai", model: "m", apiKey: KEY } },
        mcpServers: {
          github: {
            command: "npx",
            args: ["-y", "@modelcontextprotocol/server-github"],
            env: { GITHUB_TOKEN: "t0k3n-x" }
          },
          remote: { url: "http://127.0.0.1:3000/mcp", headers: { authorization: "Bearer x" }, prefix: "remote_" },
          slow: { command: "node", timeoutMillis: 1500 }
        }
      })
      const resolved = yield* ProviderConfig.load.pipe(withEnv({ RATH_HOME: dir }))
      assert.strictEqual(resolved.default, "gw")
      assert.strictEqual(Redacted.value(Option.getOrThrow(resolved.providers.gw!.apiKey)), KEY)
      // layerFromEnv, which every application uses, builds
      const built = yield* Effect.either(
        Layer.build(ProviderConfig.layerFromEnv()).pipe(withEnv({ RATH_HOME: dir }))
      )
      assert.isTrue(Either.isRight(built))
      const servers = yield* Mcp.loadConfig.pipe(withEnv({ RATH_HOME: dir }))
      assert.deepStrictEqual(Object.keys(servers), ["github", "remote", "slow"])
      const github = servers.github!
      assert.strictEqual(github._tag, "Stdio")
      if (github._tag === "Stdio") assert.deepStrictEqual(github.env, { GITHUB_TOKEN: "t0k3n-x" })
      const remote = servers.remote!
      assert.strictEqual(remote._tag === "Http" ? remote.prefix : undefined, "remote_")
      assert.isDefined(servers.slow!.timeout)
    }).pipe(Effect.provide(env)))

  it.scoped("both find the file the same way: RATH_HOME, else $HOME/.rath", () =>
    Effect.gen(function*() {
      const home = yield* tempHome
      Fs.mkdirSync(Path.join(home, ".rath"))
      writeConfig(Path.join(home, ".rath"), {
        providers: { gw: { kind: "openai", model: "m" } },
        mcpServers: { files: { command: "node" } }
      })
      const resolved = yield* ProviderConfig.load.pipe(withEnv({ HOME: home }))
      assert.deepStrictEqual(Object.keys(resolved.providers), ["gw"])
      const servers = yield* Mcp.loadConfig.pipe(withEnv({ HOME: home }))
      assert.deepStrictEqual(Object.keys(servers), ["files"])
      assert.strictEqual(yield* Mcp.rathHome.pipe(withEnv({ HOME: home })), Path.join(home, ".rath"))
    }).pipe(Effect.provide(env)))
})

describe("Redact.text", () => {
  it("masks every occurrence, the JSON-escaped form too, longest secret first; short values are no secrets", () => {
    const secrets = Redact.normalize(["abcd", "abcdef-ghij", "ab", "quo\"te\\1", Redacted.make("  spaced-key  ")])
    assert.deepStrictEqual(secrets, ["abcdef-ghij", "spaced-key", "quo\"te\\1", "abcd"])
    assert.strictEqual(
      Redact.text("x abcdef-ghij y abcd z ab spaced-key", secrets),
      "x <redacted> y <redacted> z ab <redacted>"
    )
    assert.strictEqual(Redact.text(JSON.stringify({ k: "quo\"te\\1" }), secrets), `{"k":"<redacted>"}`)
    assert.strictEqual(Redact.text("nothing here", []), "nothing here")
  })
})
