import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Entry, IdGenerator, Session } from "rath"

describe("smoke", () => {
  it.effect("append and fork", () =>
    Effect.gen(function*() {
      const s = yield* Session.fromUserMessage("hi")
      const t = yield* Session.append(s, Entry.assistant({ text: "hello" }))
      const f = yield* Session.fork(t)
      assert.strictEqual(f.length, 2)
      assert.strictEqual(f.node, t.node)
      assert.strictEqual(s.length, 1)
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))
})
