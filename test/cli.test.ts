import { FileSystem, Path } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Equal, Option, Schema, TestClock, TestContext } from "effect"
import { execFile } from "node:child_process"
import type { SessionStore } from "rath"
import { Agent, Entry, Provider, Scripted, Session, Tool } from "rath"
import * as Cli from "../src/cli/Cli.js"
import * as Demo from "../src/cli/demo.js"
import * as Source from "../src/cli/Source.js"
import { rath, writeRun } from "./cli-fixture.js"
import * as DemoServer from "./demo-server.js"

const lines = (text: string) => text.split("\n")

layer(NodeContext.layer)("rath CLI", (it) => {
  describe("graph", () => {
    it.scoped("draws the lineage of a directory as a tree: forks, the merge once in full, check marks", () =>
      Effect.gen(function*() {
        const { dir, run } = yield* writeRun
        const out = yield* rath("graph", dir)
        assert.strictEqual(out.code, 0, out.stderr)
        const text = out.stdout
        for (const session of run.all) assert.include(text, session.id)
        assert.strictEqual(lines(text)[0]!.startsWith(`${run.root.id}  root`), true)
        assert.include(text, `${run.merged.id}  merge of ${run.a.id} + ${run.review.id} by workflow:join`)
        assert.include(text, `${run.merged.id}  (merge, shown above)`)
        assert.include(text, "✗ tests")
        assert.include(text, "✓ review")
        assert.strictEqual(lines(text).length, 7)
      }))

    it.scoped("prints JSON, Mermaid and DOT, and narrows to one run when given an id in --store", () =>
      Effect.gen(function*() {
        const { dir, run } = yield* writeRun
        const json = yield* rath("graph", dir, "--format", "json")
        assert.strictEqual(json.code, 0, json.stderr)
        const parsed = JSON.parse(json.stdout) as {
          sessions: Array<{ id: string }>
          edges: Array<{ from: string; to: string; operation: string }>
        }
        assert.strictEqual(parsed.sessions.length, 6)
        assert.deepStrictEqual(parsed.edges.map((edge) => edge.operation).sort(), [
          "fork",
          "fork",
          "fork",
          "merge",
          "merge",
          "step"
        ])
        const mermaid = yield* rath("graph", dir, "-f", "mermaid")
        assert.strictEqual(mermaid.stdout.startsWith("flowchart TD"), true)
        assert.strictEqual((mermaid.stdout.match(/-->\|/g) ?? []).length, 6)
        const dot = yield* rath("graph", dir, "--format", "dot")
        assert.strictEqual(dot.stdout.startsWith("digraph lineage {"), true)
        const byId = yield* rath("graph", run.b.id, "--store", dir, "--format", "json")
        assert.strictEqual(byId.code, 0, byId.stderr)
        assert.strictEqual((JSON.parse(byId.stdout) as { sessions: Array<unknown> }).sessions.length, 6)
      }))

    it.scoped("a single file: its parents are named but not loaded", () =>
      Effect.gen(function*() {
        const { files, run } = yield* writeRun
        const out = yield* rath("graph", files[run.merged.id]!)
        assert.strictEqual(out.code, 0, out.stderr)
        assert.deepStrictEqual(lines(out.stdout).map((line) => line.split("  ")[0]), [
          run.a.id,
          `└─ ${run.merged.id}`,
          run.review.id,
          `└─ ${run.merged.id}`
        ])
        assert.include(out.stdout, `${run.a.id}  (not loaded)`)
      }))

    it.scoped("writes the self-contained HTML viewer", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { dir, run } = yield* writeRun
        const file = path.join(dir, "view.html")
        const out = yield* rath("graph", dir, "--format", "html", "--out", file)
        assert.strictEqual(out.code, 0, out.stderr)
        assert.include(out.stdout, "6 sessions")
        const page = yield* fs.readFileString(file)
        assert.strictEqual((page.match(/<g class="node /g) ?? []).length, 6)
        assert.include(page, `data-id="${run.merged.id}"`)
        // self-contained: nothing is fetched
        assert.notMatch(page, /<link|<img|\bsrc=|@import|url\(http/)
      }))
  })

  describe("show", () => {
    it.scoped("prints entries with authors, tool evidence and usage", () =>
      Effect.gen(function*() {
        const { files, run } = yield* writeRun
        const out = yield* rath("show", files[run.a.id]!)
        assert.strictEqual(out.code, 0, out.stderr)
        assert.include(out.stdout, `session ${run.a.id}`)
        assert.include(out.stdout, "fork of")
        assert.include(out.stdout, "7 (4 inherited, 3 own)")
        assert.include(out.stdout, "own 240 tok (in 200, out 40); with history 390 tok")
        assert.include(out.stdout, "tool:write_file")
        assert.include(out.stdout, "ran on local:sbx_1 (/tmp/ws) in 12 ms")
        assert.include(out.stdout, "effect: write src/greet.ts (88 B, sha256 ab12cd34ef56)")
        assert.include(out.stdout, "hit m_1 score 0.820: use effect/cli")
      }))

    it.scoped("--json gives every entry in wire form and the usage", () =>
      Effect.gen(function*() {
        const { files, run } = yield* writeRun
        const out = yield* rath("show", files[run.merged.id]!, "--json")
        assert.strictEqual(out.code, 0, out.stderr)
        const parsed = JSON.parse(out.stdout) as {
          id: string
          base: number
          entries: Array<{ _tag: string }>
          usage: { inclusive: { totalTokens: number } }
        }
        assert.strictEqual(parsed.id, run.merged.id)
        assert.strictEqual(parsed.entries.length, run.merged.length)
        assert.deepStrictEqual(parsed.entries.slice(-3).map((entry) => entry._tag), ["Merge", "Compression", "Memory"])
        assert.strictEqual(parsed.usage.inclusive.totalTokens, Session.usage(run.merged).inclusive!.totalTokens)
      }))
  })

  describe("diff", () => {
    it.scoped("shows the entries each side added since the common ancestor", () =>
      Effect.gen(function*() {
        const { files, run } = yield* writeRun
        const out = yield* rath("diff", files[run.a.id]!, files[run.b.id]!, "--json")
        assert.strictEqual(out.code, 0, out.stderr)
        const parsed = JSON.parse(out.stdout) as {
          common: string
          shared: number
          onlyA: Array<{ _tag: string }>
          onlyB: Array<{ _tag: string; passed?: boolean }>
        }
        assert.strictEqual(parsed.shared, run.plan.length)
        assert.strictEqual(
          parsed.common,
          Session.head(run.plan).pipe((head) => head._tag === "Some" ? head.value.id : "")
        )
        assert.deepStrictEqual(parsed.onlyA.map((entry) => entry._tag), ["Assistant", "ToolResult", "Check"])
        assert.strictEqual(parsed.onlyB[2]!.passed, false)
        const text = yield* rath("diff", run.a.id, run.b.id, "--store", files[run.a.id]!.replace(/\/[^/]+$/, ""))
        assert.strictEqual(text.code, 0, text.stderr)
        assert.include(text.stdout, "common ancestor: entry")
        assert.include(text.stdout, "exec failed (tool_failed): exit 1")
      }))
  })

  describe("explain", () => {
    it.scoped("answers the five questions, tracing the lineage through the store", () =>
      Effect.gen(function*() {
        const { dir, files, run } = yield* writeRun
        const out = yield* rath("explain", files[run.merged.id]!, "--store", dir)
        assert.strictEqual(out.code, 0, out.stderr)
        const text = out.stdout
        for (
          const heading of [
            "1. What the model saw at each call",
            "2. Which provider and model answered",
            "3. Where each tool ran",
            "4. What changed",
            "5. Where the final state came from"
          ]
        ) assert.include(text, heading)
        // an agent is sent its own instructions, not the planner's
        assert.match(text, /call 2 -> e_\d+ \(turn by agent:coder\): sent 2 messages\n/)
        assert.include(text, "[assistant] Plan: write src/greet.ts, then test it.")
        assert.include(text, "scripted@localhost, model scripted-1, finish tool_calls, 240 tok")
        assert.match(text, /write_file: local:sbx_1 \(\/tmp\/ws\), 12 ms, ok/)
        assert.match(text, /write_file: write src\/greet\.ts \(88 B/)
        assert.include(text, `<- ${run.a.id}: fork of ${run.plan.id} by agent:coder, added 3 of the 11 entries`)
        assert.include(text, `<- ${run.root.id}: root, added 2 of the 11 entries`)
      }))

    it.scoped("rebuilds what real agents were sent and checks it against the recorded request fingerprints", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-cli-agent-" })
        const wordCount = Tool.make({
          name: "word_count",
          description: "Counts words",
          parameters: Schema.Struct({ text: Schema.String }),
          handler: ({ text }) => Effect.succeed({ words: text.split(" ").length })
        })
        const planner = Agent.make({ name: "planner", instructions: "Plan in one line." })
        const counter = Agent.make({ name: "counter", instructions: "Count with word_count.", tools: [wordCount] })
        const script = (request: Provider.Request) =>
          request.tools === undefined
            ? Scripted.reply("Plan: count the words.")
            : request.messages.some((message) => message._tag === "ToolResult")
            ? Scripted.reply("Three words.")
            : Scripted.toolCall("word_count", { text: "one two three" })
        const session = yield* Session.fromUserMessage("How many words in 'one two three'?").pipe(
          Effect.flatMap((s) => planner(s)),
          Effect.flatMap((s) => counter(s)),
          Effect.provide(Scripted.layer(script))
        )
        const file = path.join(dir, "agents.jsonl")
        yield* fs.writeFileString(file, Session.toJsonl(session))
        const out = yield* rath("explain", file, "--json")
        assert.strictEqual(out.code, 0, out.stderr)
        const parsed = JSON.parse(out.stdout) as {
          calls: Array<
            { author: { name: string }; verified: boolean | null; sent: Array<{ _tag: string; text?: string }> }
          >
        }
        assert.deepStrictEqual(parsed.calls.map((call) => [call.author.name, call.verified]), [
          ["planner", true],
          ["counter", true],
          ["counter", true]
        ])
        // the counter was sent its own instructions first, not the planner's
        assert.strictEqual(parsed.calls[1]!.sent[0]!.text, "Count with word_count.")
        assert.isFalse(parsed.calls[1]!.sent.some((message) => message.text === "Plan in one line."))
        const text = yield* rath("explain", file)
        assert.include(text.stdout, "(matches the recorded request fingerprint)")
        assert.notInclude(text.stdout, "does NOT match")
      }))

    it.scoped("clips messages to one line unless --full", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { dir, run } = yield* writeRun
        const long = "word ".repeat(60).trim()
        const session = yield* Session.fork(run.plan).pipe(
          Effect.flatMap(Session.appendAll([Entry.user(long), Entry.assistant({ text: "ok", model: "m" })])),
          Effect.provide(TestContext.TestContext)
        )
        const file = path.join(dir, "long.jsonl")
        yield* fs.writeFileString(file, Session.toJsonl(session))
        const clipped = yield* rath("explain", file)
        assert.include(clipped.stdout, "[user] word word")
        assert.notInclude(clipped.stdout, long)
        assert.include(clipped.stdout, "…")
        const full = yield* rath("explain", file, "--full")
        assert.include(full.stdout, `[user] ${long}`)
      }))

    it.scoped("--json: the transcript sent at each call and the tool evidence", () =>
      Effect.gen(function*() {
        const { dir, run } = yield* writeRun
        const out = yield* rath("explain", run.b.id, "--store", dir, "--json")
        assert.strictEqual(out.code, 0, out.stderr)
        const parsed = JSON.parse(out.stdout) as {
          calls: Array<{ sent: Array<{ _tag: string }>; model: string }>
          tools: Array<{ tool: string; sandbox: { id: string }; error: { kind: string }; effects: Array<unknown> }>
          ancestry: Array<{ id: string; contributed: number }>
        }
        assert.deepStrictEqual(parsed.calls.map((call) => call.sent.map((entry) => entry._tag)), [
          ["System", "User"],
          ["User", "Assistant"]
        ])
        assert.strictEqual(parsed.tools[0]!.sandbox.id, "sbx_1")
        assert.strictEqual(parsed.tools[0]!.error.kind, "tool_failed")
        assert.deepStrictEqual(parsed.ancestry.map((step) => [step.id, step.contributed]), [
          [run.b.id, 3],
          [run.plan.id, 2],
          [run.root.id, 2]
        ])
      }))
  })

  describe("sessions list and export", () => {
    it.scoped("lists with filters, and exports JSONL that reads back as the same session", () =>
      Effect.gen(function*() {
        const { dir, run } = yield* writeRun
        const forks = yield* rath("sessions", "list", dir, "--operation", "fork", "--json")
        assert.strictEqual(forks.code, 0, forks.stderr)
        assert.deepStrictEqual((JSON.parse(forks.stdout) as Array<{ id: string }>).map((row) => row.id), [
          run.a.id,
          run.b.id,
          run.review.id
        ])
        const byReviewer = yield* rath("sessions", "list", "--store", dir, "--by", "reviewer")
        assert.strictEqual(lines(byReviewer.stdout).length, 1)
        assert.include(byReviewer.stdout, run.review.id)
        const exported = yield* rath("export", run.merged.id, "--store", dir)
        assert.strictEqual(exported.code, 0, exported.stderr)
        const decoded = yield* Session.fromJsonl(exported.stdout + "\n")
        assert.strictEqual(decoded.closed, true)
        assert.isTrue(Equal.equals(decoded.session, run.merged))
      }))
  })

  describe("sessions list filters", () => {
    const ids = (out: { stdout: string }) => (JSON.parse(out.stdout) as Array<{ id: string }>).map((row) => row.id)

    it.scoped("--since/--until/--agent/--parent/--text/--limit go to the store's query; files answer alike", () =>
      Effect.gen(function*() {
        const path = yield* Path.Path
        const { dir, files, run } = yield* writeRun
        const db = path.join(dir, "store", "rath.db")
        for (const session of run.all) yield* rath("import", files[session.id]!, "--store", db)
        // a store that records the filters it is asked for
        const asked: Array<SessionStore.ListOptions | undefined> = []
        const spying = (...args: ReadonlyArray<string>) =>
          rath(...args).pipe(
            Effect.provideService(Cli.StoreOpener, (storePath) =>
              Effect.map(Source.openSqlite(storePath), (store) =>
                Source.fromStore(storePath, {
                  ...store,
                  list: (options) =>
                    Effect.zipRight(
                      Effect.sync(() =>
                        void asked.push(options)
                      ),
                      store.list(options)
                    )
                })))
          )
        const iso = (millis: number) => new Date(millis).toISOString()
        const expect = (keep: (session: Session.Session) => boolean) => run.all.filter(keep).map((s) => s.id)

        const window = yield* spying(
          "sessions",
          "list",
          "--store",
          db,
          "--json",
          "--since",
          iso(run.a.lineage.createdAt),
          "--until",
          iso(run.review.lineage.createdAt)
        )
        assert.strictEqual(window.code, 0, window.stderr)
        assert.deepStrictEqual(ids(window), [run.a.id, run.b.id])
        assert.deepStrictEqual(asked.at(-1), {
          since: run.a.lineage.createdAt,
          until: run.review.lineage.createdAt,
          agent: undefined,
          parent: undefined,
          text: undefined,
          limit: undefined
        })

        const coder = yield* spying("sessions", "list", "--store", db, "--json", "--agent", "coder")
        assert.deepStrictEqual(ids(coder), expect((s) => s.lineage.by?.name === "coder"))
        assert.deepStrictEqual(ids(coder), [run.a.id, run.b.id])
        const children = yield* spying("sessions", "list", "--store", db, "--json", "--parent", run.plan.id)
        assert.deepStrictEqual(ids(children), [run.a.id, run.b.id, run.review.id])
        assert.strictEqual(asked.at(-1)?.parent, run.plan.id)
        // text is searched in every entry of a session's history, case-insensitively
        const text = yield* spying("sessions", "list", "--store", db, "--json", "--text", "PLAN: write")
        assert.deepStrictEqual(ids(text), run.all.slice(1).map((s) => s.id))
        const limited = yield* spying("sessions", "list", "--store", db, "--json", "--limit", "2")
        assert.deepStrictEqual(ids(limited), [run.root.id, run.plan.id])
        assert.strictEqual(asked.at(-1)?.limit, 2)
        // --operation is applied after the query, so the limit is too
        const forks = yield* spying("sessions", "list", "--store", db, "--json", "--operation", "fork", "--limit", "2")
        assert.deepStrictEqual(ids(forks), [run.a.id, run.b.id])
        assert.isUndefined(asked.at(-1)?.limit)

        // a directory of files gives the same answers, filtered in memory
        const fromFiles = yield* rath("sessions", "list", dir, "--json", "--parent", run.plan.id, "--agent", "coder")
        assert.deepStrictEqual(ids(fromFiles), [run.a.id, run.b.id])
        const none = yield* rath("sessions", "list", dir, "--text", "nowhere to be found")
        assert.strictEqual(none.code, 0, none.stderr)
        assert.include(none.stdout, "match these filters")

        const bad = yield* rath("sessions", "list", "--store", db, "--since", "yesterday")
        assert.strictEqual(bad.code, 2)
        assert.include(bad.stderr, "--since yesterday is not a time")
        const zero = yield* rath("sessions", "list", "--store", db, "--limit", "0")
        assert.strictEqual(zero.code, 2)
      }))

    it("--since and --until take an age before now or an ISO date", () => {
      const now = Date.UTC(2026, 10, 23, 12)
      assert.deepStrictEqual(Cli.parseTime("12h", now), Option.some(now - 12 * 3_600_000))
      assert.deepStrictEqual(Cli.parseTime("2w", now), Option.some(now - 14 * 86_400_000))
      assert.deepStrictEqual(Cli.parseTime("2026-11-23", now), Option.some(Date.UTC(2026, 10, 23)))
      assert.deepStrictEqual(
        Cli.parseTime("2026-11-23T05:30:00Z", now),
        Option.some(Date.UTC(2026, 10, 23, 5, 30))
      )
      assert.isTrue(Option.isNone(Cli.parseTime("yesterday", now)))
      assert.isTrue(Option.isNone(Cli.parseTime("2026-13-45", now)))
    })
  })

  describe("errors", () => {
    it.scoped("one line that says what to do, and the exit code for the kind of failure", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { dir, files, run } = yield* writeRun
        const missing = yield* rath("show", path.join(dir, "nope.jsonl"))
        assert.strictEqual(missing.code, 3)
        assert.strictEqual(lines(missing.stderr).length, 1)
        assert.match(missing.stderr, /^rath: .*nope\.jsonl does not exist: pass a JSONL file/)

        const unknownId = yield* rath("show", "s_unknown", "--store", dir)
        assert.strictEqual(unknownId.code, 3)
        assert.include(unknownId.stderr, "no session s_unknown in directory")

        const noStore = yield* rath("show", "s_unknown", "--store", path.join(dir, "absent.db"))
        assert.strictEqual(noStore.code, 3)
        assert.include(noStore.stderr, "no store at")

        const many = yield* rath("show", dir)
        assert.strictEqual(many.code, 2)
        assert.include(many.stderr, "holds 6 sessions: pass one of its files")

        const corrupt = path.join(dir, "corrupt")
        yield* fs.makeDirectory(corrupt)
        const text = Session.toJsonl(run.a).split("\n")
        text[2] = "{\"not\": \"an entry\"}"
        yield* fs.writeFileString(path.join(corrupt, "bad.jsonl"), text.join("\n"))
        const bad = yield* rath("show", path.join(corrupt, "bad.jsonl"))
        assert.strictEqual(bad.code, 4)
        assert.strictEqual(lines(bad.stderr).length, 1)
        assert.include(bad.stderr, "is not a valid rath session file")
        assert.notInclude(bad.stderr, "    at ")

        const verbose = yield* rath("show", path.join(corrupt, "bad.jsonl"), "--verbose")
        assert.strictEqual(verbose.code, 4)
        assert.isAbove(lines(verbose.stderr).length, 1)

        const usage = yield* rath("graph", dir, "--format", "png")
        assert.strictEqual(usage.code, 2)
        const unknown = yield* rath("bogus")
        assert.strictEqual(unknown.code, 2)
        const missingArg = yield* rath("diff", files[run.a.id]!)
        assert.strictEqual(missingArg.code, 2)
      }))

    it.scoped("a torn file loads its intact prefix with a warning", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { dir, run } = yield* writeRun
        const text = Session.toJsonl(run.a)
        const torn = path.join(dir, "torn.jsonl.partial")
        // cut in the middle of the last entry line: the trailer and half an entry are lost
        const cut = text.lastIndexOf("\n", text.length - 2)
        yield* fs.writeFileString(torn, text.slice(0, cut - 10))
        const out = yield* rath("show", torn, "--json")
        assert.strictEqual(out.code, 0, out.stderr)
        assert.include(out.stderr, "was not closed")
        assert.strictEqual((JSON.parse(out.stdout) as { entries: Array<unknown> }).entries.length, run.a.length - 1)
      }))

    it.scoped("a store file that is not a rath SQLite store is refused in one line", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { dir } = yield* writeRun
        const db = path.join(dir, "garbage.db")
        yield* fs.writeFileString(db, "this is not a database, it is a text file of some length\n".repeat(20))
        const out = yield* rath("sessions", "list", "--store", db)
        assert.strictEqual(out.code, 5)
        assert.strictEqual(lines(out.stderr).length, 1)
        assert.include(out.stderr, "cannot open store")
      }))
  })

  describe("a SQLite store", () => {
    it.scoped("import files into it, then look sessions up by id: list, graph, show, explain, diff, export", () =>
      Effect.gen(function*() {
        const path = yield* Path.Path
        const { dir, files, run } = yield* writeRun
        const db = path.join(dir, "store", "rath.db")
        for (const session of run.all) {
          const imported = yield* rath("import", files[session.id]!, "--store", db)
          assert.strictEqual(imported.code, 0, imported.stderr)
          assert.include(imported.stdout, `imported ${session.id} (${session.length} entries)`)
        }
        const list = yield* rath("sessions", "list", "--store", db, "--json")
        assert.deepStrictEqual(
          (JSON.parse(list.stdout) as Array<{ id: string }>).map((row) => row.id),
          run.all.map((s) => s.id)
        )
        const tree = yield* rath("graph", "--store", db)
        assert.strictEqual(tree.code, 0, tree.stderr)
        assert.include(tree.stdout, `${run.merged.id}  (merge, shown above)`)
        const shown = yield* rath("show", run.b.id, "--store", db, "--json")
        assert.strictEqual((JSON.parse(shown.stdout) as { entries: Array<unknown> }).entries.length, run.b.length)
        const explained = yield* rath("explain", run.merged.id, "--store", db)
        assert.include(explained.stdout, `<- ${run.root.id}: root, added 2 of the 11 entries`)
        const diffed = yield* rath("diff", run.a.id, run.b.id, "--store", db, "--json")
        assert.strictEqual((JSON.parse(diffed.stdout) as { shared: number }).shared, run.plan.length)
        const exported = yield* rath("export", run.merged.id, "--store", db)
        const decoded = yield* Session.fromJsonl(exported.stdout + "\n")
        assert.isTrue(Equal.equals(decoded.session, run.merged))
        const unknown = yield* rath("show", "s_nope", "--store", db)
        assert.strictEqual(unknown.code, 3)
        assert.include(unknown.stderr, `no session s_nope in store ${db}`)
      }))
  })

  describe("memory", () => {
    it.scoped("remember, recall (text and --json), list, forget by id and by namespace", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-cli-memory-" })
        const db = path.join(dir, "memory.db")
        const missing = yield* rath("memory", "recall", "tea", "--memory", db)
        assert.strictEqual(missing.code, 3)
        assert.include(missing.stderr, "remember something first")
        const ids: Array<string> = []
        for (
          const [ns, text, source] of [
            ["user:ada", "Ada prefers tea to coffee", "chat"],
            ["user:ada", "Ada works on the analytical engine", undefined],
            ["project", "The build uses tsx and vitest", undefined]
          ] as const
        ) {
          const out = yield* rath(
            "memory",
            "remember",
            text,
            "--namespace",
            ns,
            ...(source === undefined ? [] : ["--source", source]),
            "--memory",
            db
          )
          assert.strictEqual(out.code, 0, out.stderr)
          const id = /remembered (\S+) in (\S+)/.exec(out.stdout)
          assert.strictEqual(id?.[2], ns)
          ids.push(id![1]!)
        }
        const recalled = yield* rath("memory", "recall", "what does Ada drink, tea?", "--memory", db)
        assert.strictEqual(recalled.code, 0, recalled.stderr)
        const first = lines(recalled.stdout)[0]!
        assert.match(
          first,
          new RegExp(`^${ids[0]}  0\\.\\d{3}  user:ada  Ada prefers tea to coffee  \\(source: chat\\)$`)
        )
        const json = yield* rath(
          "memory",
          "recall",
          "tea",
          "-k",
          "1",
          "--namespace",
          "project",
          "--memory",
          db,
          "--json"
        )
        assert.strictEqual(json.code, 0, json.stderr)
        // nothing in "project" holds "tea": its newest memory comes back flagged, with score 0
        assert.deepStrictEqual(
          (JSON.parse(json.stdout) as Array<{ id: string; score: number; match: string }>).map((hit) => [
            hit.id,
            hit.score,
            hit.match
          ]),
          [[ids[2], 0, "recent"]]
        )
        const recent = yield* rath("memory", "recall", "tea", "-k", "1", "--namespace", "project", "--memory", db)
        assert.match(
          lines(recent.stdout)[0]!,
          new RegExp(`^${ids[2]}  recent  project  The build uses tsx and vitest$`)
        )
        const scored = yield* rath("memory", "recall", "tea or engine", "--memory", db, "--json", "--min-score", "0.01")
        const hits = JSON.parse(scored.stdout) as Array<{ id: string; score: number; namespace: string }>
        assert.deepStrictEqual(hits.map((hit) => hit.id).sort(), [ids[0], ids[1]].sort())
        assert.isTrue(hits.every((hit) => hit.score > 0.01 && hit.score <= 1))
        // no memory holds "zebra", so none holds the whole query
        const high = yield* rath("memory", "recall", "tea zebra", "--memory", db, "--min-score", "0.999")
        assert.include(high.stdout, "no memory matches")

        const listed = yield* rath("memory", "list", "--memory", db, "--json")
        assert.deepStrictEqual((JSON.parse(listed.stdout) as Array<{ id: string }>).map((item) => item.id), ids)
        const ada = yield* rath("memory", "list", "--namespace", "user:ada", "--memory", db)
        assert.strictEqual(lines(ada.stdout).length, 2)

        const neither = yield* rath("memory", "forget", "--memory", db)
        assert.strictEqual(neither.code, 2)
        assert.include(neither.stderr, "pass either --id ID")
        const byId = yield* rath("memory", "forget", "--id", ids[1]!, "--memory", db)
        assert.strictEqual(byId.code, 0, byId.stderr)
        assert.include(byId.stdout, "forgot 1 memory")
        const byNs = yield* rath("memory", "forget", "--namespace", "user:ada", "--memory", db)
        assert.include(byNs.stdout, "forgot 1 memory")
        const left = yield* rath("memory", "list", "--memory", db, "--json")
        assert.deepStrictEqual((JSON.parse(left.stdout) as Array<{ id: string }>).map((item) => item.id), [ids[2]])
        const noNs = yield* rath("memory", "remember", "x", "--memory", db)
        assert.strictEqual(noNs.code, 2)
      }))
  })

  describe("prune", () => {
    it.scoped("removes sessions last saved before the age, with a dry run first", () =>
      Effect.gen(function*() {
        const path = yield* Path.Path
        const { dir, files, run } = yield* writeRun
        const db = path.join(dir, "store", "rath.db")
        const old = [run.root, run.plan, run.a]
        for (const session of old) yield* rath("import", files[session.id]!, "--store", db)
        yield* TestClock.adjust("3 days")
        for (const session of [run.b, run.review]) yield* rath("import", files[session.id]!, "--store", db)
        yield* TestClock.adjust("1 hour")

        const dry = yield* rath("prune", "--older-than", "2d", "--dry-run", "--store", db)
        assert.strictEqual(dry.code, 0, dry.stderr)
        for (const session of old) assert.include(dry.stdout, `would remove ${session.id}`)
        assert.notInclude(dry.stdout, run.b.id)
        assert.include(dry.stdout, "3 sessions older than 2d would be removed")
        const before = yield* rath("sessions", "list", "--store", db, "--json")
        assert.strictEqual((JSON.parse(before.stdout) as Array<unknown>).length, 5)

        const pruned = yield* rath("prune", "--older-than", "2d", "--store", db)
        assert.strictEqual(pruned.code, 0, pruned.stderr)
        assert.include(pruned.stdout, `removed 3 sessions older than 2d from ${db}`)
        const after = yield* rath("sessions", "list", "--store", db, "--json")
        assert.deepStrictEqual((JSON.parse(after.stdout) as Array<{ id: string }>).map((row) => row.id), [
          run.b.id,
          run.review.id
        ])
        const none = yield* rath("prune", "--older-than", "12h", "--store", db)
        assert.include(none.stdout, "removed 0 sessions")

        const bad = yield* rath("prune", "--older-than", "soon", "--store", db)
        assert.strictEqual(bad.code, 2)
        assert.include(bad.stderr, "is not a duration: pass a number and a unit")
        const directory = yield* rath("prune", "--older-than", "1d", "--store", dir)
        assert.strictEqual(directory.code, 2)
        const absent = yield* rath("prune", "--older-than", "1d", "--store", path.join(dir, "absent.db"))
        assert.strictEqual(absent.code, 3)
      }))
  })

  describe("replay", () => {
    const fixture = (name: string) => `test/fixtures/${name}`

    it.scoped("re-runs a workflow module against a recorded run, and reports a divergence with exit code 4", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-cli-replay-" })
        const { workflow } = yield* Effect.promise(() => import("./fixtures/replay-workflow.js"))
        const script = (request: Provider.Request) =>
          request.messages.some((message) => message._tag === "ToolResult")
            ? Scripted.reply("There are three words.")
            : Scripted.toolCall("word_count", { text: "one two three" })
        const recorded = yield* Session.fromUserMessage("How many words in 'one two three'?").pipe(
          Effect.flatMap((s) => workflow(s)),
          Effect.provide(Scripted.layer(script))
        )
        const file = path.join(dir, "run.jsonl")
        yield* fs.writeFileString(file, Session.toJsonl(recorded))

        const same = yield* rath("replay", file, "--workflow", fixture("replay-workflow.ts"))
        assert.strictEqual(same.code, 0, same.stderr)
        assert.strictEqual(
          same.stdout,
          `replay matches: ${recorded.length} entries (2 model calls and 1 tool call answered from the recording)`
        )

        // by id, from a store
        const db = path.join(dir, "rath.db")
        yield* rath("import", file, "--store", db)
        const byId = yield* rath("replay", recorded.id, "--store", db, "-w", fixture("replay-workflow.ts"))
        assert.strictEqual(byId.code, 0, byId.stderr)
        assert.include(byId.stdout, "replay matches")

        const divergent = yield* rath("replay", file, "--workflow", fixture("replay-divergent.ts"))
        assert.strictEqual(divergent.code, 4)
        assert.include(divergent.stdout, `replay diverged from ${recorded.id}:`)
        assert.include(divergent.stdout, "model request #0")
        assert.include(divergent.stdout, "expected")
        assert.strictEqual(lines(divergent.stderr).length, 1)
        assert.include(divergent.stderr, "diverged from the recording")

        // the module's own input is used instead of the recorded first message
        const ownInput = yield* rath("replay", file, "--workflow", fixture("replay-input.ts"))
        assert.strictEqual(ownInput.code, 4)
        assert.include(ownInput.stdout, "model request #0")

        // a recording that goes further than the workflow: the entries differ
        const longer = yield* Session.append(recorded, Entry.user("and now?"))
        const longerFile = path.join(dir, "longer.jsonl")
        yield* fs.writeFileString(longerFile, Session.toJsonl(longer))
        const short = yield* rath("replay", longerFile, "--workflow", fixture("replay-workflow.ts"))
        assert.strictEqual(short.code, 4)
        assert.include(short.stdout, `entry #${recorded.length} (User) differs`)

        const noModule = yield* rath("replay", file, "--workflow", path.join(dir, "nope.ts"))
        assert.strictEqual(noModule.code, 3)
        const notWorkflow = path.join(dir, "empty.mjs")
        yield* fs.writeFileString(notWorkflow, "export const x = 1\n")
        const noExport = yield* rath("replay", file, "--workflow", notWorkflow)
        assert.strictEqual(noExport.code, 2)
        assert.include(noExport.stderr, "exports no workflow")
      }))
  })

  describe("progress", () => {
    it.scoped("import prints progress lines on stderr for a big session, and saves all of it", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-cli-import-" })
        const total = Cli.importChunk * 2 + 500
        const big = yield* Session.make(Array.from({ length: total }, (_, i) => Entry.user(`message ${i}`)))
        const file = path.join(dir, "big.jsonl")
        yield* fs.writeFileString(file, Session.toJsonl(big))
        const db = path.join(dir, "rath.db")
        const out = yield* rath("import", file, "--store", db)
        assert.strictEqual(out.code, 0, out.stderr)
        assert.deepStrictEqual(lines(out.stderr), [
          `importing: ${Cli.importChunk}/${total} entries`,
          `importing: ${Cli.importChunk * 2}/${total} entries`,
          `importing: ${total}/${total} entries`
        ])
        const exported = yield* rath("export", big.id, "--store", db)
        const decoded = yield* Session.fromJsonl(exported.stdout + "\n")
        assert.isTrue(Equal.equals(decoded.session, big))
        // importing it again changes nothing
        const again = yield* rath("import", file, "--store", db)
        assert.strictEqual(again.code, 0, again.stderr)
        assert.strictEqual(again.stderr, "")
      }))
  })

  describe("help", () => {
    const commands = [
      [],
      ["show"],
      ["graph"],
      ["diff"],
      ["explain"],
      ["export"],
      ["import"],
      ["serve"],
      ["demo"],
      ["replay"],
      ["prune"],
      ["memory"],
      ["memory", "remember"],
      ["memory", "recall"],
      ["memory", "list"],
      ["memory", "forget"],
      ["sessions"],
      ["sessions", "list"]
    ]

    it.effect("--help on every command: lines of at most 100 columns, no ANSI, no filler text", () =>
      Effect.gen(function*() {
        for (const command of commands) {
          const out = yield* rath(...command, "--help")
          const name = ["rath", ...command].join(" ")
          assert.strictEqual(out.code, 0, `${name}: ${out.stderr}`)
          assert.include(out.stdout, "USAGE", name)
          assert.include(out.stdout, `\n  ${name}`, name)
          for (const line of lines(out.stdout)) {
            assert.isAtMost(line.length, 100, `${name}: a line of ${line.length} columns: ${line}`)
          }
          assert.notMatch(out.stdout, /\u001b\[/, name)
          // what @effect/cli says about every option of a type tells a reader nothing
          for (const filler of ["A true or false value", "This setting is optional", "One of the following"]) {
            assert.notInclude(out.stdout, filler, name)
          }
        }
      }))

    it.effect("a group named alone prints its help; the root lists every command, subcommands included", () =>
      Effect.gen(function*() {
        const root = yield* rath()
        assert.strictEqual(root.code, 0)
        for (const name of ["sessions list", "memory forget", "replay", "demo"]) {
          assert.include(root.stdout, `  ${name} `)
        }
        const sessions = yield* rath("sessions")
        assert.strictEqual(sessions.code, 0)
        assert.include(sessions.stdout, "rath sessions <command>")
        assert.include(sessions.stdout, "  list ")
      }))

    it.effect("bold headers only when color is asked for (a terminal without NO_COLOR)", () =>
      Effect.gen(function*() {
        const stdout: Array<string> = []
        const base = yield* Effect.console
        const code = yield* Cli.main(["node", "rath", "show", "--help"], { color: true }).pipe(
          Effect.withConsole({ ...base, log: (...parts) => Effect.sync(() => void stdout.push(parts.join(" "))) })
        )
        assert.strictEqual(code, 0)
        assert.include(stdout.join("\n"), "\u001b[1mUSAGE\u001b[0m")
      }))
  })

  describe("errors of the command line", () => {
    it.effect("every parse error is one rath: line that names what was wrong and where to look", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
          [["show", "--bogus", "x"], /^rath: unknown option --bogus for rath show: see `rath show --help`$/],
          [["show", "x", "--jsn"], /^rath: unknown option --jsn for rath show \(did you mean --json\?\)/],
          [["sessions", "list", "--bogus=1"], /^rath: unknown option --bogus for rath sessions list/],
          [["show"], /^rath: missing argument <target> for rath show: see `rath show --help`$/],
          [["diff", "a.jsonl"], /^rath: missing argument <b> for rath diff/],
          [
            ["sessions", "list", "--limit", "abc"],
            /^rath: --limit abc is not an integer: see `rath sessions list --help`$/
          ],
          [["graph", "--format", "png"], /^rath: --format png: expected one of tree, mermaid, dot, json, html: see/],
          [["bogus"], /^rath: unknown command bogus for rath: use one of sessions, show, /],
          [["memory", "forgte"], /^rath: unknown command forgte for rath memory \(did you mean forget\?\)/],
          [["show", "a.jsonl", "b.jsonl"], /^rath: unexpected argument b\.jsonl for rath show: see `rath show --help`$/]
        ]
        for (const [args, pattern] of cases) {
          const out = yield* rath(...args)
          assert.strictEqual(out.code, 2, args.join(" "))
          assert.strictEqual(out.stdout, "", args.join(" "))
          assert.strictEqual(lines(out.stderr).length, 1, `${args.join(" ")}: ${out.stderr}`)
          assert.match(out.stderr, pattern)
        }
      }))

    it.effect("a SQLite file given to sessions list, graph or serve as the source suggests --store", () =>
      Effect.gen(function*() {
        const list = yield* rath("sessions", "list", "runs.db")
        assert.strictEqual(list.code, 2)
        assert.strictEqual(
          list.stderr,
          "rath: runs.db looks like a SQLite store, and a store is given with --store: run `rath sessions list --store runs.db`"
        )
        const graph = yield* rath("graph", "other.sqlite")
        assert.strictEqual(graph.code, 2)
        assert.include(graph.stderr, "`rath graph --store other.sqlite`")
      }))

    it.scoped("memory forget of an id that names nothing exits 3 and removes nothing", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-cli-forget-" })
        const db = path.join(dir, "memory.db")
        const remembered = yield* rath("memory", "remember", "Ada prefers tea", "-n", "user:ada", "--memory", db)
        assert.strictEqual(remembered.code, 0, remembered.stderr)
        const id = /remembered (\S+)/.exec(remembered.stdout)![1]!
        const out = yield* rath("memory", "forget", "--id", id, "--id", "m_nope", "--memory", db)
        assert.strictEqual(out.code, 3)
        assert.match(out.stderr, /^rath: no memory m_nope in .*memory\.db \(nothing was removed\): see the ids with/)
        const listed = yield* rath("memory", "list", "--memory", db)
        assert.include(listed.stdout, id)
        const ok = yield* rath("memory", "forget", "--id", id, "--memory", db)
        assert.strictEqual(ok.code, 0, ok.stderr)
        assert.include(ok.stdout, "forgot 1 memory")
      }))
  })
})

describe("rath demo", () => {
  it.scopedLive(
    "runs the scripted workflow, saves to the store, writes the viewer and explains itself",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-demo-" })
        // never the real model in tests, even on a machine with a key
        const previous = process.env.RATH_DEMO_SCRIPTED
        process.env.RATH_DEMO_SCRIPTED = "1"
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (previous === undefined) delete process.env.RATH_DEMO_SCRIPTED
            else process.env.RATH_DEMO_SCRIPTED = previous
          })
        )
        const out = yield* rath("demo", "--dir", dir)
        assert.strictEqual(out.code, 0, out.stderr)
        assert.include(out.stdout, "a SCRIPTED model")
        assert.include(out.stderr, "demo: 1/5 task saved")
        assert.include(out.stderr, "demo: 5/5 done")
        assert.include(out.stdout, "(merge, shown above)")
        assert.include(out.stdout, "✗ ")
        const count = Number(/(\d+) sessions saved to/.exec(out.stdout)?.[1])
        const page = yield* fs.readFileString(path.join(dir, "demo.html"))
        assert.strictEqual((page.match(/<g class="node /g) ?? []).length, count)
        const store = path.join(dir, "rath.db")
        const list = yield* rath("sessions", "list", "--store", store, "--json")
        assert.strictEqual((JSON.parse(list.stdout) as Array<unknown>).length, count)
        // the hints work where rath is installed: npx, not the checkout's npm script
        assert.notInclude(out.stdout, "npm run")
        const final = /npx rath explain (\S+)/.exec(out.stdout)?.[1] ?? ""
        const explained = yield* rath("explain", final, "--store", store, "--json")
        assert.strictEqual(explained.code, 0, explained.stderr)
        const calls = (JSON.parse(explained.stdout) as { calls: Array<{ verified: boolean | null }> }).calls
        assert.isAbove(calls.length, 1)
        assert.isTrue(calls.every((call) => call.verified === true))
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})

describe("rath demo, when every attempt fails its check", () => {
  // the demo's own script, except that both coders write a slugify that gets both cases wrong
  const BROKEN = "export function slugify(text) {\n  return text\n}\n"
  const failing = Scripted.layer((request) => {
    const reply = Demo.script(request)
    return {
      ...reply,
      toolCalls: reply.toolCalls?.map((call) => {
        const args = call.arguments as { path?: string; content?: string } | undefined
        return call.name === "write_file" && args?.path === "slugify.mjs"
          ? { ...call, arguments: { ...args, content: BROKEN } }
          : call
      })
    }
  }, { model: "scripted-failing" })

  it.scopedLive(
    "stops with exit 6 and one clear line, merges nothing, and keeps the failed attempts in the store",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-demo-rejected-" })
        const out = yield* rath("demo", "--dir", dir).pipe(
          Effect.provideService(Demo.Model, Option.some({ layer: failing, scripted: true }))
        )
        assert.strictEqual(out.code, 6, out.stderr)
        assert.include(out.stderr, "demo: 3/5 coder A done; the reviewer's check failed")
        assert.include(out.stderr, "demo: 3/5 coder B done; the reviewer's check failed")
        assert.include(out.stderr, "demo: 4/5 every attempt failed the reviewer's check")
        assert.notInclude(out.stderr, "5/5")
        const errorLine = out.stderr.split("\n").filter((line) => line.startsWith("rath: "))
        assert.strictEqual(errorLine.length, 1)
        assert.match(
          errorLine[0]!,
          /^rath: the demo stopped: every attempt failed the reviewer's check \(node check\.mjs\), so nothing was merged: s_\S+, s_\S+\. The attempts and their failed checks are saved in /
        )
        assert.include(out.stdout, "nothing merged")
        assert.notInclude(out.stdout, "accepted")

        // the evidence: task, plan, two placed forks and the two reviewed attempts, no merge
        const store = path.join(dir, "rath.db")
        const list = yield* rath("sessions", "list", "--store", store, "--json")
        const rows = JSON.parse(list.stdout) as Array<{ id: string; operation: string }>
        assert.notInclude(rows.map((row) => row.operation), "merge")
        const attempts = Array.from(out.stdout.matchAll(/npx rath show (\S+)/g), (match) => match[1]!)
        assert.strictEqual(attempts.length, 2)
        for (const id of attempts) {
          assert.include(rows.map((row) => row.id), id)
          const shown = yield* rath("show", id, "--store", store, "--json")
          const entries = (JSON.parse(shown.stdout) as { entries: Array<{ _tag: string; passed?: boolean }> }).entries
          const checks = entries.filter((entry) => entry._tag === "Check")
          assert.deepStrictEqual(checks.map((check) => check.passed), [false])
        }
        // the viewer page is written for the rejected run too
        assert.isTrue(yield* fs.exists(path.join(dir, "demo.html")))
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})

describe("rath demo on the real-model path (OPENAI_API_KEY set, a local OpenAI-compatible endpoint)", () => {
  const KEY = "sk-demo-DUMMY-7f3a9c1e5b-NEVER-WRITTEN"
  const REQUESTED_MODEL = "gpt-demo-requested"
  // every variable the demo and ProviderConfig read; the rest of the environment is left alone
  const VARS = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_DEFAULT_MODEL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_DEFAULT_MODEL",
    "RATH_PROVIDER",
    "RATH_HOME",
    "RATH_DEMO_SCRIPTED"
  ]

  /** Sets the process environment the way a user's shell would, restored when the scope closes. */
  const withEnv = (values: Record<string, string>) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const saved = new Map(VARS.map((name) => [name, process.env[name]]))
        for (const name of VARS) delete process.env[name]
        Object.assign(process.env, values)
        return saved
      }),
      (saved) =>
        Effect.sync(() => {
          for (const [name, value] of saved) {
            if (value === undefined) delete process.env[name]
            else process.env[name] = value
          }
        })
    )

  /**
   * Runs `rath demo` on `server` (a local OpenAI-compatible endpoint) with the key set, in a temp
   * data dir and a temp RATH_HOME (never the config of the machine running the tests); `env`
   * adds variables, `config` is written as RATH_HOME/config.json first.
   */
  const demoOn = (
    server: { readonly url: string },
    options?: { readonly env?: Record<string, string>; readonly config?: unknown }
  ) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-demo-real-" })
      const home = yield* fs.makeTempDirectoryScoped({ prefix: "rath-demo-home-" })
      if (options?.config !== undefined) {
        yield* fs.writeFileString(`${home}/config.json`, JSON.stringify(options.config))
      }
      yield* withEnv({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: `${server.url}/v1`, RATH_HOME: home, ...options?.env })
      const out = yield* rath("demo", "--dir", dir)
      return { out, dir }
    })

  /** Every file under a directory, as text (the store, memory, the viewer page, the workspaces). */
  const everything = (
    dir: string
  ): Effect.Effect<Array<{ file: string; text: string }>, unknown, FileSystem.FileSystem | Path.Path> =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const files = yield* fs.readDirectory(dir, { recursive: true })
      const out: Array<{ file: string; text: string }> = []
      for (const name of files) {
        const file = path.join(dir, name)
        if ((yield* fs.stat(file)).type !== "File") continue
        out.push({ file, text: Buffer.from(yield* fs.readFile(file)).toString("latin1") })
      }
      return out
    })

  it.scopedLive(
    "runs on the endpoint: tool calls in the sandboxes, one branch merged, the evidence names openai, the host and the served model",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const server = yield* DemoServer.demoServer
        const { dir, out } = yield* demoOn(server, { env: { OPENAI_DEFAULT_MODEL: REQUESTED_MODEL } })
        assert.strictEqual(out.code, 0, out.stderr)
        assert.include(out.stdout, "rath demo: the real model from your API key")
        assert.notInclude(out.stdout, "SCRIPTED")
        assert.include(out.stderr, "demo: 3/5 coder A done; the reviewer's check passed")
        assert.include(out.stderr, "demo: 3/5 coder B done; the reviewer's check failed")
        assert.include(out.stderr, "demo: 5/5 done")
        const accepted = /accepted (\S+); rejected (\S+)/.exec(out.stdout)
        assert.isNotNull(accepted)

        // what the endpoint received: the planner, two coders (3 calls each), the compressor
        const calls = server.received.filter((request) => request.path === "/v1/chat/completions")
        assert.strictEqual(calls.length, server.received.length)
        assert.strictEqual(calls.length, 8)
        for (const call of calls) {
          assert.strictEqual(call.method, "POST")
          assert.strictEqual(call.headers.authorization, `Bearer ${KEY}`)
          assert.strictEqual(call.body.model, REQUESTED_MODEL)
        }
        const toolNames = calls.flatMap((call) =>
          (call.body.tools ?? []).map((tool: { function: { name: string } }) => tool.function.name)
        )
        assert.includeMembers(toolNames, ["write_file", "read_file", "run_shell"])
        assert.isTrue(calls.some((call) => call.body.tool_choice === "none"))
        // the tool results went back to the model as tool messages, keyed by the calls' ids
        const replies = calls.flatMap((call) => call.body.messages as Array<{ role: string; tool_call_id?: string }>)
        assert.includeMembers(replies.filter((m) => m.role === "tool").map((m) => m.tool_call_id), [
          "call_A_slugify",
          "call_A_check",
          "call_A_run",
          "call_B_slugify",
          "call_B_check",
          "call_B_run"
        ])

        // the sandboxes hold what the tool calls wrote
        const workspaces = path.join(dir, "workspaces")
        const written = (yield* fs.readDirectory(workspaces)).map((name) => path.join(workspaces, name, "slugify.mjs"))
        const contents = yield* Effect.forEach(written, (file) => fs.readFileString(file))
        assert.sameMembers(contents, [DemoServer.SLUGIFY_A, DemoServer.SLUGIFY_B])

        // the saved sessions record which provider answered: kind, host, the model it reported
        const store = path.join(dir, "rath.db")
        const final = /npx rath explain (\S+)/.exec(out.stdout)?.[1] ?? ""
        const shown = yield* rath("show", final, "--store", store, "--json")
        assert.strictEqual(shown.code, 0, shown.stderr)
        const entries = (JSON.parse(shown.stdout) as {
          entries: Array<
            { _tag: string; model?: string; provider?: { kind: string; host?: string; requestId?: string } }
          >
        }).entries
        const answers = entries.filter((entry) => entry._tag === "Assistant" || entry._tag === "Compression")
        assert.isAbove(answers.filter((entry) => entry._tag === "Assistant").length, 3)
        for (const answer of answers.filter((entry) => entry._tag === "Assistant")) {
          assert.deepInclude(answer.provider, { kind: "openai", host: `127.0.0.1:${server.port}` })
          assert.match(answer.provider?.requestId ?? "", /^req_demo_\d+$/)
          assert.strictEqual(answer.model, DemoServer.SERVED_MODEL)
        }
        const merged = (JSON.parse(shown.stdout) as { entries: Array<{ _tag: string }> }).entries
        assert.include(merged.map((entry) => entry._tag), "Merge")
        assert.include(merged.map((entry) => entry._tag), "Compression")
        const checks = (JSON.parse(
          (yield* rath("show", accepted![1]!, "--store", store, "--json")).stdout
        ) as { entries: Array<{ _tag: string; passed?: boolean }> }).entries.filter((entry) => entry._tag === "Check")
        assert.deepStrictEqual(checks.map((check) => check.passed), [true])
        const explained = yield* rath("explain", final, "--store", store)
        assert.strictEqual(explained.code, 0, explained.stderr)
        assert.include(explained.stdout, `openai`)
        assert.include(explained.stdout, DemoServer.SERVED_MODEL)

        // the key is nowhere: not in the store, memory, viewer page, workspaces or what was printed
        const files = yield* everything(dir)
        assert.includeMembers(files.map((f) => path.basename(f.file)), ["rath.db", "memory.db", "demo.html"])
        // (the sandboxes ran `env`: its output is in the sessions, without the key)
        const envOutput = files.some((f) => f.text.includes("PATH=")) ||
          entries.some((entry) => JSON.stringify(entry).includes("PATH="))
        assert.isTrue(envOutput, "the coders' `env` output should be recorded")
        for (const { file, text } of files) assert.notInclude(text, KEY, file)
        assert.notInclude(out.stdout + out.stderr + shown.stdout + explained.stdout, KEY)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive(
    "an endpoint that answers 401: exit 5 and one line naming the provider failure, without the key",
    () =>
      Effect.gen(function*() {
        const server = yield* DemoServer.unauthorizedServer
        const { out } = yield* demoOn(server, { env: { OPENAI_DEFAULT_MODEL: REQUESTED_MODEL } })
        assert.strictEqual(out.code, 5, out.stderr)
        const errorLines = out.stderr.split("\n").filter((line) => line.startsWith("rath: "))
        assert.strictEqual(errorLines.length, 1, out.stderr)
        assert.match(
          errorLines[0]!,
          /^rath: the demo failed: the model provider failed in agent planner: Unauthorized from openai model gpt-demo-requested \(HTTP 401\); check the API key \(OPENAI_API_KEY\), or set RATH_DEMO_SCRIPTED=1 for the scripted model\. The provider said: Incorrect API key provided/
        )
        assert.notInclude(out.stderr, "    at ")
        assert.notInclude(out.stdout + out.stderr, KEY)
        // the key was sent, once: a 401 is not retried
        assert.strictEqual(server.received.length, 1)
        assert.strictEqual(server.received[0]!.headers.authorization, `Bearer ${KEY}`)
        assert.notInclude(out.stderr, "demo: 2/5")
      }).pipe(Effect.provide(NodeContext.layer)),
    30_000
  )

  it.effect("the provider failure's line says what to check, by reason and provider", () =>
    Effect.sync(() => {
      const failed = (fields: ConstructorParameters<typeof Provider.ProviderError>[0], caller?: string) =>
        new Demo.ModelFailed({ error: new Provider.ProviderError(fields), caller, cause: undefined }).message
      assert.strictEqual(
        failed({ reason: "ModelNotFound", provider: "openai", model: "gpt-x", status: 404, detail: "no such model" }),
        "the model provider failed: ModelNotFound from openai model gpt-x (HTTP 404); check the model name " +
          "(OPENAI_DEFAULT_MODEL), or set RATH_DEMO_SCRIPTED=1 for the scripted model. The provider said: no such model"
      )
      assert.include(
        failed({ reason: "Transport", provider: "anthropic", detail: "connect ECONNREFUSED" }, "compressor"),
        "in compressor: Transport from anthropic; check that the endpoint is up (ANTHROPIC_BASE_URL)"
      )
      assert.include(
        failed({ reason: "Unauthorized", provider: "router", status: 403, detail: "forbidden" }),
        "check the API key (the provider's key)"
      )
    }))

  it.scopedLive(
    "a key alone is enough: with no model configured the demo asks for its default model",
    () =>
      Effect.gen(function*() {
        const server = yield* DemoServer.demoServer
        const { out } = yield* demoOn(server)
        assert.strictEqual(out.code, 0, out.stderr)
        assert.include(out.stdout, "rath demo: the real model from your API key")
        const calls = server.received.filter((request) => request.path === "/v1/chat/completions")
        assert.strictEqual(calls.length, 8)
        for (const call of calls) assert.strictEqual(call.body.model, Demo.defaultModels.OPENAI_DEFAULT_MODEL)
        assert.notInclude(out.stdout + out.stderr, KEY)
      }).pipe(Effect.provide(NodeContext.layer)),
    30_000
  )

  it.scopedLive(
    "a model in the configuration file wins over the demo's default",
    () =>
      Effect.gen(function*() {
        const server = yield* DemoServer.demoServer
        const { out } = yield* demoOn(server, {
          config: { providers: { openai: { kind: "openai", model: "model-from-file" } } }
        })
        assert.strictEqual(out.code, 0, out.stderr)
        const calls = server.received.filter((request) => request.path === "/v1/chat/completions")
        assert.isAbove(calls.length, 0)
        for (const call of calls) assert.strictEqual(call.body.model, "model-from-file")
      }).pipe(Effect.provide(NodeContext.layer)),
    30_000
  )
})

describe("rath executable", () => {
  const bin = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = { NO_COLOR: "1" }) =>
    Effect.async<{ code: number; stdout: string; stderr: string }>((resume) => {
      const child = execFile(
        process.execPath,
        ["--import", "tsx", "src/cli/bin.ts", ...args],
        { cwd: process.cwd(), env: { ...process.env, ...env } },
        (error, stdout, stderr) =>
          resume(Effect.succeed({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }))
      )
      return Effect.sync(() => child.kill())
    })

  it.live("runs as a process: output on stdout, one error line on stderr, exit codes", () =>
    Effect.gen(function*() {
      const missing = yield* bin(["explain", "/nonexistent/run.jsonl"])
      assert.strictEqual(missing.code, 3)
      assert.strictEqual(missing.stdout, "")
      assert.strictEqual(missing.stderr.trim().split("\n").length, 1)
      assert.match(missing.stderr, /^rath: \/nonexistent\/run\.jsonl does not exist/)
    }), 60_000)

  it.live(
    "the package's bin (what npx rath runs) works in a checkout, built or not",
    () =>
      Effect.async<{ code: number; stdout: string; stderr: string }>((resume) => {
        const child = execFile(
          process.execPath,
          ["bin/rath.js", "--version"],
          { cwd: process.cwd() },
          (error, stdout, stderr) =>
            resume(Effect.succeed({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }))
        )
        return Effect.sync(() => child.kill())
      }).pipe(
        Effect.map((out) => {
          assert.strictEqual(out.code, 0, out.stderr)
          assert.strictEqual(out.stdout.trim(), Cli.version)
        })
      ),
    60_000
  )

  it.live("help piped to a file has no ANSI codes, with or without NO_COLOR", () =>
    Effect.gen(function*() {
      const piped = yield* bin(["show", "--help"], { NO_COLOR: undefined })
      assert.strictEqual(piped.code, 0, piped.stderr)
      assert.include(piped.stdout, "USAGE")
      assert.notMatch(piped.stdout, /\u001b\[/)
      const unknown = yield* bin(["show", "--bogus"])
      assert.strictEqual(unknown.code, 2)
      assert.strictEqual(unknown.stderr, "rath: unknown option --bogus for rath show: see `rath show --help`\n")
    }), 60_000)

  it.live("replays a .ts workflow module when the CLI runs under tsx", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-cli-replay-bin-" })
      const { workflow } = yield* Effect.promise(() => import("./fixtures/replay-workflow.js"))
      const recorded = yield* Session.fromUserMessage("How many words in 'a b c d'?").pipe(
        Effect.flatMap((s) => workflow(s)),
        Effect.provide(Scripted.layer((request) =>
          request.messages.some((message) => message._tag === "ToolResult")
            ? Scripted.reply("Four words.")
            : Scripted.toolCall("word_count", { text: "a b c d" })
        ))
      )
      const file = path.join(dir, "run.jsonl")
      yield* fs.writeFileString(file, Session.toJsonl(recorded))
      const out = yield* bin(["replay", file, "--workflow", "test/fixtures/replay-workflow.ts"])
      assert.strictEqual(out.code, 0, out.stderr)
      assert.include(out.stdout, `replay matches: ${recorded.length} entries`)
    }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)), 60_000)
})
