/**
 * Datasets: JSONL, one case a line, validated by `CaseLine` with the line number in every error.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { digestJson } from "../digest.js"
import { type Case, CaseLine, EvalError } from "./model.js"

const decodeLine = Schema.decodeUnknownEither(Schema.parseJson(CaseLine))

/**
 * Parses a dataset: every non-blank line is one case. Fails with the first bad line (its number,
 * and what is wrong with it), or a duplicate id (with both lines).
 */
export const parse = (
  text: string,
  options?: { readonly source?: string }
): Effect.Effect<ReadonlyArray<Case>, EvalError> =>
  Effect.suspend(() => {
    const where = options?.source === undefined ? "" : `${options.source}: `
    const cases: Array<Case> = []
    const seen = new Map<string, number>()
    const lines = text.split("\n")
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!.trim()
      if (raw === "") continue
      const line = i + 1
      const decoded = decodeLine(raw)
      if (Either.isLeft(decoded)) {
        return Effect.fail(
          new EvalError({
            reason: "InvalidDataset",
            line,
            detail:
              `${where}line ${line} is not a case ({"input": ..., "expected"?: ..., "id"?: ..., "metadata"?: {...}}): ${
                ParseResult.TreeFormatter.formatErrorSync(decoded.left).replace(/\s*\n\s*/g, " ")
              }`,
            cause: decoded.left
          })
        )
      }
      const value = decoded.right
      const id = value.id ?? `line-${line}`
      const before = seen.get(id)
      if (before !== undefined) {
        return Effect.fail(
          new EvalError({
            reason: "InvalidDataset",
            line,
            detail: `${where}case id ${JSON.stringify(id)} on line ${line} repeats line ${before}`
          })
        )
      }
      seen.set(id, line)
      cases.push({
        id,
        line,
        input: value.input,
        ...(value.expected === undefined ? {} : { expected: value.expected }),
        ...(value.metadata === undefined ? {} : { metadata: value.metadata })
      })
    }
    if (cases.length === 0) {
      return Effect.fail(new EvalError({ reason: "InvalidDataset", detail: `${where}the dataset has no case` }))
    }
    return Effect.succeed(cases)
  })

/** A digest of the cases (ids, inputs, expected values), to check a continued run uses the same dataset. */
export const digest = (cases: ReadonlyArray<Case>): string =>
  digestJson(cases.map((c) => [c.id, c.input, c.expected ?? null]))

/** The user message a case's input becomes. */
export const inputText = (c: Case): string => typeof c.input === "string" ? c.input : JSON.stringify(c.input)
