/**
 * The Postgres SessionStore backend.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as SessionStore from "../SessionStore.js"
import type { PgErrorFields } from "./storePgUrl.js"

export interface Config {
  readonly url: Redacted.Redacted<string>
  readonly maxConnections: number
  readonly connectTimeout: Duration.DurationInput
  readonly applicationName: string
}

export const make = (
  _config: Config,
  fail: (fields: PgErrorFields) => SessionStore.SessionStoreError
): Effect.Effect<SessionStore.Service, SessionStore.SessionStoreError, Scope.Scope> =>
  Effect.fail(fail({ reason: "Unavailable", detail: "the Postgres store is not built yet" }))
