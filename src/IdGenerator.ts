/**
 * Where rath's ids come from.
 *
 * Every session id and entry id is drawn from the `IdGenerator` reference. Its default draws on
 * Effect's `Clock` and `Random`, so ids sort by creation time and nothing in rath touches
 * `Date.now()` or `Math.random()`. Tests replace it with {@link sequential} for ids that are the
 * same on every run.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** A new id that starts with `prefix` and `_`; never the same twice for one generator. */
  readonly generate: (prefix: string) => Effect.Effect<string>
}

const RANDOM_SPAN = 2 ** 31 - 1

// a process-wide counter makes ids unique within a process even when Random is seeded alike
let counter = 0
// the time part of the last id (many ids are made within one millisecond)
let lastMillis = -1
let lastMillisText = ""
// the random part: drawn from a fiber's `Random` for every DRAW_EVERY ids (and whenever the fiber's
// `Random` is another service), so that most ids are made without running an effect. Time and the
// process counter already tell apart the ids of one process; the random part tells apart those of
// two processes that mint at the same millisecond with the same count.
const DRAW_EVERY = 256
let drawnFrom: Random.Random | undefined
let drawsLeft = 0
let drawnText = ""

const compose = (prefix: string, millis: number): string => {
  if (millis !== lastMillis) {
    lastMillis = millis
    lastMillisText = millis.toString(36).padStart(9, "0")
  }
  counter = (counter + 1) % 1_679_616 // 36^4
  return prefix + "_" + lastMillisText + counter.toString(36).padStart(4, "0") + drawnText
}

/**
 * The default generator's next id made at once, without an effect, from a fiber's services: when
 * the random part in use was drawn from the fiber's `Random` fewer than 256 ids ago. `undefined`
 * otherwise, and for any other generator (then run `generator.generate`). Minting runs on every
 * append and fork, where an effect per id was a measurable share of an agent's turn.
 *
 * @since 0.2.0
 * @category constructors
 */
export const unsafeGenerate = (
  generator: Service,
  prefix: string,
  services: Context.Context<DefaultServices.DefaultServices>
): string | undefined => {
  if (generator !== defaultService || drawsLeft === 0 || Context.get(services, Random.Random) !== drawnFrom) {
    return undefined
  }
  drawsLeft--
  return compose(prefix, Context.get(services, Clock.Clock).unsafeCurrentTimeMillis())
}

/**
 * The default generator: `<prefix>_<time><count><random>`: the `Clock`'s milliseconds in base 36
 * (so ids sort by creation time), a process-wide counter, and 31 bits from `Random` (drawn again
 * every 256 ids, and whenever the fiber's `Random` is another service).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultService: Service = {
  generate: (prefix) =>
    // the clock and random services read in one step from the fiber: this runs on every append
    Effect.withFiberRuntime((fiber) => {
      const services = fiber.currentDefaultServices
      const random = Context.get(services, Random.Random)
      if (drawsLeft > 0 && random === drawnFrom) {
        drawsLeft--
        return Effect.succeed(compose(prefix, Context.get(services, Clock.Clock).unsafeCurrentTimeMillis()))
      }
      return Effect.map(random.nextIntBetween(0, RANDOM_SPAN), (drawn) => {
        drawnFrom = random
        drawsLeft = DRAW_EVERY - 1
        drawnText = drawn.toString(36).padStart(6, "0")
        return compose(prefix, Context.get(services, Clock.Clock).unsafeCurrentTimeMillis())
      })
    })
}

/**
 * A deterministic generator for tests and replays: `<prefix>_<n>` with one counter per prefix,
 * zero-padded so that ids sort in creation order.
 *
 * @since 0.1.0
 * @category testing
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { IdGenerator, Session } from "rath"
 *
 * const program = Session.fromUserMessage("hi").pipe(
 *   Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
 * )
 * ```
 */
export const sequential = (options?: { readonly start?: number; readonly width?: number }): Service => {
  const counters = new Map<string, number>()
  const start = options?.start ?? 1
  const width = options?.width ?? 6
  return {
    generate: (prefix) =>
      Effect.sync(() => {
        const n = counters.get(prefix) ?? start
        counters.set(prefix, n + 1)
        return `${prefix}_${String(n).padStart(width, "0")}`
      })
  }
}

/**
 * The id source used by every rath constructor. A `Context.Reference`, so it needs no layer:
 * provide another with `Effect.provideService(IdGenerator, ...)`.
 *
 * @since 0.1.0
 * @category tags
 */
export class IdGenerator extends Context.Reference<IdGenerator>()("rath/IdGenerator", {
  defaultValue: () => defaultService
}) {}

/**
 * Draws a new id with the given prefix from the current generator.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generate = (prefix: string): Effect.Effect<string> =>
  Effect.flatMap(IdGenerator, (generator) => generator.generate(prefix))

/**
 * A layer with a fresh {@link sequential} generator.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSequential = (
  options?: { readonly start?: number; readonly width?: number }
): Layer.Layer<IdGenerator> => Layer.sync(IdGenerator, () => sequential(options))
