/**
 * A seeded fuzzer for stored sessions: damaged JSONL session files through `Session.fromJsonl`, and
 * damaged SQLite store files through `SessionStore.makeSqlite` (open, `list`, `load` of every
 * session, `exportJsonl`). The test suite runs it small (`test/SessionStore.fuzz.test.ts`);
 * `bench/fuzz/store.ts` runs it large and prints the counts.
 *
 * The originals are built once, deterministically (sequential ids, a fixed clock): a few sessions
 * with every common entry kind, a fork and a merge, an agent record and a placement. Each try
 * damages a copy (bit flips, byte overwrites, truncation, lines deleted, duplicated or swapped,
 * junk inserted, the trailer or the schema text damaged, pages zeroed or filled with noise, a file
 * that is no database, an empty file, a directory) and reads it back.
 *
 * Each read ends up in exactly one count:
 * - `defects`: the read died, or failed with something that is not the surface's typed error
 *   (`SessionError` for JSONL, `SessionStoreError` for the store);
 * - `hangs`: it had not settled within the per-try timeout (a read that blocks the event loop is
 *   counted by its elapsed time once it returns);
 * - `silent`: it succeeded with content that differs from the original's (a JSONL file that loads
 *   with `closed: false` must hold a prefix of the original entries, and says it is not closed);
 * - `typed`: it failed with the typed error;
 * - `torn`: (JSONL) it loaded an intact prefix and said so (`closed: false`): a truncation;
 * - `clean`: it loaded exactly the original (the damage did not touch what it reads: free pages,
 *   unused bytes, or a flip SQLite repairs).
 */
import { Cause, Clock, Effect, Exit, Option } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Entry, IdGenerator, Placement, Session, SessionStore } from "rath"

// -----------------------------------------------------------------------------
// seeded randomness
// -----------------------------------------------------------------------------

export interface Random {
  readonly next: () => number
  readonly int: (n: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

/** mulberry32 */
export const random = (seed: number): Random => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return { next, int, pick: (items) => items[int(items.length)]! }
}

// -----------------------------------------------------------------------------
// counts
// -----------------------------------------------------------------------------

export interface Counts {
  tries: number
  clean: number
  torn: number
  typed: number
  defects: number
  hangs: number
  silent: number
}

export interface Report {
  readonly surfaces: Record<string, Counts>
  readonly kinds: Record<string, Counts>
  readonly examples: Array<string>
}

const emptyCounts = (): Counts => ({ tries: 0, clean: 0, torn: 0, typed: 0, defects: 0, hangs: 0, silent: 0 })

export const newReport = (): Report => ({ surfaces: {}, kinds: {}, examples: [] })

type Outcome = "clean" | "torn" | "typed" | "defects" | "hangs" | "silent"

const count = (report: Report, surface: string, kind: string, outcome: Outcome, example?: string) => {
  const s = (report.surfaces[surface] ??= emptyCounts())
  const k = (report.kinds[`${surface}/${kind}`] ??= emptyCounts())
  s.tries++
  s[outcome]++
  k.tries++
  k[outcome]++
  if (
    (outcome === "defects" || outcome === "hangs" || outcome === "silent") && example !== undefined &&
    report.examples.length < 20
  ) {
    report.examples.push(`${surface}/${kind} ${outcome}: ${example.slice(0, 300)}`)
  }
}

/** Defects, hangs and silently wrong reads, over every surface. */
export const bad = (report: Report): number =>
  Object.values(report.surfaces).reduce((n, c) => n + c.defects + c.hangs + c.silent, 0)

export const format = (report: Report, options?: { readonly kinds?: boolean }): string => {
  const columns = ["tries", "clean", "torn", "typed", "defects", "hangs", "silent"] as const
  const rows = Object.entries(options?.kinds === true ? { ...report.surfaces, ...report.kinds } : report.surfaces)
  const width = Math.max(...rows.map(([name]) => name.length), 8)
  return [
    ["surface".padEnd(width), ...columns.map((c) => c.padStart(8))].join(" "),
    ...rows.map(([name, c]) => [name.padEnd(width), ...columns.map((k) => String(c[k]).padStart(8))].join(" "))
  ].join("\n")
}

// -----------------------------------------------------------------------------
// the originals
// -----------------------------------------------------------------------------

const fixedClock = (millis: number): Clock.Clock => {
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => millis,
    currentTimeMillis: Effect.succeed(millis),
    unsafeCurrentTimeNanos: () => BigInt(millis) * 1_000_000n,
    currentTimeNanos: Effect.succeed(BigInt(millis) * 1_000_000n),
    sleep: () => Effect.void
  }
  return clock
}

const deterministic = <A, E>(effect: Effect.Effect<A, E, IdGenerator.IdGenerator>) =>
  effect.pipe(
    Effect.provide(IdGenerator.layerSequential()),
    Effect.withClock(fixedClock(1_767_225_600_000))
  )

/** The sessions every try starts from: one long, a fork of it, a merge, one with a placement. */
export const originals: Effect.Effect<ReadonlyArray<Session.Session>, Session.SessionError> = deterministic(
  Effect.gen(function*() {
    let main = yield* Session.fromUserMessage("What is the weather in Paris? Answer briefly.")
    for (let i = 0; i < 12; i++) {
      main = yield* Session.append(
        main,
        i % 3 === 0
          ? Entry.assistant({
            text: `turn ${i}: calling the tool`,
            toolCalls: [{ id: `call_${i}`, name: "weather", arguments: `{"city":"Paris","day":${i}}` }],
            finishReason: "tool_calls"
          })
          : i % 3 === 1
          ? Entry.toolResult({
            callId: `call_${i - 1}`,
            toolName: "weather",
            output: { celsius: 10 + i, sky: "clear" }
          })
          : Entry.assistant({
            text: `turn ${i}: it is mild and clear in Paris, about ${10 + i} degrees.`,
            finishReason: "stop"
          })
      )
    }
    let fork = yield* Session.fork(main)
    fork = yield* Session.append(fork, Entry.user("And tomorrow, in Lyon?"))
    fork = yield* Session.append(fork, Entry.assistant({ text: "Rain in Lyon tomorrow.", finishReason: "stop" }))
    let other = yield* Session.fork(main)
    other = yield* Session.append(other, Entry.custom("note", { checked: true, by: "fuzz" }))
    const merged = yield* Session.merge(fork, other)
    let placed = yield* Session.fromUserMessage("Run the tests in a sandbox.")
    placed = yield* Session.append(placed, Entry.placed(Placement.make({ backend: "local", id: "sbx_1" })))
    placed = yield* Session.append(placed, Entry.system("The sandbox is ready."))
    return [main, fork, other, merged, placed]
  })
)

/** What a session holds, as text: two sessions are the same when this is. */
const fingerprint = (session: Session.Session): string => Session.toJsonl(session)

/** The entries' encoded lines, oldest first (as `Session.toJsonl` writes them). */
const entryTexts = (session: Session.Session): Array<string> => fingerprint(session).split("\n").slice(1, -2)

// -----------------------------------------------------------------------------
// running one read
// -----------------------------------------------------------------------------

/**
 * Runs a read with a per-try timeout. A read that blocks the event loop (synchronous SQLite) is
 * not interrupted by the timeout; its elapsed time counts it as a hang once it returns.
 */
const attempt = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  timeoutMillis: number
): Effect.Effect<
  { readonly _tag: "Hang" } | { readonly _tag: "Done"; readonly exit: Exit.Exit<A, E> },
  never,
  R
> =>
  Effect.suspend(() => {
    const started = performance.now()
    return effect.pipe(
      Effect.timeoutOption(timeoutMillis),
      Effect.exit,
      Effect.map((exit) => {
        if (performance.now() - started > timeoutMillis) return { _tag: "Hang" as const }
        if (Exit.isSuccess(exit)) {
          return Option.match(exit.value, {
            onNone: () => ({ _tag: "Hang" as const }),
            onSome: (value) => ({ _tag: "Done" as const, exit: Exit.succeed(value) })
          })
        }
        return { _tag: "Done" as const, exit: exit as Exit.Exit<A, E> }
      })
    )
  })

const isTagged = (tag: string) => (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { readonly _tag?: unknown })._tag === tag

/** The outcome of a failed read: typed when the cause is only the typed error. */
const failureOutcome = <E>(cause: Cause.Cause<E>, tag: string): Outcome => {
  const failures = Array.from(Cause.failures(cause))
  return Cause.isDie(cause) || failures.length === 0 || !failures.every(isTagged(tag)) ? "defects" : "typed"
}

// -----------------------------------------------------------------------------
// JSONL
// -----------------------------------------------------------------------------

const JSONL_KINDS = [
  "bitflip",
  "bitflips",
  "byte",
  "truncate",
  "deleteLine",
  "duplicateLine",
  "swapLines",
  "junk",
  "trailer",
  "entryAndTrailer"
] as const

const flipBit = (bytes: Uint8Array, rng: Random, from = 0, to = bytes.length) => {
  if (to <= from) return
  const at = from + rng.int(to - from)
  bytes[at] = bytes[at]! ^ (1 << rng.int(8))
}

const damageJsonl = (text: string, kind: (typeof JSONL_KINDS)[number], rng: Random): string => {
  const bytes = new Uint8Array(Buffer.from(text, "utf8"))
  const lines = text.split("\n").slice(0, -1)
  const trailerStart = text.lastIndexOf("\n", text.length - 2) + 1
  switch (kind) {
    case "bitflip":
      flipBit(bytes, rng)
      return Buffer.from(bytes).toString("latin1")
    case "bitflips":
      for (let i = 1 + rng.int(4); i > 0; i--) flipBit(bytes, rng)
      return Buffer.from(bytes).toString("latin1")
    case "byte":
      bytes[rng.int(bytes.length)] = rng.int(256)
      return Buffer.from(bytes).toString("latin1")
    case "truncate":
      return text.slice(0, rng.int(text.length))
    case "deleteLine": {
      const at = rng.int(lines.length)
      return lines.filter((_, i) => i !== at).join("\n") + "\n"
    }
    case "duplicateLine": {
      const at = rng.int(lines.length)
      return lines.flatMap((line, i) => i === at ? [line, line] : [line]).join("\n") + "\n"
    }
    case "swapLines": {
      const a = rng.int(lines.length)
      const b = rng.int(lines.length)
      const out = lines.slice()
      out[a] = lines[b]!
      out[b] = lines[a]!
      return out.join("\n") + "\n"
    }
    case "junk": {
      const at = rng.int(text.length)
      const junk = rng.pick(["{", "}", "\"", ",", "null", "\n", "{\"_tag\":\"User\"}\n", "\u0000", "\\"])
      return text.slice(0, at) + junk + text.slice(at)
    }
    case "trailer":
      // damage inside the trailer line only, its newline kept
      flipBit(bytes, rng, trailerStart, bytes.length - 1)
      return Buffer.from(bytes).toString("latin1")
    case "entryAndTrailer": {
      // an entry's text changed (still a valid entry) and the trailer damaged: the checksum must
      // still catch the entry
      const at = 1 + rng.int(Math.max(1, lines.length - 2))
      const changed = lines.map((line, i) => i === at ? line.replace(/"text":"/, "\"text\":\"~") : line)
      const joined = changed.join("\n") + "\n"
      const b = new Uint8Array(Buffer.from(joined, "utf8"))
      flipBit(b, rng, joined.lastIndexOf("\n", joined.length - 2) + 1, b.length - 1)
      return Buffer.from(b).toString("latin1")
    }
  }
}

/** Checks one damaged JSONL text against the original session. */
const readJsonl = (
  original: Session.Session,
  text: string,
  timeoutMillis: number
): Effect.Effect<readonly [Outcome, string]> =>
  Effect.map(attempt(Effect.suspend(() => Session.fromJsonl(text)), timeoutMillis), (result): readonly [
    Outcome,
    string
  ] => {
    if (result._tag === "Hang") return ["hangs", "did not settle"]
    const exit = result.exit
    if (Exit.isFailure(exit)) return [failureOutcome(exit.cause, "SessionError"), Cause.pretty(exit.cause)]
    const decoded = exit.value
    if (decoded.closed) {
      return fingerprint(decoded.session) === fingerprint(original)
        ? ["clean", ""]
        : ["silent", "a closed file loaded other content"]
    }
    const want = entryTexts(original)
    const got = entryTexts(decoded.session)
    const prefix = decoded.session.id === original.id && got.length <= want.length &&
      got.every((entry, i) => entry === want[i])
    return prefix ? ["torn", ""] : ["silent", `an unclosed file loaded ${got.length} entries that are not a prefix`]
  })

export interface Config {
  readonly seed: number
  readonly jsonlTries: number
  readonly sqliteTries: number
  readonly timeoutMillis: number
}

export const runJsonl = (config: Config, report: Report) =>
  Effect.gen(function*() {
    const sessions = yield* originals
    const texts = sessions.map(fingerprint)
    const rng = random(config.seed)
    for (let i = 0; i < config.jsonlTries; i++) {
      const which = rng.int(sessions.length)
      const kind = JSONL_KINDS[i % JSONL_KINDS.length]!
      const damaged = damageJsonl(texts[which]!, kind, rng)
      const [outcome, detail] = yield* readJsonl(sessions[which]!, damaged, config.timeoutMillis)
      count(report, "jsonl", kind, outcome, `seed ${config.seed} try ${i}: ${detail}`)
    }
  })

// -----------------------------------------------------------------------------
// SQLite
// -----------------------------------------------------------------------------

const SQLITE_KINDS = [
  "bitflip",
  "bitflips",
  "rowflip",
  "schemaflip",
  "byte",
  "truncate",
  "zeroPage",
  "noisePage",
  "notDatabase",
  "empty",
  "directory"
] as const

type SqliteKind = (typeof SQLITE_KINDS)[number]

const PAGE = 1024

/** Offsets of a string's bytes in the file, for damage aimed at rows or the schema text. */
const offsetsOf = (bytes: Buffer, needles: ReadonlyArray<string>): Array<number> => {
  const out: Array<number> = []
  for (const needle of needles) {
    for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) {
      for (let k = 0; k < needle.length; k++) out.push(at + k)
    }
  }
  return out
}

interface Fixture {
  readonly bytes: Buffer
  readonly rowBytes: ReadonlyArray<number>
  readonly schemaBytes: ReadonlyArray<number>
  readonly sessions: ReadonlyArray<Session.Session>
  readonly summaries: string
  readonly exports: ReadonlyMap<string, string>
}

const summaryText = (summaries: ReadonlyArray<SessionStore.Summary>): string =>
  JSON.stringify(summaries.map((s) => ({
    id: s.id,
    head: Option.getOrNull(s.head),
    length: s.length,
    base: s.base,
    lineage: s.lineage,
    placement: Option.getOrNull(s.placement),
    agent: Option.getOrNull(s.agent),
    updatedAt: s.updatedAt
  })))

/** The original store file, closed (its WAL folded in), with what a read of it must give. */
export const sqliteFixture = (dir: string) =>
  Effect.gen(function*() {
    const sessions = yield* originals
    const filename = join(dir, "original.db")
    yield* deterministic(Effect.scoped(Effect.gen(function*() {
      const store = yield* SessionStore.makeSqlite({ filename })
      for (const [i, session] of sessions.entries()) {
        yield* store.save(session, i === 0 ? { agent: { name: "weather", model: "m" } } : undefined)
      }
    })))
    const store = yield* Effect.scoped(Effect.flatMap(SessionStore.makeSqlite({ filename }), (store) =>
      Effect.all({
        list: store.list(),
        exports: Effect.forEach(sessions, (s) => Effect.map(store.exportJsonl(s.id), (text) => [s.id, text] as const))
      })))
    const bytes = readFileSync(filename)
    return {
      bytes,
      rowBytes: offsetsOf(bytes, ["\"text\":\"", "stop", "tool_calls", "Paris", "weather", "\"_tag\":\""]),
      schemaBytes: offsetsOf(bytes, ["CREATE TABLE", "data TEXT", "prev INTEGER", "crc INTEGER", "pos INTEGER"]),
      sessions,
      summaries: summaryText(store.list),
      exports: new Map(store.exports)
    } satisfies Fixture
  })

const damageSqlite = (fixture: Fixture, kind: SqliteKind, rng: Random, path: string): void => {
  const bytes = Buffer.from(fixture.bytes)
  const pages = Math.floor(bytes.length / PAGE)
  switch (kind) {
    case "directory":
      mkdirSync(path)
      return
    case "empty":
      writeFileSync(path, "")
      return
    case "notDatabase": {
      const noise = Buffer.alloc(rng.pick([10, 100, 4096, bytes.length]))
      for (let i = 0; i < noise.length; i++) noise[i] = rng.int(256)
      writeFileSync(path, noise)
      return
    }
    case "bitflip":
      flipBit(bytes, rng)
      break
    case "bitflips":
      for (let i = 2 + rng.int(6); i > 0; i--) flipBit(bytes, rng)
      break
    case "rowflip": {
      const at = rng.pick(fixture.rowBytes)
      bytes[at] = bytes[at]! ^ (1 << rng.int(8))
      break
    }
    case "schemaflip": {
      const at = rng.pick(fixture.schemaBytes)
      bytes[at] = bytes[at]! ^ (1 << rng.int(8))
      break
    }
    case "byte":
      bytes[rng.int(bytes.length)] = rng.int(256)
      break
    case "truncate":
      writeFileSync(path, bytes.subarray(0, rng.int(bytes.length)))
      return
    case "zeroPage":
      bytes.fill(0, rng.int(pages) * PAGE, (rng.int(pages) + 1) * PAGE)
      break
    case "noisePage": {
      const start = (1 + rng.int(Math.max(1, pages - 1))) * PAGE
      for (let i = start; i < Math.min(bytes.length, start + PAGE); i++) bytes[i] = rng.int(256)
      break
    }
  }
  writeFileSync(path, bytes)
}

type Read = "open" | "list" | "load" | "export"

/** A loaded value that cannot even be encoded (an entry that fails its schema) is not the original. */
const sameOrThrows = <A>(same: (a: A) => boolean, a: A): boolean => {
  try {
    return same(a)
  } catch {
    return false
  }
}

/** Opens a damaged copy and reads everything the original holds, counting each read. */
const readSqlite = (
  fixture: Fixture,
  filename: string,
  empty: boolean,
  timeoutMillis: number,
  record: (surface: Read, outcome: Outcome, detail: string) => void
) =>
  Effect.scoped(Effect.gen(function*() {
    const opened = yield* attempt(SessionStore.makeSqlite({ filename, busyTimeout: 0 }), timeoutMillis)
    if (opened._tag === "Hang") return record("open", "hangs", "open did not settle")
    if (Exit.isFailure(opened.exit)) {
      return record("open", failureOutcome(opened.exit.cause, "SessionStoreError"), Cause.pretty(opened.exit.cause))
    }
    record("open", "clean", "")
    const store = opened.exit.value
    const check = <A>(
      surface: Read,
      effect: Effect.Effect<A, SessionStore.SessionStoreError>,
      same: (a: A) => boolean
    ) =>
      Effect.map(attempt(effect, timeoutMillis), (result) => {
        if (result._tag === "Hang") return record(surface, "hangs", "did not settle")
        if (Exit.isFailure(result.exit)) {
          return record(
            surface,
            failureOutcome(result.exit.cause, "SessionStoreError"),
            Cause.pretty(result.exit.cause)
          )
        }
        return sameOrThrows(same, result.exit.value)
          ? record(surface, "clean", "")
          : record(surface, "silent", `${surface} returned other content`)
      })
    // an empty file is an empty SQLite database: it opens as a new, empty store
    yield* check("list", store.list(), (rows) => summaryText(rows) === (empty ? "[]" : fixture.summaries))
    for (const session of fixture.sessions) {
      const want = fingerprint(session)
      yield* check("load", store.load(session.id), (loaded) => fingerprint(loaded) === want)
      yield* check("export", store.exportJsonl(session.id), (text) => text === fixture.exports.get(session.id))
    }
  }))

export const runSqlite = (config: Config, report: Report, progress?: (done: number) => void) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "rath-store-fuzz-"))),
    (dir) =>
      Effect.gen(function*() {
        const fixture = yield* sqliteFixture(dir)
        const rng = random(config.seed ^ 0x5eed)
        for (let i = 0; i < config.sqliteTries; i++) {
          const kind = SQLITE_KINDS[i % SQLITE_KINDS.length]!
          const path = join(dir, `try-${i}.db`)
          damageSqlite(fixture, kind, rng, path)
          yield* readSqlite(fixture, path, kind === "empty", config.timeoutMillis, (surface, outcome, detail) =>
            count(report, `sqlite ${surface}`, kind, outcome, `seed ${config.seed} try ${i}: ${detail}`))
          for (const suffix of ["", "-wal", "-shm"]) {
            rmSync(path + suffix, { recursive: true, force: true })
          }
          if (progress !== undefined && (i + 1) % 1000 === 0) {
            progress(i + 1)
          }
        }
      }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
