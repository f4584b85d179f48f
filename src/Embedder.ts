/**
 * Text embeddings, for hybrid memory recall. A service so that memory code never knows which
 * vendor computes the vectors; the OpenAI-compatible implementation lives with the providers.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category errors
 */
export class EmbedderError extends Schema.TaggedError<EmbedderError>("rath/EmbedderError")("EmbedderError", {
  reason: Schema.Literal("RequestFailed", "InvalidResponse", "DimensionMismatch"),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The model name, recorded with stored vectors so that vectors of different models never mix. */
  readonly model: string
  /** The vector length every call returns. */
  readonly dimensions: number
  /** One vector per text, in the order of the texts. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, EmbedderError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Embedder extends Context.Tag("rath/Embedder")<Embedder, Service>() {}
