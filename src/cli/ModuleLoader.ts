/**
 * How the CLI imports a user's module (`rath replay --workflow`, `rath eval run --workflow`): one
 * loader, so a `.ts` module loads the same way under plain Node everywhere.
 *
 * @since 0.2.0
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import { CliError, messageOf, oneLine } from "./CliError.js"

/** What the help of a `--workflow` option says about TypeScript modules. */
export const tsxHint = "a .ts module loads through tsx when it is installed (npm install --save-dev tsx)"

const isTypeScript = (file: string) => /\.[cm]?tsx?$/.test(file)

/**
 * Imports a workflow module. Plain Node cannot import a `.ts` file (before its type stripping): then
 * the module goes through tsx's `tsImport` when tsx is installed, and otherwise the error says what
 * to install. Under tsx (or a Node that strips types) the plain import already works.
 */
const importModule = (file: string, href: string) =>
  Effect.tryPromise({
    try: () => import(href) as Promise<Record<string, unknown>>,
    catch: (cause) => cause
  }).pipe(
    Effect.catchIf(
      (cause) => isTypeScript(file) && (cause as { code?: unknown } | null)?.code === "ERR_UNKNOWN_FILE_EXTENSION",
      () =>
        Effect.tryPromise({
          // a variable specifier: tsx is a development dependency, absent from an installed rath
          try: () => import(tsxApi) as Promise<{ tsImport: (url: string, parent: string) => Promise<unknown> }>,
          catch: () => "no-tsx" as const
        }).pipe(
          Effect.flatMap((api) =>
            Effect.tryPromise({
              try: () => api.tsImport(href, import.meta.url) as Promise<Record<string, unknown>>,
              catch: (cause) => cause
            })
          )
        )
    ),
    Effect.mapError((cause) =>
      new CliError({
        reason: cause === "no-tsx" ? "Unavailable" : "InvalidData",
        detail: cause === "no-tsx"
          ? `cannot load ${file}: this Node (${process.version}) cannot import TypeScript by itself: ` +
            "install tsx next to rath (npm install --save-dev tsx) and run again, use Node 22.18 or newer, " +
            "or compile the module to .js"
          : `cannot load ${file}: ${oneLine(messageOf(cause))}`,
        cause
      })
    )
  )

const tsxApi = "tsx/esm/api"

/**
 * Imports the module at `file` (relative to the working directory): a typed `NotFound` when it
 * does not exist, and `.ts` modules through {@link importModule}'s fallback.
 */
export const importFile = (file: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const absolute = path.resolve(file)
    const exists = yield* fs.exists(absolute).pipe(
      Effect.mapError((cause) => new CliError({ reason: "Io", detail: `cannot read ${file}: ${cause.message}`, cause }))
    )
    if (!exists) {
      return yield* new CliError({
        reason: "NotFound",
        detail: `module ${file} does not exist: pass the path of a .ts, .mjs or .js file that exports \`workflow\``
      })
    }
    const url = yield* path.toFileUrl(absolute).pipe(
      Effect.mapError((cause) => new CliError({ reason: "Usage", detail: `${file}: ${cause.message}`, cause }))
    )
    return yield* importModule(file, url.href)
  })
