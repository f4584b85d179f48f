/**
 * The AI SDK UI message stream: an agent run as the server-sent events that the AI SDK's `useChat`
 * (and `readUIMessageStream`, `DefaultChatTransport`) read, and `UIMessage[]` to and from a session.
 *
 * - {@link fromAgent} runs an agent with `Agent.stream` and turns its events into
 *   {@link UIMessageChunk}s: `start`, a `start-step`/`finish-step` pair per model call, text and
 *   reasoning as `*-start`/`*-delta`/`*-end`, tool calls as `tool-input-start`/`-delta`/`-available`,
 *   their results as `tool-output-available`, `tool-output-error` or `tool-output-denied`, the
 *   approval of a call that needs one as `tool-approval-request`, rath's own `data-rath-session`
 *   (the session id) and `data-rath-usage` parts, and `finish`.
 * - {@link toResponse} serves chunks as an `HttpServerResponse` with the headers of the protocol
 *   (`x-vercel-ai-ui-message-stream: v1`), and {@link handler} is a whole chat endpoint: it reads
 *   the body `DefaultChatTransport` posts, imports its messages and streams the run.
 * - {@link toSession} imports `UIMessage[]` (user and assistant text, reasoning, tool calls with
 *   their results) into a session, checked with a Schema; {@link fromSession} exports a session as
 *   `UIMessage[]`. Malformed input fails with a {@link UiStreamError}.
 *
 * The chunk and message shapes are Effect Schemas written here: rath does not depend on the `ai`
 * package at run time (its tests check the stream with the AI SDK's own client code).
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Agent from "./Agent.js"
import * as Approval from "./Approval.js"
import * as Entry from "./Entry.js"
import type * as Journal from "./Journal.js"
import type * as Provider from "./Provider.js"
import * as Session from "./Session.js"
import * as Tool from "./Tool.js"

// -----------------------------------------------------------------------------
// chunks
// -----------------------------------------------------------------------------

const chunk = <T extends string, F extends Schema.Struct.Fields>(type: T, fields: F) =>
  Schema.Struct({ type: Schema.Literal(type), ...fields })

/**
 * The chunks of the UI message stream that rath writes (the AI SDK's `UIMessageChunk`, protocol v1).
 *
 * @since 0.1.0
 * @category schemas
 */
export const UIMessageChunk = Schema.Union(
  chunk("start", { messageId: Schema.optional(Schema.String), messageMetadata: Schema.optional(Schema.Unknown) }),
  chunk("start-step", {}),
  chunk("finish-step", {}),
  chunk("text-start", { id: Schema.String }),
  chunk("text-delta", { id: Schema.String, delta: Schema.String }),
  chunk("text-end", { id: Schema.String }),
  chunk("reasoning-start", { id: Schema.String }),
  chunk("reasoning-delta", { id: Schema.String, delta: Schema.String }),
  chunk("reasoning-end", { id: Schema.String }),
  chunk("tool-input-start", { toolCallId: Schema.String, toolName: Schema.String }),
  chunk("tool-input-delta", { toolCallId: Schema.String, inputTextDelta: Schema.String }),
  chunk("tool-input-available", { toolCallId: Schema.String, toolName: Schema.String, input: Schema.Unknown }),
  chunk("tool-input-error", {
    toolCallId: Schema.String,
    toolName: Schema.String,
    input: Schema.Unknown,
    errorText: Schema.String
  }),
  chunk("tool-approval-request", { approvalId: Schema.String, toolCallId: Schema.String }),
  chunk("tool-output-available", { toolCallId: Schema.String, output: Schema.Unknown }),
  chunk("tool-output-error", { toolCallId: Schema.String, errorText: Schema.String }),
  chunk("tool-output-denied", { toolCallId: Schema.String }),
  Schema.Struct({
    type: Schema.TemplateLiteral("data-", Schema.String),
    id: Schema.optional(Schema.String),
    data: Schema.Unknown,
    transient: Schema.optional(Schema.Boolean)
  }),
  chunk("error", { errorText: Schema.String }),
  chunk("finish", {
    finishReason: Schema.optional(Schema.Literal("stop", "length", "content-filter", "tool-calls", "error", "other")),
    messageMetadata: Schema.optional(Schema.Unknown)
  }),
  chunk("abort", { reason: Schema.optional(Schema.String) })
).annotations({ identifier: "UIMessageChunk" })

/**
 * @since 0.1.0
 * @category models
 */
export type UIMessageChunk = typeof UIMessageChunk.Type

/**
 * What `data-rath-session` carries: the session the run writes, the agent, and, on the part sent
 * at the end, why the run ended and how many entries the session has.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SessionData = Schema.Struct({
  sessionId: Schema.String,
  agent: Schema.String,
  reason: Schema.optional(Schema.String),
  entries: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface SessionData extends Schema.Schema.Type<typeof SessionData> {}

/**
 * What `data-rath-usage` carries: the latest model call's usage and the run's total so far (one
 * part, id `rath-usage`, updated after each model call).
 *
 * @since 0.1.0
 * @category schemas
 */
export const UsageData = Schema.Struct({
  turn: Schema.Number,
  usage: Entry.Usage,
  total: Entry.Usage
})

/**
 * @since 0.1.0
 * @category models
 */
export interface UsageData extends Schema.Schema.Type<typeof UsageData> {}

/**
 * The headers of a UI message stream response.
 *
 * @since 0.1.0
 * @category models
 */
export const HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  "connection": "keep-alive",
  "x-vercel-ai-ui-message-stream": "v1",
  "x-accel-buffering": "no"
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Input that is not what the UI message protocol allows.
 *
 * - `InvalidMessages`: the messages do not decode as `UIMessage[]` (the detail says where).
 * - `UnsupportedPart`: a part that a session cannot hold (a file sent by the user, say).
 * - `InvalidRequest`: a chat request body that is not `{ messages, ... }`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UiStreamError extends Schema.TaggedError<UiStreamError>("rath/UiStreamError")("UiStreamError", {
  reason: Schema.Literal("InvalidMessages", "UnsupportedPart", "InvalidRequest"),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// agent events to chunks
// -----------------------------------------------------------------------------

/**
 * What the chunk encoder reads: the run's events, and the approval requests seen by the approval
 * service that {@link fromAgent} puts around the one in effect.
 *
 * @since 0.1.0
 * @category models
 */
export type Input =
  | Agent.Event
  | { readonly _tag: "ApprovalRequested"; readonly call: Entry.ToolCall }
  /** The turn waits for the client's approval (none of its calls runs): the stream ends. */
  | { readonly _tag: "AwaitingClient" }

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The id of the assistant message the stream writes (default: the client makes one). */
  readonly messageId?: string | undefined
  /**
   * The text of the `error` chunk for a run that fails. Default: `"An error occurred."`, as the AI
   * SDK does, so that provider details do not reach the browser; return `error.message` to show it.
   */
  readonly onError?: ((error: unknown) => string) | undefined
}

/** The approval id of a call (one approval per call). */
const approvalIdOf = (callId: string): string => `approval-${callId}`

const finishReasonOf = (reason: Agent.EndReason): "stop" | "length" | "error" | "other" => {
  switch (reason) {
    case "stop":
      return "stop"
    case "budget":
      return "length"
    case "error":
      return "error"
    default:
      return "other"
  }
}

/** The `errorText` of a failed call: a handler's own message as it is, other failures with their kind. */
const errorTextOf = (error: Entry.ToolError): string =>
  error.kind === "tool_failed" ? error.message : `${error.kind}: ${error.message}`

const inputOf = (call: Entry.ToolCall): { readonly ok: true; readonly input: unknown } | { readonly ok: false } => {
  if (call.parsed !== undefined) return { ok: true, input: call.parsed }
  if (call.arguments.trim() === "") return { ok: true, input: {} }
  return { ok: false }
}

/**
 * Makes an encoder: a function from one {@link Input} to the chunks it stands for. It keeps the
 * state of the stream (open text and reasoning parts, the calls announced, the step in progress),
 * so make one per stream.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEncoder = (
  options?: Options,
  seed?: {
    /** Calls the client already shows (a continued message's open calls). */
    readonly announced?: Iterable<string> | undefined
    /** Calls whose approval the client already asked for or answered. */
    readonly asked?: Iterable<string> | undefined
  }
): (input: Input) => ReadonlyArray<UIMessageChunk> => {
  let partCount = 0
  let text: string | undefined
  let reasoning: string | undefined
  let streamedText = false
  let streamedReasoning = false
  let stepOpen = false
  let agent = ""
  let total: Entry.Usage | undefined
  /** The call id of each tool-call index of the turn being streamed. */
  let indices = new Map<number, string>()
  const started = new Set<string>()
  const announced = new Set<string>(seed?.announced)
  const asked = new Set<string>(seed?.asked)
  const waiting: Array<string> = []
  let awaitingClient = false
  let ended = false

  const closeParts = (out: Array<UIMessageChunk>) => {
    if (reasoning !== undefined) out.push({ type: "reasoning-end", id: reasoning })
    if (text !== undefined) out.push({ type: "text-end", id: text })
    reasoning = undefined
    text = undefined
  }
  const closeStep = (out: Array<UIMessageChunk>) => {
    closeParts(out)
    if (stepOpen) out.push({ type: "finish-step" })
    stepOpen = false
  }
  const ask = (out: Array<UIMessageChunk>, callId: string) => {
    if (asked.has(callId)) return
    asked.add(callId)
    out.push({ type: "tool-approval-request", approvalId: approvalIdOf(callId), toolCallId: callId })
  }
  const announce = (out: Array<UIMessageChunk>, call: Entry.ToolCall) => {
    if (announced.has(call.id)) return
    announced.add(call.id)
    const input = inputOf(call)
    out.push(
      input.ok
        ? { type: "tool-input-available", toolCallId: call.id, toolName: call.name, input: input.input }
        : {
          type: "tool-input-error",
          toolCallId: call.id,
          toolName: call.name,
          input: call.arguments,
          errorText: "the arguments are not valid JSON"
        }
    )
    const at = waiting.indexOf(call.id)
    if (at >= 0) {
      waiting.splice(at, 1)
      ask(out, call.id)
    }
  }
  const emitWhole = (out: Array<UIMessageChunk>, kind: "text" | "reasoning", value: string) => {
    const id = `${kind}-${partCount++}`
    out.push({ type: `${kind}-start`, id }, { type: `${kind}-delta`, id, delta: value }, { type: `${kind}-end`, id })
  }

  /** Ends a stream that waits for the client, once every call it asks about is announced. */
  const pause = (out: Array<UIMessageChunk>) => {
    if (!awaitingClient || waiting.length > 0) return
    closeStep(out)
    out.push({ type: "finish", finishReason: "tool-calls" })
    ended = true
  }

  return (input) => {
    const out: Array<UIMessageChunk> = []
    if (ended) return out
    switch (input._tag) {
      case "RunStarted": {
        agent = input.agent
        out.push(options?.messageId === undefined ? { type: "start" } : { type: "start", messageId: options.messageId })
        out.push({
          type: "data-rath-session",
          id: "rath-session",
          data: { sessionId: input.sessionId, agent: input.agent }
        })
        break
      }
      case "TurnStarted": {
        closeStep(out)
        out.push({ type: "start-step" })
        stepOpen = true
        streamedText = false
        streamedReasoning = false
        indices = new Map()
        break
      }
      case "ReasoningDelta": {
        if (input.text === "") break
        if (text !== undefined) {
          out.push({ type: "text-end", id: text })
          text = undefined
        }
        if (reasoning === undefined) {
          reasoning = `reasoning-${partCount++}`
          out.push({ type: "reasoning-start", id: reasoning })
        }
        streamedReasoning = true
        out.push({ type: "reasoning-delta", id: reasoning, delta: input.text })
        break
      }
      case "TextDelta": {
        if (input.text === "") break
        if (reasoning !== undefined) {
          out.push({ type: "reasoning-end", id: reasoning })
          reasoning = undefined
        }
        if (text === undefined) {
          text = `text-${partCount++}`
          out.push({ type: "text-start", id: text })
        }
        streamedText = true
        out.push({ type: "text-delta", id: text, delta: input.text })
        break
      }
      case "ToolCallDelta": {
        if (input.id !== undefined && input.name !== undefined && !started.has(input.id)) {
          closeParts(out)
          started.add(input.id)
          indices.set(input.index, input.id)
          out.push({ type: "tool-input-start", toolCallId: input.id, toolName: input.name })
        }
        const callId = indices.get(input.index)
        if (callId !== undefined && input.argumentsDelta !== "") {
          out.push({ type: "tool-input-delta", toolCallId: callId, inputTextDelta: input.argumentsDelta })
        }
        break
      }
      case "Usage": {
        total = Entry.sumUsage(total, input.usage)
        out.push({
          type: "data-rath-usage",
          id: "rath-usage",
          data: { turn: input.turn, usage: input.usage, total: total ?? input.usage }
        })
        break
      }
      case "TurnFinished": {
        closeParts(out)
        // an answer whose parts were not streamed (a provider that sends it whole) is sent whole
        const entry = input.entry
        if (!streamedReasoning && entry.reasoning !== undefined && entry.reasoning !== "") {
          emitWhole(out, "reasoning", entry.reasoning)
        }
        if (!streamedText && entry.text !== "") emitWhole(out, "text", entry.text)
        for (const call of entry.toolCalls) announce(out, call)
        if (entry.toolCalls.length === 0) closeStep(out)
        break
      }
      case "ApprovalRequested": {
        if (announced.has(input.call.id)) ask(out, input.call.id)
        else if (!waiting.includes(input.call.id)) waiting.push(input.call.id)
        break
      }
      case "ToolFinished":
      case "ToolFailed": {
        announce(out, input.call)
        const outcome = input.outcome
        if (outcome.approval !== undefined) ask(out, input.call.id)
        if (outcome.error === undefined) {
          out.push({ type: "tool-output-available", toolCallId: input.call.id, output: outcome.output })
        } else if (outcome.error.kind === "rejected" && outcome.approval?.decision === "rejected") {
          out.push({ type: "tool-output-denied", toolCallId: input.call.id })
        } else {
          out.push({
            type: "tool-output-error",
            toolCallId: input.call.id,
            errorText: errorTextOf(outcome.error)
          })
        }
        break
      }
      case "Retry": {
        out.push({
          type: "data-rath-retry",
          data: { turn: input.turn, attempt: input.attempt, delayMillis: input.delayMillis },
          transient: true
        })
        break
      }
      case "Done": {
        closeStep(out)
        out.push({
          type: "data-rath-session",
          id: "rath-session",
          data: { sessionId: input.session.id, agent, reason: input.reason, entries: input.session.length }
        })
        out.push({ type: "finish", finishReason: finishReasonOf(input.reason) })
        break
      }
      case "ToolStarted":
        break
      case "AwaitingClient":
        awaitingClient = true
        break
    }
    pause(out)
    return out
  }
}

/**
 * The chunks of a failed run: open parts closed, an `error` chunk, and `finish`.
 */
const failed = (encode: (input: Input) => ReadonlyArray<UIMessageChunk>, errorText: string) => {
  // a new step's start closes the open parts and the step; its own `start-step` is dropped
  const closing = encode({ _tag: "TurnStarted", turn: -1 }).filter((c) => c.type !== "start-step")
  return [...closing, { type: "error", errorText } as const, { type: "finish", finishReason: "error" } as const]
}

const defaultOnError = (): string => "An error occurred."

/**
 * Encodes a stream of {@link Input}s as UI message chunks. A failure of the input stream becomes an
 * `error` chunk (see {@link Options.onError}) followed by `finish`: the chunk stream itself does
 * not fail. The stream ends at the first `finish`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const encode = <E, R>(
  inputs: Stream.Stream<Input, E, R>,
  options?: Options,
  seed?: Parameters<typeof makeEncoder>[1]
): Stream.Stream<UIMessageChunk, never, R> =>
  Stream.suspend(() => {
    const encoder = makeEncoder(options, seed)
    const onError = options?.onError ?? defaultOnError
    return inputs.pipe(
      Stream.mapConcat(encoder),
      Stream.catchAllCause((cause) => Stream.fromIterable(failed(encoder, onError(Cause.squash(cause))))),
      Stream.takeUntil((c) => c.type === "finish")
    )
  })

/**
 * Options of a run streamed to a UI.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends Options {
  /**
   * Who decides the calls that need approval.
   *
   * - `"server"` (default): the `Approval` service in effect (fail-closed `Approval.none` unless
   *   one is provided). The client sees `tool-approval-request` while it decides, then the output
   *   or `tool-output-denied`.
   * - `"client"`: the user, through the AI SDK's tool approval parts. A call with no answer ends
   *   the stream with `tool-approval-request` and `finish` (`tool-calls`); `useChat`'s
   *   `addToolApprovalResponse` answers it and the messages come back ({@link fromMessages}),
   *   where the answer decides the call (approved: it runs; denied: `rejected`, with the reason).
   */
  readonly approval?: "server" | "client" | undefined
}

/** A continued message: the open calls of its last step and the client's answers. */
interface Pending {
  readonly continuation: Agent.Continuation
  readonly decisions: ReadonlyMap<string, Approval.Decision>
  readonly asked: ReadonlyArray<string>
}

const runStream = <E, R>(
  agent: Agent.Agent<E, R>,
  session: Session.Session,
  options: RunOptions | undefined,
  pending: Pending | undefined
): Stream.Stream<UIMessageChunk, never, R | Provider.Provider> =>
  encode(
    Stream.unwrapScoped(
      Effect.gen(function*() {
        const asks = yield* Effect.acquireRelease(Queue.unbounded<Input>(), Queue.shutdown)
        const inner = yield* Approval.Approval
        const client = options?.approval === "client"
        const watched: Approval.Service = {
          decide: (request) => {
            const answered = client ? pending?.decisions.get(request.call.id) : undefined
            if (answered !== undefined) return Effect.succeed(answered)
            const asked = Queue.offer(asks, { _tag: "ApprovalRequested", call: request.call })
            // the client answers with its next request: this run waits until the stream ends it
            return client
              ? asked.pipe(
                Effect.zipRight(Queue.offer(asks, { _tag: "AwaitingClient" })),
                Effect.zipRight(Effect.never)
              )
              : Effect.zipRight(asked, inner.decide(request))
          }
        }
        const executor = yield* Tool.Executor
        const held = new Set<string>()
        // in "client" mode, a turn with a call that needs the client's answer runs none of its
        // calls: each waits (until the stream ends the run), and the next request runs them all
        const gated: Tool.ExecutorService = {
          execute: <RR>(toolkit: Tool.Toolkit<RR>, call: Entry.ToolCall, runOptions: Tool.RunOptions) =>
            Effect.suspend(() => {
              const waiting = awaitingClient(toolkit, runOptions.session, pending?.decisions)
              if (waiting.length === 0) return executor.execute(toolkit, call, runOptions)
              // the turn's first call to get here asks about all of them; every call then waits
              const fresh = waiting.filter((c) => !held.has(c.id))
              for (const c of fresh) held.add(c.id)
              const asked = Effect.forEach(
                fresh,
                (c) => Queue.offer(asks, { _tag: "ApprovalRequested", call: c }),
                { discard: true }
              )
              return asked.pipe(
                Effect.zipRight(Queue.offer(asks, { _tag: "AwaitingClient" })),
                Effect.zipRight(Effect.never)
              )
            })
        }
        const events: Stream.Stream<Input, Agent.AgentError | Journal.JournalError | E, R | Provider.Provider> =
          (pending === undefined
            ? Agent.stream(agent)(session)
            : Agent.streamContinuation(agent, session, pending.continuation)).pipe(
              Stream.provideService(Approval.Approval, watched),
              client ? Stream.provideService(Tool.Executor, gated) : identity
            )
        return Stream.merge(events, Stream.fromQueue(asks), { haltStrategy: "left" })
      })
    ),
    options,
    pending === undefined ? undefined : {
      announced: pending.continuation.calls.map((call) => call.id),
      asked: pending.asked
    }
  )

/**
 * Runs `agent` on `session` with `Agent.stream` and streams the run as UI message chunks. Calls
 * that need approval are decided as {@link RunOptions.approval} says; by default the approval
 * service in effect decides, and `fromAgent` only watches it, so the client sees a
 * `tool-approval-request` while the decision is pending, then the output (approved or edited) or
 * `tool-output-denied` (rejected).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Agent, Scripted, Session } from "rath"
 * import * as UiStream from "rath/UiStream"
 *
 * const writer = Agent.make({ name: "writer" })
 * const chunks = Session.fromUserMessage("Say hello").pipe(
 *   Effect.flatMap((session) => Stream.runCollect(UiStream.fromAgent(writer, session))),
 *   Effect.provide(Scripted.layer([Scripted.reply("Hello")]))
 * )
 * ```
 */
export const fromAgent = <E, R>(
  agent: Agent.Agent<E, R>,
  session: Session.Session,
  options?: RunOptions
): Stream.Stream<UIMessageChunk, never, R | Provider.Provider> => runStream(agent, session, options, undefined)

/**
 * Imports `messages` ({@link toSession}) and streams `agent`'s run on them. When the last message
 * is an assistant message whose last step has calls without a result (waiting for the client's
 * approval, say), the run continues that step: it runs those calls (with the client's answers, in
 * `"client"` approval mode) and goes on with the model, and the chunks continue the same message
 * (as `useChat` does with a last assistant message). Otherwise it is a new run.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromMessages = <E, R>(
  agent: Agent.Agent<E, R>,
  messages: unknown,
  options?: RunOptions & {
    /** Builds the session the agent runs on from the imported one (default: it as it is). */
    readonly session?: ((imported: Session.Session) => Effect.Effect<Session.Session>) | undefined
  }
): Effect.Effect<Stream.Stream<UIMessageChunk, never, R | Provider.Provider>, UiStreamError> =>
  Effect.gen(function*() {
    const decoded = yield* decode(messages)
    const imported = yield* importMessages(decoded, undefined)
    const session = options?.session === undefined ? imported : yield* options.session(imported)
    return runStream(agent, session, options, pendingOf(decoded, session))
  })

/**
 * The calls of a turn (the last answer's calls without a result in `session`) that need approval
 * and have no answer from the client.
 */
const awaitingClient = (
  toolkit: Tool.Toolkit<any>,
  session: Session.Session,
  decisions: ReadonlyMap<string, Approval.Decision> | undefined
): ReadonlyArray<Entry.ToolCall> => {
  const answered = new Set<string>()
  let answer: Entry.Assistant | undefined
  for (const entry of Session.reverseEntries(session)) {
    if (entry._tag === "ToolResult") answered.add(entry.callId)
    else if (entry._tag === "Assistant") {
      answer = entry
      break
    }
  }
  if (answer === undefined) return []
  return answer.toolCalls.filter((call) => {
    if (answered.has(call.id) || decisions?.has(call.id) === true) return false
    const tool = toolkit.tools.get(call.name)
    if (tool === undefined || tool.needsApproval === false) return false
    const raw = call.parsed ?? (call.arguments.trim() === "" ? {} : undefined)
    if (raw === undefined) return false
    const decoded = Schema.decodeUnknownEither(tool.parameters)(raw, { onExcessProperty: "ignore" })
    return Either.isRight(decoded) && Tool.requiresApproval(tool, decoded.right)
  })
}

const decisionOf = (approval: { readonly approved: boolean; readonly reason?: string | undefined }) =>
  approval.approved
    ? Approval.approve("ui")
    : Approval.reject(approval.reason ?? "the user denied this call", "ui")

/** The open calls of the last assistant message's last step, if the messages end with some. */
const pendingOf = (messages: ReadonlyArray<UIMessage>, session: Session.Session): Pending | undefined => {
  const last = messages.at(-1)
  if (last === undefined || last.role !== "assistant") return undefined
  const open = new Set<string>()
  const decisions = new Map<string, Approval.Decision>()
  const asked: Array<string> = []
  for (const part of last.parts) {
    if (!isToolPart(part)) continue
    if (part.state === "approval-responded") decisions.set(part.toolCallId, decisionOf(part.approval))
    if (part.state === "approval-requested" || part.state === "approval-responded") asked.push(part.toolCallId)
    if (
      part.state === "input-streaming" || part.state === "input-available" || part.state === "approval-requested" ||
      part.state === "approval-responded"
    ) open.add(part.toolCallId)
  }
  if (open.size === 0) return undefined
  // the run so far: the assistant entries since the last user message; the open calls are the last one's
  let turns = 0
  let answer: Entry.Assistant | undefined
  for (const entry of Session.reverseEntries(session)) {
    if (entry._tag === "User") break
    if (entry._tag !== "Assistant") continue
    turns++
    answer ??= entry
  }
  const calls = (answer?.toolCalls ?? []).filter((call) => open.has(call.id))
  if (calls.length === 0) return undefined
  return {
    continuation: { turns, calls, recorded: calls.map(() => undefined), stopped: false },
    decisions,
    asked
  }
}

// -----------------------------------------------------------------------------
// server-sent events and HTTP
// -----------------------------------------------------------------------------

/**
 * The server-sent events of a chunk stream: one `data: <json>` event per chunk, then `data: [DONE]`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const toSse = <E, R>(chunks: Stream.Stream<UIMessageChunk, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    const encoder = new TextEncoder()
    return chunks.pipe(
      Stream.map((c) => encoder.encode(`data: ${JSON.stringify(c)}\n\n`)),
      Stream.concat(Stream.sync(() => encoder.encode("data: [DONE]\n\n")))
    )
  })

/**
 * A chunk stream as an HTTP response: server-sent events with the protocol's headers
 * ({@link HEADERS}, plus `headers`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const toResponse = (
  chunks: Stream.Stream<UIMessageChunk>,
  options?: { readonly status?: number | undefined; readonly headers?: Readonly<Record<string, string>> | undefined }
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.stream(toSse(chunks), {
    status: options?.status ?? 200,
    contentType: "text/event-stream",
    headers: Headers.fromInput({ ...HEADERS, ...options?.headers })
  })

/**
 * The body `DefaultChatTransport` posts: the chat id, its messages and what triggered the request
 * (other fields the client adds are kept in `body`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatRequest = Schema.Struct({
  id: Schema.optional(Schema.String),
  messages: Schema.Array(Schema.Unknown),
  trigger: Schema.optional(Schema.String),
  messageId: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface ChatRequest extends Schema.Schema.Type<typeof ChatRequest> {}

/**
 * A chat endpoint for `useChat`: reads the request body, and streams {@link fromMessages} (a new
 * run, or the continuation of the last assistant message's open calls). Malformed messages are a
 * 400 with the reason. Use it as the handler of a POST route.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = <E, R>(
  agent: Agent.Agent<E, R>,
  options?: RunOptions & {
    /** Builds the session the agent runs on from the imported one (default: it as it is). */
    readonly session?:
      | ((imported: Session.Session, request: ChatRequest) => Effect.Effect<Session.Session>)
      | undefined
  }
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest | R | Provider.Provider
> =>
  Effect.gen(function*() {
    const body = yield* HttpServerRequest.schemaBodyJson(ChatRequest).pipe(
      Effect.mapError((cause) =>
        new UiStreamError({
          reason: "InvalidRequest",
          detail: cause._tag === "ParseError" ? ParseResult.TreeFormatter.formatErrorSync(cause) : cause.message,
          cause
        })
      )
    )
    const build = options?.session
    const chunks = yield* fromMessages(agent, body.messages, {
      ...options,
      session: build === undefined ? undefined : (imported) => build(imported, body)
    })
    const context = yield* Effect.context<R | Provider.Provider>()
    return toResponse(Stream.provideContext(chunks, context))
  }).pipe(
    Effect.catchTag("UiStreamError", (error) =>
      HttpServerResponse.json({ error: error.message, reason: error.reason }, { status: 400 }).pipe(Effect.orDie))
  )

// -----------------------------------------------------------------------------
// UIMessage
// -----------------------------------------------------------------------------

const providerMetadata = { providerMetadata: Schema.optional(Schema.Unknown) }

/**
 * A text part of a UI message.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TextPart = Schema.Struct({
  type: Schema.Literal("text"),
  text: Schema.String,
  state: Schema.optional(Schema.Literal("streaming", "done")),
  ...providerMetadata
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const ReasoningPart = Schema.Struct({
  type: Schema.Literal("reasoning"),
  text: Schema.String,
  state: Schema.optional(Schema.Literal("streaming", "done")),
  ...providerMetadata
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const StepStartPart = Schema.Struct({ type: Schema.Literal("step-start") })

/**
 * @since 0.1.0
 * @category schemas
 */
export const DataPart = Schema.Struct({
  type: Schema.TemplateLiteral("data-", Schema.String),
  id: Schema.optional(Schema.String),
  data: Schema.Unknown
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const FilePart = Schema.Struct({
  type: Schema.Literal("file"),
  mediaType: Schema.String,
  filename: Schema.optional(Schema.String),
  url: Schema.String,
  ...providerMetadata
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const SourcePart = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("source-url"),
    sourceId: Schema.String,
    url: Schema.String,
    title: Schema.optional(Schema.String),
    ...providerMetadata
  }),
  Schema.Struct({
    type: Schema.Literal("source-document"),
    sourceId: Schema.String,
    mediaType: Schema.String,
    title: Schema.String,
    filename: Schema.optional(Schema.String),
    ...providerMetadata
  })
)

const ApprovalField = Schema.Struct({
  id: Schema.String,
  approved: Schema.optional(Schema.Boolean),
  reason: Schema.optional(Schema.String)
})

/** A value that must be there (`Schema.Unknown` alone also accepts a missing key). */
const Present = Schema.Unknown.pipe(
  Schema.filter((value) => value !== undefined, { message: () => "is missing" })
)

const toolBase = {
  toolCallId: Schema.String,
  title: Schema.optional(Schema.String),
  providerExecuted: Schema.optional(Schema.Boolean),
  callProviderMetadata: Schema.optional(Schema.Unknown)
}

/** A tool part's states, each with the fields it must have. */
const toolStates = <T extends Schema.Schema.Any, F extends Schema.Struct.Fields>(type: T, extra: F) =>
  Schema.Union(
    Schema.Struct({
      type,
      ...extra,
      ...toolBase,
      state: Schema.Literal("input-streaming"),
      input: Schema.optional(Schema.Unknown)
    }),
    Schema.Struct({ type, ...extra, ...toolBase, state: Schema.Literal("input-available"), input: Present }),
    Schema.Struct({
      type,
      ...extra,
      ...toolBase,
      state: Schema.Literal("approval-requested"),
      input: Present,
      approval: ApprovalField
    }),
    Schema.Struct({
      type,
      ...extra,
      ...toolBase,
      state: Schema.Literal("approval-responded"),
      input: Present,
      approval: Schema.Struct({ id: Schema.String, approved: Schema.Boolean, reason: Schema.optional(Schema.String) })
    }),
    Schema.Struct({
      type,
      ...extra,
      ...toolBase,
      state: Schema.Literal("output-available"),
      input: Present,
      output: Present,
      preliminary: Schema.optional(Schema.Boolean),
      approval: Schema.optional(ApprovalField)
    }),
    Schema.Struct({
      type,
      ...extra,
      ...toolBase,
      state: Schema.Literal("output-error"),
      input: Schema.optional(Schema.Unknown),
      rawInput: Schema.optional(Schema.Unknown),
      errorText: Schema.String,
      approval: Schema.optional(ApprovalField)
    }),
    Schema.Struct({
      type,
      ...extra,
      ...toolBase,
      state: Schema.Literal("output-denied"),
      input: Present,
      approval: Schema.Struct({
        id: Schema.String,
        approved: Schema.Literal(false),
        reason: Schema.optional(Schema.String)
      })
    })
  )

/**
 * A tool part (`tool-<name>`), in one of its states.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolPart = toolStates(Schema.TemplateLiteral("tool-", Schema.String), {})

/**
 * A dynamic tool part (`dynamic-tool`, the tool's name in `toolName`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const DynamicToolPart = toolStates(Schema.Literal("dynamic-tool"), { toolName: Schema.String })

const knownPart = (type: string): boolean =>
  type === "text" || type === "reasoning" || type === "step-start" || type === "file" || type === "source-url" ||
  type === "source-document" || type === "dynamic-tool" || type.startsWith("data-") || type.startsWith("tool-")

/**
 * A part of a kind rath does not read (`custom`, `reasoning-file`, and kinds newer AI SDK versions
 * add): accepted, and not kept by an import of an assistant message. A part of a known kind must
 * match its schema.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OtherPart = Schema.Struct({
  type: Schema.String.pipe(Schema.filter((type) => !knownPart(type), { message: () => "an unknown part type" }))
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const UIMessagePart = Schema.Union(
  TextPart,
  ReasoningPart,
  StepStartPart,
  FilePart,
  SourcePart,
  DynamicToolPart,
  DataPart,
  ToolPart,
  OtherPart
)

/**
 * @since 0.1.0
 * @category models
 */
export type UIMessagePart = typeof UIMessagePart.Type

type KnownPart =
  | typeof TextPart.Type
  | typeof ReasoningPart.Type
  | typeof StepStartPart.Type
  | typeof FilePart.Type
  | typeof SourcePart.Type
  | typeof DynamicToolPart.Type
  | typeof DataPart.Type
  | typeof ToolPart.Type

const isKnown = (part: UIMessagePart): part is KnownPart => knownPart(part.type)

/**
 * The AI SDK's `UIMessage`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UIMessage = Schema.Struct({
  id: Schema.String,
  role: Schema.Literal("system", "user", "assistant"),
  metadata: Schema.optional(Schema.Unknown),
  parts: Schema.Array(UIMessagePart)
}).annotations({ identifier: "UIMessage" })

/**
 * @since 0.1.0
 * @category models
 */
export interface UIMessage extends Schema.Schema.Type<typeof UIMessage> {}

type ToolPartType = typeof ToolPart.Type | typeof DynamicToolPart.Type

/**
 * The `Custom` entry type that keeps an imported message's id (and its approvals' ids), so that
 * exporting the session gives the same ids back. No transcript includes it.
 *
 * @since 0.1.0
 * @category models
 */
export const MESSAGE_ENTRY = "rath.ui.message"

const MessageMark = Schema.Struct({
  id: Schema.String,
  approvals: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})

const decodeMessages = Schema.decodeUnknown(Schema.Array(UIMessage), { errors: "all", onExcessProperty: "ignore" })
const decodeMark = Schema.decodeUnknownOption(MessageMark)

const isToolPart = (part: UIMessagePart): part is ToolPartType =>
  part.type === "dynamic-tool" || (part.type.startsWith("tool-") && "toolCallId" in part)

const toolNameOf = (part: ToolPartType): string =>
  part.type === "dynamic-tool" ? (part as { readonly toolName: string }).toolName : part.type.slice("tool-".length)

/** The rath call of a tool part: the raw argument text rebuilt from its input. */
const callOf = (part: ToolPartType): Entry.ToolCall => {
  if (part.state === "output-error" && part.input === undefined && typeof part.rawInput === "string") {
    return { id: part.toolCallId, name: toolNameOf(part), arguments: part.rawInput }
  }
  const input = part.input === undefined ? {} : part.input
  return { id: part.toolCallId, name: toolNameOf(part), arguments: JSON.stringify(input), parsed: input }
}

/** The result a tool part records, if it has one. */
const resultOf = (part: ToolPartType, author: Entry.Author): Entry.Draft | undefined => {
  const base = { callId: part.toolCallId, toolName: toolNameOf(part), author }
  switch (part.state) {
    case "output-available": {
      const approval = part.approval?.approved === true
        ? {
          approval: {
            decision: "approved" as const,
            ...(part.approval.reason === undefined ? {} : { reason: part.approval.reason })
          }
        }
        : {}
      return Entry.toolResult({ ...base, output: part.output, ...approval })
    }
    case "output-error":
      return Entry.toolResult({ ...base, output: null, error: { kind: "tool_failed", message: part.errorText } })
    case "output-denied": {
      const reason = part.approval.reason ?? "denied"
      return Entry.toolResult({
        ...base,
        output: null,
        error: { kind: "rejected", message: reason },
        approval: { decision: "rejected", reason }
      })
    }
    default:
      return undefined
  }
}

/**
 * Imports UI messages into a new root session: system and user text, and each assistant message
 * as one `Assistant` entry per step (its reasoning, text and tool calls) followed by a `ToolResult`
 * for each call that has an output (`output-available`), an error (`output-error`, kind
 * `tool_failed`) or a denial (`output-denied`, kind `rejected`). Calls still waiting for input or
 * approval have no result. Data and source parts are not kept; a file part is `UnsupportedPart`.
 * Input that does not decode as `UIMessage[]` fails with `InvalidMessages`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toSession = (
  messages: unknown,
  options?: {
    /** The author of the assistant entries (default `{ kind: "agent", name: "assistant" }`). */
    readonly agent?: string | undefined
  }
): Effect.Effect<Session.Session, UiStreamError> =>
  Effect.flatMap(decode(messages), (decoded) => importMessages(decoded, options?.agent))

const decode = (messages: unknown): Effect.Effect<ReadonlyArray<UIMessage>, UiStreamError> =>
  decodeMessages(messages).pipe(
    Effect.mapError((cause) =>
      new UiStreamError({
        reason: "InvalidMessages",
        detail: ParseResult.TreeFormatter.formatErrorSync(cause),
        cause
      })
    )
  )

const importMessages = (
  decoded: ReadonlyArray<UIMessage>,
  agent: string | undefined
): Effect.Effect<Session.Session, UiStreamError> =>
  Effect.gen(function*() {
    const assistant: Entry.Author = { kind: "agent", name: agent ?? "assistant" }
    const drafts: Array<Entry.Draft> = []
    for (const [m, message] of decoded.entries()) {
      const approvals: Record<string, string> = {}
      for (const part of message.parts) {
        if (isToolPart(part) && "approval" in part && part.approval !== undefined) {
          approvals[part.toolCallId] = part.approval.id
        }
      }
      drafts.push(
        Entry.custom(
          MESSAGE_ENTRY,
          Object.keys(approvals).length === 0 ? { id: message.id } : { id: message.id, approvals },
          { author: Entry.programAuthor }
        )
      )
      if (message.role !== "assistant") {
        const texts: Array<string> = []
        for (const [p, part] of message.parts.entries()) {
          if (isKnown(part) && part.type === "text") texts.push(part.text)
          else if (!part.type.startsWith("data-") && !part.type.startsWith("source-")) {
            return yield* new UiStreamError({
              reason: "UnsupportedPart",
              detail: `message ${m} (${message.role}) part ${p}: a ${part.type} part in a ${message.role} message`
            })
          }
        }
        const text = texts.join("")
        drafts.push(
          message.role === "user"
            ? Entry.user(text, { author: Entry.userAuthor })
            : Entry.system(text, { author: Entry.userAuthor })
        )
        continue
      }
      // an assistant message: one step per `step-start` (or per text after a tool call)
      let step: { texts: Array<string>; reasoning: Array<string>; tools: Array<ToolPartType> } | undefined
      const flush = () => {
        if (step === undefined) return
        const reasoning = step.reasoning.join("")
        drafts.push(Entry.assistant({
          text: step.texts.join(""),
          ...(step.reasoning.length === 0 ? {} : { reasoning }),
          toolCalls: step.tools.map(callOf),
          author: assistant
        }))
        for (const part of step.tools) {
          const result = resultOf(part, assistant)
          if (result !== undefined) drafts.push(result)
        }
        step = undefined
      }
      const current = () => step ?? (step = { texts: [], reasoning: [], tools: [] })
      for (const [p, part] of message.parts.entries()) {
        if (!isKnown(part)) continue
        if (part.type === "step-start") {
          flush()
        } else if (part.type === "text" || part.type === "reasoning") {
          if (step !== undefined && step.tools.length > 0) flush()
          if (part.type === "text") current().texts.push(part.text)
          else current().reasoning.push(part.text)
        } else if (part.type === "file") {
          return yield* new UiStreamError({
            reason: "UnsupportedPart",
            detail: `message ${m} (assistant) part ${p}: a file part`
          })
        } else if (isToolPart(part)) {
          current().tools.push(part)
        }
      }
      flush()
    }
    const session = yield* Session.empty()
    return yield* Session.appendAll(session, drafts)
  })

type MutablePart = Record<string, unknown> & { type: string }

/**
 * Exports a session as UI messages: each `User` entry a user message; each run of `Assistant`
 * entries with their `ToolResult`s (up to the next user or system message) one assistant message,
 * a `step-start` per model call, then its reasoning, text and a `tool-<name>` part per call in the
 * state its result gives (`output-available`, `output-error`, `output-denied`, or `input-available`
 * when it has none). `System` entries written by agents (their instructions) are left out unless
 * `instructions` is set. Message ids are the ids an import kept, else the first entry's id.
 *
 * @since 0.1.0
 * @category getters
 */
export const fromSession = (
  session: Session.Session,
  options?: { readonly instructions?: boolean | undefined }
): Array<UIMessage> => {
  const out: Array<{ id: string; role: "system" | "user" | "assistant"; parts: Array<MutablePart> }> = []
  let mark: { readonly id: string; readonly approvals?: Readonly<Record<string, string>> | undefined } | undefined
  const approvals = new Map<string, string>()
  let parts: Map<string, MutablePart> = new Map()
  let open: (typeof out)[number] | undefined
  const idOf = (entry: Entry.Entry): string => {
    const id = mark?.id ?? entry.id
    mark = undefined
    return id
  }
  for (const entry of Session.entries(session)) {
    switch (entry._tag) {
      case "Custom": {
        if (entry.type !== MESSAGE_ENTRY) break
        const decoded = decodeMark(entry.data)
        if (decoded._tag === "Some") {
          mark = decoded.value
          for (const [callId, id] of Object.entries(decoded.value.approvals ?? {})) approvals.set(callId, id)
        }
        break
      }
      case "System":
      case "User": {
        if (entry._tag === "System" && entry.author.kind === "agent" && options?.instructions !== true) break
        open = undefined
        out.push({
          id: idOf(entry),
          role: entry._tag === "User" ? "user" : "system",
          parts: [{ type: "text", text: entry.text }]
        })
        break
      }
      case "Assistant": {
        if (open === undefined) {
          open = { id: idOf(entry), role: "assistant", parts: [] }
          parts = new Map()
          out.push(open)
        } else {
          mark = undefined
        }
        open.parts.push({ type: "step-start" })
        if (entry.reasoning !== undefined && entry.reasoning !== "") {
          open.parts.push({ type: "reasoning", text: entry.reasoning, state: "done" })
        }
        if (entry.text !== "") open.parts.push({ type: "text", text: entry.text, state: "done" })
        for (const call of entry.toolCalls) {
          const input = inputOf(call)
          const part: MutablePart = input.ok
            ? { type: `tool-${call.name}`, toolCallId: call.id, state: "input-available", input: input.input }
            : {
              type: `tool-${call.name}`,
              toolCallId: call.id,
              state: "output-error",
              rawInput: call.arguments,
              errorText: "the arguments are not valid JSON"
            }
          parts.set(call.id, part)
          open.parts.push(part)
        }
        break
      }
      case "ToolResult": {
        const part = parts.get(entry.callId)
        if (part === undefined) break
        const approval = entry.approval === undefined
          ? undefined
          : {
            id: approvals.get(entry.callId) ?? approvalIdOf(entry.callId),
            approved: entry.approval.decision !== "rejected",
            ...(entry.approval.reason === undefined ? {} : { reason: entry.approval.reason })
          }
        const input = part.state === "output-error" ? undefined : part.input
        const rawInput = part.rawInput
        for (const key of Object.keys(part)) if (key !== "type" && key !== "toolCallId") delete part[key]
        if (entry.error === undefined) {
          Object.assign(part, { state: "output-available", input, output: entry.output })
          if (approval !== undefined) part.approval = approval
        } else if (entry.error.kind === "rejected" && approval !== undefined && !approval.approved) {
          Object.assign(part, { state: "output-denied", input, approval })
        } else {
          Object.assign(part, {
            state: "output-error",
            ...(input === undefined ? { rawInput } : { input }),
            errorText: errorTextOf(entry.error)
          })
          if (approval !== undefined) part.approval = approval
        }
        break
      }
      default:
        break
    }
  }
  return out as unknown as Array<UIMessage>
}
