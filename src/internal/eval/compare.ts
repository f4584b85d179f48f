/**
 * Comparing two runs over the same dataset case by case: McNemar's exact test on pass/fail, the
 * Wilcoxon signed-rank and sign tests on scores, tokens and latency; as text and as a standalone
 * HTML page with inline SVG plots (no script, no network).
 */
import { totals } from "./metrics.js"
import type { CaseResult, Totals } from "./model.js"
import type { RunRecord } from "./run.js"
import { mean, signTest, type Wilcoxon, wilcoxon } from "./stats.js"

/** How a case changed from run A to run B. */
export type Change = "fixed" | "broken" | "passing" | "failing"

/** One case in both runs. */
export interface PairedCase {
  readonly caseId: string
  readonly line: number
  readonly a: CaseResult
  readonly b: CaseResult
  readonly change: Change
  readonly scoreDiff: number
}

/** A paired test of one measure (B minus A). */
export interface PairedMeasure {
  readonly meanA: number
  readonly meanB: number
  readonly meanDiff: number
  /** Cases where B is higher, lower, equal. */
  readonly higher: number
  readonly lower: number
  readonly equal: number
  readonly wilcoxon: Wilcoxon
  /** The exact sign test's two-sided p. */
  readonly signP: number
}

/** A comparison of two runs. */
export interface Comparison {
  readonly a: { readonly id: string; readonly name: string; readonly totals: Totals }
  readonly b: { readonly id: string; readonly name: string; readonly totals: Totals }
  readonly cases: ReadonlyArray<PairedCase>
  /** Case ids only one run has (not compared). */
  readonly onlyA: ReadonlyArray<string>
  readonly onlyB: ReadonlyArray<string>
  readonly pass: {
    readonly bothPass: number
    readonly bothFail: number
    /** Passed in B only (fixed) and in A only (broken). */
    readonly fixed: number
    readonly broken: number
    /** McNemar's exact test (the sign test on the discordant cases), two-sided. */
    readonly p: number
  }
  readonly score: PairedMeasure
  readonly tokens: PairedMeasure
  readonly latencyMs: PairedMeasure
  /** Whether the two runs were made on the same dataset (digest). */
  readonly sameDataset: boolean
}

const measureOf = (pairs: ReadonlyArray<PairedCase>, f: (c: CaseResult) => number): PairedMeasure => {
  const a = pairs.map((p) => f(p.a))
  const b = pairs.map((p) => f(p.b))
  // rounded: means of check scores give the same difference in different last bits (1 - 2/3 is
  // not 1/3), which would break ties and signs
  const diffs = pairs.map((_, i) => Math.round((b[i]! - a[i]!) * 1e9) / 1e9)
  const higher = diffs.filter((d) => d > 0).length
  const lower = diffs.filter((d) => d < 0).length
  return {
    meanA: mean(a),
    meanB: mean(b),
    meanDiff: mean(diffs),
    higher,
    lower,
    equal: diffs.length - higher - lower,
    wilcoxon: wilcoxon(diffs),
    signP: signTest(higher, lower)
  }
}

/** Compares run B with run A, case by case (cases matched by id). */
export const compare = (a: RunRecord, b: RunRecord): Comparison => {
  const inB = new Map(b.cases.map((c) => [c.caseId, c]))
  const inA = new Set(a.cases.map((c) => c.caseId))
  const cases: Array<PairedCase> = []
  const onlyA: Array<string> = []
  for (const ca of a.cases) {
    const cb = inB.get(ca.caseId)
    if (cb === undefined) {
      onlyA.push(ca.caseId)
      continue
    }
    const change: Change = ca.pass ? (cb.pass ? "passing" : "broken") : (cb.pass ? "fixed" : "failing")
    cases.push({ caseId: ca.caseId, line: ca.line, a: ca, b: cb, change, scoreDiff: cb.score - ca.score })
  }
  const onlyB = b.cases.filter((c) => !inA.has(c.caseId)).map((c) => c.caseId)
  const count = (change: Change) => cases.filter((c) => c.change === change).length
  const fixed = count("fixed")
  const broken = count("broken")
  return {
    a: { id: a.id, name: a.spec.name, totals: totals(a.cases) },
    b: { id: b.id, name: b.spec.name, totals: totals(b.cases) },
    cases,
    onlyA,
    onlyB,
    pass: { bothPass: count("passing"), bothFail: count("failing"), fixed, broken, p: signTest(fixed, broken) },
    score: measureOf(cases, (c) => c.score),
    tokens: measureOf(cases, (c) => c.metrics.tokens),
    latencyMs: measureOf(cases, (c) => c.metrics.latencyMs),
    sameDataset: a.spec.datasetDigest === b.spec.datasetDigest
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const num = (x: number, digits = 3) => Number.isInteger(x) ? String(x) : x.toFixed(digits)
const pv = (p: number) => p < 0.001 ? "<0.001" : p.toFixed(3)

/** The comparison as text, for a terminal. */
export const toText = (c: Comparison): string => {
  const lines: Array<string> = []
  lines.push(`A: ${c.a.name} (${c.a.id})`)
  lines.push(`B: ${c.b.name} (${c.b.id})`)
  if (!c.sameDataset) {
    lines.push("warning: the runs were made on different datasets; only cases with the same id are compared")
  }
  lines.push(
    `paired cases: ${c.cases.length}${
      c.onlyA.length + c.onlyB.length > 0 ? ` (only in A: ${c.onlyA.length}, only in B: ${c.onlyB.length})` : ""
    }`
  )
  lines.push(
    `pass rate: A ${pct(c.a.totals.passRate)}  B ${
      pct(c.b.totals.passRate)
    }  fixed ${c.pass.fixed}  broken ${c.pass.broken}  McNemar exact p=${pv(c.pass.p)}`
  )
  const row = (label: string, m: PairedMeasure) =>
    `${label}: A ${num(m.meanA)}  B ${num(m.meanB)}  diff ${m.meanDiff >= 0 ? "+" : ""}${num(m.meanDiff)}  ` +
    `higher ${m.higher} lower ${m.lower} equal ${m.equal}  Wilcoxon p=${
      pv(m.wilcoxon.p)
    } (${m.wilcoxon.method})  sign p=${pv(m.signP)}`
  lines.push(row("score", c.score))
  lines.push(row("tokens", c.tokens))
  lines.push(row("latency ms", c.latencyMs))
  if (c.a.totals.cost !== undefined && c.b.totals.cost !== undefined) {
    lines.push(`cost: A $${c.a.totals.cost.toFixed(4)}  B $${c.b.totals.cost.toFixed(4)}`)
  }
  const changed = c.cases.filter((p) => p.change === "fixed" || p.change === "broken")
  if (changed.length > 0) {
    lines.push("changed cases:")
    for (const p of changed.slice(0, 50)) {
      lines.push(
        `  ${p.change === "fixed" ? "+" : "-"} ${p.caseId} (line ${p.line}) ${p.change}  score ${num(p.a.score)} -> ${
          num(p.b.score)
        }`
      )
    }
    if (changed.length > 50) lines.push(`  ... and ${changed.length - 50} more`)
  }
  return lines.join("\n")
}

const esc = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const colors: Record<Change, string> = { fixed: "#2a9d4a", broken: "#d1342f", passing: "#7a8fa6", failing: "#c8a13a" }

/** Bars of pass rate and mean score, A beside B. */
const barsSvg = (c: Comparison): string => {
  const groups = [
    { label: "pass rate", a: c.a.totals.passRate, b: c.b.totals.passRate },
    { label: "mean score", a: c.score.meanA, b: c.score.meanB }
  ]
  const w = 360
  const h = 220
  const bar = 50
  const parts = groups.map((g, i) => {
    const x = 40 + i * 160
    const ha = g.a * 160
    const hb = g.b * 160
    return `<rect x="${x}" y="${190 - ha}" width="${bar}" height="${ha}" fill="#6c8ebf"><title>A ${
      pct(g.a)
    }</title></rect>` +
      `<rect x="${x + bar + 4}" y="${190 - hb}" width="${bar}" height="${hb}" fill="#e69138"><title>B ${
        pct(g.b)
      }</title></rect>` +
      `<text x="${x + bar}" y="207" text-anchor="middle">${g.label}</text>` +
      `<text x="${x + bar / 2}" y="${185 - ha}" text-anchor="middle">${pct(g.a)}</text>` +
      `<text x="${x + bar * 1.5 + 4}" y="${185 - hb}" text-anchor="middle">${pct(g.b)}</text>`
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-size="11" role="img" aria-label="pass rate and mean score">` +
    `<line x1="30" y1="190" x2="${w - 10}" y2="190" stroke="#333"/>${parts.join("")}` +
    `<rect x="${w - 90}" y="8" width="10" height="10" fill="#6c8ebf"/><text x="${w - 76}" y="17">A</text>` +
    `<rect x="${w - 50}" y="8" width="10" height="10" fill="#e69138"/><text x="${w - 36}" y="17">B</text></svg>`
}

/** Each case's score in A (x) against B (y), with the diagonal; colour is the change. */
const scatterSvg = (c: Comparison): string => {
  const size = 260
  const pad = 30
  const s = size - 2 * pad
  const jitter = (i: number) => ((i * 37) % 11 - 5) * 0.6
  const points = c.cases.map((p, i) =>
    `<circle cx="${(pad + p.a.score * s + jitter(i)).toFixed(1)}" cy="${
      (size - pad - p.b.score * s + jitter(i + 3)).toFixed(1)
    }" r="3.5" fill="${colors[p.change]}" fill-opacity="0.75"><title>${esc(p.caseId)}: ${num(p.a.score)} -&gt; ${
      num(p.b.score)
    } (${p.change})</title></circle>`
  )
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" font-size="11" role="img" aria-label="score A against score B">` +
    `<rect x="${pad}" y="${pad}" width="${s}" height="${s}" fill="none" stroke="#999"/>` +
    `<line x1="${pad}" y1="${size - pad}" x2="${size - pad}" y2="${pad}" stroke="#bbb" stroke-dasharray="4 3"/>` +
    `<text x="${size / 2}" y="${size - 8}" text-anchor="middle">score A</text>` +
    `<text x="10" y="${size / 2}" transform="rotate(-90 10 ${size / 2})" text-anchor="middle">score B</text>` +
    `${points.join("")}</svg>`
}

/** A histogram of the score differences B - A in ten bins over [-1, 1]. */
const histogramSvg = (c: Comparison): string => {
  const bins = new Array<number>(10).fill(0)
  for (const p of c.cases) bins[Math.min(9, Math.max(0, Math.floor((p.scoreDiff + 1) / 0.2)))]! += 1
  const most = Math.max(1, ...bins)
  const w = 320
  const h = 200
  const bw = 26
  const rects = bins.map((n, i) => {
    const bh = (n / most) * 140
    const lo = -1 + i * 0.2
    return `<rect x="${30 + i * (bw + 2)}" y="${170 - bh}" width="${bw}" height="${bh}" fill="${
      lo + 0.1 < 0 ? "#d1342f" : lo + 0.1 > 0 ? "#2a9d4a" : "#999"
    }"><title>${lo.toFixed(1)}..${(lo + 0.2).toFixed(1)}: ${n}</title></rect>` +
      (n > 0 ? `<text x="${30 + i * (bw + 2) + bw / 2}" y="${166 - bh}" text-anchor="middle">${n}</text>` : "")
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-size="11" role="img" aria-label="score difference histogram">` +
    `<line x1="28" y1="170" x2="${30 + 10 * (bw + 2)}" y2="170" stroke="#333"/>${rects.join("")}` +
    `<text x="30" y="185">-1</text><text x="${30 + 5 * (bw + 2)}" y="185" text-anchor="middle">0</text><text x="${
      30 + 10 * (bw + 2)
    }" y="185" text-anchor="end">+1</text>` +
    `<text x="${w / 2}" y="198" text-anchor="middle">score B - score A</text></svg>`
}

/** The comparison as a standalone HTML page: summary, tests, plots and every paired case. */
export const toHtml = (c: Comparison): string => {
  const m = (label: string, x: PairedMeasure) =>
    `<tr><td>${label}</td><td>${num(x.meanA)}</td><td>${num(x.meanB)}</td><td>${x.meanDiff >= 0 ? "+" : ""}${
      num(x.meanDiff)
    }</td><td>${x.higher} / ${x.lower} / ${x.equal}</td><td>${pv(x.wilcoxon.p)} (${x.wilcoxon.method})</td><td>${
      pv(x.signP)
    }</td></tr>`
  const rows = c.cases.map((p) =>
    `<tr class="${p.change}"><td>${esc(p.caseId)}</td><td>${p.line}</td><td>${p.a.pass ? "pass" : "fail"}</td><td>${
      p.b.pass ? "pass" : "fail"
    }</td><td>${num(p.a.score)}</td><td>${
      num(p.b.score)
    }</td><td>${p.change}</td><td>${p.a.metrics.tokens}</td><td>${p.b.metrics.tokens}</td><td>${p.a.metrics.latencyMs}</td><td>${p.b.metrics.latencyMs}</td></tr>`
  )
  const total = (t: Totals) =>
    `<td>${t.cases}</td><td>${pct(t.passRate)}</td><td>${
      num(t.meanScore)
    }</td><td>${t.tokens}</td><td>${t.modelCalls}</td><td>${t.toolCalls}</td><td>${t.retries}</td><td>${t.branches}</td><td>${t.checksPassed}/${t.checks}</td><td>${
      num(t.latencyMs.p50)
    }</td><td>${num(t.latencyMs.p95)}</td><td>${t.cost === undefined ? "-" : `$${t.cost.toFixed(4)}`}</td>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rath eval: ${esc(c.a.name)} vs ${esc(c.b.name)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
tr.fixed td{background:#e6f4ea}tr.broken td{background:#fbe9e7}.plots{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-end}
figure{margin:0}figcaption{font-size:12px;color:#555}code{background:#f3f3f3;padding:1px 4px}
</style></head><body>
<h1>Eval comparison</h1>
<p>A: <b>${esc(c.a.name)}</b> <code>${esc(c.a.id)}</code> &nbsp; B: <b>${esc(c.b.name)}</b> <code>${
    esc(c.b.id)
  }</code></p>
${
    c.sameDataset
      ? ""
      : "<p><b>The runs were made on different datasets;</b> only cases with the same id are compared.</p>"
  }
<p>${c.cases.length} paired cases${
    c.onlyA.length + c.onlyB.length > 0 ? `; only in A: ${c.onlyA.length}, only in B: ${c.onlyB.length}` : ""
  }.</p>
<h2>Totals</h2>
<table><tr><th>run</th><th>cases</th><th>pass rate</th><th>mean score</th><th>tokens</th><th>model calls</th><th>tool calls</th><th>retries</th><th>branches</th><th>checks passed</th><th>latency p50 ms</th><th>p95 ms</th><th>cost</th></tr>
<tr><td>A</td>${total(c.a.totals)}</tr><tr><td>B</td>${total(c.b.totals)}</tr></table>
<h2>Paired tests (B − A)</h2>
<table><tr><th>pass</th><th colspan="2">both pass / both fail</th><th colspan="2">fixed / broken</th><th colspan="2">McNemar exact p</th></tr>
<tr><td>cases</td><td colspan="2">${c.pass.bothPass} / ${c.pass.bothFail}</td><td colspan="2">${c.pass.fixed} / ${c.pass.broken}</td><td colspan="2">${
    pv(c.pass.p)
  }</td></tr>
<tr><th>measure</th><th>mean A</th><th>mean B</th><th>mean diff</th><th>higher / lower / equal</th><th>Wilcoxon p</th><th>sign p</th></tr>
${m("score", c.score)}${m("tokens", c.tokens)}${m("latency ms", c.latencyMs)}</table>
<div class="plots">
<figure>${barsSvg(c)}<figcaption>Pass rate and mean score</figcaption></figure>
<figure>${scatterSvg(c)}<figcaption>Score per case, A against B (green fixed, red broken)</figcaption></figure>
<figure>${histogramSvg(c)}<figcaption>Score differences</figcaption></figure>
</div>
<h2>Cases</h2>
<table><tr><th>case</th><th>line</th><th>A</th><th>B</th><th>score A</th><th>score B</th><th>change</th><th>tokens A</th><th>tokens B</th><th>ms A</th><th>ms B</th></tr>
${rows.join("\n")}
</table>
</body></html>
`
}
