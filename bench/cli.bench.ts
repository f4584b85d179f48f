/**
 * Faces costs: rendering the viewer page, the lineage tree and `explain` for a run of many
 * sessions, and reading a directory of JSONL files as the CLI does. One JSON line per measurement.
 */
import { FileSystem } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Chunk, Effect } from "effect"
import * as Render from "../src/cli/Render.js"
import * as Source from "../src/cli/Source.js"
import { Entry, IdGenerator, Placement, Session, SessionGraph, Viewer } from "../src/index.js"

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const time = <A>(n: number, f: () => A) => {
  const samples: Array<number> = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    f()
    samples.push(performance.now() - started)
  }
  return { n, medianMs: Number(median(samples).toFixed(3)) }
}

const sandbox = Placement.make({ backend: "local", id: "sbx_bench", workspace: "/tmp/ws" })
const usage = { inputTokens: 100, outputTokens: 20, totalTokens: 120 }

/** A root, `forks` attempts of `steps` tool rounds each, and a merge of every pair of attempts. */
const makeRun = (forks: number, steps: number) =>
  Effect.gen(function*() {
    const root = yield* Session.fromAgentPrompt({ instructions: "plan", message: "go", agent: "planner" })
    const attempts: Array<Session.Session> = []
    for (let i = 0; i < forks; i++) {
      let s = yield* Session.fork(root, { by: { kind: "agent", name: `coder${i}` } })
      for (let j = 0; j < steps; j++) {
        s = yield* Session.appendAll(s, [
          Entry.assistant({
            text: "",
            toolCalls: [{ id: `c${j}`, name: "write_file", arguments: `{"path":"f${j}"}` }],
            model: "m",
            usage
          }),
          Entry.toolResult({
            callId: `c${j}`,
            toolName: "write_file",
            output: { ok: true },
            sandbox,
            durationMs: 3,
            effects: [{ op: "write", path: `f${j}`, bytes: 10 }]
          })
        ])
      }
      attempts.push(yield* Session.append(s, Entry.check("tests", i % 3 !== 0)))
    }
    const merges: Array<Session.Session> = []
    for (let i = 0; i + 1 < attempts.length; i += 2) {
      merges.push(yield* Effect.orDie(Session.merge(attempts[i]!, attempts[i + 1]!)))
    }
    return [root, ...attempts, ...merges]
  }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential()))

const program = Effect.gen(function*() {
  for (const [forks, steps] of [[10, 10], [100, 10], [400, 5]] as const) {
    const sessions = yield* makeRun(forks, steps)
    const entries = sessions.reduce((sum, s) => sum + s.length - s.base, 0)
    const shape = { sessions: sessions.length, ownEntries: entries }
    let page = ""
    const html = time(5, () => (page = Viewer.html(sessions)))
    console.log(JSON.stringify({ workload: "viewer-html", ...shape, bytes: page.length, ...html }))
    const graph = SessionGraph.fromSessions(sessions)
    const facts = new Map(sessions.map((s) => [s.id as string, Render.facts(s)]))
    console.log(JSON.stringify({ workload: "cli-tree", ...shape, ...time(5, () => Render.tree(graph, facts)) }))
    const merged = sessions[sessions.length - 1]!
    const byId = new Map(sessions.map((s) => [s.id as string, s]))
    console.log(
      JSON.stringify({
        workload: "cli-explain",
        entries: merged.length,
        calls: Chunk.size(Chunk.filter(Session.entries(merged), Entry.is("Assistant"))),
        ...time(5, () => Render.explainText(Render.explain(merged, graph, byId)))
      })
    )
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-bench-cli-" })
    for (const s of sessions) yield* fs.writeFileString(`${dir}/${s.id}.jsonl`, Session.toJsonl(s))
    const samples: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      yield* Source.fromPath(dir)
      samples.push(performance.now() - started)
    }
    console.log(
      JSON.stringify({ workload: "cli-read-directory", ...shape, n: 3, medianMs: Number(median(samples).toFixed(3)) })
    )
  }
}).pipe(Effect.scoped, Effect.provide(NodeContext.layer))

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
