/**
 * Deterministic replay: a recorded session answers the model requests and the tool calls of a
 * re-run, so a workflow runs again offline, with no network and no sandbox, and the result is
 * compared with the recording entry by entry.
 *
 * - {@link layer} provides a `Provider` that answers each request with the next recorded
 *   assistant entry, after checking that the request is the one the recording answered (same
 *   request fingerprint: messages, tool schemas, tool choice), and a `Tool.Executor` that returns
 *   the recorded tool results without running anything.
 * - {@link verify} compares a re-run with the recording (ignoring ids and timestamps) and reports
 *   the first divergence: which entry, which field, expected and actual.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Agent from "./Agent.js"
import * as Entry from "./Entry.js"
import * as Provider from "./Provider.js"
import * as Session from "./Session.js"
import * as Tool from "./Tool.js"

/**
 * Where a re-run first differs from its recording.
 *
 * @since 0.1.0
 * @category models
 */
export interface Divergence {
  /** The position of the entry (or model call) that differs. */
  readonly index: number
  /** The entry tag, or `"request"` for a model request. */
  readonly kind: string
  /** The path of the differing field, e.g. `toolCalls[0].arguments`. */
  readonly field: string
  readonly expected: unknown
  readonly actual: unknown
}

/**
 * @since 0.1.0
 * @category errors
 */
export class ReplayError extends Schema.TaggedError<ReplayError>("rath/ReplayError")("ReplayError", {
  reason: Schema.Literal("Diverged"),
  index: Schema.Number,
  kind: Schema.String,
  field: Schema.String,
  expected: Schema.Unknown,
  actual: Schema.Unknown,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return describe(this)
  }
}

const show = (value: unknown): string => {
  const text = value === undefined ? "(absent)" : JSON.stringify(value) ?? String(value)
  return text.length > 200 ? `${text.slice(0, 200)}...` : text
}

/**
 * A readable one-paragraph report of a divergence.
 *
 * @since 0.1.0
 * @category getters
 */
export const describe = (divergence: Divergence): string =>
  `${
    divergence.kind === "request" ? "model request" : "entry"
  } #${divergence.index} (${divergence.kind}) differs at ${divergence.field}:\n  expected ${
    show(divergence.expected)
  }\n  actual   ${show(divergence.actual)}`

// -----------------------------------------------------------------------------
// comparison
// -----------------------------------------------------------------------------

const encodeEntry = Schema.encodeSync(Entry.Entry)

const firstDifference = (
  expected: unknown,
  actual: unknown,
  path: string
): Option.Option<readonly [string, unknown, unknown]> => {
  if (Object.is(expected, actual)) return Option.none()
  if (Array.isArray(expected) && Array.isArray(actual)) {
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
      const found = firstDifference(expected[i], actual[i], `${path}[${i}]`)
      if (Option.isSome(found)) return found
    }
    return Option.none()
  }
  if (
    typeof expected === "object" && expected !== null && typeof actual === "object" && actual !== null &&
    !Array.isArray(expected) && !Array.isArray(actual)
  ) {
    const e = expected as Record<string, unknown>
    const a = actual as Record<string, unknown>
    const keys = [...Object.keys(e), ...Object.keys(a).filter((key) => !(key in e))]
    for (const key of keys) {
      const found = firstDifference(e[key], a[key], path === "" ? key : `${path}.${key}`)
      if (Option.isSome(found)) return found
    }
    return Option.none()
  }
  return Option.some([path === "" ? "(value)" : path, expected, actual] as const)
}

/**
 * The first difference between a recording and a re-run, entry by entry. Ids and timestamps are
 * ignored; parent and covered entry ids are compared by position (the recorded id at position
 * `i` stands for the re-run's id at `i`); merged session ids are ignored. `ignore` names more
 * fields to skip (e.g. `durationMs` when comparing a live re-run).
 *
 * @since 0.1.0
 * @category combinators
 */
export const diff = (
  recorded: Session.Session,
  replayed: Session.Session,
  options?: { readonly ignore?: ReadonlyArray<string> | undefined }
): Option.Option<Divergence> => {
  const expected = Chunk.toReadonlyArray(Session.entries(recorded))
  const actual = Chunk.toReadonlyArray(Session.entries(replayed))
  const ignored = new Set(["id", "timestamp", ...(options?.ignore ?? [])])
  const idMap = new Map<string, string>()
  for (let i = 0; i < Math.min(expected.length, actual.length); i++) idMap.set(expected[i]!.id, actual[i]!.id)
  const normalise = (entry: Entry.Entry, mapIds: boolean): Record<string, unknown> => {
    const encoded = { ...(encodeEntry(entry) as Record<string, unknown>) }
    for (const key of ignored) delete encoded[key]
    if (entry._tag === "Merge") delete encoded.sessions
    const map = (ids: unknown) =>
      mapIds && Array.isArray(ids) ? ids.map((id: string) => idMap.get(id) ?? `(recorded ${id})`) : ids
    if ("parents" in encoded) encoded.parents = map(encoded.parents)
    if ("covers" in encoded) encoded.covers = map(encoded.covers)
    return encoded
  }
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = expected[i]
    const a = actual[i]
    if (e === undefined || a === undefined) {
      return Option.some({
        index: i,
        kind: (e ?? a)!._tag,
        field: "(entry)",
        expected: e === undefined ? undefined : Entry.summary(e),
        actual: a === undefined ? undefined : Entry.summary(a)
      })
    }
    const found = firstDifference(normalise(e, true), normalise(a, false), "")
    if (Option.isSome(found)) {
      const [field, exp, act] = found.value
      return Option.some({ index: i, kind: e._tag, field, expected: exp, actual: act })
    }
  }
  return Option.none()
}

/**
 * Fails with a `ReplayError` describing the first divergence, if any.
 *
 * @since 0.1.0
 * @category combinators
 */
export const verify = (
  recorded: Session.Session,
  replayed: Session.Session,
  options?: { readonly ignore?: ReadonlyArray<string> | undefined }
): Effect.Effect<void, ReplayError> =>
  Option.match(diff(recorded, replayed, options), {
    onNone: () => Effect.void,
    onSome: (divergence) => Effect.fail(new ReplayError({ reason: "Diverged", ...divergence }))
  })

// -----------------------------------------------------------------------------
// the replaying provider and executor
// -----------------------------------------------------------------------------

/**
 * A replayer over one recording, and how far the re-run has got.
 *
 * @since 0.1.0
 * @category models
 */
export interface Replayer {
  readonly provider: Provider.Service
  readonly executor: Tool.ExecutorService
  /** Model calls answered so far. */
  readonly modelCalls: Effect.Effect<number>
  /** Tool calls answered so far. */
  readonly toolCalls: Effect.Effect<number>
}

const messageKey = (message: Entry.Message): string => `${message._tag}: ${Entry.summary(message)}`

/**
 * A replayer over a recorded session.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (recorded: Session.Session): Effect.Effect<Replayer> =>
  Effect.sync(() => {
    // every recorded model call, with the session as it was just before the answer
    const calls: Array<{ readonly answer: Entry.Assistant; readonly before: Session.Session }> = []
    const results = new Map<string, Array<Entry.ToolResult>>()
    const nodes: Array<Session.Node> = []
    for (let node = recorded.node; node !== undefined; node = node.prev) nodes.push(node)
    nodes.reverse()
    nodes.forEach((node, i) => {
      const entry = node.entry
      if (entry._tag === "Assistant") {
        calls.push({
          answer: entry,
          before: Session.unsafeMake({
            id: recorded.id,
            lineage: recorded.lineage,
            placement: recorded.placement,
            base: 0,
            node: i === 0 ? undefined : nodes[i - 1]
          })
        })
      } else if (entry._tag === "ToolResult") {
        const list = results.get(entry.callId) ?? []
        list.push(entry)
        results.set(entry.callId, list)
      }
    })
    const first = calls[0]?.answer
    const info: Provider.Service["info"] = {
      kind: first?.provider?.kind ?? "replay",
      model: first?.model ?? "replay",
      ...(first?.provider?.host === undefined ? {} : { host: first.provider.host })
    }
    let modelCalls = 0
    let toolCalls = 0

    const diverged = (index: number, field: string, expected: unknown, actual: unknown) =>
      new Provider.ProviderError({
        reason: "ReplayDiverged",
        provider: "replay",
        detail: describe({ index, kind: "request", field, expected, actual })
      })

    const answer = (request: Provider.Request): Effect.Effect<Entry.Assistant, Provider.ProviderError> =>
      Effect.suspend(() => {
        const index = modelCalls
        const call = calls[index]
        if (call === undefined) {
          return Effect.fail(
            diverged(index, "(call)", `the recording has ${calls.length} model calls`, "one more model call")
          )
        }
        // what was sent: an agent's request is its own view of the transcript (Agent.messagesFor)
        const expectedMessages = call.answer.author.kind === "agent"
          ? Agent.messagesFor(call.answer.author.name, call.before)
          : Chunk.toReadonlyArray(Session.transcript(call.before))
        const recordedFingerprint = call.answer.requestFingerprint
        const matches = recordedFingerprint === undefined
          ? expectedMessages.length === request.messages.length &&
            expectedMessages.every((message, i) => messageKey(message) === messageKey(request.messages[i]!))
          : recordedFingerprint === Provider.fingerprint(request)
        if (!matches) {
          const expected = expectedMessages.map(messageKey)
          const actual = request.messages.map(messageKey)
          const at = expected.findIndex((key, i) => key !== actual[i])
          return Effect.fail(
            at === -1 && expected.length === actual.length
              ? diverged(index, "tools or options", recordedFingerprint, Provider.fingerprint(request))
              : diverged(
                index,
                `messages[${at === -1 ? expected.length : at}]`,
                expected[at === -1 ? expected.length : at],
                actual[at === -1 ? expected.length : at]
              )
          )
        }
        modelCalls++
        return Effect.succeed(call.answer)
      })

    const toParts = (entry: Entry.Assistant): ReadonlyArray<Provider.StreamPart> => {
      const parts: Array<Provider.StreamPart> = [
        { _tag: "Metadata", model: entry.model, requestId: entry.provider?.requestId }
      ]
      if (entry.reasoning !== undefined) parts.push({ _tag: "ReasoningDelta", text: entry.reasoning })
      if (entry.text !== "") parts.push({ _tag: "TextDelta", text: entry.text })
      entry.toolCalls.forEach((call, index) => {
        parts.push({ _tag: "ToolCallStart", index, id: call.id, name: call.name })
        parts.push({ _tag: "ToolCallDelta", index, argumentsDelta: call.arguments })
      })
      if (entry.usage !== undefined) parts.push({ _tag: "Usage", usage: entry.usage })
      parts.push({
        _tag: "Finish",
        finishReason: entry.finishReason ?? (entry.toolCalls.length > 0 ? "tool_calls" : "stop"),
        provider: entry.provider ?? { kind: "replay" }
      })
      return parts
    }

    const provider = Provider.make({
      info,
      stream: (request) => Stream.unwrap(Effect.map(answer(request), (entry) => Stream.fromIterable(toParts(entry))))
    })

    const executor: Tool.ExecutorService = {
      execute: (_toolkit, call) =>
        Effect.sync((): Tool.Outcome => {
          const recordedResult = results.get(call.id)?.shift()
          if (recordedResult === undefined || recordedResult.toolName !== call.name) {
            return {
              callId: call.id,
              toolName: call.name,
              output: null,
              error: {
                kind: "not_replayable",
                message: `the recording has no result for call ${call.id} to ${call.name}`
              },
              durationMs: 0,
              effects: []
            }
          }
          toolCalls++
          return {
            callId: call.id,
            toolName: call.name,
            output: recordedResult.output,
            ...(recordedResult.error === undefined ? {} : { error: recordedResult.error }),
            durationMs: recordedResult.durationMs,
            effects: recordedResult.effects ?? [],
            ...(recordedResult.sandbox === undefined ? {} : { sandbox: recordedResult.sandbox })
          }
        })
    }

    return {
      provider,
      executor,
      modelCalls: Effect.sync(() => modelCalls),
      toolCalls: Effect.sync(() => toolCalls)
    }
  })

/**
 * A layer that replays a recording: it provides the `Provider` and the `Tool.Executor`.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Replay, Session } from "rath"
 *
 * declare const recorded: Session.Session
 * declare const workflow: (s: Session.Session) => Effect.Effect<Session.Session>
 *
 * const check = Effect.gen(function*() {
 *   const input = yield* Session.fromUserMessage("What is 2 + 2?")
 *   const replayed = yield* workflow(input)
 *   yield* Replay.verify(recorded, replayed)
 * }).pipe(Effect.provide(Replay.layer(recorded)))
 * ```
 */
export const layer = (recorded: Session.Session): Layer.Layer<Provider.Provider> =>
  Layer.effectContext(
    Effect.map(make(recorded), (replayer) =>
      Context.make(Provider.Provider, replayer.provider).pipe(Context.add(Tool.Executor, replayer.executor)))
  )
