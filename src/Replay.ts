/**
 * Deterministic replay: a recorded session answers the model calls, the tool calls and the memory
 * operations of a re-run, so a whole workflow (agents, selector loops, compressors, memory agents,
 * fork-joins, approvals, retries) runs again offline, with no provider request, no tool run and no
 * memory read, and the result is compared with the recording entry by entry.
 *
 * - {@link layer} provides a `Sandbox` that binds placements and opens none, and a `Provider` that answers each request with the recorded call whose
 *   request had the same fingerprint (every message, the tools, the model asked for and every
 *   option), whatever order the requests arrive in (the branches of a `Workflow.parallel`
 *   interleave); a `Tool.Executor` that returns the recorded tool results (approval decisions
 *   included) without running or asking anything; and a `Memory` that answers recalls, remembers,
 *   commits and forgets from the recorded `Memory` entries without touching a store. A replay
 *   needs no memory layer at all.
 * - What a recording hands back as it was recorded (a model's answer, a tool's result, a recall's
 *   hits) is checked against the seal taken when it was recorded: an edited recording is named at
 *   the entry and field that was edited.
 * - {@link verify} compares a re-run with the recording (ignoring ids, timestamps and latencies)
 *   and reports the first divergence: which entry, which field, expected and actual.
 * - {@link run} does it all: replays a step on an input and fails with the first divergence.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Entry from "./Entry.js"
import * as IdGenerator from "./IdGenerator.js"
import * as Seal from "./internal/seal.js"
import * as Memory from "./Memory.js"
import * as Model from "./Model.js"
import * as Placement from "./Placement.js"
import * as Provider from "./Provider.js"
import * as Run from "./Run.js"
import * as Sandbox from "./Sandbox.js"
import * as Session from "./Session.js"
import * as Tool from "./Tool.js"

/**
 * Where a re-run first differs from its recording.
 *
 * @since 0.1.0
 * @category models
 */
export interface Divergence {
  /**
   * The position of the recording's entry that differs, in the recorded session that holds it (or,
   * for a request the recording does not have, that session's length).
   */
  readonly index: number
  /** The recorded session that holds it, when the recording is several sessions. */
  readonly session?: string | undefined
  /** The entry's tag, or `"request"` for a model request with no recorded counterpart. */
  readonly kind: string
  /** The path of the differing field, e.g. `toolCalls[0].arguments`, `hits[0].text`. */
  readonly field: string
  readonly expected: unknown
  readonly actual: unknown
  /** Where the re-run was when it noticed (a model request, a tool call, a recall), if it was running. */
  readonly context?: string | undefined
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
  session: Schema.optional(Schema.String),
  context: Schema.optional(Schema.String),
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
  `${divergence.kind === "request" ? "model request" : "entry"} #${divergence.index} (${divergence.kind})` +
  `${divergence.session === undefined ? "" : ` of ${divergence.session}`} ` +
  `differs at ${divergence.field}:\n  expected ${show(divergence.expected)}\n  actual   ${show(divergence.actual)}` +
  (divergence.context === undefined ? "" : `\n  (${divergence.context})`)

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
    const e = expected as { readonly [key: string]: unknown }
    const a = actual as { readonly [key: string]: unknown }
    const keys = [...Object.keys(e), ...Object.keys(a).filter((key) => !(key in e))]
    for (const key of keys) {
      const found = firstDifference(e[key], a[key], path === "" ? key : `${path}.${key}`)
      if (Option.isSome(found)) return found
    }
    return Option.none()
  }
  return Option.some([path === "" ? "(value)" : path, expected, actual] as const)
}

/** A divergence for an entry whose seal is broken: the field, what was sealed, what it holds. */
const sealDivergence = (
  where: number | { readonly index: number; readonly session?: string },
  entry: Entry.Entry,
  broken: Seal.Broken,
  context?: string
): Divergence => ({
  ...(typeof where === "number" ? { index: where } : where),
  kind: entry._tag,
  field: broken.field,
  expected: broken.sealed === undefined ? "(absent when recorded)" : `(the recorded content, sealed ${broken.sealed})`,
  actual: broken.value,
  ...(context === undefined ? {} : { context })
})

/** Fields that differ between any two runs (when, how long) and are not compared. */
const VOLATILE = ["id", "timestamp", "latencyMs"]

/**
 * The first difference between a recording and a re-run, entry by entry, or the first entry of the
 * recording whose seal is broken (an edited recording), whichever comes first. Ids, timestamps and
 * latencies are ignored; entry ids inside entries (parents, covered entries, the call a decision or
 * a summary came from) are compared by position (the recorded id at position `i` stands for the
 * re-run's id at `i`); merged session ids are ignored. `ignore` names more fields to skip (e.g.
 * `durationMs` when comparing a live re-run).
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
  const ignored = new Set([...VOLATILE, ...(options?.ignore ?? [])])
  const idMap = new Map<string, string>()
  for (let i = 0; i < Math.min(expected.length, actual.length); i++) idMap.set(expected[i]!.id, actual[i]!.id)
  const recordedIds = new Set<string>(expected.map((entry) => entry.id))
  const mapIds = (value: unknown): unknown => {
    if (typeof value === "string") return recordedIds.has(value) ? idMap.get(value) ?? `(recorded ${value})` : value
    if (Array.isArray(value)) return value.map(mapIds)
    if (typeof value === "object" && value !== null) {
      const out: Record<string, unknown> = {}
      for (const [key, inner] of Object.entries(value)) out[key] = mapIds(inner)
      return out
    }
    return value
  }
  const normalise = (entry: Entry.Entry, fromRecording: boolean): unknown => {
    const encoded = { ...(encodeEntry(entry) as Record<string, unknown>) }
    for (const key of ignored) delete encoded[key]
    if (entry._tag === "Merge") delete encoded.sessions
    return fromRecording ? mapIds(encoded) : encoded
  }
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = expected[i]
    const a = actual[i]
    if (e !== undefined) {
      const broken = Seal.check(e)
      if (Option.isSome(broken)) return Option.some(sealDivergence(i, e, broken.value))
    }
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
 * Fails with a `ReplayError` describing the first divergence, if any (see {@link diff}).
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
    onSome: (divergence) => Effect.fail(toError(divergence))
  })

const toError = (divergence: Divergence): ReplayError =>
  new ReplayError({
    reason: "Diverged",
    index: divergence.index,
    kind: divergence.kind,
    field: divergence.field,
    expected: divergence.expected,
    actual: divergence.actual,
    ...(divergence.session === undefined ? {} : { session: divergence.session }),
    ...(divergence.context === undefined ? {} : { context: divergence.context })
  })

// -----------------------------------------------------------------------------
// the replayer
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
  readonly memory: Memory.Service
  /** Model calls answered so far. */
  readonly modelCalls: Effect.Effect<number>
  /** Tool calls answered so far. */
  readonly toolCalls: Effect.Effect<number>
  /** Memory operations answered so far. */
  readonly memoryCalls: Effect.Effect<number>
  /** The first divergence noticed while answering the re-run, if any. */
  readonly divergence: Effect.Effect<Option.Option<Divergence>>
  /**
   * Everything a re-run needs, as a layer (what {@link layer} provides, with these counters): the
   * provider, the tool executor, the memory, and a `Sandbox` that binds placements (data only, as
   * the recording did) and opens none.
   */
  readonly layer: Layer.Layer<Provider.Provider | Memory.Memory | Sandbox.Sandbox>
}

interface RecordedCall {
  /** The position of the call among the recording's model calls. */
  readonly index: number
  /** The recorded session that holds it, and the position of its entry there. */
  readonly session: Session.Session
  readonly position: number
  readonly entry: Entry.Assistant | Entry.ModelCall
  /** The request it sent, rebuilt from its own history. */
  readonly request: Provider.Request
  used: boolean
}

interface RecordedMemory {
  readonly place: Place
  readonly position: number
  readonly entry: Entry.Memory
  used: boolean
}

/** Where an entry of a recording is: its recorded session and its position there. */
interface Place {
  readonly session: Session.Session
  readonly index: number
}

const messageKey = (message: Provider.Message): string => {
  switch (message._tag) {
    case "System":
    case "User":
      return `${message._tag}: ${message.text}`
    case "Assistant":
      return `Assistant: ${message.text}${
        message.toolCalls.map((call) => ` calls ${call.name}(${call.arguments})`).join(",")
      }`
    case "ToolResult":
      return `ToolResult: ${message.toolName} -> ${Provider.toolResultText(message)}`
  }
}

const messageContent = (message: Provider.Message): unknown => {
  switch (message._tag) {
    case "System":
    case "User":
      return { text: message.text }
    case "Assistant":
      return {
        text: message.text,
        ...(message.reasoning === undefined ? {} : { reasoning: message.reasoning }),
        toolCalls: message.toolCalls.map((call) => ({ id: call.id, name: call.name, arguments: call.arguments })),
        ...(message.metadata === undefined ? {} : { metadata: message.metadata })
      }
    case "ToolResult":
      return { callId: message.callId, toolName: message.toolName, output: message.output, error: message.error }
  }
}

/**
 * A replayer over a recording: one session, or several (a run that leaves more than its result:
 * forks that were not merged, say), whose entries are taken once each (sessions share history).
 *
 * Requests are matched to the recorded calls by what they ask, not by the order they arrive in:
 * each recorded call carries the fingerprint of the request it sent (`Provider.fingerprint`), and
 * a request gets the first unused recorded call with its fingerprint. A request that matches none
 * fails with a `ProviderError` of reason `ReplayDiverged` (its `cause` is the `ReplayError`) that
 * compares it with the nearest recorded request, rebuilt from that call's own history, and names
 * the first differing entry of the recording and its field (a message, the agent's tools in its
 * spec, an option). Tool results are matched to the recorded answer that asked for them, then by
 * call id; memory operations by operation, namespace and query, in the order recorded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (recorded: Session.Session | ReadonlyArray<Session.Session>): Effect.Effect<Replayer> =>
  Effect.gen(function*() {
    const sessions = Session.isSession(recorded) ? [recorded] : recorded
    const primary = sessions[0]
    // every entry of the recording once (sessions share history), oldest first, and where it is
    const entries: Array<Entry.Entry> = []
    const places = new Map<unknown, Place>()
    const byId = new Map<string, Entry.Entry>()
    for (const session of sessions) {
      Chunk.toReadonlyArray(Session.entries(session)).forEach((entry, index) => {
        if (byId.has(entry.id)) return
        byId.set(entry.id, entry)
        entries.push(entry)
        places.set(entry, { session, index })
      })
    }
    const several = sessions.length > 1
    const at = (place: Place): { readonly index: number; readonly session?: string } =>
      several ? { index: place.index, session: place.session.id } : { index: place.index }
    const end = (): { readonly index: number; readonly session?: string } =>
      primary === undefined ? { index: 0 } : at({ session: primary, index: primary.length })
    const calls: Array<RecordedCall> = []
    const seenCalls = new Set<string>()
    for (const session of sessions) {
      for (const call of Model.calls(session)) {
        if (seenCalls.has(call.entry.id)) continue
        seenCalls.add(call.entry.id)
        calls.push({
          index: calls.length,
          session,
          position: call.index,
          entry: call.entry,
          request: call.request,
          used: false
        })
      }
    }
    const byFingerprint = new Map<string, Array<RecordedCall>>()
    for (const call of calls) {
      const fingerprint = call.entry.requestFingerprint
      if (fingerprint === undefined || !Provider.isCurrentFingerprint(fingerprint)) continue
      const queue = byFingerprint.get(fingerprint) ?? []
      queue.push(call)
      byFingerprint.set(fingerprint, queue)
    }
    // a recorded answer's results, by call id (the answer is found from a result's parents)
    const resultsOf = new Map<string, Map<string, Array<Entry.ToolResult>>>()
    // results whose answer cannot be found (a hand-made recording), by call id
    const orphans = new Map<string, Array<Entry.ToolResult>>()
    const issuer = (result: Entry.ToolResult): Entry.Assistant | undefined => {
      let entry: Entry.Entry | undefined = result
      for (let steps = 0; entry !== undefined && steps < 10_000; steps++) {
        if (entry._tag === "Assistant" && entry.toolCalls.some((call) => call.id === result.callId)) return entry
        entry = entry.parents.length === 0 ? undefined : byId.get(entry.parents[0]!)
      }
      return undefined
    }
    const memories: Array<RecordedMemory> = []
    for (const entry of entries) {
      if (entry._tag === "ToolResult") {
        const answer = issuer(entry)
        const table = answer === undefined ? orphans : resultsOf.get(answer.id) ?? new Map()
        if (answer !== undefined) resultsOf.set(answer.id, table)
        const list = table.get(entry.callId) ?? []
        list.push(entry)
        table.set(entry.callId, list)
      } else if (entry._tag === "Memory") {
        const place = places.get(entry)!
        memories.push({ place, position: place.index, entry, used: false })
      }
    }
    // the recorded answers handed out, by the fingerprint of the request they answered
    const handedOut = new Map<string, Array<Entry.Assistant | Entry.ModelCall>>()
    // every recorded answer handed out, in the order the re-run asked
    const answered: Array<Entry.Assistant | Entry.ModelCall> = []
    const counters = yield* Ref.make({ model: 0, tool: 0, memory: 0 })
    const first = yield* Ref.make(Option.none<Divergence>())
    /** Notes a divergence (the first one is kept) and returns the first one. */
    const noted = (divergence: Divergence) =>
      Ref.modify(first, (current) => {
        const kept = Option.getOrElse(current, () => divergence)
        return [kept, Option.some(kept)] as const
      })

    const firstCall = calls[0]?.entry
    const info: Provider.Service["info"] = {
      kind: firstCall?.provider?.kind ?? "replay",
      model: firstCall?.requestedModel ?? firstCall?.model ?? "replay",
      ...(firstCall?.provider?.host === undefined ? {} : { host: firstCall.provider.host })
    }

    // -------------------------------------------------------------------------
    // model calls
    // -------------------------------------------------------------------------

    const providerError = (divergence: Divergence) =>
      new Provider.ProviderError({
        reason: "ReplayDiverged",
        provider: "replay",
        detail: describe(divergence),
        cause: toError(divergence)
      })

    const commonPrefix = (expected: ReadonlyArray<string>, actual: ReadonlyArray<string>): number => {
      let at = 0
      while (at < expected.length && at < actual.length && expected[at] === actual[at]) at++
      return at
    }

    /** The divergence a request that matches no recorded call shows against the nearest one. */
    const mismatch = (index: number, request: Provider.Request): Divergence => {
      const context = `model request #${index} of the re-run`
      const open = calls.filter((call) => !call.used)
      if (open.length === 0) {
        return {
          ...end(),
          kind: "request",
          field: "(call)",
          expected: `the recording has ${calls.length} model calls`,
          actual: "one more model call",
          context
        }
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
      let nearestScore = score(nearest.request.messages.map(messageKey))
      for (const call of open.slice(1)) {
        const candidate = score(call.request.messages.map(messageKey))
        if (better(candidate, nearestScore)) {
          nearest = call
          nearestScore = candidate
        }
      }
      const about =
        `${context}; the nearest recorded call is entry #${nearest.position}, by ${nearest.entry.author.kind} ${
          JSON.stringify(nearest.entry.author.name)
        }`
      const expectedMessages = nearest.request.messages
      const prefix = nearestScore[0]
      if (prefix < expectedMessages.length || prefix < request.messages.length) {
        const expected = expectedMessages[prefix]
        const got = request.messages[prefix]
        const place = expected === undefined ? undefined : places.get(expected)
        if (expected !== undefined && got !== undefined && place !== undefined) {
          // the message is an entry of the recording: name the entry and its field
          const found = firstDifference(
            { _tag: expected._tag, ...messageContent(expected) as object },
            { _tag: got._tag, ...messageContent(got) as object },
            ""
          )
          const [field, e, a] = Option.getOrElse(found, () => ["(entry)", expected, got] as const)
          return { ...at(place), kind: (expected as Entry.Entry)._tag, field, expected: e, actual: a, context: about }
        }
        return {
          ...at({ session: nearest.session, index: nearest.position }),
          kind: nearest.entry._tag,
          field: `request.messages[${prefix}]`,
          expected: expected === undefined ? undefined : messageKey(expected),
          actual: got === undefined ? undefined : messageKey(got),
          context: about
        }
      }
      // the same messages: the tools differ, or the model or an option
      const toolDifference = firstDifference(nearest.request.tools ?? [], request.tools ?? [], "tools")
      if (Option.isSome(toolDifference)) {
        const [field, e, a] = toolDifference.value
        const spec = nearest.entry.tools === undefined ? specEntryOf(nearest) : undefined
        return spec === undefined
          ? { ...callAt(nearest), kind: nearest.entry._tag, field, expected: e, actual: a, context: about }
          : {
            ...at({ session: nearest.session, index: spec }),
            kind: "Custom",
            field: `data.${field}`,
            expected: e,
            actual: a,
            context: about
          }
      }
      const { messages: _m, tools: _t, ...expectedOptions } = nearest.request
      const { messages: _n, tools: _u, ...actualOptions } = request
      const optionDifference = firstDifference(expectedOptions, actualOptions, "")
      if (Option.isSome(optionDifference)) {
        const [field, e, a] = optionDifference.value
        return {
          ...callAt(nearest),
          kind: nearest.entry._tag,
          field: field === "model" ? "requestedModel" : `options.${field}`,
          expected: e,
          actual: a,
          context: about
        }
      }
      // the request the recording holds does not hash to the fingerprint it recorded: the
      // recording was changed before this call somewhere its seals do not cover
      return {
        ...callAt(nearest),
        kind: nearest.entry._tag,
        field: "requestFingerprint",
        expected: nearest.entry.requestFingerprint,
        actual: Provider.fingerprint(request),
        context: `${about}; the recorded history of this call no longer hashes to its recorded fingerprint: ` +
          `the recording was edited before it`
      }
    }

    const callAt = (call: RecordedCall) => at({ session: call.session, index: call.position })

    /** The position of the `rath.agent` entry whose tools an agent's call offered. */
    const specEntryOf = (call: RecordedCall): number | undefined => {
      const held = Chunk.toReadonlyArray(Session.entries(call.session))
      for (let i = call.position - 1; i >= 0; i--) {
        const entry = held[i]!
        if (Run.isSpecEntry(entry) && entry.author.name === call.entry.author.name) return i
      }
      return undefined
    }

    const answer = (request: Provider.Request) =>
      Effect.gen(function*() {
        const { model: index } = yield* Ref.get(counters)
        const fingerprint = Provider.fingerprint(request)
        let call = byFingerprint.get(fingerprint)?.find((candidate) => !candidate.used)
        if (call === undefined) {
          // a call recorded without a fingerprint of the current format: compare the messages
          const actual = request.messages.map(messageKey)
          call = calls.find((candidate) => {
            const recordedFingerprint = candidate.entry.requestFingerprint
            if (
              candidate.used ||
              (recordedFingerprint !== undefined && Provider.isCurrentFingerprint(recordedFingerprint))
            ) {
              return false
            }
            const expected = candidate.request.messages.map(messageKey)
            return expected.length === actual.length && commonPrefix(expected, actual) === actual.length
          })
        }
        if (call === undefined) return yield* Effect.fail(providerError(yield* noted(mismatch(index, request))))
        const broken = Seal.check(call.entry)
        if (Option.isSome(broken)) {
          const divergence = sealDivergence(
            call.position,
            call.entry,
            broken.value,
            `model request #${index} of the re-run`
          )
          return yield* Effect.fail(providerError(yield* noted(divergence)))
        }
        call.used = true
        yield* Ref.update(counters, (c) => ({ ...c, model: c.model + 1 }))
        const list = handedOut.get(fingerprint) ?? []
        list.push(call.entry)
        handedOut.set(fingerprint, list)
        answered.push(call.entry)
        return call.entry
      })

    const toParts = (entry: Entry.Assistant | Entry.ModelCall): ReadonlyArray<Provider.StreamPart> => {
      const parts: Array<Provider.StreamPart> = [
        {
          _tag: "Metadata",
          model: entry.model,
          requestId: entry.provider?.requestId,
          ...(entry.metadata === undefined ? {} : { metadata: entry.metadata })
        }
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

    // -------------------------------------------------------------------------
    // tool calls
    // -------------------------------------------------------------------------

    // the recorded result of a call: from the recorded answer that asked for it (the re-run's
    // answer that issued the call carries the fingerprint of its request, which names the
    // recorded answers it may stand for), so that two branches that reuse call ids stay apart
    const recordedResult = (call: Entry.ToolCall, session: Session.Session): Entry.ToolResult | undefined => {
      const issued = Option.getOrUndefined(Session.findLast(session, Entry.is("Assistant")))
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

    const notReplayable = (call: Entry.ToolCall, divergence: Divergence): Tool.Outcome => ({
      callId: call.id,
      toolName: call.name,
      output: null,
      error: { kind: "not_replayable", message: describe(divergence) },
      durationMs: 0,
      effects: []
    })

    const executor: Tool.ExecutorService = {
      execute: (_toolkit, call, options) =>
        Effect.gen(function*() {
          const context = `tool call ${call.id} to ${call.name} in the re-run`
          const found = recordedResult(call, options.session)
          if (found === undefined) {
            const divergence = yield* noted({
              ...end(),
              kind: "ToolResult",
              field: "(entry)",
              expected: undefined,
              actual: `a result for call ${call.id} to ${call.name}`,
              context: `${context}: the recording has no result for it`
            })
            return notReplayable(call, divergence)
          }
          const broken = Seal.check(found)
          if (Option.isSome(broken)) {
            return notReplayable(
              call,
              yield* noted(sealDivergence(at(places.get(found)!), found, broken.value, context))
            )
          }
          yield* Ref.update(counters, (c) => ({ ...c, tool: c.tool + 1 }))
          return {
            callId: call.id,
            toolName: call.name,
            output: found.output,
            ...(found.error === undefined ? {} : { error: found.error }),
            durationMs: found.durationMs,
            effects: found.effects ?? [],
            ...(found.sandbox === undefined ? {} : { sandbox: found.sandbox }),
            ...(found.approval === undefined ? {} : { approval: found.approval })
          } satisfies Tool.Outcome
        })
    }

    // -------------------------------------------------------------------------
    // memory
    // -------------------------------------------------------------------------

    const store = memories[0]?.entry.store ?? "replay"
    const memoryError = (divergence: Divergence) =>
      new Memory.MemoryError({ reason: "ReplayDiverged", detail: describe(divergence), cause: toError(divergence) })

    /** The next unused recorded operation that `matches`, seal checked; or the divergence. */
    const nextMemory = (
      operation: Entry.Memory["operation"],
      asked: { readonly namespace?: string | undefined; readonly query?: string | undefined },
      matches: (entry: Entry.Memory) => boolean
    ) =>
      Effect.gen(function*() {
        const context = `memory ${operation}${asked.namespace === undefined ? "" : ` in ${asked.namespace}`}${
          asked.query === undefined ? "" : ` for ${JSON.stringify(asked.query)}`
        } in the re-run`
        const found = memories.find((m) => !m.used && m.entry.operation === operation && matches(m.entry))
        if (found === undefined) {
          const nearest = memories.find((m) => !m.used && m.entry.operation === operation)
          const divergence: Divergence = nearest === undefined
            ? {
              ...end(),
              kind: "Memory",
              field: "(entry)",
              expected: undefined,
              actual: context,
              context: `the recording has no more memory ${operation}s`
            }
            : {
              ...at(nearest.place),
              kind: "Memory",
              field: nearest.entry.namespace !== asked.namespace ? "namespace" : "query",
              expected: nearest.entry.namespace !== asked.namespace ? nearest.entry.namespace : nearest.entry.query,
              actual: nearest.entry.namespace !== asked.namespace ? asked.namespace : asked.query,
              context
            }
          return yield* Effect.fail(memoryError(yield* noted(divergence)))
        }
        const broken = Seal.check(found.entry)
        if (Option.isSome(broken)) {
          return yield* Effect.fail(
            memoryError(yield* noted(sealDivergence(at(found.place), found.entry, broken.value, context)))
          )
        }
        found.used = true
        yield* Ref.update(counters, (c) => ({ ...c, memory: c.memory + 1 }))
        return found.entry
      })

    const item = (
      fields: { readonly id: string; readonly namespace?: string | undefined; readonly text?: string | undefined }
    ): Memory.Item => ({
      id: fields.id,
      namespace: fields.namespace ?? "",
      text: fields.text ?? "",
      entryIds: [],
      metadata: {},
      createdAt: 0
    })

    const namespaceOf = (namespace: string | ReadonlyArray<string> | undefined): string | undefined =>
      namespace === undefined ? undefined : typeof namespace === "string" ? namespace : namespace.join(",")

    const memory: Memory.Service = {
      store,
      embeddingModel: Option.none(),
      vectorIndex: "none",
      recall: (options) => {
        const namespace = namespaceOf(options.namespace)
        return Effect.map(
          nextMemory(
            "recall",
            { namespace, query: options.query },
            (entry) =>
              entry.namespace === namespace && entry.query === options.query &&
              (entry.k === undefined || entry.k === (options.k ?? Memory.DEFAULT_K)) &&
              entry.minScore === options.minScore
          ),
          (entry) =>
            (entry.hits ?? []).map((hit): Memory.Hit => ({
              ...item({ id: hit.id, namespace: entry.namespace, text: hit.text }),
              score: hit.score,
              // recorded before hits said how they were found: a lexical match
              match: hit.match ?? "lexical",
              ...(hit.source === undefined ? {} : { source: hit.source })
            }))
        )
      },
      remember: (input) =>
        Effect.map(
          nextMemory("remember", { namespace: input.namespace }, (entry) =>
            entry.namespace === input.namespace && entry.written?.[0]?.text === input.text),
          (entry) =>
            item({ id: entry.written?.[0]?.id ?? "", namespace: input.namespace, text: input.text })
        ),
      rememberAll: (inputs) =>
        Effect.forEach(inputs, (input) =>
          Effect.map(
            nextMemory(
              "remember",
              { namespace: input.namespace },
              (entry) => entry.namespace === input.namespace && entry.written?.[0]?.text === input.text
            ),
            (entry) => item({ id: entry.written?.[0]?.id ?? "", namespace: input.namespace, text: input.text })
          )),
      commit: (_session, options) =>
        Effect.map(
          nextMemory("commit", { namespace: options.namespace }, (entry) => entry.namespace === options.namespace),
          (entry) => ({
            written: (entry.written ?? []).map((w) => item({ id: w.id, namespace: options.namespace, text: w.text })),
            skipped: 0
          })
        ),
      forget: (selector) => {
        const namespace = "namespace" in selector ? selector.namespace : undefined
        return Effect.map(
          nextMemory("forget", { namespace }, (entry) => entry.namespace === namespace),
          (entry) => entry.written?.length ?? 0
        )
      },
      list: () =>
        Effect.fail(
          new Memory.MemoryError({
            reason: "ReplayDiverged",
            detail: "a replay cannot list memories: lists are not recorded"
          })
        )
    }

    // a placement is bound as the recording bound it (an id when it has none: data only); a
    // replay opens no sandbox (its tool results are the recording's)
    const sandbox = Sandbox.Sandbox.of({
      bind: (placement) =>
        placement.id !== undefined
          ? Effect.succeed(placement)
          : Effect.map(IdGenerator.generate("sbx"), (id) => Placement.make({ ...placement, id })),
      handle: (placement) =>
        Effect.fail(
          new Sandbox.SandboxError({
            reason: "Unavailable",
            detail: `a replay opens no sandbox (asked for ${Placement.label(placement)}): ` +
              "tool results come from the recording"
          })
        ),
      backends: []
    })
    const context = Context.make(Provider.Provider, provider).pipe(
      Context.add(Tool.Executor, executor),
      Context.add(Memory.Memory, memory),
      Context.add(Sandbox.Sandbox, sandbox)
    )
    return {
      provider,
      executor,
      memory,
      modelCalls: Effect.map(Ref.get(counters), (c) => c.model),
      toolCalls: Effect.map(Ref.get(counters), (c) => c.tool),
      memoryCalls: Effect.map(Ref.get(counters), (c) => c.memory),
      divergence: Ref.get(first),
      layer: Layer.succeedContext(context)
    } satisfies Replayer
  })

/**
 * A layer that replays a recording: it provides the `Provider`, the `Tool.Executor` and the
 * `Memory` (see {@link make}).
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
export const layer = (
  recorded: Session.Session | ReadonlyArray<Session.Session>
): Layer.Layer<Provider.Provider | Memory.Memory | Sandbox.Sandbox> =>
  Layer.unwrapEffect(Effect.map(make(recorded), (replayer) => replayer.layer))

/**
 * Replays `step` on `input` against a recording (a session, or several: the result first, then
 * the sessions the run made besides, such as a rejected attempt) and checks the result against the
 * first: the replayed session, or
 * a `ReplayError` for the first divergence, whether the re-run noticed it while it ran (a request
 * the recording does not have, an edited answer, tool result or recall) or the comparison of the
 * result with the recording found it ({@link verify}). A failure of the step that no divergence
 * explains is the step's own error.
 *
 * @since 0.1.0
 * @category combinators
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
 *   return yield* Replay.run(recorded, workflow, input) // fails with a ReplayError naming entry and field
 * })
 * ```
 */
export const run = <E, R>(
  recorded: Session.Session | ReadonlyArray<Session.Session>,
  step: (session: Session.Session) => Effect.Effect<Session.Session, E, R>,
  input: Session.Session,
  options?: { readonly ignore?: ReadonlyArray<string> | undefined }
): Effect.Effect<
  Session.Session,
  E | ReplayError,
  Exclude<R, Provider.Provider | Memory.Memory | Sandbox.Sandbox>
> =>
  Effect.gen(function*() {
    const replayer = yield* make(recorded)
    const divergence = Effect.flatMap(
      replayer.divergence,
      (found) => Option.match(found, { onNone: () => Effect.void, onSome: (d) => Effect.fail(toError(d)) })
    )
    const replayed = yield* step(input).pipe(
      Effect.provide(replayer.layer),
      Effect.catchAll((error) => Effect.zipRight(divergence, Effect.fail(error)))
    )
    yield* divergence
    const primary = Session.isSession(recorded) ? recorded : recorded[0]
    if (primary !== undefined) yield* verify(primary, replayed, options)
    return replayed
  }) as Effect.Effect<
    Session.Session,
    E | ReplayError,
    Exclude<R, Provider.Provider | Memory.Memory | Sandbox.Sandbox>
  >
