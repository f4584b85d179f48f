/**
 * Headless Chromium for the viewer tests (playwright-core on the system's Chromium). Outside CI a
 * machine without them skips those tests with a message saying what to install; in CI they must
 * be there, and a missing one fails the test instead.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"

export const chromiumPath = "/usr/bin/chromium"

const hasPlaywright = (() => {
  try {
    createRequire(import.meta.url).resolve("playwright-core")
    return true
  } catch {
    return false
  }
})()

/** What is missing to run a browser test, with how to install each. */
export const missing: ReadonlyArray<string> = [
  ...(hasPlaywright ? [] : ["the playwright-core package (npm ci installs it)"]),
  ...(existsSync(chromiumPath) ? [] : [`${chromiumPath} (apt-get install -y chromium)`])
]

/** Whether the browser tests named `what` skip here (never in CI), saying why when they do. */
export const skipBrowser = (what: string): boolean => {
  const skip = missing.length > 0 && process.env.CI === undefined
  if (skip) console.warn(`${what} skipped: missing ${missing.join(" and ")}`)
  return skip
}

const flags = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** A page in headless Chromium (closed with the scope), with the errors it logs and the URLs it requests. */
export const openBrowserPage = Effect.gen(function*() {
  // in CI the browser must be there (outside CI the tests skip with a message)
  if (missing.length > 0) return assert.fail(`CI must provide ${missing.join(" and ")}`)
  const { chromium } = yield* Effect.promise(() => import("playwright-core"))
  const browser = yield* Effect.acquireRelease(
    Effect.promise(() => chromium.launch({ executablePath: chromiumPath, headless: true, args: flags })),
    (browser) => Effect.promise(() => browser.close())
  )
  const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1400, height: 900 } }))
  const errors: Array<string> = []
  const requests: Array<string> = []
  page.on("pageerror", (error) => errors.push(String(error)))
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()))
  page.on("request", (request) => requests.push(request.url()))
  const call = <A>(f: () => Promise<A>) => Effect.promise(f)
  return { page, errors, requests, call }
})
