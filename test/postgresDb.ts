/**
 * One PostgreSQL server per test file (`PgServer`, started by `startPostgres`) and a fresh,
 * empty database on it per test (`freshDatabase`), so tests that list or prune see only their own
 * sessions.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Effect, Layer, Redacted } from "effect"
import { type Postgres, startPostgres } from "./postgres.js"

export class PgServer extends Context.Tag("test/PgServer")<PgServer, Postgres>() {}

/** The server, started once for the layer's lifetime (a `layer(...)` block: once per file). */
export const PgServerLive: Layer.Layer<PgServer, Error> = Layer.scoped(PgServer, startPostgres)

let counter = 0

/** Runs one statement on the database of `url` (on a client of its own, closed after it); its rows. */
export const adminQuery = (url: string, text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.scoped(Effect.gen(function*() {
    const sql = yield* PgClient.make({ url: Redacted.make(url), maxConnections: 1 })
    return yield* sql.unsafe<Record<string, unknown>>(text, params as Array<unknown>)
  })).pipe(Effect.provide(Reactivity.layer), Effect.orDie)

/** A new empty database on the server; its URL. */
export const freshDatabase: Effect.Effect<string, never, PgServer> = Effect.gen(function*() {
  const server = yield* PgServer
  const name = `t_${process.pid}_${++counter}`
  yield* adminQuery(server.url, `CREATE DATABASE ${name}`)
  return server.url.replace(/\/rath$/, `/${name}`)
})
