/**
 * What rath's spans carry, and the one switch they have.
 *
 * Every agent run is an `invoke_agent {agent}` span, every model call (an agent's turn, a
 * selector's routing, a compressor's summary, any `Model.call`) a `chat {model}` span under it,
 * and every tool call an `execute_tool {tool}` span: the names and `gen_ai.*` attributes of the
 * OpenTelemetry GenAI semantic conventions, with rath's own `rath.*` attributes beside them. Any
 * Effect tracer records them: `Otlp.layerJson` from `@effect/opentelemetry` sends them to any
 * OTLP/HTTP collector with no OpenTelemetry SDK (see docs/observability.md). With Effect's
 * default tracer no span is made at all, so an untraced run pays nothing for them.
 *
 * Message content (prompts, answers, tool arguments and results) is left off the spans unless
 * {@link CaptureContent} is on: it holds what users typed and what tools read.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as Trace from "./internal/trace.js"

/**
 * Whether spans carry message content (default `false`). When on, each `chat` span holds
 * `gen_ai.system_instructions`, `gen_ai.input.messages` and `gen_ai.output.messages`, and each
 * `execute_tool` span `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`, as JSON text in
 * the conventions' message shape.
 *
 * @since 0.1.0
 * @category references
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Telemetry } from "rath"
 *
 * // for one program
 * const traced = <A, E, R>(program: Effect.Effect<A, E, R>) =>
 *   Effect.provideService(program, Telemetry.CaptureContent, true)
 * ```
 */
export const CaptureContent = Trace.CaptureContent

/**
 * @since 0.1.0
 * @category references
 */
export type CaptureContent = Trace.CaptureContent

/**
 * A layer that turns content capture on.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCaptureContent: Layer.Layer<never> = Layer.succeed(CaptureContent, true)

/**
 * A layer that reads content capture from the environment variable the OpenTelemetry GenAI
 * instrumentations share, `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (`true` turns it
 * on; unset is off). Fails with the `ConfigError` when it is set to something that is not a
 * boolean.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCaptureContentFromEnv: Layer.Layer<never, ConfigError.ConfigError> = Layer.effect(
  CaptureContent,
  Config.boolean("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT").pipe(Config.withDefault(false))
)
