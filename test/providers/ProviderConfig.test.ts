import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, Option, Redacted, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { IdGenerator, Provider, ProviderConfig, Scripted, Session } from "rath"
import * as Server from "./server.js"
import { KEY, openAiWire } from "./wires.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "rath-config-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const writeConfig = (dir: string, content: unknown) =>
  Fs.writeFileSync(
    Path.join(dir, "config.json"),
    typeof content === "string" ? content : JSON.stringify(content, null, 2)
  )

const env = Layer.merge(NodeFileSystem.layer, ProviderConfig.layerRegistry())

describe("ProviderConfig", () => {
  it.scoped("environment variables win over the file; RATH_HOME moves the directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeConfig(dir, {
        providers: {
          openai: { kind: "openai", baseUrl: "http://file.example/v1", model: "file-model", apiKey: "file-key" },
          anthropic: { kind: "anthropic", model: "claude-file", apiKeyEnv: "MY_ANTHROPIC" }
        }
      })
      const resolved = yield* ProviderConfig.load.pipe(
        withEnv({
          RATH_HOME: dir,
          OPENAI_API_KEY: "env-key",
          OPENAI_BASE_URL: "http://env.example/v1",
          MY_ANTHROPIC: "referenced-key",
          ANTHROPIC_DEFAULT_MODEL: "claude-env"
        })
      )
      assert.strictEqual(resolved.path, Path.join(dir, "config.json"))
      const openai = resolved.providers.openai!
      assert.strictEqual(openai.baseUrl, "http://env.example/v1")
      assert.strictEqual(openai.model, "file-model")
      assert.strictEqual(Redacted.value(Option.getOrThrow(openai.apiKey)), "env-key")
      const anthropic = resolved.providers.anthropic!
      assert.strictEqual(anthropic.model, "claude-env")
      assert.strictEqual(Redacted.value(Option.getOrThrow(anthropic.apiKey)), "referenced-key")
      assert.strictEqual(resolved.default, "openai")
    }).pipe(Effect.provide(env)))

  it.scoped("without a file the environment alone configures a provider; HOME/.rath is the default directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      Fs.mkdirSync(Path.join(dir, ".rath"))
      writeConfig(Path.join(dir, ".rath"), { default: "local", providers: { local: { kind: "openai", model: "m" } } })
      const fromHome = yield* ProviderConfig.load.pipe(withEnv({ HOME: dir }))
      assert.strictEqual(fromHome.default, "local")
      const envOnly = yield* ProviderConfig.load.pipe(
        withEnv({ RATH_HOME: Path.join(dir, "nothing"), ANTHROPIC_API_KEY: "k", ANTHROPIC_DEFAULT_MODEL: "c" })
      )
      assert.deepStrictEqual(Object.keys(envOnly.providers), ["anthropic"])
      assert.strictEqual(envOnly.default, "anthropic")
      const chosen = yield* ProviderConfig.load.pipe(
        withEnv({ HOME: dir, RATH_PROVIDER: "anthropic", ANTHROPIC_API_KEY: "k" })
      )
      assert.strictEqual(chosen.default, "anthropic")
    }).pipe(Effect.provide(env)))

  it.scoped("a corrupt file is a typed error with line and column", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeConfig(dir, "{\n  \"default\": \"a\",\n  \"providers\": {,}\n}\n")
      const error = yield* Effect.flip(ProviderConfig.load.pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(error.reason, "CorruptFile")
      assert.strictEqual(error.line, 3)
      assert.strictEqual(error.column, 17)
      assert.include(error.message, `${Path.join(dir, "config.json")}:3:17`)
      writeConfig(dir, { providers: { x: { model: "no kind" } } })
      const invalid = yield* Effect.flip(ProviderConfig.load.pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(invalid.reason, "InvalidFile")
      assert.include(invalid.detail, "kind")
    }).pipe(Effect.provide(env)))

  it.scoped("a missing key or model names the variable to set", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeConfig(dir, { providers: { openai: { kind: "openai", model: "m" }, gw: { kind: "openai", apiKey: "k" } } })
      const missingKey = yield* Effect.flip(ProviderConfig.make("openai").pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(missingKey.reason, "MissingKey")
      assert.include(missingKey.message, "OPENAI_API_KEY")
      const missingModel = yield* Effect.flip(ProviderConfig.make("gw").pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(missingModel.reason, "MissingModel")
      assert.include(missingModel.message, "providers.gw")
      const none = yield* Effect.flip(ProviderConfig.make().pipe(withEnv({ RATH_HOME: Path.join(dir, "none") })))
      assert.strictEqual(none.reason, "NoProvider")
      assert.include(none.message, "OPENAI_API_KEY")
      const unknown = yield* Effect.flip(ProviderConfig.make("nope").pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(unknown.reason, "UnknownProvider")
    }).pipe(Effect.provide(env)))

  it.scoped("the registry refuses a kind twice and builds third-party kinds", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const twice = yield* Effect.flip(ProviderConfig.register("openai", ProviderConfig.openAiFactory))
      assert.strictEqual(twice.reason, "KindAlreadyRegistered")
      yield* ProviderConfig.register("echo", (settings) =>
        Effect.map(Scripted.make(() => Scripted.reply(`echo from ${settings.name}`)), (s) => s.service))
      const again = yield* Effect.flip(ProviderConfig.register("echo", ProviderConfig.openAiFactory))
      assert.strictEqual(again.reason, "KindAlreadyRegistered")
      writeConfig(dir, { default: "mine", providers: { mine: { kind: "echo" }, odd: { kind: "odd" } } })
      const provider = yield* ProviderConfig.make().pipe(withEnv({ RATH_HOME: dir }))
      assert.strictEqual((yield* provider.chat({ messages: [] })).text, "echo from mine")
      const unknownKind = yield* Effect.flip(ProviderConfig.make("odd").pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(unknownKind.reason, "UnknownKind")
      const duplicate = yield* Effect.flip(ProviderConfig.makeRegistry({ anthropic: ProviderConfig.anthropicFactory }))
      assert.strictEqual(duplicate.reason, "KindAlreadyRegistered")
    }).pipe(Effect.provide(env)))

  it.scopedLive("timeoutMillis and maxResponseBytes from the file reach both adapters", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const body = (r: Server.Received): Server.Reply =>
        r.body?.model === "stall"
          ? { raw: "{\"id\":", headers: { "content-type": "application/json" }, then: "hold" }
          : { json: { big: "x".repeat(5_000) } }
      const server = yield* Server.start(body)
      const limits = { maxRetries: 0, timeoutMillis: 300, maxResponseBytes: 1_000, apiKey: "k" }
      writeConfig(dir, {
        providers: {
          o: { kind: "openai", model: "m", baseUrl: `${server.url}/v1`, ...limits },
          a: { kind: "anthropic", model: "m", baseUrl: server.url, ...limits }
        }
      })
      for (const name of ["o", "a"]) {
        const provider = yield* ProviderConfig.make(name).pipe(Effect.provide(env), withEnv({ RATH_HOME: dir }))
        const tooLarge = yield* Effect.flip(provider.chat({ messages: [] }))
        assert.strictEqual(tooLarge.reason, "InvalidResponse")
        assert.include(tooLarge.detail, "maxResponseBytes (1000 bytes)")
        const stalled = yield* Effect.flip(provider.chat({ messages: [], model: "stall" }))
        assert.strictEqual(stalled.reason, "Timeout")
        assert.include(stalled.detail, "300 ms")
      }
    }))

  it.scopedLive("the key is used on the wire and appears in nothing rath writes or logs", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const server = yield* Server.start((r, i) =>
        i === 1
          ? { status: 401, json: openAiWire.error("bad key", "invalid_api_key") }
          : r.body?.stream === true
          ? {
            sse: openAiWire.stream({
              id: "c1",
              model: "m",
              text: ["ok"],
              usage: { input: 1, output: 1 },
              finish: "stop"
            })
          }
          : {
            json: openAiWire.json({
              id: "c1",
              model: "m",
              text: ["ok"],
              usage: { input: 1, output: 1 },
              finish: "stop"
            })
          }
      )
      writeConfig(dir, { providers: { openai: { kind: "openai", model: "m", maxRetries: 0 } } })
      const logs: Array<string> = []
      const logger = Logger.make(({ message, cause }) => {
        logs.push(JSON.stringify(message), String(cause))
      })
      const program = Effect.gen(function*() {
        const resolved = yield* ProviderConfig.load
        yield* Effect.log("resolved", resolved, resolved.providers.openai)
        const provider = yield* Provider.Provider
        const response = yield* provider.chat({ messages: [] })
        const error = yield* Effect.flip(provider.chat({ messages: [] }))
        yield* Effect.logError("failed", error, error.message)
        yield* Stream.runDrain(provider.stream({ messages: [] }))
        const session = yield* Session.append(yield* Session.empty(), Provider.toDraft(response))
        Fs.writeFileSync(Path.join(dir, "session.jsonl"), Session.toJsonl(session))
        Fs.writeFileSync(Path.join(dir, "error.json"), JSON.stringify(error))
      }).pipe(
        Effect.provide(Layer.provideMerge(ProviderConfig.layer(), env)),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential()),
        withEnv({ RATH_HOME: dir, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${server.url}/v1` })
      )
      yield* program
      assert.strictEqual(server.received[0]?.headers.authorization, `Bearer ${KEY}`)
      assert.isAbove(logs.length, 0)
      assert.include(logs.join("\n"), "<redacted>")
      assert.notInclude(logs.join("\n"), KEY)
      for (const file of Fs.readdirSync(dir)) {
        assert.notInclude(Fs.readFileSync(Path.join(dir, file), "utf8"), KEY, file)
      }
    }))

  it.scopedLive("an embedder from the configuration uses the openai provider's key and base URL", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const server = yield* Server.start((r) => ({
        json: { data: r.body.input.map((_: string, index: number) => ({ index, embedding: [1, 2] })) }
      }))
      writeConfig(dir, { providers: { openai: { kind: "openai", options: { embeddingModel: "emb-file" } } } })
      const embedder = yield* ProviderConfig.makeEmbedder().pipe(
        withEnv({ RATH_HOME: dir, OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${server.url}/v1` })
      )
      assert.strictEqual(embedder.model, "emb-file")
      assert.strictEqual(embedder.dimensions, 2)
      assert.deepStrictEqual(yield* embedder.embed(["a"]), [[1, 2]])
      assert.strictEqual(server.received[0]?.body.model, "emb-file")
      const missing = yield* Effect.flip(ProviderConfig.makeEmbedder().pipe(withEnv({ RATH_HOME: dir })))
      assert.strictEqual(missing._tag === "ProviderConfigError" ? missing.reason : "", "MissingKey")
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})
