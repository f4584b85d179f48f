/**
 * The chaos test of durable runs across machines, on the public API: one Postgres, three
 * `rath runner --module test/fixtures/durable-chaos-module.ts` processes on 127.0.0.1 (the
 * workflows defined with `Durable.define`), a client-only member (`Durable.layerClient`) that
 * submits and polls, a scripted model served over HTTP (it counts every request), ten concurrent
 * multi-agent workflows (a planner, a fork-join of two coders with tool calls, a selector step, a
 * compressor), and kill -9 of a runner at seeded random points three times during the run, 1.5
 * to 4 s apart (a runner that is up, with model calls in flight when there is one; one runner
 * always stays up), a replacement started after each. Invariants:
 *
 * - every workflow completes (Done);
 * - its sessions are those of the same workflows run without faults (`Durable.layerSingle`), ids,
 *   times and the spec record a continued run adds aside: no entry lost or duplicated;
 * - the lineage is whole (every parent stored, `SessionGraph.validateAcyclic`, no session twice);
 * - repeated model calls (the server counts requests by their messages) are at most the calls in
 *   flight at the kills, plus the calls cut by a shard move (a replacement joining takes shards
 *   from live runners; their steps are interrupted, the request aborted, and continued there),
 *   plus one per step attempt that lost the store's compare-and-set to an overlapping attempt
 *   (each runner logs those);
 * - no tool effect applied twice: the keyed effect table holds exactly the fault-free run's
 *   effects, one per idempotency key (a call delivered again carries the same key).
 *
 * Bounded: the failover settings are the tuned ones (shard lock expiry 5 s, refresh 1 s), and the
 * whole test must finish in 3 minutes on 2 cores. A workflow that does not complete in time fails
 * the test naming the executions still running, their status, and the runners' last output.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Random } from "effect"
import * as Durable from "rath/Durable"
import {
  chaosCluster,
  clientLayer,
  effectRows,
  kill9,
  lineageProblem,
  lossesOf,
  reference,
  runCli,
  type RunnerProcess,
  sessionsOf,
  shapeDifference,
  shapeOf,
  submit
} from "./fixtures/durable-harness.js"
import { startModelServer } from "./fixtures/durable-model.js"
import { skipPostgres } from "./postgres.js"

const WORKFLOWS = 10
const KILLS = 3
const SEED = 13
/** From the test's start: every workflow must be done by then (the test's own timeout is 180 s). */
const COMPLETE_WITHIN = 150_000

describe.skipIf(skipPostgres)("durable runs under kill -9", () => {
  it.scopedLive(
    "ten multi-agent workflows survive three runner kills with the fault-free result",
    () =>
      Effect.gen(function*() {
        const started = Date.now()
        const progress = (line: string) =>
          Effect.sync(() => console.error(`chaos +${Date.now() - started} ms: ${line}`))
        // every runner started is killed when the test ends, whatever happened
        const { env, launch, model, pg, runners } = yield* chaosCluster()
        yield* progress("postgres, the model server and the CLI bundle are ready")

        const up = (runner: RunnerProcess) => Effect.tryPromise(() => runner.ready).pipe(Effect.orDie)
        let live: ReadonlyArray<RunnerProcess> = yield* Effect.all([launch("r1"), launch("r2"), launch("r3")])
        yield* Effect.forEach(live, up, { concurrency: 3, discard: true })
        yield* progress("three runners are up")

        const client = yield* Layer.build(clientLayer(pg.url))
        const tasks = Array.from({ length: WORKFLOWS }, (_, task) => task)
        const executionIds = yield* Effect.forEach(tasks, submit, { concurrency: WORKFLOWS }).pipe(
          Effect.provide(client)
        )
        yield* progress(`submitted ${WORKFLOWS} workflows`)

        // the kills: at seeded random points while the workflows run, each time a random runner that
        // is up; its replacement starts at once (it joins when it is up)
        const kills: Array<{ runner: string; atMillis: number; inFlight: number }> = []
        const atKills = new Set<unknown>()
        const chaos = Effect.gen(function*() {
          // the first kill once model calls are under way
          while (model.seen.length < WORKFLOWS) yield* Effect.sleep(Duration.millis(50))
          const replacements: Array<RunnerProcess> = []
          for (let k = 0; k < KILLS; k++) {
            yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(1_500, 4_000)))
            // one runner stays up: the next kill waits for a replacement when only one is left
            while (live.filter((runner) => runner.isUp()).length < 2) yield* Effect.sleep(Duration.millis(100))
            const up = live.filter((runner) => runner.isUp())
            // a runner with model calls in flight, when there is one (a kill of an idle runner tests little)
            const busy = up.filter((runner) => model.inFlight(runner.id) > 0)
            const pool = busy.length > 0 ? busy : up
            const victim = pool[yield* Random.nextIntBetween(0, pool.length)]!
            // calls in flight for that runner, and those answered in the last 250 ms (not yet journalled)
            const inFlight = model.inFlight(victim.id, 250)
            for (const request of model.seen) if (request.runner === victim.id) atKills.add(request)
            yield* Effect.promise(() => kill9(victim))
            kills.push({ runner: victim.id, atMillis: Date.now() - started, inFlight })
            yield* progress(`killed ${victim.id} (${inFlight} calls in flight)`)
            // its replacement starts at once and joins when it is up; the next kill does not wait
            // for it, nor for the failover of this one
            const replacement = yield* launch(`r${4 + k}`)
            replacements.push(replacement)
            live = live.map((runner) => runner === victim ? replacement : runner)
          }
          yield* Effect.forEach(replacements, up, { concurrency: KILLS, discard: true })
          yield* progress("the replacements are up")
        }).pipe(Effect.withRandom(Random.make(SEED)))

        const waitAll = Effect.gen(function*() {
          let lastDone = -1
          while (true) {
            const statuses = yield* Effect.forEach(executionIds, Durable.poll)
            const failed = statuses.filter((status) => status._tag === "Failed")
            if (failed.length > 0) {
              return yield* Effect.dieMessage(
                `workflows failed: ${
                  failed.map((status) => status._tag === "Failed" ? status.error.message : "").join("\n")
                }`
              )
            }
            const done = statuses.filter((status) => status._tag === "Done").length
            if (done !== lastDone) yield* progress(`${done}/${WORKFLOWS} workflows done`)
            lastDone = done
            if (done === WORKFLOWS) return statuses
            if (Date.now() - started > COMPLETE_WITHIN) {
              const pending = statuses.filter((status) => status._tag !== "Done")
              return yield* Effect.dieMessage(
                `${pending.length} workflows did not complete in ${COMPLETE_WITHIN} ms: ${
                  pending.map((status) => `${status.executionId} (${status._tag})`).join(", ")
                }\nrunner output:\n${
                  runners.map((runner) => `--- ${runner.id}\n${runner.output().slice(-2000)}`).join("\n")
                }`
              )
            }
            yield* Effect.sleep(Duration.millis(250))
          }
        }).pipe(Effect.provide(client))

        yield* Effect.all([waitAll, chaos], { concurrency: 2 })
        assert.strictEqual(kills.length, KILLS)

        // the CLI's client (`rath run`, on Durable.layerClient) sees the same
        const status = yield* Effect.promise(() => runCli(env, ["run", "status", executionIds[0]!]))
        assert.strictEqual(status.code, 0, status.output)
        assert.match(status.output, new RegExp(`^${executionIds[0]}  done  s_`, "m"))
        yield* progress("every workflow is done; checking against the fault-free run")

        // the sessions equal the fault-free run's (ids, times and a continued run's spec record
        // aside); the lineage is whole
        const refModel = yield* Effect.acquireRelease(
          Effect.promise(() => startModelServer({ delay: () => 0 })),
          (server) => Effect.promise(() => server.close())
        )
        const expected = yield* reference(refModel.url, tasks).pipe(
          Effect.timeoutFail({
            duration: Duration.seconds(20),
            onTimeout: () => new Error("the fault-free reference run (Durable.layerSingle) did not finish in 20 s")
          }),
          Effect.orDie
        )
        for (const task of tasks) {
          const durable = yield* sessionsOf(executionIds[task]!).pipe(Effect.provide(client))
          const problem = lineageProblem(durable)
          assert.isTrue(Option.isNone(problem), `task ${task}: ${Option.getOrElse(problem, () => "")}`)
          const difference = shapeDifference(shapeOf(durable), shapeOf(expected.sessions[task]!))
          assert.isTrue(Option.isNone(difference), `task ${task}: ${Option.getOrElse(difference, () => "")}`)
        }

        // no tool effect applied twice: the effects are the fault-free run's, one per key
        const rows = yield* effectRows(pg.url)
        assert.deepStrictEqual(
          rows.map((row) => [row.call_id, row.path, row.text]),
          [...expected.applied.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map((
            [key, effect]
          ) => [key, effect.path, effect.text])
        )
        assert.strictEqual(rows.length, WORKFLOWS * 4)

        // repeated model calls: at most the calls in flight at the kills, the calls a shard move cut
        // (a replacement that joins takes shards from live runners, whose steps are interrupted
        // and continued there: the server sees the request aborted), and one per lost attempt
        const inFlight = kills.reduce((sum, kill) => sum + kill.inFlight, 0)
        const cutByMoves = model.seen.filter((request) => request.aborted && !atKills.has(request)).length
        const losses = runners.reduce((sum, runner) => sum + lossesOf(runner), 0)
        const repeated = model.repeated()
        const redelivered = rows.reduce((sum, row) => sum + row.deliveries - 1, 0)
        console.log(
          `chaos: ${WORKFLOWS} workflows, kills ${JSON.stringify(kills)}, model requests ${model.seen.length} ` +
            `(${repeated} repeated; ${inFlight} in flight at the kills, ${cutByMoves} cut by shard moves, ` +
            `${losses} attempts lost the fence), ` +
            `tool calls delivered again ${redelivered} (applied once each), ${Date.now() - started} ms`
        )
        const repeats = model.seen.filter((request) => (model.counts.get(request.key) ?? 0) > 1).map((request) =>
          `${request.key} ${request.role} on ${request.runner} ${request.startedAt - started}-${
            (request.endedAt ?? 0) - started
          } ms${request.aborted ? " aborted" : ""}`
        )
        assert.isAtMost(repeated, inFlight + cutByMoves + losses, `repeated requests:\n${repeats.join("\n")}`)
      }),
    { timeout: 180_000 }
  )
})
