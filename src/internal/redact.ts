/**
 * Known secrets and their removal from text. A secret is known when a provider was built with it
 * (`OpenAi.make`, `Anthropic.make`) or when the provider configuration named it (an `apiKey`, a
 * header value; an MCP server's `env` and `headers` are kept out of config errors but not yet
 * registered here, so an MCP server echoing its token is not masked); the text that leaves rath's hands — an error's
 * message, an entry's `detail` — is passed through {@link text} first, so a gateway that echoes the
 * key in its 401 body never gets it printed or persisted.
 *
 * The secrets a program knows live in a `FiberRef` ({@link known}): `ProviderConfig.layer` adds the
 * configured ones for the lifetime of the layer (as `Logger.replace` does with loggers), and
 * `Agent` reads them when it writes a run's end. A provider also scrubs its own errors with the key
 * it holds ({@link provider}), whether or not anything registered it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Provider from "../Provider.js"

/** What a secret becomes in text. */
export const MASK = "<redacted>"

/**
 * Shorter values are not treated as secrets: masking every `"k"` or `"1"` in a message would
 * garble it and protect nothing (no real key is that short).
 */
export const MIN_LENGTH = 4

/**
 * Whether a field's value is a secret: its name ends in key, token, secret, password,
 * authorization, cookie or credential (`apiKey`, `x-api-key`, `Authorization`, `GITHUB_TOKEN`), but
 * not `...Env` (`apiKeyEnv` names a variable, it holds no key).
 */
export const isSecretField = (name: string): boolean =>
  /(key|token|secret|password|passwd|authorization|auth|cookie|credentials?)s?$/i.test(name)

/** The secrets known to this fiber (and the fibers it forks). */
export const known: FiberRef.FiberRef<ReadonlyArray<string>> = globalValue(
  Symbol.for("rath/internal/redact/known"),
  () => FiberRef.unsafeMake<ReadonlyArray<string>>([])
)

/** The usable secrets of a list: strings, trimmed, long enough, each once, longest first. */
export const normalize = (secrets: Iterable<string | Redacted.Redacted<string>>): ReadonlyArray<string> => {
  const out = new Set<string>()
  for (const secret of secrets) {
    const value = (Redacted.isRedacted(secret) ? Redacted.value(secret) : secret).trim()
    if (value.length >= MIN_LENGTH) out.add(value)
  }
  // longest first: a secret that contains another is masked whole
  return [...out].sort((a, b) => b.length - a.length)
}

/**
 * The forms a secret can take in text: as is, and escaped inside a JSON string (a body that
 * quotes it), when that differs.
 */
const formsOf = (secret: string): ReadonlyArray<string> => {
  const escaped = JSON.stringify(secret).slice(1, -1)
  return escaped === secret ? [secret] : [secret, escaped]
}

/** The text with every occurrence of every secret replaced by {@link MASK}. */
export const text = (value: string, secrets: ReadonlyArray<string>): string => {
  let out = value
  for (const secret of secrets) {
    for (const form of formsOf(secret)) {
      if (out.includes(form)) out = out.split(form).join(MASK)
    }
  }
  return out
}

/** Whether a text holds any of the secrets. */
export const contains = (value: string, secrets: ReadonlyArray<string>): boolean =>
  secrets.some((secret) => formsOf(secret).some((form) => value.includes(form)))

/** {@link text} with the secrets known to the current fiber. */
export const current = (value: string): Effect.Effect<string> =>
  Effect.map(FiberRef.get(known), (secrets) => text(value, secrets))

/** Adds secrets to the current fiber's known ones for the scope. */
export const addScoped = (
  secrets: Iterable<string | Redacted.Redacted<string>>
): Effect.Effect<void, never, Scope.Scope> => {
  const added = normalize(secrets)
  return added.length === 0
    ? Effect.void
    : Effect.asVoid(Effect.locallyScopedWith(known, (old) => normalize([...old, ...added])))
}

/**
 * A `ProviderError` whose detail holds none of the secrets; its cause (the SDK's error, which
 * carries the vendor's body) is replaced by a plain error with the redacted message when it holds
 * one. The error itself when it holds none.
 */
export const providerError = (
  error: Provider.ProviderError,
  secrets: ReadonlyArray<string>
): Provider.ProviderError => {
  const causeText = error.cause === undefined ? "" : causeMessage(error.cause)
  const leaksDetail = contains(error.detail, secrets)
  const leaksCause = causeText !== "" && contains(causeText, secrets)
  if (!leaksDetail && !leaksCause) return error
  return new Provider.ProviderError({
    reason: error.reason,
    provider: error.provider,
    detail: text(error.detail, secrets),
    ...(error.model === undefined ? {} : { model: text(error.model, secrets) }),
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.retryAfterMillis === undefined ? {} : { retryAfterMillis: error.retryAfterMillis }),
    ...(error.cause === undefined
      ? {}
      : { cause: leaksCause ? new Error(text(causeText, secrets)) : error.cause })
  })
}

const causeMessage = (cause: unknown): string => {
  if (cause instanceof Error) {
    const parts = [cause.message, cause.stack ?? ""]
    // SDK errors keep the vendor body and headers on fields of their own
    for (const field of ["error", "body", "headers", "response"]) {
      const value = (cause as unknown as Record<string, unknown>)[field]
      if (value !== undefined) parts.push(safeString(value))
    }
    return parts.join("\n")
  }
  return safeString(cause)
}

const safeString = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch (_) {
    return String(value)
  }
}

/**
 * A provider whose failures (of `chat`, and of `stream` at any point) never carry the given
 * secrets; the provider itself when there are none.
 */
export const provider = (
  service: Provider.Service,
  secrets: Iterable<string | Redacted.Redacted<string>>
): Provider.Service => {
  const list = normalize(secrets)
  if (list.length === 0) return service
  const scrub = (error: Provider.ProviderError) => providerError(error, list)
  return Provider.Provider.of({
    info: service.info,
    chat: (request) => Effect.mapError(service.chat(request), scrub),
    stream: (request) =>
      Stream.mapError(service.stream(request), scrub).pipe(
        // a retry part carries the failed attempt's error
        Stream.map((part) => part._tag === "Retry" ? { ...part, error: scrub(part.error) } : part)
      )
  })
}
