/**
 * Deterministic ids for durable runs: every id a durable step makes is a function of the
 * execution id, the step's position in the workflow and the step's generation (how many earlier
 * runs of the step the store holds), so a step that runs again after a crash can find what its
 * earlier run saved.
 */
import * as Effect from "effect/Effect"
import type * as IdGenerator from "../../IdGenerator.js"
import { digest } from "../digest.js"

/** A short, stable tag of a step: `<execution>.<position>` hashed. */
export const stepTag = (executionId: string, position: string): string =>
  digest(`${executionId}\u0000${position}`).replace(/[^a-zA-Z0-9]/g, "").slice(0, 20)

/** The generator of one run of a step: `<prefix>_<tag>.<generation>.<n>`, one counter per prefix. */
export const seeded = (tag: string, generation: number): IdGenerator.Service => {
  const counters = new Map<string, number>()
  return {
    generate: (prefix) =>
      Effect.sync(() => {
        const n = (counters.get(prefix) ?? 0) + 1
        counters.set(prefix, n)
        return `${prefix}_${tag}.${generation}.${n}`
      })
  }
}

/** The first session id a run of a step makes in `generation` (its step, fork or merge session). */
export const firstSessionId = (tag: string, generation: number): string => `s_${tag}.${generation}.1`
