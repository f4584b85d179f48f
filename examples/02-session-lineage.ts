/**
 * 02 — Session lineage: fork, detach, merge, the lineage graph, and the JSONL codec.
 *
 * A session is a value. Forking it is O(1) and shares the history; merging two branches keeps
 * the common history once and records where everything came from.
 *
 * Run: npx tsx examples/02-session-lineage.ts
 */
import { Chunk, Effect } from "effect"
import { Entry, Session, SessionGraph } from "rath"

const program = Effect.gen(function*() {
  const task = yield* Session.fromUserMessage("Write a function that reverses a string.")

  // two independent attempts from the same starting point
  const a = yield* Session.fork(task).pipe(
    Effect.flatMap(Session.append(Entry.assistant({ text: "const reverse = (s) => [...s].reverse().join('')" })))
  )
  const b = yield* Session.fork(task).pipe(
    Effect.flatMap(Session.appendAll([
      Entry.assistant({ text: "const reverse = (s) => s.split('').reverse().join('')" }),
      Entry.check("handles emoji", false, { details: "splits surrogate pairs" })
    ]))
  )

  // merge: the task once, then each side's own entries, then a Merge entry
  const merged = yield* Session.merge(a, b)
  console.log(String(merged))

  // the lineage graph, as Mermaid
  const graph = SessionGraph.fromSessions([task, a, b, merged])
  console.log(SessionGraph.toMermaid(graph))

  // JSONL round trip: one line per entry, with a checksummed trailer
  const text = Session.toJsonl(merged)
  const { closed, session } = yield* Session.fromJsonl(text)
  console.log(
    `JSONL: ${text.split("\n").length - 1} lines, closed=${closed}, entries=${Chunk.size(Session.entries(session))}`
  )

  // detach: same entries, no lineage
  const copy = yield* Session.detach(merged)
  console.log(`detached ${copy.id}: parents=${JSON.stringify(copy.lineage.parents)}`)
})

Effect.runPromise(program)
