import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Schedule, Stream, TestClock } from "effect"
import { Provider, ProviderConfig, Scripted } from "rath"

const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name] ?? null })

describe("Provider.withRetry", () => {
  it.effect("waits at least Retry-After before retrying (TestClock)", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([
        Scripted.fail("RateLimited", "slow down", { status: 429, retryAfterMillis: 5_000 }),
        Scripted.reply("done")
      ])
      const provider = Provider.withRetry(scripted.service, { schedule: Schedule.spaced("100 millis") })
      const fiber = yield* Effect.fork(provider.chat({ messages: [] }))
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      assert.strictEqual((yield* scripted.requests).length, 1)
      yield* TestClock.adjust("1 millis")
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.text, "done")
      assert.strictEqual((yield* scripted.requests).length, 2)
    }))

  it.effect("uses the schedule's delay when it is longer than Retry-After, and stops when it is done", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([
        Scripted.fail("Unavailable", "down"),
        Scripted.fail("Unavailable", "down"),
        Scripted.fail("Unavailable", "still down")
      ])
      const provider = Provider.withRetry(scripted.service, {
        schedule: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2)))
      })
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.either(provider.stream({ messages: [] }))))
      yield* TestClock.adjust("999 millis")
      assert.strictEqual((yield* scripted.requests).length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* scripted.requests).length, 2)
      yield* TestClock.adjust("1 second")
      const results = Chunk.toArray(yield* Fiber.join(fiber))
      const retries = results.flatMap((r) => r._tag === "Right" && r.right._tag === "Retry" ? [r.right] : [])
      assert.deepStrictEqual(retries.map((r) => [r.attempt, r.delayMillis]), [[1, 1000], [2, 1000]])
      const last = results[results.length - 1]
      assert.isTrue(last?._tag === "Left" && last.left.detail === "still down")
    }))

  it.effect("does not retry a stream that failed after content (Scripted cut)", () =>
    Effect.gen(function*() {
      const cut = new Provider.ProviderError({ reason: "Transport", provider: "scripted", detail: "cut" })
      const scripted = yield* Scripted.make([Scripted.reply("partial", { cut }), Scripted.reply("never")])
      const results = Chunk.toArray(
        yield* Stream.runCollect(Stream.either(Provider.withRetry(scripted.service).stream({ messages: [] })))
      )
      assert.isTrue(results.some((r) => r._tag === "Right" && r.right._tag === "TextDelta"))
      const last = results[results.length - 1]
      assert.isTrue(last?._tag === "Left" && last.left.detail === "cut")
      assert.strictEqual((yield* scripted.requests).length, 1)
      assert.strictEqual(yield* scripted.remaining, 1)
    }))

  it.effect("does not retry what is not retryable", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([Scripted.fail("Unauthorized", "bad key"), Scripted.reply("never")])
      const error = yield* Effect.flip(Provider.withRetry(scripted.service).chat({ messages: [] }))
      assert.strictEqual(error.reason, "Unauthorized")
      assert.strictEqual((yield* scripted.requests).length, 1)
    }))
})

describe("Provider.retryAfterMillis", () => {
  it("reads seconds, retry-after-ms and HTTP dates", () => {
    assert.strictEqual(Provider.retryAfterMillis(headers({ "retry-after": "2" }), 0), 2000)
    assert.strictEqual(Provider.retryAfterMillis(headers({ "retry-after": "0.5" }), 0), 500)
    assert.strictEqual(Provider.retryAfterMillis(headers({ "retry-after-ms": "250", "retry-after": "9" }), 0), 250)
    const now = Date.parse("2026-11-23T00:00:00Z")
    assert.strictEqual(
      Provider.retryAfterMillis(headers({ "retry-after": "Mon, 23 Nov 2026 00:00:03 GMT" }), now),
      3000
    )
    assert.isUndefined(Provider.retryAfterMillis(headers({ "retry-after": "soon" }), 0))
    assert.isUndefined(Provider.retryAfterMillis(headers({}), 0))
  })
})

describe("Provider.withRetry: the Retry-After cap", () => {
  const rateLimited = (retryAfterMillis: number) =>
    Scripted.fail("RateLimited", "slow down", { status: 429, retryAfterMillis })

  it.effect("a Retry-After above the cap (default one minute) is not waited for: the typed error at once", () =>
    Effect.gen(function*() {
      for (const wait of [3_600_000, 2 ** 31, 1e15]) {
        const scripted = yield* Scripted.make([rateLimited(wait), Scripted.reply("never")])
        const provider = Provider.withRetry(scripted.service, { schedule: Schedule.spaced("100 millis") })
        const fiber = yield* Effect.fork(Effect.flip(provider.chat({ messages: [] })))
        yield* TestClock.adjust("1 millis")
        const settled = yield* Fiber.poll(fiber)
        assert.isTrue(Option.isSome(settled), `Retry-After ${wait} ms is waited for`)
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error.reason, "RateLimited")
        assert.strictEqual(error.retryAfterMillis, wait)
        assert.include(error.detail, "maxRetryAfter")
        assert.strictEqual((yield* scripted.requests).length, 1)
      }
    }))

  it.effect("a stream gives up the same way, with no Retry part", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([rateLimited(3_600_000), Scripted.reply("never")])
      const fiber = yield* Effect.fork(
        Stream.runCollect(Stream.either(Provider.withRetry(scripted.service).stream({ messages: [] })))
      )
      yield* TestClock.adjust("1 millis")
      const results = Chunk.toArray(
        Option.getOrThrow(yield* Fiber.poll(fiber)).pipe((exit) => exit._tag === "Success" ? exit.value : Chunk.empty())
      )
      assert.strictEqual(results.length, 1)
      assert.isTrue(results[0]?._tag === "Left" && results[0].left.reason === "RateLimited")
    }))

  it.effect("maxRetryAfter raises the cap: an hour's Retry-After is then waited for exactly", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make([rateLimited(3_600_000), Scripted.reply("done")])
      const provider = Provider.withRetry(scripted.service, {
        schedule: Schedule.spaced("100 millis"),
        maxRetryAfter: "2 hours"
      })
      const fiber = yield* Effect.fork(provider.chat({ messages: [] }))
      yield* TestClock.adjust("59 minutes")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* Fiber.join(fiber)).text, "done")
    }))

  it.effect("ProviderConfig passes maxRetryAfterMillis to the retry policy", () =>
    Effect.gen(function*() {
      const scripted = yield* Scripted.make(() => rateLimited(5_000))
      const settings = (maxRetryAfterMillis?: number): ProviderConfig.Settings => ({
        name: "s",
        kind: "scripted",
        apiKey: Option.none(),
        keyHint: "",
        modelHint: "",
        options: {},
        ...(maxRetryAfterMillis === undefined ? {} : { maxRetryAfterMillis })
      })
      const build = (s: ProviderConfig.Settings) =>
        ProviderConfig.fromResolved({ path: undefined, providers: { s }, default: "s" }).pipe(
          Effect.provide(ProviderConfig.layerRegistry({ scripted: () => Effect.succeed(scripted.service) }))
        )
      const capped = yield* build(settings(1_000))
      const fiber = yield* Effect.fork(Effect.flip(capped.chat({ messages: [] })))
      yield* TestClock.adjust("1 millis")
      assert.isTrue(Option.isSome(yield* Fiber.poll(fiber)))
      assert.strictEqual((yield* scripted.requests).length, 1)
      // the default cap (a minute) waits the 5 s
      const waiting = yield* build(settings())
      const second = yield* Effect.fork(Effect.flip(waiting.chat({ messages: [] })))
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual((yield* scripted.requests).length, 2)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* scripted.requests).length, 3)
      yield* Fiber.interrupt(second)
    }))
})
