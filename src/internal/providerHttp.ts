/**
 * What the HTTP adapters share: the request through the vendor's SDK (auth, headers, HTTP errors),
 * then the response body read by rath itself, bounded in time and size and checked strictly
 * (content type, UTF-8, JSON, the wire shape), so that a hostile or broken server gives a typed
 * `ProviderError` and never a hang, a defect or a malformed answer taken for a good one.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { AsyncLocalStorage } from "node:async_hooks"
import * as Provider from "../Provider.js"

// -----------------------------------------------------------------------------
// limits
// -----------------------------------------------------------------------------

/** The default of `timeoutMillis`: 10 minutes, the SDKs' own default. */
export const DEFAULT_TIMEOUT_MILLIS = 10 * 60 * 1000

/** The default of `maxResponseBytes`: 64 MiB of response body (a streamed answer counts all its events). */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** The longest text of a vendor's value quoted in an error detail. */
const MAX_QUOTE = 300

const clip = (text: string, max = MAX_QUOTE): string =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`

/** The first line of a message, trimmed (TLS errors end with OpenSSL's file and line on a new line). */
const firstLine = (text: string): string => text.split("\n", 1)[0]!.trim()

// -----------------------------------------------------------------------------
// SDK logging
// -----------------------------------------------------------------------------

/**
 * The runtime of the fiber whose SDK call is in flight: the SDKs log from inside their promise
 * chains, which carry this store, so a log line reaches the logger (and the log level, spans and
 * annotations) of the Effect program that made the call.
 */
const callRuntime = new AsyncLocalStorage<Runtime.Runtime<never>>()

/**
 * The `logger` given to an SDK client: its messages go to the Effect logger, annotated with the
 * SDK's name, instead of the console. A message logged outside a call (a client used directly)
 * goes to the default runtime's logger.
 */
export const sdkLogger = (sdk: string) => {
  const at = (level: LogLevel.LogLevel) => (...message: ReadonlyArray<unknown>): void => {
    const log = Effect.annotateLogs(Effect.logWithLevel(level, ...message), "sdk", sdk)
    const runtime = callRuntime.getStore()
    // a callback from the SDK, outside any fiber: run the log line on the caller's runtime
    if (runtime === undefined) Effect.runFork(log)
    else Runtime.runFork(runtime)(log)
  }
  return { error: at(LogLevel.Error), warn: at(LogLevel.Warning), info: at(LogLevel.Info), debug: at(LogLevel.Debug) }
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

interface HeadersLike {
  readonly get: (name: string) => string | null
}

interface SdkApiError {
  readonly status?: number | undefined
  readonly headers?: HeadersLike | undefined
  readonly error?: unknown
  readonly message: string
  readonly name?: string
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const vendorMessage = (body: unknown, fallback: string): string => {
  if (isObject(body)) {
    const inner = isObject(body.error) ? body.error : body
    if (typeof inner.message === "string" && inner.message !== "") return inner.message
  }
  return fallback
}

const vendorCode = (body: unknown): string => {
  if (!isObject(body)) return ""
  const inner = isObject(body.error) ? body.error : body
  return [inner.code, inner.type].filter((x) => typeof x === "string").join(" ")
}

const contextPattern = /context[_ ]length|context window|maximum context|prompt is too long|too many tokens/i

/** The endpoint host of a base URL ("api.openai.com", "127.0.0.1:8080"). */
export const hostOf = (baseUrl: string): string => {
  try {
    return new URL(baseUrl).host
  } catch {
    return baseUrl
  }
}

/**
 * The URL a request goes to, as errors name it: the base URL and the endpoint path, without user
 * info or query (either may carry a credential).
 */
export const endpointOf = (baseUrl: string, path: string): string => {
  const joined = `${baseUrl.replace(/\/+$/, "")}${path}`
  try {
    const url = new URL(joined)
    return `${url.protocol}//${url.host}${url.pathname}`
  } catch {
    return joined.replace(/\/\/[^/@]*@/, "//").replace(/[?#].*$/, "")
  }
}

interface Link {
  readonly code: string | undefined
  readonly message: string
  readonly hostname: string | undefined
  readonly address: string | undefined
  readonly port: number | undefined
}

/** The chain of an error and its causes (at most 8 deep), outermost first. */
const causeChain = (error: unknown): ReadonlyArray<Link> => {
  const links: Array<Link> = []
  let current: unknown = error
  for (let i = 0; i < 8 && current !== undefined && current !== null; i++) {
    const record: Record<string, unknown> = isObject(current) ? current : {}
    const message = current instanceof Error ? current.message : isObject(current) ? "" : String(current)
    links.push({
      code: typeof record.code === "string" ? record.code : undefined,
      message: firstLine(message),
      hostname: typeof record.hostname === "string" ? record.hostname : undefined,
      address: typeof record.address === "string" ? record.address : undefined,
      port: typeof record.port === "number" ? record.port : undefined
    })
    current = isObject(current) ? current.cause : undefined
  }
  return links
}

const certificateCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

/**
 * Why a request never got an HTTP answer, in words, from the error chain fetch and the SDK throw:
 * connection refused, DNS, a port fetch refuses, TLS, a reset. The reason is `Transport` (worth a
 * retry) except for what cannot work on retry (a bad URL or port: `BadRequest`) or a connect
 * timeout (`Timeout`).
 */
export const describeConnectionFailure = (
  error: unknown
): { readonly reason: Provider.ProviderError["reason"]; readonly text: string } => {
  const chain = causeChain(error)
  const where = (link: Link) =>
    link.address === undefined ? "" : ` ${link.address}${link.port === undefined ? "" : `:${link.port}`}`
  for (const link of chain) {
    const code = link.code
    if (code === "ECONNREFUSED") return { reason: "Transport", text: `connection refused (ECONNREFUSED${where(link)})` }
    if (code === "ENOTFOUND" || code === "EAI_NONAME" || code === "EAI_NODATA" || code === "EAI_FAIL") {
      return {
        reason: "Transport",
        text: `DNS: host ${link.hostname ?? ""} not found (${code})`.replace("host  not", "host not")
      }
    }
    if (code === "EAI_AGAIN") {
      return { reason: "Transport", text: `DNS: lookup of ${link.hostname ?? "the host"} failed for now (EAI_AGAIN)` }
    }
    if (code === "ECONNRESET") return { reason: "Transport", text: `connection reset by the server (ECONNRESET)` }
    if (code === "EHOSTUNREACH" || code === "ENETUNREACH") {
      return { reason: "Transport", text: `${code === "EHOSTUNREACH" ? "host" : "network"} unreachable (${code})` }
    }
    if (code === "ETIMEDOUT" || code === "UND_ERR_CONNECT_TIMEOUT") {
      return { reason: "Timeout", text: `connecting timed out (${code})` }
    }
    if (code !== undefined && certificateCodes.has(code)) {
      return { reason: "Transport", text: `TLS: the server's certificate was rejected (${code}: ${link.message})` }
    }
    if (
      code !== undefined && (code.startsWith("ERR_SSL_") || code === "EPROTO") ||
      /SSL routines|wrong version number/i.test(link.message)
    ) {
      const plain = /wrong version number|packet length too long|http request/i.test(link.message)
      return {
        reason: "Transport",
        text: `TLS handshake failed (${code ?? "SSL"}: ${link.message.replace(/^.*SSL routines:/, "")})${
          plain ? "; the server seems to speak plain HTTP: use an http:// base URL" : ""
        }`
      }
    }
    if (link.message === "bad port") {
      return { reason: "BadRequest", text: `fetch refuses this port ("bad port": a port reserved for other protocols)` }
    }
    if (code === "ERR_INVALID_URL" || /^Invalid URL/.test(link.message)) {
      return { reason: "BadRequest", text: `invalid URL` }
    }
    if (code === "UND_ERR_SOCKET" || /other side closed/.test(link.message)) {
      return { reason: "Transport", text: `the server closed the connection (${code ?? link.message})` }
    }
  }
  // none known: the innermost message that says something, with its code
  const inner = [...chain].reverse().find((link) => link.message !== "" || link.code !== undefined)
  if (inner === undefined) return { reason: "Transport", text: "the request failed" }
  return {
    reason: "Transport",
    text: inner.code === undefined ? inner.message : `${inner.message || inner.code} (${inner.code})`
  }
}

/**
 * Maps whatever an SDK call threw to a `ProviderError`. `now` is the clock's time, used to read
 * a `Retry-After` HTTP date; `url` is the endpoint named by errors that got no HTTP answer.
 */
export const toProviderError = (
  cause: unknown,
  context: {
    readonly provider: string
    readonly model: string
    readonly now: number
    readonly url?: string | undefined
    readonly timeoutMillis?: number | undefined
  }
): Provider.ProviderError => {
  const base = { provider: context.provider, model: context.model, cause }
  const at = context.url === undefined ? "" : `POST ${context.url}: `
  if (cause instanceof Provider.ProviderError) return cause
  const error = cause as Error & SdkApiError
  const name = cause instanceof Error ? (error.constructor?.name ?? error.name) : ""
  if (name === "APIConnectionTimeoutError" || (cause instanceof Error && error.name === "TimeoutError")) {
    const within = context.timeoutMillis === undefined ? "" : ` within ${context.timeoutMillis} ms`
    return new Provider.ProviderError({ ...base, reason: "Timeout", detail: `${at}no response${within}` })
  }
  if (name === "APIUserAbortError" || (cause instanceof Error && error.name === "AbortError")) {
    return new Provider.ProviderError({ ...base, reason: "Transport", detail: `${at}aborted: ${error.message}` })
  }
  const status = cause instanceof Error && typeof error.status === "number" ? error.status : undefined
  if (status === undefined) {
    const failure = describeConnectionFailure(cause)
    return new Provider.ProviderError({ ...base, reason: failure.reason, detail: `${at}${failure.text}` })
  }
  const detail = clip(vendorMessage(error.error, error.message), 2000)
  const code = vendorCode(error.error)
  const withStatus = { ...base, status, detail }
  if (status === 429) {
    const wait = Provider.retryAfterMillis(error.headers, context.now)
    return new Provider.ProviderError({
      ...withStatus,
      reason: "RateLimited",
      ...(wait === undefined ? {} : { retryAfterMillis: wait })
    })
  }
  if (status === 401 || status === 403) return new Provider.ProviderError({ ...withStatus, reason: "Unauthorized" })
  if (status === 404) {
    return /model/i.test(detail) || /model/i.test(code)
      ? new Provider.ProviderError({ ...withStatus, reason: "ModelNotFound" })
      : new Provider.ProviderError({
        ...withStatus,
        reason: "BadRequest",
        detail: `${detail} (check the base URL: ${context.url ?? "?"})`
      })
  }
  if (status === 408) return new Provider.ProviderError({ ...withStatus, reason: "Timeout" })
  if (contextPattern.test(detail) || contextPattern.test(code)) {
    return new Provider.ProviderError({ ...withStatus, reason: "ContextLengthExceeded" })
  }
  if (status >= 500) {
    const wait = Provider.retryAfterMillis(error.headers, context.now)
    return new Provider.ProviderError({
      ...withStatus,
      reason: "Unavailable",
      ...(wait === undefined ? {} : { retryAfterMillis: wait })
    })
  }
  return new Provider.ProviderError({ ...withStatus, reason: "BadRequest" })
}

/**
 * The error for an error event inside a `200` stream (a vendor that fails mid-answer: overloaded,
 * rate limited, ...), classified by its type or code.
 */
export const streamErrorReason = (body: unknown): Provider.ProviderError["reason"] => {
  const code = `${vendorCode(body)} ${vendorMessage(body, "")}`
  if (/rate.?limit/i.test(code)) return "RateLimited"
  if (contextPattern.test(code)) return "ContextLengthExceeded"
  if (/authentication|permission|unauthori[sz]ed|forbidden/i.test(code)) return "Unauthorized"
  if (/invalid_request|bad.?request/i.test(code)) return "BadRequest"
  return "Unavailable"
}

/** An SDK's client, loaded on first use (see `internal/lazy`); a failed load is `Unavailable`. */
export const sdkClient = <A>(
  load: () => Promise<A>,
  context: { readonly provider: string; readonly sdk: string }
): Effect.Effect<A, Provider.ProviderError> =>
  Effect.tryPromise({
    try: load,
    catch: (cause) =>
      new Provider.ProviderError({
        reason: "Unavailable",
        provider: context.provider,
        detail: `cannot load the ${context.sdk} SDK: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  })

/**
 * A Schema failure as an error detail: what is wrong and where, cut to a few hundred characters
 * (the actual value can be megabytes, or nested so deep that formatting it overflows the stack).
 */
export const formatIssue = (error: ParseResult.ParseError): string => {
  try {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
    const shown = issues.slice(0, 3).map((issue) => {
      const path = issue.path.map((key) => typeof key === "number" ? `[${key}]` : `.${String(key)}`).join("")
      return `${path === "" ? "" : `${path.replace(/^\./, "")}: `}${clip(firstLine(issue.message), 200)}`
    })
    return shown.join("; ") + (issues.length > 3 ? ` (and ${issues.length - 3} more)` : "")
  } catch {
    return "a value has the wrong type or nests too deep to show"
  }
}

// -----------------------------------------------------------------------------
// the adapter scaffolding
// -----------------------------------------------------------------------------

/** The response rath reads: status, headers and body, as fetch gives them. */
export interface ResponseLike {
  readonly status: number
  readonly headers: HeadersLike
  readonly body: ReadableStream<Uint8Array> | null
}

/** One server-sent event: its name (`message` when none) and its data text. */
export interface SseEvent {
  readonly event: string
  readonly data: string
}

/**
 * What a stream decoder makes of one event: stream parts, `"end"` for the event that ends the
 * answer (nothing after it is read), or the error that fails the stream.
 */
export type EventResult = Either.Either<ReadonlyArray<Provider.StreamPart> | "end", Provider.ProviderError>

/**
 * A server-sent events parser (the WHATWG event-stream format: `data`, `event`, comments, LF, CR
 * or CRLF line ends, a leading BOM; `id` and `retry` are of no use here and ignored). Linear in
 * its input: each chunk is scanned once, whatever the size of its events (the parser in
 * `@effect/experimental` rescans a chunk from its start for every line). `feed` returns false when
 * an event grows past `maxEventSize` characters. An event is dispatched at its blank line; an
 * unfinished one at the end of the body is dropped, as the format says.
 */
export const sseParser = (onEvent: (event: SseEvent) => void, maxEventSize: number) => {
  let partial = "" // the start of a line whose end has not arrived
  let data: Array<string> = []
  let dataSize = 0
  let name: string | undefined
  let first = true
  let skipLf = false // the previous chunk ended with CR: a LF starting this one belongs to it
  const line = (text: string) => {
    if (text === "") {
      if (data.length > 0) onEvent({ event: name ?? "message", data: data.join("\n") })
      data = []
      dataSize = 0
      name = undefined
      return
    }
    if (text.charCodeAt(0) === 58) return // ":" starts a comment
    const colon = text.indexOf(":")
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? "" : text.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === "data") {
      data.push(value)
      dataSize += value.length + 1
    } else if (field === "event") {
      name = value
    }
  }
  const feed = (chunk: string): boolean => {
    let start = 0
    if (first && chunk.length > 0) {
      first = false
      if (chunk.charCodeAt(0) === 0xfeff) start = 1
    }
    if (skipLf && chunk.length > start) {
      skipLf = false
      if (chunk.charCodeAt(start) === 10) start++
    }
    // the next LF and CR at or after `start` (-1: none left in this chunk)
    let lf = -2
    let cr = -2
    while (start < chunk.length) {
      if (lf !== -1 && lf < start) lf = chunk.indexOf("\n", start)
      if (cr !== -1 && cr < start) cr = chunk.indexOf("\r", start)
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
      if (end === -1) {
        partial += chunk.slice(start)
        break
      }
      line(partial === "" ? chunk.slice(start, end) : partial + chunk.slice(start, end))
      partial = ""
      start = end + 1
      if (end === cr) {
        // CRLF is one line end; a CR at the end of the chunk may be followed by the LF in the next
        if (start === chunk.length) skipLf = true
        else if (chunk.charCodeAt(start) === 10) start++
      }
    }
    return partial.length + dataSize <= maxEventSize
  }
  return { feed }
}

const mediaType = (response: ResponseLike): string =>
  (response.headers.get("content-type") ?? "").split(";", 1)[0]!.trim().toLowerCase()

const isJsonType = (type: string): boolean => type === "application/json" || type.endsWith("+json")

/**
 * The scaffolding both HTTP adapters share: the request context of their errors, SDK failures
 * mapped to `ProviderError`s, the provider evidence, a JSON answer read whole (`json`) and an SSE
 * answer turned into stream parts (`stream`), each within the timeout and the size cap, aborted
 * when they stop.
 */
export const adapter = (options: {
  readonly kind: string
  readonly model: string
  readonly baseUrl: string
  /** The endpoint path below the base URL, for error messages ("/chat/completions"). */
  readonly path: string
  readonly timeoutMillis?: number | undefined
  readonly maxResponseBytes?: number | undefined
}) => {
  const host = hostOf(options.baseUrl)
  const url = endpointOf(options.baseUrl, options.path)
  const info = { kind: options.kind, model: options.model, host }
  const timeoutMillis = options.timeoutMillis ?? DEFAULT_TIMEOUT_MILLIS
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  const context = (request: Provider.Request) => ({ provider: options.kind, model: request.model ?? options.model })
  const fail = (request: Provider.Request) => (cause: unknown) =>
    Effect.flatMap(
      Effect.clockWith((clock) => clock.currentTimeMillis),
      (now) => Effect.fail(toProviderError(cause, { ...context(request), now, url, timeoutMillis }))
    )
  const providerInfo = (requestId: string | undefined) => ({
    kind: options.kind,
    host,
    ...(requestId === undefined ? {} : { requestId })
  })
  const invalid = (request: Provider.Request, status: number | undefined, detail: string) =>
    new Provider.ProviderError({
      ...context(request),
      reason: "InvalidResponse",
      ...(status === undefined ? {} : { status }),
      detail
    })
  const timeout = (request: Provider.Request, detail: string) =>
    new Provider.ProviderError({ ...context(request), reason: "Timeout", detail: `POST ${url}: ${detail}` })
  const cut = (request: Provider.Request, cause: unknown) => {
    const failure = describeConnectionFailure(cause)
    return new Provider.ProviderError({
      ...context(request),
      reason: failure.reason === "BadRequest" ? "Transport" : failure.reason,
      detail: `POST ${url}: the connection broke while the response was read: ${failure.text}`,
      cause
    })
  }

  /** Decodes a value with a wire schema; a mismatch is `InvalidResponse` naming `what`. */
  const decode = <A, I>(schema: Schema.Schema<A, I>) => {
    const run = Schema.decodeUnknownEither(schema)
    return (request: Provider.Request, status: number, what: string, value: unknown) =>
      Either.mapLeft(run(value), (error) => invalid(request, status, `${what} is malformed: ${formatIssue(error)}`))
  }

  /** Parses JSON text; failure is `InvalidResponse` naming `what`. */
  const parseJson = (
    request: Provider.Request,
    status: number,
    what: string,
    text: string
  ): Either.Either<unknown, Provider.ProviderError> => {
    try {
      return Either.right(JSON.parse(text))
    } catch (cause) {
      return Either.left(
        invalid(request, status, `${what} is not valid JSON (${cause instanceof Error ? cause.message : cause})`)
      )
    }
  }

  /** An abort controller aborted when the scope closes: it cancels the HTTP request and its body. */
  const abortOnClose = Effect.acquireRelease(
    Effect.sync(() => new AbortController()),
    (controller) => Effect.sync(() => controller.abort())
  )

  /**
   * Sends the request through the SDK (`run` gets the abort signal and gives the raw response
   * once its status has been checked), its SDK log lines going to this fiber's logger.
   */
  const open = (
    request: Provider.Request,
    run: (signal: AbortSignal) => Promise<ResponseLike>,
    signal: AbortSignal
  ): Effect.Effect<ResponseLike, Provider.ProviderError> =>
    Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Effect.tryPromise({
        try: () => callRuntime.run(runtime, () => run(signal)),
        catch: (cause) => cause
      })).pipe(Effect.catchAll(fail(request)))

  /** The reader of a body, released (cancelled, not awaited: a stalled body never settles) on close. */
  const reader = (request: Provider.Request, response: ResponseLike) =>
    response.body === null
      ? Effect.fail(invalid(request, response.status, "the response has no body"))
      : Effect.acquireRelease(
        Effect.sync(() => response.body!.getReader()),
        (reader) => Effect.sync(() => void reader.cancel().catch(() => undefined))
      )

  const read = (request: Provider.Request, body: ReadableStreamDefaultReader<Uint8Array>) =>
    Effect.tryPromise({ try: () => body.read(), catch: (cause) => cut(request, cause) })

  const tooLarge = (request: Provider.Request, status: number) =>
    invalid(request, status, `the response is larger than maxResponseBytes (${maxBytes} bytes)`)

  const badUtf8 = (request: Provider.Request, status: number) =>
    invalid(request, status, "the response is not valid UTF-8")

  /**
   * A JSON answer: request, headers and the whole body within `timeoutMillis`; a body that is not
   * `application/json`, larger than the cap, not UTF-8 or not JSON is `InvalidResponse`.
   */
  const json = (
    request: Provider.Request,
    run: (signal: AbortSignal) => Promise<ResponseLike>
  ): Effect.Effect<{ readonly body: unknown; readonly response: ResponseLike }, Provider.ProviderError> =>
    Effect.scoped(Effect.gen(function*() {
      const controller = yield* abortOnClose
      const response = yield* open(request, run, controller.signal)
      const body = yield* reader(request, response)
      const chunks: Array<Uint8Array> = []
      let size = 0
      while (true) {
        const next = yield* read(request, body)
        if (next.done === true) break
        size += next.value.byteLength
        if (size > maxBytes) return yield* tooLarge(request, response.status)
        chunks.push(next.value)
      }
      const bytes = Buffer.concat(chunks, size)
      const type = mediaType(response)
      if (!isJsonType(type)) {
        return yield* invalid(
          request,
          response.status,
          `expected an application/json body, got ${type === "" ? "no content type" : type}: ${
            JSON.stringify(clip(new TextDecoder().decode(bytes.subarray(0, 400)), 120))
          }`
        )
      }
      let text: string
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
      } catch {
        return yield* badUtf8(request, response.status)
      }
      const parsed = parseJson(request, response.status, "the response", text)
      if (Either.isLeft(parsed)) return yield* parsed.left
      return { body: parsed.right, response }
    })).pipe(
      Effect.timeoutFail({
        duration: Duration.millis(timeoutMillis),
        onTimeout: () => timeout(request, `no complete response within ${timeoutMillis} ms (timeoutMillis)`)
      })
    )

  /**
   * An SSE answer: the headers within `timeoutMillis`, then each event within `timeoutMillis` of the
   * one before (a stream silent that long is a `Timeout`). `decoder` makes, for each run of the
   * stream (a retry runs it again), the fold that turns events into stream parts and, at the end,
   * the closing parts (`end`: it gets the error of a connection that broke, and decides whether
   * what arrived is still a whole answer). A request id from the response headers comes first, as
   * a `Metadata` part. The body must be `text/event-stream`, UTF-8, within the size cap.
   */
  const stream = (request: Provider.Request, spec: {
    readonly open: (signal: AbortSignal) => Promise<ResponseLike>
    readonly requestIdHeader: string
    readonly decoder: () => {
      readonly event: (event: SseEvent, status: number) => EventResult
      readonly end: (
        response: ResponseLike,
        headerId: string | undefined,
        broken: Provider.ProviderError | undefined
      ) => Either.Either<ReadonlyArray<Provider.StreamPart>, Provider.ProviderError>
    }
  }): Stream.Stream<Provider.StreamPart, Provider.ProviderError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const controller = yield* abortOnClose
      const response = yield* open(request, spec.open, controller.signal).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMillis),
          onTimeout: () => timeout(request, `no response within ${timeoutMillis} ms (timeoutMillis)`)
        })
      )
      const type = mediaType(response)
      if (type !== "text/event-stream") {
        return yield* invalid(
          request,
          response.status,
          `expected a text/event-stream body, got ${type === "" ? "no content type" : type}`
        )
      }
      const body = yield* reader(request, response)
      const decoder = spec.decoder()
      const headerId = response.headers.get(spec.requestIdHeader) ?? undefined
      const status = response.status
      const utf8 = new TextDecoder("utf-8", { fatal: true })
      const pending: Array<SseEvent> = []
      const parser = sseParser((event) => pending.push(event), maxBytes)
      let size = 0
      let ended = false
      const close = (
        broken: Provider.ProviderError | undefined
      ): Effect.Effect<ReadonlyArray<Provider.StreamPart>, Option.Option<Provider.ProviderError>> => {
        ended = true
        return Either.match(decoder.end(response, headerId, broken), {
          onLeft: (error) => Effect.fail(Option.some(error)),
          onRight: Effect.succeed
        })
      }
      // one pull: read until at least one event is complete (or the body ends), and decode it
      const pull: Effect.Effect<Chunk.Chunk<Provider.StreamPart>, Option.Option<Provider.ProviderError>> = Effect
        .gen(function*() {
          if (ended) return yield* Effect.fail(Option.none())
          const parts: Array<Provider.StreamPart> = []
          while (pending.length === 0) {
            const next = yield* Effect.either(read(request, body))
            if (Either.isLeft(next)) return Chunk.unsafeFromArray([...yield* close(next.left)])
            if (next.right.done === true) {
              try {
                utf8.decode()
              } catch {
                return yield* Effect.fail(Option.some(badUtf8(request, status)))
              }
              return Chunk.unsafeFromArray([...yield* close(undefined)])
            }
            size += next.right.value.byteLength
            if (size > maxBytes) return yield* Effect.fail(Option.some(tooLarge(request, status)))
            let text: string
            try {
              text = utf8.decode(next.right.value, { stream: true })
            } catch {
              return yield* Effect.fail(Option.some(badUtf8(request, status)))
            }
            if (!parser.feed(text)) {
              return yield* Effect.fail(
                Option.some(invalid(request, status, `an event is larger than maxResponseBytes (${maxBytes})`))
              )
            }
          }
          for (let i = 0; i < pending.length; i++) {
            const result = decoder.event(pending[i]!, status)
            if (Either.isLeft(result)) {
              pending.length = 0
              return yield* Effect.fail(Option.some(result.left))
            }
            if (result.right === "end") {
              pending.length = 0
              for (const part of yield* close(undefined)) parts.push(part)
              return Chunk.unsafeFromArray(parts)
            }
            for (const part of result.right) parts.push(part)
          }
          pending.length = 0
          return Chunk.unsafeFromArray(parts)
        })
        .pipe(
          Effect.timeoutFail({
            duration: Duration.millis(timeoutMillis),
            onTimeout: () =>
              Option.some(timeout(request, `the stream sent no event for ${timeoutMillis} ms (timeoutMillis)`))
          })
        )
      const head: Array<Provider.StreamPart> = headerId === undefined ? [] : [{ _tag: "Metadata", requestId: headerId }]
      return Stream.fromIterable(head).pipe(Stream.concat(Stream.repeatEffectChunkOption(pull)))
    }))

  return { info, host, url, context, fail, providerInfo, invalid, decode, parseJson, json, stream }
}

/** The error for a stream that ended before the model finished (a connection cut cleanly). */
export const truncated = (
  context: { readonly provider: string; readonly model: string },
  broken?: Provider.ProviderError
): Provider.ProviderError =>
  broken ?? new Provider.ProviderError({
    provider: context.provider,
    model: context.model,
    reason: "Transport",
    detail: "the stream ended before the model finished (connection cut?)"
  })

/** A `ProviderError` for an error event inside a stream (the vendor failed mid-answer). */
export const streamError = (
  context: { readonly provider: string; readonly model: string },
  status: number,
  body: unknown
): Provider.ProviderError =>
  new Provider.ProviderError({
    ...context,
    reason: streamErrorReason(body),
    status,
    detail: `error event in the stream: ${clip(vendorMessage(body, safeJson(body)), 2000)}`
  })

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return "(an error body too deep to show)"
  }
}
