/**
 * The one model-call step: every call to a model, whoever makes it (an agent's turn, a
 * selector's routing, a compressor's summary, a judge, user code), goes through {@link call}.
 *
 * A call takes the session and a request whose messages are described by a {@link Entry.Prompt}:
 * messages that are not entries of the session (a selector's menu) around the session's entries
 * that a {@link Entry.View} picks. It sends the request, brackets the budget (reserved before,
 * settled however the call ends, interruption included), makes one `chat {model}` span, and
 * appends one entry that records the call: an `Assistant` entry for an agent's `turn` (its answer
 * is a message of the conversation) and a `ModelCall` entry for every other purpose. The entry
 * holds who asked and why, the provider, host, the model asked for and the one that answered, the
 * request id, usage, finish reason, latency, the prompt recipe, the tools and options, and a
 * fingerprint of exactly what was sent; with the call's own history ({@link request}) that
 * rebuilds the request, and {@link verify} checks the rebuild against the fingerprint.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Budget from "./Budget.js"
import * as Entry from "./Entry.js"
import * as Seal from "./internal/seal.js"
import { consume } from "./internal/stream.js"
import * as Trace from "./internal/trace.js"
import * as Memory from "./Memory.js"
import * as Provider from "./Provider.js"
import * as Run from "./Run.js"
import * as Session from "./Session.js"

// -----------------------------------------------------------------------------
// prompts
// -----------------------------------------------------------------------------

/**
 * The view of the agent named `name`: what it is sent (see {@link messages}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const agentView = (name: string): Entry.View => ({ _tag: "Agent", name })

/**
 * The transcript view: compression applied, system entries only when `system` is true.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transcriptView = (options?: { readonly system?: boolean | undefined }): Entry.View => ({
  _tag: "Transcript",
  system: options?.system ?? true
})

/**
 * A view of exactly these entries, in this order.
 *
 * @since 0.1.0
 * @category constructors
 */
export const entriesView = (ids: Iterable<string>): Entry.View => ({
  _tag: "Entries",
  ids: Array.from(ids) as Array<Entry.EntryId>
})

/**
 * The prompt recipe a call entry stands for when it records none (entries from before prompts
 * were recorded, and agent turns, which record none to save space): an agent's view for an
 * answer by an agent, the whole transcript otherwise.
 *
 * @since 0.1.0
 * @category getters
 */
export const defaultPrompt = (author: Entry.Author): Entry.Prompt =>
  author.kind === "agent" ? { view: agentView(author.name) } : { view: transcriptView() }

const isDefaultPrompt = (prompt: Entry.Prompt, author: Entry.Author): boolean =>
  prompt.before === undefined && prompt.after === undefined && (
    author.kind === "agent"
      ? prompt.view._tag === "Agent" && prompt.view.name === author.name
      : prompt.view._tag === "Transcript" && prompt.view.system
  )

/**
 * What the agent named `name` is sent for a session: the transcript (compression applied)
 * without other agents' instructions and without memories recalled for other agents (see
 * `Memory.visibleTo`), with this agent's latest instructions first.
 *
 * @since 0.1.0
 * @category getters
 */
export const agentMessages = (name: string, session: Session.Session): Array<Provider.Message> => {
  // an agent calls this on every turn: the chain is walked once from the head, newest first, into
  // one array (no copy of every entry, no transcript, nothing cached per head); a session with a
  // compression takes the transcript's path, which places it
  const out: Array<Provider.Message> = []
  let own: Entry.System | undefined
  for (let node = session.node; node !== undefined; node = node.prev) {
    const entry = node.entry
    if (entry._tag === "Compression") return transcriptMessages(name, session)
    if (!Entry.isMessage(entry)) continue
    if (entry._tag === "System" && entry.author.kind === "agent") {
      if (own === undefined && entry.author.name === name) own = entry
      continue
    }
    if (Memory.visibleTo(entry, name)) out.push(entry)
  }
  out.reverse()
  if (own !== undefined) out.unshift(own)
  return out
}

const transcriptMessages = (name: string, session: Session.Session): Array<Provider.Message> => {
  const out: Array<Provider.Message> = []
  let own: Entry.System | undefined
  for (const message of Session.transcript(session)) {
    if (message._tag === "System" && message.author.kind === "agent") {
      if (message.author.name === name) own = message
      continue
    }
    if (!Memory.visibleTo(message, name)) continue
    out.push(message._tag === "Compression" ? Provider.fromEntries([message])[0]! : message)
  }
  if (own !== undefined) out.unshift(own)
  return out
}

/**
 * The messages a prompt makes from a session: `before`, the view's entries as messages, `after`.
 * Entries named by an `Entries` view that the session does not hold are left out.
 *
 * @since 0.1.0
 * @category getters
 */
export const messages = (session: Session.Session, prompt: Entry.Prompt): Array<Provider.Message> => {
  const view = viewMessages(session, prompt.view)
  return prompt.before === undefined && prompt.after === undefined
    ? view
    : [...(prompt.before ?? []), ...view, ...(prompt.after ?? [])]
}

const viewMessages = (session: Session.Session, view: Entry.View): Array<Provider.Message> => {
  switch (view._tag) {
    case "Agent":
      return agentMessages(view.name, session)
    case "Transcript": {
      const transcript = Chunk.toReadonlyArray(Session.transcript(session))
      return Provider.fromEntries(view.system ? transcript : transcript.filter((entry) => entry._tag !== "System"))
    }
    case "Entries": {
      const byId = new Map<string, Entry.Entry>()
      for (const entry of Session.entries(session)) byId.set(entry.id, entry)
      const picked: Array<Entry.Message> = []
      for (const id of view.ids) {
        const entry = byId.get(id)
        if (entry !== undefined && Entry.isMessage(entry)) picked.push(entry)
      }
      return Provider.fromEntries(picked)
    }
    case "None":
      return []
  }
}

// -----------------------------------------------------------------------------
// calling
// -----------------------------------------------------------------------------

/**
 * A model call to make: how its messages are made from the session, and everything else a
 * `Provider.Request` holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallRequest extends Omit<Provider.Request, "messages"> {
  /** Why the call is made (default `user`). A `turn`'s answer is a message of the conversation. */
  readonly purpose?: Entry.Purpose | undefined
  /** How the messages are made (default: the author's {@link defaultPrompt}). */
  readonly prompt?: Entry.Prompt | undefined
  /** Who makes the call (default: `Entry.CurrentAuthor`). */
  readonly author?: Entry.Author | undefined
  /**
   * Where the entry finds its tools when it is read back: `inline` (default) records them on the
   * entry; `spec` records none, because they are the tools of the run's `rath.agent` spec.
   */
  readonly recordTools?: "inline" | "spec" | undefined
}

/**
 * What a call made: the session with the call's entry appended, the entry, and the response.
 *
 * @since 0.1.0
 * @category models
 */
export interface Called {
  readonly session: Session.Session
  readonly entry: Entry.Assistant | Entry.ModelCall
  readonly response: Provider.Response
}

/**
 * How a call is made, besides what it asks: a listener for the stream's parts (the call streams
 * when one is given; otherwise it asks for the whole answer), and a number of tokens to reserve on
 * top of the request's estimate (the answer's `maxTokens`, say).
 *
 * @since 0.1.0
 * @category models
 */
export interface CallHooks {
  readonly onPart?: ((part: Provider.StreamPart) => Effect.Effect<void>) | undefined
}

/**
 * Calls the model in context and records the call in the session (see the module's description).
 * Fails with the `ProviderError`, or with a `BudgetError` when the budget in effect cannot cover
 * the request's estimate (then no request is sent); the session is unchanged on a failure.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Model, Scripted, Session } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const session = yield* Session.fromUserMessage("Is 7 prime? Answer yes or no.")
 *   // the whole transcript, sent as it is; the answer is recorded as a ModelCall entry
 *   const { response, session: next } = yield* Model.call(session, { purpose: "judge" })
 *   console.log(response.text, next.length) // "yes" 2
 * }).pipe(Effect.provide(Scripted.layer([Scripted.reply("yes")])))
 * ```
 */
export const call = (
  session: Session.Session,
  request: CallRequest,
  hooks?: CallHooks
): Effect.Effect<Called, Provider.ProviderError | Budget.BudgetError, Provider.Provider> =>
  Effect.flatMap(
    Provider.Provider,
    (provider) =>
      Effect.flatMap(Budget.Budget, (budget) =>
        Effect.flatMap(Entry.CurrentAuthor, (author) =>
          callWith(provider, budget, session, { ...request, author: request.author ?? author }, hooks)))
  )

/**
 * {@link call} with the provider and budget already resolved (an agent resolves them once per run).
 *
 * @since 0.1.0
 * @category constructors
 */
export const callWith = (
  provider: Provider.Service,
  budget: Budget.Service,
  session: Session.Session,
  request: CallRequest & { readonly author: Entry.Author },
  hooks?: CallHooks
): Effect.Effect<Called, Provider.ProviderError | Budget.BudgetError> => {
  const author = request.author
  const purpose = request.purpose ?? "user"
  // no prompt: the author's default, whose messages are made without building its recipe
  const prompt = request.prompt
  const sent = toRequest(
    prompt === undefined
      ? author.kind === "agent" ? agentMessages(author.name, session) : transcriptAll(session)
      : messages(session, prompt),
    request,
    request.model ?? provider.info.model
  )
  const onPart = hooks?.onPart
  // the clock (for the latency) and the tracer are read in one step from the fiber: a call is
  // on every agent turn, where an effect per read was a measurable share of the turn
  return Effect.withFiberRuntime((fiber) => {
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const started = clock.unsafeCurrentTimeMillis()
    let reported: Entry.Usage | undefined
    const ask = onPart === undefined ? provider.chat(sent) : streamed(provider, sent, (part) => {
      if (part._tag === "Usage") reported = part.usage
      return onPart(part)
    })
    // an unlimited budget needs no estimate (it costs a pass over the messages) and no bracket
    const held = budget === Budget.unlimited ? ask : reservingFor(budget, sent, ask, () => reported)
    const recorded = Effect.flatMap(held, (response) => {
      const draft = record(
        response,
        sent,
        author,
        purpose,
        prompt,
        request.recordTools,
        clock.unsafeCurrentTimeMillis() - started
      )
      // minted at once on this fiber where its generator allows (no effect per answer)
      const now = Session.unsafeAppendOn(fiber, session, draft)
      return now === undefined
        ? Effect.map(Session.append(session, draft), (next) => called(next, response))
        : Effect.succeed(called(now, response))
    })
    if (!Trace.isTracing(fiber)) return recorded
    return traced(recorded, fiber.currentContext, provider, session, sent, author, purpose)
  })
}

/** The messages of the whole transcript (the default prompt of a call not made by an agent). */
const transcriptAll = (session: Session.Session): Array<Provider.Message> =>
  Provider.fromEntries(Session.transcript(session))

/** A call bracketed by the budget: its estimate reserved before, what it used settled after. */
const reservingFor = (
  budget: Budget.Service,
  sent: Provider.Request,
  ask: Effect.Effect<Provider.Response, Provider.ProviderError>,
  reported: () => Entry.Usage | undefined
): Effect.Effect<Provider.Response, Provider.ProviderError | Budget.BudgetError> => {
  const estimate = Budget.estimate(sent) + (sent.maxTokens ?? 0)
  return Budget.reserving(budget, estimate, ask, (exit) =>
    Exit.isSuccess(exit)
      ? exit.value.usage?.totalTokens ?? estimate
      : reported()?.totalTokens ?? 0)
}

// the entry just appended is the head
const called = (next: Session.Session, response: Provider.Response): Called => ({
  session: next,
  entry: next.node!.entry as Entry.Assistant | Entry.ModelCall,
  response
})

/**
 * The call's `chat {model}` span (OpenTelemetry GenAI conventions, `rath.*` beside): made only
 * when a tracer listens, so none of this runs on an untraced turn.
 */
const traced = (
  recorded: Effect.Effect<Called, Provider.ProviderError | Budget.BudgetError>,
  context: Context.Context<never>,
  provider: Provider.Service,
  session: Session.Session,
  sent: Provider.Request,
  author: Entry.Author,
  purpose: Entry.Purpose
): Effect.Effect<Called, Provider.ProviderError | Budget.BudgetError> => {
  const model = sent.model ?? provider.info.model
  const content = Trace.capturing(context)
  const attributes: Record<string, unknown> = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": provider.info.kind,
    "gen_ai.request.model": model,
    "gen_ai.conversation.id": session.id,
    "rath.purpose": purpose,
    "rath.author": `${author.kind}:${author.name}`,
    "rath.session.id": session.id,
    "rath.provider": provider.info.kind,
    "rath.model": model
  }
  if (author.kind === "agent") attributes["gen_ai.agent.name"] = author.name
  if (provider.info.host !== undefined) attributes["server.address"] = provider.info.host
  if (sent.maxTokens !== undefined) attributes["gen_ai.request.max_tokens"] = sent.maxTokens
  if (sent.temperature !== undefined) attributes["gen_ai.request.temperature"] = sent.temperature
  if (sent.topP !== undefined) attributes["gen_ai.request.top_p"] = sent.topP
  if (sent.seed !== undefined) attributes["gen_ai.request.seed"] = sent.seed
  if (sent.stop !== undefined) attributes["gen_ai.request.stop_sequences"] = sent.stop
  if (sent.responseFormat !== undefined) {
    attributes["gen_ai.output.type"] = sent.responseFormat.type === "text" ? "text" : "json"
  }
  if (content) Object.assign(attributes, Trace.inputContent(sent.messages))
  return Effect.withSpan(
    Effect.onExit(recorded, (exit) =>
      Effect.annotateCurrentSpan(
        Exit.isSuccess(exit)
          ? responseAttributes(exit.value.response, content)
          : Trace.failureAttributes(exit.cause, Trace.errorType) ?? {}
      )),
    `chat ${model}`,
    { kind: "client", captureStackTrace: false, attributes }
  )
}

const responseAttributes = (response: Provider.Response, content: boolean): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    "gen_ai.response.finish_reasons": [response.finishReason],
    "rath.finish_reason": response.finishReason
  }
  if (response.model !== undefined) {
    attributes["gen_ai.response.model"] = response.model
    attributes["rath.response.model"] = response.model
  }
  if (response.provider.requestId !== undefined) attributes["gen_ai.response.id"] = response.provider.requestId
  if (response.usage !== undefined) {
    attributes["gen_ai.usage.input_tokens"] = response.usage.inputTokens
    attributes["gen_ai.usage.output_tokens"] = response.usage.outputTokens
    attributes["rath.usage.input_tokens"] = response.usage.inputTokens
    attributes["rath.usage.output_tokens"] = response.usage.outputTokens
    attributes["rath.usage.total_tokens"] = response.usage.totalTokens
    if (response.usage.cachedInputTokens !== undefined) {
      attributes["rath.usage.cached_input_tokens"] = response.usage.cachedInputTokens
    }
    if (response.usage.reasoningTokens !== undefined) {
      attributes["rath.usage.reasoning_tokens"] = response.usage.reasoningTokens
    }
  }
  if (response.missing !== undefined) attributes["rath.missing"] = response.missing
  if (content) Object.assign(attributes, Trace.outputContent(response))
  return attributes
}

/**
 * Makes a plain object (its prototype `Object.prototype`, as a literal's): made with `new`, it gets
 * room inside it for the request's fields (a literal grew its field storage as they were set).
 */
const PlainRequest = function() {} as unknown as new() => object
PlainRequest.prototype = Object.prototype

/** A request from its messages and its other fields, holding only the fields that are set. */
const toRequest = (
  messages: ReadonlyArray<Provider.Message>,
  request: Omit<Provider.Request, "messages">,
  model: string | undefined
): Provider.Request => {
  const out = new PlainRequest() as { -readonly [K in keyof Provider.Request]: Provider.Request[K] }
  out.messages = messages
  if (model !== undefined) out.model = model
  if (request.tools !== undefined && request.tools.length > 0) out.tools = request.tools
  if (request.toolChoice !== undefined) out.toolChoice = request.toolChoice
  if (request.responseFormat !== undefined) out.responseFormat = request.responseFormat
  if (request.temperature !== undefined) out.temperature = request.temperature
  if (request.topP !== undefined) out.topP = request.topP
  if (request.maxTokens !== undefined) out.maxTokens = request.maxTokens
  if (request.stop !== undefined) out.stop = request.stop
  if (request.seed !== undefined) out.seed = request.seed
  if (request.extra !== undefined) out.extra = request.extra
  return out
}

const streamed = (
  provider: Provider.Service,
  request: Provider.Request,
  onPart: (part: Provider.StreamPart) => Effect.Effect<void>
): Effect.Effect<Provider.Response, Provider.ProviderError> =>
  Effect.suspend(() => {
    let acc = Provider.emptyAccumulator
    return Effect.zipRight(
      consume(provider.stream(request), (chunk) =>
        Effect.forEach(chunk, (part) => {
          acc = Provider.step(acc, part)
          return onPart(part)
        }, { discard: true })),
      Effect.sync(() => Provider.finish(acc, provider.info))
    )
  })

/** The entry draft that records a call (only the fields that are set). */
const record = (
  response: Provider.Response,
  sent: Provider.Request,
  author: Entry.Author,
  purpose: Entry.Purpose,
  prompt: Entry.Prompt | undefined,
  recordTools: "inline" | "spec" | undefined,
  latencyMs: number
): Entry.DraftFor<"Assistant"> | Entry.DraftFor<"ModelCall"> =>
  new CallDraft(response, sent, author, purpose, prompt, recordTools, latencyMs) as unknown as
    | Entry.DraftFor<"Assistant">
    | Entry.DraftFor<"ModelCall">

/**
 * The draft {@link record} makes, its fields set in a constructor: V8 then gives the object room
 * for them inside it (set one by one on an object literal, its field storage grew several times).
 * The draft only lives until the entry is built from it; nothing else sees its class.
 */
class CallDraft {
  [field: string]: unknown
  constructor(
    response: Provider.Response,
    sent: Provider.Request,
    author: Entry.Author,
    purpose: Entry.Purpose,
    prompt: Entry.Prompt | undefined,
    recordTools: "inline" | "spec" | undefined,
    latencyMs: number
  ) {
    const turn = purpose === "turn"
    this._tag = turn ? "Assistant" : "ModelCall"
    if (!turn) this.purpose = purpose
    this.text = response.text
    if (response.reasoning !== undefined) this.reasoning = response.reasoning
    this.toolCalls = response.toolCalls
    this.provider = response.provider
    if (response.model !== undefined) this.model = response.model
    if (sent.model !== undefined) this.requestedModel = sent.model
    this.finishReason = response.finishReason
    if (response.usage !== undefined) this.usage = response.usage
    if (response.missing !== undefined) this.missing = response.missing
    if (response.metadata !== undefined) this.metadata = response.metadata
    this.latencyMs = latencyMs
    this.requestFingerprint = Provider.fingerprint(sent)
    if (prompt !== undefined && !isDefaultPrompt(prompt, author)) this.prompt = prompt
    if (recordTools !== "spec" && sent.tools !== undefined) this.tools = sent.tools
    const options = Provider.optionsOf(sent)
    if (options !== undefined) this.options = options
    this.seal = Seal.seal(turn ? "Assistant" : "ModelCall", this)
    this.author = author
  }
}

// -----------------------------------------------------------------------------
// reading calls back
// -----------------------------------------------------------------------------

/**
 * The request a recorded call sent, rebuilt from the call's own history (the session as its
 * author saw it when it made the call, without the call's entry; `Session.historyAt` gives it
 * even in a merged session): the prompt's messages, the tools (the entry's, or those of the
 * run's `rath.agent` spec), the model asked for and the options.
 *
 * @since 0.1.0
 * @category getters
 */
export const request = (
  history: Session.Session,
  entry: Entry.Assistant | Entry.ModelCall
): Provider.Request => {
  const prompt = entry.prompt ?? defaultPrompt(entry.author)
  const tools = entry.tools ?? (prompt.view._tag === "Agent" ? specTools(history, prompt.view.name) : undefined)
  return toRequest(
    messages(history, prompt),
    { ...entry.options, ...(tools === undefined ? {} : { tools }) },
    entry.requestedModel
  )
}

const specTools = (history: Session.Session, agent: string): ReadonlyArray<Entry.ToolDefinition> | undefined =>
  Option.getOrUndefined(Option.map(Run.lastSpec(history, agent), (spec) => spec.tools))

/**
 * The history a recorded call was made from: the session as the call's author saw it, before the
 * call's entry. `None` when the session does not hold the entry.
 *
 * @since 0.1.0
 * @category getters
 */
export const historyOf = (
  session: Session.Session,
  entry: Entry.Assistant | Entry.ModelCall
): Option.Option<Session.Session> =>
  Option.map(Session.historyAt(session, entry.id), (through) => Session.take(through, through.length - 1))

/**
 * Whether a recorded call's rebuilt request ({@link request}) has the fingerprint the call
 * recorded: `true` or `false`, or `undefined` when the entry recorded no fingerprint, or one of
 * rath 0.1's format (which did not cover everything that was sent).
 *
 * @since 0.1.0
 * @category getters
 */
export const verify = (
  history: Session.Session,
  entry: Entry.Assistant | Entry.ModelCall
): boolean | undefined =>
  entry.requestFingerprint === undefined || !Provider.isCurrentFingerprint(entry.requestFingerprint)
    ? undefined
    : Provider.fingerprint(request(history, entry)) === entry.requestFingerprint

/**
 * Every model call in a session's history, oldest first: its entry, its position, the history it
 * was made from (its own branch's, in a merged session) and the request rebuilt from it.
 *
 * @since 0.1.0
 * @category getters
 */
export const calls = (session: Session.Session): Array<{
  readonly index: number
  readonly entry: Entry.Assistant | Entry.ModelCall
  readonly history: Session.Session
  readonly request: Provider.Request
  readonly verified: boolean | undefined
}> => {
  const out: Array<ReturnType<typeof calls>[number]> = []
  let index = 0
  for (const entry of Session.entries(session)) {
    if (Entry.isModelCall(entry)) {
      const history = Option.getOrElse(historyOf(session, entry), () => Session.take(session, index))
      const rebuilt = request(history, entry)
      const verified =
        entry.requestFingerprint === undefined || !Provider.isCurrentFingerprint(entry.requestFingerprint)
          ? undefined
          : Provider.fingerprint(rebuilt) === entry.requestFingerprint
      out.push({ index, entry, history, request: rebuilt, verified })
    }
    index++
  }
  return out
}
