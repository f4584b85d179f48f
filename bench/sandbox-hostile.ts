/**
 * Hostile commands against each sandbox backend, and what they achieved: a process flood (1,500
 * background processes), a memory hog (2 GiB, touched), a disk hog (a 1 GiB file in the workspace
 * and, under bwrap, in the sandbox's /tmp), an output flood (`yes` until its timeout) with the
 * host's RSS, CPU and event-loop lag around it, a `setsid` child that tries to outlive its
 * command, and (only where a cgroup enforces the process limit) a real fork bomb, with the host
 * spawning a process and another sandbox running a command right after it.
 *
 *     node --import tsx bench/sandbox-hostile.ts [local|bwrap ...]
 *
 * Not a `.bench.ts` file, so `npm run bench` does not run it. Prints one JSON line per
 * measurement.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { BwrapSandbox, LocalSandbox, Placement, Sandbox } from "../src/index.js"

const bwrap = ChildProcess.spawnSync("bwrap", ["--version"]).status === 0
const asked = process.argv.slice(2)
const backends = (asked.length > 0 ? asked : ["local", "bwrap"]).filter((name) => name !== "bwrap" || bwrap)

const lastNumber = (text: string): number => {
  const all = text.match(/\d+/g)
  return all === null ? 0 : Number(all[all.length - 1])
}

// dash exits when it cannot fork, so the loop runs in a subshell and counts in a file; \`read\` is a
// builtin, so the count is read back without a fork
const PROCESSES = `(n=0; while [ $n -lt 1500 ]; do sleep 30 & n=$((n+1)); echo $n > count.txt; done) 2>/dev/null
read n < count.txt; echo "started=$n"`
const MEMORY = `node -e '
const kept = []; let mib = 0
try { while (mib < 2048) { kept.push(Buffer.alloc(1 << 20, 1)); mib++; if (mib % 64 === 0) console.log(mib) } }
catch (e) { console.log("error", e.code ?? e.message) }
console.log(mib)'`
const DISK = (path: string) => `head -c 1073741824 /dev/zero > ${path}; echo "exit=$?"; wc -c < ${path}; rm -f ${path}`
const SETSID = `setsid sh -c 'sleep 1; echo alive > survivor.txt' > /dev/null 2>&1 & sleep 0.3; echo started`
const FORK_BOMB = `bomb() { bomb | bomb & }; bomb; sleep 3; echo done`

const program = Effect.gen(function*() {
  for (const backend of backends) {
    const handle = yield* Sandbox.handle(Placement.make({ backend, id: `hostile_${backend}` }))
    const limits = (handle as { readonly limits?: unknown }).limits
    if (limits !== undefined) console.log(JSON.stringify({ backend, limits }))

    // killed processes are reaped by the system's init, which on some hosts takes a moment: until
    // then their pid slots still count, so each hostile command waits for the last one's to free
    const settle = Effect.sleep("3 seconds")
    const procs = yield* handle.exec({ command: PROCESSES, timeout: "60 seconds" })
    console.log(JSON.stringify({
      backend,
      hostile: "processes",
      asked: 1500,
      started: lastNumber(procs.stdout),
      exitCode: procs.exitCode
    }))

    yield* settle
    const memory = yield* handle.exec({ command: MEMORY, timeout: "60 seconds" })
    console.log(JSON.stringify({
      backend,
      hostile: "memory",
      askedMiB: 2048,
      reachedMiB: lastNumber(memory.stdout),
      exitCode: memory.exitCode,
      signal: memory.signal,
      stderr: memory.stderr.slice(0, 120)
    }))

    yield* settle
    for (const path of backend === "bwrap" ? ["big.bin", "/tmp/big.bin"] : ["big.bin"]) {
      const disk = yield* handle.exec({ command: DISK(path), timeout: "60 seconds" })
      console.log(JSON.stringify({
        backend,
        hostile: "disk",
        path,
        askedBytes: 1073741824,
        writtenBytes: lastNumber(disk.stdout),
        headExit: lastNumber(disk.stdout.split("\n")[0] ?? "")
      }))
    }

    yield* settle
    const lag = monitorEventLoopDelay({ resolution: 10 })
    const rssBefore = process.memoryUsage().rss
    const cpuBefore = process.cpuUsage()
    lag.enable()
    const floodStarted = performance.now()
    const flood = yield* Effect.either(handle.exec({ command: "yes", timeout: "10 seconds" }))
    const floodMs = Math.round(performance.now() - floodStarted)
    lag.disable()
    const cpu = process.cpuUsage(cpuBefore)
    console.log(JSON.stringify({
      backend,
      hostile: "yes",
      outcome: flood._tag === "Left" ? flood.left.reason : `exit ${flood.right.exitCode}`,
      ms: floodMs,
      keptBytes: flood._tag === "Right" ? flood.right.stdout.length : 0,
      hostCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      hostRssDeltaMiB: Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20),
      eventLoopLagMaxMs: Math.round(lag.max / 1e6),
      eventLoopLagP99Ms: Math.round(lag.percentile(99) / 1e6)
    }))

    yield* settle
    yield* handle.exec({ command: SETSID })
    yield* Effect.sleep("2 seconds")
    const survived = yield* handle.exists("survivor.txt")
    console.log(JSON.stringify({ backend, hostile: "setsid-child", survivedItsCommand: survived }))

    const enforced = typeof limits === "object" && limits !== null && "processes" in limits &&
      (limits.processes as { enforcedBy?: string }).enforcedBy === "cgroup"
    if (enforced) {
      yield* settle
      const other = yield* Sandbox.handle(Placement.make({ backend, id: `hostile_${backend}_other` }))
      const started = performance.now()
      // while the bomb runs: the host starts a process, another sandbox runs a command
      const [bomb, hostSpawned, otherRan] = yield* Effect.all([
        Effect.either(handle.exec({ command: FORK_BOMB, timeout: "10 seconds" })),
        Effect.delay(Effect.sync(() => ChildProcess.spawnSync("true").status === 0), "1500 millis"),
        Effect.delay(
          Effect.map(other.exec({ command: "echo ok" }), (result) => result.stdout === "ok\n"),
          "1500 millis"
        )
      ], { concurrency: "unbounded" })
      console.log(JSON.stringify({
        backend,
        hostile: "fork-bomb",
        outcome: bomb._tag === "Left" ? bomb.left.reason : `exit ${bomb.right.exitCode}`,
        ms: Math.round(performance.now() - started),
        hostSpawnedDuring: hostSpawned,
        otherSandboxRanDuring: otherRan
      }))
    } else {
      console.log(JSON.stringify({ backend, hostile: "fork-bomb", skipped: "the process limit is not enforced here" }))
    }
  }
}).pipe(
  Effect.scoped,
  Effect.provide(Sandbox.layer({ backends: [LocalSandbox.backend(), BwrapSandbox.backend()], idleTimeToLive: 0 }))
)

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
