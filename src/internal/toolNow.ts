/**
 * How an agent runs a tool call at once when the default executor is in effect, kept out of the
 * public `Tool` module: the default executor registers its at-once path here, found by the
 * executor's identity (so an executor made from the default one, by a spread or a wrapper, is
 * another executor and runs through its own `execute`).
 *
 * @internal
 */
import type * as Context from "effect/Context"
import type * as DefaultServices from "effect/DefaultServices"
import type * as Effect from "effect/Effect"
import type * as Entry from "../Entry.js"
import type * as Tool from "../Tool.js"

/** The fiber a call is run from: its clock times the call. */
export interface Running {
  readonly currentDefaultServices: Context.Context<DefaultServices.DefaultServices>
}

/**
 * One call run by code already running on `fiber`: the outcome itself when it is known at once,
 * else the effect that executes it.
 */
export type RunNow = <R>(
  fiber: Running,
  toolkit: Tool.Toolkit<R>,
  call: Entry.ToolCall,
  options: Tool.RunOptions
) => Tool.Outcome | Effect.Effect<Tool.Outcome, never, R>

const runners = new WeakMap<Tool.ExecutorService, RunNow>()

/** Makes `run` the at-once path of `executor` (the default executor's, registered by `Tool`). */
export const register = (executor: Tool.ExecutorService, run: RunNow): void => {
  runners.set(executor, run)
}

/** The at-once path of `executor`, if it has one. */
export const runNowOf = (executor: Tool.ExecutorService): RunNow | undefined => runners.get(executor)
