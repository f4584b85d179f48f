/**
 * Helpers shared by the tests.
 */
import { FileSystem } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert } from "@effect/vitest"
import Database from "better-sqlite3"
import { Cause, Effect, Exit, Schema } from "effect"
import { Replay, SessionStore } from "rath"

/** A new directory under the system's temp directory, named `<prefix>…`, removed with the scope. */
export const scopedTempDir = (prefix: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix })).pipe(
    Effect.provide(NodeFileSystem.layer),
    Effect.orDie
  )

/** Opens a SQLite store on `filename` for the duration of `body` (its own connection and cache). */
export const withSqliteStore = <A, E>(
  filename: string,
  body: (store: SessionStore.Service) => Effect.Effect<A, E>
): Effect.Effect<A, E | SessionStore.SessionStoreError> =>
  Effect.scoped(Effect.flatMap(SessionStore.makeSqlite({ filename }), body))

const isReplayError = Schema.is(Replay.ReplayError)

/**
 * The replay divergence behind a failure: the `ReplayError` found along the error's `cause`
 * chain (an agent's error carries the provider's, which carries the divergence), or undefined.
 */
export const divergenceOf = (error: unknown): Replay.ReplayError | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if (isReplayError(current)) return current
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}

/**
 * Runs `sql` on a SQLite file behind the store's back (to damage it): as a script, or as one
 * statement with `params`.
 */
export const editSqlite = (filename: string, sql: string, ...params: Array<unknown>) => {
  const db = new Database(filename)
  try {
    if (params.length === 0) db.exec(sql)
    else db.prepare(sql).run(...params)
  } finally {
    db.close()
  }
}

/** The failure of an open-and-read, asserting that it is a typed SessionStoreError, not a defect. */
export const typedStoreFailure = <A>(effect: Effect.Effect<A, SessionStore.SessionStoreError>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    assert.isTrue(Exit.isFailure(exit), "expected a failure")
    if (Exit.isSuccess(exit)) throw new Error("unreachable")
    assert.isFalse(Cause.isDie(exit.cause), `a defect: ${Cause.pretty(exit.cause)}`)
    const error = Cause.failureOption(exit.cause)
    assert.isTrue(error._tag === "Some")
    if (error._tag === "None") throw new Error("unreachable")
    return error.value
  })
