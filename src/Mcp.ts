/**
 * Tools from MCP servers (`@modelcontextprotocol/sdk`), over stdio or Streamable HTTP.
 *
 * A server is connected once per scope (one long-lived client, never a process per call) and
 * closed with the scope; its tools become `Tool`s whose JSON Schema is the server's own. Text
 * parts of a result are joined, `structuredContent` is used when present, `isError: true` is a
 * tool failure, and a server that dies mid-call fails that call with a typed `McpError` (reason
 * `Disconnected`) while the agent loop goes on; the next call reconnects (a bounded number of
 * times). A result above the stdio buffer (10 MiB) is reason `ResultTooLarge`, and the connection
 * the SDK then closed is reopened on the next call.
 *
 * Servers are given in code (`Mcp.stdio`, `Mcp.http`) or by name from `~/.rath/config.json`
 * (`RATH_HOME` moves the directory):
 *
 * ```json
 * { "mcpServers": {
 *     "files": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."] },
 *     "remote": { "url": "http://127.0.0.1:3000/mcp", "headers": { "authorization": "Bearer ..." } } } }
 * ```
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import type * as ClientModule from "@modelcontextprotocol/sdk/client/index.js"
import type * as StdioModule from "@modelcontextprotocol/sdk/client/stdio.js"
import type * as HttpModule from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type * as McpTypes from "@modelcontextprotocol/sdk/types.js"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as Os from "node:os"
import * as Path from "node:path"
import * as File from "./internal/configFile.js"
import * as Lazy from "./internal/lazy.js"
import * as Tool from "./Tool.js"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category errors
 */
export class McpError extends Schema.TaggedError<McpError>("rath/McpError")("McpError", {
  reason: Schema.Literal(
    /** The server could not be started or the MCP handshake failed. */
    "ConnectFailed",
    /** The server went away (it died, or closed the connection). */
    "Disconnected",
    /** The server did not answer in time. */
    "Timeout",
    /** The tool answered with `isError: true`. */
    "ToolError",
    /**
     * The server sent a message larger than the stdio limit (`maxMessageBytes`, default 10 MiB,
     * the SDK's buffer): the call fails, the connection is reset and the next call reconnects.
     */
    "ResultTooLarge",
    /** Any other failed request (a JSON-RPC error, an invalid answer). */
    "RequestFailed",
    /** A server name not found in the configuration. */
    "ServerNotFound",
    /** The configuration file could not be read or is invalid. */
    "ConfigInvalid",
    /** Two tools of the given servers have one name. */
    "DuplicateTool"
  ),
  server: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} (${this.server}): ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// servers
// -----------------------------------------------------------------------------

interface Common {
  /** Names the server in errors and spans. */
  readonly name: string
  /** Prepended to every tool name of the server (to keep names unique across servers). */
  readonly prefix?: string | undefined
  /** How long one call may take (default 60 seconds). */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How many times a connection the server closed (it died, or sent a message above the limit) is
   * opened again, on the next call, within one scope (default 3). Then calls fail `Disconnected`.
   */
  readonly reconnects?: number | undefined
}

/**
 * A server started as a child process, spoken to over its stdin/stdout.
 *
 * @since 0.1.0
 * @category models
 */
export interface StdioServer extends Common {
  readonly _tag: "Stdio"
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  /** Added to a minimal safe environment (`PATH`, `HOME`, ...), not to this process's one. */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly cwd?: string | undefined
  /** What to do with the server's stderr (default `"inherit"`). */
  readonly stderr?: "inherit" | "ignore" | undefined
  /**
   * The largest message read from the server, in bytes (default {@link DEFAULT_MAX_MESSAGE_BYTES});
   * a result above it is reason `ResultTooLarge`.
   */
  readonly maxMessageBytes?: number | undefined
}

/**
 * A server reached over Streamable HTTP.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpServer extends Common {
  readonly _tag: "Http"
  readonly url: string
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type Server = StdioServer | HttpServer

/**
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Mcp } from "rath"
 *
 * const files = Mcp.stdio({ name: "files", command: "node", args: ["server.mjs"] })
 * ```
 */
export const stdio = (options: Omit<StdioServer, "_tag">): StdioServer => ({ _tag: "Stdio", ...options })

/**
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Mcp } from "rath"
 *
 * const remote = Mcp.http({ name: "remote", url: "http://127.0.0.1:3000/mcp" })
 * ```
 */
export const http = (options: Omit<HttpServer, "_tag">): HttpServer => ({ _tag: "Http", ...options })

// -----------------------------------------------------------------------------
// configuration
// -----------------------------------------------------------------------------

/**
 * The directory of rath's user configuration: `RATH_HOME`, else `$HOME/.rath` (the home directory
 * of the user when `HOME` is unset).
 *
 * @since 0.1.0
 * @category configuration
 */
export const rathHome: Effect.Effect<string> = File.directory.pipe(
  Effect.map(Option.getOrElse(() => Path.join(Os.homedir(), ".rath"))),
  Effect.orElseSucceed(() => Path.join(Os.homedir(), ".rath"))
)

const configError = (cause: File.ConfigFileError | ConfigError.ConfigError): McpError =>
  cause._tag === "ConfigFileError"
    ? new McpError({
      reason: "ConfigInvalid",
      server: "config",
      detail: `${cause.path}${cause.line === undefined ? "" : `:${cause.line}:${cause.column ?? 1}`}: ${cause.detail}`
    })
    : new McpError({ reason: "ConfigInvalid", server: "config", detail: `cannot read the environment: ${cause}` })

/**
 * The MCP servers named in `<rath home>/config.json` (`mcpServers`). A missing file names none.
 * The file is read by the same reader as the providers (`ProviderConfig.load`), against one Schema
 * of the whole file: a file that is broken anywhere is reason `ConfigInvalid`.
 *
 * @since 0.1.0
 * @category configuration
 */
export const loadConfig: Effect.Effect<Readonly<Record<string, Server>>, McpError> = Effect.gen(function*() {
  const { file } = yield* File.read.pipe(Effect.mapError(configError), Effect.provide(NodeFileSystem.layer))
  const servers: Record<string, Server> = {}
  for (const [name, entry] of Object.entries(file.mcpServers ?? {})) {
    const { timeoutMillis, ...rest } = entry
    const timeout = timeoutMillis === undefined ? {} : { timeout: Duration.millis(timeoutMillis) }
    servers[name] = "command" in rest ? stdio({ name, ...rest, ...timeout }) : http({ name, ...rest, ...timeout })
  }
  return servers
})

/**
 * The server of that name in the configuration (reason `ServerNotFound` if there is none).
 *
 * @since 0.1.0
 * @category configuration
 */
export const fromConfig = (name: string): Effect.Effect<Server, McpError> =>
  Effect.flatMap(loadConfig, (servers) => {
    const server = servers[name]
    return server !== undefined
      ? Effect.succeed(server)
      : Effect.flatMap(rathHome, (home) =>
        Effect.fail(
          new McpError({
            reason: "ServerNotFound",
            server: name,
            detail: `no MCP server named "${name}" in ${Path.join(home, "config.json")} (mcpServers)`
          })
        ))
  })

// -----------------------------------------------------------------------------
// results
// -----------------------------------------------------------------------------

/**
 * The JSON Schema a model is shown for a server's input schema: passed through as it is, with
 * `type: "object"` and an empty `properties` filled in when the server leaves them out.
 *
 * @since 0.1.0
 * @category combinators
 */
export const inputSchemaOf = (schema: unknown): Record<string, unknown> => {
  const given = typeof schema === "object" && schema !== null ? schema as Record<string, unknown> : {}
  return { ...given, type: "object", properties: given.properties ?? {} }
}

const partText = (part: McpTypes.ContentBlock): string => {
  switch (part.type) {
    case "text":
      return part.text
    case "image":
    case "audio":
      return `[${part.type}: ${part.mimeType}]`
    case "resource":
      return "text" in part.resource ? part.resource.text : `[resource: ${part.resource.uri}]`
    case "resource_link":
      return `[resource: ${part.uri}]`
  }
}

/**
 * What a tool result becomes: `structuredContent` when present, else its parts joined as text
 * (non-text parts as placeholders such as `[image: image/png]`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const outputOf = (result: {
  readonly content?: ReadonlyArray<McpTypes.ContentBlock> | undefined
  readonly structuredContent?: Record<string, unknown> | undefined
}): unknown =>
  result.structuredContent !== undefined
    ? result.structuredContent
    : (result.content ?? []).map(partText).join("\n")

// -----------------------------------------------------------------------------
// the SDK, loaded on first use
// -----------------------------------------------------------------------------

/**
 * The MCP SDK's client, transports and types. Importing them costs more than a tenth of a second
 * (the SDK and its zod schemas), so they are loaded on the first connection, and a program that
 * never uses MCP never pays it.
 */
const loadSdk = Lazy.lazy((): Promise<Sdk> =>
  Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/stdio.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    import("@modelcontextprotocol/sdk/types.js")
  ]).then(([client, stdio, http, types]) => ({
    Client: client.Client,
    StdioClientTransport: stdio.StdioClientTransport,
    StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
    types
  }))
)

interface Sdk {
  readonly Client: typeof ClientModule.Client
  readonly StdioClientTransport: typeof StdioModule.StdioClientTransport
  readonly StreamableHTTPClientTransport: typeof HttpModule.StreamableHTTPClientTransport
  readonly types: typeof McpTypes
}

const requestError = (sdk: Sdk, server: string, action: string) => (cause: unknown): McpError => {
  const McpTypes = sdk.types
  if (cause instanceof McpTypes.McpError) {
    if (cause.code === McpTypes.ErrorCode.ConnectionClosed) {
      return new McpError({
        reason: "Disconnected",
        server,
        detail: `${action}: the server closed the connection`,
        cause
      })
    }
    if (cause.code === McpTypes.ErrorCode.RequestTimeout) {
      return new McpError({ reason: "Timeout", server, detail: `${action}: no answer in time`, cause })
    }
  }
  const message = cause instanceof Error ? cause.message : String(cause)
  if (/not connected|closed/i.test(message)) {
    return new McpError({ reason: "Disconnected", server, detail: `${action}: ${message}`, cause })
  }
  return new McpError({ reason: "RequestFailed", server, detail: `${action}: ${message}`, cause })
}

// -----------------------------------------------------------------------------
// connecting
// -----------------------------------------------------------------------------

const DEFAULT_TIMEOUT = Duration.seconds(60)

/**
 * The largest message read from a stdio server by default: the SDK's own buffer limit (10 MiB).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024

/** How many times a closed connection is opened again within a scope, by default. */
const DEFAULT_RECONNECTS = 3

const transportOf = (sdk: Sdk, server: Server) =>
  server._tag === "Stdio"
    ? new sdk.StdioClientTransport({
      command: server.command,
      args: server.args === undefined ? [] : [...server.args],
      ...(server.env === undefined ? {} : { env: { ...server.env } }),
      ...(server.cwd === undefined ? {} : { cwd: server.cwd }),
      stderr: server.stderr ?? "inherit",
      maxBufferSize: server.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    })
    : new sdk.StreamableHTTPClientTransport(new URL(server.url), {
      ...(server.headers === undefined ? {} : { requestInit: { headers: { ...server.headers } } })
    })

const listAll = (sdk: Sdk, client: Client, server: string) =>
  Effect.tryPromise({
    try: async () => {
      const tools: Array<McpTypes.Tool> = []
      let cursor: string | undefined
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor })
        tools.push(...page.tools)
        cursor = page.nextCursor
      } while (cursor !== undefined)
      return tools
    },
    catch: requestError(sdk, server, "tools/list")
  })

const Arguments = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * One client over one transport, and what became of it: the SDK closes the transport when the
 * server exits or when a message exceeds the stdio buffer (it reports the latter to `onerror`
 * first).
 */
interface Connection {
  readonly client: Client
  closed: boolean
  overflowed: boolean
}

const OVERFLOW = /exceeded maximum size/i

const open = (sdk: Sdk, server: Server): Effect.Effect<Connection, McpError> =>
  Effect.tryPromise({
    try: async () => {
      const client = new sdk.Client({ name: "rath", version: "0.1.0" })
      const connection: Connection = { client, closed: false, overflowed: false }
      client.onclose = () => {
        connection.closed = true
      }
      client.onerror = (error) => {
        if (OVERFLOW.test(error.message)) connection.overflowed = true
      }
      await client.connect(transportOf(sdk, server))
      return connection
    },
    catch: (cause) =>
      new McpError({
        reason: "ConnectFailed",
        server: server.name,
        detail: `cannot connect: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  })

const close = (server: Server, connection: Connection) =>
  connection.closed
    ? Effect.void
    : Effect.tryPromise(() => connection.client.close()).pipe(
      Effect.catchAll((cause) => Effect.logWarning(`closing MCP server ${server.name} failed`, cause))
    )

interface Link {
  readonly connection: Connection
  readonly reconnects: number
}

/**
 * Connects to a server for the scope and returns its tools as a toolkit. The client (and a stdio
 * server's process) is closed when the scope closes. A connection the server closed (it died, or
 * sent a message above `maxMessageBytes`) is opened again on the next call, up to `reconnects`
 * times in the scope.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Mcp } from "rath"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const tools = yield* Mcp.toolkit(Mcp.stdio({ name: "files", command: "node", args: ["server.mjs"] }))
 *   return tools.definitions.map((definition) => definition.name)
 * }))
 * ```
 */
export const toolkit = (server: Server): Effect.Effect<Tool.Toolkit<never>, McpError, Scope.Scope> =>
  Effect.gen(function*() {
    const sdk = yield* Effect.tryPromise({
      try: loadSdk,
      catch: (cause) =>
        new McpError({
          reason: "ConnectFailed",
          server: server.name,
          detail: `cannot load the MCP SDK: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
    })
    const first = yield* Effect.acquireRelease(open(sdk, server), (connection) => close(server, connection))
    const link = yield* SynchronizedRef.make<Link>({ connection: first, reconnects: 0 })
    // a reconnected client is closed with the scope too (the first one by its own release)
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(
        SynchronizedRef.get(link),
        ({ connection }) => connection === first ? Effect.void : close(server, connection)
      )
    )
    const maxReconnects = Math.max(0, server.reconnects ?? DEFAULT_RECONNECTS)
    const current: Effect.Effect<Connection, McpError> = SynchronizedRef.modifyEffect(link, (state) => {
      if (!state.connection.closed) return Effect.succeed([Either.right(state.connection), state] as const)
      if (state.reconnects >= maxReconnects) {
        const gaveUp = new McpError({
          reason: "Disconnected",
          server: server.name,
          detail: `the server closed the connection (reconnected ${state.reconnects} times in this scope; no more)`
        })
        return Effect.succeed([Either.left(gaveUp), state] as const)
      }
      // uninterruptible like the first open (acquireRelease): a reconnect cut off by a tool timeout
      // would leave a started server that nothing stores or closes
      return Effect.map(
        Effect.uninterruptible(Effect.either(open(sdk, server))),
        (opened) =>
          [
            opened,
            Either.isRight(opened)
              ? { connection: opened.right, reconnects: state.reconnects + 1 }
              : { ...state, reconnects: state.reconnects + 1 }
          ] as const
      )
    }).pipe(Effect.flatten)
    const timeout = Duration.toMillis(server.timeout === undefined ? DEFAULT_TIMEOUT : Duration.decode(server.timeout))
    const limit = server._tag === "Stdio" ? server.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES : undefined
    const listed = yield* listAll(sdk, first.client, server.name)
    const call = (tool: McpTypes.Tool, args: Record<string, unknown>) =>
      Effect.flatMap(current, (connection) =>
        Effect.tryPromise({
          try: (signal) =>
            connection.client.callTool({ name: tool.name, arguments: args }, undefined, { signal, timeout }),
          catch: (cause) =>
            connection.overflowed
              ? new McpError({
                reason: "ResultTooLarge",
                server: server.name,
                detail: `tools/call ${tool.name}: the server sent a message larger than ${limit} bytes ` +
                  `(maxMessageBytes); the connection was reset and the next call reconnects`,
                cause
              })
              : requestError(sdk, server.name, `tools/call ${tool.name}`)(cause)
        }))
    const tools = listed.map((tool) =>
      Tool.make({
        name: `${server.prefix ?? ""}${tool.name}`,
        description: tool.description ?? tool.title ?? tool.name,
        parameters: Arguments,
        jsonSchema: inputSchemaOf(tool.inputSchema),
        idempotent: tool.annotations?.idempotentHint ?? false,
        handler: (args) =>
          call(tool, args).pipe(
            Effect.flatMap((result) => {
              const output = outputOf(result as Parameters<typeof outputOf>[0])
              return result.isError === true
                ? Effect.fail(
                  new McpError({
                    reason: "ToolError",
                    server: server.name,
                    detail: typeof output === "string" ? output : JSON.stringify(output)
                  })
                )
                : Effect.succeed(output)
            }),
            Effect.withSpan("Mcp.callTool", {
              attributes: { "rath.mcp.server": server.name, "rath.tool.name": tool.name }
            })
          )
      })
    )
    return yield* Either.match(Tool.toolkit(...tools), {
      onLeft: (error) =>
        Effect.fail(new McpError({ reason: "DuplicateTool", server: server.name, detail: error.detail })),
      onRight: Effect.succeed
    })
  }).pipe(Effect.withSpan("Mcp.connect", { attributes: { "rath.mcp.server": server.name } }))

/**
 * Connects to several servers (in code, or named in the configuration) and combines their tools;
 * two tools with one name is reason `DuplicateTool` (give a server a `prefix`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const toolkitAll = (
  servers: ReadonlyArray<Server | string>
): Effect.Effect<Tool.Toolkit<never>, McpError, Scope.Scope> =>
  Effect.gen(function*() {
    const resolved = yield* Effect.forEach(servers, (server) =>
      typeof server === "string" ? fromConfig(server) : Effect.succeed(server))
    const toolkits = yield* Effect.forEach(resolved, toolkit, { concurrency: "unbounded" })
    return yield* Either.match(Tool.toolkit(...toolkits), {
      onLeft: (error) =>
        Effect.fail(new McpError({ reason: "DuplicateTool", server: "*", detail: error.detail })),
      onRight: Effect.succeed
    })
  })

/**
 * The tools of the MCP servers of a layer.
 *
 * @since 0.1.0
 * @category tags
 */
export class McpTools extends Context.Tag("rath/Mcp/McpTools")<McpTools, Tool.Toolkit<never>>() {}

/**
 * A scoped layer: the servers are connected when the layer is built, stay connected while it
 * lives and are closed with it.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Mcp } from "rath"
 *
 * const McpLive = Mcp.layer([Mcp.http({ name: "remote", url: "http://127.0.0.1:3000/mcp" }), "files"])
 * ```
 */
export const layer = (servers: ReadonlyArray<Server | string>): Layer.Layer<McpTools, McpError> =>
  Layer.scoped(McpTools, toolkitAll(servers))
