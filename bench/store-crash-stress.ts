/**
 * SessionStore crash stress: many more SIGKILLs than the test suite runs (default 500, two
 * writer processes at a time on one database file). After each kill, every entry the child
 * acknowledged must be in the store and every session the run touched must load whole; at the
 * end the file must pass `PRAGMA integrity_check`.
 *
 *     node --import tsx bench/store-crash-stress.ts [kills=500] [lanes=2] [plain|agent]
 *
 * `plain` (default): the child appends to sessions and forks them; `agent`: the child runs an agent
 * loop with `Resume.persist` (test/fixtures/agent-writer.ts).
 *
 * Not a `.bench.ts` file, so `npm run bench` does not run it. Prints one JSON line.
 */
import Database from "better-sqlite3"
import { Chunk, Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Session, SessionStore } from "rath"
import { type Ack, buildFixture, killPoint, runWriter } from "../test/fixtures/store-crash-harness.js"

const kills = Number(process.argv[2] ?? 500)
const lanes = Number(process.argv[3] ?? 2)
const fixture = process.argv[4] === "agent" ? "agent-writer" : "store-writer"

const verify = (store: SessionStore.Service, root: string, acks: ReadonlyArray<Ack>) =>
  Effect.gen(function*() {
    const bySession = new Map<string, Array<Ack>>()
    for (const ack of acks) bySession.set(ack.session, [...(bySession.get(ack.session) ?? []), ack])
    const touched = new Set([root, ...bySession.keys()])
    for (const row of yield* store.list({ parent: root as Session.SessionId })) touched.add(row.id)
    for (const id of touched) {
      const loaded = yield* store.load(id).pipe(
        Effect.catchTag("SessionStoreError", (error) =>
          error.reason === "NotFound" && !bySession.has(id) ? Effect.succeed(undefined) : Effect.fail(error))
      )
      if (loaded === undefined) {
        continue
      }
      const entries = Chunk.toReadonlyArray(Session.entries(loaded))
      for (const ack of bySession.get(id) ?? []) {
        if (loaded.length < ack.length || entries[ack.length - 1]?.id !== ack.entry) {
          return yield* Effect.dieMessage(`${id}: acknowledged entry #${ack.length} ${ack.entry} is missing`)
        }
      }
    }
  })

const main = Effect.gen(function*() {
  const dir = mkdtempSync(join(tmpdir(), "rath-crash-"))
  const filename = join(dir, "rath.db")
  const writer = yield* Effect.promise(() => buildFixture(fixture))
  const start = performance.now()
  let acked = 0
  let midRun = 0
  yield* Effect.scoped(Effect.gen(function*() {
    const store = yield* SessionStore.makeSqlite({ filename })
    yield* Effect.forEach(
      Array.from({ length: lanes }, (_, lane) => lane),
      (lane) =>
        Effect.gen(function*() {
          for (let i = lane; i < kills; i += lanes) {
            const root = `s_stress${lane}_${i}`
            const run = yield* Effect.promise(() => runWriter({ writer, db: filename, session: root, ...killPoint(i) }))
            if (!run.killed) return yield* Effect.dieMessage(`child exited on its own: ${run.code} ${run.stderr}`)
            if (run.acks.length > 0) midRun++
            acked += run.acks.length
            yield* verify(store, root, run.acks)
          }
        }),
      { concurrency: lanes, discard: true }
    )
  }))
  const db = new Database(filename, { readonly: true })
  const integrity = db.pragma("integrity_check", { simple: true })
  db.close()
  rmSync(writer, { force: true })
  rmSync(dir, { recursive: true, force: true })
  if (integrity !== "ok") return yield* Effect.dieMessage(`integrity_check: ${String(integrity)}`)
  process.stdout.write(
    JSON.stringify({
      name: "store-crash-stress",
      writer: fixture,
      kills,
      lanes,
      killedWhileSaving: midRun,
      acknowledged: acked,
      lost: 0,
      integrity,
      totalMs: Math.round(performance.now() - start)
    }) + "\n"
  )
})

Effect.runPromise(main).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
