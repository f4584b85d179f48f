import { FileSystem, Path } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import type { Console } from "effect"
import { Deferred, Effect, Fiber, TestContext } from "effect"
import { Entry, IdGenerator, Session, SessionGraph, Viewer } from "rath"
import * as Cli from "../src/cli/Cli.js"
import { openBrowserPage, skipBrowser } from "./browser.js"
import { buildRun, rath } from "./cli-fixture.js"

describe("Viewer.layout", () => {
  it.effect("puts each session one layer below its deepest parent, a merge between its parents", () =>
    Effect.gen(function*() {
      const run = yield* buildRun
      const laid = Viewer.layout(SessionGraph.fromSessions(run.all))
      const at = new Map(laid.nodes.map((node) => [node.id, node]))
      assert.strictEqual(laid.nodes.length, 6)
      assert.strictEqual(laid.edges.length, 6)
      assert.deepStrictEqual(run.all.map((session) => at.get(session.id)!.layer), [0, 1, 2, 2, 2, 3])
      const merged = at.get(run.merged.id)!
      assert.isTrue(merged.x > at.get(run.a.id)!.x && merged.x < at.get(run.review.id)!.x)
      for (const node of laid.nodes) {
        assert.isTrue(node.x >= 0 && node.x + Viewer.geometry.width <= laid.width)
        assert.isTrue(node.y >= 0 && node.y + Viewer.geometry.height <= laid.height)
      }
    }))

  it.effect("draws a parent that is not in the set as a missing node", () =>
    Effect.gen(function*() {
      const run = yield* buildRun
      const laid = Viewer.layout(SessionGraph.fromSessions([run.a]))
      assert.deepStrictEqual(laid.nodes.map((node) => [node.id, node.missing, node.layer]), [
        [run.plan.id, true, 0],
        [run.a.id, false, 1]
      ])
    }))
})

describe("Viewer.html", () => {
  it.effect("escapes what sessions hold: no markup from entries reaches the page unescaped", () =>
    Effect.gen(function*() {
      const hostile = "</script><script>alert(1)</script><b>"
      const session = yield* Session.fromUserMessage(hostile, { author: { kind: "agent", name: "<img src=x>" } }).pipe(
        Effect.flatMap(Session.append(Entry.custom("x", { html: hostile })))
      )
      const page = Viewer.html([session], { title: "<title>" })
      assert.notInclude(page, "<script>alert(1)")
      assert.notInclude(page, "<img src=x>")
      assert.strictEqual(page.match(/<script/g)?.length, 2)
      assert.include(page, "&lt;title&gt;")
    }).pipe(Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())))
})

// -----------------------------------------------------------------------------
// in a real browser
// -----------------------------------------------------------------------------

const openPage = openBrowserPage
const skip = skipBrowser("viewer browser test")

describe("the viewer in headless Chromium", () => {
  it.scopedLive.skipIf(skip)(
    "loads offline, draws one node per session, and shows a session's entries when its node is clicked",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const run = yield* buildRun.pipe(Effect.provide(TestContext.TestContext))
        const outDir = path.resolve("test-output")
        yield* fs.makeDirectory(outDir, { recursive: true })
        const file = path.join(outDir, "viewer.html")
        yield* fs.writeFileString(file, Viewer.html(run.all, { title: "viewer test", selected: run.root.id }))

        const { call, errors, page, requests } = yield* openPage

        yield* call(() => page.goto(`file://${file}`))
        assert.strictEqual(yield* call(() => page.title()), "viewer test")
        assert.strictEqual(yield* call(() => page.locator("svg .node").count()), run.all.length)
        assert.strictEqual(yield* call(() => page.locator("svg .edge").count()), 6)
        assert.strictEqual(yield* call(() => page.locator("svg .edge.op-merge").count()), 2)
        assert.strictEqual(yield* call(() => page.locator("svg .node.failed").count()), 1)
        // the initially selected session is shown
        assert.strictEqual(yield* call(() => page.locator("#details h2").textContent()), run.root.id)

        // the failed coder attempt: its own three entries, with the tool evidence
        yield* call(() => page.locator(`.node[data-id="${run.b.id}"]`).click())
        assert.strictEqual(yield* call(() => page.locator("#details h2").textContent()), run.b.id)
        assert.strictEqual(yield* call(() => page.locator("#entries .entry").count()), 3)
        const tags = yield* call(() => page.locator("#entries .entry .tag").allTextContents())
        assert.deepStrictEqual(tags, ["5. Assistant", "6. ToolResult", "7. Check"])
        yield* call(() => page.locator("#entries .entry summary").nth(1).click())
        const tool = yield* call(() => page.locator("#entries .entry").nth(1).innerText())
        assert.include(tool, "local:sbx_1 (/tmp/ws)")
        assert.include(tool, "340 ms")
        assert.include(tool, "failed: tool_failed: exit 1")
        assert.include(yield* call(() => page.locator("#details .chips").innerText()), "✗ tests")
        assert.include(yield* call(() => page.locator("#details dl.facts").innerText()), "230 tok (in 210, out 20)")

        // inherited entries appear on demand
        yield* call(() => page.locator("#show-inherited").check())
        assert.strictEqual(yield* call(() => page.locator("#entries .entry").count()), run.b.length)

        // the merge: memory commit and checks from both sides
        yield* call(() => page.locator(`.node[data-id="${run.merged.id}"]`).click())
        assert.strictEqual(
          yield* call(() => page.locator("#entries .entry").count()),
          run.merged.length - run.merged.base
        )
        const memory = page.locator("#entries .entry.tag-Memory")
        yield* call(() => memory.locator("summary").click())
        assert.include(yield* call(() => memory.innerText()), "wrote")
        assert.include(yield* call(() => memory.innerText()), "m_2: greet lives in src/greet.ts")

        yield* call(() => page.screenshot({ path: path.join(outDir, "viewer.png"), fullPage: true }))
        assert.deepStrictEqual(errors, [])
        assert.deepStrictEqual(requests.filter((url) => !url.startsWith("file://")), [])
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive.skipIf(skip)(
    "a URL hash that names no session (#constructor, #__proto__, a malformed escape) throws nothing",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const run = yield* buildRun.pipe(Effect.provide(TestContext.TestContext))
        const outDir = path.resolve("test-output")
        yield* fs.makeDirectory(outDir, { recursive: true })
        const file = path.join(outDir, "viewer-hash.html")
        yield* fs.writeFileString(file, Viewer.html(run.all, { title: "hash test" }))
        const { call, errors, page } = yield* openPage
        for (const hash of ["constructor", "__proto__", "toString", "hasOwnProperty", "%E0%A4%A"]) {
          yield* call(() => page.goto(`file://${file}#${hash}`))
          // a new document per hash (a hash change alone does not reload)
          yield* call(() => page.reload())
          const shown = yield* call(() => page.locator("#details h2").textContent())
          assert.strictEqual(shown, hash, "the hash is shown as an unknown id")
          assert.include(yield* call(() => page.locator("#details").innerText()), "not part of this set", hash)
          // the page still works: a click shows a real session
          yield* call(() => page.locator(`.node[data-id="${run.b.id}"]`).click())
          assert.strictEqual(yield* call(() => page.locator("#details h2").textContent()), run.b.id)
        }
        assert.deepStrictEqual(errors, [])
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive.skipIf(skip)(
    "the page `rath serve` serves over a SQLite store loads, draws the graph and shows entries on click",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        // (the TestContext's TestClock stays on this fiber afterwards: nothing below sleeps)
        const run = yield* buildRun.pipe(Effect.provide(TestContext.TestContext))
        const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-serve-" })
        const db = path.join(dir, "rath.db")
        for (const session of run.all) {
          const file = path.join(dir, `${session.id}.jsonl`)
          yield* fs.writeFileString(file, Session.toJsonl(session))
          const imported = yield* rath("import", file, "--store", db)
          assert.strictEqual(imported.code, 0, imported.stderr)
        }

        // the real command, in this process, on a free port; it prints the address it serves at
        const printed: Array<string> = []
        const listening = yield* Deferred.make<string>()
        const base = yield* Effect.console
        const hear = (...parts: ReadonlyArray<unknown>) =>
          Effect.suspend(() => {
            const line = parts.join(" ")
            printed.push(line)
            const address = /serving .* at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
            return address === undefined ? Effect.void : Deferred.succeed(listening, address)
          })
        const capture: Console.Console = { ...base, log: hear, error: hear }
        const server = yield* Effect.forkScoped(
          Cli.main(["node", "rath", "serve", "--store", db, "--port", "0"]).pipe(Effect.withConsole(capture))
        )
        // the address, or the exit code if the command ended instead
        const url = yield* Effect.raceFirst(
          Deferred.await(listening),
          Effect.map(Fiber.join(server), (code) => `exited ${code}: ${printed.join("\n")}`)
        )
        assert.match(url, /^http:/)

        const { call, errors, page, requests } = yield* openPage
        const origin = url.replace(/\/?#.*$/, "").replace(/\/$/, "")
        // `/` answers the debugger (Viewer.page)
        const root = yield* call(() => fetch(`${origin}/`).then((r) => r.text()))
        assert.include(root, "id=\"list-spacer\"")

        const response = yield* call(() => page.goto(url))
        assert.strictEqual(response?.status(), 200)
        yield* call(() => page.locator("body[data-ready=true]").waitFor({ timeout: 20_000 }))
        assert.strictEqual(yield* call(() => page.locator("#graph .node").count()), run.all.length)
        assert.strictEqual(yield* call(() => page.locator("#graph .edge").count()), 6)
        assert.strictEqual(yield* call(() => page.locator("#graph .edge.kind-merge").count()), 2)

        // the failed coder attempt, as the store holds it: its entries and the tool evidence
        yield* call(() => page.locator(`#graph .node[data-id="${run.b.id}"]`).click())
        yield* call(() => page.locator("#details h2", { hasText: run.b.id }).waitFor({ timeout: 20_000 }))
        const tags = yield* call(() => page.locator("#entries .entry .tag").allTextContents())
        assert.deepStrictEqual(tags.slice(-3), ["5. Assistant", "6. ToolResult", "7. Check"])
        const tool = yield* call(() => page.locator("#entries .entry.tag-ToolResult").innerText())
        assert.include(tool, "failed: tool_failed: exit 1")

        const outDir = path.resolve("test-output")
        yield* fs.makeDirectory(outDir, { recursive: true })
        yield* call(() => page.screenshot({ path: path.join(outDir, "viewer-serve.png"), fullPage: true }))
        assert.deepStrictEqual(errors, [])
        // the page asks nothing of anyone but the server it came from
        assert.deepStrictEqual(requests.filter((request) => !request.startsWith(url)), [])
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
