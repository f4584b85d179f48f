/**
 * Spans that cost nothing when nobody traces.
 *
 * With Effect's own tracer (the default, when no tracer such as `@effect/opentelemetry` is
 * installed) a span is recorded nowhere, yet each one allocates a span, a context and two fiber-ref
 * copies: on an agent's hot path that was a large share of its time and garbage. `withSpan` here
 * makes the span only when the fiber's tracer is some other tracer.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

const defaultTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** Whether the fiber's tracer records spans anywhere (anything but Effect's default tracer). */
export const isTracing = (
  fiber: { readonly currentDefaultServices: Context.Context<DefaultServices.DefaultServices> }
) => Context.get(fiber.currentDefaultServices, Tracer.Tracer) !== defaultTracer

/**
 * `Effect.withSpan(self, name, options())` when a tracer is installed; `self` as it is otherwise.
 * `options` is a function so that the attributes are not built when no span is made; `result`,
 * when given, adds attributes read from the value `self` succeeds with (usage, say) to the span.
 */
export const withSpan = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options: () => Tracer.SpanOptions,
  result?: (value: A) => Record<string, unknown> | undefined
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    if (!isTracing(fiber)) return self
    const annotated = result === undefined ? self : Effect.tap(self, (value) => {
      const attributes = result(value)
      return attributes === undefined ? Effect.void : Effect.annotateCurrentSpan(attributes)
    })
    return Effect.withSpan(annotated, name, options())
  })
