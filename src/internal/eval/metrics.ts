/**
 * What a case session shows: tokens, model and tool calls, retries, branches, checks, latency and
 * cost, counted from its entries.
 */
import * as Session from "../../Session.js"
import type { CaseResult, Metrics, Price, Prices, Totals } from "./model.js"
import { mean, quantile } from "./stats.js"

/** The price of a model: an exact key, else the longest key the model's name starts with. */
export const priceOf = (prices: Prices, model: string): Price | undefined => {
  const exact = prices[model]
  if (exact !== undefined) return exact
  let best: string | undefined
  for (const key of Object.keys(prices)) {
    if (model.startsWith(key) && (best === undefined || key.length > best.length)) best = key
  }
  return best === undefined ? undefined : prices[best]
}

/**
 * Counts the evidence of a case session. `latencyMs` is the workflow's wall time, measured by the
 * runner. Retries: a failed tool call followed by another call of the same tool, and a failed
 * check followed by another model call (an attempt made again).
 */
export const measure = (session: Session.Session, latencyMs: number, prices?: Prices | undefined): Metrics => {
  let tokens = 0
  let inputTokens = 0
  let outputTokens = 0
  let modelCalls = 0
  let toolCalls = 0
  let toolErrors = 0
  let retries = 0
  let branches = 0
  let checks = 0
  let checksPassed = 0
  let modelLatencyMs = 0
  let judgeCalls = 0
  let judgeTokens = 0
  let cost = 0
  const unpriced = new Set<string>()
  const failedTools = new Set<string>()
  let pendingFailedCheck = false
  for (const entry of Session.entries(session)) {
    switch (entry._tag) {
      case "Assistant":
      case "ModelCall": {
        const usage = entry.usage
        const judge = entry._tag === "ModelCall" && entry.purpose === "judge"
        if (judge) {
          judgeCalls++
          judgeTokens += usage?.totalTokens ?? 0
        } else {
          modelCalls++
          tokens += usage?.totalTokens ?? 0
          inputTokens += usage?.inputTokens ?? 0
          outputTokens += usage?.outputTokens ?? 0
          modelLatencyMs += entry.latencyMs ?? 0
          if (pendingFailedCheck) {
            retries++
            pendingFailedCheck = false
          }
        }
        if (prices !== undefined) {
          const model = entry.model ?? entry.requestedModel ?? "(unknown)"
          const price = priceOf(prices, model)
          if (price === undefined) unpriced.add(model)
          else if (usage !== undefined) {
            const cached = usage.cachedInputTokens ?? 0
            cost += ((usage.inputTokens - cached) * price.input + cached * (price.cachedInput ?? price.input) +
              usage.outputTokens * price.output) / 1_000_000
          }
        }
        break
      }
      case "ToolResult":
        toolCalls++
        if (failedTools.has(entry.toolName)) {
          retries++
          failedTools.delete(entry.toolName)
        }
        if (entry.error !== undefined) {
          toolErrors++
          failedTools.add(entry.toolName)
        }
        break
      case "Check":
        checks++
        if (entry.passed) checksPassed++
        else pendingFailedCheck = true
        break
      case "Merge":
        branches += entry.sessions.length
        break
      case "Compression":
        if (entry.call === undefined && entry.usage !== undefined) tokens += entry.usage.totalTokens
        break
      case "Custom":
        if (entry.usage !== undefined) tokens += entry.usage.totalTokens
        break
    }
  }
  return {
    tokens,
    inputTokens,
    outputTokens,
    modelCalls,
    toolCalls,
    toolErrors,
    retries,
    branches,
    checks,
    checksPassed,
    latencyMs,
    modelLatencyMs,
    judgeCalls,
    judgeTokens,
    ...(prices === undefined ? {} : unpriced.size === 0 ? { cost } : { unpriced: Array.from(unpriced).sort() })
  }
}

/** Totals over case results. */
export const totals = (cases: ReadonlyArray<CaseResult>): Totals => {
  const latencies = cases.map((c) => c.metrics.latencyMs).sort((a, b) => a - b)
  const sum = (f: (c: CaseResult) => number) => cases.reduce((acc, c) => acc + f(c), 0)
  const passed = cases.filter((c) => c.pass).length
  const priced = cases.every((c) => c.metrics.cost !== undefined) && cases.length > 0
  return {
    cases: cases.length,
    passed,
    failed: cases.length - passed,
    errors: cases.filter((c) => c.error !== undefined).length,
    passRate: cases.length === 0 ? 0 : passed / cases.length,
    meanScore: mean(cases.map((c) => c.score)),
    tokens: sum((c) => c.metrics.tokens),
    modelCalls: sum((c) => c.metrics.modelCalls),
    toolCalls: sum((c) => c.metrics.toolCalls),
    retries: sum((c) => c.metrics.retries),
    branches: sum((c) => c.metrics.branches),
    checks: sum((c) => c.metrics.checks),
    checksPassed: sum((c) => c.metrics.checksPassed),
    judgeCalls: sum((c) => c.metrics.judgeCalls),
    judgeTokens: sum((c) => c.metrics.judgeTokens),
    latencyMs: {
      sum: latencies.reduce((a, b) => a + b, 0),
      mean: mean(latencies),
      p50: quantile(latencies, 0.5),
      p95: quantile(latencies, 0.95)
    },
    cost: priced ? sum((c) => c.metrics.cost ?? 0) : undefined
  }
}
