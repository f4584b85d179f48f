// W4, rath: PENDING until rath exports "Agent". See ../../../docs/performance.md.
import { loadRath } from "./lib.mjs"

await loadRath("W4", ["Agent"])
