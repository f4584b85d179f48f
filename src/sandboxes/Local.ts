/**
 * The `local` sandbox backend: a directory on the host. The file API is confined to it (`..`,
 * absolute paths outside it and symlinks that resolve outside are refused, with no race between
 * the check and the use; files with more than one hard link are refused, since a command can link
 * a file from outside into the workspace), but commands run as the current user with the host's
 * view of the system: it confines file operations, not processes. Use `BwrapSandbox` to isolate
 * commands. Commands inherit only a few variables of this process's environment (`PATH`, `HOME`,
 * locale, ...; see {@link INHERITED_ENV}), yet they can still read this process's own environment
 * in `/proc/<pid>/environ`, its memory and the user's files: docs/sandbox.md lists what `local`
 * does not protect.
 *
 * Commands get resource limits (processes, memory, file size: {@link Options.limits}); where this
 * process may make cgroups each sandbox gets one, which also kills whatever a command left
 * running, `setsid` children included.
 *
 * A placement that names a workspace uses that directory (created when missing, kept on
 * release), so a persisted session reopens the same files after a restart; a placement without
 * one gets a temporary directory, removed when its handle is released.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Path from "node:path"
import * as Workspace from "../internal/workspace.js"
import * as Sandbox from "../Sandbox.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The backend name placements use (default `"local"`). */
  readonly name?: string | undefined
  /**
   * The environment commands start from; the `env` of each command is added on top. Default:
   * only {@link INHERITED_ENV} of this process's environment, so that commands a model asks for
   * never see the host's API keys and tokens.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Resource limits of the commands (defaults in docs/sandbox.md; `Infinity` lifts one). */
  readonly limits?: Sandbox.Limits | undefined
}

/**
 * The variables of this process's environment that commands inherit by default.
 *
 * @since 0.1.0
 * @category models
 */
export const INHERITED_ENV: ReadonlyArray<string> = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LC_ALL",
  "LC_CTYPE",
  "TERM",
  "TZ",
  "TMPDIR"
]

// read through Effect's `Config` (so a test's ConfigProvider decides what commands inherit)
const inherited: Effect.Effect<Record<string, string | undefined>> = Effect.orDie(
  Config.all(INHERITED_ENV.map((key) => Config.option(Config.string(key))))
).pipe(
  Effect.map((values) => Object.fromEntries(INHERITED_ENV.map((key, i) => [key, Option.getOrUndefined(values[i]!)])))
)

/**
 * @since 0.1.0
 * @category constructors
 */
export const backend = (options: Options = {}): Sandbox.Backend => {
  const name = options.name ?? "local"
  return {
    name,
    open: (placement) =>
      Effect.gen(function*() {
        const limits = yield* Workspace.resolveLimits(options.limits)
        const { given, root } = yield* Workspace.acquireWorkspace(placement)
        const env = options.env === undefined ? yield* inherited : options.env
        const baseEnv: Record<string, string> = {}
        for (const [key, value] of Object.entries(env)) {
          if (value !== undefined) baseEnv[key] = value
        }
        return yield* Workspace.makeHandle({
          placement: Workspace.withWorkspace(placement, given ?? root),
          root,
          aliases: given === undefined ? [] : [given],
          launch: ({ argv, cwd, env }) => ({
            file: argv[0]!,
            args: argv.slice(1),
            env: { ...baseEnv, ...env },
            cwd: cwd === "." ? root : Path.join(root, cwd)
          }),
          limits,
          ownUserNamespace: false,
          refuseHardLinks: true,
          sizedTmp: false
        })
      })
  }
}

/**
 * The `Sandbox` service with the local backend only.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options & { readonly idleTimeToLive?: Sandbox.Options["idleTimeToLive"] } = {}
): Layer.Layer<Sandbox.Sandbox> =>
  Sandbox.layer({ backends: [backend(options)], idleTimeToLive: options.idleTimeToLive })
