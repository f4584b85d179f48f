/**
 * An assistant entry flagged `missing: ["usage"]` keeps the flag through every way a session is
 * written and read: the JSONL format, the SQLite store (its fast per-entry codec and the schema).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option, Schema, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Agent, Entry, IdGenerator, Provider, Replay, Session, SessionStore } from "rath"
import { decodeStored, encodeStored } from "../../src/internal/storeCodec.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "rath-missing-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const response: Provider.Response = {
  text: "an answer without usage",
  toolCalls: [],
  finishReason: "stop",
  missing: ["usage"],
  model: "m",
  provider: { kind: "openai", host: "127.0.0.1:1" }
}

describe("Entry.Assistant missing", () => {
  it.scoped("round-trips through JSONL, the stored-row codec and the SQLite store", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("hi").pipe(
        Effect.flatMap(Session.append(Provider.toDraft(response))),
        Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
      )
      const entry = Option.getOrThrow(Session.lastOf(session, "Assistant"))
      assert.deepStrictEqual(entry.missing, ["usage"])
      // the schema
      const encoded = Schema.encodeSync(Entry.Entry)(entry)
      assert.deepStrictEqual((encoded as { missing?: unknown }).missing, ["usage"])
      assert.deepStrictEqual((Schema.decodeUnknownSync(Entry.Entry)(encoded) as Entry.Assistant).missing, ["usage"])
      assert.isTrue(Either.isLeft(Schema.decodeUnknownEither(Entry.Entry)({ ...encoded, missing: ["tokens"] })))
      // JSONL
      const back = yield* Session.fromJsonl(Session.toJsonl(session))
      assert.deepStrictEqual(Option.getOrThrow(Session.lastOf(back.session, "Assistant")).missing, ["usage"])
      // the stored-row codec, fast path and schema path
      for (const checked of [false, true]) {
        const decoded = decodeStored(encodeStored(entry, entry.parents[0]), entry.parents[0], checked)
        assert.isTrue(Either.isRight(decoded))
        if (Either.isRight(decoded) && decoded.right._tag === "Assistant") {
          assert.deepStrictEqual(decoded.right.missing, ["usage"])
        }
      }
      // the SQLite store
      const dir = yield* tempDir
      const loaded = yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* SessionStore.makeSqlite({ filename: join(dir, "s.db") })
        yield* store.save(session)
        return yield* store.load(session.id)
      }))
      assert.deepStrictEqual(Option.getOrThrow(Session.lastOf(loaded, "Assistant")).missing, ["usage"])
      assert.strictEqual(Session.toJsonl(loaded), Session.toJsonl(session))
    }))

  it.effect("an agent records it, and a replay of the recording gives it back", () =>
    Effect.gen(function*() {
      // a provider whose answers lack the usage it was asked for
      const info = { kind: "test", model: "m" }
      const provider = Provider.make({
        info,
        stream: () =>
          Stream.fromIterable<Provider.StreamPart>([
            { _tag: "TextDelta", text: "no usage here" },
            { _tag: "Finish", finishReason: "stop", provider: { kind: "test" }, missing: ["usage"] }
          ])
      })
      const agent = Agent.make({ name: "a" })
      const recorded = yield* Session.fromUserMessage("hi").pipe(
        Effect.flatMap(agent),
        Effect.provideService(Provider.Provider, provider)
      )
      assert.deepStrictEqual(Option.getOrThrow(Session.lastOf(recorded, "Assistant")).missing, ["usage"])
      const replayed = yield* Session.fromUserMessage("hi").pipe(
        Effect.flatMap(agent),
        Effect.provide(Replay.layer(recorded))
      )
      assert.deepStrictEqual(Option.getOrThrow(Session.lastOf(replayed, "Assistant")).missing, ["usage"])
      assert.isTrue(Option.isNone(Replay.diff(recorded, replayed)))
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))
})
