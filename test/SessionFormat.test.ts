/**
 * `Session.format`: what `String(session)` prints, and every entry on request.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Entry, Session } from "rath"

const counted = Effect.flatMap(
  Session.fromUserMessage("count to ten"),
  (session) => Session.appendAll(session, Array.from({ length: 10 }, (_, i) => Entry.assistant({ text: `n${i + 1}` })))
)

describe("Session.format", () => {
  it.effect("String(session) is format(session): the first and last three entries, the rest counted", () =>
    Effect.gen(function*() {
      const session = yield* counted
      const text = String(session)
      assert.strictEqual(text, Session.format(session))
      const lines = text.split("\n")
      assert.strictEqual(lines.length, 1 + 3 + 1 + 3)
      assert.strictEqual(lines[4], "  ... 5 more ...")
    }))

  it.effect("{ all: true } shows every entry, in order; head, tail and width tune the default", () =>
    Effect.gen(function*() {
      const session = yield* counted
      const all = Session.format(session, { all: true }).split("\n")
      assert.strictEqual(all.length, 1 + 11)
      all.slice(1).forEach((line, i) => assert.match(line, new RegExp(`^  #${i} `)))
      assert.include(all[11], "n10")
      // the data-last form
      assert.strictEqual(session.pipe(Session.format({ all: true })), all.join("\n"))
      const some = Session.format(session, { head: 1, tail: 0 }).split("\n")
      assert.deepStrictEqual(some.slice(1), ["  #0 User [user:user] count to ten", "  ... 10 more ..."])
      const long = yield* Session.fromUserMessage("x".repeat(200))
      assert.include(Session.format(long, { width: Infinity }), "x".repeat(200))
      assert.notInclude(Session.format(long), "x".repeat(200))
    }))
})
