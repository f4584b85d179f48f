// Viewer.page in headless Chromium, served by a small 127.0.0.1 server that answers the read side
// of the contract (notes/contract-17.md) from Viewer.layout and in-memory summaries: the drawn
// edges cross no node box (read from the SVG the browser drew), the page asks nothing of any
// other host, and paging, search, grouping, zoom and the timeline work. The run side (start a run,
// approve) is tested against the real server in viewer-server.test.ts.
import { FileSystem, Path } from "@effect/platform"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Viewer } from "rath"
import { openBrowserPage, skipBrowser } from "./browser.js"

// -----------------------------------------------------------------------------
// a contract-shaped read API over rows
// -----------------------------------------------------------------------------

interface Row extends Viewer.LayoutInput {
  readonly run: string | null
  readonly updatedAt: string
}

const summary = (row: Row) => ({
  id: row.id,
  name: row.label ?? null,
  parents: row.parents,
  entries: 2,
  createdAt: row.updatedAt,
  updatedAt: row.updatedAt,
  run: row.run,
  agents: ["coder"],
  tools: ["write_file"],
  failedChecks: row.status === "failed" ? 1 : 0,
  usage: { input: 10, output: 5 },
  status: row.status ?? "idle"
})

const entries = (row: Row) => [
  { _tag: "User", id: `${row.id}-e1`, text: `task of ${row.id}`, author: { kind: "user", name: "user" }, timestamp: 0 },
  {
    _tag: "Assistant",
    id: `${row.id}-e2`,
    text: `answer of ${row.id}`,
    toolCalls: [],
    author: { kind: "agent", name: "coder" },
    timestamp: 1500
  }
]

const serveRows = (rows: ReadonlyArray<Row>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly close: () => Promise<void> }>((resume) => {
      const ordered = [...rows].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || a.id.localeCompare(b.id))
      const byId = new Map(rows.map((row) => [row.id, row]))
      const json = (res: ServerResponse, body: unknown, status = 200) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      const handle = (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1")
        const p = url.searchParams
        const parts = url.pathname.split("/").filter((part) => part.length > 0).map(decodeURIComponent)
        if (url.pathname === "/") {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
          return res.end(Viewer.page({ title: "page test" }))
        }
        if (url.pathname === "/api/events") {
          res.writeHead(200, { "content-type": "text/event-stream" })
          return res.write(": open\n\n")
        }
        if (url.pathname === "/api/workflows" || url.pathname === "/api/runs" || url.pathname === "/api/approvals") {
          return json(res, { items: [] })
        }
        const matching = (row: Row) =>
          (!p.get("q") || row.id.includes(p.get("q")!) || (row.label ?? "").includes(p.get("q")!)) &&
          (!p.get("run") || row.run === p.get("run")) && (p.get("failed") !== "true" || row.status === "failed")
        if (url.pathname === "/api/sessions") {
          const all = ordered.filter(matching)
          const from = Number(p.get("cursor") ?? 0)
          const limit = Number(p.get("limit") ?? 100)
          const items = all.slice(from, from + limit).map(summary)
          // the tool filter reads entries: like the server, the fake gives an upper bound and says so
          const bound = p.get("tool") !== null
          return json(res, {
            items,
            next: from + limit < all.length ? String(from + limit) : null,
            total: all.length + (bound ? 5 : 0),
            totalExact: !bound
          })
        }
        if (url.pathname === "/api/graph") {
          const chosen = p.get("ids")
            ? p.get("ids")!.split(",").flatMap((id) => byId.get(id) ?? [])
            : p.get("run")
            ? ordered.filter((row) => row.run === p.get("run"))
            : ordered.slice(Number(p.get("cursor") ?? 0), Number(p.get("cursor") ?? 0) + Number(p.get("limit") ?? 100))
          return json(res, Viewer.layout(chosen))
        }
        if (parts[0] === "api" && parts[1] === "sessions" && parts[2] !== undefined) {
          const row = byId.get(parts[2])
          if (row === undefined) return json(res, { error: `no session ${parts[2]}`, reason: "NotFound" }, 404)
          if (parts[3] === "timeline") {
            return json(res, {
              items: [{
                kind: "model",
                entry: `${row.id}-e2`,
                index: 1,
                label: "scripted-1",
                agent: "coder",
                at: "2026-12-02T10:00:01.500Z",
                latencyMs: 1200,
                tokens: { input: 10, output: 5 },
                cost: 0.0012,
                ok: true,
                error: null
              }]
            })
          }
          return json(res, { summary: summary(row), entries: entries(row) })
        }
        json(res, { error: "not found", reason: "NotFound" }, 404)
      }
      const server = createServer(handle)
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          url: `http://127.0.0.1:${port}`,
          close: () =>
            new Promise<void>((done) => {
              server.closeAllConnections()
              server.close(() => done())
            })
        }))
      })
    }),
    (server) => Effect.promise(server.close)
  )

// -----------------------------------------------------------------------------
// data
// -----------------------------------------------------------------------------

const at = (i: number) => new Date(Date.UTC(2026, 11, 2, 10, 0, 0) - i * 1000).toISOString()

/** Two demo runs, the store the issue was found with. */
const demoRuns = (): Array<Row> =>
  [1, 2].flatMap((n) => {
    const run = `run${n}`
    const rows: Array<Omit<Row, "run" | "updatedAt">> = [
      { id: `task${n}`, parents: [], label: "root" },
      { id: `plan${n}`, parents: [`task${n}`], operation: "step", label: "planner" },
      { id: `placedA${n}`, parents: [`plan${n}`], operation: "fork", label: "attempt-A" },
      { id: `placedB${n}`, parents: [`plan${n}`], operation: "fork", label: "attempt-B" },
      { id: `coderA${n}`, parents: [`placedA${n}`], operation: "step", label: "coder A" },
      { id: `coderB${n}`, parents: [`placedB${n}`], operation: "step", label: "coder B", status: "failed" },
      { id: `merged${n}`, parents: [`plan${n}`, `coderA${n}`], operation: "merge", label: "merge" },
      { id: `final${n}`, parents: [`merged${n}`], operation: "step", label: "memory commit", status: "done" }
    ]
    return rows.map((row, i) => ({ ...row, run, updatedAt: at(n * 100 + i) }))
  })

/** A seeded random lineage of forks and merges, newest first in `at` order. */
const randomRows = (seed: number, size: number): Array<Row> => {
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  return Array.from({ length: size }, (_, i) => {
    const pick = () => `r${Math.floor(next() * i)}`
    const roll = next()
    const parents = i === 0 ? [] : roll < 0.25 && i > 2 ? [...new Set([pick(), pick()])] : [pick()]
    return {
      id: `r${i}`,
      parents,
      operation: parents.length > 1 ? "merge" : "fork",
      run: "random",
      updatedAt: at(1000 + i)
    }
  })
}

// -----------------------------------------------------------------------------
// the browser
// -----------------------------------------------------------------------------

const openPage = openBrowserPage
const skip = skipBrowser("viewer page browser test")

/**
 * In the browser: every drawn edge, sampled every 2 units along its SVG path, against every node
 * box it does not join (a string: the test's TypeScript has no DOM types).
 */
const crossingsInBrowser = `(() => {
  const boxes = Array.from(document.querySelectorAll("#graph .node")).map((node) => {
    const rect = node.querySelector("rect")
    const m = node.transform.baseVal.consolidate().matrix
    return { id: node.dataset.id, x: m.e, y: m.f, w: rect.width.baseVal.value, h: rect.height.baseVal.value }
  })
  const out = []
  let samples = 0
  for (const path of Array.from(document.querySelectorAll("#graph .edge"))) {
    const from = path.dataset.from
    const to = path.dataset.to
    const length = path.getTotalLength()
    for (let s = 0; s <= length; s += 2) {
      const p = path.getPointAtLength(s)
      samples++
      for (const box of boxes) {
        if (box.id === from || box.id === to) continue
        if (p.x > box.x - 0.5 && p.x < box.x + box.w + 0.5 && p.y > box.y - 0.5 && p.y < box.y + box.h + 0.5) {
          out.push(from + "→" + to + " at (" + p.x.toFixed(1) + "," + p.y.toFixed(1) + ") inside " + box.id)
          break
        }
      }
    }
  }
  return { crossings: out.slice(0, 10), samples, edges: document.querySelectorAll("#graph .edge").length }
})()`

interface Drawn {
  readonly crossings: ReadonlyArray<string>
  readonly samples: number
  readonly edges: number
}

describe("Viewer.page in headless Chromium (contract-shaped local API)", () => {
  it.scopedLive.skipIf(skip)(
    "draws edges that cross no node box, asks nothing of any other host, and zooms, searches and groups",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const outDir = path.resolve("test-output")
        yield* fs.makeDirectory(outDir, { recursive: true })
        const rows = [...demoRuns(), ...randomRows(7, 60)]
        const server = yield* serveRows(rows)
        const { call, errors, page, requests } = yield* openPage

        yield* call(() => page.goto(`${server.url}/`))
        yield* call(() => page.waitForSelector("body[data-ready=true]", { timeout: 15_000 }))
        assert.strictEqual(yield* call(() => page.title()), "page test")

        // the newest 100: the two demo runs (16) and 60 random sessions
        assert.strictEqual(yield* call(() => page.locator("#graph .node").count()), rows.length)
        const drawn = yield* call(() => page.evaluate<Drawn>(crossingsInBrowser))
        assert.deepStrictEqual(drawn.crossings, [])
        assert.strictEqual(drawn.edges, rows.reduce((n, row) => n + row.parents.length, 0))
        assert.isAbove(drawn.samples, 1000)
        yield* call(() => page.screenshot({ path: path.join(outDir, "viewer-page-graph.png") }))

        // zoom with the wheel changes the viewBox; fit restores the layout's bounds
        const before = yield* call(() => page.locator("#graph").getAttribute("viewBox"))
        const box = (yield* call(() => page.locator("#graph").boundingBox()))!
        yield* call(() => page.mouse.move(box.x + box.width / 2, box.y + box.height / 2))
        yield* call(() => page.mouse.wheel(0, -400))
        const zoomed = yield* call(() => page.locator("#graph").getAttribute("viewBox"))
        assert.notStrictEqual(zoomed, before)
        assert.isBelow(Number(zoomed!.split(" ")[2]), Number(before!.split(" ")[2]))
        // drag pans
        yield* call(() => page.mouse.down())
        yield* call(() => page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 40, { steps: 4 }))
        yield* call(() => page.mouse.up())
        const panned = yield* call(() => page.locator("#graph").getAttribute("viewBox"))
        assert.notStrictEqual(panned, zoomed)
        assert.strictEqual(panned!.split(" ")[2], zoomed!.split(" ")[2], "a pan keeps the zoom")
        yield* call(() => page.locator("#fit").click())
        assert.strictEqual(yield* call(() => page.locator("#graph").getAttribute("viewBox")), before)

        // a session of a run: its graph is that run's, and its timeline shows the model call
        yield* call(() => page.locator(".row[data-id=coderB1]").click())
        yield* call(() => page.locator("#graph-scope", { hasText: "run run1" }).waitFor())
        assert.strictEqual(yield* call(() => page.locator("#graph .node").count()), 8)
        assert.deepStrictEqual((yield* call(() => page.evaluate<Drawn>(crossingsInBrowser))).crossings, [])
        assert.strictEqual(yield* call(() => page.locator("#graph .node.selected").getAttribute("data-id")), "coderB1")
        assert.include(yield* call(() => page.locator("#entries").innerText()), "answer of coderB1")
        yield* call(() => page.keyboard.press("t"))
        assert.include(yield* call(() => page.locator("#timeline").innerText()), "1200 ms")
        // the cost of the call, and the total above
        assert.include(yield* call(() => page.locator("#timeline").innerText()), "$0.0012")
        assert.include(yield* call(() => page.locator("#timeline-sum").innerText()), "$0.0012")
        yield* call(() => page.screenshot({ path: path.join(outDir, "viewer-page-run.png") }))

        // search: the list asks the server with q=
        yield* call(() => page.locator("#q").fill("coder"))
        yield* call(() => page.locator("#count", { hasText: /^4 of 4 / }).waitFor())
        // grouping by run: one header per run
        yield* call(() => page.locator("#q").fill(""))
        yield* call(() => page.locator("#count", { hasText: /^76 of 76 / }).waitFor())
        yield* call(() => page.locator("#group").check())
        assert.deepStrictEqual(
          yield* call(() => page.locator(".row.group .l1").allTextContents()),
          ["run run1", "run run2", "run random"]
        )
        yield* call(() => page.locator("#group").uncheck())
        // a filter whose total the server only bounds: the page says "at most"
        yield* call(() => page.locator("#f-tool").fill("write_file"))
        yield* call(() => page.locator("#count", { hasText: /^76 of at most 81 sessions/ }).waitFor())

        assert.deepStrictEqual(errors, [])
        // every request the page made went to the server it came from
        const hosts = new Set(requests.map((url) => new URL(url).host))
        assert.deepStrictEqual([...hosts], [new URL(server.url).host])
        assert.isTrue(requests.every((url) => url.startsWith("http://127.0.0.1:")))
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )

  it.scopedLive.skipIf(skip)(
    "a store of 10,000 sessions: the first screen (list and graph painted) in at most 2 s, measured in the browser",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const outDir = path.resolve("test-output")
        yield* fs.makeDirectory(outDir, { recursive: true })
        const rows = randomRows(11, 10_000)
        const server = yield* serveRows(rows)
        const { call, errors, page } = yield* openPage
        yield* call(() => page.goto(`${server.url}/`))
        yield* call(() => page.locator("body[data-ready=true]").waitFor({ timeout: 15_000 }))
        // performance.now() counts from navigation start; the page records it once the first page
        // of the list and the graph are in the DOM and a frame has been painted
        const firstScreen = yield* call(() => page.evaluate<number>("window.rathFirstScreen"))
        const timing = yield* call(() =>
          page.evaluate<string>(
            `JSON.stringify(performance.getEntries().map((e) => [e.entryType, e.name.replace(location.origin, ""), Math.round(e.startTime), Math.round(e.duration)]))`
          )
        )
        console.log(`first screen of a 10,000-session store: ${firstScreen.toFixed(0)} ms in the browser; ${timing}`)
        assert.isAtMost(firstScreen, 2000)
        assert.include(yield* call(() => page.locator("#count").innerText()), "of 10000 sessions loaded")
        // virtualised: a screenful of rows in the DOM, not 10,000
        const drawnRows = yield* call(() => page.locator("#list .row").count())
        assert.isAtMost(drawnRows, 40)
        assert.strictEqual(yield* call(() => page.locator("#graph .node").count()), 100)
        // scrolling far down loads the pages in between, by cursor
        yield* call(() => page.evaluate("document.getElementById('list').scrollTop = 40 * 1500"))
        yield* call(() => page.locator("#list .row[data-id=r1500]").waitFor({ timeout: 15_000 }))
        yield* call(() => page.screenshot({ path: path.join(outDir, "viewer-page-10k.png") }))
        assert.deepStrictEqual(errors, [])
      }).pipe(Effect.provide(NodeContext.layer)),
    60_000
  )
})
