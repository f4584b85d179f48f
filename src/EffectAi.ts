/**
 * Bridges to `@effect/ai` (an optional peer dependency; import this module as `rath/EffectAi`,
 * never loaded by `import "rath"`).
 *
 * - {@link fromLanguageModel}: any `@effect/ai` `LanguageModel` layer (OpenAI Responses,
 *   Anthropic, ...) becomes a rath `Provider`: text, reasoning, tool-call argument text as the
 *   model streamed it, usage with cached and reasoning tokens, finish reasons, the response model
 *   and request id. Part metadata (OpenAI reasoning item ids and encrypted content, Anthropic
 *   signatures) is kept on the assistant entry and sent back as prompt options on the next turn.
 *   Where `@effect/ai` fails a whole call on malformed tool-call JSON, the call is kept with its
 *   raw text, so a rath agent answers the model with `invalid_arguments` and goes on.
 * - {@link toLanguageModel}: a rath `Provider` (`Scripted` and `Replay` included) serves
 *   `LanguageModel.generateText` and `streamText`.
 * - {@link fromToolkit}: an `@effect/ai` toolkit with its handlers runs as rath tools (evidence,
 *   approval, timeouts and the session's sandbox through {@link CurrentCall}).
 * - {@link toToolkit}: rath tools as an `@effect/ai` toolkit with handlers.
 *
 * What maps and what is lost is tabled in `docs/effect-ai.md`.
 *
 * @since 0.1.0
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as AiTool from "@effect/ai/Tool"
import * as AiToolkit from "@effect/ai/Toolkit"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Entry from "./Entry.js"
import * as Provider from "./Provider.js"
import * as Session from "./Session.js"
import * as Tool from "./Tool.js"

// -----------------------------------------------------------------------------
// metadata
// -----------------------------------------------------------------------------

/**
 * The key of `@effect/ai` part metadata in an answer's `metadata` (`Entry.ProviderMetadata`):
 * `{ reasoning: [{ text, metadata }], text: [{ metadata }], toolCalls: { [id]: metadata } }`,
 * each `metadata` a part's provider metadata as the `LanguageModel` reported it (for OpenAI:
 * `{ openai: { itemId, encryptedContent } }`). They go back as the prompt parts' `options`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const METADATA_KEY = "effect-ai"

type PartMetadata = Record<string, unknown>

interface Kept {
  readonly reasoning: Array<{ text: string; metadata: PartMetadata }>
  readonly text: Array<{ metadata: PartMetadata }>
  readonly toolCalls: Record<string, PartMetadata>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Provider metadata without its `undefined` entries (JSON has none), or undefined when empty. */
const cleanMetadata = (metadata: unknown): PartMetadata | undefined => {
  if (!isRecord(metadata)) return undefined
  const out: PartMetadata = {}
  for (const [provider, value] of Object.entries(metadata)) {
    if (!isRecord(value)) continue
    const inner: Record<string, unknown> = {}
    for (const [key, field] of Object.entries(value)) if (field !== undefined) inner[key] = field
    if (Object.keys(inner).length > 0) out[provider] = inner
  }
  return Object.keys(out).length === 0 ? undefined : out
}

const keptOf = (metadata: Entry.ProviderMetadata | undefined): Kept | undefined => {
  const value = metadata?.[METADATA_KEY]
  if (!isRecord(value)) return undefined
  return {
    reasoning: Array.isArray(value.reasoning)
      ? value.reasoning.filter((r): r is { text: string; metadata: PartMetadata } =>
        isRecord(r) && typeof r.text === "string" && isRecord(r.metadata)
      )
      : [],
    text: Array.isArray(value.text)
      ? value.text.filter((t): t is { metadata: PartMetadata } => isRecord(t) && isRecord(t.metadata))
      : [],
    toolCalls: isRecord(value.toolCalls) ? value.toolCalls as Record<string, PartMetadata> : {}
  }
}

// -----------------------------------------------------------------------------
// rath request -> @effect/ai prompt and tools
// -----------------------------------------------------------------------------

/**
 * A rath request's messages as an `@effect/ai` prompt (encoded form, for `Prompt.make`): system
 * and user text, assistant turns with their reasoning, text and tool calls (each with the part
 * metadata an `@effect/ai` model reported, as `options`), and tool results (a failure is a result
 * with `isFailure: true` carrying its `{ error: { kind, message } }`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const toPrompt = (messages: ReadonlyArray<Provider.Message>): Array<Prompt.MessageEncoded> => {
  const out: Array<Prompt.MessageEncoded> = []
  for (const message of messages) {
    switch (message._tag) {
      case "System":
        out.push({ role: "system", content: message.text })
        break
      case "User":
        out.push({ role: "user", content: [{ type: "text", text: message.text }] })
        break
      case "Assistant": {
        const kept = keptOf(message.metadata)
        const content: Array<Prompt.AssistantMessagePartEncoded> = []
        const rath = message.metadata === undefined ? {} : { rath: { metadata: message.metadata } }
        if (kept !== undefined && kept.reasoning.length > 0) {
          for (const part of kept.reasoning) {
            content.push({ type: "reasoning", text: part.text, options: part.metadata as Prompt.ProviderOptions })
          }
        } else if (message.reasoning !== undefined && message.reasoning !== "") {
          content.push({ type: "reasoning", text: message.reasoning })
        }
        if (message.text !== "") {
          const options = kept?.text[0]?.metadata
          content.push({
            type: "text",
            text: message.text,
            ...(options === undefined ? {} : { options: options as Prompt.ProviderOptions })
          })
        }
        for (const call of message.toolCalls) {
          // the argument text as the model wrote it rides along, for a rath provider behind
          // toLanguageModel (vendors read only their own key)
          const options = { ...kept?.toolCalls[call.id], rath: { arguments: call.arguments } }
          content.push({
            type: "tool-call",
            id: call.id,
            name: call.name,
            params: call.parsed ??
              Either.getOrElse(Provider.parseArgumentsEither(call.arguments), () => call.arguments),
            providerExecuted: false,
            options: options as Prompt.ProviderOptions
          })
        }
        // rath's own metadata rides on the first part, so a rath provider behind toLanguageModel
        // gets it back (see `fromPrompt`)
        if (content.length > 0 && message.metadata !== undefined) {
          const first = content[0]!
          const options = first.options as Record<string, Record<string, unknown> | undefined> | undefined
          content[0] = {
            ...first,
            options: { ...options, rath: { ...options?.rath, ...rath.rath } }
          } as Prompt.AssistantMessagePartEncoded
        }
        out.push({ role: "assistant", content })
        break
      }
      case "ToolResult":
        out.push({
          role: "tool",
          content: [{
            type: "tool-result",
            id: message.callId,
            name: message.toolName,
            isFailure: message.error !== undefined,
            providerExecuted: false,
            result: message.error === undefined
              ? message.output
              : { error: message.error, ...(message.output === null ? {} : { output: message.output }) }
          }]
        })
        break
    }
  }
  return out
}

/**
 * An `@effect/ai` tool that shows a model a rath tool definition: its name, description and
 * exactly its JSON Schema. Its parameters schema accepts any value, so arguments are checked by
 * rath (a mismatch is `invalid_arguments` to the model), not by `@effect/ai` (which would fail
 * the whole call).
 *
 * @since 0.1.0
 * @category constructors
 */
export const toAiTool = (definition: Provider.ToolDefinition): AiTool.Any =>
  AiTool.make(definition.name, { description: definition.description }).setParameters(
    Schema.Unknown.annotations({ jsonSchema: definition.parameters }) as unknown as AiTool.AnyStructSchema
  ) as unknown as AiTool.Any

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

const providerError = (
  error: AiError.AiError,
  info: Provider.Service["info"],
  model: string | undefined
): Provider.ProviderError => {
  const base = { provider: info.kind, ...(model === undefined ? {} : { model }), detail: error.message, cause: error }
  switch (error._tag) {
    case "HttpRequestError":
      return new Provider.ProviderError({ ...base, reason: error.reason === "Transport" ? "Transport" : "BadRequest" })
    case "HttpResponseError": {
      const status = error.response.status
      const reason = status === 429
        ? "RateLimited"
        : status === 401 || status === 403
        ? "Unauthorized"
        : status === 404
        ? "ModelNotFound"
        : status === 408
        ? "Timeout"
        : status >= 500
        ? "Unavailable"
        : error.reason === "StatusCode"
        ? "BadRequest"
        : "InvalidResponse"
      return new Provider.ProviderError({ ...base, reason, status })
    }
    case "MalformedInput":
      return new Provider.ProviderError({ ...base, reason: "BadRequest" })
    case "MalformedOutput":
      return new Provider.ProviderError({ ...base, reason: "InvalidResponse" })
    case "UnknownError":
      return new Provider.ProviderError({ ...base, reason: "Unavailable" })
  }
}

// -----------------------------------------------------------------------------
// @effect/ai LanguageModel -> rath Provider
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface FromLanguageModelOptions {
  /** The kind recorded in entries (default `"effect-ai"`). */
  readonly kind?: string | undefined
  /** The model recorded when the response names none (default `"unknown"`). */
  readonly model?: string | undefined
}

/** @effect/ai finish reasons as rath's. */
const finishFromAi = (reason: Response.FinishReason): Entry.FinishReason => {
  switch (reason) {
    case "stop":
      return "stop"
    case "length":
      return "length"
    case "content-filter":
      return "content_filter"
    case "tool-calls":
      return "tool_calls"
    case "error":
      return "error"
    default:
      return "other"
  }
}

const usageFromAi = (usage: Response.Usage): Entry.Usage | undefined => {
  if (usage.inputTokens === undefined || usage.outputTokens === undefined) return undefined
  return {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    totalTokens: usage.totalTokens ?? usage.inputTokens + usage.outputTokens,
    ...(usage.cachedInputTokens === undefined ? {} : { cachedInputTokens: usage.cachedInputTokens }),
    ...(usage.reasoningTokens === undefined ? {} : { reasoningTokens: usage.reasoningTokens })
  }
}

/** The state of one `@effect/ai` stream being turned into rath parts. */
interface FromState {
  model: string | undefined
  requestId: string | undefined
  finished: boolean
  /** tool call id -> its index and the argument text streamed so far */
  calls: Map<string, { index: number; name: string; text: string; streamed: boolean }>
  reasoning: Map<string, { text: string; metadata: PartMetadata | undefined }>
  text: Map<string, PartMetadata | undefined>
  callMetadata: Record<string, PartMetadata>
  /** rath's own metadata, when the model is a rath provider behind `toLanguageModel` */
  carried: Entry.ProviderMetadata | undefined
}

/** rath metadata carried on a part by `toLanguageModel`, if any. */
const carriedOf = (metadata: unknown): Entry.ProviderMetadata | undefined => {
  const rath = isRecord(metadata) ? metadata.rath : undefined
  return isRecord(rath) && isRecord(rath.metadata) ? rath.metadata : undefined
}

const keptMetadata = (state: FromState): Entry.ProviderMetadata | undefined => {
  if (state.carried !== undefined) return state.carried
  const reasoning = [...state.reasoning.values()].flatMap((r) =>
    r.metadata === undefined ? [] : [{ text: r.text, metadata: r.metadata }]
  )
  const text = [...state.text.values()].flatMap((m) => m === undefined ? [] : [{ metadata: m }])
  const calls = Object.keys(state.callMetadata).length
  if (reasoning.length === 0 && text.length === 0 && calls === 0) return undefined
  return {
    [METADATA_KEY]: {
      ...(reasoning.length === 0 ? {} : { reasoning }),
      ...(text.length === 0 ? {} : { text }),
      ...(calls === 0 ? {} : { toolCalls: state.callMetadata })
    }
  }
}

const mergeMetadata = (into: PartMetadata | undefined, more: unknown): PartMetadata | undefined => {
  const clean = cleanMetadata(more)
  if (clean === undefined) return into
  const out: PartMetadata = { ...into }
  for (const [provider, value] of Object.entries(clean)) {
    out[provider] = { ...(isRecord(out[provider]) ? out[provider] : {}), ...(value as object) }
  }
  return out
}

const fromAiPart = (
  state: FromState,
  part: Response.StreamPart<any>,
  info: Provider.Service["info"]
): Array<Provider.StreamPart> => {
  state.carried = carriedOf(part.metadata) ?? state.carried
  switch (part.type) {
    case "response-metadata": {
      const model = Option.getOrUndefined(part.modelId)
      const requestId = Option.getOrUndefined(part.id)
      if (model !== undefined) state.model = model
      if (requestId !== undefined) state.requestId = requestId
      return model === undefined && requestId === undefined ? [] : [{ _tag: "Metadata", model, requestId }]
    }
    case "text-start":
      state.text.set(part.id, cleanMetadata(part.metadata))
      return []
    case "text-delta":
      return part.delta === "" ? [] : [{ _tag: "TextDelta", text: part.delta }]
    case "reasoning-start":
    case "reasoning-end": {
      const kept = state.reasoning.get(part.id) ?? { text: "", metadata: undefined }
      kept.metadata = mergeMetadata(kept.metadata, part.metadata)
      state.reasoning.set(part.id, kept)
      return []
    }
    case "reasoning-delta": {
      const kept = state.reasoning.get(part.id) ?? { text: "", metadata: undefined }
      kept.text += part.delta
      kept.metadata = mergeMetadata(kept.metadata, part.metadata)
      state.reasoning.set(part.id, kept)
      return part.delta === "" ? [] : [{ _tag: "ReasoningDelta", text: part.delta }]
    }
    case "tool-params-start": {
      if (part.providerExecuted) return []
      const index = state.calls.size
      state.calls.set(part.id, { index, name: part.name, text: "", streamed: false })
      return [{ _tag: "ToolCallStart", index, id: part.id, name: part.name }]
    }
    case "tool-params-delta": {
      const call = state.calls.get(part.id)
      if (call === undefined || part.delta === "") return []
      call.text += part.delta
      call.streamed = true
      return [{ _tag: "ToolCallDelta", index: call.index, argumentsDelta: part.delta }]
    }
    case "tool-call": {
      if (part.providerExecuted) return []
      const metadata = cleanMetadata(part.metadata)
      if (metadata !== undefined) state.callMetadata[part.id] = metadata
      const known = state.calls.get(part.id)
      // the argument text is the model's as it streamed; a model that sent the call whole gets
      // its parameters written as JSON
      if (known !== undefined && known.streamed) return []
      const text = JSON.stringify(part.params ?? {})
      if (known !== undefined) {
        known.text = text
        return [{ _tag: "ToolCallDelta", index: known.index, argumentsDelta: text }]
      }
      const index = state.calls.size
      state.calls.set(part.id, { index, name: part.name, text, streamed: true })
      return [
        { _tag: "ToolCallStart", index, id: part.id, name: part.name },
        { _tag: "ToolCallDelta", index, argumentsDelta: text }
      ]
    }
    case "finish": {
      state.finished = true
      const out: Array<Provider.StreamPart> = []
      const metadata = keptMetadata(state)
      if (metadata !== undefined) out.push({ _tag: "Metadata", metadata })
      const usage = usageFromAi(part.usage)
      if (usage !== undefined) out.push({ _tag: "Usage", usage })
      const reason = finishFromAi(part.reason)
      out.push({
        _tag: "Finish",
        // a model that called tools and reports "stop" (or nothing useful) still called them
        finishReason: state.calls.size > 0 && (reason === "stop" || reason === "other") ? "tool_calls" : reason,
        provider: providerInfo(info, state),
        ...(usage === undefined ? { missing: ["usage"] as const } : {})
      })
      return out
    }
    default:
      return []
  }
}

const providerInfo = (info: Provider.Service["info"], state: FromState): Entry.ProviderInfo => ({
  kind: info.kind,
  ...(info.host === undefined ? {} : { host: info.host }),
  ...(state.requestId === undefined ? {} : { requestId: state.requestId })
})

/** The tool calls whose streamed argument text is not JSON (what `@effect/ai` failed the call on). */
const malformedCalls = (state: FromState) =>
  [...state.calls.values()].filter((call) => Either.isLeft(Provider.parseArgumentsEither(call.text)))

/** The toolkit a request's tools are shown through; rath runs the calls, so no handler runs. */
const requestToolkit = (tools: ReadonlyArray<Provider.ToolDefinition>): AiToolkit.WithHandler<any> => ({
  tools: Object.fromEntries(tools.map((definition) => [definition.name, toAiTool(definition)])),
  handle: ((name: PropertyKey) =>
    Effect.dieMessage(
      `rath runs tool calls itself; ${String(name)} was not to run here`
    )) as AiToolkit.WithHandler<any>["handle"]
})

/**
 * A rath provider over an `@effect/ai` `LanguageModel`. Every call streams (`chat` folds the
 * stream). The request's messages go as a prompt ({@link toPrompt}), its tools as tools showing
 * their JSON Schema unchanged, its tool choice as it is. `@effect/ai`'s generic interface has no
 * place for the model, temperature, token limit, stop sequences, seed, a JSON Schema response
 * format or `extra`: set those on the `LanguageModel`'s own layer (for OpenAI,
 * `OpenAiLanguageModel.model(name, config)` or `withConfigOverride`).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Provider } from "rath"
 * import * as EffectAi from "rath/EffectAi"
 *
 * // given any LanguageModel layer, e.g. OpenAiLanguageModel.model("gpt-5-mini")
 * const provider = Effect.map(EffectAi.fromLanguageModel({ model: "gpt-5-mini" }), (service) =>
 *   Provider.withRetry(service)
 * )
 * ```
 */
export const fromLanguageModel = (
  options?: FromLanguageModelOptions
): Effect.Effect<Provider.Service, never, LanguageModel.LanguageModel> =>
  Effect.map(LanguageModel.LanguageModel, (model) => {
    const info: Provider.Service["info"] = { kind: options?.kind ?? "effect-ai", model: options?.model ?? "unknown" }
    const stream = (request: Provider.Request): Stream.Stream<Provider.StreamPart, Provider.ProviderError> =>
      Stream.suspend(() => {
        const state: FromState = {
          model: undefined,
          requestId: undefined,
          finished: false,
          calls: new Map(),
          reasoning: new Map(),
          text: new Map(),
          callMetadata: {},
          carried: undefined
        }
        const tools = request.tools ?? []
        const toolChoice = request.toolChoice
        const parts = tools.length === 0
          ? model.streamText({ prompt: toPrompt(request.messages) })
          : model.streamText({
            prompt: toPrompt(request.messages),
            toolkit: requestToolkit(tools),
            disableToolCallResolution: true,
            ...(toolChoice === undefined ? {} : { toolChoice: toolChoice as LanguageModel.ToolChoice<string> })
          })
        return (parts as Stream.Stream<Response.StreamPart<any>, AiError.AiError>).pipe(
          Stream.mapConcatEffect((part): Effect.Effect<Array<Provider.StreamPart>, Provider.ProviderError> =>
            part.type === "error"
              ? Effect.fail(
                new Provider.ProviderError({
                  reason: "InvalidResponse",
                  provider: info.kind,
                  ...(state.model === undefined ? {} : { model: state.model }),
                  detail: `the model streamed an error: ${safeJson(part.error)}`,
                  cause: part.error
                })
              )
              : Effect.succeed(fromAiPart(state, part, info))
          ),
          Stream.catchAll((error) => {
            if (Schema.is(Provider.ProviderError)(error)) return Stream.fail(error)
            // @effect/ai fails the whole call when a tool call's JSON does not parse: keep the
            // calls with the text the model sent, so the agent answers `invalid_arguments`
            if (error._tag === "MalformedOutput" && !state.finished && malformedCalls(state).length > 0) {
              const metadata = keptMetadata(state)
              return Stream.fromIterable<Provider.StreamPart>([
                ...(metadata === undefined ? [] : [{ _tag: "Metadata", metadata } as const]),
                {
                  _tag: "Finish",
                  finishReason: "tool_calls",
                  provider: providerInfo(info, state),
                  missing: ["usage"]
                }
              ])
            }
            return Stream.fail(providerError(error, info, state.model ?? request.model))
          })
        )
      })
    return Provider.make({ info, stream })
  })

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/**
 * A layer providing a rath provider over the `@effect/ai` `LanguageModel` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromLanguageModel = (
  options?: FromLanguageModelOptions
): Layer.Layer<Provider.Provider, never, LanguageModel.LanguageModel> =>
  Layer.effect(Provider.Provider, fromLanguageModel(options))

// -----------------------------------------------------------------------------
// rath Provider -> @effect/ai LanguageModel
// -----------------------------------------------------------------------------

/**
 * An `@effect/ai` prompt as rath messages: system, user text (files are left out), assistant
 * reasoning, text and tool calls (arguments written as JSON), tool results (a failure becomes
 * a `tool_failed` error). Provider-executed tool calls and results are left out.
 *
 * @since 0.1.0
 * @category combinators
 */
export const fromPrompt = (prompt: Prompt.Prompt): Array<Provider.Message> => {
  const out: Array<Provider.Message> = []
  for (const message of prompt.content) {
    switch (message.role) {
      case "system":
        out.push({ _tag: "System", text: message.content })
        break
      case "user":
        out.push({
          _tag: "User",
          text: message.content.flatMap((part) => part.type === "text" ? [part.text] : []).join("")
        })
        break
      case "assistant": {
        let text = ""
        let reasoning = ""
        let metadata: Entry.ProviderMetadata | undefined
        const toolCalls: Array<Entry.ToolCall> = []
        for (const part of message.content) {
          const rath =
            (part.options as { readonly rath?: { readonly metadata?: unknown; readonly arguments?: unknown } })
              .rath
          if (isRecord(rath?.metadata)) metadata = rath.metadata
          if (part.type === "text") text += part.text
          else if (part.type === "reasoning") reasoning += part.text
          else if (part.type === "tool-call" && !part.providerExecuted) {
            const text = typeof rath?.arguments === "string"
              ? rath.arguments
              : typeof part.params === "string"
              ? part.params
              : JSON.stringify(part.params ?? {})
            toolCalls.push(Provider.toolCall(part.id, part.name, text))
          }
        }
        out.push({
          _tag: "Assistant",
          text,
          ...(reasoning === "" ? {} : { reasoning }),
          toolCalls,
          ...(metadata === undefined ? {} : { metadata })
        })
        break
      }
      case "tool":
        for (const part of message.content) {
          if (part.providerExecuted) continue
          // a rath failure (see toPrompt) comes back as it was; any other failure is `tool_failed`
          const failure = part.isFailure && isRecord(part.result) && isToolError(part.result.error)
            ? { error: part.result.error, output: part.result.output ?? null }
            : part.isFailure
            ? { error: { kind: "tool_failed" as const, message: safeJson(part.result) }, output: null }
            : undefined
          out.push({
            _tag: "ToolResult",
            callId: part.id,
            toolName: part.name,
            output: failure === undefined ? part.result : failure.output,
            ...(failure === undefined ? {} : { error: failure.error })
          })
        }
        break
    }
  }
  return out
}

/**
 * What every request of a {@link toLanguageModel} carries besides what `@effect/ai` asks: the model
 * and the sampling options, which `@effect/ai`'s generic interface has no place for.
 *
 * @since 0.1.0
 * @category models
 */
export type ToLanguageModelOptions = Pick<
  Provider.Request,
  "model" | "temperature" | "topP" | "maxTokens" | "stop" | "seed" | "extra"
>

const isToolError = Schema.is(Entry.ToolError)

/** What an `@effect/ai` call asks, as a rath request. */
const toRequest = (options: LanguageModel.ProviderOptions, defaults: ToLanguageModelOptions): Provider.Request => {
  const tools = options.tools.filter((tool) => !AiTool.isProviderDefined(tool)).map((tool) => ({
    name: tool.name,
    description: tool.description ?? "",
    parameters: AiTool.getJsonSchemaFromSchemaAst(tool.parametersSchema.ast) as unknown as Record<string, unknown>
  }))
  const choice = options.toolChoice
  const toolChoice: Provider.ToolChoice | undefined = tools.length === 0
    ? undefined
    : typeof choice === "string"
    ? choice
    : "tool" in choice
    ? { tool: choice.tool }
    : choice.mode === "required"
    ? "required"
    : "auto"
  const format = options.responseFormat
  const set: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(defaults)) if (value !== undefined) set[key] = value
  return {
    messages: fromPrompt(options.prompt),
    ...set,
    ...(tools.length === 0 ? {} : { tools }),
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(format.type === "json"
      ? {
        responseFormat: {
          type: "json_schema",
          name: format.objectName,
          schema: AiTool.getJsonSchemaFromSchemaAst(format.schema.ast) as unknown as Record<string, unknown>
        }
      }
      : {})
  }
}

const finishToAi = (reason: Entry.FinishReason): Response.FinishReason => {
  switch (reason) {
    case "stop":
      return "stop"
    case "length":
      return "length"
    case "content_filter":
      return "content-filter"
    case "tool_calls":
      return "tool-calls"
    case "error":
      return "error"
    case "other":
      return "other"
  }
}

const usageToAi = (usage: Entry.Usage | undefined): typeof Response.Usage.Encoded => ({
  inputTokens: usage?.inputTokens,
  outputTokens: usage?.outputTokens,
  totalTokens: usage?.totalTokens,
  ...(usage?.reasoningTokens === undefined ? {} : { reasoningTokens: usage.reasoningTokens }),
  ...(usage?.cachedInputTokens === undefined ? {} : { cachedInputTokens: usage.cachedInputTokens })
})

const aiError = (method: string) => (error: Provider.ProviderError): AiError.AiError =>
  new AiError.UnknownError({ module: "rath", method, description: error.message, cause: error })

/** rath's metadata of an answer, carried on a response part (and back through `fromPrompt`). */
const carried = (metadata: Entry.ProviderMetadata | undefined) =>
  metadata === undefined ? {} : { metadata: { rath: { metadata } } }

/**
 * An `@effect/ai` `LanguageModel` served by the rath provider in context (`Scripted`, `Replay`
 * and the adapters alike): `generateText` calls `chat`, `streamText` calls `stream`. Tool calls
 * come back with their parsed arguments (`@effect/ai` checks them with its tools' schemas and runs
 * the handlers itself). Every request carries `options` (the model, sampling), which `@effect/ai`
 * calls cannot set.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { LanguageModel } from "@effect/ai"
 * import { Effect } from "effect"
 * import { Provider, Scripted } from "rath"
 * import * as EffectAi from "rath/EffectAi"
 *
 * const program = Effect.gen(function*() {
 *   const scripted = yield* Scripted.make([Scripted.reply("hi")])
 *   const model = yield* EffectAi.toLanguageModel().pipe(Effect.provideService(Provider.Provider, scripted.service))
 *   const response = yield* model.generateText({ prompt: "hello" })
 *   return response.text // "hi"
 * })
 * ```
 */
export const toLanguageModel = (
  options?: ToLanguageModelOptions
): Effect.Effect<LanguageModel.Service, never, Provider.Provider> =>
  Effect.flatMap(Provider.Provider, (provider) =>
    LanguageModel.make({
      generateText: (request) =>
        Effect.map(
          Effect.mapError(provider.chat(toRequest(request, options ?? {})), aiError("generateText")),
          (response): Array<Response.PartEncoded> => {
            const parts: Array<Response.PartEncoded> = [{
              type: "response-metadata",
              ...(response.provider.requestId === undefined ? {} : { id: response.provider.requestId }),
              ...(response.model === undefined ? {} : { modelId: response.model })
            }]
            let first = true
            const once = () => {
              if (!first) return {}
              first = false
              return carried(response.metadata)
            }
            if (response.reasoning !== undefined) {
              parts.push({ type: "reasoning", text: response.reasoning, ...once() })
            }
            if (response.text !== "") parts.push({ type: "text", text: response.text, ...once() })
            for (const call of response.toolCalls) {
              parts.push({
                type: "tool-call",
                id: call.id,
                name: call.name,
                params: call.parsed ?? call.arguments,
                ...once()
              })
            }
            parts.push({ type: "finish", reason: finishToAi(response.finishReason), usage: usageToAi(response.usage) })
            return parts
          }
        ),
      streamText: (request) =>
        Stream.suspend(() => {
          let usage: Entry.Usage | undefined
          let metadata: Entry.ProviderMetadata | undefined
          let text = false
          let reasoning = false
          const calls = new Map<number, { id: string; name: string; text: string }>()
          return provider.stream(toRequest(request, options ?? {})).pipe(
            Stream.mapError(aiError("streamText")),
            Stream.mapConcat((part): Array<Response.StreamPartEncoded> => {
              switch (part._tag) {
                case "Metadata":
                  if (part.metadata !== undefined) metadata = { ...metadata, ...part.metadata }
                  return part.model === undefined && part.requestId === undefined ? [] : [{
                    type: "response-metadata",
                    ...(part.requestId === undefined ? {} : { id: part.requestId }),
                    ...(part.model === undefined ? {} : { modelId: part.model })
                  }]
                case "TextDelta": {
                  const start: Array<Response.StreamPartEncoded> = text ? [] : [{ type: "text-start", id: "text" }]
                  text = true
                  return [...start, { type: "text-delta", id: "text", delta: part.text }]
                }
                case "ReasoningDelta": {
                  const start: Array<Response.StreamPartEncoded> = reasoning
                    ? []
                    : [{ type: "reasoning-start", id: "reasoning" }]
                  reasoning = true
                  return [...start, { type: "reasoning-delta", id: "reasoning", delta: part.text }]
                }
                case "ToolCallStart":
                  if (calls.has(part.index)) return []
                  calls.set(part.index, { id: part.id, name: part.name, text: "" })
                  return [{ type: "tool-params-start", id: part.id, name: part.name }]
                case "ToolCallDelta": {
                  const call = calls.get(part.index)
                  if (call === undefined) return []
                  call.text += part.argumentsDelta
                  return [{ type: "tool-params-delta", id: call.id, delta: part.argumentsDelta }]
                }
                case "Usage":
                  usage = part.usage
                  return []
                case "Retry":
                  return []
                case "Finish": {
                  const out: Array<Response.StreamPartEncoded> = []
                  if (reasoning) out.push({ type: "reasoning-end", id: "reasoning", ...carried(metadata) })
                  if (text) out.push({ type: "text-end", id: "text", ...(reasoning ? {} : carried(metadata)) })
                  for (const [, call] of [...calls].sort(([a], [b]) => a - b)) {
                    const parsed = Provider.parseArguments(call.text)
                    out.push({ type: "tool-params-end", id: call.id })
                    out.push({ type: "tool-call", id: call.id, name: call.name, params: parsed ?? call.text })
                  }
                  out.push({ type: "finish", reason: finishToAi(part.finishReason), usage: usageToAi(usage) })
                  return out
                }
              }
            })
          )
        })
    }))

/**
 * A layer providing an `@effect/ai` `LanguageModel` served by the rath provider in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLanguageModel = (
  options?: ToLanguageModelOptions
): Layer.Layer<LanguageModel.LanguageModel, never, Provider.Provider> =>
  Layer.effect(LanguageModel.LanguageModel, toLanguageModel(options))

// -----------------------------------------------------------------------------
// tools
// -----------------------------------------------------------------------------

/**
 * The rath call an `@effect/ai` tool handler runs in, when it runs as a rath tool (see
 * {@link fromToolkit}): the session, the call id, the recorders of effects and sandbox, and
 * `sandbox`, which opens the session's sandbox. Read it with `Effect.serviceOption(CurrentCall)`
 * (the handler then also runs outside rath).
 *
 * @since 0.1.0
 * @category tags
 */
export class CurrentCall extends Context.Tag("rath/EffectAi/CurrentCall")<CurrentCall, Tool.Context>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface FromToolkitOptions {
  /** Which tools need approval (default none): `true` for all, or a predicate on the tool name. */
  readonly needsApproval?: boolean | ((name: string) => boolean) | undefined
  /** Which tools may run beside others in one turn (default all). */
  readonly parallel?: boolean | ((name: string) => boolean) | undefined
}

/**
 * An `@effect/ai` toolkit with its handlers, as rath tools: the model sees each tool's JSON
 * Schema as `@effect/ai` writes it; rath parses and checks the arguments (a mismatch is
 * `invalid_arguments` to the model), asks for approval, applies timeouts and records the result,
 * its duration and effects. A handler's failure (failure mode `error`) is `tool_failed`; a
 * returned failure (failure mode `return`) is `tool_failed` with the failure as its output. A tool
 * annotated `Tool.Idempotent` is idempotent for rath. Provider-defined tools are left out (the
 * vendor runs them).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Tool, Toolkit } from "@effect/ai"
 * import { Effect, Schema } from "effect"
 * import { Agent } from "rath"
 * import * as EffectAi from "rath/EffectAi"
 *
 * const Add = Tool.make("add", {
 *   description: "Adds two numbers",
 *   parameters: { a: Schema.Number, b: Schema.Number },
 *   success: Schema.Number
 * })
 * const MathKit = Toolkit.make(Add)
 * const handlers = MathKit.toLayer({ add: ({ a, b }) => Effect.succeed(a + b) })
 *
 * const agent = Effect.map(Effect.provide(MathKit, handlers), (toolkit) =>
 *   Agent.make({ name: "adder", tools: EffectAi.fromToolkit(toolkit) })
 * )
 * ```
 */
export const fromToolkit = <Tools extends Record<string, AiTool.Any>>(
  toolkit: AiToolkit.WithHandler<Tools>,
  options?: FromToolkitOptions
): Array<Tool.Tool<any, AiTool.Requirements<Tools[keyof Tools]>>> =>
  Object.values(toolkit.tools).filter((tool) => !AiTool.isProviderDefined(tool)).map((tool) => {
    const name = tool.name
    const parameters = tool.parametersSchema as unknown as Schema.Schema<unknown, unknown>
    const encode = Schema.encode(parameters)
    const pick = (option: boolean | ((name: string) => boolean) | undefined, fallback: boolean) =>
      option === undefined ? fallback : typeof option === "function" ? option(name) : option
    return Tool.make({
      name,
      description: tool.description ?? "",
      parameters,
      jsonSchema: AiTool.getJsonSchemaFromSchemaAst(tool.parametersSchema.ast) as unknown as Record<string, unknown>,
      needsApproval: pick(options?.needsApproval, false),
      parallel: pick(options?.parallel, true),
      idempotent: Context.get(tool.annotations as Context.Context<AiTool.Idempotent>, AiTool.Idempotent),
      handler: (args, context) =>
        Effect.gen(function*() {
          // the toolkit decodes the parameters itself: hand it their encoded form
          const encoded = yield* encode(args)
          const result = yield* toolkit.handle(name, encoded as never).pipe(
            Effect.provideService(CurrentCall, context)
          )
          if (result.isFailure) {
            return yield* new Tool.ToolError({
              reason: "Failed",
              detail: `${name} returned a failure: ${safeJson(result.encodedResult)}`
            })
          }
          return result.encodedResult
        })
    })
  })

/**
 * @since 0.1.0
 * @category models
 */
export interface ToToolkitOptions {
  /** The session the calls run for (their sandbox placement); default an empty session per call. */
  readonly session?: Session.Session | undefined
}

/**
 * Rath tools as an `@effect/ai` toolkit with handlers, for `LanguageModel.generateText({ toolkit
 * })`. Each call runs through `Tool.run` (argument checks, timeout, output encoding); the model
 * gets the output, or for a failure `{ error: { kind, message } }` as a failure result (so a bad
 * argument is `invalid_arguments` to the model, not a failed call). The model sees each tool's
 * rath JSON Schema unchanged.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toToolkit = <R>(
  tools: ReadonlyArray<Tool.Tool<any, R>>,
  options?: ToToolkitOptions
): Effect.Effect<AiToolkit.WithHandler<Record<string, AiTool.Any>>, Tool.ToolError, R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    const rath = yield* Tool.toolkit(...tools)
    const aiTools = tools.map((tool) =>
      AiTool.make(tool.name, {
        description: tool.description,
        success: Schema.Unknown,
        failure: Schema.Unknown,
        failureMode: "return"
      }).setParameters(
        Schema.Unknown.annotations({ jsonSchema: tool.jsonSchema }) as unknown as AiTool.AnyStructSchema
      )
    )
    const toolkit = AiToolkit.make(...aiTools)
    let calls = 0
    const handlers = Object.fromEntries(tools.map((tool) => [
      tool.name,
      (params: unknown) =>
        Effect.gen(function*() {
          const session = options?.session ?? (yield* Session.empty())
          const id = `call_${++calls}`
          const outcome = yield* Tool.run(rath, {
            id,
            name: tool.name,
            arguments: safeJson(params),
            ...(params === undefined ? {} : { parsed: params })
          }, { session })
          return outcome.error === undefined
            ? outcome.output
            : yield* Effect.fail({
              error: outcome.error,
              ...(outcome.output === null ? {} : { output: outcome.output })
            })
        }).pipe(Effect.provide(context))
    ]))
    const handled = yield* (toolkit as unknown as AiToolkit.Toolkit<Record<string, AiTool.Any>>).toContext(
      handlers as never
    )
    return yield* Effect.provide(
      toolkit as unknown as Effect.Effect<AiToolkit.WithHandler<Record<string, AiTool.Any>>>,
      handled
    )
  })
