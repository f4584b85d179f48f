/**
 * `explain` for every model call: each call in a session's history (agent turns, routing, summaries)
 * is rebuilt from that call's own history and checked against the fingerprint it recorded. Counted
 * over every session the demo saves, the rejected attempt's included: all of them match.
 */
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { Entry, Model, Session, SessionGraph, SessionStore } from "rath"
import * as Demo from "../src/cli/demo.js"
import * as Render from "../src/cli/Render.js"
import { scopedTempDir } from "./utils.js"

const tempDir = scopedTempDir("rath-explain-")

/** Every model call of every stored session, once each, with whether its rebuilt request matched. */
const everyCall = (sessions: ReadonlyArray<Session.Session>) => {
  const calls = new Map<
    string,
    { readonly entry: Entry.Assistant | Entry.ModelCall; readonly verified: boolean | undefined }
  >()
  for (const session of sessions) {
    for (const call of Model.calls(session)) {
      // a call held by several sessions (shared history) must verify in each of them
      const before = calls.get(call.entry.id)
      calls.set(call.entry.id, { entry: call.entry, verified: before?.verified === false ? false : call.verified })
    }
  }
  return Array.from(calls.values())
}

describe("explain", () => {
  it.scopedLive(
    "every model call in the demo's store hashes to its recorded fingerprint (100 %, counted)",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        // twice: the second run's planner is sent what the first committed to memory
        yield* Demo.run({ dir })
        const result = yield* Demo.run({ dir })
        assert.isAbove(result.recalled, 0, "the second run recalled the first")
        const sessions = yield* Effect.gen(function*() {
          const store = yield* SessionStore.SessionStore
          return yield* Effect.forEach(yield* store.list(), (row) => store.load(row.id))
        }).pipe(Effect.provide(SessionStore.layer({ filename: join(dir, "rath.db") })))
        const calls = everyCall(sessions)
        const purposes = new Set(calls.map(({ entry }) => entry._tag === "ModelCall" ? entry.purpose : "turn"))
        assert.deepStrictEqual([...purposes].sort(), ["compress", "turn"])
        const verified = calls.filter(({ verified }) => verified === true).length
        // per run: the planner's turn, three turns of each coder, the compressor's call
        assert.strictEqual(calls.length, 2 * (1 + 3 + 3 + 1))
        assert.strictEqual(verified, calls.length, `${verified} of ${calls.length} calls match their fingerprint`)

        // the library function behind `rath explain` shows the same: every call, each verified
        const explained = Render.explain(result.final, SessionGraph.fromSessions(sessions), new Map())
        assert.strictEqual(explained.calls.length, Model.calls(result.final).length)
        assert.isTrue(explained.calls.every((call) => call.verified === true))
        // and the result's usage is the sum of its calls
        const sum = explained.calls.reduce<Entry.Usage | undefined>(
          (total, call) => Entry.sumUsage(total, call.answer.usage),
          undefined
        )
        assert.deepStrictEqual(Session.usage(result.final).inclusive, sum)
      }).pipe(Effect.provide(Layer.mergeAll(NodeContext.layer))),
    60_000
  )
})
