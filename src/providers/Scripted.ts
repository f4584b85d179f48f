/**
 * A scripted provider for tests and the no-key demo: it answers from a queue of replies (or a
 * function of the request), streams them in chunks like a real vendor, records every request it
 * received, and fails with a clear `ScriptExhausted` error when the script runs out.
 *
 * It is labelled `kind: "scripted"` in every assistant entry it produces, so a session can never
 * pass off a scripted answer as a real model's.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as Entry from "../Entry.js"
import * as Provider from "../Provider.js"

/**
 * One scripted answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly text?: string | undefined
  readonly reasoning?: string | undefined
  readonly toolCalls?:
    | ReadonlyArray<{
      readonly id?: string | undefined
      readonly name: string
      /** Raw argument text, or a value that is sent as its JSON. */
      readonly arguments?: string | unknown
    }>
    | undefined
  /** Reported usage; by default estimated as characters / 4 of the request and the answer. */
  readonly usage?: Entry.Usage | undefined
  readonly finishReason?: Entry.FinishReason | undefined
  /** The model the answer claims to come from (default: the provider's model). */
  readonly model?: string | undefined
  /** Stream the text in these pieces (default: one piece). */
  readonly chunks?: ReadonlyArray<string> | undefined
  /** Wait this long (on Effect's clock) before answering. */
  readonly delay?: Duration.DurationInput | undefined
  /**
   * Stream the reasoning, text and tool-call parts, then fail with this error instead of
   * finishing: a connection cut in the middle of an answer (`Provider.withRetry` does not retry
   * it, because content was already streamed).
   */
  readonly cut?: Provider.ProviderError | undefined
}

/**
 * A script step: a reply, a failure, or a function of the request and the call's index.
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | Reply
  | { readonly fail: Provider.ProviderError }
  | ((request: Provider.Request, index: number) => Reply | Effect.Effect<Reply, Provider.ProviderError>)

/**
 * A scripted provider and what a test can read from it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scripted {
  readonly service: Provider.Service
  /** Every request received, in order. */
  readonly requests: Effect.Effect<ReadonlyArray<Provider.Request>>
  /** How many scripted steps are left (Infinity for a function-driven provider). */
  readonly remaining: Effect.Effect<number>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const reply = (text: string, options?: Omit<Reply, "text">): Reply => ({ ...options, text })

/**
 * A reply that calls one tool.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toolCall = (
  name: string,
  args: unknown,
  options?: { readonly id?: string; readonly text?: string }
): Reply => ({
  text: options?.text ?? "",
  toolCalls: [{ id: options?.id, name, arguments: args }]
})

/**
 * A step that fails with a provider error of the given reason.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fail = (
  reason: Provider.ProviderError["reason"],
  detail = `scripted ${reason}`,
  options?: { readonly status?: number; readonly retryAfterMillis?: number }
): Step => ({
  fail: new Provider.ProviderError({ reason, provider: "scripted", detail, ...options })
})

const estimate = (text: string): number => Math.ceil(text.length / 4)

const messageText = (message: Provider.Message): string => {
  switch (message._tag) {
    case "Assistant":
      return message.text + message.toolCalls.map((call) => call.arguments).join("")
    case "ToolResult":
      return JSON.stringify(message.output) ?? ""
    default:
      return message.text
  }
}

const defaultUsage = (request: Provider.Request, answer: Reply): Entry.Usage => {
  const input = request.messages.reduce((sum, message) => sum + estimate(messageText(message)), 0)
  const output = estimate(answer.text ?? "") +
    (answer.toolCalls ?? []).reduce((sum, call) => sum + estimate(argumentText(call.arguments)), 0)
  return { inputTokens: input, outputTokens: output, totalTokens: input + output }
}

const argumentText = (args: unknown): string =>
  args === undefined ? "" : typeof args === "string" ? args : JSON.stringify(args)

const toParts = (
  answer: Reply,
  request: Provider.Request,
  info: Provider.Service["info"],
  index: number,
  nextCallId: () => string
): ReadonlyArray<Provider.StreamPart> => {
  const requestId = `scripted-${index + 1}`
  const parts: Array<Provider.StreamPart> = [
    { _tag: "Metadata", model: answer.model ?? request.model ?? info.model, requestId }
  ]
  if (answer.reasoning !== undefined) parts.push({ _tag: "ReasoningDelta", text: answer.reasoning })
  const chunks = answer.chunks ?? (answer.text === undefined || answer.text === "" ? [] : [answer.text])
  for (const text of chunks) parts.push({ _tag: "TextDelta", text })
  ;(answer.toolCalls ?? []).forEach((call, i) => {
    const text = argumentText(call.arguments)
    parts.push({ _tag: "ToolCallStart", index: i, id: call.id ?? nextCallId(), name: call.name })
    // argument text arrives in two pieces, the first empty, as OpenAI-compatible streams do
    parts.push({ _tag: "ToolCallDelta", index: i, argumentsDelta: "" })
    if (text !== "") parts.push({ _tag: "ToolCallDelta", index: i, argumentsDelta: text })
  })
  parts.push({ _tag: "Usage", usage: answer.usage ?? defaultUsage(request, answer) })
  parts.push({
    _tag: "Finish",
    finishReason: answer.finishReason ?? ((answer.toolCalls ?? []).length > 0 ? "tool_calls" : "stop"),
    provider: { kind: "scripted", host: "scripted.local", requestId }
  })
  return parts
}

/**
 * A scripted provider over a queue of steps (or one function used for every request).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Provider, Scripted } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const scripted = yield* Scripted.make([Scripted.reply("Hello!")])
 *   const response = yield* scripted.service.chat({ messages: [] })
 *   console.log(response.text, response.provider.kind) // "Hello!" "scripted"
 * })
 * ```
 */
export const make = (
  script: ReadonlyArray<Step> | ((request: Provider.Request, index: number) => Step),
  options?: { readonly model?: string }
): Effect.Effect<Scripted> =>
  Effect.gen(function*() {
    const info = { kind: "scripted", model: options?.model ?? "scripted-model", host: "scripted.local" }
    const requests = yield* Ref.make<ReadonlyArray<Provider.Request>>([])
    const cursor = yield* Ref.make(0)
    let callIds = 0
    const nextCallId = () => `call_${++callIds}`
    const pick = (request: Provider.Request): Effect.Effect<readonly [Reply, number], Provider.ProviderError> =>
      Effect.gen(function*() {
        yield* Ref.update(requests, (all) => [...all, request])
        const index = yield* Ref.getAndUpdate(cursor, (n) => n + 1)
        let step: Step | undefined
        if (typeof script === "function") {
          step = script(request, index)
        } else {
          step = script[index]
        }
        if (step === undefined) {
          return yield* new Provider.ProviderError({
            reason: "ScriptExhausted",
            provider: "scripted",
            model: info.model,
            detail: `the script has ${Array.isArray(script) ? script.length : 0} replies and request ${
              index + 1
            } asked for one more`
          })
        }
        if (typeof step === "function") {
          const result = step(request, index)
          const answer = Effect.isEffect(result) ? yield* result : result
          return [answer, index] as const
        }
        if ("fail" in step) return yield* step.fail
        return [step, index] as const
      })
    const stream = (request: Provider.Request): Stream.Stream<Provider.StreamPart, Provider.ProviderError> =>
      Stream.unwrap(
        Effect.gen(function*() {
          const [answer, index] = yield* pick(request)
          if (answer.delay !== undefined) yield* Effect.sleep(answer.delay)
          const parts = toParts(answer, request, info, index, nextCallId)
          return answer.cut === undefined
            ? Stream.fromIterable(parts)
            : Stream.fromIterable(parts.filter((part) => part._tag !== "Usage" && part._tag !== "Finish")).pipe(
              Stream.concat(Stream.fail(answer.cut))
            )
        })
      )
    // the whole answer without a stream: what the agent asks for when nobody watches the deltas
    const chat = (request: Provider.Request): Effect.Effect<Provider.Response, Provider.ProviderError> =>
      Effect.flatMap(pick(request), ([answer, index]) => {
        const respond = Effect.suspend(() => {
          if (answer.cut !== undefined) return Effect.fail(answer.cut)
          let acc = Provider.emptyAccumulator
          for (const part of toParts(answer, request, info, index, nextCallId)) acc = Provider.step(acc, part)
          return Effect.succeed(Provider.finish(acc, info))
        })
        return answer.delay === undefined ? respond : Effect.zipRight(Effect.sleep(answer.delay), respond)
      })
    return {
      service: Provider.make({ info, stream, chat }),
      requests: Ref.get(requests),
      remaining: typeof script === "function"
        ? Effect.succeed(Infinity)
        : Effect.map(Ref.get(cursor), (n) => Math.max(script.length - n, 0))
    }
  })

/**
 * A layer providing a scripted provider.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  script: ReadonlyArray<Step> | ((request: Provider.Request, index: number) => Step),
  options?: { readonly model?: string }
): Layer.Layer<Provider.Provider> =>
  Layer.effect(Provider.Provider, Effect.map(make(script, options), (s) => s.service))
