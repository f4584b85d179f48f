/**
 * Compression: lossy context, lossless record.
 *
 * A compressor asks the model for a summary of the transcript (no tools: `toolChoice: "none"`)
 * and appends a `Compression` entry that stands for the entries it covers. `Session.transcript`
 * then sends the summary in their place; the covered entries stay in the session as evidence.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Budget from "./Budget.js"
import * as Entry from "./Entry.js"
import * as Memory from "./Memory.js"
import * as Provider from "./Provider.js"
import * as Session from "./Session.js"
import * as Workflow from "./Workflow.js"

/**
 * @since 0.1.0
 * @category errors
 */
export class CompressorError extends Schema.TaggedError<CompressorError>("rath/CompressorError")("CompressorError", {
  reason: Schema.Literal("EmptySummary", "ToolCall", "ProviderFailed", "BudgetExceeded"),
  compressor: Schema.String,
  detail: Schema.String,
  session: Schema.optional(Session.SessionFromSelf),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} in compressor ${this.compressor}: ${this.detail}`
  }
}

/**
 * The default summarising instructions.
 *
 * @since 0.1.0
 * @category models
 */
export const DEFAULT_INSTRUCTIONS =
  "Summarise the conversation so far for whoever continues it. Keep every fact, decision, open question, " +
  "file name and number that later work may need. Answer with the summary only."

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly name?: string | undefined
  readonly instructions?: string | undefined
  /** Leave this many of the latest transcript entries uncovered (default 0). */
  readonly keepLast?: number | undefined
  /** Also cover system entries (default false: instructions stay as they are). */
  readonly includeSystem?: boolean | undefined
  /** Do nothing while the transcript has fewer entries than this (default 1). */
  readonly minEntries?: number | undefined
  readonly model?: string | undefined
  readonly maxTokens?: number | undefined
}

/**
 * Which transcript entries a compression would cover: every model-visible entry (previous
 * summaries included, system entries only with `includeSystem`, recalled memories never) except
 * the last `keepLast`; the cut never leaves a tool result without the call that asked for it.
 *
 * @since 0.1.0
 * @category getters
 */
export const coverable = (
  session: Session.Session,
  options?: { readonly keepLast?: number | undefined; readonly includeSystem?: boolean | undefined }
): ReadonlyArray<Entry.Message> => {
  const transcript = Array.from(Session.transcript(session))
  let cut = Math.max(0, transcript.length - (options?.keepLast ?? 0))
  // keep a tool result together with the assistant entry that called it
  while (cut > 0 && cut < transcript.length && transcript[cut]!._tag === "ToolResult") cut--
  return transcript.slice(0, cut).filter((entry) =>
    (options?.includeSystem === true || entry._tag !== "System") &&
    // recalled memories are untrusted context for one agent's run: a summary that took them in
    // would send them to every agent, as trusted-looking text
    !Memory.isContext(entry)
  )
}

/**
 * Makes a compressor workflow.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Compressor, Scripted, Session } from "rath"
 *
 * const compress = Compressor.make({ keepLast: 2 })
 * const program = Session.fromUserMessage("a long story...").pipe(
 *   Effect.flatMap(compress),
 *   Effect.provide(Scripted.layer([Scripted.reply("The user told a story.")]))
 * )
 * ```
 */
export const make = (options?: Options): Workflow.Workflow<CompressorError, Provider.Provider> => {
  const name = options?.name ?? "compressor"
  const author: Entry.Author = { kind: "workflow", name }
  const instructions = options?.instructions ?? DEFAULT_INSTRUCTIONS
  return Workflow.make(
    { name, description: "Summarises the transcript into a compression entry." },
    (session) =>
      Effect.gen(function*() {
        const covered = coverable(session, options)
        if (covered.length === 0 || covered.length < (options?.minEntries ?? 1)) return session
        const provider = yield* Provider.Provider
        const budget = yield* Budget.Budget
        // the request is the instructions, the covered entries and the ask; only the summary is recorded
        const system = Entry.fromDraft(Entry.system(instructions, { author }), {
          id: "compressor-instructions" as Entry.EntryId,
          timestamp: 0,
          author,
          parents: []
        }) as Entry.System
        const ask = Entry.fromDraft(Entry.user("Summarise the conversation above now."), {
          id: "compressor-ask" as Entry.EntryId,
          timestamp: 0,
          author,
          parents: []
        }) as Entry.User
        const request: Provider.Request = {
          messages: [system, ...covered, ask],
          toolChoice: "none",
          ...(options?.model === undefined ? {} : { model: options.model }),
          ...(options?.maxTokens === undefined ? {} : { maxTokens: options.maxTokens })
        }
        const estimate = Budget.estimate(request)
        const held = yield* budget.reserve(estimate)
        if (held === undefined) {
          return yield* new CompressorError({
            reason: "BudgetExceeded",
            compressor: name,
            detail: `the budget cannot cover a summary of about ${estimate} tokens`,
            session
          })
        }
        const response = yield* provider.chat(request).pipe(
          Effect.tapError(() => budget.settle(held, 0)),
          Effect.mapError((cause) =>
            new CompressorError({ reason: "ProviderFailed", compressor: name, detail: cause.message, session, cause })
          ),
          Effect.withSpan("Compressor.model", {
            captureStackTrace: false,
            attributes: { "rath.session.id": session.id, "rath.model": options?.model ?? provider.info.model }
          })
        )
        yield* budget.settle(held, response.usage?.totalTokens ?? estimate)
        if (response.toolCalls.length > 0) {
          return yield* new CompressorError({
            reason: "ToolCall",
            compressor: name,
            detail: `the model called ${response.toolCalls.map((call) => call.name).join(", ")} instead of summarising`,
            session
          })
        }
        const text = response.text.trim()
        if (text === "") {
          return yield* new CompressorError({
            reason: "EmptySummary",
            compressor: name,
            detail: "the model answered with an empty summary",
            session
          })
        }
        return yield* Session.append(
          session,
          Entry.compression({
            covers: covered.map((entry) => entry.id),
            text,
            model: response.model,
            usage: response.usage,
            author
          })
        )
      })
  )
}
