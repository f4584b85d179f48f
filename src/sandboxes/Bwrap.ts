/**
 * The `bwrap` sandbox backend: commands run under bubblewrap with a read-only view of the
 * system (`/usr`, `/etc`), a private `/tmp`, the workspace mounted at `/ws` as the only writable
 * place, no network unless the placement sets `network: true`, every capability dropped, uid
 * 1000 inside a user namespace (it maps to the host uid rath runs as: under root, root outside),
 * and the whole sandbox killed when its command is (`--die-with-parent`, its own PID namespace).
 * What under `/etc` not everyone may read (`/etc/shadow` and its backup `/etc/shadow-`, `gshadow`,
 * `sudoers`, `/etc/ssl/private`, ...) is hidden, no descriptor of the host process reaches the
 * command, and commands get resource limits ({@link Options.limits}; a cgroup per sandbox where
 * this process may make one, rlimits, and a sized `/tmp`).
 *
 * Files are read and written from the host side with the same race-free confinement as the local
 * backend, so a symlink planted (or swapped in) by a command cannot lead a file operation outside
 * the workspace. Hard links are no way out here: the command sees no host file it could link
 * (a link cannot cross the mounts it sees), so unlike `local` they are not refused.
 *
 * Needs bubblewrap: `apt-get install -y bubblewrap`. Opening a handle when it is missing (or
 * cannot create namespaces here) fails with reason `Unavailable` and says so.
 *
 * @since 0.1.0
 */
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Command from "@effect/platform/Command"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as FsPromises from "node:fs/promises"
import * as Path from "node:path"
import * as Workspace from "../internal/workspace.js"
import * as Sandbox from "../Sandbox.js"

/**
 * Where the workspace is mounted inside the sandbox.
 *
 * @since 0.1.0
 * @category models
 */
export const MOUNT = "/ws"

/**
 * @since 0.1.0
 * @category models
 */
export const INSTALL_HINT = "install bubblewrap: apt-get install -y bubblewrap"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The backend name placements use (default `"bwrap"`). */
  readonly name?: string | undefined
  /** The bubblewrap executable (default `"bwrap"` on the PATH). */
  readonly executable?: string | undefined
  /** `PATH` inside the sandbox. */
  readonly path?: string | undefined
  /** Resource limits of the commands (defaults in docs/sandbox.md; `Infinity` lifts one). */
  readonly limits?: Sandbox.Limits | undefined
}

/** Secrets hidden whatever their mode (root's backups among them). */
const SECRETS = ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers"]

/**
 * What under `/etc` is not readable by everyone: the sandbox's uid maps to rath's own (root in CI),
 * so permissions alone would not keep it from these; they are hidden instead (files by an empty
 * read-only bind, directories by an empty read-only tmpfs).
 */
const privateUnderEtc = async (): Promise<{ readonly files: Array<string>; readonly dirs: Array<string> }> => {
  const files = new Set(SECRETS.filter((secret) => Fs.existsSync(secret)))
  const dirs: Array<string> = []
  const visit = async (dir: string, depth: number): Promise<void> => {
    const entries = await FsPromises.readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      if (entry.isSymbolicLink()) continue
      const path = Path.join(dir, entry.name)
      const stat = await FsPromises.lstat(path).catch(() => undefined)
      if (stat === undefined) continue
      const readable = (stat.mode & 0o004) !== 0
      if (stat.isDirectory()) {
        if (!readable || (stat.mode & 0o001) === 0) dirs.push(path)
        else if (depth < 8) await visit(path, depth + 1)
      } else if (!readable) {
        files.add(path)
      }
    }
  }
  await visit("/etc", 0)
  return { files: Array.from(files).sort(), dirs: dirs.sort() }
}

const systemBinds = async (
  hidden: { readonly files: ReadonlyArray<string>; readonly dirs: ReadonlyArray<string> },
  tmpBytes: number
): Promise<Array<string>> => {
  const args = ["--ro-bind", "/usr", "/usr"]
  for (const dir of ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]) {
    const host = `/${dir}`
    let stat: Fs.Stats | undefined
    try {
      stat = Fs.lstatSync(host)
    } catch (_) {
      continue
    }
    if (stat.isSymbolicLink()) args.push("--symlink", Fs.readlinkSync(host), host)
    else if (stat.isDirectory()) args.push("--ro-bind", host, host)
  }
  args.push("--ro-bind", "/etc", "/etc")
  for (const file of hidden.files) args.push("--ro-bind", "/dev/null", file)
  for (const dir of hidden.dirs) args.push("--tmpfs", dir, "--remount-ro", dir)
  args.push("--dev", "/dev", "--proc", "/proc")
  if (Number.isFinite(tmpBytes)) args.push("--size", String(tmpBytes))
  args.push("--tmpfs", "/tmp")
  return args
}

/**
 * Whether bubblewrap is installed (on the PATH, or at the given executable).
 *
 * @since 0.1.0
 * @category getters
 */
export const isInstalled = (executable = "bwrap"): Effect.Effect<boolean> =>
  // a probe outside any sandbox: the platform's Command (the sandboxed commands themselves are
  // spawned by internal/workspace, which says why it cannot use Command)
  Command.exitCode(Command.make(executable, "--version")).pipe(
    Effect.map((code) => code === 0),
    Effect.orElseSucceed(() => false),
    Effect.provide(Layer.provide(NodeCommandExecutor.layer, NodeFileSystem.layer))
  )

/**
 * @since 0.1.0
 * @category constructors
 */
export const backend = (options: Options = {}): Sandbox.Backend => {
  const name = options.name ?? "bwrap"
  const executable = options.executable ?? "bwrap"
  const path = options.path ?? "/usr/local/bin:/usr/bin:/bin"
  // found once per backend, when it first opens a sandbox
  let hidden: ReturnType<typeof privateUnderEtc> | undefined
  return {
    name,
    open: (placement) =>
      Effect.gen(function*() {
        const limits = yield* Workspace.resolveLimits(options.limits)
        const { given, root } = yield* Workspace.acquireWorkspace(placement)
        const system = yield* Effect.promise(async () =>
          systemBinds(await (hidden ??= privateUnderEtc()), limits.tmpBytes)
        )
        const handle = yield* Workspace.makeHandle({
          placement: Workspace.withWorkspace(placement, given ?? root),
          root,
          aliases: given === undefined ? [MOUNT] : [given, MOUNT],
          launch: ({ argv, cwd, env }) => {
            const args = [
              ...system,
              "--bind",
              root,
              MOUNT,
              "--chdir",
              cwd === "." ? MOUNT : Path.posix.join(MOUNT, cwd),
              "--unshare-all",
              ...(placement.network === true ? ["--share-net"] : []),
              "--cap-drop",
              "ALL",
              "--uid",
              "1000",
              "--gid",
              "1000",
              "--hostname",
              "sandbox",
              "--die-with-parent",
              "--new-session",
              "--clearenv",
              "--setenv",
              "PATH",
              path,
              "--setenv",
              "HOME",
              MOUNT
            ]
            for (const [key, value] of Object.entries(env)) args.push("--setenv", key, value)
            args.push("--", ...argv)
            return { file: executable, args, env: { PATH: path }, cwd: root }
          },
          limits,
          ownUserNamespace: true,
          refuseHardLinks: false,
          sizedTmp: true
        })
        // a probe: bubblewrap present and able to build its namespaces here
        const probe = yield* handle.exec({ command: ["true"], timeout: "10 seconds" }).pipe(
          Effect.mapError((cause) =>
            new Sandbox.SandboxError({
              reason: "Unavailable",
              detail: cause.reason === "SpawnFailed"
                ? `bubblewrap (${executable}) is not installed; ${INSTALL_HINT}`
                : `bubblewrap did not start: ${cause.message}`,
              cause
            })
          )
        )
        if (probe.exitCode !== 0) {
          return yield* new Sandbox.SandboxError({
            reason: "Unavailable",
            detail: `bubblewrap cannot create a sandbox here (exit ${probe.exitCode}): ${probe.stderr.trim()}`
          })
        }
        return handle
      })
  }
}

/**
 * The `Sandbox` service with the bubblewrap backend only.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options & { readonly idleTimeToLive?: Sandbox.Options["idleTimeToLive"] } = {}
): Layer.Layer<Sandbox.Sandbox> =>
  Sandbox.layer({ backends: [backend(options)], idleTimeToLive: options.idleTimeToLive })
