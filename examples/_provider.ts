/**
 * The one place where the examples choose their model.
 *
 * Every example calls `providerLayer(script)` with the answers a scripted model should give, so
 * it runs with no API key and prints the same thing every time. The scripted provider labels
 * every answer `provider: scripted` in the session, so a scripted run can never pass for a real
 * one. To run the examples on a real model, this function is what changes: return the
 * OpenAI-compatible or Anthropic adapter layer when `OPENAI_API_KEY` / `ANTHROPIC_API_KEY` is set.
 * The example code itself stays the same (that is the point of the `Provider` layer).
 */
import type { Layer } from "effect"
import type { Provider } from "rath"
import { Scripted } from "rath"

/**
 * A scripted model: a list of answers, or a function of the request.
 */
export type Script =
  | ReadonlyArray<Scripted.Step>
  | ((request: Provider.Request, index: number) => Scripted.Step)

/**
 * The provider layer the examples run on.
 */
export const providerLayer = (script: Script): Layer.Layer<Provider.Provider> => Scripted.layer(script)

/**
 * A one-line label of the model in use, printed by each example.
 */
export const providerLabel = (): string => "scripted model (no API key needed)"

/**
 * The text of the latest tool result in a request, for scripts that answer from tool output.
 */
export const lastToolOutput = (request: Provider.Request): unknown => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!
    if (message._tag === "ToolResult") return message.output
    if (message._tag === "User") return undefined
  }
  return undefined
}
