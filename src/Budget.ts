/**
 * A token budget shared by everything a run does.
 *
 * A budget has a cap in tokens. Before each model call an agent reserves an estimate of what the
 * call will cost; when the answer arrives it settles the reservation with the usage the provider
 * reported. A reservation that does not fit ends the run (reason `"budget"`) or fails it, as the
 * agent is configured.
 *
 * The current budget is a `Context.Reference` (default: {@link unlimited}), so every agent,
 * fork and branch that runs inside a scope with a budget draws on that same budget: forks of a
 * run share their parent's budget without passing it by hand. A {@link child} budget has its own
 * cap and also charges its parent.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Provider from "./Provider.js"

/**
 * A held reservation: settle it once with the reported usage.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reservation {
  readonly tokens: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The cap in tokens (`Infinity` when unlimited). */
  readonly cap: number
  /** Reserves `tokens` if they fit under the cap with what is spent and reserved; `undefined` if not. */
  readonly reserve: (tokens: number) => Effect.Effect<Reservation | undefined>
  /** Replaces a reservation with the tokens actually used. */
  readonly settle: (reservation: Reservation, used: number) => Effect.Effect<void>
  /** Tokens settled so far. */
  readonly spent: Effect.Effect<number>
  /** Tokens left: the cap minus what is spent and reserved. */
  readonly remaining: Effect.Effect<number>
}

/**
 * A reservation did not fit: the work it was for (a model call) was not started.
 *
 * @since 0.1.0
 * @category errors
 */
export class BudgetError extends Schema.TaggedError<BudgetError>("rath/BudgetError")("BudgetError", {
  reason: Schema.Literal("Exceeded"),
  /** The budget's cap in tokens. */
  cap: Schema.Number,
  /** What the reservation asked for. */
  needed: Schema.Number
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `the budget of ${this.cap} tokens cannot cover about ${this.needed} more tokens`
  }
}

/**
 * A budget that never runs out.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unlimited: Service = {
  cap: Infinity,
  reserve: (tokens) => Effect.succeed({ tokens }),
  settle: () => Effect.void,
  spent: Effect.succeed(0),
  remaining: Effect.succeed(Infinity)
}

/**
 * The budget in effect. Default: {@link unlimited}.
 *
 * @since 0.1.0
 * @category tags
 */
export class Budget extends Context.Reference<Budget>()("rath/Budget", {
  defaultValue: (): Service => unlimited
}) {}

/**
 * A budget of `tokens`. With a `parent`, every reservation must also fit the parent's budget and
 * is charged to it as well.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Budget } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* Budget.make({ tokens: 1000 })
 *   const held = yield* budget.reserve(600)
 *   if (held !== undefined) yield* budget.settle(held, 420)
 *   console.log(yield* budget.remaining) // 580
 * })
 * ```
 */
export const make = (options: { readonly tokens: number; readonly parent?: Service | undefined }): Effect.Effect<
  Service
> =>
  Effect.map(Ref.make({ spent: 0, reserved: 0 }), (state): Service => {
    const cap = options.tokens
    const parent = options.parent
    const reserveHere = (tokens: number) =>
      Ref.modify(state, (s) =>
        s.spent + s.reserved + tokens <= cap
          ? [true, { spent: s.spent, reserved: s.reserved + tokens }] as const
          : [false, s] as const)
    return {
      cap,
      reserve: (tokens) =>
        Effect.gen(function*() {
          if (!(yield* reserveHere(tokens))) return undefined
          if (parent !== undefined) {
            const upstream = yield* parent.reserve(tokens)
            if (upstream === undefined) {
              yield* Ref.update(state, (s) => ({ spent: s.spent, reserved: s.reserved - tokens }))
              return undefined
            }
            return { tokens, upstream } as Reservation
          }
          return { tokens }
        }),
      settle: (reservation, used) =>
        Effect.gen(function*() {
          yield* Ref.update(
            state,
            (s) => ({ spent: s.spent + used, reserved: Math.max(0, s.reserved - reservation.tokens) })
          )
          const upstream = (reservation as { readonly upstream?: Reservation }).upstream
          if (parent !== undefined && upstream !== undefined) yield* parent.settle(upstream, used)
        }),
      spent: Effect.map(Ref.get(state), (s) => s.spent),
      remaining: Effect.map(Ref.get(state), (s) => Math.max(0, cap - s.spent - s.reserved))
    }
  })

/**
 * A budget of `tokens` that also charges the budget currently in effect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const child = (tokens: number): Effect.Effect<Service> =>
  Effect.flatMap(Budget, (parent) => make({ tokens, parent: parent === unlimited ? undefined : parent }))

/**
 * Provides a budget of `tokens` to everything built on this layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (tokens: number): Layer.Layer<never> =>
  Layer.effectContext(Effect.map(make({ tokens }), (budget) => Context.make(Budget, budget)))

/**
 * Runs an effect with a budget of `tokens` (a {@link child} of the current one).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBudget: {
  (tokens: number): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, tokens: number): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, tokens: number): Effect.Effect<A, E, R> =>
    Effect.flatMap(child(tokens), (budget) => Effect.provideService(self, Budget, budget))
)

/**
 * Runs `use` holding a reservation of `tokens`, in one bracket: the reservation is made first
 * (a `BudgetError` when it does not fit, and `use` does not run), and settled however `use` ends,
 * with `used(exit)` tokens: on success what was reported, on a failure or an interruption what
 * `used` says (what a call reported before it was cut, or 0). Nothing stays reserved.
 *
 * @since 0.1.0
 * @category combinators
 */
export const reserving = <A, E, R>(
  budget: Service,
  tokens: number,
  use: Effect.Effect<A, E, R>,
  used: (exit: Exit.Exit<A, E>) => number
): Effect.Effect<A, E | BudgetError, R> =>
  budget === unlimited ? use : Effect.acquireUseRelease(
    Effect.flatMap(budget.reserve(tokens), (reservation) =>
      reservation === undefined
        ? Effect.fail(new BudgetError({ reason: "Exceeded", cap: budget.cap, needed: tokens }))
        : Effect.succeed(reservation)),
    () => use,
    (reservation, exit) => budget.settle(reservation, used(exit))
  )

/**
 * A rough token estimate of a request (characters / 4 of every message and tool schema), used to
 * reserve before a model call.
 *
 * @since 0.1.0
 * @category getters
 */
export const estimate = (request: Provider.Request): number => {
  let chars = 0
  for (const message of request.messages) chars += messageChars(message)
  for (const tool of request.tools ?? []) {
    chars += tool.name.length + tool.description.length + JSON.stringify(tool.parameters).length
  }
  return Math.ceil(chars / 4)
}

const messageChars = (message: Provider.Message): number => {
  switch (message._tag) {
    case "Assistant": {
      let n = message.text.length
      for (const call of message.toolCalls) n += call.name.length + call.arguments.length
      return n
    }
    case "ToolResult":
      return (JSON.stringify(message.output) ?? "").length + (message.error?.message.length ?? 0)
    default:
      return message.text.length
  }
}
