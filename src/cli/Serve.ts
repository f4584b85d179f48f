/**
 * `rath serve`: the viewer page and a small JSON API over a session source, on an HTTP server
 * bound to 127.0.0.1 by default. The source is reopened on every request, so sessions written
 * while the server runs show up on reload.
 *
 * - `GET /`: the viewer page (every session of the source)
 * - `GET /api/sessions`: the lineage rows, as JSON
 * - `GET /api/graph`: the rows and edges, as JSON
 * - `GET /api/sessions/:id`: one session (header, usage, entries in wire form)
 * - `GET /api/sessions/:id/jsonl`: one session as JSONL
 *
 * The server is read-only (only `GET` and `HEAD`; nothing it serves changes anything, so it needs
 * no token) and answers only requests meant for it, each refusal a 4xx JSON error
 * (`{ "error", "reason" }`):
 *
 * - the `Host` header must name this server: `127.0.0.1`, `localhost` or `[::1]` with the served
 *   port, or the bound host (when bound to every interface, `0.0.0.0` or `::`, any IP literal or
 *   this machine's name). A page on another name that resolves here (DNS rebinding) gets a 403;
 * - a request a browser marks cross-site (`Origin` of another origin, `Sec-Fetch-Site:
 *   cross-site` or `same-site`) gets a 403;
 * - a request with a body gets a 413, a URL longer than 8 KiB a 414, another method a 405.
 *
 * Every answer says `no-store`, `nosniff`, `no-referrer` and may not be framed.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { createServer } from "node:http"
import { isIP } from "node:net"
import * as Os from "node:os"
import * as Session from "../Session.js"
import * as SessionGraph from "../SessionGraph.js"
import * as Viewer from "../Viewer.js"
import { CliError } from "./CliError.js"
import * as Render from "./Render.js"
import * as Source from "./Source.js"

/**
 * The HTTP routes over a source.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = <R>(open: Effect.Effect<Source.SessionSource, CliError, R>) => {
  const byId = Effect.gen(function*() {
    const { id } = yield* HttpRouter.params
    const source = yield* open
    return yield* source.load(id ?? "")
  })
  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/",
      Effect.gen(function*() {
        const source = yield* open
        const sessions = yield* Source.loadAll(source)
        return HttpServerResponse.html(Viewer.html(sessions, { title: `rath: ${source.label}` }))
      })
    ),
    HttpRouter.get(
      "/api/sessions",
      Effect.map(Effect.flatMap(open, (source) => source.list), (rows) => HttpServerResponse.unsafeJson(rows))
    ),
    HttpRouter.get(
      "/api/graph",
      Effect.map(
        Effect.flatMap(open, (source) => source.list),
        (rows) => HttpServerResponse.unsafeJson(Render.graphJson(SessionGraph.fromRows(rows)))
      )
    ),
    HttpRouter.get(
      "/api/sessions/:id",
      Effect.map(byId, (session) => HttpServerResponse.unsafeJson(Render.showJson(session)))
    ),
    HttpRouter.get(
      "/api/sessions/:id/jsonl",
      Effect.map(
        byId,
        (session) =>
          HttpServerResponse.text(Session.toJsonl(session), { contentType: "application/x-ndjson; charset=utf-8" })
      )
    ),
    HttpRouter.catchTag("CliError", (error) =>
      HttpServerResponse.json({ error: error.message, reason: error.reason }, {
        status: error.reason === "NotFound" ? 404 : error.reason === "InvalidData" ? 422 : 500
      }))
  )
}

// -----------------------------------------------------------------------------
// who may ask
// -----------------------------------------------------------------------------

/** The longest URL served (414 above it). */
export const MAX_URL_LENGTH = 8 * 1024

/** The largest request header block Node accepts here (431 above it). */
export const MAX_HEADER_BYTES = 16 * 1024

const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"]

/** Whether a bound host listens on every interface. */
export const isWildcard = (host: string): boolean => host === "0.0.0.0" || host === "::" || host === "[::]"

/** Whether a bound host is a loopback address (the server is reachable from this machine only). */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)

const bracketed = (host: string): string => isIP(host) === 6 ? `[${host}]` : host

/** Splits a `Host` header into its name (lowercase, IPv6 in brackets) and port. */
const splitHost = (value: string): { readonly name: string; readonly port: string | undefined } | undefined => {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(value.trim())
  return match === null ? undefined : { name: match[1]!.toLowerCase(), port: match[2] }
}

/**
 * Whether a `Host` header names this server: a loopback name with the served port, or the bound
 * host; when bound to every interface, any IP literal or this machine's name (a name an attacker
 * controls, the one a DNS-rebinding page carries, never passes).
 *
 * @since 0.1.0
 * @category guards
 */
export const hostAllowed = (value: string | undefined, bound: { readonly host: string; readonly port: number }) => {
  if (value === undefined) return false
  const parsed = splitHost(value)
  // a browser leaves the default port out of Host
  if (parsed === undefined || (parsed.port ?? "80") !== String(bound.port)) return false
  const { name } = parsed
  if (LOOPBACK_NAMES.includes(name) || name === bracketed(bound.host.toLowerCase())) return true
  if (!isWildcard(bound.host)) return false
  const bare = name.startsWith("[") ? name.slice(1, -1) : name
  if (isIP(bare) !== 0) return true
  const machine = Os.hostname().toLowerCase()
  return name === machine || name === `${machine}.local`
}

interface Refusal {
  readonly status: number
  readonly reason: string
  readonly error: string
}

/**
 * Why a request is refused, if it is: the checks of the module's description, in order.
 *
 * @since 0.1.0
 * @category guards
 */
export const refusal = (
  request: {
    readonly method: string
    readonly url: string
    readonly headers: Readonly<Record<string, string | undefined>>
  },
  bound: { readonly host: string; readonly port: number }
): Refusal | undefined => {
  const host = request.headers.host
  if (!hostAllowed(host, bound)) {
    return {
      status: 403,
      reason: "HostNotAllowed",
      error: `this server answers to 127.0.0.1:${bound.port} and localhost:${bound.port}, not to ${
        JSON.stringify(host ?? "")
      }`
    }
  }
  const origin = request.headers.origin
  if (origin !== undefined && origin !== "null" && origin !== `http://${host}`) {
    return { status: 403, reason: "CrossOrigin", error: `requests from ${JSON.stringify(origin)} are refused` }
  }
  if (origin === "null") {
    return { status: 403, reason: "CrossOrigin", error: "requests from an opaque origin are refused" }
  }
  const site = request.headers["sec-fetch-site"]
  if (site === "cross-site" || site === "same-site") {
    return { status: 403, reason: "CrossOrigin", error: `${site} requests are refused` }
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return { status: 405, reason: "MethodNotAllowed", error: `${request.method}: this server is read-only (GET, HEAD)` }
  }
  const length = request.headers["content-length"]
  if ((length !== undefined && length.trim() !== "0") || request.headers["transfer-encoding"] !== undefined) {
    return { status: 413, reason: "TooLarge", error: "a request body is refused: nothing here reads one" }
  }
  if (request.url.length > MAX_URL_LENGTH) {
    return { status: 414, reason: "UrlTooLong", error: `a URL longer than ${MAX_URL_LENGTH} characters is refused` }
  }
  return undefined
}

const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin"
}

/**
 * The app behind the checks of {@link refusal}, every answer with the security headers.
 *
 * @since 0.1.0
 * @category combinators
 */
export const guard = (bound: { readonly host: string; readonly port: number }) =>
<E, R>(
  app: HttpApp.Default<E, R>
): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const refused = refusal({ method: request.method, url: request.url, headers: request.headers }, bound)
    const answer = refused === undefined
      ? app
      : Effect.succeed(
        HttpServerResponse.unsafeJson({ error: refused.error, reason: refused.reason }, { status: refused.status })
      )
    // every answer carries the headers, a failure too (an unknown path, a defect): turned into
    // its JSON answer here rather than by the server's default handler, which would not add them
    return answer.pipe(
      Effect.catchAllCause((cause) => {
        const notFound = Option.exists(Cause.failureOption(cause), Predicate.isTagged("RouteNotFound"))
        return Effect.succeed(
          HttpServerResponse.unsafeJson(
            notFound
              ? { error: "no such path", reason: "NotFound" }
              : { error: "internal error", reason: "Internal" },
            { status: notFound ? 404 : 500 }
          )
        )
      }),
      Effect.map(HttpServerResponse.setHeaders(securityHeaders))
    )
  })

const reasonOf = (cause: unknown): string => {
  const inner = typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : cause
  return inner instanceof Error ? inner.message : String(inner)
}

/**
 * The server as a layer: listens on `host:port` (port 0 picks a free one), prints the address,
 * and serves {@link router}. Its output includes the `HttpServer`, so callers can read the address.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R>(options: {
  readonly open: Effect.Effect<Source.SessionSource, CliError, R>
  readonly label: string
  readonly host: string
  readonly port: number
}) =>
  Layer.mergeAll(
    Layer.unwrapEffect(HttpServer.addressWith((address) =>
      Effect.succeed(HttpServer.serve(
        guard({ host: options.host, port: address._tag === "TcpAddress" ? address.port : options.port })(
          router(options.open)
        )
      ))
    )),
    Layer.effectDiscard(
      HttpServer.addressFormattedWith((address) =>
        Effect.zipRight(
          Console.log(`rath: serving ${options.label} at ${address} (Ctrl-C to stop)`),
          isLoopback(options.host)
            ? Effect.void
            : Console.error(
              `rath: warning: listening on ${options.host}, not on 127.0.0.1: anyone who can reach this machine ${
                isWildcard(options.host) ? "on any of its addresses " : ""
              }can read every session served, with no password`
            )
        )
      )
    )
  ).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(() => createServer({ maxHeaderSize: MAX_HEADER_BYTES }), {
        host: options.host,
        port: options.port
      })
    ),
    Layer.mapError((cause) =>
      new CliError({
        reason: "Io",
        detail: `cannot listen on ${options.host}:${options.port} (${reasonOf(cause)}): pick another port with --port`,
        cause
      })
    )
  )
