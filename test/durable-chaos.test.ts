/**
 * The chaos test of durable runs across machines: one Postgres, three runner processes on
 * 127.0.0.1, a scripted model served over HTTP (it counts every request), ten concurrent
 * multi-agent workflows (a planner, a fork-join of two coders with tool calls, a selector step, a
 * compressor), and kill -9 of a runner at seeded random points three times during the run, a
 * replacement started after each. Every workflow must complete with the sessions a fault-free run
 * makes (ids aside), no entry lost or duplicated, the lineage whole, the repeated model calls no
 * more than the calls in flight at the kills, and no tool effect applied twice.
 *
 * Bounded: the failover settings are the tuned ones (shard lock expiry 5 s, refresh 1 s), and the
 * whole test must finish in 3 minutes on 2 cores. A stall (Effect-TS/effect#6248: consumption
 * stopping after a runner transition) shows as a workflow that never completes: the test fails
 * then, naming the executions still running.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Random } from "effect"
import { SessionStore } from "rath"
import {
  buildRunner,
  clientLayer,
  durableSessions,
  effectRows,
  entriesOf,
  kill9,
  lineageProblem,
  poll,
  prepareDatabase,
  reference,
  type RunnerProcess,
  startRunner,
  submit
} from "./fixtures/durable-harness.js"
import { startModelServer } from "./fixtures/durable-model.js"
import { freePort, skipPostgres, startPostgres } from "./postgres.js"

const WORKFLOWS = 10
const KILLS = 3
const SEED = 13

describe.skipIf(skipPostgres)("durable runs under kill -9", () => {
  it.scopedLive(
    "ten multi-agent workflows survive three runner kills with the fault-free result",
    () =>
      Effect.gen(function*() {
        const started = Date.now()
        const progress = (line: string) =>
          Effect.sync(() => console.error(`chaos +${Date.now() - started} ms: ${line}`))
        const pg = yield* startPostgres
        const model = yield* Effect.acquireRelease(
          Effect.promise(() => startModelServer()),
          (server) => Effect.promise(() => server.close())
        )
        // the sessions live in the same Postgres as the cluster's shards and messages
        const env = { pgUrl: pg.url, modelUrl: model.url, store: pg.url, script: buildRunner() }
        yield* prepareDatabase(pg.url)

        // every runner started is killed when the test ends, whatever happened
        const runners: Array<RunnerProcess> = []
        yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(runners.map(kill9))))
        const launch = (id: string, spare = false) =>
          Effect.flatMap(freePort, (port) =>
            Effect.tryPromise(() => startRunner(env, id, port, (runner) => runners.push(runner), spare)).pipe(
              Effect.orDie
            ))
        yield* progress("postgres and the model server are up")
        // three runners, and three spares loaded but not yet in the cluster (a cold start takes
        // seconds on a busy machine: a spare replaces a killed runner at once)
        const [first, spares] = yield* Effect.all([
          Effect.all([launch("r1"), launch("r2"), launch("r3")], { concurrency: 3 }),
          Effect.all([launch("r4", true), launch("r5", true), launch("r6", true)], { concurrency: 3 })
        ], { concurrency: 2 })
        let live: ReadonlyArray<RunnerProcess> = first
        yield* progress("three runners and three spares are up")

        const client = yield* Layer.build(clientLayer(pg.url))
        const executionIds = yield* Effect.forEach(
          Array.from({ length: WORKFLOWS }, (_, task) =>
            task),
          (task) => submit(task),
          { concurrency: WORKFLOWS }
        ).pipe(Effect.provide(client))
        yield* progress(`submitted ${WORKFLOWS} workflows`)

        // the kills: at seeded random points while the workflows run, each time a random ready runner;
        // its replacement starts at once, in the background (a runner takes seconds to start)
        const kills: Array<{ runner: string; atMillis: number; inFlight: number }> = []
        const chaos = Effect.gen(function*() {
          // the first kill once model calls are under way
          while (model.seen.length < WORKFLOWS) yield* Effect.sleep(Duration.millis(50))
          for (let k = 0; k < KILLS; k++) {
            yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(500, 4_000)))
            const victim = live[yield* Random.nextIntBetween(0, live.length)]!
            // calls in flight for that runner, and those answered in the last 250 ms (not yet journalled)
            const inFlight = model.inFlight(victim.id, 250)
            yield* Effect.promise(() => kill9(victim))
            kills.push({ runner: victim.id, atMillis: Date.now() - started, inFlight })
            yield* progress(`killed ${victim.id} (${inFlight} calls in flight)`)
            const replacement = spares[k]!
            yield* Effect.promise(() => replacement.go())
            live = live.map((runner) => runner === victim ? replacement : runner)
            yield* progress(`${replacement.id} joined`)
            // the next kill after the failover of this one (shard locks expire after 5 s)
            yield* Effect.sleep(Duration.seconds(6))
          }
        }).pipe(Effect.withRandom(Random.make(SEED)))

        const waitAll = Effect.gen(function*() {
          const deadline = started + 160_000
          let lastDone = -1
          while (true) {
            const results = yield* Effect.forEach(executionIds, (id) => poll(id))
            const done = results.filter((result) => result !== undefined && result._tag === "Complete").length
            if (done !== lastDone) yield* progress(`${done}/${WORKFLOWS} workflows complete`)
            lastDone = done
            if (done === WORKFLOWS) return results
            if (Date.now() > deadline) {
              const pending = executionIds.filter((_, i) => results[i]?._tag !== "Complete")
              return yield* Effect.dieMessage(
                `${pending.length} workflows did not complete in time (a stall after a runner transition?): ${
                  pending.join(", ")
                }\nrunner output:\n${
                  runners.map((runner) => `--- ${runner.id}\n${runner.output().slice(-2000)}`).join("\n")
                }`
              )
            }
            yield* Effect.sleep(Duration.millis(250))
          }
        }).pipe(Effect.provide(client))

        const [results] = yield* Effect.all([waitAll, chaos], { concurrency: 2 })
        assert.strictEqual(kills.length, KILLS)

        // every workflow completed successfully
        for (const result of results) {
          assert.strictEqual(result!._tag, "Complete")
          if (result!._tag === "Complete") assert.isTrue(result!.exit._tag === "Success", String(result!.exit))
        }

        // the sessions equal the fault-free run's, entry by entry, ids aside; the lineage is whole
        const store = yield* Layer.build(SessionStore.layerFromUrl(env.store))
        const refModel = yield* Effect.acquireRelease(
          Effect.promise(() => startModelServer({ delay: () => 0 })),
          (s) => Effect.promise(() => s.close())
        )
        for (let task = 0; task < WORKFLOWS; task++) {
          const durable = yield* durableSessions(executionIds[task]!).pipe(Effect.provide(store))
          const expected = yield* reference(refModel.url, task)
          assert.strictEqual(durable.length, expected.sessions.length)
          for (let i = 0; i < durable.length; i++) {
            assert.deepStrictEqual(
              entriesOf(durable[i]!),
              entriesOf(expected.sessions[i]!),
              `task ${task} session ${i}`
            )
            assert.strictEqual(durable[i]!.lineage.operation, expected.sessions[i]!.lineage.operation)
          }
          const problem = lineageProblem(durable)
          assert.isTrue(problem._tag === "None", problem._tag === "Some" ? problem.value : "")
        }

        // no tool effect applied twice: one row per call, applied once; as many calls as the reference made
        const rows = yield* effectRows.pipe(Effect.provide(client))
        const twice = rows.filter((row) => row.applied !== 1)
        assert.deepStrictEqual(twice, [])
        assert.strictEqual(rows.length, WORKFLOWS * 4)

        // repeated model calls: at most the calls in flight at the kills
        const allowed = kills.reduce((sum, kill) => sum + kill.inFlight, 0)
        const repeated = model.repeated()
        console.log(
          `chaos: ${WORKFLOWS} workflows, kills ${JSON.stringify(kills)}, model requests ${model.seen.length} ` +
            `(${repeated} repeated, ${allowed} in flight at the kills), ${Date.now() - started} ms`
        )
        assert.isAtMost(repeated, allowed)
      }),
    { timeout: 180_000 }
  )
})
