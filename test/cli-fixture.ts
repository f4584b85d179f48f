// Test data for the CLI and viewer tests: one multi-agent run built through the public Session
// API (a planner step, two coder attempts with tool evidence, a reviewer, a merge, compression
// and memory), written as JSONL files into a temporary directory.
import { FileSystem, Path } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import type { Console } from "effect"
import { Chunk, Effect, Layer, TestClock } from "effect"
import { Entry, IdGenerator, Placement, Session } from "rath"
import * as Cli from "../src/cli/Cli.js"

const coder: Entry.Author = { kind: "agent", name: "coder" }
const planner: Entry.Author = { kind: "agent", name: "planner" }
const reviewer: Entry.Author = { kind: "agent", name: "reviewer" }
const provider = { kind: "scripted", host: "localhost", requestId: "req_1" }
const usage = (input: number, output: number) => ({
  inputTokens: input,
  outputTokens: output,
  totalTokens: input + output
})

export const sandbox = Placement.make({ backend: "local", id: "sbx_1", workspace: "/tmp/ws" })

export interface Run {
  readonly root: Session.Session
  readonly plan: Session.Session
  readonly a: Session.Session
  readonly b: Session.Session
  readonly review: Session.Session
  readonly merged: Session.Session
  readonly all: ReadonlyArray<Session.Session>
}

/** Six sessions, six lineage edges: root -step-> plan -fork-> a, b, review; a + review -merge-> merged. */
export const buildRun: Effect.Effect<Run> = Effect.suspend(() =>
  build.pipe(
    // a fresh generator per run: the same ids every time
    Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
  )
)

const build: Effect.Effect<Run> = Effect.gen(function*() {
  const root = yield* Session.fromAgentPrompt({
    instructions: "You are the planner.",
    message: "Add a greet command",
    agent: "planner",
    placement: sandbox
  })
  yield* TestClock.adjust(1000)
  const plan = yield* Session.step(root, planner).pipe(
    Effect.flatMap(Session.appendAll([
      Entry.memory({
        operation: "recall",
        store: "sqlite",
        query: "greet command",
        hits: [{ id: "m_1", score: 0.82, text: "use effect/cli" }],
        namespace: undefined,
        written: undefined,
        author: planner
      }),
      Entry.assistant({
        text: "Plan: write src/greet.ts, then test it.",
        model: "scripted-1",
        provider,
        finishReason: "stop",
        usage: usage(120, 30),
        author: planner
      })
    ]))
  )
  yield* TestClock.adjust(1000)
  const a = yield* Session.fork(plan, { by: coder }).pipe(
    Effect.flatMap(Session.appendAll([
      Entry.assistant({
        text: "",
        toolCalls: [{
          id: "call_a",
          name: "write_file",
          arguments: "{\"path\":\"src/greet.ts\"}",
          parsed: { path: "src/greet.ts" }
        }],
        model: "scripted-1",
        provider,
        finishReason: "tool_calls",
        usage: usage(200, 40),
        author: coder
      }),
      Entry.toolResult({
        callId: "call_a",
        toolName: "write_file",
        output: { ok: true },
        sandbox,
        durationMs: 12,
        effects: [{ op: "write", path: "src/greet.ts", bytes: 88, sha256: "ab12cd34ef56ab12cd34ef56" }],
        author: { kind: "tool", name: "write_file" }
      }),
      Entry.check("tests", true, { details: { passed: 3 }, author: coder })
    ]))
  )
  yield* TestClock.adjust(1000)
  const b = yield* Session.fork(plan, { by: coder }).pipe(
    Effect.flatMap(Session.appendAll([
      Entry.assistant({
        text: "",
        toolCalls: [{ id: "call_b", name: "exec", arguments: "{\"cmd\":\"npm test\"}" }],
        model: "scripted-1",
        provider,
        finishReason: "tool_calls",
        usage: usage(210, 20),
        author: coder
      }),
      Entry.toolResult({
        callId: "call_b",
        toolName: "exec",
        output: null,
        error: { kind: "tool_failed", message: "exit 1" },
        sandbox,
        durationMs: 340,
        effects: [{ op: "exec", exitCode: 1 }],
        author: { kind: "tool", name: "exec" }
      }),
      Entry.check("tests", false, { details: { failed: 1 }, author: coder })
    ]))
  )
  yield* TestClock.adjust(1000)
  const review = yield* Session.fork(plan, { by: reviewer }).pipe(
    Effect.flatMap(Session.append(Entry.check("review", true, { author: reviewer })))
  )
  yield* TestClock.adjust(1000)
  const joined = yield* Effect.orDie(Session.merge(a, review, { author: { kind: "workflow", name: "join" } }))
  const covered = Chunk.toReadonlyArray(Session.entries(joined)).slice(4, 7).map((entry) => entry.id)
  const merged = yield* Session.appendAll(joined, [
    Entry.compression({
      covers: covered,
      text: "greet command written and reviewed",
      model: "scripted-1",
      usage: usage(50, 10)
    }),
    Entry.memory({
      operation: "commit",
      store: "sqlite",
      written: [{ id: "m_2", text: "greet lives in src/greet.ts" }],
      namespace: "project",
      query: undefined,
      hits: undefined
    })
  ])
  return { root, plan, a, b, review, merged, all: [root, plan, a, b, review, merged] }
})

/** Writes every session as `NN-<id>.jsonl` into a fresh temp directory (removed with the scope). */
export const writeRun = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const run = yield* buildRun
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-cli-" })
  const files: Record<string, string> = {}
  let i = 0
  for (const session of run.all) {
    const file = path.join(dir, `${String(i++).padStart(2, "0")}-${session.id}.jsonl`)
    yield* fs.writeFileString(file, Session.toJsonl(session))
    files[session.id] = file
  }
  return { run, dir, files }
})

export const platform = Layer.mergeAll(NodeContext.layer)

export interface Outcome {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `rath ...args` in-process, capturing what it prints and its exit code. */
export const rath = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    const base = yield* Effect.console
    const capture: Console.Console = {
      ...base,
      log: (...parts) => Effect.sync(() => void stdout.push(parts.join(" "))),
      error: (...parts) => Effect.sync(() => void stderr.push(parts.join(" ")))
    }
    const code = yield* Cli.main(["node", "rath", ...args]).pipe(Effect.withConsole(capture))
    const outcome: Outcome = { code, stdout: stdout.join("\n"), stderr: stderr.join("\n") }
    return outcome
  })
