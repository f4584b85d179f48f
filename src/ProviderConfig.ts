/**
 * Provider configuration: named providers from `~/.rath/config.json` (`RATH_HOME` moves the
 * directory), overridden by the environment (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
 * `OPENAI_DEFAULT_MODEL`, `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_DEFAULT_MODEL`),
 * read through Effect `Config` so any `ConfigProvider` can stand in for the environment. API keys
 * are `Redacted` from the moment they are read: they print as `<redacted>` and rath never writes
 * them anywhere.
 *
 * A {@link Registry} maps provider kinds (`"openai"`, `"anthropic"`, or a third party's) to
 * factories; registering a kind twice is an error.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Embedder from "./Embedder.js"
import * as File from "./internal/configFile.js"
import * as Redact from "./internal/redact.js"
import * as Provider from "./Provider.js"
import * as Anthropic from "./providers/Anthropic.js"
import * as OpenAi from "./providers/OpenAi.js"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category errors
 */
export class ProviderConfigError
  extends Schema.TaggedError<ProviderConfigError>("rath/ProviderConfigError")("ProviderConfigError", {
    reason: Schema.Literal(
      "CorruptFile",
      "InvalidFile",
      "ReadFailed",
      "InvalidEnv",
      "MissingKey",
      "MissingModel",
      "UnknownProvider",
      "UnknownKind",
      "KindAlreadyRegistered",
      "NoProvider"
    ),
    detail: Schema.String,
    path: Schema.optional(Schema.String),
    line: Schema.optional(Schema.Number),
    column: Schema.optional(Schema.Number),
    cause: Schema.optional(Schema.Defect)
  })
{
  /**
   * @since 0.1.0
   */
  override get message(): string {
    const where = this.path === undefined
      ? ""
      : this.line === undefined
      ? ` (${this.path})`
      : ` (${this.path}:${this.line}:${this.column ?? 1})`
    return `${this.reason}${where}: ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// the file
// -----------------------------------------------------------------------------

/**
 * One named provider in the config file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProviderEntry: typeof File.ProviderEntry = File.ProviderEntry

/**
 * @since 0.1.0
 * @category models
 */
export interface ProviderEntry extends Schema.Schema.Type<typeof ProviderEntry> {}

/**
 * The config file: named providers, the default one, and MCP servers (`mcpServers`, read by
 * `Mcp.loadConfig`). One Schema for the whole file, read by one reader: a field that is misspelt
 * anywhere is an `InvalidFile` error.
 *
 * @since 0.1.0
 * @category schemas
 * @example
 * ```json
 * {
 *   "default": "local",
 *   "providers": {
 *     "local": { "kind": "openai", "baseUrl": "http://127.0.0.1:11434/v1", "model": "llama3.2", "apiKey": "ollama" },
 *     "anthropic": { "kind": "anthropic", "model": "claude-sonnet-4-5", "apiKeyEnv": "MY_ANTHROPIC_KEY" }
 *   }
 * }
 * ```
 */
export const ConfigFile: typeof File.ConfigFile = File.ConfigFile

/**
 * @since 0.1.0
 * @category models
 */
export interface ConfigFile extends Schema.Schema.Type<typeof ConfigFile> {}

/**
 * A provider with everything resolved: the key is `Redacted`, and `keyHint` says where to set it
 * when it is missing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly name: string
  readonly kind: string
  readonly baseUrl?: string | undefined
  readonly model?: string | undefined
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly keyHint: string
  readonly modelHint: string
  readonly organization?: string | undefined
  readonly project?: string | undefined
  readonly headers?: Record<string, string> | undefined
  readonly timeoutMillis?: number | undefined
  readonly maxResponseBytes?: number | undefined
  readonly maxRetryAfterMillis?: number | undefined
  readonly maxTokens?: number | undefined
  readonly maxRetries?: number | undefined
  readonly options: Record<string, unknown>
}

/**
 * What was resolved from the file and the environment.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  /** The config file path (whether or not it exists). */
  readonly path: string | undefined
  readonly providers: Readonly<Record<string, Settings>>
  /** The default provider's name, if one can be chosen. */
  readonly default: string | undefined
}

/** The environment variables of the built-in providers, by provider name. */
const builtinEnv = {
  openai: { key: "OPENAI_API_KEY", baseUrl: "OPENAI_BASE_URL", model: "OPENAI_DEFAULT_MODEL" },
  anthropic: { key: "ANTHROPIC_API_KEY", baseUrl: "ANTHROPIC_BASE_URL", model: "ANTHROPIC_DEFAULT_MODEL" }
} as const

/**
 * Parses config file text: a `CorruptFile` error with the line and column when it is not JSON, an
 * `InvalidFile` error naming the field when it does not match {@link ConfigFile}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseFile = (text: string, path: string): Effect.Effect<ConfigFile, ProviderConfigError> =>
  Either.mapLeft(File.parse(text, path), fromFileError)

const fromFileError = (error: File.ConfigFileError): ProviderConfigError =>
  new ProviderConfigError({
    reason: error.reason,
    detail: error.detail,
    path: error.path,
    ...(error.line === undefined ? {} : { line: error.line }),
    ...(error.column === undefined ? {} : { column: error.column }),
    ...(error.cause === undefined ? {} : { cause: error.cause })
  })

const envError = (cause: unknown) =>
  new ProviderConfigError({ reason: "InvalidEnv", detail: `cannot read the environment: ${String(cause)}`, cause })

const optionalString = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((value) => value.trim() !== "")),
    Effect.mapError(envError)
  )

const optionalRedacted = (name: string) =>
  Config.option(Config.redacted(name)).pipe(
    Effect.map(Option.filter((value) => Redacted.value(value).trim() !== "")),
    Effect.mapError(envError)
  )

/**
 * The config directory: `RATH_HOME`, else `$HOME/.rath`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const directory: Effect.Effect<Option.Option<string>, ProviderConfigError> = Effect.mapError(
  File.directory,
  envError
)

/**
 * Reads the config file (when there is one) and the environment, and resolves every named
 * provider. Environment variables win over the file for the provider named `openai` or
 * `anthropic` (created when only the environment names it). The default provider is
 * `RATH_PROVIDER`, else the file's `default`, else `openai` when it has a key, else `anthropic`
 * when it has a key, else the only provider.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load: Effect.Effect<Resolved, ProviderConfigError, FileSystem.FileSystem> = Effect.gen(function*() {
  const { file, path } = yield* File.read.pipe(
    Effect.mapError((error) => error._tag === "ConfigFileError" ? fromFileError(error) : envError(error))
  )
  const where = path ?? "~/.rath/config.json"
  const entries: Record<string, ProviderEntry> = { ...file.providers }
  const providers: Record<string, Settings> = {}
  const envKeys: Record<string, Option.Option<Redacted.Redacted<string>>> = {}
  for (const [name, env] of Object.entries(builtinEnv)) {
    const key = yield* optionalRedacted(env.key)
    const baseUrl = yield* optionalString(env.baseUrl)
    const model = yield* optionalString(env.model)
    envKeys[name] = key
    if (entries[name] === undefined && Option.isNone(key) && Option.isNone(baseUrl) && Option.isNone(model)) continue
    const base: ProviderEntry = entries[name] ?? { kind: name }
    entries[name] = {
      ...base,
      ...(Option.isSome(baseUrl) ? { baseUrl: baseUrl.value } : {}),
      ...(Option.isSome(model) ? { model: model.value } : {})
    }
  }
  for (const [name, entry] of Object.entries(entries)) {
    const env = name in builtinEnv ? builtinEnv[name as keyof typeof builtinEnv] : undefined
    let apiKey = envKeys[name] ?? Option.none()
    if (Option.isNone(apiKey) && entry.apiKeyEnv !== undefined) apiKey = yield* optionalRedacted(entry.apiKeyEnv)
    if (Option.isNone(apiKey) && entry.apiKey !== undefined && entry.apiKey !== "") {
      apiKey = Option.some(Redacted.make(entry.apiKey))
    }
    const keyHint = [
      ...(env === undefined ? [] : [env.key]),
      ...(entry.apiKeyEnv === undefined ? [] : [entry.apiKeyEnv]),
      `"apiKeyEnv" or "apiKey" of providers.${name} in ${where}`
    ].join(", or ")
    const modelHint = [...(env === undefined ? [] : [env.model]), `"model" of providers.${name} in ${where}`].join(
      ", or "
    )
    providers[name] = {
      name,
      kind: entry.kind,
      apiKey,
      keyHint,
      modelHint,
      options: entry.options ?? {},
      ...(entry.baseUrl === undefined ? {} : { baseUrl: entry.baseUrl }),
      ...(entry.model === undefined ? {} : { model: entry.model }),
      ...(entry.organization === undefined ? {} : { organization: entry.organization }),
      ...(entry.project === undefined ? {} : { project: entry.project }),
      ...(entry.headers === undefined ? {} : { headers: entry.headers }),
      ...(entry.timeoutMillis === undefined ? {} : { timeoutMillis: entry.timeoutMillis }),
      ...(entry.maxResponseBytes === undefined ? {} : { maxResponseBytes: entry.maxResponseBytes }),
      ...(entry.maxRetryAfterMillis === undefined ? {} : { maxRetryAfterMillis: entry.maxRetryAfterMillis }),
      ...(entry.maxTokens === undefined ? {} : { maxTokens: entry.maxTokens }),
      ...(entry.maxRetries === undefined ? {} : { maxRetries: entry.maxRetries })
    }
  }
  const chosen = yield* optionalString("RATH_PROVIDER")
  const names = Object.keys(providers)
  const hasKey = (name: string) => providers[name] !== undefined && Option.isSome(providers[name].apiKey)
  const defaultName = Option.isSome(chosen)
    ? chosen.value
    : file.default ?? (hasKey("openai")
      ? "openai"
      : hasKey("anthropic")
      ? "anthropic"
      : names.length === 1
      ? names[0]
      : undefined)
  return { path, providers, default: defaultName }
})

// -----------------------------------------------------------------------------
// registry
// -----------------------------------------------------------------------------

/**
 * Builds a provider of one kind from resolved settings.
 *
 * @since 0.1.0
 * @category models
 */
export type Factory = (settings: Settings) => Effect.Effect<Provider.Service, ProviderConfigError>

/**
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  /** Adds a kind; fails with `KindAlreadyRegistered` if the kind exists (no silent override). */
  readonly register: (kind: string, factory: Factory) => Effect.Effect<void, ProviderConfigError>
  readonly lookup: (kind: string) => Effect.Effect<Factory, ProviderConfigError>
  readonly kinds: Effect.Effect<ReadonlyArray<string>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class ProviderRegistry extends Context.Tag("rath/ProviderRegistry")<ProviderRegistry, Registry>() {}

/**
 * The settings' key, or a `MissingKey` error that names the variable to set.
 *
 * @since 0.1.0
 * @category getters
 */
export const requireKey = (settings: Settings): Effect.Effect<Redacted.Redacted<string>, ProviderConfigError> =>
  Option.match(settings.apiKey, {
    onSome: Effect.succeed,
    onNone: () =>
      Effect.fail(
        new ProviderConfigError({
          reason: "MissingKey",
          detail: `no API key for provider "${settings.name}": set ${settings.keyHint}`
        })
      )
  })

/**
 * The settings' model, or a `MissingModel` error that names the variable to set.
 *
 * @since 0.1.0
 * @category getters
 */
export const requireModel = (settings: Settings): Effect.Effect<string, ProviderConfigError> =>
  settings.model === undefined
    ? Effect.fail(
      new ProviderConfigError({
        reason: "MissingModel",
        detail: `no model for provider "${settings.name}": set ${settings.modelHint}`
      })
    )
    : Effect.succeed(settings.model)

/**
 * The factory of the `openai` kind (any OpenAI-compatible gateway).
 *
 * @since 0.1.0
 * @category constructors
 */
export const openAiFactory: Factory = (settings) =>
  Effect.gen(function*() {
    const apiKey = yield* requireKey(settings)
    const model = yield* requireModel(settings)
    const tokensField = settings.options.maxTokensField
    return OpenAi.make({
      apiKey,
      model,
      baseUrl: settings.baseUrl,
      organization: settings.organization,
      project: settings.project,
      headers: settings.headers,
      timeoutMillis: settings.timeoutMillis,
      maxResponseBytes: settings.maxResponseBytes,
      ...(tokensField === "max_tokens" || tokensField === "max_completion_tokens"
        ? { maxTokensField: tokensField }
        : {})
    })
  })

/**
 * The factory of the `anthropic` kind.
 *
 * @since 0.1.0
 * @category constructors
 */
export const anthropicFactory: Factory = (settings) =>
  Effect.gen(function*() {
    const apiKey = yield* requireKey(settings)
    const model = yield* requireModel(settings)
    return Anthropic.make({
      apiKey,
      model,
      maxTokens: settings.maxTokens ?? Anthropic.DEFAULT_MAX_TOKENS,
      baseUrl: settings.baseUrl,
      headers: settings.headers,
      timeoutMillis: settings.timeoutMillis,
      maxResponseBytes: settings.maxResponseBytes
    })
  })

/**
 * A registry with the built-in kinds (`openai`, `anthropic`) and the given extra ones; an extra
 * kind that is already registered is a `KindAlreadyRegistered` error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRegistry = (extra?: Readonly<Record<string, Factory>>): Effect.Effect<Registry, ProviderConfigError> =>
  Effect.gen(function*() {
    const factories = yield* Ref.make(
      new Map<string, Factory>([["openai", openAiFactory], ["anthropic", anthropicFactory]])
    )
    const registry: Registry = {
      register: (kind, factory) =>
        Ref.modify(
          factories,
          (map): readonly [Either.Either<void, ProviderConfigError>, Map<string, Factory>] =>
            map.has(kind)
              ? [
                Either.left(
                  new ProviderConfigError({
                    reason: "KindAlreadyRegistered",
                    detail: `the provider kind "${kind}" is already registered`
                  })
                ),
                map
              ]
              : [Either.right(undefined), new Map(map).set(kind, factory)]
        ).pipe(Effect.flatten),
      lookup: (kind) =>
        Effect.flatMap(Ref.get(factories), (map) => {
          const factory = map.get(kind)
          return factory === undefined
            ? Effect.fail(
              new ProviderConfigError({
                reason: "UnknownKind",
                detail: `no provider kind "${kind}" is registered (known: ${[...map.keys()].join(", ")})`
              })
            )
            : Effect.succeed(factory)
        }),
      kinds: Effect.map(Ref.get(factories), (map) => [...map.keys()])
    }
    for (const [kind, factory] of Object.entries(extra ?? {})) yield* registry.register(kind, factory)
    return registry
  })

/**
 * A registry layer with the built-in kinds plus `extra`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRegistry = (
  extra?: Readonly<Record<string, Factory>>
): Layer.Layer<ProviderRegistry, ProviderConfigError> => Layer.effect(ProviderRegistry, makeRegistry(extra))

/**
 * Registers a kind in the current registry.
 *
 * @since 0.1.0
 * @category combinators
 */
export const register = (kind: string, factory: Factory): Effect.Effect<void, ProviderConfigError, ProviderRegistry> =>
  Effect.flatMap(ProviderRegistry, (registry) => registry.register(kind, factory))

// -----------------------------------------------------------------------------
// providers from configuration
// -----------------------------------------------------------------------------

/**
 * The retry policy for a provider's settings: exponential from 500 ms, `maxRetries` (default 3)
 * retries; `Retry-After` is honoured by `Provider.withRetry`, up to `maxRetryAfterMillis`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const retrySchedule = (settings: Settings): Schedule.Schedule<unknown, Provider.ProviderError> =>
  Schedule.exponential("500 millis", 2).pipe(Schedule.intersect(Schedule.recurs(Math.max(0, settings.maxRetries ?? 3))))

/**
 * Builds the named provider (default: the configured default) from resolved configuration, wrapped
 * in `Provider.withRetry`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromResolved = (
  resolved: Resolved,
  name?: string
): Effect.Effect<Provider.Service, ProviderConfigError, ProviderRegistry> =>
  Effect.gen(function*() {
    const chosen = name ?? resolved.default
    if (chosen === undefined) {
      const names = Object.keys(resolved.providers)
      const file = resolved.path ?? "~/.rath/config.json"
      return yield* new ProviderConfigError({
        reason: "NoProvider",
        detail: names.length > 1
          ? `several providers are configured (${
            names.join(", ")
          }): choose one with RATH_PROVIDER or "default" in ${file}`
          : `no provider is configured: set OPENAI_API_KEY and OPENAI_DEFAULT_MODEL (or ANTHROPIC_API_KEY and ANTHROPIC_DEFAULT_MODEL), or add providers to ${file}`
      })
    }
    const settings = resolved.providers[chosen]
    if (settings === undefined) {
      return yield* new ProviderConfigError({
        reason: "UnknownProvider",
        detail: `no provider named "${chosen}" (configured: ${Object.keys(resolved.providers).join(", ") || "none"})`,
        ...(resolved.path === undefined ? {} : { path: resolved.path })
      })
    }
    const factory = yield* Effect.flatMap(ProviderRegistry, (registry) => registry.lookup(settings.kind))
    // a vendor that echoes the key (or a header) in an error body never gets it printed or stored
    const service = Redact.provider(yield* factory(settings), secretsOf(settings))
    return (settings.maxRetries ?? 3) === 0
      ? service
      : Provider.withRetry(service, {
        schedule: retrySchedule(settings),
        ...(settings.maxRetryAfterMillis === undefined ? {} : { maxRetryAfter: settings.maxRetryAfterMillis })
      })
  })

/**
 * The secrets of resolved settings: the key, the headers whose names say they hold one
 * (`Authorization`, `x-api-key`, ...), and such fields of `options`.
 *
 * @since 0.1.0
 * @category getters
 */
export const secretsOf = (settings: Settings): ReadonlyArray<string> =>
  Redact.normalize([
    ...Option.toArray(settings.apiKey),
    ...Object.entries(settings.headers ?? {}).flatMap(([name, value]) => File.isSecretField(name) ? [value] : []),
    ...File.secretsOf(settings.options)
  ])

/**
 * Every secret of the resolved configuration (of every provider, not only the chosen one).
 *
 * @since 0.1.0
 * @category getters
 */
export const secretsOfResolved = (resolved: Resolved): ReadonlyArray<string> =>
  Redact.normalize(Object.values(resolved.providers).flatMap(secretsOf))

/**
 * Loads the configuration and builds the named (or default) provider.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  name?: string
): Effect.Effect<Provider.Service, ProviderConfigError, FileSystem.FileSystem | ProviderRegistry> =>
  Effect.flatMap(load, (resolved) => fromResolved(resolved, name))

/**
 * The configured provider as a layer (needs a `FileSystem` and a {@link ProviderRegistry}). The
 * configuration's secrets (every provider's key and secret headers) become known to the program
 * the layer is provided to, which redacts them from what it records: an agent's run end, for one.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  name?: string
): Layer.Layer<Provider.Provider, ProviderConfigError, FileSystem.FileSystem | ProviderRegistry> =>
  Layer.scoped(
    Provider.Provider,
    Effect.gen(function*() {
      const resolved = yield* load
      yield* Redact.addScoped(secretsOfResolved(resolved))
      return yield* fromResolved(resolved, name)
    })
  )

/**
 * The configured provider from the environment and `~/.rath/config.json`, with the Node file
 * system and the built-in kinds (plus `extra` kinds): what an application usually provides.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Provider, ProviderConfig } from "rath"
 *
 * const program = Provider.chat({ messages: [] }).pipe(Effect.provide(ProviderConfig.layerFromEnv()))
 * ```
 */
export const layerFromEnv = (options?: {
  readonly name?: string | undefined
  readonly extra?: Readonly<Record<string, Factory>> | undefined
}): Layer.Layer<Provider.Provider, ProviderConfigError> =>
  layer(options?.name).pipe(Layer.provide(Layer.merge(NodeFileSystem.layer, layerRegistry(options?.extra))))

// -----------------------------------------------------------------------------
// embeddings
// -----------------------------------------------------------------------------

/**
 * An OpenAI-compatible embedder from the configuration: the key, base URL and headers of the named
 * provider (default `openai`, which must be of kind `openai`); the model from `options.model`,
 * else `RATH_EMBEDDING_MODEL`, else the provider's `options.embeddingModel` in the file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEmbedder = (options?: {
  readonly provider?: string | undefined
  readonly model?: string | undefined
  readonly dimensions?: number | undefined
}): Effect.Effect<Embedder.Service, ProviderConfigError | Embedder.EmbedderError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const resolved = yield* load
    const name = options?.provider ?? "openai"
    const settings = resolved.providers[name]
    if (settings === undefined || settings.kind !== "openai") {
      return yield* new ProviderConfigError({
        reason: settings === undefined ? "UnknownProvider" : "UnknownKind",
        detail: settings === undefined
          ? `no provider named "${name}" for embeddings: set OPENAI_API_KEY or add providers.${name}`
          : `embeddings need an OpenAI-compatible provider; "${name}" is of kind "${settings.kind}"`
      })
    }
    const apiKey = yield* requireKey(settings)
    const fromFile = settings.options.embeddingModel
    const model = options?.model ?? Option.getOrUndefined(yield* optionalString("RATH_EMBEDDING_MODEL")) ??
      (typeof fromFile === "string" ? fromFile : undefined)
    if (model === undefined) {
      return yield* new ProviderConfigError({
        reason: "MissingModel",
        detail: `no embedding model: set RATH_EMBEDDING_MODEL or "options.embeddingModel" of providers.${name}`
      })
    }
    return yield* OpenAi.makeEmbedder({
      apiKey,
      model,
      baseUrl: settings.baseUrl,
      organization: settings.organization,
      project: settings.project,
      headers: settings.headers,
      timeoutMillis: settings.timeoutMillis,
      dimensions: options?.dimensions
    })
  })

/**
 * {@link makeEmbedder} as a layer, with the Node file system.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEmbedderFromEnv = (
  options?: Parameters<typeof makeEmbedder>[0]
): Layer.Layer<Embedder.Embedder, ProviderConfigError | Embedder.EmbedderError> =>
  Layer.effect(Embedder.Embedder, makeEmbedder(options)).pipe(Layer.provide(NodeFileSystem.layer))
