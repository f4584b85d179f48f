/**
 * What only the Postgres store has: several processes on one database (two pools stand for two
 * processes), a server that refuses or does not answer, a database written by a newer rath,
 * damaged rows, and picking a store from a URL. One server for the file (`startPostgres`), a
 * fresh database per test; skipped outside CI when PostgreSQL is not installed.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { Deferred, Effect, Either, Equal, Exit, Fiber, Layer, Redacted, Schedule, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Entry, IdGenerator, Session, SessionStore } from "rath"
import { freePort, skipPostgres } from "./postgres.js"
import { adminQuery, freshDatabase, PgServerLive } from "./postgresDb.js"

const reasonOf = <A>(either: Either.Either<A, SessionStore.SessionStoreError>): string =>
  Either.isLeft(either) ? either.left.reason : "ok"

const grow = (session: Session.Session, n: number, label: string) =>
  Effect.reduce(
    Array.from({ length: n }, (_, i) => i),
    session,
    (s, i) => Session.append(s, Entry.user(`${label} ${i}`))
  )

const countNodes = (url: string) =>
  Effect.map(adminQuery(url, "SELECT count(*)::int AS nodes FROM rath_nodes"), (rows) => rows[0]!.nodes)

/**
 * Runs `race` with the session table locked (`LOCK TABLE … IN EXCLUSIVE MODE`, which blocks every
 * save at its row lock but not reads) until `waiting` of its writers wait on the lock, then lets
 * them all go at once: the writers are surely in flight together, not one after the other.
 */
const released = <A, E, R>(url: string, waiting: number, race: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.gen(function*() {
    const sql = yield* PgClient.make({ url: Redacted.make(url), maxConnections: 2 })
    const locked = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(sql.withTransaction(Effect.gen(function*() {
      yield* sql`LOCK TABLE rath_sessions IN EXCLUSIVE MODE`
      yield* Deferred.succeed(locked, undefined)
      yield* Deferred.await(release)
    })))
    yield* Deferred.await(locked)
    const racing = yield* Effect.fork(race)
    yield* sql<
      { n: number }
    >`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'rath_sessions'::regclass`
      .pipe(
        Effect.filterOrFail((rows) => rows[0]!.n >= waiting),
        Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 1000 })
      )
    yield* Deferred.succeed(release, undefined)
    yield* Fiber.join(holder)
    return yield* Fiber.join(racing)
  })).pipe(Effect.provide(Reactivity.layer), Effect.orDie)

/** Two stores on one database, each on its own pool: two processes' worth of writers. */
const twoStores = (url: string) =>
  Effect.all([SessionStore.makePg({ url, maxConnections: 4 }), SessionStore.makePg({ url, maxConnections: 4 })])

describe("SessionStore.parseUrl via makeFromUrl", () => {
  it.scoped("a bare path or sqlite: is SQLite, memory: is in memory, anything else InvalidUrl with the password masked", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "rath-url-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      for (
        const url of [join(dir, "a.db"), `sqlite:${join(dir, "b.db")}`, `sqlite://${join(dir, "c.db")}`, "memory:"]
      ) {
        const store = yield* SessionStore.makeFromUrl(url)
        const session = yield* Session.fromUserMessage(`stored by ${url}`)
        yield* store.save(session)
        assert.isTrue(Equal.equals(yield* store.load(session.id), session), url)
      }
      for (
        const url of [
          "",
          "mysql://root:hunter2secret@db/rath",
          "postgres://rath:hunter2secret@/rath",
          "postgres://rath:hunter2secret@db:99999/rath",
          "memory:extra",
          "sqlite:"
        ]
      ) {
        const opened = yield* Effect.either(SessionStore.makeFromUrl(Redacted.make(url)))
        assert.strictEqual(reasonOf(opened), "InvalidUrl", url)
        if (Either.isLeft(opened)) assert.notInclude(opened.left.message, "hunter2secret")
      }
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))
})

describe("SessionStore on Postgres: failing to connect", () => {
  it.live("a URL that refuses connections fails Unavailable at once, naming the server, never the password", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const started = Date.now()
      const opened = yield* Effect.either(Effect.scoped(SessionStore.makePg({
        url: Redacted.make(`postgres://rath:hunter2secret@127.0.0.1:${port}/rath`),
        connectTimeout: "20 seconds"
      })))
      const elapsed = Date.now() - started
      assert.strictEqual(reasonOf(opened), "Unavailable")
      if (Either.isLeft(opened)) {
        assert.include(opened.left.message, `cannot connect to postgres://rath:<redacted>@127.0.0.1:${port}/rath`)
        assert.match(opened.left.message, /ECONNREFUSED/)
        assert.notInclude(opened.left.message, "hunter2secret")
      }
      // refused: no waiting for the 20 s timeout
      assert.isBelow(elapsed, 5000)
    }))

  it.live("a server that accepts and never answers fails Unavailable after the connect timeout, not a hang", () =>
    Effect.gen(function*() {
      const sockets: Array<Socket> = []
      const server = yield* Effect.acquireRelease(
        Effect.async<ReturnType<typeof createServer>>((resume) => {
          const server = createServer((socket) => sockets.push(socket))
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.async<void>((resume) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => resume(Effect.void))
          })
      )
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const started = Date.now()
      const opened = yield* Effect.either(Effect.scoped(SessionStore.makePg({
        url: `postgres://rath@127.0.0.1:${port}/rath`,
        connectTimeout: "300 millis"
      })))
      const elapsed = Date.now() - started
      assert.strictEqual(reasonOf(opened), "Unavailable")
      if (Either.isLeft(opened)) assert.match(opened.left.message, /did not answer within 300ms/)
      assert.isAtLeast(elapsed, 250)
      assert.isBelow(elapsed, 5000)
    }).pipe(Effect.scoped))
})

describe.skipIf(skipPostgres)("SessionStore on Postgres", () => {
  layer(PgServerLive, { timeout: "60 seconds", excludeTestServices: true })((it) => {
    const run = <A, E, R>(body: Effect.Effect<A, E, R>) =>
      body.pipe(Effect.scoped, Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential()))

    it.effect("writers on two pools racing on one head: exactly one wins, the other gets a Conflict", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const [a, b] = yield* twoStores(url)
        let conflicts = 0
        for (let round = 0; round < 20; round++) {
          const base = yield* grow(yield* Session.fromUserMessage(`round ${round}`), 2, "base")
          yield* a.save(base)
          const ours = yield* Session.append(yield* a.load(base.id), Entry.user("ours"))
          const theirs = yield* Session.append(yield* b.load(base.id), Entry.user("theirs"))
          const [first, second] = yield* released(
            url,
            2,
            Effect.all([Effect.either(a.save(ours)), Effect.either(b.save(theirs))], { concurrency: "unbounded" })
          )
          const reasons = [reasonOf(first), reasonOf(second)].sort()
          assert.deepStrictEqual(reasons, ["Conflict", "ok"], `round ${round}`)
          const winner = Either.isRight(first) ? ours : theirs
          assert.isTrue(Equal.equals(yield* a.load(base.id), winner))
          assert.isTrue(Equal.equals(yield* b.load(base.id), winner))
          conflicts++
        }
        assert.strictEqual(conflicts, 20)
        // nothing half-written: every stored node is on some session's chain (the losers' rows rolled back)
        const nodes = yield* countNodes(url)
        assert.strictEqual(nodes, 20 * 4)
      })))

    it.effect("two pools creating the same new session: one creates it, the other's save runs against it", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const [a, b] = yield* twoStores(url)
        for (let round = 0; round < 10; round++) {
          const session = yield* grow(yield* Session.fromUserMessage(`new ${round}`), 3, "x")
          // the same history from both: one creates, the other finds it stored (appends nothing)
          const results = yield* released(
            url,
            2,
            Effect.all([a.save(session), b.save(session)], { concurrency: "unbounded" })
          )
          assert.deepStrictEqual(
            results.map((r) => `${r.created}/${r.appended}`).sort(),
            ["false/0", "true/4"],
            `round ${round}`
          )
          // different histories under one new id: one wins, the other is a Conflict
          const root = yield* Session.fromUserMessage(`contested ${round}`)
          const left = yield* Session.append(root, Entry.user("left"))
          const right = yield* grow(root, 2, "right")
          const raced = yield* released(
            url,
            2,
            Effect.all([Effect.either(a.save(left)), Effect.either(b.save(right))], { concurrency: "unbounded" })
          )
          assert.deepStrictEqual(raced.map(reasonOf).sort(), ["Conflict", "ok"], `contested round ${round}`)
        }
      })))

    it.effect("processes opening a new database at once: one migrates, all open it", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const stores = yield* Effect.all(
          Array.from({ length: 4 }, () => SessionStore.makePg({ url, maxConnections: 2 })),
          { concurrency: "unbounded" }
        )
        const session = yield* Session.fromUserMessage("after a concurrent migration")
        yield* stores[0]!.save(session)
        for (const store of stores) assert.isTrue(Equal.equals(yield* store.load(session.id), session))
        const rows = yield* adminQuery(url, "SELECT migration_id FROM rath_migrations ORDER BY migration_id")
        assert.deepStrictEqual(rows.map((row) => row.migration_id), [SessionStore.PG_SCHEMA_VERSION])
      })))

    it.effect("a database of a newer schema version is refused and left unchanged", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const session = yield* Session.fromUserMessage("written by this rath")
        yield* Effect.scoped(Effect.flatMap(SessionStore.makePg({ url }), (store) => store.save(session)))
        const newer = SessionStore.PG_SCHEMA_VERSION + 1
        yield* adminQuery(url, "INSERT INTO rath_migrations (migration_id, name) VALUES ($1, 'from the future')", [
          newer
        ])
        const snapshot = adminQuery(
          url,
          `SELECT (SELECT count(*) FROM rath_sessions)::int AS sessions, (SELECT count(*) FROM rath_nodes)::int AS nodes,
            (SELECT count(*) FROM rath_migrations)::int AS migrations,
            (SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public') AS tables`
        )
        const before = yield* snapshot
        const opened = yield* Effect.either(Effect.scoped(SessionStore.makePg({ url })))
        assert.strictEqual(reasonOf(opened), "NewerSchema")
        if (Either.isLeft(opened)) {
          assert.include(opened.left.message, `schema version ${newer}`)
          assert.include(opened.left.message, "Upgrade rath")
        }
        assert.deepStrictEqual(yield* snapshot, before)

        // a database holding only a newer version table: nothing of this rath's is created in it
        const bare = yield* freshDatabase
        yield* adminQuery(
          bare,
          "CREATE TABLE rath_migrations (migration_id INTEGER PRIMARY KEY, created_at TIMESTAMPTZ, name TEXT)"
        )
        yield* adminQuery(bare, "INSERT INTO rath_migrations (migration_id, name) VALUES (99, 'future')")
        assert.strictEqual(
          reasonOf(yield* Effect.either(Effect.scoped(SessionStore.makePg({ url: bare })))),
          "NewerSchema"
        )
        const tables = yield* adminQuery(bare, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert.deepStrictEqual(tables.map((row) => row.tablename), ["rath_migrations"])
      })))

    it.effect("lineage across forks and merges saved by different processes", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const [a, b] = yield* twoStores(url)
        const root = yield* grow(yield* Session.fromUserMessage("root"), 3, "root")
        yield* a.save(root)
        // process B forks what A stored; process A forks it again; B merges both sides
        const left = yield* grow(yield* Session.fork(yield* b.load(root.id)), 2, "left")
        yield* b.save(left)
        const right = yield* grow(yield* Session.fork(yield* a.load(root.id)), 2, "right")
        yield* a.save(right)
        const merged = yield* Session.merge(yield* b.load(left.id), yield* b.load(right.id))
        yield* b.save(merged)
        const after = yield* grow(yield* Session.fork(yield* a.load(merged.id)), 1, "after")
        yield* a.save(after)
        for (const session of [root, left, right, merged, after]) {
          assert.isTrue(Equal.equals(yield* a.load(session.id), session), `A loads ${session.id}`)
          assert.isTrue(Equal.equals(yield* b.load(session.id), session), `B loads ${session.id}`)
        }
        const ids = (rows: ReadonlyArray<SessionStore.Summary>) => rows.map((row) => row.id)
        assert.deepStrictEqual(ids(yield* b.ancestors(after.id)), [merged.id, left.id, right.id, root.id])
        assert.deepStrictEqual(ids(yield* a.descendants(root.id)), [left.id, right.id, merged.id, after.id])
        // forks share the stored history: the root's 4 entries are stored once
        const nodes = yield* countNodes(url)
        // root 4, left 2, right 2, the merge's own (what it takes from the right side again), after 1
        assert.strictEqual(nodes, 4 + 2 + 2 + (merged.length - left.length) + 1)
        // deleting the middle keeps what the others use; every survivor still loads
        yield* a.delete(merged.id)
        for (const session of [root, left, right, after]) {
          assert.isTrue(Equal.equals(yield* b.load(session.id), session))
        }
      })))

    it.effect("a damaged node or row is Corrupt, never a different session", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const store = yield* SessionStore.makePg({ url })
        const session = yield* grow(yield* Session.fromUserMessage("intact"), 2, "x")
        yield* store.save(session)
        yield* adminQuery(url, "UPDATE rath_nodes SET data = replace(data, 'x 1', 'y 1') WHERE data LIKE '%x 1%'")
        const damaged = yield* Effect.either(store.load(session.id))
        assert.strictEqual(reasonOf(damaged), "Corrupt")
        if (Either.isLeft(damaged)) assert.match(damaged.left.message, /entry #3 fails its checksum/)
        const other = yield* Session.fromUserMessage("row")
        yield* store.save(other)
        yield* adminQuery(url, "UPDATE rath_sessions SET length = 7 WHERE id = $1", [other.id])
        const row = yield* Effect.either(store.load(other.id))
        assert.strictEqual(reasonOf(row), "Corrupt")
        if (Either.isLeft(row)) assert.match(row.left.message, /fails its checksum/)
      })))

    it.effect("layerPgWithClient stores through the program's own PgClient, in the same tables", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const session = yield* grow(yield* Session.fromUserMessage("shared client"), 2, "x")
        yield* Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          yield* store.save(session)
        }).pipe(
          Effect.provide(
            SessionStore.layerPgWithClient.pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url) })), Layer.orDie)
          )
        )
        const other = yield* SessionStore.makePg({ url })
        assert.isTrue(Equal.equals(yield* other.load(session.id), session))
      })))

    it.effect("layerFromUrl opens Postgres from a postgres:// URL", () =>
      run(Effect.gen(function*() {
        const url = yield* freshDatabase
        const session = yield* Session.fromUserMessage("via a URL")
        const scope = yield* Scope.make()
        const store = yield* Scope.extend(
          SessionStore.makeFromUrl(Redacted.make(url.replace("postgres:", "postgresql:"))),
          scope
        )
        yield* store.save(session)
        yield* Scope.close(scope, Exit.void)
        const rows = yield* adminQuery(url, "SELECT id FROM rath_sessions")
        assert.deepStrictEqual(rows.map((row) => row.id), [session.id])
      })))
  })
})
