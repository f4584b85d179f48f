/**
 * The values `Memory.ts` and its SQLite backend both need: the stored `Item` schema and
 * `MemoryError`. They live here, below both, so that neither imports the other back;
 * `Memory.ts` re-exports them unchanged.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import * as Entry from "../Entry.js"

/**
 * One stored memory. `source` says where it came from (free text such as `session:<id>` or a
 * URL); a committed memory also carries the `sessionId` and the `entryIds` it was made from.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Item = Schema.Struct({
  id: Schema.String,
  namespace: Schema.String,
  text: Schema.String,
  source: Schema.optional(Schema.String),
  sessionId: Schema.optional(Schema.String),
  entryIds: Schema.Array(Schema.String),
  metadata: Schema.Record({ key: Schema.String, value: Entry.Json }),
  createdAt: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Item extends Schema.Schema.Type<typeof Item> {}

/**
 * A failed memory operation. `reason`:
 * - `StoreFailed`: the store cannot be opened, read or written (a path that is a directory or a
 *   dangling symlink, a read-only file or directory, a full disk, a lock held too long); `detail`
 *   ends with what went wrong;
 * - `Corrupt`: the file is not an SQLite database, or is damaged or truncated;
 * - `EmbedFailed`: the embedder failed or returned the wrong shape (nothing is stored);
 * - `InvalidRequest`: an empty namespace or text, `k` not a positive integer, a recall with no query;
 * - `ReplayDiverged`: under `Replay`, the re-run asked a memory operation the recording does not
 *   have, or the recorded one was edited (the `cause` is the `Replay.ReplayError`).
 *
 * @since 0.1.0
 * @category errors
 */
export class MemoryError extends Schema.TaggedError<MemoryError>("rath/MemoryError")("MemoryError", {
  reason: Schema.Literal("StoreFailed", "Corrupt", "EmbedFailed", "InvalidRequest", "ReplayDiverged"),
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
