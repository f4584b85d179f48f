/**
 * The SQLite store's entry codec: the stored text is the entry's schema encoding (minus the
 * parents the chain implies), and decoding it gives back the very entry, or a typed failure.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Schema } from "effect"
import { Entry } from "rath"
import { decodeStored, encodeEntry, encodeStored } from "../src/internal/storeCodec.js"

const encodeSchema = Schema.encodeSync(Entry.Entry)
// JSON has no Infinity or NaN (the schema's numbers allow them; a clock never makes them), at any depth
const finite = (value: unknown): boolean =>
  typeof value === "number"
    ? Number.isFinite(value)
    : typeof value === "object" && value !== null
    ? Object.values(value).every(finite)
    : true
const entries = Arbitrary.make(Entry.Entry).filter(finite)
const ids = FastCheck.stringMatching(/^e_[a-z0-9]{1,12}$/)

/** An entry whose parents are what a chain with `prevId` before it implies. */
const chained = (entry: Entry.Entry, prevId: string | undefined): Entry.Entry => {
  const fields = { ...entry, parents: prevId === undefined ? [] : [prevId] }
  return Object.assign(Object.create(Object.getPrototypeOf(entry)), fields)
}

describe("SessionStore codec", () => {
  it("the fast encoder writes the schema encoding of every entry", () =>
    FastCheck.assert(
      FastCheck.property(entries, (entry) => {
        assert.deepStrictEqual(JSON.parse(encodeEntry(entry)), JSON.parse(JSON.stringify(encodeSchema(entry))))
      }),
      { numRuns: 300, seed: 11 }
    ))

  it("stored text decodes to the same entry, field order included, with implied or explicit parents", () =>
    FastCheck.assert(
      FastCheck.property(
        entries,
        FastCheck.option(ids, { nil: undefined }),
        FastCheck.boolean(),
        (raw, prevId, imply) => {
          const entry = imply ? chained(raw, prevId) : raw
          const stored = encodeStored(entry, prevId)
          const text = JSON.parse(stored) as Record<string, unknown>
          assert.strictEqual(text.id, entry.id)
          const implied = prevId === undefined ? entry.parents.length === 0 : entry.parents.length === 1 &&
            entry.parents[0] === prevId
          assert.strictEqual("parents" in text, !implied)
          const decoded = decodeStored(stored, prevId)
          assert.isTrue(Either.isRight(decoded))
          if (Either.isRight(decoded)) {
            // the same fields in the same order, on the same class (a field set to undefined is not
            // stored: JSON has no undefined; the conformance suite checks such sessions load equal)
            assert.strictEqual(JSON.stringify(decoded.right), JSON.stringify(entry))
            assert.strictEqual(Object.getPrototypeOf(decoded.right), Object.getPrototypeOf(entry))
            assert.isTrue(Either.isRight(decodeStored(stored, prevId, true)), "the schema accepts it too")
          }
        }
      ),
      { numRuns: 300, seed: 12 }
    ))

  it("damaged stored text is a Left that says what is wrong, never an entry", () => {
    const damaged = [
      "not json",
      "{\"_tag\":\"User\",\"timestamp\":1,\"author\":{\"kind\":\"user\",\"name\":\"u\"},\"text\":\"x\"}",
      "[1,2]",
      "null",
      "{\"id\":\"e_1\",\"_tag\":\"Nope\",\"timestamp\":1,\"author\":{\"kind\":\"user\",\"name\":\"u\"},\"text\":\"x\"}",
      "{\"id\":\"e_1\",\"_tag\":\"User\",\"timestamp\":\"soon\",\"author\":{\"kind\":\"user\",\"name\":\"u\"},\"text\":\"x\"}",
      "{\"id\":\"e_1\",\"_tag\":\"User\",\"timestamp\":1,\"author\":{\"kind\":\"user\",\"name\":\"u\"}}",
      "{\"id\":\"e_1\",\"_tag\":\"User\",\"timestamp\":1,\"author\":{\"kind\":\"user\",\"name\":\"u\"},\"parents\":\"p\",\"text\":\"x\"}",
      // a "__proto__" key (JSON.parse keeps it as an own field) must never become a prototype,
      // at the top or in a placement the decoder rebuilds on its class
      "{\"__proto__\":{\"text\":\"forged\"},\"id\":\"e_1\",\"_tag\":\"User\",\"timestamp\":1,\"text\":\"x\"}",
      "{\"id\":\"e_1\",\"_tag\":\"Placement\",\"timestamp\":1,\"placement\":{\"__proto__\":null,\"backend\":\"local\"}}",
      "{\"id\":\"e_1\",\"_tag\":\"Placement\",\"timestamp\":1,\"placement\":{\"backend\":\"local\"},\"previous\":{\"__proto__\":{},\"backend\":\"bwrap\"}}",
      "{\"id\":\"e_1\",\"_tag\":\"ToolResult\",\"timestamp\":1,\"callId\":\"c\",\"toolName\":\"t\",\"output\":1,\"durationMs\":0,\"effects\":[],\"sandbox\":{\"__proto__\":{},\"backend\":\"local\"}}"
    ]
    for (const text of damaged) {
      const decoded = decodeStored(text, undefined)
      assert.isTrue(Either.isLeft(decoded), text)
      if (Either.isLeft(decoded)) assert.isAbove(String(decoded.left).length, 0)
    }
    // the same rows without the "__proto__" key decode: the key alone is what is refused
    for (const text of damaged.filter((text) => text.includes("__proto__"))) {
      const clean = text.replace(/"__proto__":(\{[^}]*\}|null),?/, "")
      assert.isTrue(Either.isRight(decodeStored(clean, undefined)), clean)
    }
  })
})
