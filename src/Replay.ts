/**
 * Deterministic replay: a recorded session answers the model requests and the tool calls of a
 * re-run, so a workflow runs again offline, with no network and no sandbox, and the result is
 * compared with the recording entry by entry.
 *
 * - {@link layer} provides a `Provider` that answers each request with the recorded assistant
 *   entry whose request had the same fingerprint (messages, tool schemas, tool choice, response
 *   format), whatever order the requests arrive in (the branches of a `Workflow.parallel`
 *   interleave), and a `Tool.Executor` that returns the recorded tool results without running
 *   anything.
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

const link = (prev: Session.Node | undefined, entry: Entry.Entry): Session.Node => ({
  entry,
  prev,
  length: prev === undefined ? 1 : prev.length + 1,
  usage: Entry.sumUsage(prev?.usage, Entry.usageOf(entry))
})

/** The entries of a chain newer than `stopAt` (a length), oldest first. */
const newerThan = (node: Session.Node | undefined, stopAt: number): Array<Entry.Entry> => {
  const out: Array<Entry.Entry> = []
  for (; node !== undefined && node.length > stopAt; node = node.prev) out.push(node.entry)
  return out.reverse()
}

/** Whether two chains hold the same entries in the same order (they usually share a tail). */
const sameChain = (a: Session.Node | undefined, b: Session.Node | undefined): boolean => {
  if (a?.length !== b?.length) return false
  while (a !== b) {
    if (a === undefined || b === undefined || a.entry.id !== b.entry.id) return false
    a = a.prev
    b = b.prev
  }
  return true
}

/**
 * For every entry of a recording, the history its author saw when it appended it: the chain
 * that ends at its parent, then the entry. A merged recording lays its branches one after the
 * other (the fork point, branch one's entries, branch two's, the `Merge`), so an entry of the
 * second branch was not appended after the first branch's entries although it follows them in
 * the recording; its history is rebuilt from its `parents` (a `Merge` entry's history is the
 * merge of its parents' histories, as `Session.merge` lays it out).
 */
const histories = (recorded: Session.Session): Map<string, Session.Node> => {
  const nodes: Array<Session.Node> = []
  for (let node = recorded.node; node !== undefined; node = node.prev) nodes.push(node)
  nodes.reverse()
  const chains = new Map<string, Session.Node>()
  const asSession = (node: Session.Node) =>
    Session.unsafeMake({ id: recorded.id, lineage: recorded.lineage, placement: recorded.placement, base: 0, node })
  for (const node of nodes) {
    const entry = node.entry
    let prev: Session.Node | undefined = node.prev
    if (entry._tag === "Merge" && entry.parents.length === 2) {
      const self = chains.get(entry.parents[0]!)
      const that = chains.get(entry.parents[1]!)
      if (self !== undefined && that !== undefined) {
        const common = Session.commonAncestor(asSession(self), asSession(that))
        prev = self
        for (const own of newerThan(that, common === undefined ? 0 : common.length)) prev = link(prev, own)
      }
    } else if (entry.parents.length === 0) {
      prev = undefined
    } else {
      prev = chains.get(entry.parents[0]!) ?? node.prev
    }
    // most entries were appended right after the entry before them: keep the recording's node
    chains.set(entry.id, prev === node.prev || sameChain(prev, node.prev) ? node : link(prev, entry))
  }
  return chains
}

interface RecordedCall {
  /** The position of the call among the recording's model calls. */
  readonly index: number
  /** The position of the answer among the recording's entries. */
  readonly position: number
  readonly answer: Entry.Assistant
  /** The history the request was made from (everything before the answer, on its branch). */
  readonly before: Session.Session
  used: boolean
}

/**
 * A replayer over a recorded session.
 *
 * Requests are matched to the recorded calls by what they ask, not by the order they arrive
 * in: each recorded answer carries the fingerprint of the request it answered
 * (`Provider.fingerprint`: messages, tool schemas, tool choice, response format), and a request
 * gets the first unused recorded answer with its fingerprint. The branches of a
 * `Workflow.parallel` therefore replay whatever way their fibers interleave, since each branch's
 * requests hold that branch's own history. A request that matches no recorded call fails with a
 * `ProviderError` of reason `ReplayDiverged` that compares it with the nearest recorded request
 * (the longest common prefix of messages) and names the first differing message, tool or option.
 * Tool results are matched to the recorded answer that asked for them, then by call id.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (recorded: Session.Session): Effect.Effect<Replayer> =>
  Effect.sync(() => {
    const chains = histories(recorded)
    const calls: Array<RecordedCall> = []
    const byFingerprint = new Map<string, Array<RecordedCall>>()
    // a recorded answer's results, by call id (the answer is found from a result's parents)
    const resultsOf = new Map<string, Map<string, Array<Entry.ToolResult>>>()
    // results whose answer cannot be found (a hand-made recording), by call id
    const orphans = new Map<string, Array<Entry.ToolResult>>()
    const byId = new Map<string, Entry.Entry>()
    let position = 0
    for (let node: Session.Node | undefined = recorded.node; node !== undefined; node = node.prev) {
      byId.set(node.entry.id, node.entry)
    }
    const issuer = (result: Entry.ToolResult): Entry.Assistant | undefined => {
      let entry: Entry.Entry | undefined = result
      for (let steps = 0; entry !== undefined && steps < 10_000; steps++) {
        if (entry._tag === "Assistant" && entry.toolCalls.some((call) => call.id === result.callId)) return entry
        entry = entry.parents.length === 0 ? undefined : byId.get(entry.parents[0]!)
      }
      return undefined
    }
    for (const entry of Session.entries(recorded)) {
      if (entry._tag === "Assistant") {
        const node = chains.get(entry.id)!
        const call: RecordedCall = {
          index: calls.length,
          position,
          answer: entry,
          before: Session.unsafeMake({
            id: recorded.id,
            lineage: recorded.lineage,
            placement: recorded.placement,
            base: 0,
            node: node.prev
          }),
          used: false
        }
        calls.push(call)
        if (entry.requestFingerprint !== undefined) {
          const queue = byFingerprint.get(entry.requestFingerprint) ?? []
          queue.push(call)
          byFingerprint.set(entry.requestFingerprint, queue)
        }
      } else if (entry._tag === "ToolResult") {
        const answer = issuer(entry)
        const table = answer === undefined ? orphans : resultsOf.get(answer.id) ?? new Map()
        if (answer !== undefined) resultsOf.set(answer.id, table)
        const list = table.get(entry.callId) ?? []
        list.push(entry)
        table.set(entry.callId, list)
      }
      position++
    }
    // the recorded answers handed out, by the fingerprint of the request they answered
    const handedOut = new Map<string, Array<Entry.Assistant>>()
    // every recorded answer handed out, in the order the re-run asked
    const answered: Array<Entry.Assistant> = []

    const first = calls[0]?.answer
    const info: Provider.Service["info"] = {
      kind: first?.provider?.kind ?? "replay",
      model: first?.model ?? "replay",
      ...(first?.provider?.host === undefined ? {} : { host: first.provider.host })
    }
    let modelCalls = 0
    let toolCalls = 0

    // what the recorded call sent: an agent's request is its own view of the transcript
    const expectedMessages = (call: RecordedCall): ReadonlyArray<Entry.Message> =>
      call.answer.author.kind === "agent"
        ? Agent.messagesFor(call.answer.author.name, call.before)
        : Chunk.toReadonlyArray(Session.transcript(call.before))

    // the tools the recorded call offered, from its agent's latest spec on its branch
    const recordedTools = (call: RecordedCall): ReadonlyArray<Provider.ToolDefinition> | undefined => {
      for (let node = call.before.node; node !== undefined; node = node.prev) {
        const entry = node.entry
        if (
          entry._tag === "Custom" && entry.type === Agent.SPEC_ENTRY && entry.author.name === call.answer.author.name
        ) {
          return (entry.data as Agent.Spec).tools
        }
      }
      return undefined
    }

    const diverged = (index: number, field: string, expected: unknown, actual: unknown, call?: RecordedCall) =>
      new Provider.ProviderError({
        reason: "ReplayDiverged",
        provider: "replay",
        detail: describe({ index, kind: "request", field, expected, actual }) + (call === undefined
          ? ""
          : `\n  (nearest recorded request: model call #${call.index}, answered by entry #${call.position}, ${call.answer.author.kind} ${
            JSON.stringify(call.answer.author.name)
          })`)
      })

    const commonPrefix = (expected: ReadonlyArray<string>, actual: ReadonlyArray<string>): number => {
      let at = 0
      while (at < expected.length && at < actual.length && expected[at] === actual[at]) at++
      return at
    }

    const mismatch = (index: number, request: Provider.Request): Provider.ProviderError => {
      const open = calls.filter((call) => !call.used)
      if (open.length === 0) {
        return diverged(index, "(call)", `the recording has ${calls.length} model calls`, "one more model call")
      }
      // the nearest recorded request: the longest run of equal messages from the start, then the
      // most equal messages in place, then the longest equal start of the first differing message
      const actual = request.messages.map(messageKey)
      const score = (expected: ReadonlyArray<string>): readonly [number, number, number] => {
        const prefix = commonPrefix(expected, actual)
        const inPlace = expected.filter((key, i) => key === actual[i]).length
        const a = expected[prefix] ?? ""
        const b = actual[prefix] ?? ""
        let chars = 0
        while (chars < a.length && chars < b.length && a[chars] === b[chars]) chars++
        return [prefix, inPlace, chars]
      }
      const better = (x: readonly [number, number, number], y: readonly [number, number, number]) =>
        x[0] !== y[0] ? x[0] > y[0] : x[1] !== y[1] ? x[1] > y[1] : x[2] > y[2]
      let nearest = open[0]!
      let nearestExpected = expectedMessages(nearest).map(messageKey)
      let nearestScore = score(nearestExpected)
      for (const call of open.slice(1)) {
        const expected = expectedMessages(call).map(messageKey)
        const candidate = score(expected)
        if (better(candidate, nearestScore)) {
          nearest = call
          nearestExpected = expected
          nearestScore = candidate
        }
      }
      const nearestPrefix = nearestScore[0]
      if (nearestPrefix < nearestExpected.length || nearestPrefix < actual.length) {
        return diverged(
          index,
          `messages[${nearestPrefix}]`,
          nearestExpected[nearestPrefix],
          actual[nearestPrefix],
          nearest
        )
      }
      // the same messages: the tools differ, or an option the fingerprint covers
      const tools = recordedTools(nearest)
      const toolDifference = tools === undefined
        ? Option.none()
        : firstDifference(tools, request.tools ?? [], "tools")
      if (Option.isSome(toolDifference)) {
        const [field, expected, actualValue] = toolDifference.value
        return diverged(index, field, expected, actualValue, nearest)
      }
      return diverged(
        index,
        "tool choice or response format",
        `request fingerprint ${nearest.answer.requestFingerprint}`,
        `request fingerprint ${Provider.fingerprint(request)} (toolChoice ${
          JSON.stringify(request.toolChoice ?? "auto")
        }, responseFormat ${JSON.stringify(request.responseFormat ?? null)})`,
        nearest
      )
    }

    const answer = (request: Provider.Request): Effect.Effect<Entry.Assistant, Provider.ProviderError> =>
      Effect.suspend(() => {
        const index = modelCalls
        const fingerprint = Provider.fingerprint(request)
        let call = byFingerprint.get(fingerprint)?.find((candidate) => !candidate.used)
        if (call === undefined) {
          // an answer recorded without its request's fingerprint: compare the messages
          const actual = request.messages.map(messageKey)
          call = calls.find((candidate) => {
            if (candidate.used || candidate.answer.requestFingerprint !== undefined) return false
            const expected = expectedMessages(candidate).map(messageKey)
            return expected.length === actual.length && commonPrefix(expected, actual) === actual.length
          })
        }
        if (call === undefined) return Effect.fail(mismatch(index, request))
        call.used = true
        modelCalls++
        const list = handedOut.get(fingerprint) ?? []
        list.push(call.answer)
        handedOut.set(fingerprint, list)
        answered.push(call.answer)
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
        provider: entry.provider ?? { kind: "replay" },
        ...(entry.missing === undefined ? {} : { missing: entry.missing })
      })
      return parts
    }

    const provider = Provider.make({
      info,
      stream: (request) => Stream.unwrap(Effect.map(answer(request), (entry) => Stream.fromIterable(toParts(entry))))
    })

    // the recorded result of a call: from the recorded answer that asked for it (the re-run's
    // answer that issued the call carries the fingerprint of its request, which names the
    // recorded answers it may stand for), so that two branches that reuse call ids stay apart
    const recordedResult = (call: Entry.ToolCall, session: Session.Session): Entry.ToolResult | undefined => {
      let issued: Entry.Assistant | undefined
      for (let node = session.node; node !== undefined; node = node.prev) {
        if (node.entry._tag === "Assistant") {
          issued = node.entry
          break
        }
      }
      const fingerprint = issued?.toolCalls.some((c) => c.id === call.id) === true
        ? issued.requestFingerprint
        : undefined
      const candidates = fingerprint === undefined ? answered : handedOut.get(fingerprint) ?? []
      for (const candidate of candidates) {
        if (!candidate.toolCalls.some((c) => c.id === call.id && c.name === call.name)) continue
        const found = resultsOf.get(candidate.id)?.get(call.id)?.shift()
        if (found !== undefined) return found
      }
      const orphan = orphans.get(call.id)
      return orphan?.[0]?.toolName === call.name ? orphan.shift() : undefined
    }

    const executor: Tool.ExecutorService = {
      execute: (_toolkit, call, options) =>
        Effect.sync((): Tool.Outcome => {
          const found = recordedResult(call, options.session)
          if (found === undefined) {
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
            output: found.output,
            ...(found.error === undefined ? {} : { error: found.error }),
            durationMs: found.durationMs,
            effects: found.effects ?? [],
            ...(found.sandbox === undefined ? {} : { sandbox: found.sandbox })
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
