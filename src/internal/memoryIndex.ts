/**
 * The pure parts of memory recall shared by every backend: how text becomes index terms, BM25
 * (the same formula FTS5's `bm25()` uses, so the in-memory backend ranks like SQLite), the
 * per-query score, a brute-force cosine index over unit vectors, and hybrid fusion.
 *
 * @internal
 */
import { stemmer as stemDutch } from "@orama/stemmers/dutch"
import { stemmer as stemEnglish } from "@orama/stemmers/english"
import { stemmer as stemFrench } from "@orama/stemmers/french"
import { stemmer as stemGerman } from "@orama/stemmers/german"
import { stemmer as stemItalian } from "@orama/stemmers/italian"
import { stemmer as stemPortuguese } from "@orama/stemmers/portuguese"
import { stemmer as stemSpanish } from "@orama/stemmers/spanish"
import * as NodeCrypto from "node:crypto"

// -----------------------------------------------------------------------------
// terms
// -----------------------------------------------------------------------------

/**
 * The languages whose words are stemmed, by ISO 639-1 code. Stemmers are Snowball's (Porter's for
 * English) as packaged by `@orama/stemmers`.
 *
 * @internal
 */
export const LANGUAGES = ["en", "fr", "de", "es", "it", "pt", "nl"] as const

/** @internal */
export type Language = typeof LANGUAGES[number]

const stemmers: ReadonlyArray<(word: string) => string> = [
  stemEnglish,
  stemFrench,
  stemGerman,
  stemSpanish,
  stemItalian,
  stemPortuguese,
  stemDutch
]

/**
 * The version of the term pipeline. Stored terms made by another version are re-computed when a
 * store is opened (they would not match the terms of new queries).
 *
 * @internal
 */
export const TERMS_VERSION = `2:${LANGUAGES.join(",")}`

// the most frequent function words of each language, accents folded: what tells a text's
// language apart (see `languagesOf`) and what weighs nothing in a score (see `weights`)
const STOP_WORDS: { readonly [language in Language]: string } = {
  en: "a about an and any are as at be been but by can could did do does for from had has have he her him " +
    "his how i if in into is it its me my no not of on or our she should so some than that the their them " +
    "then there these they this those to us was we were what when where which who whom why will with would " +
    "you your",
  fr: "a au aux avec ce ces cette c d dans de des du elle elles en est et etait il ils j je l la le les leur " +
    "lui m ma mais me mes mon n ne nous on ou par pas plus pour qu quand que quel quelle qui s sa se ses son " +
    "sont sur t ta te tes ton tres tu un une vous y comment pourquoi",
  de: "am an auch auf aus bei bin bist da das dass dem den der des die du ein eine einem einen einer er es " +
    "fur hat haben ich ihr im in ist kein keine mein meine mit nach nicht noch oder sein seine sehr sie sind " +
    "uber und uns von war waren was wann warum welche welcher wer wie wir wird wo zu zum zur",
  es: "a al como con cuando de del donde el ella ellas ellos en era es esa ese esta este fue hay la las le " +
    "les lo los mas mi mis muy no nos o para pero por que quien se sin son su sus te tiene tu un una unas " +
    "unos y yo",
  it: "a al alla anche che chi ci come con cosa da dei del della delle di dove e gli ha hanno i il in io la " +
    "le lei lo loro lui ma mi mia mio molto nel nella noi non o per perche piu quale quali quando questa " +
    "questo se si sono su sua suo ti tu un una uno voi",
  pt: "a ao aos as com como da das de do dos e ela elas ele eles em era esta este eu foi isso mais mas meu " +
    "minha muito na nao nas no nos o onde os ou para pela pelo por quando que quem se sem seu sua sao tem " +
    "um uma voce",
  nl: "aan als bij dat de die dit deze een en er geen had heb heeft het hij hoe ik in is je jij maar met mijn " +
    "naar niet nog of om ons ook op te tot uit van voor waar wanneer was wat we welke wie wij zij ze zijn"
}

const stopLanguages = new Map<string, Array<number>>()
LANGUAGES.forEach((language, index) => {
  for (const word of STOP_WORDS[language].split(" ")) {
    const languages = stopLanguages.get(word) ?? []
    languages.push(index)
    stopLanguages.set(word, languages)
  }
})

// particles and copulas that carry no subject in Chinese, Japanese and Korean questions
const CJK_STOP_WORDS = new Set(
  "的 了 是 在 和 吗 呢 吧 谁 哪里 什么 の は が を に で と も か です ます いつ 何 은 는 이 가 을 를 에 도".split(" ")
)

const segmenter = new Intl.Segmenter(undefined, { granularity: "word" })

// letters (with their combining marks) and digits; everything else separates terms
const termPattern = /[\p{L}\p{N}\p{M}]+/gu
// the Combining Diacritical Marks block only: accents on Latin/Greek/Cyrillic letters. Marks
// outside it (the Japanese voicing marks U+3099/U+309A) change the letter and must stay.
const latinDiacritics = /[\u0300-\u036f]/g
const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u
// words the stemmers apply to: Latin letters (and their marks) only, no digits
const latinWord = /^[\p{Script=Latin}\p{M}]+$/u

// accents off, and German ß written ss (as Swiss German always does)
const fold = (word: string): string =>
  word.normalize("NFD").replace(latinDiacritics, "").normalize("NFC").replace(/ß/g, "ss")

/**
 * The separator between a stem's language and the stem in a term (`en·drink`). It is neither a
 * letter, a mark nor a digit, so a stem term never equals a word term; FTS5's `ascii` tokenizer
 * keeps it inside the token (every non-ASCII character is a token character).
 */
const STEM = "\u00b7"
/** The "language" of the stems of a text of no detected language. */
const ANY = "all"

// stems of a word (lowercased, accents kept: the stemmers know them) per language, accents folded
// afterwards; the stemmers cost microseconds per word and texts repeat words, so they are cached
const STEM_CACHE_LIMIT = 50_000
const stemCache = new Map<string, ReadonlyArray<string>>()
const stemsOf = (lower: string): ReadonlyArray<string> => {
  let stems = stemCache.get(lower)
  if (stems === undefined) {
    stems = stemmers.map((stem) => fold(stem(lower)))
    if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear()
    stemCache.set(lower, stems)
  }
  return stems
}

interface Word {
  /** The word lowercased, accents folded: the word term. */
  readonly term: string
  /** The word lowercased, accents kept: what the stemmers read. */
  readonly lower: string
  readonly kind: "latin" | "cjk" | "other"
}

// scripts written without spaces between words, which only ICU's dictionaries can split
const unspaced =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u

const wordOf = (lower: string): Word => ({
  term: fold(lower),
  lower,
  kind: latinWord.test(lower) ? "latin" : cjk.test(lower) ? "cjk" : "other"
})

const wordsOf = (text: string): Array<Word> => {
  const out: Array<Word> = []
  // text in scripts that separate words (Latin, Greek, Cyrillic, Hangul, ...) gives the same words
  // split by the term pattern alone, at a third of the cost of the segmenter
  if (!unspaced.test(text)) {
    for (const lower of text.toLowerCase().normalize("NFC").match(termPattern) ?? []) out.push(wordOf(lower))
    return out
  }
  for (const segment of segmenter.segment(text)) {
    if (segment.isWordLike !== true) continue
    const parts = segment.segment.toLowerCase().normalize("NFC").match(termPattern)
    if (parts === null) continue
    for (const lower of parts) out.push(wordOf(lower))
  }
  return out
}

const ALL_LANGUAGES: ReadonlyArray<number> = LANGUAGES.map((_, index) => index)

/**
 * The languages a text is written in, as indexes into {@link LANGUAGES}: those whose function
 * words it uses most (a word shared by several languages counts for each a share). A text with no
 * function word of any supported language (a short note, a name, a query of keywords) is in all
 * of them: its words are stemmed by every stemmer.
 */
const languagesOf = (words: ReadonlyArray<Word>): ReadonlyArray<number> => {
  const scores = new Array<number>(LANGUAGES.length).fill(0)
  for (const word of words) {
    // one letter (English "a", "I", the "s" of "Ada's", French elisions) tells too little
    if (word.term.length < 2) continue
    const languages = stopLanguages.get(word.term)
    if (languages === undefined) continue
    for (const language of languages) scores[language]! += 1 / languages.length
  }
  const best = Math.max(...scores)
  if (best === 0) return ALL_LANGUAGES
  return scores.flatMap((score, language) => score >= best - 1e-9 ? [language] : [])
}

/**
 * The stem terms of a word. In a text whose languages are known, one per language (`en·drink`), so
 * that one language's stem never matches another's (Italian stems `note` to `not`; an English
 * `not` must not match it). In a text of no detected language (`ALL_LANGUAGES`), each distinct stem
 * once, as `all·drink`: the stemmers mostly agree, and seven terms per word would
 * make the index several times larger. A query looks for both forms of each of its stems.
 */
const stemTerms = (word: Word, languages: ReadonlyArray<number>, query: boolean): Array<string> => {
  if (word.kind !== "latin" || word.lower.length < 3) return []
  const stems = stemsOf(word.lower)
  if (query) {
    return languages.flatMap((language) => [
      `${LANGUAGES[language]}${STEM}${stems[language]}`,
      `${ANY}${STEM}${stems[language]}`
    ])
  }
  return languages === ALL_LANGUAGES
    ? Array.from(new Set(stems), (stem) => `${ANY}${STEM}${stem}`)
    : languages.map((language) => `${LANGUAGES[language]}${STEM}${stems[language]}`)
}

const bigrams = (word: Word): Array<string> => {
  if (word.kind !== "cjk") return []
  const chars = Array.from(word.term)
  const out: Array<string> = []
  if (chars.length >= 3) {
    for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!)
  }
  return out
}

const isStopWord = (word: Word, languages: ReadonlyArray<number>): boolean =>
  word.kind === "cjk"
    ? CJK_STOP_WORDS.has(word.term)
    : (stopLanguages.get(word.term) ?? []).some((language) => languages.includes(language))

/**
 * The index terms of a text, in order (with repeats, so term frequency is kept).
 *
 * `Intl.Segmenter` splits words, with ICU's dictionaries for Chinese and Japanese (which have no
 * spaces); each word is lowercased and stripped of Latin diacritics (`café` and `cafe` are one
 * term). A word of Latin letters also yields its stem terms (`en·drink` for `drinks`, see
 * `stemTerms`), so another form of the word matches when a stemmer maps both to the same stem. A CJK word of three or more characters also yields its character bigrams, so that a
 * query for `日本` finds `日本語` even though the segmenter keeps `日本語` as one word.
 *
 * @internal
 */
export const terms = (text: string): Array<string> => {
  const words = wordsOf(text)
  const languages = languagesOf(words)
  const out: Array<string> = []
  for (const word of words) {
    out.push(word.term)
    // a function word of the text's language weighs nothing in a score: its stems would only
    // fill the index
    if (!isStopWord(word, languages)) { for (const term of stemTerms(word, languages, false)) out.push(term) }
    for (const term of bigrams(word)) out.push(term)
  }
  return out
}

/**
 * The words of a text (lowercased, accents folded), without stems or bigrams: what the fake
 * embedder maps through its concepts.
 *
 * @internal
 */
export const words = (text: string): Array<string> => wordsOf(text).map((word) => word.term)

/**
 * One distinct word of a query and the terms that find it: the word, its stems in the query's
 * languages, its CJK bigrams. A memory holds the word when it holds any of them. A function word
 * (`stop`) weighs nothing in a score unless the query has nothing else.
 *
 * @internal
 */
export interface QueryWord {
  readonly word: string
  readonly terms: ReadonlyArray<string>
  readonly stop: boolean
}

/**
 * The distinct words of a query, in first-seen order.
 *
 * @internal
 */
export const queryWords = (text: string): Array<QueryWord> => {
  const words = wordsOf(text)
  const languages = languagesOf(words)
  const seen = new Map<string, QueryWord>()
  for (const word of words) {
    if (seen.has(word.term)) continue
    const stop = isStopWord(word, languages)
    const terms = [word.term, ...stemTerms(word, languages, true), ...bigrams(word)]
    seen.set(word.term, { word: word.term, terms: Array.from(new Set(terms)), stop })
  }
  return Array.from(seen.values())
}

/**
 * The distinct terms of a query, in first-seen order.
 *
 * @internal
 */
export const queryTerms = (text: string): Array<string> =>
  Array.from(new Set(queryWords(text).flatMap((word) => word.terms)))

/**
 * The weight of each query word in a score: `1 + ln(1 + (N - n + 0.5) / (n + 0.5))`, where `N` is
 * the number of memories and `n` how many hold the word (any of its terms): from about 1 for a word
 * in every memory to about `1 + ln(2N)` for one in none. Unlike FTS5's idf it is never negative or
 * clamped, so a word in half the memories still counts. Function words weigh 0 when the query
 * has another word.
 *
 * @internal
 */
export const weights = (
  words: ReadonlyArray<QueryWord>,
  documentFrequency: (term: string) => number,
  documents: number
): Array<number> => {
  const content = words.some((word) => !word.stop)
  return words.map((word) => {
    if (content && word.stop) return 0
    const n = Math.min(documents, Math.max(0, ...word.terms.map(documentFrequency)))
    return 1 + Math.log(1 + (documents - n + 0.5) / (n + 0.5))
  })
}

/**
 * The score of a memory for a query: the share of the query's weight ({@link weights}) carried by
 * the query words the memory holds (the word itself or, for a Latin word, another form of it with
 * the same stem in one of the query's languages). In [0, 1]: 1 when the memory holds every word,
 * 0 when it holds none (or only function words).
 *
 * @internal
 */
export const coverage = (
  words: ReadonlyArray<QueryWord>,
  wordWeights: ReadonlyArray<number>,
  documentTerms: ReadonlySet<string>
): number => {
  let total = 0
  let held = 0
  words.forEach((word, index) => {
    const weight = wordWeights[index]!
    total += weight
    if (weight > 0 && word.terms.some((term) => documentTerms.has(term))) held += weight
  })
  return total === 0 ? 0 : held / total
}

/**
 * The key under which commits store a text once per namespace: the SHA-256 (base64url) of the
 * text in Unicode NFKC, lowercased, with runs of whitespace as one space and no leading or
 * trailing whitespace. Texts differing only in case, Unicode form or spacing share a key.
 *
 * @internal
 */
export const textKey = (text: string): string =>
  NodeCrypto.createHash("sha256")
    .update(text.normalize("NFKC").toLowerCase().replace(/\s+/gu, " ").trim())
    .digest("base64url")

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
 * Which terms to send to the index. BM25 cost grows with the number of postings scored (the
 * memories holding each term), and the common words that make it large carry the least weight, so
 * the words are taken rarest first (a word's frequency is that of its most frequent term), each
 * with all its terms found in the store, while their postings fit in `budget`; the rarest word is
 * always taken. Words in no memory are left out (they match nothing). Only queries whose words are
 * common in a large store lose words here, and they lose the ones that weigh least.
 *
 * @internal
 */
export const selectTerms = (
  words: ReadonlyArray<QueryWord>,
  documentFrequency: (term: string) => number,
  budget: number
): Array<string> => {
  const present = words
    .map((word, order) => {
      const terms = word.terms.filter((term) => documentFrequency(term) > 0)
      return {
        terms,
        order,
        df: Math.max(0, ...terms.map(documentFrequency)),
        postings: terms.reduce((sum, term) => sum + documentFrequency(term), 0)
      }
    })
    .filter((candidate) => candidate.terms.length > 0)
    .sort((a, b) => a.df - b.df || a.order - b.order)
  const kept: Array<{ readonly terms: ReadonlyArray<string>; readonly order: number }> = []
  let postings = 0
  for (const candidate of present) {
    if (kept.length > 0 && postings + candidate.postings > budget) break
    kept.push(candidate)
    postings += candidate.postings
  }
  return Array.from(new Set(kept.sort((a, b) => a.order - b.order).flatMap((candidate) => candidate.terms)))
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

  /** The terms a document was indexed with. */
  termsOf(id: string): ReadonlyArray<string> {
    return this.docTerms.get(id) ?? []
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

/**
 * Hybrid fusion: the convex combination of the lexical score ({@link coverage}, in [0, 1]) and the
 * cosine similarity (in (0, 1] for the vector list), with equal weights; a memory missing from one
 * list counts 0 there, so one found by a single list scores at most 0.5. Both scores are bounded,
 * so, unlike reciprocal rank fusion, a strong match in one list is not outranked by weak matches
 * in both (Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", 2023).
 * Ties keep the lexical order.
 *
 * @internal
 */
export const combine = (
  lexical: ReadonlyArray<{ readonly id: string; readonly score: number }>,
  vector: ReadonlyArray<{ readonly id: string; readonly score: number }>
): Array<{ readonly id: string; readonly score: number; readonly match: "lexical" | "vector" | "both" }> => {
  const byVector = new Map(vector.map((hit) => [hit.id, hit.score]))
  const order = new Map<string, number>()
  const out = lexical.map((hit): { id: string; score: number; match: "lexical" | "vector" | "both" } => {
    order.set(hit.id, order.size)
    const cosine = byVector.get(hit.id)
    return {
      id: hit.id,
      score: (hit.score + (cosine ?? 0)) / 2,
      match: cosine === undefined ? "lexical" : "both"
    }
  })
  for (const hit of vector) {
    if (order.has(hit.id)) continue
    order.set(hit.id, order.size)
    out.push({ id: hit.id, score: hit.score / 2, match: "vector" })
  }
  return out.sort((a, b) => b.score - a.score || order.get(a.id)! - order.get(b.id)!)
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
