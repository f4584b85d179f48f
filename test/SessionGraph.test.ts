import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { Entry, IdGenerator, Session, SessionGraph } from "rath"

const id = (s: string) => Entry.SessionId.make(s)
const row = (name: string, parents: Array<string>, operation: Session.Operation = "fork"): SessionGraph.Row => ({
  id: id(name),
  parents: parents.map((parent) => id(parent)),
  operation: parents.length === 0 ? "root" : operation,
  createdAt: 0
})

describe("SessionGraph", () => {
  it("ancestors of the chain a <- b <- c from c are (b, a); descendants of a are (b, c)", () => {
    const graph = SessionGraph.fromRows([row("a", []), row("b", ["a"]), row("c", ["b"])])
    assert.deepStrictEqual<ReadonlyArray<string>>(SessionGraph.ancestors(graph, id("c")), ["b", "a"])
    assert.deepStrictEqual<ReadonlyArray<string>>(SessionGraph.descendants(graph, id("a")), ["b", "c"])
    assert.deepStrictEqual<ReadonlyArray<string>>(SessionGraph.roots(graph), ["a"])
  })

  it("ancestors of a merge are nearest first, each once", () => {
    const graph = SessionGraph.fromRows([
      row("root", []),
      row("left", ["root"]),
      row("right", ["root"]),
      row("merged", ["left", "right"], "merge")
    ])
    assert.deepStrictEqual<ReadonlyArray<string>>(SessionGraph.ancestors(graph, id("merged")), [
      "left",
      "right",
      "root"
    ])
    assert.deepStrictEqual<ReadonlyArray<string>>(
      SessionGraph.edges(graph).filter((e) => e.to === "merged").map((e) => e.from),
      [
        "left",
        "right"
      ]
    )
  })

  it("a self-parent is a cycle; a longer cycle is named; a missing parent is its own error", () => {
    const self = SessionGraph.validateAcyclic(SessionGraph.fromRows([row("a", ["a"])]))
    assert.isTrue(Either.isLeft(self) && self.left.reason === "Cycle")
    const loop = SessionGraph.validateAcyclic(
      SessionGraph.fromRows([row("a", ["c"]), row("b", ["a"]), row("c", ["b"])])
    )
    assert.isTrue(Either.isLeft(loop) && loop.left.reason === "Cycle" && loop.left.sessions.length === 4)
    const missing = SessionGraph.validateAcyclic(SessionGraph.fromRows([row("b", ["a"])]))
    assert.isTrue(Either.isLeft(missing) && missing.left.reason === "MissingParent")
    assert.isTrue(Either.isRight(SessionGraph.validateAcyclic(SessionGraph.fromRows([row("a", []), row("b", ["a"])]))))
  })

  it.effect("from session values: lineage of forks and merges, exported as JSONL, Mermaid and DOT", () =>
    Effect.gen(function*() {
      const root = yield* Session.fromUserMessage("task")
      const a = yield* Session.fork(root)
      const b = yield* Session.fork(root)
      const merged = yield* Session.merge(a, b)
      const graph = SessionGraph.fromSessions([root, a, b, merged])
      assert.deepStrictEqual<ReadonlyArray<string>>(SessionGraph.ancestors(graph, merged.id), [a.id, b.id, root.id])

      const jsonl = SessionGraph.toJsonl(graph)
      assert.strictEqual(jsonl.trimEnd().split("\n").length, 4)
      const back = SessionGraph.fromJsonl(jsonl)
      assert.isTrue(Either.isRight(back))
      if (Either.isRight(back)) {
        assert.deepStrictEqual(Array.from(back.right.rows.values()), Array.from(graph.rows.values()))
      }

      const mermaid = SessionGraph.toMermaid(graph)
      assert.match(mermaid, /^flowchart TD/)
      assert.strictEqual(mermaid.match(/-->\|fork\|/g)?.length, 2)
      assert.strictEqual(mermaid.match(/-->\|merge\|/g)?.length, 2)
      assert.include(mermaid, `${merged.id}: merge`)

      const dot = SessionGraph.toDot(graph)
      assert.match(dot, /^digraph lineage \{/)
      assert.include(dot, `"${root.id}" -> "${a.id}" [label="fork"];`)
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))

  it("a corrupt JSONL row is an error naming its line", () => {
    const result = SessionGraph.fromJsonl(`${JSON.stringify(row("a", []))}\n{"id":1}\n`)
    assert.isTrue(Either.isLeft(result) && result.left.reason === "CorruptLine" && result.left.line === 2)
  })

  it("DOT and Mermaid escape quotes in labels", () => {
    const graph = SessionGraph.fromRows([{ ...row("a\"b", []), by: { kind: "agent", name: "q\"x" } }])
    assert.include(SessionGraph.toDot(graph), "\"a\\\"b\"")
    assert.notInclude(SessionGraph.toMermaid(graph), "q\"x")
  })
})
