/**
 * Built-in tools over the session's sandbox: `read_file`, `write_file`, `list_files`,
 * `file_exists`, `edit_file`, `run_shell` and `run_code`. They are opt-in: an agent gets only the
 * tools it is given.
 *
 * Every tool runs in the calling session's sandbox (`context.sandbox`, which also records the
 * sandbox on the result) and records its effect (the canonical path, bytes, a SHA-256 of what was
 * written, the exit code) so the tool-result entry is evidence of what changed. Writes and edits
 * declare `<sandbox>:<path>` as their resource, so the agent loop runs calls on one file in order
 * and calls on different files concurrently.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import * as Placement from "./Placement.js"
import * as Sandbox from "./Sandbox.js"
import * as Tool from "./Tool.js"

/** Per stream: tool outputs go back to a model, keep them small. */
const MAX_TOOL_OUTPUT_BYTES = 32 * 1024

const sha256 = (data: string | Uint8Array): string => Crypto.createHash("sha256").update(data).digest("hex")

const bytesOf = (text: string): number => Buffer.byteLength(text, "utf8")

const withHandle = <A>(
  context: Tool.Context,
  f: (handle: Sandbox.Handle) => Effect.Effect<A, Sandbox.SandboxError>
): Effect.Effect<A, Sandbox.SandboxError, Sandbox.Sandbox> => Effect.flatMap(context.sandbox, f)

/**
 * The resource key of a path in a session's sandbox: `<sandbox label>:<normalized path>`. It is
 * lexical (a symlink can still alias two keys); the sandbox resolves the real path when the call
 * runs and records that one as the effect.
 *
 * @since 0.1.0
 * @category getters
 */
export const resourceOf = (context: Tool.CallContext, path: string): string => {
  const sandbox = Option.match(context.session.placement, { onNone: () => "none", onSome: Placement.label })
  const normalized = Path.posix.normalize(path.replace(/\\/g, "/")).replace(/\/+$/, "")
  return `${sandbox}:${normalized === "" ? "." : normalized}`
}

const PathParam = Schema.String.annotations({ description: "A path relative to the workspace root" })

/**
 * The largest file `read_file` returns: a larger one fails with reason `TooLarge` (naming the
 * limit and the file's size) without being read, and the message tells the model to read a part
 * of it with `run_shell` instead.
 *
 * @since 0.1.0
 * @category tools
 */
export const READ_FILE_MAX_BYTES = 256 * 1024

/**
 * @since 0.1.0
 * @category tools
 */
export const readFile = Tool.make({
  name: "read_file",
  description: `Reads a UTF-8 text file from the workspace (at most ${READ_FILE_MAX_BYTES / 1024} KiB).`,
  parameters: Schema.Struct({ path: PathParam }),
  idempotent: true,
  handler: ({ path }, context) =>
    withHandle(context, (handle) =>
      Effect.gen(function*() {
        const canonical = yield* handle.resolve(path)
        const content = yield* handle.readText(canonical, { maxBytes: READ_FILE_MAX_BYTES }).pipe(
          Effect.mapError((error) =>
            error.reason === "TooLarge"
              ? new Sandbox.SandboxError({
                reason: error.reason,
                detail: `${error.detail}; read a part of it with run_shell (head, tail, sed -n, grep)`,
                path: error.path
              })
              : error
          )
        )
        yield* context.recordEffect({ op: "read", path: canonical, bytes: bytesOf(content) })
        return { path: canonical, content }
      }))
})

/**
 * @since 0.1.0
 * @category tools
 */
export const writeFile = Tool.make({
  name: "write_file",
  description: "Writes a UTF-8 text file in the workspace, replacing it if it exists and creating parent directories.",
  parameters: Schema.Struct({
    path: PathParam,
    content: Schema.String.annotations({ description: "The whole new content of the file" })
  }),
  idempotent: true,
  resource: ({ path }, context) => resourceOf(context, path),
  handler: ({ content, path }, context) =>
    withHandle(context, (handle) =>
      Effect.gen(function*() {
        const written = yield* handle.write(path, content)
        yield* context.recordEffect({
          op: written.created ? "create" : "write",
          path: written.path,
          bytes: written.bytes,
          sha256: sha256(content)
        })
        return written
      }))
})

/**
 * @since 0.1.0
 * @category tools
 */
export const listFiles = Tool.make({
  name: "list_files",
  description: "Lists a directory of the workspace (default: its root), sorted; directories end with '/'.",
  parameters: Schema.Struct({ path: Schema.optional(PathParam) }),
  idempotent: true,
  handler: ({ path }, context) =>
    withHandle(context, (handle) =>
      Effect.gen(function*() {
        const canonical = yield* handle.resolve(path ?? ".")
        const entries = yield* handle.list(canonical)
        yield* context.recordEffect({ op: "list", path: canonical })
        return {
          path: canonical,
          entries: entries.map((entry) => entry.kind === "directory" ? `${entry.name}/` : entry.name)
        }
      }))
})

/**
 * @since 0.1.0
 * @category tools
 */
export const fileExists = Tool.make({
  name: "file_exists",
  description: "Tells whether a file or directory exists in the workspace.",
  parameters: Schema.Struct({ path: PathParam }),
  idempotent: true,
  handler: ({ path }, context) =>
    withHandle(context, (handle) =>
      Effect.gen(function*() {
        const canonical = yield* handle.resolve(path)
        return { path: canonical, exists: yield* handle.exists(canonical) }
      }))
})

/**
 * @since 0.1.0
 * @category tools
 */
export const editFile = Tool.make({
  name: "edit_file",
  description: "Replaces one exact occurrence of old_text with new_text in a workspace file. "
    + "Fails when old_text does not occur or occurs more than once (then include more context).",
  parameters: Schema.Struct({
    path: PathParam,
    old_text: Schema.String.annotations({ description: "The exact text to replace; must occur once" }),
    new_text: Schema.String.annotations({ description: "The replacement" })
  }),
  resource: ({ path }, context) => resourceOf(context, path),
  handler: ({ new_text, old_text, path }, context) =>
    withHandle(context, (handle) =>
      Effect.gen(function*() {
        const edited = yield* handle.edit(path, old_text, new_text)
        const content = yield* handle.readText(edited.path)
        yield* context.recordEffect({ op: "edit", path: edited.path, bytes: edited.bytes, sha256: sha256(content) })
        return { path: edited.path, bytes: edited.bytes }
      }))
})

const execOutput = (result: Sandbox.ExecResult) => ({
  exitCode: result.exitCode,
  ...(result.signal === undefined ? {} : { signal: result.signal }),
  stdout: result.stdout,
  stderr: result.stderr,
  ...(result.truncated ? { truncated: true } : {}),
  elapsedMs: result.elapsedMs
})

const timeoutOf = (seconds: number | undefined) => seconds === undefined ? undefined : seconds * 1000

/** Runs a process in the session's sandbox and records it as an `exec` effect. */
const runProcess = (
  context: Tool.Context,
  path: string | undefined,
  start: (handle: Sandbox.Handle) => Effect.Effect<Sandbox.ExecResult, Sandbox.SandboxError>
) =>
  withHandle(context, (handle) =>
    Effect.flatMap(start(handle), (result) =>
      Effect.as(
        context.recordEffect({
          op: "exec",
          ...(path === undefined ? {} : { path }),
          exitCode: result.exitCode,
          elapsedMs: result.elapsedMs
        }),
        execOutput(result)
      )))

const TimeoutParam = Schema.optional(
  Schema.Number.pipe(Schema.positive(), Schema.lessThanOrEqualTo(600)).annotations({
    description: "Seconds before the command is killed (default 60)"
  })
)

/**
 * @since 0.1.0
 * @category tools
 */
export const runShell = Tool.make({
  name: "run_shell",
  description: "Runs a shell command (sh -c) in the workspace and returns its exit code, stdout and stderr.",
  parameters: Schema.Struct({
    command: Schema.String.annotations({ description: "The shell command line" }),
    cwd: Schema.optional(PathParam),
    timeout_seconds: TimeoutParam
  }),
  parallel: false,
  handler: ({ command, cwd, timeout_seconds }, context) =>
    runProcess(
      context,
      cwd ?? ".",
      (handle) =>
        handle.exec({ command, cwd, timeout: timeoutOf(timeout_seconds), maxOutputBytes: MAX_TOOL_OUTPUT_BYTES })
    )
})

/**
 * @since 0.1.0
 * @category tools
 */
export const runCode = Tool.make({
  name: "run_code",
  description: "Runs a snippet of JavaScript (node) or Python (python3) in the workspace and returns its output.",
  parameters: Schema.Struct({
    language: Schema.Literal("node", "python"),
    code: Schema.String,
    timeout_seconds: TimeoutParam
  }),
  parallel: false,
  handler: ({ code, language, timeout_seconds }, context) =>
    runProcess(
      context,
      undefined,
      (handle) =>
        handle.runCode({ language, code, timeout: timeoutOf(timeout_seconds), maxOutputBytes: MAX_TOOL_OUTPUT_BYTES })
    )
})

/**
 * The file tools: read, write, list, exists, edit.
 *
 * @since 0.1.0
 * @category toolkits
 */
export const fileTools = [readFile, writeFile, listFiles, fileExists, editFile] as const

/**
 * Every built-in tool.
 *
 * @since 0.1.0
 * @category toolkits
 */
export const tools = [...fileTools, runShell, runCode] as const

const unique = <R>(result: Either.Either<Tool.Toolkit<R>, Tool.ToolError>): Tool.Toolkit<R> =>
  Either.getOrElse(result, (error) => {
    throw error
  })

/**
 * A toolkit of the file tools only (no process execution).
 *
 * @since 0.1.0
 * @category toolkits
 */
export const files: Tool.Toolkit<Sandbox.Sandbox> = unique(Tool.toolkit(...fileTools))

/**
 * A toolkit of every built-in tool.
 *
 * @since 0.1.0
 * @category toolkits
 * @example
 * ```ts
 * import { Builtin, Tool } from "rath"
 *
 * // opt-in: pick what an agent may do
 * const readOnly = Tool.toolkit(Builtin.readFile, Builtin.listFiles)
 * const everything = Builtin.toolkit
 * ```
 */
export const toolkit: Tool.Toolkit<Sandbox.Sandbox> = unique(Tool.toolkit(...tools))
