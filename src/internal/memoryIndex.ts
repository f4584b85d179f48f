/**
 * The pure parts of memory recall shared by every backend: how text becomes index terms, BM25
 * (the same formula FTS5's `bm25()` uses, so the in-memory backend ranks like SQLite), a
 * brute-force cosine index over unit vectors, and reciprocal rank fusion.
 *
 * @internal
 */

// -----------------------------------------------------------------------------
// terms
// -----------------------------------------------------------------------------

const segmenter = new Intl.Segmenter(undefined, { granularity: "word" })

// letters (with their combining marks) and digits; everything else separates terms
const termPattern = /[\p{L}\p{N}\p{M}]+/gu
// the Combining Diacritical Marks block only: accents on Latin/Greek/Cyrillic letters. Marks
// outside it (the Japanese voicing marks U+3099/U+309A) change the letter and must stay.
const latinDiacritics = /[\u0300-\u036f]/g
const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u

const normalize = (word: string): string =>
  word.toLowerCase().normalize("NFD").replace(latinDiacritics, "").normalize("NFC")

/**
 * The index terms of a text, in order (with repeats, so term frequency is kept).
 *
 * `Intl.Segmenter` splits words, with ICU's dictionaries for Chinese and Japanese (which have no
 * spaces), then each word is lowercased and stripped of Latin diacritics (`café` and `cafe` are
 * one term). A CJK word of three or more characters also yields its character bigrams, so that a
 * query for `日本` finds `日本語` even though the segmenter keeps `日本語` as one word.
 *
 * @internal
 */
export const terms = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const segment of segmenter.segment(text)) {
    if (segment.isWordLike !== true) continue
    const parts = normalize(segment.segment).match(termPattern)
    if (parts === null) continue
    for (const part of parts) {
      out.push(part)
      if (cjk.test(part)) {
        const chars = Array.from(part)
        if (chars.length >= 3) {
          for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!)
        }
      }
    }
  }
  return out
}

/**
 * The distinct terms of a query, in first-seen order.
 *
 * @internal
 */
export const queryTerms = (text: string): Array<string> => Array.from(new Set(terms(text)))

/**
 * An FTS5 MATCH expression: any of the terms (bm25 ranks documents with more and rarer terms
 * first). Terms hold only letters, marks and digits, so quoting cannot be broken out of.
 *
 * @internal
 */
export const matchExpression = (queryTerms: ReadonlyArray<string>): string =>
  queryTerms.map((term) => `"${term}"`).join(" OR ")

/**
 * The default posting budget of a lexical query: see {@link selectTerms}.
 *
 * @internal
 */
export const DEFAULT_LEXICAL_BUDGET = 5_000

/**
 * Which query terms to send to the index. BM25 cost grows with the number of postings scored
 * (the documents holding each term), and the common terms that make it large carry the least
 * weight, so:
 * - terms in no document are dropped (they match nothing);
 * - terms in half the documents or more are dropped when a rarer term is left: their idf is
 *   negative, which FTS5 clamps to 1e-6, so they change no ranking;
 * - then terms are kept rarest first while their postings fit in `budget` (the rarest is always
 *   kept). Only queries whose terms are common in a large store lose terms here, and they lose
 *   the ones with the lowest idf.
 *
 * @internal
 */
export const selectTerms = (
  queryTerms: ReadonlyArray<string>,
  documentFrequency: (term: string) => number,
  documents: number,
  budget: number
): Array<string> => {
  const present = queryTerms
    .map((term, order) => ({ term, order, df: documentFrequency(term) }))
    .filter((candidate) => candidate.df > 0)
    .sort((a, b) => a.df - b.df || a.order - b.order)
  const informative = present.filter((candidate) => candidate.df < documents / 2)
  const ranked = informative.length > 0 ? informative : present.slice(0, 1)
  const kept: Array<{ readonly term: string; readonly order: number }> = []
  let postings = 0
  for (const candidate of ranked) {
    if (kept.length > 0 && postings + candidate.df > budget) break
    kept.push(candidate)
    postings += candidate.df
  }
  return kept.sort((a, b) => a.order - b.order).map((candidate) => candidate.term)
}

/**
 * The distinct terms of each document, counted once per document: what document frequencies
 * are made of.
 *
 * @internal
 */
export const documentTerms = (docs: ReadonlyArray<ReadonlyArray<string>>): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const doc of docs) {
    for (const term of new Set(doc)) counts.set(term, (counts.get(term) ?? 0) + 1)
  }
  return counts
}

/**
 * BM25 scores are unbounded; `x / (1 + x)` maps them into [0, 1) keeping the order, with 0 for no
 * overlap at all.
 *
 * @internal
 */
export const normalizeBm25 = (score: number): number => score <= 0 ? 0 : score / (1 + score)

// -----------------------------------------------------------------------------
// BM25 over an in-memory inverted index
// -----------------------------------------------------------------------------

const K1 = 1.2
const B = 0.75

/**
 * An inverted index scored exactly as FTS5 scores one column: idf `ln((N - n + 0.5) / (n + 0.5))`
 * clamped at 1e-6, k1 = 1.2, b = 0.75, statistics over the whole store (like FTS5, which ignores
 * other WHERE clauses when computing them).
 *
 * @internal
 */
export class Bm25Index {
  private readonly postings = new Map<string, Map<string, number>>()
  private readonly lengths = new Map<string, number>()
  private readonly docTerms = new Map<string, ReadonlyArray<string>>()
  private totalLength = 0

  add(id: string, docTerms: ReadonlyArray<string>): void {
    this.remove(id)
    this.lengths.set(id, docTerms.length)
    this.docTerms.set(id, docTerms)
    this.totalLength += docTerms.length
    for (const term of docTerms) {
      let posting = this.postings.get(term)
      if (posting === undefined) {
        posting = new Map()
        this.postings.set(term, posting)
      }
      posting.set(id, (posting.get(id) ?? 0) + 1)
    }
  }

  remove(id: string): void {
    const docTerms = this.docTerms.get(id)
    if (docTerms === undefined) return
    for (const term of docTerms) {
      const posting = this.postings.get(term)
      if (posting === undefined) continue
      posting.delete(id)
      if (posting.size === 0) this.postings.delete(term)
    }
    this.totalLength -= docTerms.length
    this.lengths.delete(id)
    this.docTerms.delete(id)
  }

  get documents(): number {
    return this.lengths.size
  }

  documentFrequency(term: string): number {
    return this.postings.get(term)?.size ?? 0
  }

  /** Documents with at least one of the terms, best first, with their (positive) BM25 score. */
  search(
    query: ReadonlyArray<string>,
    accept: (id: string) => boolean,
    limit: number
  ): Array<{ readonly id: string; readonly score: number }> {
    const n = this.lengths.size
    if (n === 0) return []
    const avgdl = this.totalLength / n
    const scores = new Map<string, number>()
    for (const term of query) {
      const posting = this.postings.get(term)
      if (posting === undefined) continue
      const idf = Math.max(1e-6, Math.log((n - posting.size + 0.5) / (posting.size + 0.5)))
      for (const [id, tf] of posting) {
        if (!accept(id)) continue
        const dl = this.lengths.get(id)!
        const s = idf * (tf * (K1 + 1)) / (tf + K1 * (1 - B + B * dl / avgdl))
        scores.set(id, (scores.get(id) ?? 0) + s)
      }
    }
    return Array.from(scores, ([id, score]) => ({ id, score }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit)
  }
}

// -----------------------------------------------------------------------------
// vectors
// -----------------------------------------------------------------------------

/**
 * A vector scaled to length 1 (cosine similarity is then a dot product), or `undefined` for the
 * zero vector, which has no direction.
 *
 * @internal
 */
export const unit = (vector: ReadonlyArray<number>): Float32Array | undefined => {
  let norm = 0
  for (const x of vector) norm += x * x
  if (norm === 0 || !Number.isFinite(norm)) return undefined
  const scale = 1 / Math.sqrt(norm)
  const out = new Float32Array(vector.length)
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! * scale
  return out
}

/** @internal */
export const toBlob = (vector: Float32Array): Uint8Array =>
  new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength)

/** @internal */
export const fromBlob = (blob: Uint8Array): Float32Array => {
  // copy: the driver's buffer may not be 4-byte aligned
  const copy = new Uint8Array(blob.byteLength)
  copy.set(blob)
  return new Float32Array(copy.buffer)
}

/**
 * Unit vectors in one contiguous `Float32Array`, scanned in full per query. Removal swaps the last
 * vector into the freed slot, so the matrix stays dense.
 *
 * @internal
 */
export class VectorIndex {
  private matrix: Float32Array
  private ids: Array<string> = []
  private namespaces: Array<string> = []
  private readonly slots = new Map<string, number>()

  constructor(readonly dimensions: number) {
    this.matrix = new Float32Array(dimensions * 64)
  }

  get size(): number {
    return this.ids.length
  }

  add(id: string, namespace: string, vector: Float32Array): void {
    if (vector.length !== this.dimensions) return
    this.remove(id)
    const slot = this.ids.length
    if ((slot + 1) * this.dimensions > this.matrix.length) {
      const grown = new Float32Array(this.matrix.length * 2)
      grown.set(this.matrix)
      this.matrix = grown
    }
    this.matrix.set(vector, slot * this.dimensions)
    this.ids.push(id)
    this.namespaces.push(namespace)
    this.slots.set(id, slot)
  }

  remove(id: string): void {
    const slot = this.slots.get(id)
    if (slot === undefined) return
    const last = this.ids.length - 1
    if (slot !== last) {
      const d = this.dimensions
      this.matrix.copyWithin(slot * d, last * d, (last + 1) * d)
      this.ids[slot] = this.ids[last]!
      this.namespaces[slot] = this.namespaces[last]!
      this.slots.set(this.ids[slot]!, slot)
    }
    this.ids.pop()
    this.namespaces.pop()
    this.slots.delete(id)
  }

  clear(): void {
    this.ids = []
    this.namespaces = []
    this.slots.clear()
  }

  /** The `limit` most similar vectors with a positive cosine similarity, best first. */
  search(
    query: Float32Array,
    namespaces: ReadonlySet<string> | undefined,
    limit: number
  ): Array<{ readonly id: string; readonly score: number }> {
    const d = this.dimensions
    if (query.length !== d || limit <= 0) return []
    const m = this.matrix
    // a bounded list kept sorted by score, descending
    const best: Array<{ id: string; score: number }> = []
    for (let slot = 0; slot < this.ids.length; slot++) {
      if (namespaces !== undefined && !namespaces.has(this.namespaces[slot]!)) continue
      let dot = 0
      const offset = slot * d
      for (let i = 0; i < d; i++) dot += m[offset + i]! * query[i]!
      if (dot <= 0) continue
      if (best.length === limit && dot <= best[limit - 1]!.score) continue
      let at = best.length === limit ? limit - 1 : best.length
      if (best.length === limit) best.pop()
      while (at > 0 && best[at - 1]!.score < dot) at--
      best.splice(at, 0, { id: this.ids[slot]!, score: dot })
    }
    return best
  }
}

// -----------------------------------------------------------------------------
// fusion
// -----------------------------------------------------------------------------

/** The RRF constant from Cormack et al. (2009). @internal */
export const RRF_K = 60

/**
 * Reciprocal rank fusion of ranked id lists: `sum over lists of 1 / (RRF_K + rank)`, divided by
 * the best possible sum (rank 1 in every list) so the score is in (0, 1]. Ties keep the order of
 * the first list.
 *
 * @internal
 */
export const fuse = (
  lists: ReadonlyArray<ReadonlyArray<{ readonly id: string }>>
): Array<{ readonly id: string; readonly score: number }> => {
  const scores = new Map<string, number>()
  const order = new Map<string, number>()
  for (const list of lists) {
    list.forEach((item, index) => {
      scores.set(item.id, (scores.get(item.id) ?? 0) + 1 / (RRF_K + index + 1))
      if (!order.has(item.id)) order.set(item.id, order.size)
    })
  }
  const max = lists.length / (RRF_K + 1)
  return Array.from(scores, ([id, score]) => ({ id, score: score / max }))
    .sort((a, b) => b.score - a.score || order.get(a.id)! - order.get(b.id)!)
}

/** FNV-1a, 32 bits: a small stable hash for table names and the fake embedder. @internal */
export const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
