/**
 * The workspace machinery shared by the local and bubblewrap backends: path confinement, file
 * operations on the host directory, and process execution with timeouts, output caps and
 * process-group kills. A backend only says how a command is launched.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { constants as FsConstants } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Placement from "../Placement.js"
import * as Sandbox from "../Sandbox.js"

/** How a backend launches a command: the program, its arguments, its environment. */
export interface Launch {
  readonly file: string
  readonly args: ReadonlyArray<string>
  readonly env: Record<string, string>
  /** The host directory the launcher itself starts in. */
  readonly cwd: string
}

export interface LaunchRequest {
  readonly argv: ReadonlyArray<string>
  /** The canonical working directory, relative to the workspace root. */
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
}

const MAX_SYMLINKS = 40
// The resolved path has no symlink; if one is swapped in before the open, refuse it (ELOOP).
const READ_FLAGS = FsConstants.O_RDONLY | FsConstants.O_NOFOLLOW
const WRITE_FLAGS = FsConstants.O_WRONLY | FsConstants.O_CREAT | FsConstants.O_TRUNC | FsConstants.O_NOFOLLOW
const DEFAULT_MAX_OUTPUT = 1024 * 1024
const DEFAULT_TIMEOUT = Duration.seconds(60)

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const isAbsent = (cause: unknown): boolean => {
  const code = codeOf(cause)
  return code === "ENOENT" || code === "ENOTDIR"
}

/** Maps a Node file-system error to a `SandboxError`. */
export const ioError = (cause: unknown, path: string, action: string): Sandbox.SandboxError => {
  const code = codeOf(cause)
  if (code === "ENOENT") {
    return new Sandbox.SandboxError({ reason: "NotFound", detail: `${action}: no such file`, path })
  }
  if (code === "ELOOP") {
    return new Sandbox.SandboxError({
      reason: "PathEscape",
      detail: `${action}: a symbolic link appeared at the path while it was checked`,
      path,
      cause
    })
  }
  if (code === "EISDIR" || code === "ENOTDIR") {
    return new Sandbox.SandboxError({
      reason: "WrongKind",
      detail: `${action}: ${code === "EISDIR" ? "is a directory" : "not a directory"}`,
      path
    })
  }
  return new Sandbox.SandboxError({ reason: "IoFailed", detail: `${action} failed (${code ?? "error"})`, path, cause })
}

const io = <A>(path: string, action: string, f: () => Promise<A>): Effect.Effect<A, Sandbox.SandboxError> =>
  Effect.tryPromise({ try: f, catch: (cause) => ioError(cause, path, action) })

const isInside = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root.endsWith(Path.sep) ? root : root + Path.sep)

type Confined = { readonly ok: true; readonly rel: string } | { readonly ok: false; readonly detail: string }

/**
 * Resolves `input` inside `root` (a real path) the way the kernel would, following every
 * symlink (chains included) and `..` physically, and refuses any step that leaves `root`.
 * `aliases` are absolute prefixes that also name the root (the given workspace path, `/ws`).
 */
const confine = async (root: string, aliases: ReadonlyArray<string>, input: string): Promise<Confined> => {
  if (input.includes("\0")) return { ok: false, detail: "the path contains a NUL byte" }
  let rest: string
  if (Path.isAbsolute(input)) {
    const normalized = Path.normalize(input)
    const alias = [root, ...aliases].find((prefix) => isInside(prefix, normalized))
    if (alias === undefined) return { ok: false, detail: "an absolute path outside the workspace" }
    rest = Path.relative(alias, normalized)
  } else {
    rest = input
  }
  const queue = rest.split(/[\\/]+/)
  let current = root
  let links = 0
  while (queue.length > 0) {
    const part = queue.shift()!
    if (part === "" || part === ".") continue
    if (part === "..") {
      if (current === root) return { ok: false, detail: "the path leaves the workspace (..)" }
      current = Path.dirname(current)
      continue
    }
    const next = Path.join(current, part)
    const stat = await Fs.lstat(next).catch((cause: unknown) => isAbsent(cause) ? undefined : Promise.reject(cause))
    if (stat === undefined || !stat.isSymbolicLink()) {
      current = next
      continue
    }
    if (++links > MAX_SYMLINKS) return { ok: false, detail: "too many levels of symbolic links" }
    const target = await Fs.readlink(next)
    if (Path.isAbsolute(target)) {
      const normalized = Path.normalize(target)
      const alias = [root, ...aliases].find((prefix) => isInside(prefix, normalized))
      if (alias === undefined) return { ok: false, detail: `a symbolic link resolves outside the workspace (${part})` }
      queue.unshift(...Path.relative(alias, normalized).split(Path.sep))
      current = root
    } else {
      queue.unshift(...target.split(/[\\/]+/))
    }
  }
  const rel = Path.relative(root, current)
  return { ok: true, rel: rel === "" ? "." : rel.split(Path.sep).join("/") }
}

const kindOf = (
  stat: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }
): Sandbox.EntryKind =>
  stat.isFile() ? "file" : stat.isDirectory() ? "directory" : stat.isSymbolicLink() ? "symlink" : "other"

const countOccurrences = (text: string, search: string): number => {
  let count = 0
  let from = 0
  while (count < 2) {
    const at = text.indexOf(search, from)
    if (at < 0) break
    count++
    from = at + search.length
  }
  return count
}

const toBytes = (data: string | Uint8Array): Uint8Array => typeof data === "string" ? Buffer.from(data, "utf8") : data

/** Marks the failure of `runCode` when the interpreter is missing. */
const MISSING_MARKER = "rath: interpreter not installed:"
const RUN_CODE_SCRIPT =
  `command -v "$0" >/dev/null 2>&1 || { echo "${MISSING_MARKER} $0" >&2; exit 127; }; exec "$0" "$@"`

/**
 * Runs a launch as its own process group. On timeout or interruption the whole group is killed
 * with SIGKILL (we wait for the command itself to close; the rest of the group dies with the
 * signal, a moment later under load); when the command exits, what it left running in
 * its group is killed too, so no process outlives its command.
 */
const spawn = (
  launch: Launch,
  options: { readonly stdin?: string | Uint8Array | undefined; readonly maxOutputBytes: number }
): Effect.Effect<Omit<Sandbox.ExecResult, "elapsedMs">, Sandbox.SandboxError> =>
  Effect.async<Omit<Sandbox.ExecResult, "elapsedMs">, Sandbox.SandboxError>((resume) => {
    let child: ChildProcess.ChildProcess
    try {
      child = ChildProcess.spawn(launch.file, [...launch.args], {
        cwd: launch.cwd,
        env: launch.env,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"]
      })
    } catch (cause) {
      resume(Effect.fail(new Sandbox.SandboxError({ reason: "SpawnFailed", detail: String(cause), cause })))
      return
    }
    let closed = false
    let truncated = false
    const collect = (stream: NodeJS.ReadableStream | null) => {
      const chunks: Array<Buffer> = []
      let size = 0
      stream?.on("data", (chunk: Buffer) => {
        if (size >= options.maxOutputBytes) {
          truncated = true
          return
        }
        const room = options.maxOutputBytes - size
        if (chunk.length > room) {
          truncated = true
          chunks.push(chunk.subarray(0, room))
          size += room
        } else {
          chunks.push(chunk)
          size += chunk.length
        }
      })
      return () => Buffer.concat(chunks).toString("utf8")
    }
    const stdout = collect(child.stdout)
    const stderr = collect(child.stderr)
    const killGroup = () => {
      if (child.pid === undefined) return
      try {
        process.kill(-child.pid, "SIGKILL")
      } catch (_) {
        // ESRCH: the group is already gone
      }
    }
    child.on("error", (cause) => {
      if (closed) return
      closed = true
      resume(
        Effect.fail(
          new Sandbox.SandboxError({
            reason: "SpawnFailed",
            detail: `could not start ${launch.file}: ${cause.message}`,
            cause
          })
        )
      )
    })
    child.on("exit", killGroup)
    child.on("close", (code, signal) => {
      if (closed) return
      closed = true
      resume(Effect.succeed({
        exitCode: code ?? (signal === null ? -1 : 128),
        ...(signal === null ? {} : { signal }),
        stdout: stdout(),
        stderr: stderr(),
        truncated
      }))
    })
    child.stdin?.on("error", () => {
      // EPIPE: the command did not read its stdin; not an error of ours
    })
    if (options.stdin !== undefined) child.stdin?.end(toBytes(options.stdin))
    else child.stdin?.end()
    return Effect.async<void>((done) => {
      if (closed) return done(Effect.void)
      child.once("close", () => done(Effect.void))
      child.once("error", () => done(Effect.void))
      killGroup()
    })
  })

/** Builds a handle over a host workspace directory; `launch` says how commands start. */
export const makeHandle = (options: {
  readonly placement: Placement.Placement
  /** The real path of the workspace directory. */
  readonly root: string
  /** Other absolute paths that name the workspace root (the given path, the in-sandbox mount). */
  readonly aliases: ReadonlyArray<string>
  readonly launch: (request: LaunchRequest) => Launch
}): Sandbox.Handle => {
  const { root } = options
  const resolve = (path: string): Effect.Effect<string, Sandbox.SandboxError> =>
    Effect.tryPromise({
      try: () => confine(root, options.aliases, path),
      catch: (cause) => ioError(cause, path, "resolve")
    }).pipe(
      Effect.flatMap((confined) =>
        confined.ok
          ? Effect.succeed(confined.rel)
          : Effect.fail(new Sandbox.SandboxError({ reason: "PathEscape", detail: confined.detail, path }))
      )
    )
  const host = (rel: string) => rel === "." ? root : Path.join(root, rel)

  const readBytes = (path: string) =>
    Effect.flatMap(
      resolve(path),
      (rel) => io(rel, "read", async () => new Uint8Array(await Fs.readFile(host(rel), { flag: READ_FLAGS })))
    )

  const write = (path: string, data: string | Uint8Array) =>
    Effect.flatMap(resolve(path), (rel) =>
      io(rel, "write", async () => {
        const target = host(rel)
        await Fs.mkdir(Path.dirname(target), { recursive: true })
        const created = await Fs.lstat(target).then(
          () => false,
          (cause: unknown) => isAbsent(cause) ? true : Promise.reject(cause)
        )
        const bytes = toBytes(data)
        await Fs.writeFile(target, bytes, { flag: WRITE_FLAGS })
        return { path: rel, bytes: bytes.byteLength, created }
      }))

  const exec = (exec: Sandbox.ExecOptions): Effect.Effect<Sandbox.ExecResult, Sandbox.SandboxError> =>
    Effect.gen(function*() {
      const cwd = yield* resolve(exec.cwd ?? ".")
      const kind = yield* io(cwd, "cwd", async () => kindOf(await Fs.stat(host(cwd))))
      if (kind !== "directory") {
        return yield* new Sandbox.SandboxError({ reason: "WrongKind", detail: "cwd is not a directory", path: cwd })
      }
      const argv = typeof exec.command === "string" ? ["sh", "-c", exec.command] : exec.command
      if (argv.length === 0) {
        return yield* new Sandbox.SandboxError({ reason: "SpawnFailed", detail: "an empty command" })
      }
      const timeout = exec.timeout === undefined ? DEFAULT_TIMEOUT : Duration.decode(exec.timeout)
      const started = yield* Clock.currentTimeMillis
      const result = yield* spawn(options.launch({ argv, cwd, env: exec.env ?? {} }), {
        stdin: exec.stdin,
        maxOutputBytes: exec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Sandbox.SandboxError({
              reason: "Timeout",
              detail: `the command did not finish within ${Duration.format(timeout)}; its processes were killed`
            })
        })
      )
      const finished = yield* Clock.currentTimeMillis
      return { ...result, elapsedMs: finished - started }
    }).pipe(Effect.withSpan("Sandbox.exec", { attributes: { "rath.sandbox": Placement.label(options.placement) } }))

  return {
    placement: options.placement,
    workspace: root,
    resolve,
    readBytes,
    readText: (path) => Effect.map(readBytes(path), (bytes) => Buffer.from(bytes).toString("utf8")),
    write,
    list: (path = ".") =>
      Effect.flatMap(resolve(path), (rel) =>
        io(rel, "list", async () => {
          const entries = await Fs.readdir(host(rel), { withFileTypes: true })
          return entries
            .map((entry): Sandbox.DirEntry => ({ name: entry.name, kind: kindOf(entry) }))
            .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
        })),
    exists: (path) =>
      Effect.flatMap(
        resolve(path),
        (rel) =>
          io(rel, "exists", () =>
            Fs.lstat(host(rel)).then(() =>
              true, (cause: unknown) =>
              isAbsent(cause) ? false : Promise.reject(cause)))
      ),
    stat: (path) =>
      Effect.flatMap(resolve(path), (rel) =>
        io(rel, "stat", async () => {
          const stat = await Fs.lstat(host(rel))
          return { path: rel, kind: kindOf(stat), size: stat.size, mtimeMs: stat.mtimeMs }
        })),
    edit: (path, oldText, newText) =>
      Effect.gen(function*() {
        if (oldText === "") {
          return yield* new Sandbox.SandboxError({ reason: "EditNoMatch", detail: "the old text is empty", path })
        }
        const rel = yield* resolve(path)
        const text = yield* io(rel, "edit", () => Fs.readFile(host(rel), { encoding: "utf8", flag: READ_FLAGS }))
        const count = countOccurrences(text, oldText)
        if (count === 0) {
          return yield* new Sandbox.SandboxError({ reason: "EditNoMatch", detail: "the old text does not occur", path })
        }
        if (count > 1) {
          return yield* new Sandbox.SandboxError({
            reason: "EditAmbiguous",
            detail: "the old text occurs more than once; give more context",
            path
          })
        }
        const at = text.indexOf(oldText)
        return yield* write(rel, text.slice(0, at) + newText + text.slice(at + oldText.length))
      }),
    exec,
    runCode: (run) =>
      Effect.gen(function*() {
        const [interpreter, flag] = run.language === "node" ? ["node", "-e"] : ["python3", "-c"]
        const result = yield* exec({
          command: ["sh", "-c", RUN_CODE_SCRIPT, interpreter, flag, run.code],
          stdin: run.stdin,
          env: run.env,
          timeout: run.timeout,
          maxOutputBytes: run.maxOutputBytes
        })
        if (result.exitCode === 127 && result.stderr.startsWith(MISSING_MARKER)) {
          return yield* new Sandbox.SandboxError({
            reason: "Unsupported",
            detail: `${interpreter} is not installed in this sandbox`
          })
        }
        return result
      })
  }
}

/**
 * Opens the workspace directory of a placement for the scope: the given one (created when
 * missing, kept on release) or a fresh temporary one (removed on release). Returns its real path.
 */
export const acquireWorkspace = (
  placement: Placement.Placement
): Effect.Effect<{ readonly root: string; readonly given: string | undefined }, Sandbox.SandboxError, Scope.Scope> =>
  placement.workspace !== undefined
    ? Effect.tryPromise({
      try: async () => {
        const given = Path.resolve(placement.workspace!)
        await Fs.mkdir(given, { recursive: true })
        return { root: await Fs.realpath(given), given }
      },
      catch: (cause) =>
        new Sandbox.SandboxError({
          reason: "StartFailed",
          detail: "could not open the workspace",
          path: placement.workspace!,
          cause
        })
    })
    : Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => ({
          root: await Fs.realpath(await Fs.mkdtemp(Path.join(Os.tmpdir(), "rath-sbx-"))),
          given: undefined
        }),
        catch: (cause) =>
          new Sandbox.SandboxError({ reason: "StartFailed", detail: "could not create a temporary workspace", cause })
      }),
      ({ root }) => Effect.promise(() => Fs.rm(root, { recursive: true, force: true }))
    )

/** The placement a handle reports: the key placement with the workspace it really uses. */
export const withWorkspace = (placement: Placement.Placement, workspace: string): Placement.Placement =>
  Placement.make({ backend: placement.backend, id: placement.id, workspace, network: placement.network })
