/**
 * Helpers shared by the tests.
 */
import { Schema } from "effect"
import { Replay } from "rath"

const isReplayError = Schema.is(Replay.ReplayError)

/**
 * The replay divergence behind a failure: the `ReplayError` found along the error's `cause`
 * chain (an agent's error carries the provider's, which carries the divergence), or undefined.
 */
export const divergenceOf = (error: unknown): Replay.ReplayError | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if (isReplayError(current)) return current
    current = (current as { readonly cause?: unknown }).cause
  }
  return undefined
}
