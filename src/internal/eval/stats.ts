/**
 * Paired significance tests for comparing two eval runs case by case: the exact sign test (and
 * McNemar's exact test, which is the sign test on the discordant pairs) and the Wilcoxon
 * signed-rank test (exact for small samples without ties, normal approximation otherwise).
 * Pure functions of numbers; no dependency.
 */

/** log C(n, k) by a running sum of logs (exact enough for the n of an eval). */
const logChoose = (n: number, k: number): number => {
  let out = 0
  const m = Math.min(k, n - k)
  for (let i = 1; i <= m; i++) out += Math.log(n - m + i) - Math.log(i)
  return out
}

/** P(X <= k) for X ~ Binomial(n, 1/2). */
export const binomialCdfHalf = (k: number, n: number): number => {
  if (k < 0) return 0
  if (k >= n) return 1
  let sum = 0
  const logHalfN = n * Math.log(0.5)
  for (let i = 0; i <= k; i++) sum += Math.exp(logChoose(n, i) + logHalfN)
  return Math.min(1, sum)
}

/**
 * The exact two-sided sign test: `positive` pairs went one way, `negative` the other (ties are
 * left out before calling). p = 1 when there is no pair.
 */
export const signTest = (positive: number, negative: number): number => {
  const n = positive + negative
  if (n === 0) return 1
  return Math.min(1, 2 * binomialCdfHalf(Math.min(positive, negative), n))
}

/** The standard normal CDF (Abramowitz and Stegun 7.1.26 for erf; error below 1.5e-7). */
export const normalCdf = (z: number): number => {
  const x = Math.abs(z) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * x)
  const erf = 1 -
    (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t *
      Math.exp(-x * x)
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf)
}

/** The result of a Wilcoxon signed-rank test. */
export interface Wilcoxon {
  /** Pairs with a non-zero difference. */
  readonly n: number
  /** Sum of the ranks of the positive differences. */
  readonly wPlus: number
  readonly wMinus: number
  /** Two-sided p-value. */
  readonly p: number
  readonly method: "exact" | "normal"
}

/**
 * The Wilcoxon signed-rank test on paired differences (`b - a`): zero differences are dropped,
 * tied magnitudes get average ranks. Exact (the null distribution of W+ by dynamic programming)
 * when n <= 50 and there are no ties; otherwise the normal approximation with the tie correction
 * and a continuity correction.
 */
export const wilcoxon = (differences: ReadonlyArray<number>): Wilcoxon => {
  const nonZero = differences.filter((d) => d !== 0 && Number.isFinite(d))
  const n = nonZero.length
  if (n === 0) return { n: 0, wPlus: 0, wMinus: 0, p: 1, method: "exact" }
  const sorted = nonZero.map((d, i) => ({ abs: Math.abs(d), positive: d > 0, i })).sort((x, y) => x.abs - y.abs)
  const ranks = new Array<number>(n)
  let ties = false
  let tieCorrection = 0
  for (let i = 0; i < n;) {
    let j = i
    while (j + 1 < n && sorted[j + 1]!.abs === sorted[i]!.abs) j++
    const rank = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) ranks[k] = rank
    const t = j - i + 1
    if (t > 1) {
      ties = true
      tieCorrection += t * t * t - t
    }
    i = j + 1
  }
  let wPlus = 0
  for (let k = 0; k < n; k++) if (sorted[k]!.positive) wPlus += ranks[k]!
  const total = (n * (n + 1)) / 2
  const wMinus = total - wPlus
  if (!ties && n <= 50) {
    // dist[w] = P(W+ = w) under the null: each rank is in W+ with probability 1/2
    let dist = new Float64Array(total + 1)
    dist[0] = 1
    for (let r = 1; r <= n; r++) {
      const next = new Float64Array(total + 1)
      for (let w = 0; w <= total; w++) {
        const p = dist[w]!
        if (p === 0) continue
        next[w] = next[w]! + p / 2
        if (w + r <= total) next[w + r] = next[w + r]! + p / 2
      }
      dist = next
    }
    const low = Math.min(wPlus, wMinus)
    let cdf = 0
    for (let w = 0; w <= Math.floor(low); w++) cdf += dist[w]!
    return { n, wPlus, wMinus, p: Math.min(1, 2 * cdf), method: "exact" }
  }
  const mean = total / 2
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieCorrection / 48
  if (variance <= 0) return { n, wPlus, wMinus, p: 1, method: "normal" }
  const z = (Math.abs(wPlus - mean) - 0.5) / Math.sqrt(variance)
  return { n, wPlus, wMinus, p: Math.min(1, 2 * (1 - normalCdf(Math.max(z, 0)))), method: "normal" }
}

/** The q-quantile of sorted numbers (nearest rank), or 0 for none. */
export const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!

/** The mean, or 0 for none. */
export const mean = (values: ReadonlyArray<number>): number =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length
