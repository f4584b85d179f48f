import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = fileURLToPath(new URL("./src/", import.meta.url))

export default defineConfig({
  resolve: {
    // tests import the package by its public name, resolved to the sources
    alias: [
      { find: /^rath$/, replacement: `${src}index.ts` },
      { find: /^rath\/(.*)$/, replacement: `${src}$1.ts` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    // the JSON report lets .ci/run print one plain "N passed, N failed" closing line
    reporters: ["default", ["json", { outputFile: "test-output/vitest.json" }]],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
