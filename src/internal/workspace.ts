/**
 * The workspace machinery shared by the local and bubblewrap backends: race-free path
 * confinement, the file operations on the host directory, resource limits (cgroups, rlimits), and
 * process execution with timeouts, output caps and whole-tree kills. A backend only says how a
 * command is launched.
 *
 * ## Why the file API walks `/proc/self/fd/<dir>/<name>`
 *
 * The file API runs in the host process, on a directory that sandboxed commands (and other agents
 * sharing the sandbox) change at the same time. Checking a path and then opening it by name is a
 * race: between the check and the open, a directory can be swapped for a symlink to a host
 * directory. The sound way is `openat(dirfd, name, O_NOFOLLOW)` one component at a time, each
 * relative to the directory opened in the step before, so a name is only ever looked up inside a
 * directory that was itself reached without leaving the workspace. Node has no `openat`; on Linux,
 * opening `/proc/self/fd/<dirfd>/<name>` is the same lookup: the kernel follows the magic link
 * `/proc/self/fd/<dirfd>` to the very directory the descriptor holds (not to a path that could be
 * re-resolved), then looks `name` up in it. Every component is opened with `O_PATH | O_NOFOLLOW`,
 * which opens nothing for I/O (a FIFO or a device is never opened, so nothing blocks the threadpool)
 * and never follows a symlink: a symlink is seen as a symlink (then read and resolved by rath,
 * refusing targets outside), a swapped-in symlink can never be walked through. The file itself is
 * then checked with `fstat` on that descriptor (a regular file, one link, within the size limit)
 * and reopened for I/O through `/proc/self/fd/<fd>`, which opens that same inode. There is no
 * check-then-use anywhere: what is checked is what is used.
 *
 * The alternative, running each file operation inside the sandbox (a bubblewrap process per
 * read), costs a process start per call and does not help the local backend; this walk serves both.
 * It needs Linux's `/proc`, which bubblewrap needs anyway.
 *
 * Why `node:fs` and not `@effect/platform`'s `FileSystem` here: the platform opens by path with
 * flag strings (`"r"`, `"w+"`, ...), so it cannot pass `O_PATH | O_NOFOLLOW`, `O_EXCL`, or open
 * relative to a held descriptor, and each of its calls would resolve the whole path again, which
 * is exactly the check-then-use race above. Only the temporary workspace itself (created and
 * removed by rath, never reached through a path a command controls) uses the platform.
 *
 * ## Why processes are spawned by hand
 *
 * `@effect/platform`'s `Command` (the Node command executor) also spawns a process group and
 * kills it, but cannot express what a sandboxed command needs: every inherited descriptor above
 * 2 replaced by `/dev/null` in the child (its stdio is three entries), SIGKILL of the group and
 * the cgroup after the command exits whatever its exit code (it sends SIGTERM, and only on a
 * non-zero exit, then waits for an exit that a process ignoring SIGTERM never gives), an output
 * cap that drops and then closes the pipe, and a bounded wait for pipes held by escaped
 * processes. So {@link spawn} stays hand-written; commands outside the sandboxes (probing for
 * `bwrap`) use `Command`.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as FsSync from "node:fs"
import * as Fs from "node:fs/promises"
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
/** How many times a walk starts a step over because a name changed under it (a racing command). */
const MAX_RETRIES = 100
const DEFAULT_MAX_OUTPUT = 1024 * 1024
/**
 * Past the output cap, this much more is read and dropped per stream before the pipe is closed (a
 * command still writing then gets SIGPIPE): `yes` ends in milliseconds instead of keeping the host
 * busy reading until its timeout.
 */
export const DISCARD_LIMIT = 64 * 1024 * 1024
const DEFAULT_TIMEOUT = Duration.seconds(60)
/**
 * After a command exits, how long to wait for its output pipes to close. Processes that escaped
 * every kill (only possible without cgroups) and still hold them are then cut off.
 */
const PIPE_GRACE_MS = 500

/** The default most bytes `readText`/`readBytes`/`edit` read from one file. */
export const DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024

// Linux open(2) flags. O_PATH is not in Node's `fs.constants`; its value is the same on every
// Linux architecture Node supports (x64, arm64, ppc64le, s390x).
const O_PATH = 0o10000000
const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } = FsSync.constants
const O_LOOKUP = O_PATH | O_NOFOLLOW

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const isSandboxError = Schema.is(Sandbox.SandboxError)

/** Maps a Node file-system error to a `SandboxError`. */
export const ioError = (cause: unknown, path: string, action: string): Sandbox.SandboxError => {
  if (isSandboxError(cause)) return cause
  const code = codeOf(cause)
  if (code === "ENOENT") {
    return new Sandbox.SandboxError({ reason: "NotFound", detail: `${action}: no such file`, path })
  }
  if (code === "ELOOP") {
    return new Sandbox.SandboxError({
      reason: "PathEscape",
      detail: `${action}: a symbolic link appeared at the path while it was used`,
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

const refuse = (reason: Sandbox.SandboxErrorReason, detail: string, path: string): Sandbox.SandboxError =>
  new Sandbox.SandboxError({ reason, detail, path })

/** A Node-style error, so that one mapping (`ioError`) serves the kernel's answers and ours. */
const errno = (code: string): Error => Object.assign(new Error(code), { code })

const kindOf = (
  stat: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }
): Sandbox.EntryKind =>
  stat.isFile() ? "file" : stat.isDirectory() ? "directory" : stat.isSymbolicLink() ? "symlink" : "other"

const describeKind = (stat: FsSync.Stats): string =>
  stat.isFIFO()
    ? "a FIFO (named pipe)"
    : stat.isSocket()
    ? "a socket"
    : stat.isCharacterDevice()
    ? "a character device"
    : stat.isBlockDevice()
    ? "a block device"
    : stat.isDirectory()
    ? "a directory"
    : "not a regular file"

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

// -----------------------------------------------------------------------------
// the descriptor walk
// -----------------------------------------------------------------------------

/** `openat(dir, name)` spelled for Node: the kernel looks `name` up in the directory `dir` holds. */
const at = (dir: Fs.FileHandle, name: string): string => `/proc/self/fd/${dir.fd}/${name}`
/** Reopens the inode a descriptor holds. */
const self = (handle: Fs.FileHandle): string => `/proc/self/fd/${handle.fd}`

/** What a walk found at the end of a path. */
type Found =
  | {
    readonly _tag: "Found"
    /** The canonical path relative to the root (`.` for the root). */
    readonly rel: string
    readonly node: Fs.FileHandle
    readonly stat: FsSync.Stats
  }
  | {
    readonly _tag: "Absent"
    readonly rel: string
    /** The directory the missing name would be created in; absent when a parent is missing too. */
    readonly parent: Fs.FileHandle | undefined
    readonly name: string
  }

type Mode =
  /** Every directory on the way must exist. */
  | "strict"
  /** Missing directories are named lexically (for `resolve` and `exists`). */
  | "lenient"
  /** Missing directories are created (for `write`). */
  | "create"

interface Walker {
  /** Every descriptor the walk opened; the caller closes them (see {@link using}). */
  readonly held: Array<Fs.FileHandle>
}

const openNode = async (walker: Walker, path: string): Promise<Fs.FileHandle | undefined> => {
  try {
    const handle = await Fs.open(path, O_LOOKUP)
    walker.held.push(handle)
    return handle
  } catch (cause) {
    if (codeOf(cause) === "ENOENT") return undefined
    throw cause
  }
}

/** Runs `f` with a fresh walker and closes every descriptor it opened, whatever happens. */
const using = async <A>(f: (walker: Walker) => Promise<A>): Promise<A> => {
  const walker: Walker = { held: [] }
  try {
    return await f(walker)
  } finally {
    await Promise.all(walker.held.map((handle) => handle.close().catch(() => undefined)))
  }
}

interface Root {
  /** The real path of the workspace. */
  readonly path: string
  /** Other absolute paths that name the root (the given workspace path, the in-sandbox mount). */
  readonly aliases: ReadonlyArray<string>
  /** The root directory, opened `O_PATH` for the handle's lifetime. */
  readonly handle: Fs.FileHandle
}

/** Splits an absolute path inside the root (or one of its aliases) into components, or refuses it. */
const relativeComponents = (root: Root, absolute: string, input: string, what: string): Array<string> => {
  const normalized = Path.normalize(absolute)
  const prefix = [root.path, ...root.aliases].find((candidate) => isInside(candidate, normalized))
  if (prefix === undefined) throw refuse("PathEscape", what, input)
  return Path.relative(prefix, normalized).split(Path.sep)
}

/**
 * Walks `input` from the root one component at a time, each opened `O_PATH | O_NOFOLLOW` relative
 * to the directory before it. `..` goes back to the directory the walk came from (physically, as
 * the kernel does after a symlink) and never above the root; symlinks are read and their targets
 * walked the same way (an absolute target must name a place inside the workspace).
 */
const walk = async (root: Root, walker: Walker, input: string, mode: Mode): Promise<Found> => {
  if (input.includes("\0")) throw refuse("PathEscape", "the path contains a NUL byte", input)
  const queue = Path.isAbsolute(input)
    ? relativeComponents(root, input, input, "an absolute path outside the workspace")
    : input.split(/[\\/]+/)
  // the directories walked through below the root; `handle` undefined: a missing one (lenient)
  const stack: Array<{ readonly name: string; readonly handle: Fs.FileHandle | undefined }> = []
  const current = (): Fs.FileHandle | undefined => stack.length === 0 ? root.handle : stack[stack.length - 1]!.handle
  const relOf = (last?: string): string => {
    const names = stack.map((entry) => entry.name)
    if (last !== undefined) names.push(last)
    return names.length === 0 ? "." : names.join("/")
  }
  const meaningful = (part: string) => part !== "" && part !== "."
  let links = 0
  let retries = 0
  while (queue.length > 0) {
    const part = queue.shift()!
    if (!meaningful(part)) continue
    if (part === "..") {
      if (stack.length === 0) throw refuse("PathEscape", "the path leaves the workspace (..)", input)
      stack.pop()
      continue
    }
    const last = !queue.some(meaningful)
    const dir = current()
    const node = dir === undefined ? undefined : await openNode(walker, at(dir, part))
    if (node === undefined) {
      if (last) return { _tag: "Absent", rel: relOf(part), parent: dir, name: part }
      // a missing directory followed by `..` names the directory we are in
      const next = queue.findIndex(meaningful)
      if (queue[next] === "..") {
        queue.splice(next, 1)
        continue
      }
      if (mode === "strict") throw errno("ENOENT")
      if (mode === "lenient" || dir === undefined) {
        stack.push({ name: part, handle: undefined })
        continue
      }
      if (++retries > MAX_RETRIES) throw errno("EAGAIN")
      await Fs.mkdir(at(dir, part)).catch((cause: unknown) =>
        codeOf(cause) === "EEXIST" ? undefined : Promise.reject(cause)
      )
      queue.unshift(part) // look it up again: whatever is there now is checked like anything else
      continue
    }
    const stat = await node.stat()
    if (stat.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw refuse("PathEscape", "too many levels of symbolic links", input)
      let target: string
      try {
        target = await Fs.readlink(at(dir!, part))
      } catch (cause) {
        // swapped for something else between the two calls: look again
        if ((codeOf(cause) === "EINVAL" || codeOf(cause) === "ENOENT") && ++retries <= MAX_RETRIES) {
          queue.unshift(part)
          continue
        }
        throw cause
      }
      if (Path.isAbsolute(target)) {
        queue.unshift(
          ...relativeComponents(root, target, input, `a symbolic link resolves outside the workspace (${part})`)
        )
        stack.length = 0
      } else {
        queue.unshift(...target.split(/[\\/]+/))
      }
      continue
    }
    if (last) return { _tag: "Found", rel: relOf(part), node, stat }
    if (!stat.isDirectory()) throw errno("ENOTDIR")
    stack.push({ name: part, handle: node })
  }
  const dir = current()
  if (dir === undefined) return { _tag: "Absent", rel: relOf(), parent: undefined, name: "." }
  return { _tag: "Found", rel: relOf(), node: dir, stat: await dir.stat() }
}

// -----------------------------------------------------------------------------
// file operations
// -----------------------------------------------------------------------------

interface FilePolicy {
  /** Refuse regular files with more than one hard link (the local backend: see the docs). */
  readonly refuseHardLinks: boolean
}

const tooLarge = (path: string, action: string, max: number, size: number | undefined) =>
  refuse(
    "TooLarge",
    size === undefined
      ? `${action}: the file is larger than the limit of ${max} bytes`
      : `${action}: the file is ${size} bytes, over the limit of ${max} bytes`,
    path
  )

/** Refuses what is not one regular file with one link; the caller then reopens that inode. */
const checkRegular = (found: Extract<Found, { _tag: "Found" }>, action: string, policy: FilePolicy): void => {
  const { rel, stat } = found
  if (stat.isDirectory()) throw errno("EISDIR")
  if (!stat.isFile()) {
    throw refuse("WrongKind", `${action}: ${describeKind(stat)}; the file API reads and writes regular files only`, rel)
  }
  if (policy.refuseHardLinks && stat.nlink > 1) {
    throw refuse(
      "HardLink",
      `${action}: the file has ${stat.nlink} hard links, so it may be a file outside the workspace; ` +
        "the local sandbox touches only files with one link",
      rel
    )
  }
}

/** Reads at most `max` bytes (the size is checked first, and again while reading a growing file). */
const readAll = async (file: Fs.FileHandle, size: number, max: number, rel: string, action: string) => {
  if (size > max) throw tooLarge(rel, action, max, size)
  let buffer = Buffer.allocUnsafe(Math.min(size, max) + 1)
  let length = 0
  for (;;) {
    if (length === buffer.length) {
      if (length > max) throw tooLarge(rel, action, max, undefined)
      const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, max + 1))
      buffer.copy(grown, 0, 0, length)
      buffer = grown
    }
    const { bytesRead } = await file.read(buffer, length, buffer.length - length, length)
    if (bytesRead === 0) break
    length += bytesRead
  }
  if (length > max) throw tooLarge(rel, action, max, undefined)
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length)
}

const withFile = async <A>(path: string, flags: number, f: (file: Fs.FileHandle) => Promise<A>): Promise<A> => {
  const file = await Fs.open(path, flags)
  try {
    return await f(file)
  } finally {
    await file.close()
  }
}

const found = (result: Found): Extract<Found, { _tag: "Found" }> => {
  if (result._tag === "Absent") throw errno("ENOENT")
  return result
}

const makeFiles = (root: Root, policy: FilePolicy) => {
  const resolve = (path: string) =>
    io(path, "resolve", () => using(async (walker) => (await walk(root, walker, path, "lenient")).rel))

  const readBytes = (path: string, options?: Sandbox.ReadOptions) => {
    const max = options?.maxBytes ?? DEFAULT_MAX_READ_BYTES
    return io(path, "read", () =>
      using(async (walker) => {
        const file = found(await walk(root, walker, path, "strict"))
        checkRegular(file, "read", policy)
        return withFile(self(file.node), O_RDONLY, (fh) => readAll(fh, file.stat.size, max, file.rel, "read"))
      }))
  }

  const write = (path: string, data: string | Uint8Array) =>
    io(path, "write", () =>
      using(async (walker): Promise<Sandbox.WriteResult> => {
        const bytes = toBytes(data)
        for (let attempt = 0;; attempt++) {
          const target = await walk(root, walker, path, "create")
          if (target._tag === "Absent") {
            if (target.parent === undefined) throw errno("ENOENT")
            let file: Fs.FileHandle
            try {
              // O_EXCL: creates a new name, never opens what a racing command put there
              file = await Fs.open(at(target.parent, target.name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666)
            } catch (cause) {
              if (codeOf(cause) === "EEXIST" && attempt < MAX_RETRIES) continue
              throw cause
            }
            try {
              await file.writeFile(bytes)
            } finally {
              await file.close()
            }
            return { path: target.rel, bytes: bytes.byteLength, created: true }
          }
          checkRegular(target, "write", policy)
          await withFile(self(target.node), O_WRONLY | O_TRUNC, (file) => file.writeFile(bytes))
          return { path: target.rel, bytes: bytes.byteLength, created: false }
        }
      }))

  const edit = (path: string, oldText: string, newText: string) =>
    Effect.gen(function*() {
      if (oldText === "") {
        return yield* new Sandbox.SandboxError({ reason: "EditNoMatch", detail: "the old text is empty", path })
      }
      // one descriptor for the read and the write: the inode checked is the one rewritten
      const outcome = yield* io(path, "edit", () =>
        using(async (walker) => {
          const file = found(await walk(root, walker, path, "strict"))
          checkRegular(file, "edit", policy)
          return withFile(self(file.node), O_RDWR, async (fh) => {
            const text = Buffer.from(await readAll(fh, file.stat.size, DEFAULT_MAX_READ_BYTES, file.rel, "edit"))
              .toString("utf8")
            const count = countOccurrences(text, oldText)
            if (count !== 1) return { rel: file.rel, count }
            const index = text.indexOf(oldText)
            const bytes = Buffer.from(text.slice(0, index) + newText + text.slice(index + oldText.length), "utf8")
            await fh.truncate(0)
            await fh.write(bytes, 0, bytes.length, 0)
            return { rel: file.rel, count, bytes: bytes.byteLength }
          })
        }))
      if (outcome.count === 0) {
        return yield* new Sandbox.SandboxError({ reason: "EditNoMatch", detail: "the old text does not occur", path })
      }
      if (outcome.count > 1) {
        return yield* new Sandbox.SandboxError({
          reason: "EditAmbiguous",
          detail: "the old text occurs more than once; give more context",
          path
        })
      }
      return { path: outcome.rel, bytes: outcome.bytes ?? 0, created: false }
    })

  const list = (path = ".") =>
    io(path, "list", () =>
      using(async (walker) => {
        const dir = found(await walk(root, walker, path, "strict"))
        if (!dir.stat.isDirectory()) throw errno("ENOTDIR")
        const entries = await Fs.readdir(self(dir.node), { withFileTypes: true })
        return entries
          .map((entry): Sandbox.DirEntry => ({ name: entry.name, kind: kindOf(entry) }))
          .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      }))

  const exists = (path: string) =>
    io(path, "exists", () =>
      using(async (walker) => {
        try {
          return (await walk(root, walker, path, "lenient"))._tag === "Found"
        } catch (cause) {
          if (codeOf(cause) === "ENOTDIR") return false
          throw cause
        }
      }))

  const stat = (path: string) =>
    io(path, "stat", () =>
      using(async (walker): Promise<Sandbox.Stat> => {
        const file = found(await walk(root, walker, path, "strict"))
        if (file.stat.isFile()) checkRegular(file, "stat", policy)
        return { path: file.rel, kind: kindOf(file.stat), size: file.stat.size, mtimeMs: file.stat.mtimeMs }
      }))

  /** The canonical path of an existing directory (a command's working directory). */
  const directory = (path: string) =>
    io(path, "cwd", () =>
      using(async (walker) => {
        const dir = found(await walk(root, walker, path, "strict"))
        if (!dir.stat.isDirectory()) {
          throw refuse("WrongKind", "cwd is not a directory", dir.rel)
        }
        return dir.rel
      }))

  return { resolve, readBytes, write, edit, list, exists, stat, directory }
}

// -----------------------------------------------------------------------------
// resource limits: cgroups where writable, rlimits always
// -----------------------------------------------------------------------------

/** Limits with every value known (`Infinity`: not limited). */
export type ResolvedLimits = { readonly [K in keyof Sandbox.Limits]-?: number }

/** The default limits of a sandbox. */
export const DEFAULT_LIMITS: ResolvedLimits = {
  processes: 512,
  memoryBytes: 1024 * 1024 * 1024,
  fileBytes: 512 * 1024 * 1024,
  tmpBytes: 256 * 1024 * 1024
}

/** The limits with defaults filled in; a limit that is not a positive integer (or Infinity) fails. */
export const resolveLimits = (
  limits: Sandbox.Limits | undefined
): Effect.Effect<ResolvedLimits, Sandbox.SandboxError> => {
  const resolved = {
    processes: limits?.processes ?? DEFAULT_LIMITS.processes,
    memoryBytes: limits?.memoryBytes ?? DEFAULT_LIMITS.memoryBytes,
    fileBytes: limits?.fileBytes ?? DEFAULT_LIMITS.fileBytes,
    tmpBytes: limits?.tmpBytes ?? DEFAULT_LIMITS.tmpBytes
  }
  for (const [name, value] of Object.entries(resolved)) {
    if (!(value > 0) || (Number.isFinite(value) && !Number.isInteger(value))) {
      return Effect.fail(
        new Sandbox.SandboxError({
          reason: "StartFailed",
          detail: `limits.${name} must be a positive integer or Infinity, not ${value}`
        })
      )
    }
  }
  return Effect.succeed(resolved)
}

type Controller = "pids" | "memory"

interface Hierarchy {
  readonly version: 1 | 2
  /** The directory rath makes its cgroups in. */
  readonly parent: string
  readonly controllers: ReadonlyArray<Controller>
}

const unescapeMount = (text: string): string =>
  text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))

/**
 * Where this process may make cgroups with the pids and memory controllers: cgroup v1 (each
 * controller's hierarchy, under this process's own cgroup there) or cgroup v2 (the nearest
 * ancestor of this process's cgroup that hands the controllers down: a v2 cgroup that holds
 * processes cannot). Whether they are writable is found out by making one (see {@link openCgroup}).
 */
const detectHierarchies = async (): Promise<ReadonlyArray<Hierarchy>> => {
  let mountinfo: string
  let membership: string
  try {
    mountinfo = await Fs.readFile("/proc/self/mountinfo", "utf8")
    membership = await Fs.readFile("/proc/self/cgroup", "utf8")
  } catch (_) {
    return []
  }
  const mounts = mountinfo.split("\n").flatMap((line) => {
    const [left, right] = line.split(" - ")
    if (left === undefined || right === undefined) return []
    const fields = left.split(" ")
    const [fstype, , superOptions] = right.split(" ")
    return [{
      root: unescapeMount(fields[3] ?? "/"),
      point: unescapeMount(fields[4] ?? ""),
      fstype,
      options: (superOptions ?? "").split(",")
    }]
  })
  const groups = membership.split("\n").flatMap((line) => {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line)
    return match === null ? [] : [{ id: match[1]!, controllers: match[2]!.split(",").filter(Boolean), path: match[3]! }]
  })
  const inMount = (mount: (typeof mounts)[number], path: string): string | undefined => {
    const rel = Path.posix.relative(mount.root, path)
    return rel.startsWith("..") ? undefined : Path.join(mount.point, rel)
  }
  const found: Array<{ version: 1 | 2; parent: string; controllers: Array<Controller> }> = []
  const wanted: ReadonlyArray<Controller> = ["pids", "memory"]
  const onV1 = new Set<Controller>()
  for (const controller of wanted) {
    const mount = mounts.find((m) => m.fstype === "cgroup" && m.options.includes(controller))
    const group = groups.find((g) => g.controllers.includes(controller))
    if (mount === undefined || group === undefined) continue
    onV1.add(controller)
    const parent = inMount(mount, group.path)
    if (parent === undefined) continue
    const shared = found.find((h) => h.parent === parent)
    if (shared !== undefined) shared.controllers.push(controller)
    else found.push({ version: 1, parent, controllers: [controller] })
  }
  const rest = wanted.filter((controller) => !onV1.has(controller))
  const unified = mounts.find((m) => m.fstype === "cgroup2")
  const own = groups.find((g) => g.id === "0" && g.controllers.length === 0)
  if (rest.length > 0 && unified !== undefined && own !== undefined) {
    for (let candidate = Path.posix.dirname(own.path);; candidate = Path.posix.dirname(candidate)) {
      const dir = inMount(unified, candidate)
      if (dir !== undefined) {
        const control = await Fs.readFile(Path.join(dir, "cgroup.subtree_control"), "utf8").catch(() => "")
        const handed = rest.filter((controller) => control.split(/\s+/).includes(controller))
        if (handed.length > 0) {
          found.push({ version: 2, parent: dir, controllers: handed })
          break
        }
      }
      if (candidate === "/") break
    }
  }
  return found
}

let hierarchies: Promise<ReadonlyArray<Hierarchy>> | undefined
const cgroupHierarchies = (): Promise<ReadonlyArray<Hierarchy>> => (hierarchies ??= detectHierarchies())

let cgroupCounter = 0

interface CgroupDir {
  readonly version: 1 | 2
  readonly dir: string
}

/** A sandbox's cgroup: one directory per hierarchy; each command runs in a child of it. */
interface Cgroup {
  readonly dirs: ReadonlyArray<CgroupDir>
  readonly controllers: ReadonlySet<Controller>
}

const writeControl = (dir: string, file: string, value: number | string) =>
  Fs.writeFile(Path.join(dir, file), String(value), { flag: "r+" })

/**
 * Makes the sandbox's cgroup in every hierarchy where this process may, with its limits set; a
 * hierarchy where that fails (read-only, no permission) is left out.
 */
const openCgroup = async (limits: ResolvedLimits): Promise<Cgroup | undefined> => {
  const dirs: Array<CgroupDir> = []
  const controllers = new Set<Controller>()
  for (const hierarchy of await cgroupHierarchies()) {
    const dir = Path.join(hierarchy.parent, `rath-${process.pid}-${++cgroupCounter}`)
    try {
      await Fs.mkdir(dir)
    } catch (_) {
      continue
    }
    try {
      for (const controller of hierarchy.controllers) {
        if (controller === "pids" && Number.isFinite(limits.processes)) {
          await writeControl(dir, "pids.max", limits.processes)
        }
        if (controller === "memory" && Number.isFinite(limits.memoryBytes)) {
          await writeControl(dir, hierarchy.version === 1 ? "memory.limit_in_bytes" : "memory.max", limits.memoryBytes)
          // and no swap instead (where swap is accounted)
          await (hierarchy.version === 1
            ? writeControl(dir, "memory.memsw.limit_in_bytes", limits.memoryBytes)
            : writeControl(dir, "memory.swap.max", 0)).catch(() => undefined)
        }
        controllers.add(controller)
      }
      dirs.push({ version: hierarchy.version, dir })
    } catch (_) {
      await Fs.rmdir(dir).catch(() => undefined)
    }
  }
  return dirs.length === 0 ? undefined : { dirs, controllers }
}

/**
 * Waits in real time, not on Effect's clock: it waits for processes to die, which a test clock
 * does not move.
 */
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * The processes in cgroup directories. Synchronous, like the other per-command cgroup operations:
 * cgroupfs answers from kernel memory in microseconds, and a trip through the threadpool would cost
 * more than the call (and wait behind whatever file operations fill the pool).
 */
const procsOf = (dirs: ReadonlyArray<CgroupDir>): Set<number> => {
  const pids = new Set<number>()
  for (const { dir } of dirs) {
    let text = ""
    try {
      text = FsSync.readFileSync(Path.join(dir, "cgroup.procs"), "utf8")
    } catch (_) {
      // removed already
    }
    for (const line of text.split("\n")) if (line !== "") pids.add(Number(line))
  }
  return pids
}

/**
 * Kills every process in the cgroup directories, again and again (a fork bomb refills them up to
 * its limit) until they are empty, then removes them.
 */
const drain = async (dirs: ReadonlyArray<CgroupDir>): Promise<void> => {
  for (let round = 0; round < 400; round++) {
    const pids = procsOf(dirs)
    if (pids.size === 0) break
    for (const { dir, version } of dirs) {
      // cgroup v2 (Linux 5.14+) kills the whole tree at once
      if (version === 2 && round === 0) {
        try {
          FsSync.writeFileSync(Path.join(dir, "cgroup.kill"), "1", { flag: "r+" })
        } catch (_) {
          // an older kernel: the signals below do it
        }
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL")
      } catch (_) {
        // ESRCH: already gone
      }
    }
    await pause(round < 20 ? 1 : 10)
  }
  for (const { dir } of dirs) {
    try {
      FsSync.rmdirSync(dir)
    } catch (_) {
      // EBUSY: something is left; closing the sandbox tries again
    }
  }
}

/** A command's own cgroup inside the sandbox's, so that exactly its processes can be killed. */
const commandCgroup = (cgroup: Cgroup): ReadonlyArray<CgroupDir> => {
  const name = `c${++cgroupCounter}`
  const dirs: Array<CgroupDir> = []
  try {
    for (const { dir, version } of cgroup.dirs) {
      const child = Path.join(dir, name)
      FsSync.mkdirSync(child)
      dirs.push({ version, dir: child })
    }
  } catch (cause) {
    for (const { dir } of dirs) {
      try {
        FsSync.rmdirSync(dir)
      } catch (_) {
        // closing the sandbox tries again
      }
    }
    throw cause
  }
  return dirs
}

/** Empties and removes a sandbox's cgroup and every command cgroup left in it. */
const closeCgroup = async (cgroup: Cgroup): Promise<void> => {
  const children = await Fs.readdir(cgroup.dirs[0]!.dir, { withFileTypes: true }).catch(() => [])
  for (const child of children) {
    if (child.isDirectory() && /^c\d+$/.test(child.name)) {
      await drain(cgroup.dirs.map(({ dir, version }) => ({ version, dir: Path.join(dir, child.name) })))
    }
  }
  await drain(cgroup.dirs)
}

let prlimitPath: Promise<string | undefined> | undefined
/** util-linux's `prlimit`, for RLIMIT_NPROC (whose `ulimit` letter differs between shells). */
const findPrlimit = (): Promise<string | undefined> => (prlimitPath ??= (async () => {
  for (const dir of ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    const candidate = Path.join(dir, "prlimit")
    if (await Fs.access(candidate, FsSync.constants.X_OK).then(() => true, () => false)) return candidate
  }
  return undefined
})())

/** The wrapper could not join the cgroup or set an rlimit (exit 125). */
const CONFINE_MARKER = "rath: cannot confine the command:"
/** The program to run does not exist (exit 127). */
const MISSING_PROGRAM_MARKER = "rath: no such program:"
/**
 * `sh -c WRAPPER rath <cgroup.procs files> -- <data KiB or -> <file blocks or -> <program> <args>`:
 * joins the command's cgroups, sets RLIMIT_DATA and RLIMIT_FSIZE with the shell's own `ulimit`
 * (POSIX: `-f` counts 512-byte blocks; `-d` counts KiB in dash, bash and busybox; both set the
 * soft and the hard limit), checks that the program exists (a missing one stays a `SpawnFailed`,
 * as without the wrapper), then becomes the program: one process, no fork, no other exec.
 */
const WRAPPER =
  `while [ "$1" != -- ]; do echo $$ > "$1" || { echo "${CONFINE_MARKER} cgroup $1" >&2; exit 125; }; shift; done
shift
if [ "$1" != - ]; then ulimit -d "$1" || { echo "${CONFINE_MARKER} RLIMIT_DATA" >&2; exit 125; }; fi
if [ "$2" != - ]; then ulimit -f "$2" || { echo "${CONFINE_MARKER} RLIMIT_FSIZE" >&2; exit 125; }; fi
shift 2
case $1 in
  */*) [ -f "$1" ] && [ -x "$1" ] ;;
  *) command -v "$1" >/dev/null 2>&1 ;;
esac || { echo "${MISSING_PROGRAM_MARKER} $1" >&2; exit 127; }
exec "$@"`

// -----------------------------------------------------------------------------
// processes
// -----------------------------------------------------------------------------

/** Marks the failure of `runCode` when the interpreter is missing. */
const MISSING_MARKER = "rath: interpreter not installed:"
const RUN_CODE_SCRIPT =
  `command -v "$0" >/dev/null 2>&1 || { echo "${MISSING_MARKER} $0" >&2; exit 127; }; exec "$0" "$@"`

const O_CLOEXEC = 0o2000000

/**
 * The descriptors of this process that a child would inherit: those without close-on-exec, which
 * Node never makes but may have been handed by whoever started it (a supervisor's pipe, a
 * directory). Read from `/proc/self/fdinfo`.
 */
const inheritable = (): Array<number> => {
  let fds: Array<string>
  try {
    fds = FsSync.readdirSync("/proc/self/fd")
  } catch (_) {
    return []
  }
  return fds.map(Number).filter((fd) => {
    if (!(fd > 2)) return false
    try {
      const flags = /flags:\s*([0-7]+)/.exec(FsSync.readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))
      return flags !== null && (Number.parseInt(flags[1]!, 8) & O_CLOEXEC) === 0
    } catch (_) {
      return false // closed meanwhile (the listing's own descriptor)
    }
  })
}

type Stdio = Array<"pipe" | "ignore" | number>

/**
 * stdin, stdout and stderr as pipes, and every inheritable descriptor replaced by `/dev/null` in
 * the child (libuv dup2s the given descriptor over that number), so nothing of the host's reaches
 * the command. Neither Node nor bubblewrap can close them for us (no `closefrom`, no
 * `--close-fds`), and "ignore" leaves a descriptor above 2 as it is.
 */
const stdioFor = (devNull: number): Stdio => {
  const stdio: Stdio = ["pipe", "pipe", "pipe"]
  for (const fd of inheritable()) {
    while (stdio.length < fd) stdio.push("ignore")
    stdio[fd] = devNull
  }
  return stdio
}

/**
 * Runs a launch as its own process group. On timeout or interruption the whole group is killed
 * with SIGKILL; when the command exits, what it left running in its group, and in its cgroup
 * (where there is one: that also catches processes that left the group with `setsid`), is killed
 * too, so no process outlives its command. Output past the cap is dropped, and
 * {@link DISCARD_LIMIT} bytes later the pipe is closed.
 */
const spawn = (
  launch: Launch,
  options: {
    readonly stdin?: string | Uint8Array | undefined
    readonly maxOutputBytes: number
    /** Kills what is left of the command after it exits (its cgroup). */
    readonly afterExit: () => Promise<void>
  }
): Effect.Effect<Omit<Sandbox.ExecResult, "elapsedMs">, Sandbox.SandboxError> =>
  Effect.async<Omit<Sandbox.ExecResult, "elapsedMs">, Sandbox.SandboxError>((resume) => {
    let child: ChildProcess.ChildProcess
    let devNull: number | undefined
    try {
      devNull = FsSync.openSync("/dev/null", "r")
      child = ChildProcess.spawn(launch.file, [...launch.args], {
        cwd: launch.cwd,
        env: launch.env,
        detached: true,
        stdio: stdioFor(devNull)
      })
    } catch (cause) {
      void options.afterExit().then(() =>
        resume(Effect.fail(new Sandbox.SandboxError({ reason: "SpawnFailed", detail: String(cause), cause })))
      )
      return
    } finally {
      if (devNull !== undefined) FsSync.closeSync(devNull)
    }
    let closed = false
    let truncated = false
    const collect = (stream: (NodeJS.ReadableStream & { destroy(): void }) | null) => {
      const chunks: Array<Buffer> = []
      let size = 0
      let discarded = 0
      stream?.on("data", (chunk: Buffer) => {
        const room = options.maxOutputBytes - size
        if (chunk.length <= room) {
          chunks.push(chunk)
          size += chunk.length
          return
        }
        truncated = true
        if (room > 0) {
          chunks.push(Buffer.from(chunk.subarray(0, room)))
          size += room
        }
        discarded += chunk.length - Math.max(room, 0)
        if (discarded > DISCARD_LIMIT) stream.destroy()
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
    // settled once what the command left behind is killed (see `afterExit`)
    let drained: Promise<void> = Promise.resolve()
    let grace: ReturnType<typeof setTimeout> | undefined
    child.on("error", (cause) => {
      if (closed) return
      closed = true
      void options.afterExit().then(() =>
        resume(
          Effect.fail(
            new Sandbox.SandboxError({
              reason: "SpawnFailed",
              detail: `could not start ${launch.file}: ${cause.message}`,
              cause
            })
          )
        )
      )
    })
    child.on("exit", () => {
      killGroup()
      drained = options.afterExit().then(() => {
        // whatever still holds the pipes escaped every kill (possible only without a cgroup): stop
        // waiting for it (a real-time timer: it waits for processes, not for the program's clock)
        grace = setTimeout(() => {
          child.stdout?.destroy()
          child.stderr?.destroy()
        }, PIPE_GRACE_MS)
      })
    })
    child.on("close", (code, signal) => {
      if (closed) return
      closed = true
      void drained.then(() => {
        clearTimeout(grace)
        resume(Effect.succeed({
          exitCode: code ?? (signal === null ? -1 : 128),
          ...(signal === null ? {} : { signal }),
          stdout: stdout(),
          stderr: stderr(),
          truncated
        }))
      })
    })
    child.stdin?.on("error", () => {
      // EPIPE: the command did not read its stdin; not an error of ours
    })
    if (options.stdin !== undefined) child.stdin?.end(toBytes(options.stdin))
    else child.stdin?.end()
    return Effect.async<void>((done) => {
      if (closed) return done(Effect.void)
      child.once("close", () => void drained.then(() => done(Effect.void)))
      child.once("error", () => done(Effect.void))
      killGroup()
    })
  })

// -----------------------------------------------------------------------------
// the handle
// -----------------------------------------------------------------------------

export interface HandleOptions {
  readonly placement: Placement.Placement
  /** The real path of the workspace directory. */
  readonly root: string
  /** Other absolute paths that name the workspace root (the given path, the in-sandbox mount). */
  readonly aliases: ReadonlyArray<string>
  readonly launch: (request: LaunchRequest) => Launch
  readonly limits: ResolvedLimits
  /**
   * Commands run in a user namespace of their own (bubblewrap), where RLIMIT_NPROC counts only
   * the sandbox's processes; elsewhere it counts every process of the host user, so it is not used.
   */
  readonly ownUserNamespace: boolean
  /** Refuse regular files with more than one hard link (the local backend). */
  readonly refuseHardLinks: boolean
  /** The backend gives commands a private `/tmp` of `limits.tmpBytes` (bubblewrap). */
  readonly sizedTmp: boolean
}

const openRoot = (root: string): Effect.Effect<Fs.FileHandle, Sandbox.SandboxError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const handle = await Fs.open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW)
        // the file API walks /proc/self/fd (see the top of this file)
        await Fs.access(self(handle)).catch(async (cause: unknown) => {
          await handle.close()
          return Promise.reject(cause)
        })
        return handle
      },
      catch: (cause) =>
        new Sandbox.SandboxError({
          reason: "StartFailed",
          detail: "could not open the workspace (the file API needs Linux's /proc)",
          path: root,
          cause
        })
    }),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

const enforcement = (
  limit: number,
  by: ReadonlyArray<Sandbox.Enforcement | false>
): Sandbox.AppliedLimit => ({
  limit,
  enforcedBy: Number.isFinite(limit) ? by.find((x): x is Sandbox.Enforcement => x !== false) ?? "none" : "none"
})

/** Builds a handle over a host workspace directory; `launch` says how commands start. */
export const makeHandle = (options: HandleOptions): Effect.Effect<Sandbox.Handle, Sandbox.SandboxError, Scope.Scope> =>
  Effect.gen(function*() {
    const { limits } = options
    const root: Root = { path: options.root, aliases: options.aliases, handle: yield* openRoot(options.root) }
    const files = makeFiles(root, { refuseHardLinks: options.refuseHardLinks })
    const prlimit = yield* Effect.promise(() => findPrlimit().catch(() => undefined))
    const cgroup = yield* Effect.acquireRelease(
      Effect.promise(() => openCgroup(limits).catch(() => undefined)),
      (cgroup) => cgroup === undefined ? Effect.void : Effect.promise(() => closeCgroup(cgroup).catch(() => undefined))
    )
    const byCgroup = (controller: Controller) => cgroup?.controllers.has(controller) === true && "cgroup"
    // root is exempt from RLIMIT_NPROC, in a user namespace too (the kernel checks the host uid)
    const nprocInside = options.ownUserNamespace && process.getuid?.() !== 0 && prlimit !== undefined &&
      Number.isFinite(limits.processes) && byCgroup("pids") === false
    const applied: Sandbox.AppliedLimits = {
      processes: enforcement(limits.processes, [byCgroup("pids"), nprocInside && "rlimit"]),
      memoryBytes: enforcement(limits.memoryBytes, [byCgroup("memory"), "rlimit"]),
      fileBytes: enforcement(limits.fileBytes, ["rlimit"]),
      ...(options.sizedTmp ? { tmpBytes: enforcement(limits.tmpBytes, ["tmpfs"]) } : {})
    }
    // RLIMIT_DATA (not RLIMIT_AS, which V8's address-space reservations exceed) and RLIMIT_FSIZE
    const dataKiB = Number.isFinite(limits.memoryBytes) ? String(Math.floor(limits.memoryBytes / 1024)) : "-"
    const fileBlocks = Number.isFinite(limits.fileBytes) ? String(Math.floor(limits.fileBytes / 512)) : "-"
    const confine = (launch: Launch, dirs: ReadonlyArray<CgroupDir>): Launch =>
      dirs.length === 0 && dataKiB === "-" && fileBlocks === "-" ? launch : {
        ...launch,
        file: "/bin/sh",
        args: [
          "-c",
          WRAPPER,
          "rath",
          ...dirs.map(({ dir }) => Path.join(dir, "cgroup.procs")),
          "--",
          dataKiB,
          fileBlocks,
          launch.file,
          ...launch.args
        ]
      }
    const commandDirs: Effect.Effect<ReadonlyArray<CgroupDir>, Sandbox.SandboxError> = cgroup === undefined
      ? Effect.succeed([])
      : Effect.try({
        try: () => commandCgroup(cgroup),
        catch: (cause) =>
          new Sandbox.SandboxError({ reason: "SpawnFailed", detail: "could not make the command's cgroup", cause })
      })

    const exec = (exec: Sandbox.ExecOptions): Effect.Effect<Sandbox.ExecResult, Sandbox.SandboxError> =>
      Effect.gen(function*() {
        const cwd = yield* files.directory(exec.cwd ?? ".")
        const argv = typeof exec.command === "string" ? ["sh", "-c", exec.command] : exec.command
        if (argv.length === 0) {
          return yield* new Sandbox.SandboxError({ reason: "SpawnFailed", detail: "an empty command" })
        }
        const launch = options.launch({
          argv: nprocInside ? [prlimit!, `--nproc=${limits.processes}`, "--", ...argv] : argv,
          cwd,
          env: exec.env ?? {}
        })
        const timeout = exec.timeout === undefined ? DEFAULT_TIMEOUT : Duration.decode(exec.timeout)
        const started = yield* Clock.currentTimeMillis
        const result = yield* Effect.acquireUseRelease(
          commandDirs,
          (dirs) =>
            spawn(confine(launch, dirs), {
              stdin: exec.stdin,
              maxOutputBytes: exec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
              afterExit: () => dirs.length === 0 ? Promise.resolve() : drain(dirs)
            }).pipe(
              Effect.timeoutFail({
                duration: timeout,
                onTimeout: () =>
                  new Sandbox.SandboxError({
                    reason: "Timeout",
                    detail: `the command did not finish within ${Duration.format(timeout)}; its processes were killed`
                  })
              })
            ),
          (dirs) => dirs.length === 0 ? Effect.void : Effect.promise(() => drain(dirs))
        )
        if (result.exitCode === 127 && result.stderr.startsWith(MISSING_PROGRAM_MARKER)) {
          return yield* new Sandbox.SandboxError({
            reason: "SpawnFailed",
            detail: `could not start ${launch.file}: not found or not executable`
          })
        }
        if (result.exitCode === 125 && result.stderr.startsWith(CONFINE_MARKER)) {
          return yield* new Sandbox.SandboxError({ reason: "SpawnFailed", detail: result.stderr.trim() })
        }
        const finished = yield* Clock.currentTimeMillis
        return { ...result, elapsedMs: finished - started }
      }).pipe(Effect.withSpan("Sandbox.exec", { attributes: { "rath.sandbox": Placement.label(options.placement) } }))

    return {
      placement: options.placement,
      workspace: options.root,
      limits: applied,
      resolve: files.resolve,
      readBytes: files.readBytes,
      readText: (path, readOptions) =>
        Effect.map(files.readBytes(path, readOptions), (bytes) => Buffer.from(bytes).toString("utf8")),
      write: files.write,
      list: files.list,
      exists: files.exists,
      stat: files.stat,
      edit: files.edit,
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
    } satisfies Sandbox.Handle
  })

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
    : Effect.flatMap(FileSystem.FileSystem, (fs) =>
      // `makeTempDirectoryScoped` removes without `force`: a command that deleted its own
      // workspace (the local backend lets it) would make the release fail with ENOENT, a defect
      Effect.acquireRelease(
        fs.makeTempDirectory({ prefix: "rath-sbx-" }),
        (dir) => Effect.orDie(fs.remove(dir, { recursive: true, force: true }))
      ).pipe(Effect.flatMap(fs.realPath), Effect.map((root) => ({ root, given: undefined })))).pipe(
        Effect.mapError((cause) =>
          new Sandbox.SandboxError({ reason: "StartFailed", detail: "could not create a temporary workspace", cause })
        ),
        Effect.provide(NodeFileSystem.layer)
      )

/** The placement a handle reports: the key placement with the workspace it really uses. */
export const withWorkspace = (placement: Placement.Placement, workspace: string): Placement.Placement =>
  Placement.make({ backend: placement.backend, id: placement.id, workspace, network: placement.network })
