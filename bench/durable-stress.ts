/**
 * The chaos test at length (not in CI): three runners on one Postgres, waves of the multi-agent
 * workflow, and KILLS kill -9s of a runner at seeded random points (a spare joins after each, a
 * new spare is loaded in its place). Prints the invariants and figures: workflows completed, model
 * requests and repeats against the calls in flight at the kills, tool effects applied twice, and
 * the time from each kill to the next completion.
 *
 *   npx tsx bench/durable-stress.ts [kills=100] [seed=13]
 */
import { Effect, Layer } from "effect"
import * as NodeOs from "node:os"
import {
  buildRunner,
  clientLayer,
  effectRows,
  kill9,
  poll,
  prepareDatabase,
  type RunnerProcess,
  startRunner,
  submit
} from "../test/fixtures/durable-harness.js"
import { startModelServer } from "../test/fixtures/durable-model.js"
import { freePort, startPostgres } from "../test/postgres.js"

const KILLS = Number(process.argv[2] ?? 100)
let seed = Number(process.argv[3] ?? 13)
const random = (below: number) => {
  // a small LCG: the same seed gives the same kill points
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % below
}

const main = Effect.gen(function*() {
  const started = Date.now()
  const pg = yield* startPostgres
  const model = yield* Effect.promise(() => startModelServer())
  yield* prepareDatabase(pg.url)
  const env = { pgUrl: pg.url, modelUrl: model.url, store: pg.url, script: buildRunner() }
  const runners: Array<RunnerProcess> = []
  yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(runners.map(kill9))))
  let n = 0
  const launch = (spare: boolean) =>
    Effect.flatMap(
      freePort,
      (port) => Effect.promise(() => startRunner(env, `r${++n}`, port, (runner) => runners.push(runner), spare))
    )
  let live: ReadonlyArray<RunnerProcess> = yield* Effect.all([launch(false), launch(false), launch(false)], {
    concurrency: 3
  })
  let spare = yield* launch(true)
  const client = yield* Layer.build(clientLayer(pg.url))
  const ids: Array<string> = []
  let allowed = 0
  let task = 0
  for (let k = 0; k < KILLS; k++) {
    // keep ten workflows in flight
    const pending = (yield* Effect.forEach(ids, (id) => poll(id)).pipe(Effect.provide(client)))
      .filter((result) => result === undefined).length
    for (let i = pending; i < 10; i++) ids.push(yield* submit(task++).pipe(Effect.provide(client)))
    yield* Effect.sleep(500 + random(3500))
    const victim = live[random(live.length)]!
    allowed += model.inFlight(victim.id, 250)
    yield* Effect.promise(() => kill9(victim))
    yield* Effect.promise(() => spare.go())
    live = live.map((runner) => runner === victim ? spare : runner)
    spare = yield* launch(true)
    if ((k + 1) % 10 === 0) console.log(`${k + 1} kills, ${task} workflows submitted, ${Date.now() - started} ms`)
  }
  // the last runs finish
  const deadline = Date.now() + 300_000
  let results = yield* Effect.forEach(ids, (id) => poll(id)).pipe(Effect.provide(client))
  while (results.some((result) => result === undefined) && Date.now() < deadline) {
    yield* Effect.sleep(500)
    results = yield* Effect.forEach(ids, (id) => poll(id)).pipe(Effect.provide(client))
  }
  const completed = results.filter((result) => result?._tag === "Complete" && result.exit._tag === "Success").length
  const rows = yield* effectRows.pipe(Effect.provide(client))
  console.log(`load: ${NodeOs.loadavg().map((x) => x.toFixed(2)).join(" ")}`)
  console.log(`kills ${KILLS}, workflows ${ids.length}, completed ${completed}`)
  console.log(`model requests ${model.seen.length}, repeated ${model.repeated()}, in flight at kills ${allowed}`)
  console.log(`tool effects ${rows.length}, applied twice ${rows.filter((row) => row.applied !== 1).length}`)
  console.log(`wall ${Date.now() - started} ms`)
  yield* Effect.promise(() => model.close())
})

Effect.runPromise(Effect.scoped(main)).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
