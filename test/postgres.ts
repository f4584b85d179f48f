/**
 * A real PostgreSQL server for the tests that need one: `initdb` into a temporary directory,
 * started on a free port on 127.0.0.1 (as the `postgres` user when the tests run as root, since
 * PostgreSQL refuses to run as root), torn down with the scope that started it.
 *
 * Outside CI, tests that need it skip with a message saying how to install it (`skipPostgres`);
 * under `CI=true` a missing server fails the test instead (`.ci/run` installs it with apt).
 */
import { Duration, Effect, Schedule, type Scope } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { createServer, Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** The directory holding `initdb` and `postgres`, or undefined when PostgreSQL is not installed. */
export const postgresBin: string | undefined = (() => {
  const root = "/usr/lib/postgresql"
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root).filter((name) => existsSync(join(root, name, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length > 0 ? join(root, versions[0]!, "bin") : undefined
})()

/** What to install when PostgreSQL is missing, for the skip message. */
export const postgresInstallHint = "apt-get install -y postgresql"

/** True when the Postgres tests must skip: no server installed and not in CI. */
export const skipPostgres = postgresBin === undefined && process.env.CI === undefined
if (skipPostgres) {
  console.warn(`PostgreSQL tests skipped: PostgreSQL is not installed (${postgresInstallHint})`)
}

/** A running test server. */
export interface Postgres {
  /** `postgres://rath@127.0.0.1:<port>/rath` (trust authentication on loopback, no password). */
  readonly url: string
  readonly port: number
  readonly dataDir: string
}

/** A port that was free a moment ago on 127.0.0.1. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const isRoot = typeof process.getuid === "function" && process.getuid() === 0

/** PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user. */
const asUser: { readonly uid?: number; readonly gid?: number } = (() => {
  if (!isRoot) return {}
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim())
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim())
  return { uid, gid }
})()

const accepts = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const socket = new Socket()
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => {
      socket.destroy()
      resume(Effect.succeed(false))
    })
    socket.connect(port, "127.0.0.1")
  })

const stop = (child: ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    // SIGINT is PostgreSQL's "fast shutdown": roll back open transactions, exit at once
    child.kill("SIGINT")
  }).pipe(
    Effect.timeout(Duration.seconds(10)),
    Effect.catchAll(() => Effect.sync(() => child.kill("SIGKILL")))
  )

/**
 * Starts a fresh PostgreSQL server in a temporary directory, with a database `rath` owned by
 * the role `rath`, and stops it (and removes the directory) when the scope closes.
 */
export const startPostgres: Effect.Effect<Postgres, Error, Scope.Scope> = Effect.gen(function*() {
  const bin = postgresBin
  if (bin === undefined) {
    return yield* Effect.fail(new Error(`PostgreSQL is not installed (${postgresInstallHint})`))
  }
  const base = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "rath-pg-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const dataDir = join(base, "data")
  yield* Effect.try({
    try: () => {
      chmodSync(base, 0o755)
      if (asUser.uid !== undefined) chownSync(base, asUser.uid, asUser.gid!)
      execFileSync(join(bin, "initdb"), [
        "-D",
        dataDir,
        "-U",
        "rath",
        "--auth=trust",
        "--encoding=UTF8",
        "--no-sync"
      ], { stdio: "pipe", ...asUser })
    },
    catch: (cause) => new Error(`initdb failed: ${String(cause)}`)
  })
  const port = yield* freePort
  const args = [
    "-D",
    dataDir,
    "-p",
    String(port),
    "-k",
    base,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "max_connections=200",
    // the tests kill runners, not the database: durability of the server itself is not under test
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off"
  ]
  const child = yield* Effect.acquireRelease(
    Effect.sync(() => spawn(join(bin, "postgres"), args, { stdio: ["ignore", "ignore", "pipe"], ...asUser })),
    stop
  )
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  // wait until it accepts connections (a few hundred ms), or fail with what it printed
  for (let attempt = 0;; attempt++) {
    if (child.exitCode !== null) {
      return yield* Effect.fail(new Error(`postgres exited with ${child.exitCode}: ${stderr}`))
    }
    if (yield* accepts(port)) break
    if (attempt > 300) return yield* Effect.fail(new Error(`postgres did not start in 30 s: ${stderr}`))
    yield* Effect.sleep(Duration.millis(100))
  }
  // a port that accepts may still answer "the database system is starting up": retry briefly
  yield* Effect.try({
    try: () =>
      execFileSync(join(bin, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "rath", "rath"], {
        stdio: "pipe",
        ...asUser
      }),
    catch: (cause) => new Error(`createdb failed: ${String(cause)}`)
  }).pipe(Effect.retry({ times: 50, schedule: Schedule.spaced(Duration.millis(100)) }))
  return { url: `postgres://rath@127.0.0.1:${port}/rath`, port, dataDir }
})
