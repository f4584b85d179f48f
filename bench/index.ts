/**
 * `npm run bench`: runs every `bench/*.bench.ts` in its own fresh Node process (so one
 * benchmark's heap and JIT state never colour another's) and passes their JSON lines through.
 * `npm run bench -- session` runs only the files whose name contains "session".
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const filters = process.argv.slice(2)
const files = readdirSync(here)
  .filter((name) => name.endsWith(".bench.ts"))
  .filter((name) => filters.length === 0 || filters.some((filter) => name.includes(filter)))
  .sort()

let failed = 0
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`)
  const result = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", join(here, file)], {
    stdio: ["ignore", "inherit", "inherit"]
  })
  if (result.status !== 0) {
    failed++
    process.stderr.write(`bench: ${file} exited with ${result.status ?? result.signal}\n`)
  }
}
process.exit(failed === 0 ? 0 : 1)
