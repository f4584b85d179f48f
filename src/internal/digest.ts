/**
 * A fast content digest for evidence: four 32-bit lanes of cyrb53-style mixing over a string,
 * in one pass (128 bits, printed as 32 hex digits). It is computed many times per agent turn (one
 * per new message of a request, one per sealed field), where `crypto`'s hashes cost more in setting
 * up than in hashing. Not a cryptographic hash and not a signature: it tells content apart (edits,
 * damage, a different request), and anyone can recompute it.
 *
 * @internal
 */

// the 32 hex digits of a digest are written as char codes into one buffer and made one flat
// string (concatenating per byte made a rope of 16 strings for every digest, a third of its cost)
const HEX_CODES = Array.from("0123456789abcdef", (c) => c.charCodeAt(0))
const codes: Array<number> = new Array<number>(32).fill(48)

const put = (n: number, at: number): void => {
  for (let k = at + 7; k >= at; k--) {
    codes[k] = HEX_CODES[n & 15]!
    n >>>= 4
  }
}

// one buffer of char codes per prefix, the 32 digits after the prefix: a prefixed digest is made
// as one flat string without building an array per digest
const prefixed = new Map<string, Array<number>>()

/** Writes the 32 hex digits of the lanes into `codes`. */
const mix = (h1: number, h2: number, h3: number, h4: number, length: number): void => {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  h3 = Math.imul(h3 ^ (h3 >>> 15), 2654435761) ^ Math.imul(h4 ^ (h4 >>> 13), 1597334677)
  h4 = Math.imul(h4 ^ (h4 >>> 16), 2654435761) ^ Math.imul(h3 ^ (h3 >>> 15), 1597334677)
  put(h1, 0)
  put(h2, 8)
  put(h3, 16)
  put(h4 ^ length, 24)
}

/** The 32 hex digits of the lanes after `prefix`, as one flat string. */
const finish = (h1: number, h2: number, h3: number, h4: number, length: number, prefix?: string): string => {
  mix(h1, h2, h3, h4, length)
  if (prefix === undefined || prefix === "") return String.fromCharCode.apply(null, codes)
  let out = prefixed.get(prefix)
  if (out === undefined) {
    out = Array.from(prefix, (c) => c.charCodeAt(0))
    for (let i = 0; i < 32; i++) out.push(48)
    prefixed.set(prefix, out)
  }
  const at = prefix.length
  for (let i = 0; i < 32; i++) out[at + i] = codes[i]!
  return String.fromCharCode.apply(null, out)
}

/**
 * A digest in the making: texts are fed in order, each followed by a separator (so `["ab", "c"]`
 * and `["a", "bc"]` differ), then {@link Hasher.done} gives the 32 hex digits. Feeding the parts of
 * a value saves building its JSON.
 */
export class Hasher {
  private h1 = 0xdeadbeef
  private h2 = 0x41c6ce57
  private h3 = 0x9e3779b9
  private h4 = 0x85ebca6b
  private length = 0

  /** Forgets what was fed: the hasher starts again. */
  reset(): this {
    this.h1 = 0xdeadbeef
    this.h2 = 0x41c6ce57
    this.h3 = 0x9e3779b9
    this.h4 = 0x85ebca6b
    this.length = 0
    return this
  }

  /** Feeds `head + text` as one text, without making the joined string (see {@link digestAfter}). */
  addAfter(head: string, text: string): this {
    let h1 = this.h1
    let h2 = this.h2
    let h3 = this.h3
    let h4 = this.h4
    for (let i = 0; i < head.length; i++) {
      const ch = head.charCodeAt(i)
      h1 = Math.imul(h1 ^ ch, 2654435761)
      h2 = Math.imul(h2 ^ ch, 1597334677)
      h3 = Math.imul(h3 ^ ch, 2246822519)
      h4 = Math.imul(h4 ^ ch, 3266489917)
    }
    this.h1 = h1
    this.h2 = h2
    this.h3 = h3
    this.h4 = h4
    this.length += head.length
    return this.add(text)
  }

  /** Feeds one text. */
  add(text: string): this {
    let h1 = this.h1
    let h2 = this.h2
    let h3 = this.h3
    let h4 = this.h4
    const n = text.length
    for (let i = 0; i < n; i++) {
      const ch = text.charCodeAt(i)
      h1 = Math.imul(h1 ^ ch, 2654435761)
      h2 = Math.imul(h2 ^ ch, 1597334677)
      h3 = Math.imul(h3 ^ ch, 2246822519)
      h4 = Math.imul(h4 ^ ch, 3266489917)
    }
    // the separator after each text: a code no UTF-16 unit has
    h1 = Math.imul(h1 ^ 0x10000, 2654435761)
    h2 = Math.imul(h2 ^ 0x10000, 1597334677)
    h3 = Math.imul(h3 ^ 0x10000, 2246822519)
    h4 = Math.imul(h4 ^ 0x10000, 3266489917)
    this.h1 = h1
    this.h2 = h2
    this.h3 = h3
    this.h4 = h4
    this.length += text.length + 1
    return this
  }

  /** How many UTF-16 units were fed so far (separators included). */
  get fed(): number {
    return this.length
  }

  /**
   * Feeds the digest of what `other` was fed (its 32 hex digits, as `add(other.done())` would)
   * without making that digest's string.
   */
  addDigestOf(other: Hasher): this {
    mix(other.h1, other.h2, other.h3, other.h4, other.length)
    let h1 = this.h1
    let h2 = this.h2
    let h3 = this.h3
    let h4 = this.h4
    for (let i = 0; i < 32; i++) {
      const ch = codes[i]!
      h1 = Math.imul(h1 ^ ch, 2654435761)
      h2 = Math.imul(h2 ^ ch, 1597334677)
      h3 = Math.imul(h3 ^ ch, 2246822519)
      h4 = Math.imul(h4 ^ ch, 3266489917)
    }
    h1 = Math.imul(h1 ^ 0x10000, 2654435761)
    h2 = Math.imul(h2 ^ 0x10000, 1597334677)
    h3 = Math.imul(h3 ^ 0x10000, 2246822519)
    h4 = Math.imul(h4 ^ 0x10000, 3266489917)
    this.h1 = h1
    this.h2 = h2
    this.h3 = h3
    this.h4 = h4
    this.length += 33
    return this
  }

  /** The digest of what was fed, after `prefix` (one flat string, not a rope of the two). */
  done(prefix?: string): string {
    return finish(this.h1, this.h2, this.h3, this.h4, this.length, prefix)
  }
}

// hashers handed back after use (a hasher is an object and four boxed numbers: digests run
// several times per model call)
const spare: Array<Hasher> = []

/**
 * A fresh hasher, reused when one was handed back with {@link release}. Whoever takes one and
 * fails before releasing it only costs a new one later.
 */
export const acquire = (): Hasher => spare.pop()?.reset() ?? new Hasher()

/** Hands a hasher back for reuse; it must not be used after. */
export const release = (hasher: Hasher): void => {
  if (spare.length < 8) spare.push(hasher)
}

/** The digest of a text: 32 hex digits (what `new Hasher().add(text).done()` gives). */
export const digest = (text: string): string => digestAfter("", text)

/**
 * The digest of `head + text` (as {@link digest} of it), without making the joined string (a joined
 * string is copied flat when it is read character by character).
 */
export const digestAfter = (head: string, text: string): string => {
  // the lanes in locals: no hasher object for the most common digest
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  let h3 = 0x9e3779b9
  let h4 = 0x85ebca6b
  for (let i = 0; i < head.length; i++) {
    const ch = head.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
    h3 = Math.imul(h3 ^ ch, 2246822519)
    h4 = Math.imul(h4 ^ ch, 3266489917)
  }
  const n = text.length
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
    h3 = Math.imul(h3 ^ ch, 2246822519)
    h4 = Math.imul(h4 ^ ch, 3266489917)
  }
  h1 = Math.imul(h1 ^ 0x10000, 2654435761)
  h2 = Math.imul(h2 ^ 0x10000, 1597334677)
  h3 = Math.imul(h3 ^ 0x10000, 2246822519)
  h4 = Math.imul(h4 ^ 0x10000, 3266489917)
  return finish(h1, h2, h3, h4, head.length + n + 1)
}

/** The digest of a JSON value (`undefined` as `null`). */
export const digestJson = (value: unknown): string => digest(JSON.stringify(value) ?? "null")
