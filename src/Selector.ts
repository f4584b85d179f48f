/**
 * The selector: an LLM router over self-describing workflows.
 *
 * A selector shows the model its candidates (name and description of each) and forces one call
 * of a `select` tool whose arguments are `{ choice, reason }`, where `choice` is one of the
 * candidates' names or `"done"`. It returns the chosen workflow (or `Workflow.done`) and records
 * the decision as a `Custom` entry of type `rath.selector`. An answer that names no candidate is
 * a `SelectorError`, never a silent "done". Loops over a selector stay plain code:
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
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Budget from "./Budget.js"
import * as Entry from "./Entry.js"
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
  cause: Schema.optional(Schema.Defect)
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
 * What a `rath.selector` entry records.
 *
 * @since 0.1.0
 * @category models
 */
export interface Record {
  readonly selector: string
  readonly candidates: ReadonlyArray<string>
  readonly choice: string
  readonly reason: string
  readonly model?: string | undefined
  readonly provider?: string | undefined
  readonly usage?: Entry.Usage | undefined
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
      const provider = yield* Provider.Provider
      const budget = yield* Budget.Budget
      const system = Entry.fromDraft(Entry.system(menu, { author }), {
        id: "selector-instructions" as Entry.EntryId,
        timestamp: 0,
        author,
        parents: []
      }) as Entry.System
      const request: Provider.Request = {
        messages: [system, ...Array.from(Session.transcript(session)).filter((m) => m._tag !== "System")],
        tools: [tool],
        toolChoice: { tool: "select" },
        ...(options.model === undefined ? {} : { model: options.model })
      }
      const estimate = Budget.estimate(request)
      const held = yield* budget.reserve(estimate)
      if (held === undefined) {
        // like an agent and the compressor: no model call the budget cannot cover
        const detail = `the budget of ${budget.cap} tokens cannot cover the routing call (about ${estimate} tokens)`
        if (options.onBudgetExceeded !== "done") {
          return yield* new SelectorError({ reason: "BudgetExceeded", selector: name, detail, session })
        }
        const reason = `budget: ${detail}`
        const record: Record = { selector: name, candidates: names, choice: "done", reason }
        const recorded = yield* Session.append(session, Entry.custom(DECISION_ENTRY, record, { author }))
        return { next: Workflow.done, choice: "done", reason, session: recorded } satisfies Decision<W>
      }
      const response = yield* provider.chat(request).pipe(
        Effect.tapError(() => budget.settle(held, 0)),
        Effect.mapError((cause) =>
          new SelectorError({ reason: "ProviderFailed", selector: name, detail: cause.message, session, cause })
        ),
        Effect.withSpan("Selector.model", {
          captureStackTrace: false,
          attributes: { "rath.session.id": session.id, "rath.selector.name": name }
        })
      )
      yield* budget.settle(held, response.usage?.totalTokens ?? estimate)
      const call = response.toolCalls.find((c) => c.name === "select")
      if (call === undefined) {
        return yield* new SelectorError({
          reason: "InvalidChoice",
          selector: name,
          detail: `the model did not call select; it answered: ${JSON.stringify(response.text.slice(0, 200))}`,
          session
        })
      }
      const decoded = decode(call.parsed ?? Provider.parseArguments(call.arguments))
      if (Either.isLeft(decoded)) {
        return yield* new SelectorError({
          reason: "InvalidChoice",
          selector: name,
          detail: `the choice ${call.arguments} names no candidate (${[...names, "done"].join(", ")}): ${
            ParseResult.TreeFormatter.formatErrorSync(decoded.left)
          }`,
          session
        })
      }
      const { choice, reason } = decoded.right
      const record: Record = {
        selector: name,
        candidates: names,
        choice,
        reason,
        ...(response.model === undefined ? {} : { model: response.model }),
        provider: response.provider.kind,
        ...(response.usage === undefined ? {} : { usage: response.usage })
      }
      const recorded = yield* Session.append(session, Entry.custom(DECISION_ENTRY, record, { author }))
      const next = choice === "done" ? Workflow.done : options.candidates[names.indexOf(choice)]!
      return { next, choice, reason, session: recorded } satisfies Decision<W>
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
): Workflow.Workflow<SelectorError | Workflow.ErrorOf<W>, Provider.Provider | Workflow.ContextOf<W>> =>
  Workflow.make(
    { name: selector.name, description: "Routes to the workflow a model chooses." },
    (session) => Effect.flatMap(selector(session), (decision) => decision.next(decision.session))
  )
