// W2, rath: PENDING until rath exports "SessionStore". See ../../../docs/performance.md.
import { loadRath } from "./lib.mjs"

await loadRath("W2", ["SessionStore"])
