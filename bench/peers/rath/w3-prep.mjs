// W3 preparation (untimed), rath: PENDING until rath exports SessionStore.
import { loadRath } from "./lib.mjs"

await loadRath("W3", ["SessionStore"])
