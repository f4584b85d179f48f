import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect } from "effect"
import { Agent, Compressor, Entry, IdGenerator, Memory, Provider, Scripted, Session } from "rath"

const ids = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, IdGenerator.IdGenerator, IdGenerator.sequential())

const conversation = Session.make([
  Entry.system("You are helpful."),
  Entry.user("My name is Ada."),
  Entry.assistant({ text: "Hello Ada." }),
  Entry.user("I like chess."),
  Entry.assistant({ text: "Nice." }),
  Entry.user("What do I like?")
])

describe("Compressor", () => {
  it.effect("appends a summary that replaces what it covers in the transcript; originals stay", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([Scripted.reply("Ada likes chess."), Scripted.reply("Chess.")])
      const input = yield* conversation
      const out = yield* Compressor.make({ keepLast: 1 })(input).pipe(
        Effect.provideService(Provider.Provider, scripted.service)
      )
      // the original entries are all still there, then the call and the summary it wrote
      const all = Chunk.toReadonlyArray(Session.entries(out))
      assert.strictEqual(all.length, input.length + 2)
      const call = all[all.length - 2]!
      const compression = all[all.length - 1]!
      assert.strictEqual(call._tag, "ModelCall")
      assert.strictEqual(compression._tag, "Compression")
      if (compression._tag !== "Compression" || call._tag !== "ModelCall") return
      assert.strictEqual(call.purpose, "compress")
      assert.strictEqual(compression.call, call.id)
      assert.strictEqual(compression.text, "Ada likes chess.")
      assert.strictEqual(compression.covers.length, 4)
      // the call's tokens are counted once: on the call, not again on the summary
      assert.isDefined(call.usage)
      assert.isUndefined(compression.usage)
      assert.deepStrictEqual(Session.usage(out).inclusive, Entry.sumUsage(Session.usage(input).inclusive, call.usage))
      // what a model is sent now: the system prompt, the summary, the last user message
      const transcript = Chunk.toReadonlyArray(Session.transcript(out)).map((m) => m._tag)
      assert.deepStrictEqual(transcript, ["System", "Compression", "User"])
      // the request had no tools and forbade tool calls
      const request = (yield* scripted.requests)[0]!
      assert.strictEqual(request.toolChoice, "none")
      assert.isUndefined(request.tools)
      // a later agent is sent the summary, not the covered entries
      yield* Agent.make({ name: "a" })(out).pipe(Effect.provideService(Provider.Provider, scripted.service))
      const sent = (yield* scripted.requests)[1]!.messages
      assert.deepStrictEqual(sent.map((m) => m._tag), ["System", "User", "User"])
      assert.strictEqual(sent[1]!._tag === "User" ? sent[1]!.text : "", Provider.summaryText(compression))
    }).pipe(ids))

  it.effect("an empty answer and a tool-calling answer are typed errors", () =>
    Effect.gen(function*() {
      const input = yield* conversation
      const empty = yield* Effect.flip(
        Compressor.make()(input).pipe(Effect.provide(Scripted.layer([Scripted.reply("   ")])))
      )
      assert.strictEqual(empty.reason, "EmptySummary")
      const tool = yield* Effect.flip(
        Compressor.make()(input).pipe(Effect.provide(Scripted.layer([Scripted.toolCall("search", { q: "x" })])))
      )
      assert.strictEqual(tool.reason, "ToolCall")
    }).pipe(ids))

  it.effect("keeps a tool result with its call and does nothing when there is nothing to cover", () =>
    Effect.gen(function*() {
      const session = yield* Session.make([
        Entry.user("add"),
        Entry.assistant({ text: "", toolCalls: [{ id: "c", name: "add", arguments: "{}" }] }),
        Entry.toolResult({ callId: "c", toolName: "add", output: 3 })
      ])
      const covered = Compressor.coverable(session, { keepLast: 1 })
      assert.deepStrictEqual(covered.map((e) => e._tag), ["User"])
      const untouched = yield* Compressor.make({ keepLast: 10 })(session).pipe(
        Effect.provide(Scripted.layer([]))
      )
      assert.strictEqual(untouched.length, session.length)
    }).pipe(ids))

  it.effect("never summarises recalled memories: they stay, sent only to the agent they were recalled for", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([
        Scripted.reply("Ada likes chess."),
        Scripted.reply("ok"),
        Scripted.reply("ok")
      ])
      const input = yield* Session.make([
        Entry.user("My name is Ada."),
        Entry.user("<untrusted-memory>Ada's password hint is 'rook'.</untrusted-memory>", {
          author: Memory.contextAuthorFor("a")
        }),
        Entry.assistant({ text: "Hello Ada." }),
        Entry.user("What do I like?")
      ])
      const out = yield* Compressor.make({ keepLast: 1 })(input).pipe(
        Effect.provideService(Provider.Provider, scripted.service)
      )
      const summarised = (yield* scripted.requests)[0]!.messages.map((m) => m._tag === "User" ? m.text : m._tag)
      assert.isFalse(summarised.some((text) => text.includes("rook")), "the block is not in the summary's request")
      const compression = Session.lastOf(out, "Compression")
      assert.isTrue(compression._tag === "Some" && compression.value.covers.length === 2)
      // agent a is still sent its recall; agent b is sent neither the recall nor a summary of it
      const sentTo = (name: string) =>
        Effect.gen(function*() {
          yield* Agent.make({ name })(out).pipe(Effect.provideService(Provider.Provider, scripted.service))
          const requests = yield* scripted.requests
          return requests[requests.length - 1]!.messages.map((m) => m._tag === "User" ? m.text : m._tag)
        })
      assert.isTrue((yield* sentTo("a")).some((text) => text.includes("rook")))
      assert.isFalse((yield* sentTo("b")).some((text) => text.includes("rook")))
    }).pipe(ids))
})
