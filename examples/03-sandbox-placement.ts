/**
 * 03 — sandbox placement: a session says where its tools run. `Sandbox.place` binds it to a
 * sandbox (`local`: a host directory; `bwrap`: bubblewrap with a read-only system, no network and
 * the workspace as the only writable place) and records a `Placement` entry; the first
 * `Sandbox.handleFor(session)` opens the sandbox. The same commands run in both, and each sees
 * only its own files: file operations are confined to the workspace in both backends, but a
 * `local` command sees the host (use `bwrap` for commands you do not trust). The placement is
 * data: it survives a JSONL round trip.
 *
 * Needs no model. The bwrap half needs bubblewrap (`apt-get install -y bubblewrap`); without it
 * the example says so and runs the local half only.
 *
 *   npx tsx examples/03-sandbox-placement.ts
 *
 * @expect placed on local:sbx_\w+ \(Placement entry: backend local\)
 * @expect \[local\] ls -> only-local\.txt
 * @expect after JSONL round trip: placement local:sbx_\w+, Placement entries 1, equal: true
 * @expect \[bwrap\] ls -> only-bwrap\.txt|bubblewrap is not installed
 * @expect \[bwrap\] network interfaces -> lo\n|bubblewrap is not installed
 * @expect \[bwrap\] /usr -> read-only|bubblewrap is not installed
 * @expect \[local\] readText of the other sandbox's file -> refused \(PathEscape\)|bubblewrap is not installed
 * @expect \[bwrap\] readText of the other sandbox's file -> refused \(PathEscape\)|bubblewrap is not installed
 * @expect \[bwrap\] cat of the other sandbox's file -> exit 1 \(not there\)|bubblewrap is not installed
 */
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Effect, Equal, Option } from "effect"
import * as Path from "node:path"
import { BwrapSandbox, Entry, LocalSandbox, Placement, Sandbox, Session } from "rath"

// the same commands, whichever sandbox runs them
const commands = [
  ["ls", "ls"],
  ["whoami", "id -u"],
  ["/usr", "test -w /usr && echo writable || echo read-only"],
  // /proc/net/dev lists the interfaces of the sandbox's network namespace
  ["network interfaces", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '"]
] as const

// runs the commands in an open sandbox, then reaches for the other sandbox's file by its host path
const tour = (handle: Sandbox.Handle, other: string | undefined) =>
  Effect.gen(function*() {
    const label = handle.placement.backend
    for (const [name, command] of commands) {
      const result = yield* handle.exec({ command, timeout: "10 seconds" })
      console.log(`[${label}] ${name} -> ${result.stdout.trim()}`)
    }
    if (other === undefined) return
    // file operations are confined to the workspace in every backend
    const read = yield* Effect.either(handle.readText(other))
    console.log(
      `[${label}] readText of the other sandbox's file -> ${
        read._tag === "Left" ? `refused (${read.left.reason})` : `read ${JSON.stringify(read.right.trim())}`
      }`
    )
    // processes: `local` runs them with the host's view, `bwrap` with its own
    const cat = yield* handle.exec({ command: ["cat", other] })
    console.log(
      `[${label}] cat of the other sandbox's file -> exit ${cat.exitCode}${
        cat.exitCode === 0 ? ` ${JSON.stringify(cat.stdout.trim())}` : " (not there)"
      }`
    )
  })

// opens a session's sandbox (released when the caller's scope closes) and writes a file in it
const open = (session: Session.Session, file: string) =>
  Effect.gen(function*() {
    const handle = yield* Sandbox.handleFor(session)
    console.log(`[${handle.placement.backend}] opened ${Placement.label(handle.placement)} at ${handle.workspace}`)
    yield* handle.write(file, `written in ${Placement.label(handle.placement)}\n`)
    return handle
  })

const placementEntries = (session: Session.Session) =>
  Chunk.toReadonlyArray(Session.entries(session)).filter(Entry.is("Placement"))

const program = Effect.gen(function*() {
  const task = yield* Session.fromUserMessage("Run the build.")

  // local: opens nothing yet; gives the placement an id and records a Placement entry
  const local = yield* Sandbox.place(task, Placement.make({ backend: "local" }))
  const recorded = placementEntries(local)[0]!
  console.log(
    `placed on ${
      Option.getOrThrow(Option.map(local.placement, Placement.label))
    } (Placement entry: backend ${recorded.placement.backend})`
  )

  // the placement is data in the session: write it out, read it back
  const { session: reloaded } = yield* Session.fromJsonl(Session.toJsonl(local))
  console.log(
    `after JSONL round trip: placement ${Option.getOrThrow(Option.map(reloaded.placement, Placement.label))}, `
      + `Placement entries ${placementEntries(reloaded).length}, equal: ${
        Equal.equals(reloaded.placement, local.placement)
      }`
  )

  // bwrap: the same session, placed on an isolated sandbox instead
  const installed = yield* BwrapSandbox.isInstalled()
  const isolated = installed ? yield* Sandbox.place(task, Placement.make({ backend: "bwrap" })) : undefined
  if (isolated === undefined) {
    console.log(`[bwrap] bubblewrap is not installed; ${BwrapSandbox.INSTALL_HINT} (running the local half only)`)
  } else {
    console.log(`placed on ${Option.getOrThrow(Option.map(isolated.placement, Placement.label))}`)
  }

  // both sandboxes open at once, each with a file of its own, the same commands in each
  yield* Effect.scoped(Effect.gen(function*() {
    const localHandle = yield* open(local, "only-local.txt")
    const bwrapHandle = isolated === undefined ? undefined : yield* open(isolated, "only-bwrap.txt").pipe(
      Effect.catchIf(
        (error) => error.reason === "Unavailable",
        (error) => Effect.as(Effect.sync(() => console.log(`[bwrap] cannot run here: ${error.message}`)), undefined)
      )
    )
    const hostPath = (handle: Sandbox.Handle | undefined, file: string) =>
      handle === undefined ? undefined : Path.join(handle.workspace, file)
    yield* tour(localHandle, hostPath(bwrapHandle, "only-bwrap.txt"))
    if (bwrapHandle !== undefined) yield* tour(bwrapHandle, hostPath(localHandle, "only-local.txt"))
  }))
})

program.pipe(
  Effect.provide(Sandbox.layer({ backends: [LocalSandbox.backend(), BwrapSandbox.backend()], idleTimeToLive: 0 })),
  NodeRuntime.runMain
)
