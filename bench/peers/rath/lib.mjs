// rath side of the benchmark: the scripts import the built package (`npm run build` -> dist/),
// which is what users run. While a module a workload needs has not landed in rath yet, the
// script prints one JSON line with `pending: true` and exits 0, so the runner reports
// "pending" for rath instead of failing.
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { repoRoot } from "../lib/common.mjs"

export const pending = (workload, reason) => {
  process.stdout.write(JSON.stringify({ workload, peer: "rath", pending: true, reason }) + "\n")
  process.exit(0)
}

/** Imports rath from dist/, or reports the workload as pending when `needs` are not exported yet. */
export const loadRath = async (workload, needs) => {
  const entry = join(repoRoot, "dist", "index.js")
  if (!existsSync(entry)) pending(workload, "dist/ is not built (npm run build)")
  const rath = await import(pathToFileURL(entry).href)
  const missing = needs.filter((name) => !(name in rath))
  if (missing.length > 0) pending(workload, `rath does not export ${missing.join(", ")} yet`)
  return rath
}

/** rath's version, from the root package.json. */
export const version = () => `rath@${JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version}`
