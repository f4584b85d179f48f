/**
 * Where tools run. The `Sandbox` service turns a session's {@link Placement.Placement} into a
 * {@link Handle}: a workspace with file operations (every path confined to it) and process
 * execution (timeouts, output caps, the whole process group killed on timeout or interruption).
 *
 * Handles are opened lazily, the first time something asks, and shared through an `RcMap` keyed
 * by placement: every scope that asks for one placement gets the same handle, and the handle is
 * released when the last of those scopes closes (after an idle time). Sessions carry the
 * placement, never the handle.
 *
 * Backends are pluggable: `LocalSandbox.backend` (a host directory) and `BwrapSandbox.backend`
 * (bubblewrap: read-only system, the workspace as the only writable place, no network).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as RcMap from "effect/RcMap"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as IdGenerator from "./IdGenerator.js"
import * as Placement from "./Placement.js"
import * as Session from "./Session.js"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category errors
 */
export const SandboxErrorReason = Schema.Literal(
  /** A path leaves the workspace (`..`, an absolute path outside, a symlink that resolves outside). */
  "PathEscape",
  /** The file or directory does not exist. */
  "NotFound",
  /**
   * A file operation met a directory, or a directory operation met a file, or a file operation met
   * something that is not a regular file (a FIFO, a socket, a device): those are never opened.
   */
  "WrongKind",
  /** `edit`: the old text does not occur in the file. */
  "EditNoMatch",
  /** `edit`: the old text occurs more than once. */
  "EditAmbiguous",
  /** A command did not finish in time; its process group was killed. */
  "Timeout",
  /** The command could not be started (not found, not executable). */
  "SpawnFailed",
  /** A file is larger than the read limit (`ReadOptions.maxBytes`); the detail names the limit and the size. */
  "TooLarge",
  /**
   * `local`: a regular file with more than one hard link (it may be a file outside the workspace,
   * linked in by a command), refused by every file operation.
   */
  "HardLink",
  /** An interpreter (`runCode`) is not installed in the sandbox. */
  "Unsupported",
  /** The backend cannot run here (for example bubblewrap is not installed). */
  "Unavailable",
  /** No backend is registered under the placement's name. */
  "UnknownBackend",
  /** The session has no placement. */
  "NoPlacement",
  /** The workspace could not be created or opened. */
  "StartFailed",
  /** Any other file-system failure. */
  "IoFailed"
)

/**
 * @since 0.1.0
 * @category errors
 */
export type SandboxErrorReason = typeof SandboxErrorReason.Type

/**
 * The one error of sandboxes and their handles.
 *
 * @since 0.1.0
 * @category errors
 */
export class SandboxError extends Schema.TaggedError<SandboxError>("rath/SandboxError")("SandboxError", {
  reason: SandboxErrorReason,
  detail: Schema.String,
  path: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return this.path === undefined ? `${this.reason}: ${this.detail}` : `${this.reason}: ${this.detail} (${this.path})`
  }
}

// -----------------------------------------------------------------------------
// handle
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export type EntryKind = "file" | "directory" | "symlink" | "other"

/**
 * One directory entry (`list`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DirEntry {
  readonly name: string
  readonly kind: EntryKind
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Stat {
  /** The canonical path, relative to the workspace root (`.` is the root). */
  readonly path: string
  readonly kind: EntryKind
  readonly size: number
  readonly mtimeMs: number
}

/**
 * What a write or an edit did.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteResult {
  /** The canonical path, relative to the workspace root. */
  readonly path: string
  readonly bytes: number
  /** The file did not exist before. */
  readonly created: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecOptions {
  /** An argv array (run as is) or a shell string (run with `sh -c`). */
  readonly command: string | ReadonlyArray<string>
  /** The working directory, relative to the workspace root (default: the root). */
  readonly cwd?: string | undefined
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly stdin?: string | Uint8Array | undefined
  /** Default: 60 seconds. On timeout the whole process group is killed. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * The most bytes kept of stdout and of stderr each (default 1 MiB); the rest is dropped, and
   * 64 MiB past the cap the stream is closed (a command still writing gets SIGPIPE).
   */
  readonly maxOutputBytes?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecResult {
  readonly exitCode: number
  /** The signal that ended the process, if one did. */
  readonly signal?: string | undefined
  readonly stdout: string
  readonly stderr: string
  /** stdout or stderr was longer than the cap and was cut. */
  readonly truncated: boolean
  readonly elapsedMs: number
}

/**
 * @since 0.1.0
 * @category models
 */
export type Language = "node" | "python"

/**
 * @since 0.1.0
 * @category models
 */
export interface RunCodeOptions {
  readonly language: Language
  readonly code: string
  readonly stdin?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxOutputBytes?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /**
   * The most bytes read; a larger file fails with reason `TooLarge` (the detail names the limit
   * and the size) without being read. Default 16 MiB.
   */
  readonly maxBytes?: number | undefined
}

/**
 * Resource limits of a sandbox's commands. A limit of `Infinity` lifts it. How each one is
 * enforced depends on the host: see {@link AppliedLimits} and docs/sandbox.md.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  /** Processes and threads at once, for the whole sandbox (default 512). */
  readonly processes?: number | undefined
  /** Memory in bytes: for the whole sandbox under a cgroup, else for each process (default 1 GiB). */
  readonly memoryBytes?: number | undefined
  /** The largest file a command may write, in bytes (default 512 MiB). */
  readonly fileBytes?: number | undefined
  /** `bwrap`: the size of the sandbox's private `/tmp`, in bytes (default 256 MiB). */
  readonly tmpBytes?: number | undefined
}

/**
 * What enforces a limit: a cgroup of the sandbox's own, an rlimit set on each command,
 * the size of a tmpfs, or nothing (the host allows none of these, or the limit is `Infinity`).
 *
 * @since 0.1.0
 * @category models
 */
export type Enforcement = "cgroup" | "rlimit" | "tmpfs" | "none"

/**
 * @since 0.1.0
 * @category models
 */
export interface AppliedLimit {
  readonly limit: number
  readonly enforcedBy: Enforcement
}

/**
 * The limits an open handle applies, and how.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppliedLimits {
  readonly processes: AppliedLimit
  readonly memoryBytes: AppliedLimit
  readonly fileBytes: AppliedLimit
  /** `bwrap` only. */
  readonly tmpBytes?: AppliedLimit | undefined
}

/**
 * An open sandbox. Every path is relative to the workspace root (absolute paths are accepted
 * only inside it); escapes fail with reason `PathEscape`. File operations touch regular files and
 * directories only, and reach them without leaving the workspace even while a command changes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handle {
  /** The placement this handle was opened for, with the workspace it actually uses. */
  readonly placement: Placement.Placement
  /** The workspace directory on the host. */
  readonly workspace: string
  /** The resource limits of its commands, and what enforces each one here. */
  readonly limits: AppliedLimits
  /** Resolves a path to its canonical form relative to the workspace root, refusing escapes. */
  readonly resolve: (path: string) => Effect.Effect<string, SandboxError>
  readonly readText: (path: string, options?: ReadOptions) => Effect.Effect<string, SandboxError>
  readonly readBytes: (path: string, options?: ReadOptions) => Effect.Effect<Uint8Array, SandboxError>
  /** Writes a file, creating its parent directories. */
  readonly write: (path: string, data: string | Uint8Array) => Effect.Effect<WriteResult, SandboxError>
  /** The entries of a directory (default: the root), sorted by name. */
  readonly list: (path?: string) => Effect.Effect<ReadonlyArray<DirEntry>, SandboxError>
  readonly exists: (path: string) => Effect.Effect<boolean, SandboxError>
  readonly stat: (path: string) => Effect.Effect<Stat, SandboxError>
  /** Replaces the one occurrence of `oldText`: absent is `EditNoMatch`, several is `EditAmbiguous`. */
  readonly edit: (path: string, oldText: string, newText: string) => Effect.Effect<WriteResult, SandboxError>
  readonly exec: (options: ExecOptions) => Effect.Effect<ExecResult, SandboxError>
  /** Runs a snippet with `node` or `python3`; a missing interpreter is `Unsupported`. */
  readonly runCode: (options: RunCodeOptions) => Effect.Effect<ExecResult, SandboxError>
}

/**
 * A sandbox kind: opens a handle for a placement whose `backend` is its name. The handle lives
 * as long as the scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  readonly name: string
  readonly open: (placement: Placement.Placement) => Effect.Effect<Handle, SandboxError, Scope.Scope>
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The shared handle for a placement, held until the scope closes (then released when idle). */
  readonly handle: (placement: Placement.Placement) => Effect.Effect<Handle, SandboxError, Scope.Scope>
  /** Gives a placement a sandbox identity (an id) when it has none. Opens nothing. */
  readonly bind: (placement: Placement.Placement) => Effect.Effect<Placement.Placement, SandboxError>
  /** The registered backend names. */
  readonly backends: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Sandbox extends Context.Tag("rath/Sandbox")<Sandbox, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly backends: ReadonlyArray<Backend>
  /** How long a handle nobody holds stays open (default 5 minutes). */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
}

/**
 * Builds the service over backends. The pool (and every handle still open) closes with the
 * scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const byName = new Map(options.backends.map((backend) => [backend.name, backend]))
    const backendFor = (placement: Placement.Placement): Effect.Effect<Backend, SandboxError> => {
      const backend = byName.get(placement.backend)
      return backend === undefined
        ? Effect.fail(
          new SandboxError({
            reason: "UnknownBackend",
            detail: `no sandbox backend named "${placement.backend}"; the backends are: ${
              Array.from(byName.keys()).join(", ") || "none"
            }`
          })
        )
        : Effect.succeed(backend)
    }
    const pool = yield* RcMap.make({
      lookup: (placement: Placement.Placement) =>
        Effect.flatMap(backendFor(placement), (backend) => backend.open(placement)),
      idleTimeToLive: options.idleTimeToLive ?? "5 minutes"
    })
    return Sandbox.of({
      handle: (placement) =>
        RcMap.get(pool, placement).pipe(
          Effect.withSpan("Sandbox.handle", { attributes: { "rath.sandbox": Placement.label(placement) } })
        ),
      bind: (placement) =>
        Effect.gen(function*() {
          yield* backendFor(placement)
          if (placement.id !== undefined) return placement
          const id = yield* IdGenerator.generate("sbx")
          return Placement.make({ ...fieldsOf(placement), id })
        }),
      backends: Array.from(byName.keys())
    })
  })

const fieldsOf = (placement: Placement.Placement) => ({
  backend: placement.backend,
  id: placement.id,
  workspace: placement.workspace,
  network: placement.network
})

/**
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { BwrapSandbox, LocalSandbox, Sandbox } from "rath"
 *
 * const SandboxLive = Sandbox.layer({ backends: [LocalSandbox.backend(), BwrapSandbox.backend()] })
 * ```
 */
export const layer = (options: Options): Layer.Layer<Sandbox> => Layer.scoped(Sandbox, make(options))

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/**
 * The shared handle for a placement, held for the current scope.
 *
 * @since 0.1.0
 * @category accessors
 */
export const handle = (
  placement: Placement.Placement
): Effect.Effect<Handle, SandboxError, Sandbox | Scope.Scope> =>
  Effect.flatMap(Sandbox, (sandbox) => sandbox.handle(placement))

/**
 * The handle of a session's placement (reason `NoPlacement` when it has none), held for the
 * current scope. A tool handler reaches its session's sandbox through `context.sandbox` instead
 * (see `Tool.Context`), which calls this, holds the handle for the call and records the sandbox
 * on the tool result.
 *
 * @since 0.1.0
 * @category accessors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sandbox, Session } from "rath"
 *
 * // keep a session's (temporary) sandbox open for a whole run, and look at its files afterwards
 * const pinned = (session: Session.Session) =>
 *   Effect.scoped(Effect.gen(function*() {
 *     const handle = yield* Sandbox.handleFor(session)
 *     // ... run agents on the session ...
 *     return yield* handle.list()
 *   }))
 * ```
 */
export const handleFor = (
  session: Session.Session
): Effect.Effect<Handle, SandboxError, Sandbox | Scope.Scope> =>
  Option.match(session.placement, {
    onNone: () =>
      Effect.fail(
        new SandboxError({
          reason: "NoPlacement",
          detail: `session ${session.id} has no placement; bind one with Sandbox.place or Session.to`
        })
      ),
    onSome: handle
  })

/**
 * Gives a placement an identity (see {@link Service.bind}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const bind = (
  placement: Placement.Placement
): Effect.Effect<Placement.Placement, SandboxError, Sandbox> =>
  Effect.flatMap(Sandbox, (sandbox) => sandbox.bind(placement))

/**
 * Binds a session to a sandbox: gives the placement an identity when it has none and records a
 * `Placement` entry (`Session.to`). Opens nothing; the first tool that needs it does.
 *
 * @since 0.1.0
 * @category accessors
 * @example
 * ```ts
 * import { Placement, Sandbox, Session } from "rath"
 *
 * const placed = (session: Session.Session) => Sandbox.place(session, Placement.make({ backend: "local" }))
 * ```
 */
export const place = (
  session: Session.Session,
  placement: Placement.Placement
): Effect.Effect<Session.Session, SandboxError, Sandbox> =>
  Effect.flatMap(bind(placement), (bound) => Session.to(session, bound))
