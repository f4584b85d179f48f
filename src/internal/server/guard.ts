/**
 * Who may ask the server: the `Host` and `Origin` checks (DNS rebinding, cross-site requests),
 * methods, body and URL limits, and the security headers of every answer. Each refusal is a 4xx
 * JSON error `{ "error", "reason" }`.
 *
 * @internal
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { isIP } from "node:net"
import * as Os from "node:os"

/** The longest URL served (414 above it). */
export const MAX_URL_LENGTH = 8 * 1024

/** The largest request header block Node accepts here (431 above it). */
export const MAX_HEADER_BYTES = 16 * 1024

/** The largest request body read (a `POST`'s JSON; 413 above it). */
export const MAX_BODY_BYTES = 64 * 1024

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

export interface Refusal {
  readonly status: number
  readonly reason: string
  readonly error: string
}

/** Why a request is refused, if it is: the checks of the module's description, in order. */
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
  const write = request.method === "POST"
  if (request.method !== "GET" && request.method !== "HEAD" && !write) {
    return {
      status: 405,
      reason: "MethodNotAllowed",
      error: `${request.method}: this server answers GET, HEAD and POST`
    }
  }
  const length = request.headers["content-length"]
  if (request.headers["transfer-encoding"] !== undefined) {
    return { status: 413, reason: "TooLarge", error: "a chunked request body is refused: send a Content-Length" }
  }
  if (!write && length !== undefined && length.trim() !== "0") {
    return { status: 413, reason: "TooLarge", error: `a ${request.method} request with a body is refused` }
  }
  if (write && length !== undefined && !(Number(length) <= MAX_BODY_BYTES)) {
    return { status: 413, reason: "TooLarge", error: `a request body larger than ${MAX_BODY_BYTES} bytes is refused` }
  }
  if (request.url.length > MAX_URL_LENGTH) {
    return { status: 414, reason: "UrlTooLong", error: `a URL longer than ${MAX_URL_LENGTH} characters is refused` }
  }
  return undefined
}

/** The headers of every answer. */
export const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin"
}

/** The app behind the checks of {@link refusal}, every answer with the security headers. */
export const guard = (bound: { readonly host: string; readonly port: number }) =>
<E, R>(
  app: HttpApp.Default<E, R>
): HttpApp.Default<never, R | HttpServerRequest.HttpServerRequest> =>
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
