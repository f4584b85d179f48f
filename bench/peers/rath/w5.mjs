// W5, rath: PENDING until rath exports "Agent". See ../../../docs/performance.md.
import { loadRath } from "./lib.mjs"

await loadRath("W5", ["Agent"])
