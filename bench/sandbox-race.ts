/**
 * The sandbox race, at scale: one command inside the sandbox swaps a workspace directory for a
 * symlink to a host directory and back, `rounds` times (default 1,500), while two fibers call the
 * built-in file tools (`read_file`, `write_file` on an existing and a new file, `list_files`,
 * `edit_file`, `file_exists`) on paths under it, as long as the swapping runs. Outside the
 * workspace a canary directory holds `f.txt` ("CANARY") and `CANARY-marker`. Counted per backend: the swap rounds
 * done, the tool calls made (per tool, and how they ended), and the canary violations: a read
 * that returned the canary's content, a listing that showed the canary directory, a change to the
 * canary file, a file created in the canary directory.
 *
 *     node --import tsx bench/sandbox-race.ts [rounds=1500] [local|bwrap ...]
 *
 * Not a `.bench.ts` file, so `npm run bench` does not run it. Prints one JSON line per backend.
 */
import { Effect, Ref } from "effect"
import * as ChildProcess from "node:child_process"
import { Builtin, BwrapSandbox, LocalSandbox, Placement, Sandbox, Session, Tool } from "../src/index.js"
import { CALLS, canaryViolations, makeCanary, swapper } from "../test/fixtures/sandbox-race.js"

const rounds = Number(process.argv[2] ?? 1500)
const asked = process.argv.slice(3)
const bwrap = ChildProcess.spawnSync("bwrap", ["--version"]).status === 0
const backends = (asked.length > 0 ? asked : ["local", "bwrap"]).filter((name) => name !== "bwrap" || bwrap)

let callId = 0
const call = (name: string, args: unknown) => ({ id: `c${++callId}`, name, arguments: JSON.stringify(args) })

const race = (backend: string) =>
  Effect.gen(function*() {
    const canary = makeCanary()
    const session = yield* Session.fromUserMessage("race").pipe(
      Effect.flatMap((s) => Sandbox.place(s, Placement.make({ backend })))
    )
    const handle = yield* Sandbox.handleFor(session) // one sandbox for the whole race
    yield* handle.write("d/f.txt", "inside")
    const done = yield* Ref.make(false)
    const counts: Record<string, Record<string, number>> = {}
    const violations: Array<string> = []
    const victim = Effect.gen(function*() {
      while (!(yield* Ref.get(done))) {
        for (const { arguments: args, name } of CALLS) {
          const outcome = yield* Tool.run(Builtin.files, call(name, args), { session })
          const how = outcome.error === undefined
            ? "ok"
            : /^(\w+):/.exec(outcome.error.message.replace(/^.*?(\w+): /, "$1: "))?.[1] ?? outcome.error.kind
          const perTool = (counts[name] ??= {})
          perTool[how] = (perTool[how] ?? 0) + 1
          const text = JSON.stringify(outcome.output ?? "")
          // the canary's content, or its directory's listing
          if (text.includes("CANARY")) violations.push(`${name} reached the canary: ${text.slice(0, 80)}`)
        }
      }
    })
    const attacker = Effect.ensuring(
      handle.exec({ command: swapper(rounds, canary.dir), timeout: "20 minutes" }),
      Ref.set(done, true)
    )
    const started = performance.now()
    const [attack] = yield* Effect.all([attacker, victim, victim], { concurrency: "unbounded" })
    violations.push(...canaryViolations(canary))
    const attempts = Object.fromEntries(
      Object.entries(counts).map(([name, outcomes]) => [name, Object.values(outcomes).reduce((a, b) => a + b, 0)])
    )
    console.log(JSON.stringify({
      backend,
      rounds: Number(/rounds=(\d+)/.exec(attack.stdout)?.[1] ?? 0),
      seconds: Math.round((performance.now() - started) / 100) / 10,
      attempts,
      total: Object.values(attempts).reduce((a, b) => a + b, 0),
      outcomes: counts,
      canaryViolations: violations.length,
      examples: violations.slice(0, 3)
    }))
  }).pipe(Effect.scoped)

Effect.runPromise(
  Effect.forEach(backends, race, { discard: true }).pipe(
    Effect.provide(Sandbox.layer({ backends: [LocalSandbox.backend(), BwrapSandbox.backend()], idleTimeToLive: 0 }))
  )
).catch((error) => {
  console.error(error)
  process.exit(1)
})
