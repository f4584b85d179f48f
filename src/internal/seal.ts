/**
 * Seals: digests of the fields of an entry whose content came from outside the program (a model's
 * answer, a tool's result, a memory read), taken when the entry is recorded. Replay hands such
 * content back as it was recorded, so an edit of a recording would otherwise replay silently: the
 * seal says which field no longer holds what was recorded.
 *
 * Not a signature (anyone can compute a digest): it tells an edited or damaged recording from an
 * intact one, and names the field.
 *
 * @internal
 */
import * as Option from "effect/Option"
import type * as Entry from "../Entry.js"
import * as Digest from "./digest.js"

// a text is digested as it is, anything else as its JSON (a text that is JSON of another value is
// told apart by the prefix)
const digest = (value: unknown): string =>
  typeof value === "string" ? Digest.digest(value) : Digest.digestAfter("\u0000", JSON.stringify(value) ?? "null")

type SealedTag = "Assistant" | "ModelCall" | "ToolResult" | "Memory"

/** The sealed fields of each kind; an array field of objects is also sealed element by element. */
const fields: Record<SealedTag, ReadonlyArray<string>> = {
  Assistant: ["text", "reasoning", "toolCalls", "metadata"],
  ModelCall: ["text", "reasoning", "toolCalls", "metadata"],
  ToolResult: ["output", "error"],
  Memory: ["hits", "written"]
}

/** Fields sealed per element (and per key of each element) as well as whole. */
const perElement = new Set(["hits"])

/** A value a seal leaves out: nothing to seal (and nothing to tell from its absence). */
const isEmpty = (value: unknown): boolean =>
  value === undefined || value === "" || (Array.isArray(value) && value.length === 0)

/**
 * The seal of an entry's content (a draft's fields): one digest per sealed field that holds
 * something (not `undefined`, `""` or `[]`), keyed by field path (`output`, `hits[0].text`).
 */
export const seal = (tag: SealedTag, source: { readonly [key: string]: unknown }): Entry.Seal => {
  const out: Record<string, string> = {}
  for (const field of fields[tag]) {
    const value = source[field]
    if (isEmpty(value)) continue
    if (perElement.has(field) && Array.isArray(value)) {
      value.forEach((element, i) => {
        if (typeof element !== "object" || element === null) return
        for (const [key, inner] of Object.entries(element)) {
          if (inner !== undefined) out[`${field}[${i}].${key}`] = digest(inner)
        }
      })
    }
    out[field] = digest(value)
  }
  return out
}

/**
 * A field whose content no longer matches its seal: its path, the digest recorded for it
 * (`undefined`: the field was absent when sealed) and what it holds now.
 */
export interface Broken {
  readonly field: string
  readonly sealed: string | undefined
  readonly value: unknown
}

const isSealed = (entry: Entry.Entry): entry is Extract<Entry.Entry, { readonly _tag: SealedTag }> =>
  entry._tag in fields

const at = (source: { readonly [key: string]: unknown }, path: string): unknown => {
  const match = /^(\w+)\[(\d+)\]\.(\w+)$/.exec(path)
  if (match === null) return source[path]
  const list = source[match[1]!]
  const element = Array.isArray(list) ? list[Number(match[2])] : undefined
  return typeof element === "object" && element !== null
    ? (element as { readonly [key: string]: unknown })[match[3]!]
    : undefined
}

/**
 * The first field of a sealed entry that does not hold what was sealed, element fields before the
 * whole field (so an edited recall hit is named by its field). `None` for an intact entry, and for
 * an entry recorded without a seal.
 */
export const check = (entry: Entry.Entry): Option.Option<Broken> => {
  if (!isSealed(entry) || entry.seal === undefined) return Option.none()
  const recorded = entry.seal
  const source = entry as unknown as { readonly [key: string]: unknown }
  const keys = Object.keys(recorded).sort((a, b) => Number(b.includes("[")) - Number(a.includes("[")))
  for (const key of keys) {
    const value = at(source, key)
    if (digest(value) !== recorded[key]) return Option.some({ field: key, sealed: recorded[key], value })
  }
  // a field given content after the seal was taken
  for (const field of fields[entry._tag]) {
    if (!(field in recorded) && !isEmpty(source[field])) {
      return Option.some({ field, sealed: undefined, value: source[field] })
    }
  }
  return Option.none()
}
