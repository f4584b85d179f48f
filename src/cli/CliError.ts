/**
 * The one error of the `rath` command line: a reason that decides the exit code, and a message
 * that says in one line what went wrong and what to do about it.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category errors
 */
export class CliError extends Schema.TaggedError<CliError>("rath/CliError")("CliError", {
  reason: Schema.Literal("Usage", "NotFound", "InvalidData", "Io", "Unavailable", "Rejected"),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.detail
  }
}

/**
 * The process exit codes of `rath`.
 *
 * @since 0.1.0
 * @category models
 */
export const ExitCode = {
  /** The command did what was asked. */
  Ok: 0,
  /** An unexpected failure: a bug in rath (run again with --verbose and report it). */
  Internal: 1,
  /** The command line was wrong (unknown command, missing argument, bad option value). */
  Usage: 2,
  /** A file, directory, store or session id does not exist. */
  NotFound: 3,
  /** The input exists but is not valid (a corrupt JSONL line, an inconsistent history). */
  InvalidData: 4,
  /** Reading or writing failed, or a store could not be opened. */
  Io: 5,
  /** The work ran, but its checks rejected the result (the demo: every attempt failed its check). */
  Rejected: 6
} as const

/**
 * The exit code for an error reason.
 *
 * @since 0.1.0
 * @category getters
 */
export const exitCodeOf = (error: CliError): number => {
  switch (error.reason) {
    case "Usage":
      return ExitCode.Usage
    case "NotFound":
      return ExitCode.NotFound
    case "InvalidData":
      return ExitCode.InvalidData
    case "Io":
    case "Unavailable":
      return ExitCode.Io
    case "Rejected":
      return ExitCode.Rejected
  }
}

/**
 * The message of anything a command caught: an `Error`'s or a tagged error's `message`, else its
 * text.
 *
 * @since 0.2.0
 * @category getters
 */
export const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

/**
 * Text on one line: each line break (and the blanks around it) becomes one space.
 *
 * @since 0.2.0
 * @category getters
 */
export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ")
