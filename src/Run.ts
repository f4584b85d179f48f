/**
 * The records that bracket an agent run in a session: the agent's spec at its start (a `Custom`
 * entry of type `rath.agent`: exactly which agent ran, with which tools, on which provider and
 * model) and why it ended (`rath.run.end`). Both are Schemas, read back with accessors that return
 * `Option` (an entry of another type, or one whose data does not decode, is `None`).
 *
 * `Agent` writes them and re-exports this module's names (`Agent.Spec`, `Agent.lastSpec`, ...);
 * `Model` reads the spec's tools to rebuild what an agent's turn was sent; `Resume` reads both to
 * find what a cut run left in flight.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Entry from "./Entry.js"
import * as Session from "./Session.js"

/**
 * The `Custom` entry type that records an agent's spec at the start of each run.
 *
 * @since 0.1.0
 * @category models
 */
export const SPEC_ENTRY = "rath.agent"

/**
 * The `Custom` entry type that records why a run ended.
 *
 * @since 0.1.0
 * @category models
 */
export const END_ENTRY = "rath.run.end"

/**
 * What a `rath.agent` entry records: exactly which agent ran.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Spec = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  /** `sha256:<hex>` of the instructions, or absent when the agent has none. */
  instructionsHash: Schema.optional(Schema.String),
  /** The tools every model call of the run offers (its turns record no tools of their own). */
  tools: Schema.Array(Entry.ToolDefinition),
  provider: Schema.String,
  host: Schema.optional(Schema.String),
  model: Schema.String,
  maxTurns: Schema.Number,
  budgetTokens: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Spec extends Schema.Schema.Type<typeof Spec> {}

/**
 * Why a run ended: the model stopped calling tools, `maxTurns` was reached, the budget could not
 * cover the next call, the run was interrupted, or it failed.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EndReason = Schema.Literal("stop", "max_turns", "budget", "interrupted", "error")

/**
 * @since 0.1.0
 * @category models
 */
export type EndReason = typeof EndReason.Type

/**
 * What a `rath.run.end` entry records.
 *
 * @since 0.1.0
 * @category schemas
 */
export const End = Schema.Struct({
  agent: Schema.String,
  reason: EndReason,
  /** Model calls made by this run. */
  turns: Schema.Number,
  detail: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface End extends Schema.Schema.Type<typeof End> {}

const decodeSpec = Schema.decodeUnknownOption(Spec)
const decodeEnd = Schema.decodeUnknownOption(End)

/**
 * Whether an entry is a run's spec record (by type; {@link spec} also decodes it).
 *
 * @since 0.1.0
 * @category guards
 */
export const isSpecEntry = (entry: Entry.Entry): entry is Entry.Custom =>
  entry._tag === "Custom" && entry.type === SPEC_ENTRY

/**
 * Whether an entry is a run's end record (by type; {@link end} also decodes it).
 *
 * @since 0.1.0
 * @category guards
 */
export const isEndEntry = (entry: Entry.Entry): entry is Entry.Custom =>
  entry._tag === "Custom" && entry.type === END_ENTRY

/**
 * The spec an entry records, if it is a `rath.agent` entry whose data decodes.
 *
 * @since 0.1.0
 * @category getters
 */
export const spec = (entry: Entry.Entry): Option.Option<Spec> =>
  isSpecEntry(entry) ? decodeSpec(entry.data) : Option.none()

/**
 * The end an entry records, if it is a `rath.run.end` entry whose data decodes.
 *
 * @since 0.1.0
 * @category getters
 */
export const end = (entry: Entry.Entry): Option.Option<End> => isEndEntry(entry) ? decodeEnd(entry.data) : Option.none()

/**
 * The spec recorded at the start of the latest run in a session (by any agent, or by the agent
 * named `agent`).
 *
 * @since 0.1.0
 * @category getters
 */
export const lastSpec = (session: Session.Session, agent?: string): Option.Option<Spec> => {
  for (const entry of Session.reverseEntries(session)) {
    if (!isSpecEntry(entry)) continue
    const found = spec(entry)
    if (agent === undefined || (Option.isSome(found) && found.value.name === agent)) return found
  }
  return Option.none()
}

/**
 * Why the latest run in a session ended, if it recorded it.
 *
 * @since 0.1.0
 * @category getters
 */
export const lastEnd = (session: Session.Session): Option.Option<End> =>
  Option.flatMap(Session.findLast(session, isEndEntry), end)

/**
 * The `Custom` entry draft of a spec.
 *
 * @since 0.1.0
 * @category constructors
 */
export const specEntry = (value: Spec, author: Entry.Author): Entry.DraftFor<"Custom"> =>
  customDraft(SPEC_ENTRY, value, author)

/**
 * The `Custom` entry draft of an end.
 *
 * @since 0.1.0
 * @category constructors
 */
export const endEntry = (value: End, author: Entry.Author): Entry.DraftFor<"Custom"> =>
  customDraft(END_ENTRY, value, author)

// `Entry.custom` as one literal (the same fields in the same order) when every field is set: a
// run makes these every time
const customDraft = (type: string, data: unknown, author: Entry.Author | undefined): Entry.DraftFor<"Custom"> =>
  author === undefined || data === undefined
    ? Entry.custom(type, data, author === undefined ? undefined : { author })
    : { _tag: "Custom", type, data, author } as Entry.DraftFor<"Custom">
