/**
 * What the HTTP adapters share: mapping an SDK failure to a `ProviderError`, the endpoint host,
 * the finish-of-stream check.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Provider from "../Provider.js"

/**
 * The values of an SDK's async iterable, failing with whatever it throws. Unlike
 * `Stream.fromAsyncIterable` it does not await `iterator.return()` when the stream stops: a
 * pending `next()` on a stalled connection would never settle. Closing the HTTP request is the
 * adapter's job (its `AbortController` is aborted when the stream's scope closes).
 */
export const iterate = <A>(iterable: AsyncIterable<A>): Stream.Stream<A, unknown> =>
  Stream.suspend(() => {
    const iterator = iterable[Symbol.asyncIterator]()
    return Stream.repeatEffectOption(
      Effect.tryPromise({ try: () => iterator.next(), catch: (cause) => Option.some(cause) }).pipe(
        Effect.flatMap((result) => result.done === true ? Effect.fail(Option.none()) : Effect.succeed(result.value))
      )
    )
  })

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

const vendorMessage = (error: SdkApiError): string => {
  const body = error.error
  if (isObject(body)) {
    const inner = isObject(body.error) ? body.error : body
    if (typeof inner.message === "string" && inner.message !== "") return inner.message
  }
  return error.message
}

const vendorCode = (error: SdkApiError): string => {
  const body = error.error
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
 * Maps whatever an SDK call threw to a `ProviderError`. `now` is the clock's time, used to read
 * a `Retry-After` HTTP date.
 */
export const toProviderError = (
  cause: unknown,
  context: { readonly provider: string; readonly model: string; readonly now: number }
): Provider.ProviderError => {
  const base = { provider: context.provider, model: context.model, cause }
  if (cause instanceof Provider.ProviderError) return cause
  if (!(cause instanceof Error)) {
    return new Provider.ProviderError({ ...base, reason: "Transport", detail: String(cause) })
  }
  const error = cause as Error & SdkApiError
  const name = error.constructor?.name ?? error.name
  if (name === "APIConnectionTimeoutError" || error.name === "TimeoutError") {
    return new Provider.ProviderError({ ...base, reason: "Timeout", detail: error.message })
  }
  if (name === "APIUserAbortError" || error.name === "AbortError") {
    return new Provider.ProviderError({ ...base, reason: "Transport", detail: `aborted: ${error.message}` })
  }
  if (error instanceof SyntaxError) {
    return new Provider.ProviderError({
      ...base,
      reason: "InvalidResponse",
      detail: `the response is not valid JSON: ${error.message}`
    })
  }
  const status = typeof error.status === "number" ? error.status : undefined
  if (status === undefined) {
    const inner = error.cause instanceof Error ? `: ${error.cause.message}` : ""
    return new Provider.ProviderError({ ...base, reason: "Transport", detail: `${error.message}${inner}` })
  }
  const detail = vendorMessage(error)
  const code = vendorCode(error)
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
      : new Provider.ProviderError({ ...withStatus, reason: "BadRequest", detail: `${detail} (check the base URL)` })
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

/** The error for a stream that ended without its finish event (a connection cut cleanly). */
/** An adapter's SDK client, loaded on first use (see `internal/lazy`); a failed load is `Unavailable`. */
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

export const truncated = (context: { readonly provider: string; readonly model: string }): Provider.ProviderError =>
  new Provider.ProviderError({
    provider: context.provider,
    model: context.model,
    reason: "Transport",
    detail: "the stream ended before the model finished (connection cut?)"
  })

/** What an HTTP response gives an adapter: its status and headers. */
export interface ResponseLike {
  readonly status: number
  readonly headers: HeadersLike
}

/**
 * The scaffolding both HTTP adapters share: the request context of their errors, SDK failures
 * mapped to `ProviderError`s (with the clock's time, for `Retry-After` dates), the provider
 * evidence, and a vendor event stream turned into stream parts with an idle timeout, abort on
 * close, and the end-of-stream checks.
 */
export const adapter = (options: {
  readonly kind: string
  readonly model: string
  readonly baseUrl: string
  readonly timeoutMillis?: number | undefined
}) => {
  const host = hostOf(options.baseUrl)
  const info = { kind: options.kind, model: options.model, host }
  const context = (request: Provider.Request) => ({ provider: options.kind, model: request.model ?? options.model })
  const fail = (request: Provider.Request) => (cause: unknown) =>
    Effect.flatMap(
      Effect.clockWith((clock) => clock.currentTimeMillis),
      (now) => Effect.fail(toProviderError(cause, { ...context(request), now }))
    )
  const providerInfo = (requestId: string | undefined) => ({
    kind: options.kind,
    host,
    ...(requestId === undefined ? {} : { requestId })
  })
  const invalid = (request: Provider.Request, status: number, detail: string) =>
    new Provider.ProviderError({ ...context(request), reason: "InvalidResponse", status, detail })

  /** One SDK call, interruptible (the signal aborts the request), its failure mapped. */
  const call = <A>(request: Provider.Request, run: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: (cause) => cause }).pipe(Effect.catchAll(fail(request)))

  /**
   * A streamed call: `open` starts it with a signal that is aborted when the stream's scope
   * closes (end, failure, interruption); `decoder` makes, for each run of the stream (a retry
   * runs it again), the fold that turns vendor events into stream parts (`parts`) and checks at
   * the end that the vendor finished (`end`). A request id from the response headers comes
   * first, as a `Metadata` part.
   */
  const stream = <Event>(request: Provider.Request, spec: {
    readonly open: (
      signal: AbortSignal
    ) => Promise<{ readonly data: AsyncIterable<Event>; readonly response: ResponseLike }>
    readonly requestIdHeader: string
    readonly decoder: () => {
      readonly parts: (event: Event) => Iterable<Provider.StreamPart>
      readonly end: (
        response: ResponseLike,
        headerId: string | undefined
      ) => Effect.Effect<Iterable<Provider.StreamPart>, Provider.ProviderError>
    }
  }): Stream.Stream<Provider.StreamPart, Provider.ProviderError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const controller = yield* Effect.acquireRelease(
        Effect.sync(() => new AbortController()),
        (controller) => Effect.sync(() => controller.abort())
      )
      const { data, response } = yield* call(request, () => spec.open(controller.signal))
      const decoder = spec.decoder()
      const headerId = response.headers.get(spec.requestIdHeader) ?? undefined
      const head: Array<Provider.StreamPart> = headerId === undefined ? [] : [{ _tag: "Metadata", requestId: headerId }]
      const millis = options.timeoutMillis
      const events = iterate(data).pipe(Stream.catchAll((cause) => Stream.fromEffect(fail(request)(cause))))
      // the SDK's timeout covers the wait for the response headers; a stream that then stalls
      // for as long is a Timeout too
      const timed = millis === undefined ? events : Stream.timeoutFail(events, () =>
        new Provider.ProviderError({
          ...context(request),
          reason: "Timeout",
          detail: `the stream sent nothing for ${millis} ms`
        }), Duration.millis(millis))
      return Stream.fromIterable(head).pipe(
        Stream.concat(Stream.mapConcat(timed, decoder.parts)),
        Stream.concat(Stream.flattenIterables(Stream.fromEffect(Effect.suspend(() => decoder.end(response, headerId)))))
      )
    }))

  return { info, host, context, fail, providerInfo, invalid, call, stream }
}
