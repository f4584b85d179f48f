/**
 * The JSONL session format: a header line, one line per entry, a trailer line with the entry
 * count and a SHA-256 checksum of every line before it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import * as Entry from "../Entry.js"

export const VERSION = 1
export const FORMAT = "rath.session"
export const TRAILER = "rath.session.end"

export type FailReason = "MissingHeader" | "CorruptLine" | "UnsupportedVersion" | "ChecksumMismatch" | "CountMismatch"

export interface Migration {
  readonly from: number
  readonly header?: (header: Record<string, unknown>) => Record<string, unknown>
  readonly entry?: (entry: unknown) => unknown
}

export const encode = (
  header: Record<string, unknown>,
  entries: ReadonlyArray<Entry.Entry>,
  encodeEntry: (entry: Entry.Entry) => unknown
): string => {
  const hash = createHash("sha256")
  const lines: Array<string> = []
  const push = (line: string) => {
    const withNewline = line + "\n"
    hash.update(withNewline)
    lines.push(withNewline)
  }
  push(JSON.stringify({ format: FORMAT, version: VERSION, ...header }))
  for (const entry of entries) push(JSON.stringify(encodeEntry(entry)))
  lines.push(
    JSON.stringify({ format: TRAILER, count: entries.length, checksum: `sha256:${hash.digest("hex")}` }) + "\n"
  )
  return lines.join("")
}

const parseJson = (line: string): Either.Either<unknown, unknown> =>
  Either.try({ try: () => JSON.parse(line) as unknown, catch: (cause) => cause })

const notJson = (line: string, isLast: boolean): string =>
  !isLast
    ? "not valid JSON"
    : line.includes(TRAILER)
    ? "the trailer is not valid JSON (the line ends with its newline, so it was written whole: the file is damaged, not torn)"
    : "not valid JSON (the last line ends with its newline, so it was written whole: the file is damaged, not torn)"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const decodeEntry = Schema.decodeUnknownEither(Entry.Entry)

export interface Parsed {
  readonly header: Record<string, unknown>
  readonly entries: ReadonlyArray<Entry.Entry>
  readonly closed: boolean
  readonly droppedLines: number
}

export const decode = <E>(
  text: string,
  options: {
    readonly migrations: ReadonlyArray<Migration>
    readonly fail: (reason: FailReason, detail: string, line?: number) => E
  }
): Effect.Effect<Parsed, E> =>
  Effect.suspend((): Effect.Effect<Parsed, E> => {
    const { fail } = options
    const lines = text.split("\n")
    // a write cut short leaves a last line without its newline: only such a line can be torn. A
    // last line that ends with its newline was written whole, so if it is damaged (the trailer
    // included) the file is damaged, never torn: dropping it would skip the checksum
    const torn = !text.endsWith("\n")
    if (!torn) lines.pop()
    if (text.length === 0) return Effect.fail(fail("MissingHeader", "the file is empty"))
    const hash = createHash("sha256")
    const first = parseJson(lines[0]!)
    if (Either.isLeft(first) || !isRecord(first.right) || first.right.format !== FORMAT) {
      return Effect.fail(fail("MissingHeader", `line 1 is not a ${FORMAT} header`, 1))
    }
    let header = first.right
    const version = header.version
    if (typeof version !== "number" || !Number.isInteger(version)) {
      return Effect.fail(fail("MissingHeader", "the header has no integer version", 1))
    }
    if (version > VERSION) {
      return Effect.fail(
        fail(
          "UnsupportedVersion",
          `format version ${version} was written by a newer rath (this one reads up to ${VERSION}); upgrade rath`,
          1
        )
      )
    }
    const chain: Array<Migration> = []
    for (let v = version; v < VERSION; v++) {
      const migration = options.migrations.find((m) => m.from === v)
      if (migration === undefined) {
        return Effect.fail(fail("UnsupportedVersion", `no migration from format version ${v} to ${v + 1}`, 1))
      }
      chain.push(migration)
    }
    for (const migration of chain) header = migration.header ? migration.header(header) : header
    hash.update(lines[0]! + "\n")

    const entries: Array<Entry.Entry> = []
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!
      const lineNo = i + 1
      const isLast = i === lines.length - 1
      const parsed = parseJson(line)
      if (Either.isLeft(parsed)) {
        if (isLast && torn) return Effect.succeed({ header, entries, closed: false, droppedLines: 1 })
        return Effect.fail(fail("CorruptLine", notJson(line, isLast), lineNo))
      }
      const value = parsed.right
      if (isRecord(value) && value.format === TRAILER) {
        if (!isLast) return Effect.fail(fail("CorruptLine", "lines follow the trailer", lineNo + 1))
        if (value.count !== entries.length) {
          return Effect.fail(
            fail(
              "CountMismatch",
              `the trailer counts ${String(value.count)} entries, the file has ${entries.length}`,
              lineNo
            )
          )
        }
        const checksum = `sha256:${hash.digest("hex")}`
        if (value.checksum !== checksum) {
          return Effect.fail(
            fail("ChecksumMismatch", `expected ${String(value.checksum)}, computed ${checksum}`, lineNo)
          )
        }
        return Effect.succeed({ header, entries, closed: true, droppedLines: 0 })
      }
      let raw = value
      for (const migration of chain) raw = migration.entry ? migration.entry(raw) : raw
      const entry = decodeEntry(raw, { errors: "first" })
      if (Either.isLeft(entry)) {
        // a cut that happens to leave valid JSON (`12` of `123`) is still a torn line
        if (isLast && torn) return Effect.succeed({ header, entries, closed: false, droppedLines: 1 })
        return Effect.fail(
          fail("CorruptLine", `not a valid entry: ${ParseResult.TreeFormatter.formatErrorSync(entry.left)}`, lineNo)
        )
      }
      hash.update(line + "\n")
      entries.push(entry.right)
    }
    return Effect.succeed({ header, entries, closed: false, droppedLines: 0 })
  })
