// The debugger page in headless Chromium against the real run server (Server.make, h17a) on the
// scripted provider: a run started from the page streams into its timeline; an approval answered
// from the page lets the run go on; a 10,000-session store paints its first screen in ≤ 2 s
// (measured in the browser); the drawn graph crosses no node box; no request leaves 127.0.0.1.
import { FileSystem, Path } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, TestContext } from "effect"
import { Scripted, Server, Session, SessionStore } from "rath"
import { openBrowserPage, skipBrowser } from "./browser.js"
import { buildRun } from "./cli-fixture.js"
import { gate, makeAgents, script } from "./server-fixture.js"

// -----------------------------------------------------------------------------
// the server: three agents on the scripted provider
// -----------------------------------------------------------------------------

const TOKEN = "viewer-t0ken"

const serve = (store: SessionStore.Service, g: ReturnType<typeof gate>) => {
  const { echo, treasurer, waiter } = makeAgents(g)
  const workflows = [echo, waiter, treasurer]
  return Server.make({
    workflows,
    token: Redacted.make(TOKEN),
    title: "debugger test",
    // USD per million tokens: the timeline shows each model call's cost
    prices: { "scripted-model": { input: 2, output: 8 } }
  }).pipe(
    Effect.provideService(SessionStore.SessionStore, store),
    Effect.provide(Scripted.layer(script))
  )
}

// -----------------------------------------------------------------------------
// the browser
// -----------------------------------------------------------------------------

const skip = skipBrowser("viewer server browser test")

/**
 * Chromium on the server's page, ready, with the errors it logs and every URL it requests; the
 * token is handed over in the address's fragment unless `withToken` is false (a reader).
 */
const openPage = (server: Server.Server, withToken = true) =>
  Effect.gen(function*() {
    const opened = yield* openBrowserPage
    const { call, page } = opened
    // the server answers `/` with the debugger, Viewer.page
    const root = yield* call(() => fetch(server.url).then((r) => r.text()))
    assert.include(root, "id=\"list-spacer\"")
    yield* call(() => page.goto(withToken ? `${server.url}#token=${TOKEN}` : server.url))
    yield* call(() => page.locator("body[data-ready=true]").waitFor({ timeout: 20_000 }))
    return opened
  })

/** Starts `workflow` on `input` from the page's start form. */
type Opened = Effect.Effect.Success<typeof openBrowserPage>

const startRun = (call: Opened["call"], page: Opened["page"], workflow: string, input: string) =>
  Effect.gen(function*() {
    yield* call(() => page.locator("#start-workflow").selectOption(workflow))
    yield* call(() => page.locator("#start-input").fill(input))
    yield* call(() => page.locator("#start-button").click())
    // the page has the run once the server answered: it then shows the run's timeline, so a tab
    // key pressed before that answer would be undone by it
    yield* call(() =>
      page.locator("#toast", { hasText: `started ${workflow}` }).waitFor({ state: "attached", timeout: 20_000 })
    )
  })

const screenshot = (page: { screenshot: (o: { path: string }) => Promise<unknown> }, name: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const outDir = path.resolve("test-output")
    yield* fs.makeDirectory(outDir, { recursive: true })
    yield* Effect.promise(() => page.screenshot({ path: path.join(outDir, name) }))
  })

const onlyLocal = (requests: ReadonlyArray<string>, server: Server.Server) => {
  assert.isAbove(requests.length, 0)
  for (const url of requests) assert.isTrue(url.startsWith(server.url), url)
  assert.isTrue(server.url.startsWith("http://127.0.0.1:"))
}

describe("the debugger against the run server, in headless Chromium", () => {
  it.scopedLive.skipIf(skip)(
    "a run started from the page streams into its timeline; interrupting is offered while it runs",
    () =>
      Effect.gen(function*() {
        const store = yield* SessionStore.makeMemory
        const g = gate()
        const server = yield* serve(store, g)
        const { call, errors, page, requests } = yield* openPage(server)
        // the token left the address bar for sessionStorage
        assert.notInclude(page.url(), TOKEN)
        assert.strictEqual(yield* call(() => page.locator("#token-state").innerText()), "token set")

        yield* startRun(call, page, "waiter", "hello from the page")
        // the run waits in its tool; the page shows its session as it is saved so far (the user's
        // message: the server saves the model's tool call with its result) and offers an interrupt
        yield* call(() => page.locator("#pane", { hasText: "running" }).waitFor({ timeout: 20_000 }))
        // (the model's tool call may or may not be saved yet; the tool's result cannot be)
        assert.strictEqual(yield* call(() => page.locator("#timeline .lbl.item-tool").count()), 0)
        yield* call(() => page.keyboard.press("e"))
        yield* call(() =>
          page.locator("#entries .entry", { hasText: "hello from the page" }).waitFor({ timeout: 20_000 })
        )
        yield* call(() => page.keyboard.press("r"))
        yield* call(() => page.locator(".card.run[data-status=running] .interrupt").waitFor({ timeout: 10_000 }))
        yield* screenshot(page, "viewer-server-running.png")
        yield* call(() => page.keyboard.press("t"))
        g.release()
        // the rest streams in: the tool call and the second model call
        yield* call(() => page.locator("#timeline .lbl.item-tool", { hasText: "wait" }).waitFor({ timeout: 20_000 }))
        yield* call(() => page.locator("#timeline-sum", { hasText: /^3 calls/ }).waitFor({ timeout: 20_000 }))
        // each model call with its cost from the price table, as the API counts it
        const selected = yield* call(() =>
          page.evaluate<string>("document.querySelector('#timeline .lbl').dataset.entry")
        )
        assert.isString(selected)
        const costs = yield* call(() => page.locator("#timeline .num.item-model").allInnerTexts())
        assert.strictEqual(costs.length, 2)
        for (const text of costs) assert.match(text, /tok · \$0\.0000\d+/)
        assert.match(yield* call(() => page.locator("#timeline-sum").innerText()), /tok · \$0\.0000\d+ ·/)
        yield* call(() => page.keyboard.press("e"))
        yield* call(() =>
          page.locator("#entries .entry", { hasText: "echo: hello from the page" }).waitFor({ timeout: 20_000 })
        )
        yield* screenshot(page, "viewer-server-run.png")
        assert.deepStrictEqual(errors, [])
        onlyLocal(requests, server)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive.skipIf(skip)(
    "a slow run started from the page is interrupted from it: the run ends interrupted and the timeline says so",
    () =>
      Effect.gen(function*() {
        const store = yield* SessionStore.makeMemory
        // the gate is never opened: the run waits in its tool until interrupted
        const server = yield* serve(store, gate())
        const { call, errors, page, requests } = yield* openPage(server)
        yield* startRun(call, page, "waiter", "never ends by itself")
        yield* call(() => page.keyboard.press("r"))
        const running = page.locator(".card.run[data-status=running]")
        yield* call(() => running.locator(".interrupt").waitFor({ timeout: 20_000 }))
        const runId = yield* call(() => running.getAttribute("data-run"))
        yield* call(() => running.locator(".interrupt").click())
        yield* call(() => page.locator(".card.run[data-status=interrupted]").waitFor({ timeout: 20_000 }))
        assert.strictEqual(
          yield* call(() => page.locator(".card.run .interrupt").count()),
          0,
          "no interrupt once ended"
        )
        // the server says so too
        const info: any = yield* call(() => fetch(new URL(`/api/runs/${runId}`, server.url)).then((r) => r.json()))
        assert.strictEqual(info.status, "interrupted")
        // the run's session: its timeline ends with the interrupt
        yield* call(() => page.keyboard.press("t"))
        yield* call(() =>
          page.locator("#timeline-end", { hasText: "run ended: interrupted" }).waitFor({ timeout: 20_000 })
        )
        assert.include(yield* call(() => page.locator("#pane").innerText()), "interrupted")
        yield* screenshot(page, "viewer-server-interrupted.png")
        assert.deepStrictEqual(errors, [])
        onlyLocal(requests, server)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive.skipIf(skip)(
    "an approval answered from the page lets the run go on",
    () =>
      Effect.gen(function*() {
        const store = yield* SessionStore.makeMemory
        const server = yield* serve(store, gate())
        const { call, errors, page, requests } = yield* openPage(server)
        yield* startRun(call, page, "treasurer", "pay the bill")
        // the pending call shows up, with its arguments
        yield* call(() => page.locator("#approvals-count", { hasText: "1" }).waitFor({ timeout: 20_000 }))
        yield* call(() => page.keyboard.press("a"))
        const card = page.locator(".card.approval").first()
        assert.include(yield* call(() => card.innerText()), "transfer")
        assert.include(yield* call(() => card.locator("textarea").inputValue()), "30")
        yield* screenshot(page, "viewer-server-approval.png")
        yield* call(() => card.locator(".approve").click())
        yield* call(() => page.locator("#approvals-count", { hasText: "0" }).waitFor({ timeout: 10_000 }))
        // the run goes on and ends; its session holds the tool's result and the final answer
        yield* call(() => page.keyboard.press("r"))
        yield* call(() => page.locator(".card.run[data-status=done]").waitFor({ timeout: 20_000 }))
        yield* call(() => page.locator(".card.run[data-status=done] button", { hasText: "open session" }).click())
        yield* call(() => page.keyboard.press("e"))
        yield* call(() =>
          page.locator("#entries .entry", { hasText: "echo: pay the bill" }).waitFor({ timeout: 20_000 })
        )
        const result = yield* call(() => page.locator("#entries .entry.tag-ToolResult .text").innerText())
        assert.match(result, /^transfer → .*"sent":30/)
        assert.deepStrictEqual(errors, [])
        onlyLocal(requests, server)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive.skipIf(skip)(
    "fork from an entry with an edited message re-runs from there",
    () =>
      Effect.gen(function*() {
        const store = yield* SessionStore.makeMemory
        const server = yield* serve(store, gate())
        const { call, errors, page, requests } = yield* openPage(server)
        yield* startRun(call, page, "echo", "first question")
        yield* call(() => page.keyboard.press("e"))
        yield* call(() =>
          page.locator("#entries .entry", { hasText: "echo: first question" }).waitFor({ timeout: 20_000 })
        )
        // fork at the user's message, with the message edited, and re-run the echo agent
        const user = page.locator("#entries .entry.tag-User", { hasText: "first question" }).first()
        yield* call(() => user.locator("button.fork").click())
        yield* call(() => user.locator("textarea").fill("second question"))
        yield* call(() => user.locator("select").selectOption("echo"))
        yield* call(() => user.locator("button[type=submit]").click())
        yield* call(() =>
          page.locator("#entries .entry", { hasText: "echo: second question" }).waitFor({ timeout: 20_000 })
        )
        const text = yield* call(() => page.locator("#entries").innerText())
        assert.notInclude(text, "first question", "the fork replaced the message")
        yield* screenshot(page, "viewer-server-fork.png")
        assert.deepStrictEqual(errors, [])
        onlyLocal(requests, server)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive.skipIf(skip)(
    "a store of 10,000 sessions paints its first screen in at most 2 s; the drawn lineage crosses no box",
    () =>
      Effect.gen(function*() {
        const store = yield* SessionStore.makeMemory
        // a real lineage (forks and two merges) on top of 10,000 one-entry sessions
        const run = yield* buildRun.pipe(Effect.provide(TestContext.TestContext))
        for (let i = 0; i < 10_000; i++) {
          yield* Session.fromUserMessage(`task ${i}`).pipe(Effect.flatMap(store.save))
        }
        for (const session of run.all) yield* store.save(session)
        const server = yield* serve(store, gate())
        const { call, errors, page, requests } = yield* openPage(server, false)
        const firstScreen = yield* call(() => page.evaluate<number>("window.rathFirstScreen"))
        console.log(`first screen of a 10,006-session store over the run server: ${firstScreen.toFixed(0)} ms`)
        assert.isAtMost(firstScreen, 2000)
        assert.include(yield* call(() => page.locator("#count").innerText()), "of 10006 sessions loaded")
        assert.isAtMost(yield* call(() => page.locator("#list .row").count()), 40)
        // the graph pages through the whole store: page 2 of 101 has 100 other sessions
        const firstPage = yield* call(() =>
          page.locator("#graph .node").evaluateAll((ns) => ns.map((n) => n.getAttribute("data-id")))
        )
        assert.strictEqual(firstPage.length, 100)
        yield* call(() => page.locator("#graph-older").click())
        yield* call(() => page.locator("#graph-scope", { hasText: "page 2 of 101" }).waitFor({ timeout: 20_000 }))
        const secondPage = yield* call(() =>
          page.locator("#graph .node").evaluateAll((ns) => ns.map((n) => n.getAttribute("data-id")))
        )
        assert.strictEqual(secondPage.length, 100)
        assert.deepStrictEqual(secondPage.filter((id) => firstPage.includes(id)), [])
        yield* call(() => page.locator("#graph-newer").click())
        yield* call(() => page.locator("#graph-scope", { hasText: "page 1 of 101" }).waitFor({ timeout: 20_000 }))
        assert.isTrue(yield* call(() => page.locator("#graph-newer").isDisabled()))

        // the lineage of the built run, drawn by the page from /api/graph
        yield* call(() => page.locator("#q").fill(run.merged.id))
        yield* call(() => page.locator(`#list .row[data-id="${run.merged.id}"]`).click())
        yield* call(() =>
          page.locator(`#graph .node.selected[data-id="${run.merged.id}"]`).waitFor({ timeout: 20_000 })
        )
        const drawn = yield* call(() => page.evaluate<{ crossings: Array<string>; edges: number }>(crossings))
        assert.deepStrictEqual(drawn.crossings, [])
        assert.isAbove(drawn.edges, 0)
        yield* screenshot(page, "viewer-server-10k.png")
        assert.deepStrictEqual(errors, [])
        onlyLocal(requests, server)
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})

/** Every drawn edge sampled along its SVG path against every node box it does not join. */
const crossings = `(() => {
  const boxes = Array.from(document.querySelectorAll("#graph .node")).map((node) => {
    const rect = node.querySelector("rect")
    const m = node.transform.baseVal.consolidate().matrix
    return { id: node.dataset.id, x: m.e, y: m.f, w: rect.width.baseVal.value, h: rect.height.baseVal.value }
  })
  const out = []
  for (const path of Array.from(document.querySelectorAll("#graph .edge"))) {
    const length = path.getTotalLength()
    for (let s = 0; s <= length; s += 2) {
      const p = path.getPointAtLength(s)
      for (const box of boxes) {
        if (box.id === path.dataset.from || box.id === path.dataset.to) continue
        if (p.x > box.x - 0.5 && p.x < box.x + box.w + 0.5 && p.y > box.y - 0.5 && p.y < box.y + box.h + 0.5) {
          out.push(path.dataset.from + "→" + path.dataset.to + " inside " + box.id)
        }
      }
    }
  }
  return { crossings: out.slice(0, 10), edges: document.querySelectorAll("#graph .edge").length }
})()`
