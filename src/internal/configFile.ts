/**
 * The one reader of `<RATH_HOME>/config.json`: where it is, its Schema (providers, the default
 * one, MCP servers), and how a broken file is reported. `ProviderConfig` and `Mcp` both read the
 * file through {@link read} and map {@link ConfigFileError} to their own error.
 *
 * A broken file's message names the field and what was expected, never a value found in the
 * file: the file holds keys (`apiKey`, header values, an MCP server's `env`), and a Schema error
 * would otherwise print the whole `providers` object.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Redact from "./redact.js"

// -----------------------------------------------------------------------------
// the schema
// -----------------------------------------------------------------------------

const Strings = Schema.Record({ key: Schema.String, value: Schema.String })

/** One named provider. */
export const ProviderEntry = Schema.Struct({
  /** A registered kind: `"openai"` (any OpenAI-compatible gateway), `"anthropic"`, ... */
  kind: Schema.String,
  baseUrl: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  /** The key itself (prefer `apiKeyEnv`: a file is easy to leak). */
  apiKey: Schema.optional(Schema.String),
  /** The name of an environment variable that holds the key. */
  apiKeyEnv: Schema.optional(Schema.String),
  organization: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  headers: Schema.optional(Strings),
  /** Timeout of a call (default 10 minutes): a whole `chat` call; a stream's headers, then its longest silence. */
  timeoutMillis: Schema.optional(Schema.Number),
  /** The largest response body read, in bytes (default 64 MiB). */
  maxResponseBytes: Schema.optional(Schema.Number),
  /** The longest `Retry-After` a retry waits for (default 60000); a longer one is not retried. */
  maxRetryAfterMillis: Schema.optional(Schema.Number),
  /** Default `max_tokens` (Anthropic requires one; default `Anthropic.DEFAULT_MAX_TOKENS`). */
  maxTokens: Schema.optional(Schema.Number),
  /** Retries of retryable failures (default 3; 0 disables). */
  maxRetries: Schema.optional(Schema.Number),
  /** Anything else, for third-party kinds. */
  options: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/** An MCP server started as a child process (`Mcp.stdio`). */
export const McpStdioEntry = Schema.Struct({
  command: Schema.String,
  args: Schema.optional(Schema.Array(Schema.String)),
  env: Schema.optional(Strings),
  cwd: Schema.optional(Schema.String),
  prefix: Schema.optional(Schema.String),
  /** How long one call may take, in milliseconds (default 60000). */
  timeoutMillis: Schema.optional(Schema.Number)
})

/** An MCP server reached over Streamable HTTP (`Mcp.http`). */
export const McpHttpEntry = Schema.Struct({
  url: Schema.String,
  headers: Schema.optional(Strings),
  prefix: Schema.optional(Schema.String),
  /** How long one call may take, in milliseconds (default 60000). */
  timeoutMillis: Schema.optional(Schema.Number)
})

/** `rath runner` / `rath run` settings (flags override them). */
export const RunnerEntry = Schema.Struct({
  /** The Postgres URL of the cluster's storage. */
  url: Schema.optional(Schema.String),
  /** The session store URL (default: `url`). */
  store: Schema.optional(Schema.String),
  /** The workflow module. */
  module: Schema.optional(Schema.String),
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Int),
  /** Like `5s` or `500ms`. */
  shardLockExpiration: Schema.optional(Schema.String),
  shardLockRefreshInterval: Schema.optional(Schema.String),
  /** Like `30s`: how long a step attempt that lost to an overlapping one waits for the winner. */
  takeoverAfter: Schema.optional(Schema.String),
  workspaceRoot: Schema.optional(Schema.String)
})

/** The whole file. Unknown keys are errors (a misspelt field is caught, not ignored). */
export const ConfigFile = Schema.Struct({
  default: Schema.optional(Schema.String),
  providers: Schema.optional(Schema.Record({ key: Schema.String, value: ProviderEntry })),
  mcpServers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Union(McpStdioEntry, McpHttpEntry) })),
  runner: Schema.optional(RunnerEntry)
})

export interface ConfigFile extends Schema.Schema.Type<typeof ConfigFile> {}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/** A file that cannot be read, is not JSON, or does not match {@link ConfigFile}. */
export class ConfigFileError extends Data.TaggedError("ConfigFileError")<{
  readonly reason: "CorruptFile" | "InvalidFile" | "ReadFailed"
  readonly detail: string
  readonly path: string
  readonly line?: number | undefined
  readonly column?: number | undefined
  readonly cause?: unknown
}> {}

// -----------------------------------------------------------------------------
// where
// -----------------------------------------------------------------------------

const nonEmpty = (name: string) =>
  Config.option(Config.string(name)).pipe(Effect.map(Option.filter((value) => value.trim() !== "")))

/** The config directory: `RATH_HOME`, else `$HOME/.rath` (none when neither is set). */
export const directory: Effect.Effect<Option.Option<string>, ConfigError.ConfigError> = Effect.gen(function*() {
  const home = yield* nonEmpty("RATH_HOME")
  if (Option.isSome(home)) return home
  return Option.map(yield* nonEmpty("HOME"), (dir) => `${dir.replace(/\/+$/, "")}/.rath`)
})

/** The config file's path, when there is a directory. */
export const path: Effect.Effect<Option.Option<string>, ConfigError.ConfigError> = Effect.map(
  directory,
  Option.map((dir) => `${dir.replace(/\/+$/, "")}/config.json`)
)

// -----------------------------------------------------------------------------
// parsing
// -----------------------------------------------------------------------------

const lineColumn = (text: string, position: number): { line: number; column: number } => {
  const before = text.slice(0, Math.max(0, Math.min(position, text.length)))
  const lines = before.split("\n")
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 }
}

/** See {@link Redact.isSecretField}. */
export const isSecretField = Redact.isSecretField

/**
 * Every string the file holds under a secret field (at any depth), as {@link Redact.normalize}d
 * secrets: what a message about the file must never show, and what a program that loaded the
 * file redacts from its errors and entries.
 */
export const secretsOf = (json: unknown): ReadonlyArray<string> => {
  const found: Array<string> = []
  const collect = (node: unknown) => {
    if (typeof node === "string") found.push(node)
    else if (Array.isArray(node)) node.forEach(collect)
    else if (typeof node === "object" && node !== null) Object.values(node).forEach(collect)
  }
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk)
    else if (typeof node === "object" && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (isSecretField(key)) collect(value)
        else walk(value)
      }
    }
  }
  walk(json)
  return Redact.normalize(found)
}

const kindOf = (value: unknown): string =>
  value === null
    ? "null"
    : Array.isArray(value)
    ? "an array"
    : typeof value === "object"
    ? "an object"
    : typeof value === "number" || typeof value === "boolean"
    ? `${typeof value === "number" ? "a number" : "a boolean"}`
    : typeof value === "undefined"
    ? "nothing"
    : `a ${typeof value}`

const valueAt = (json: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let node = json
  for (const key of path) {
    if (typeof node !== "object" || node === null || !Object.hasOwn(node, key)) return undefined
    node = (node as Record<PropertyKey, unknown>)[key]
  }
  return node
}

const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "the file" : path.map((key) => typeof key === "number" ? `[${key}]` : String(key)).join(".")

/**
 * A Schema error as lines that name the field and what was expected, and say only what kind of
 * value was found there (never the value).
 */
export const describeIssues = (error: ParseResult.ParseError, json: unknown): string => {
  const lines = new Set<string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    let message = issue.message
    if (issue._tag === "Type" || issue._tag === "Refinement" || issue._tag === "Transformation") {
      // an optional field's "Expected undefined" alternative says nothing useful
      if (/^Expected undefined, actual /.test(message)) continue
      const cut = message.indexOf(", actual ")
      message = `${cut < 0 ? message : message.slice(0, cut)}, got ${kindOf(valueAt(json, issue.path))}`
    }
    lines.add(`${pathText(issue.path)}: ${message}`)
  }
  return [...lines].join("; ")
}

/**
 * Where JSON.parse stopped: the `position N` of its message, else where V8's excerpt of the text
 * (`Unexpected token 'x', ..."<10 characters before>x<after>"...`) is found, else the end.
 */
const errorPosition = (message: string, text: string): number => {
  const position = /position (\d+)/.exec(message)
  if (position !== null) return Number(position[1])
  const excerpt = /^Unexpected token '([\s\S])', (\.\.\.)?"([\s\S]*)"(\.\.\.)? is not valid JSON$/.exec(message)
  if (excerpt !== null) {
    const [, token, cut, around] = excerpt as unknown as [string, string, string | undefined, string]
    const at = text.indexOf(around)
    const offset = cut === undefined ? around.indexOf(token) : Math.min(10, around.length)
    if (at >= 0 && offset >= 0) return at + offset
  }
  return text.length
}

/** JSON.parse's message without the excerpt of the text V8 puts in it (it may be a key). */
const syntaxMessage = (message: string): string => message.replace(/(\.\.\.)?"[\s\S]*"(\.\.\.)?/g, "…")

/**
 * Parses config file text: `CorruptFile` with the line and column when it is not JSON,
 * `InvalidFile` naming the field when it does not match {@link ConfigFile}.
 */
export const parse = (text: string, path: string): Either.Either<ConfigFile, ConfigFileError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    const position = errorPosition(message, text)
    return Either.left(
      new ConfigFileError({
        reason: "CorruptFile",
        detail: `not valid JSON: ${syntaxMessage(message)}`,
        path,
        ...lineColumn(text, position)
      })
    )
  }
  return Either.mapLeft(
    Schema.decodeUnknownEither(ConfigFile, { onExcessProperty: "error" })(json),
    (error) =>
      new ConfigFileError({
        reason: "InvalidFile",
        detail: Redact.text(describeIssues(error, json), secretsOf(json)),
        path
      })
  )
}

// -----------------------------------------------------------------------------
// reading
// -----------------------------------------------------------------------------

/** What was read: the path (whether or not the file exists) and the file (empty when missing). */
export interface Read {
  readonly path: string | undefined
  readonly file: ConfigFile
}

/** Reads and parses the file; a missing file (or no directory) is an empty one. */
export const read: Effect.Effect<Read, ConfigFileError | ConfigError.ConfigError, FileSystem.FileSystem> = Effect
  .gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const where = Option.getOrUndefined(yield* path)
    if (where === undefined) return { path: undefined, file: {} }
    const readFailed = (cause: unknown) =>
      new ConfigFileError({ reason: "ReadFailed", detail: String(cause), path: where, cause })
    if (!(yield* fs.exists(where).pipe(Effect.mapError(readFailed)))) return { path: where, file: {} }
    const text = yield* fs.readFileString(where).pipe(Effect.mapError(readFailed))
    return { path: where, file: yield* parse(text, where) }
  })
