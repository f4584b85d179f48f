/**
 * Store URLs: which kind of store a URL names, a Postgres URL with its password masked for
 * messages, and the Postgres backend loaded on first use (so `rath` does not load `pg` for
 * programs that never open a Postgres store).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as SessionStore from "../SessionStore.js"
import { MASK } from "./redact.js"
import type { ErrorFields } from "./storeCodec.js"

/** The Postgres store's schema version (its own series, apart from SQLite's). */
export const PG_SCHEMA_VERSION = 1

/** The error fields of the Postgres store and the URL parser: those of `storeCodec`, and `InvalidUrl`. */
export interface PgErrorFields extends Omit<ErrorFields, "reason"> {
  readonly reason: ErrorFields["reason"] | "InvalidUrl"
}

type E = SessionStore.SessionStoreError

/** What a store URL names. */
export type Target =
  | { readonly _tag: "Memory" }
  | { readonly _tag: "Sqlite"; readonly filename: string }
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }

/**
 * The URL with its password replaced by the mask: what messages show. A text that does not
 * parse as a URL has everything between `://` and the last `@` masked (it may hold a password).
 */
export const maskUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password === "") return url
    parsed.password = MASK
    return parsed.toString().replace(encodeURIComponent(MASK), MASK)
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, `$1${MASK}@`)
  }
}

/** The password of a Postgres URL (decoded), if it has one: the secret to keep out of messages. */
export const passwordOf = (url: string): string | undefined => {
  try {
    const password = new URL(url).password
    return password === "" ? undefined : decodeURIComponent(password)
  } catch {
    return undefined
  }
}

const scheme = /^([a-z][a-z0-9+.-]*):/i

/**
 * Which store a URL names: `postgres://` or `postgresql://` (a host is required), `sqlite:<path>`
 * or `sqlite://<path>`, `memory:`, or a bare path (no scheme; a one-letter scheme is a Windows
 * drive, so a path). Anything else is `InvalidUrl`.
 */
export const parseStoreUrl = (url: string, fail: (fields: PgErrorFields) => E): Effect.Effect<Target, E> => {
  const invalid = (detail: string) => Effect.fail(fail({ reason: "InvalidUrl", detail }))
  const text = url.trim()
  if (text === "") return invalid("the store URL is empty: give postgres://…, sqlite:<path>, a path or memory:")
  const matched = scheme.exec(text)
  const kind = matched === null || matched[1]!.length === 1 ? undefined : matched[1]!.toLowerCase()
  if (kind === undefined) return Effect.succeed({ _tag: "Sqlite", filename: text })
  if (kind === "memory") {
    return text.length === "memory:".length
      ? Effect.succeed({ _tag: "Memory" })
      : invalid(`${text}: a memory store takes nothing after memory:`)
  }
  if (kind === "sqlite") {
    const filename = text.slice("sqlite:".length).replace(/^\/\//, "")
    return filename === ""
      ? invalid(`${text}: no file after sqlite: (write sqlite:.rath/rath.db, say)`)
      : Effect.succeed({ _tag: "Sqlite", filename })
  }
  if (kind === "postgres" || kind === "postgresql") {
    let parsed: URL
    try {
      parsed = new URL(text)
    } catch {
      return invalid(`${maskUrl(text)} is not a valid Postgres URL (write postgres://user:password@host:port/database)`)
    }
    if (parsed.hostname === "" && !parsed.searchParams.has("host")) {
      return invalid(`${maskUrl(text)} names no host (write postgres://user:password@host:port/database)`)
    }
    return Effect.succeed({ _tag: "Postgres", url: Redacted.make(text) })
  }
  return invalid(
    `${maskUrl(text)}: unknown kind of store ${kind}: (rath stores sessions in postgres://…, sqlite:<path> or memory:)`
  )
}

/** The Postgres backend, loaded on first use; a failed load is `Unavailable`. */
export const loadPg = (fail: (fields: PgErrorFields) => E) =>
  Effect.tryPromise({
    try: () => import("./storePg.js"),
    catch: (cause) => fail({ reason: "Unavailable", detail: `cannot load the Postgres store: ${String(cause)}`, cause })
  })
