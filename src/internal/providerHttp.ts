/**
 * What the HTTP adapters share: mapping an SDK failure to a `ProviderError`, the endpoint host,
 * the finish-of-stream check.
 *
 * @internal
 */
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
export const truncated = (context: { readonly provider: string; readonly model: string }): Provider.ProviderError =>
  new Provider.ProviderError({
    provider: context.provider,
    model: context.model,
    reason: "Transport",
    detail: "the stream ended before the model finished (connection cut?)"
  })
