/**
 * Sandbox costs: a command round trip (spawn to exit) per backend, a 1 KiB write + read through
 * the confined file API, and taking a pooled handle. One JSON line per measurement.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import { BwrapSandbox, LocalSandbox, Placement, Sandbox } from "../src/index.js"

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const time = <A, E, R>(n: number, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < n; i++) {
      const started = performance.now()
      yield* effect
      samples.push(performance.now() - started)
    }
    return { n, medianMs: Number(median(samples).toFixed(3)) }
  })

const bwrap = ChildProcess.spawnSync("bwrap", ["--version"]).status === 0
const backends = bwrap ? ["local", "bwrap"] : ["local"]

const program = Effect.gen(function*() {
  for (const backend of backends) {
    const placement = Placement.make({ backend, id: `bench_${backend}` })
    const handle = yield* Sandbox.handle(placement)
    const exec = yield* time(50, handle.exec({ command: ["true"] }))
    console.log(JSON.stringify({ workload: "sandbox-exec", backend, ...exec }))
    const shell = yield* time(50, handle.exec({ command: "echo hi" }))
    console.log(JSON.stringify({ workload: "sandbox-shell", backend, ...shell }))
    const data = "x".repeat(1024)
    const files = yield* time(500, Effect.zipRight(handle.write("dir/file.txt", data), handle.readText("dir/file.txt")))
    console.log(JSON.stringify({ workload: "sandbox-write-read-1KiB", backend, ...files }))
    const pooled = yield* time(1000, Effect.scoped(Sandbox.handle(placement)))
    console.log(JSON.stringify({ workload: "sandbox-pooled-handle", backend, ...pooled }))
  }
  if (!bwrap) {
    console.log(JSON.stringify({ workload: "sandbox-exec", backend: "bwrap", skipped: "bwrap not installed" }))
  }
}).pipe(
  Effect.scoped,
  Effect.provide(Sandbox.layer({ backends: [LocalSandbox.backend(), BwrapSandbox.backend()], idleTimeToLive: 0 }))
)

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
