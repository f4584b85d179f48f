/**
 * The one place where the examples choose their model.
 *
 * Every example calls `providerLayer(script)` with the answers a scripted model should give:
 *
 * - With no API key, it runs on the scripted provider. The example needs no key and prints the
 *   same thing every time, and every answer is labelled `provider: scripted` in the session, so a
 *   scripted run can never pass for a real one.
 * - With `OPENAI_API_KEY` or `ANTHROPIC_API_KEY` set (and the matching `*_DEFAULT_MODEL`, or a
 *   `~/.rath/config.json`), it runs on the real adapter that `ProviderConfig.layerFromEnv()`
 *   configures. `RATH_EXAMPLES_SCRIPTED=1` forces the scripted model anyway.
 *
 * The example code is the same either way: that is the point of the `Provider` layer.
 */
import type { Layer } from "effect"
import type { Provider } from "rath"
import { ProviderConfig, Scripted } from "rath"

/**
 * A scripted model: a list of answers, or a function of the request.
 */
export type Script =
  | ReadonlyArray<Scripted.Step>
  | ((request: Provider.Request, index: number) => Scripted.Step)

const hasKey = (name: string): boolean => (process.env[name] ?? "") !== ""

/**
 * Whether the examples run on a real model.
 */
export const useRealModel = (): boolean =>
  process.env.RATH_EXAMPLES_SCRIPTED !== "1" && (hasKey("OPENAI_API_KEY") || hasKey("ANTHROPIC_API_KEY"))

/**
 * The provider layer the examples run on.
 */
export const providerLayer = (
  script: Script
): Layer.Layer<Provider.Provider, ProviderConfig.ProviderConfigError> =>
  useRealModel() ? ProviderConfig.layerFromEnv() : Scripted.layer(script)

/**
 * A one-line label of the model in use, printed by each example.
 */
export const providerLabel = (): string =>
  useRealModel() ? "real model, configured from the environment" : "scripted model (no API key needed)"

/**
 * The latest tool result's output since the last user message, for scripts that answer from
 * tool output.
 */
export const lastToolOutput = (request: Provider.Request): unknown => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!
    if (message._tag === "ToolResult") return message.output
    if (message._tag === "User") return undefined
  }
  return undefined
}
