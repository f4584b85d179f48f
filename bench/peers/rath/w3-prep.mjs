// W3 preparation (untimed), rath: a 10,000-message session saved in one bulk save; its id goes
// to session-id.txt next to the database.
import { writeFileSync } from "node:fs"
import { dataDir, parseArgs } from "../lib/common.mjs"
import { draft, loadEffect, loadRath } from "./lib.mjs"

const { Entry, Session, SessionStore } = await loadRath("W3", ["SessionStore"])
const { Effect } = await loadEffect()
const { n = 10000 } = parseArgs()
const dir = dataDir("rath-w3")
const synchronous = process.env.SQLITE_SYNC === "FULL" ? "FULL" : "NORMAL"

const id = await Effect.runPromise(
  Effect.gen(function*() {
    const sessions = yield* SessionStore.SessionStore
    const session = yield* Session.make(Array.from({ length: n }, (_, i) => draft(Entry, i)))
    yield* sessions.save(session)
    return session.id
  }).pipe(Effect.provide(SessionStore.layer({ filename: `${dir}/rath.db`, synchronous })))
)
writeFileSync(`${dir}/session-id.txt`, id)
