/**
 * Compression: lossy context, lossless record.
 *
 * A compressor asks the model for a summary of the transcript (no tools: `toolChoice: "none"`)
 * and appends a `Compression` entry that stands for the entries it covers. `Session.transcript`
 * then sends the summary in their place; the covered entries stay in the session as evidence.
 * The call goes through the one model-call step (`Model.call`, purpose `compress`): it is
 * recorded as a `ModelCall` entry (usage, model, the prompt it was sent) just before the
 * `Compression` entry, which names it in `call`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Budget from "./Budget.js"
import * as Entry from "./Entry.js"
import type * as Journal from "./Journal.js"
import * as Memory from "./Memory.js"
import * as Model from "./Model.js"
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
  cause: Schema.optional(Schema.Union(Provider.ProviderError, Budget.BudgetError))
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
export const make = (options?: Options): Workflow.Workflow<
  CompressorError | Journal.JournalError,
  Provider.Provider
> => {
  const name = options?.name ?? "compressor"
  const author: Entry.Author = { kind: "workflow", name }
  const instructions = options?.instructions ?? DEFAULT_INSTRUCTIONS
  return Workflow.make(
    { name, description: "Summarises the transcript into a compression entry." },
    (session) =>
      Effect.gen(function*() {
        const covered = coverable(session, options)
        if (covered.length === 0 || covered.length < (options?.minEntries ?? 1)) return session
        // the request is the instructions, the covered entries and the ask
        const called = yield* Model.call(session, {
          purpose: "compress",
          author,
          prompt: {
            before: [{ _tag: "System", text: instructions }],
            view: Model.entriesView(covered.map((entry) => entry.id)),
            after: [{ _tag: "User", text: ASK }]
          },
          toolChoice: "none",
          model: options?.model,
          maxTokens: options?.maxTokens
        }).pipe(
          Effect.mapError((cause) =>
            cause._tag === "ProviderError"
              ? new CompressorError({
                reason: "ProviderFailed",
                compressor: name,
                detail: cause.message,
                session,
                cause
              })
              : new CompressorError({
                reason: "BudgetExceeded",
                compressor: name,
                detail: `the budget cannot cover a summary of about ${cause.needed} tokens`,
                session,
                cause
              })
          )
        )
        const { entry, response, session: asked } = called
        if (response.toolCalls.length > 0) {
          return yield* new CompressorError({
            reason: "ToolCall",
            compressor: name,
            detail: `the model called ${response.toolCalls.map((call) => call.name).join(", ")} instead of summarising`,
            session: asked
          })
        }
        const text = response.text.trim()
        if (text === "") {
          return yield* new CompressorError({
            reason: "EmptySummary",
            compressor: name,
            detail: "the model answered with an empty summary",
            session: asked
          })
        }
        return yield* Session.append(
          asked,
          Entry.compression({
            covers: covered.map((message) => message.id),
            text,
            call: entry.id,
            model: undefined,
            usage: undefined,
            author
          })
        )
      })
  )
}

/**
 * What a compressor asks after the covered entries.
 *
 * @since 0.1.0
 * @category models
 */
export const ASK = "Summarise the conversation above now."
