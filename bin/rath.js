#!/usr/bin/env node
// The `rath` executable of the package. A published package runs the compiled CLI in dist/; a
// checkout that has not been built yet runs the sources through tsx (a dev dependency), or says
// what to run when neither is there.
import { existsSync } from "node:fs"

const compiled = new URL("../dist/cli/bin.js", import.meta.url)
if (existsSync(compiled)) {
  await import(compiled.href)
} else {
  const api = await import("tsx/esm/api").catch(() => undefined)
  if (api === undefined) {
    process.stderr.write(
      "rath: this checkout is not built (no dist/cli/bin.js): run `npm ci && npm run build`, then `npx rath` again\n"
    )
    process.exit(1)
  }
  api.register()
  await import(new URL("../src/cli/bin.ts", import.meta.url).href)
}
