/**
 * Spans that cost nothing when nobody traces, named and annotated after the OpenTelemetry GenAI
 * semantic conventions.
 *
 * With Effect's own tracer (the default, when no tracer such as `@effect/opentelemetry` is
 * installed) a span is recorded nowhere, yet each one allocates a span, a context and two fiber-ref
 * copies: on an agent's hot path that was a large share of its time and garbage. `withSpan` here
 * makes the span only when the fiber's tracer is some other tracer; the attributes (and the message
 * content, when {@link CaptureContent} is on) are built only then.
 *
 * The names follow the GenAI conventions (semantic-conventions 1.37 and later): `invoke_agent
 * {agent}` around an agent run, `chat {model}` around each model call, `execute_tool {tool}`
 * around each tool call, with `gen_ai.*` attributes; rath's own `rath.*` attributes stay beside
 * them. docs/observability.md lists them all.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

const defaultTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * Whether spans carry message content (prompts, answers, tool arguments and results): off unless
 * asked for, since content holds what users typed and what tools read. Re-exported as
 * `Telemetry.CaptureContent`.
 */
export class CaptureContent extends Context.Reference<CaptureContent>()("rath/Telemetry/CaptureContent", {
  defaultValue: () => false
}) {}

/** Whether the fiber's tracer records spans anywhere (anything but Effect's default tracer). */
export const isTracing = (
  fiber: { readonly currentDefaultServices: Context.Context<DefaultServices.DefaultServices> }
) => Context.get(fiber.currentDefaultServices, Tracer.Tracer) !== defaultTracer

/**
 * `Effect.withSpan(self, name, options(context))` when a tracer is installed; `self` as it is
 * otherwise. `options` is a function of the fiber's context so that the attributes are not built
 * when no span is made (and can read services, {@link CaptureContent} say); `result`, when given,
 * adds attributes read from the value `self` succeeds with (usage, say) to the span, and `failure`
 * the attributes of a failure (`error.type`).
 */
export const withSpan = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: (context: Context.Context<never>) => string,
  options: (context: Context.Context<never>) => Tracer.SpanOptions,
  result?: (value: A, context: Context.Context<never>) => Record<string, unknown> | undefined,
  failure?: (error: E) => Record<string, unknown> | undefined
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    if (!isTracing(fiber)) return self
    const context = fiber.currentContext
    const annotated = result === undefined && failure === undefined ? self : Effect.onExit(self, (exit) => {
      const attributes = Exit.isSuccess(exit)
        ? result?.(exit.value, context)
        : failure === undefined
        ? undefined
        : failureAttributes(exit.cause, failure)
      return attributes === undefined ? Effect.void : Effect.annotateCurrentSpan(attributes)
    })
    return Effect.withSpan(annotated, name(context), options(context))
  })

/** The attributes of a cause's first typed failure (none for a defect or an interruption). */
export const failureAttributes = <E>(
  cause: Cause.Cause<E>,
  failure: (error: E) => Record<string, unknown> | undefined
): Record<string, unknown> | undefined =>
  Option.match(Cause.failureOption(cause), { onNone: () => undefined, onSome: failure })

/** Whether content goes on the spans (see {@link CaptureContent}). */
export const capturing = (context: Context.Context<never>): boolean => Context.get(context, CaptureContent)

// -----------------------------------------------------------------------------
// GenAI attribute values
// -----------------------------------------------------------------------------

interface ToolCallLike {
  readonly id: string
  readonly name: string
  readonly arguments: string
  readonly parsed?: unknown
}

type MessageLike =
  | { readonly _tag: "System"; readonly text: string }
  | { readonly _tag: "User"; readonly text: string }
  | {
    readonly _tag: "Assistant"
    readonly text: string
    readonly reasoning?: string | undefined
    readonly toolCalls: ReadonlyArray<ToolCallLike>
  }
  | {
    readonly _tag: "ToolResult"
    readonly callId: string
    readonly output: unknown
    readonly error?: { readonly kind: string; readonly message: string } | undefined
  }

type Part = Record<string, unknown>

const toolCallPart = (call: ToolCallLike): Part => ({
  type: "tool_call",
  id: call.id,
  name: call.name,
  arguments: call.parsed !== undefined ? call.parsed : call.arguments
})

const assistantParts = (message: {
  readonly text: string
  readonly reasoning?: string | undefined
  readonly toolCalls: ReadonlyArray<ToolCallLike>
}): Array<Part> => {
  const parts: Array<Part> = []
  if (message.reasoning !== undefined && message.reasoning !== "") {
    parts.push({ type: "reasoning", content: message.reasoning })
  }
  if (message.text !== "") parts.push({ type: "text", content: message.text })
  for (const call of message.toolCalls) parts.push(toolCallPart(call))
  return parts
}

/**
 * The content attributes of a chat span, as JSON strings in the conventions' message shape
 * (`gen_ai.system_instructions`, `gen_ai.input.messages`): system messages are the instructions,
 * the others the input. JSON text, not structured values, because most span exporters and
 * back ends take only flat attribute values (the conventions allow it).
 */
export const inputContent = (messages: ReadonlyArray<MessageLike>): Record<string, string> => {
  const system: Array<Part> = []
  const input: Array<{ role: string; parts: Array<Part> }> = []
  for (const message of messages) {
    switch (message._tag) {
      case "System":
        system.push({ type: "text", content: message.text })
        break
      case "User":
        input.push({ role: "user", parts: [{ type: "text", content: message.text }] })
        break
      case "Assistant":
        input.push({ role: "assistant", parts: assistantParts(message) })
        break
      case "ToolResult":
        input.push({
          role: "tool",
          parts: [{
            type: "tool_call_response",
            id: message.callId,
            response: message.error === undefined
              ? message.output
              : { error: message.error.kind, message: message.error.message, output: message.output }
          }]
        })
        break
    }
  }
  const out: Record<string, string> = { "gen_ai.input.messages": JSON.stringify(input) }
  if (system.length > 0) out["gen_ai.system_instructions"] = JSON.stringify(system)
  return out
}

/** `gen_ai.output.messages` of a chat span: the answer as one assistant message. */
export const outputContent = (response: {
  readonly text: string
  readonly reasoning?: string | undefined
  readonly toolCalls: ReadonlyArray<ToolCallLike>
  readonly finishReason: string
}): Record<string, string> => ({
  "gen_ai.output.messages": JSON.stringify([{
    role: "assistant",
    parts: assistantParts(response),
    finish_reason: response.finishReason
  }])
})

/** `error.type` of a failed call: the error's tag and, where it has one, its reason. */
export const errorType = (error: unknown): Record<string, unknown> | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const { _tag, reason } = error as { readonly _tag?: unknown; readonly reason?: unknown }
  if (typeof _tag !== "string") return undefined
  return { "error.type": typeof reason === "string" ? `${_tag}.${reason}` : _tag }
}

/**
 * The attributes of an `execute_tool {tool}` span. With content on, the call's argument text goes
 * on as `gen_ai.tool.call.arguments`; the result is added when the call ends ({@link toolResult}).
 */
export const toolAttributes = (
  call: ToolCallLike,
  options: {
    readonly description: string | undefined
    readonly sessionId: string
    readonly agent: string | undefined
    readonly content: boolean
  }
): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": call.name,
    "gen_ai.tool.call.id": call.id,
    "gen_ai.tool.type": "function",
    "gen_ai.conversation.id": options.sessionId,
    "rath.tool.name": call.name,
    "rath.tool.call_id": call.id,
    "rath.session.id": options.sessionId
  }
  if (options.description !== undefined && options.description !== "") {
    attributes["gen_ai.tool.description"] = options.description
  }
  if (options.agent !== undefined) {
    attributes["gen_ai.agent.name"] = options.agent
    attributes["rath.agent.name"] = options.agent
  }
  if (options.content) attributes["gen_ai.tool.call.arguments"] = call.arguments
  return attributes
}

/**
 * What a finished tool call adds to its span: `error.type` (the `ToolError` kind) when it failed,
 * and with content on the output as `gen_ai.tool.call.result` (JSON text).
 */
export const toolResult = (
  outcome: { readonly output: unknown; readonly error?: { readonly kind: string } | undefined },
  content: boolean
): Record<string, unknown> | undefined => {
  if (outcome.error === undefined && !content) return undefined
  const attributes: Record<string, unknown> = {}
  if (outcome.error !== undefined) {
    attributes["error.type"] = outcome.error.kind
    attributes["rath.tool.error"] = outcome.error.kind
  }
  if (content) attributes["gen_ai.tool.call.result"] = JSON.stringify(outcome.output) ?? "null"
  return attributes
}
