/**
 * The selector: an LLM router over self-describing workflows.
 *
 * A selector shows the model its candidates (name and description of each) and forces one call
 * of a `select` tool whose arguments are `{ choice, reason }`, where `choice` is one of the
 * candidates' names or `"done"`. The call goes through the one model-call step (`Model.call`,
 * purpose `route`): it is recorded as a `ModelCall` entry with its usage, and replays and is
 * explained like any other call. The selector returns the chosen workflow (or `Workflow.done`) and
 * records the decision as a `Custom` entry of type `rath.selector` ({@link Decision}) that names
 * the call it came from. An answer that names no candidate is a `SelectorError`, never a silent
 * "done". Loops over a selector stay plain code:
 *
 * ```ts
 * let session = start
 * for (let i = 0; i < 10; i++) {
 *   const decision = yield* selector(session)
 *   if (Workflow.isDone(decision.next)) break
 *   session = yield* decision.next(decision.session)
 * }
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Budget from "./Budget.js"
import * as Entry from "./Entry.js"
import type * as Journal from "./Journal.js"
import * as Model from "./Model.js"
import * as Provider from "./Provider.js"
import * as Session from "./Session.js"
import * as Tool from "./Tool.js"
import * as Workflow from "./Workflow.js"

/**
 * @since 0.1.0
 * @category errors
 */
export class SelectorError extends Schema.TaggedError<SelectorError>("rath/SelectorError")("SelectorError", {
  reason: Schema.Literal("InvalidChoice", "InvalidCandidates", "ProviderFailed", "BudgetExceeded"),
  selector: Schema.String,
  detail: Schema.String,
  session: Schema.optional(Session.SessionFromSelf),
  cause: Schema.optional(Schema.Union(Provider.ProviderError, Budget.BudgetError))
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason} in selector ${this.selector}: ${this.detail}`
  }
}

/**
 * The `Custom` entry type of a recorded decision.
 *
 * @since 0.1.0
 * @category models
 */
export const DECISION_ENTRY = "rath.selector"

/**
 * What a `rath.selector` entry records: the candidates, the choice and its reason, and the
 * `ModelCall` entry the choice came from (absent when no model was called: a budget that could not
 * cover the call decided `done`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Record = Schema.Struct({
  selector: Schema.String,
  candidates: Schema.Array(Schema.String),
  choice: Schema.String,
  reason: Schema.String,
  call: Schema.optional(Entry.EntryId)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Record extends Schema.Schema.Type<typeof Record> {}

const decodeRecord = Schema.decodeUnknownOption(Record)

/**
 * The decision an entry records, if it is a `rath.selector` entry whose data decodes.
 *
 * @since 0.1.0
 * @category getters
 */
export const recordOf = (entry: Entry.Entry): Option.Option<Record> =>
  entry._tag === "Custom" && entry.type === DECISION_ENTRY ? decodeRecord(entry.data) : Option.none()

/**
 * The latest decision recorded in a session (by any selector, or by the one named `selector`).
 *
 * @since 0.1.0
 * @category getters
 */
export const lastRecord = (session: Session.Session, selector?: string): Option.Option<Record> => {
  for (const entry of Session.reverseEntries(session)) {
    const found = recordOf(entry)
    if (Option.isSome(found) && (selector === undefined || found.value.selector === selector)) return found
  }
  return Option.none()
}

/**
 * A decision: the chosen workflow (or `Workflow.done`), and the session with the decision
 * recorded.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decision<W> {
  readonly next: W | Workflow.Workflow
  readonly choice: string
  readonly reason: string
  readonly session: Session.Session
}

/**
 * A selector over candidates `W`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selector<W extends Workflow.Workflow<any, any>> {
  (session: Session.Session): Effect.Effect<Decision<W>, SelectorError, Provider.Provider>
  readonly name: string
  readonly candidates: ReadonlyArray<W>
}

/**
 * The default routing instructions.
 *
 * @since 0.1.0
 * @category models
 */
export const DEFAULT_INSTRUCTIONS =
  "You route work. Read the conversation and choose which workflow should run next, or \"done\" when the work " +
  "is finished. Call the select tool with your choice and a short reason."

/**
 * Makes a selector.
 *
 * The routing call is sent the menu (the instructions and each candidate's name and description)
 * as a system message, then the transcript without its system entries (every agent's
 * instructions), with the `select` tool forced.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scripted, Selector, Session, Workflow } from "rath"
 *
 * const research = Workflow.make({ name: "research", description: "Looks things up" }, Effect.succeed)
 * const write = Workflow.make({ name: "write", description: "Writes the answer" }, Effect.succeed)
 * const route = Selector.make({ candidates: [research, write] })
 *
 * const program = Session.fromUserMessage("Write a report").pipe(
 *   Effect.flatMap(route),
 *   Effect.flatMap((decision) => decision.next(decision.session)),
 *   Effect.provide(Scripted.layer([Scripted.toolCall("select", { choice: "write", reason: "ready" })]))
 * )
 * ```
 */
export const make = <const W extends Workflow.Workflow<any, any>>(options: {
  readonly candidates: ReadonlyArray<W>
  readonly instructions?: string | undefined
  readonly name?: string | undefined
  readonly model?: string | undefined
  /**
   * When the budget in effect cannot cover the routing call, the model is not called: fail with
   * `SelectorError` `BudgetExceeded` (default), or decide `"done"` and record that decision with
   * the reason (`{ choice: "done", reason: "budget: ..." }`).
   */
  readonly onBudgetExceeded?: "fail" | "done" | undefined
}): Selector<W> => {
  const name = options.name ?? "selector"
  const author: Entry.Author = { kind: "workflow", name }
  const names = options.candidates.map((candidate) => candidate.name)
  const duplicate = names.find((n, i) => names.indexOf(n) !== i || n === "done")
  const Args = Schema.Struct({
    choice: Schema.Literal(...names, "done").annotations({ description: "The workflow to run next, or done" }),
    reason: Schema.String.annotations({ description: "Why, in one sentence" })
  })
  const decode = Schema.decodeUnknownEither(Args)
  const tool: Provider.ToolDefinition = {
    name: "select",
    description: "Choose the workflow to run next, or done when the work is finished.",
    parameters: Tool.jsonSchemaOf(Args)
  }
  const menu = [
    options.instructions ?? DEFAULT_INSTRUCTIONS,
    "",
    "Workflows:",
    ...options.candidates.map((candidate) => `- ${candidate.name}: ${Workflow.descriptionOf(candidate)}`),
    "- done: the work is finished."
  ].join("\n")
  const prompt: Entry.Prompt = {
    before: [{ _tag: "System", text: menu }],
    view: Model.transcriptView({ system: false })
  }

  const decided = (session: Session.Session, record: Record) =>
    Effect.map(
      Session.append(session, Entry.custom(DECISION_ENTRY, record, { author })),
      (recorded): Decision<W> => ({
        next: record.choice === "done" ? Workflow.done : options.candidates[names.indexOf(record.choice)]!,
        choice: record.choice,
        reason: record.reason,
        session: recorded
      })
    )

  const select = (session: Session.Session) =>
    Effect.gen(function*() {
      if (duplicate !== undefined) {
        return yield* new SelectorError({
          reason: "InvalidCandidates",
          selector: name,
          detail: duplicate === "done"
            ? "\"done\" is reserved: rename the candidate"
            : `two candidates are named "${duplicate}"`
        })
      }
      const called = yield* Effect.either(Model.call(session, {
        purpose: "route",
        author,
        prompt,
        tools: [tool],
        toolChoice: { tool: "select" },
        model: options.model
      }))
      if (Either.isLeft(called)) {
        const error = called.left
        if (error._tag === "ProviderError") {
          return yield* new SelectorError({
            reason: "ProviderFailed",
            selector: name,
            detail: error.message,
            session,
            cause: error
          })
        }
        // like an agent and the compressor: no model call the budget cannot cover
        const detail = `the budget of ${error.cap} tokens cannot cover the routing call (about ${error.needed} tokens)`
        if (options.onBudgetExceeded !== "done") {
          return yield* new SelectorError({ reason: "BudgetExceeded", selector: name, detail, session, cause: error })
        }
        return yield* decided(session, {
          selector: name,
          candidates: names,
          choice: "done",
          reason: `budget: ${detail}`
        })
      }
      const { entry, response, session: asked } = called.right
      const call = response.toolCalls.find((c) => c.name === "select")
      if (call === undefined) {
        return yield* new SelectorError({
          reason: "InvalidChoice",
          selector: name,
          detail: `the model did not call select; it answered: ${JSON.stringify(response.text.slice(0, 200))}`,
          session: asked
        })
      }
      const choice = decode(call.parsed ?? Provider.parseArguments(call.arguments))
      if (Either.isLeft(choice)) {
        return yield* new SelectorError({
          reason: "InvalidChoice",
          selector: name,
          detail: `the choice ${call.arguments} names no candidate (${[...names, "done"].join(", ")}): ${
            ParseResult.TreeFormatter.formatErrorSync(choice.left)
          }`,
          session: asked
        })
      }
      return yield* decided(asked, {
        selector: name,
        candidates: names,
        choice: choice.right.choice,
        reason: choice.right.reason,
        call: entry.id
      })
    }).pipe(Effect.withSpan("Selector.select", {
      captureStackTrace: false,
      attributes: { "rath.selector.name": name }
    }))

  Object.defineProperty(select, "name", { value: name })
  return Object.assign(select, { candidates: options.candidates }) as unknown as Selector<W>
}

/**
 * A workflow that asks the selector and runs its choice (once).
 *
 * @since 0.1.0
 * @category combinators
 */
export const route = <W extends Workflow.Workflow<any, any>>(
  selector: Selector<W>
): Workflow.Workflow<
  SelectorError | Journal.JournalError | Workflow.ErrorOf<W>,
  Provider.Provider | Workflow.ContextOf<W>
> =>
  Workflow.make(
    { name: selector.name, description: "Routes to the workflow a model chooses." },
    (session) => Effect.flatMap(selector(session), (decision) => decision.next(decision.session))
  )
