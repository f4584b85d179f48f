/**
 * The cache behind `Session.entries`: a chain's entries, oldest first, by its head node, held
 * weakly (a node no session holds any more takes its entries with it) and shared by every session
 * with that head.
 *
 * `Session.entries` fills it on first use, walking the chain back from its head. A store that
 * rebuilds a whole chain oldest first (the SQLite store's load) has every entry in hand, in order,
 * as it links them: it hands them over here ({@link prime}), so the first `Session.entries` of a
 * loaded session walks nothing.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import type * as Entry from "../Entry.js"

/** A node of the chain, as far as this cache needs it (`Session.Node`). */
interface Head {
  readonly length: number
}

const materialized = new WeakMap<Head, Chunk.Chunk<Entry.Entry>>()

/** The entries cached for the chain ending at `head`, if any. */
export const get = (head: Head): Chunk.Chunk<Entry.Entry> | undefined => materialized.get(head)

/** Caches the entries of the chain ending at `head`. */
export const set = (head: Head, entries: Chunk.Chunk<Entry.Entry>): void => {
  materialized.set(head, entries)
}

/**
 * Caches `entries` (oldest first, the array handed over and never changed again) as the chain
 * ending at `head`, when they are exactly its `head.length` entries; an existing cache entry
 * stays.
 */
export const prime = (head: Head, entries: Array<Entry.Entry>): void => {
  if (entries.length !== head.length || materialized.has(head)) return
  materialized.set(head, Chunk.unsafeFromArray(entries))
}
