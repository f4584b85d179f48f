/**
 * Running a stream cheaply.
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import type * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * Runs a stream chunk by chunk through a pull in a scope of its own. About twice as cheap per
 * model call as `Stream.runFold`/`runForEach`, which matters at a few hundred microseconds per turn.
 */
export const consume = <A, E>(
  stream: Stream.Stream<A, E>,
  onChunk: (chunk: Chunk.Chunk<A>) => Effect.Effect<void> | undefined
): Effect.Effect<void, E> =>
  Effect.acquireUseRelease(
    Scope.make(),
    (scope) =>
      // the channel's own pull in this scope (a chunk, or the stream's end as `Left`) skips the
      // `Option` wrapping of each pull that `Stream.toPull` adds and providing the scope
      Effect.flatMap(Channel.toPullIn(Stream.toChannel(stream), scope), (pull) => {
        const loop: Effect.Effect<void, E> = Effect.flatMap(pull, (next) => {
          if (next._tag === "Left") return Effect.void
          const effect = onChunk(next.right)
          return effect === undefined ? loop : Effect.zipRight(effect, loop)
        })
        return loop
      }),
    (scope, exit) => Scope.close(scope, exit)
  )
