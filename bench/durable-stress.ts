/**
 * The chaos test at length (not in CI): three `rath runner --module` processes on one Postgres,
 * ten workflows kept in flight, and KILLS kill -9s of a runner at seeded random points (a
 * replacement starts after each). Then the invariants of test/durable-chaos.test.ts on every
 * workflow: completed, sessions equal to the fault-free run's, lineage whole, the keyed tool
 * effects those of the fault-free run, repeated model calls against the calls in flight at the
 * kills. Its wall time is capped (WALL_MINUTES, default 15): the kills stop when two thirds of it
 * are spent, and whatever is unfinished at the cap is reported as such.
 *
 *   npx tsx bench/durable-stress.ts [kills=100] [seed=13] [wallMinutes=15]
 */
import { Effect, Layer, Option } from "effect"
import * as NodeOs from "node:os"
import * as Durable from "rath/Durable"
import {
  chaosCluster,
  clientLayer,
  effectRows,
  kill9,
  lineageProblem,
  lossesOf,
  reference,
  type RunnerProcess,
  sessionsOf,
  shapeDifference,
  shapeOf,
  submit
} from "../test/fixtures/durable-harness.js"
import { startModelServer } from "../test/fixtures/durable-model.js"

const KILLS = Number(process.argv[2] ?? 100)
let seed = Number(process.argv[3] ?? 13)
const WALL = Number(process.argv[4] ?? 15) * 60_000
const random = (below: number) => {
  // a small LCG: the same seed gives the same kill points
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % below
}
const load = () => NodeOs.loadavg().map((x) => x.toFixed(2)).join(" ")

const main = Effect.gen(function*() {
  const started = Date.now()
  const elapsed = () => Date.now() - started
  const { launch, model, pg, runners } = yield* chaosCluster()
  const up = (runner: RunnerProcess) => Effect.promise(() => runner.ready.then(() => true, () => false))
  let live: ReadonlyArray<RunnerProcess> = yield* Effect.all([launch(), launch(), launch()])
  yield* Effect.forEach(live, up, { concurrency: 3 })
  console.log(`load at start: ${load()}`)
  const client = yield* Layer.build(clientLayer(pg.url))
  const ids: Array<string> = []
  const tasks: Array<number> = []
  let inFlight = 0
  let kills = 0
  const running = () =>
    Effect.forEach(ids, Durable.poll).pipe(
      Effect.map((statuses) => statuses.filter((status) => status._tag === "Running").length),
      Effect.provide(client)
    )
  while (kills < KILLS && elapsed() < WALL * 2 / 3) {
    // keep ten workflows in flight
    for (let i = yield* running(); i < 10; i++) {
      tasks.push(tasks.length)
      ids.push(yield* submit(tasks.length - 1).pipe(Effect.provide(client)))
    }
    yield* Effect.sleep(500 + random(3500))
    const busy = live.filter((runner) => model.inFlight(runner.id) > 0)
    const pool = busy.length > 0 ? busy : live
    const victim = pool[random(pool.length)]!
    inFlight += model.inFlight(victim.id, 250)
    yield* Effect.promise(() => kill9(victim))
    kills++
    const replacement = yield* launch()
    live = live.map((runner) => runner === victim ? replacement : runner)
    // the next kill once the replacement is up (at least the failover time apart)
    yield* Effect.all([Effect.sleep(6_000), up(replacement)], { concurrency: 2 })
    if (kills % 10 === 0) {
      console.log(`${kills} kills, ${tasks.length} workflows submitted, ${elapsed()} ms, load ${load()}`)
    }
  }
  // the last runs finish, within the cap
  let statuses = yield* Effect.forEach(ids, Durable.poll).pipe(Effect.provide(client))
  while (statuses.some((status) => status._tag === "Running" || status._tag === "Suspended") && elapsed() < WALL) {
    yield* Effect.sleep(1_000)
    statuses = yield* Effect.forEach(ids, Durable.poll).pipe(Effect.provide(client))
  }
  const done = statuses.filter((status) => status._tag === "Done")
  const failed = statuses.filter((status) => status._tag === "Failed")
  const unfinished = statuses.filter((status) => status._tag !== "Done" && status._tag !== "Failed")
  // the invariants on the workflows that completed
  const refModel = yield* Effect.acquireRelease(
    Effect.promise(() => startModelServer({ delay: () => 0 })),
    (server) => Effect.promise(() => server.close())
  )
  const doneTasks = tasks.filter((task) => statuses[task]!._tag === "Done")
  const expected = yield* reference(refModel.url, doneTasks)
  const problems: Array<string> = []
  for (let i = 0; i < doneTasks.length; i++) {
    const task = doneTasks[i]!
    const durable = yield* sessionsOf(ids[task]!).pipe(Effect.provide(client))
    const lineage = lineageProblem(durable)
    if (Option.isSome(lineage)) problems.push(`task ${task}: ${lineage.value}`)
    const difference = shapeDifference(shapeOf(durable), shapeOf(expected.sessions[i]!))
    if (Option.isSome(difference)) problems.push(`task ${task}: ${difference.value.slice(0, 400)}`)
  }
  const rows = yield* effectRows(pg.url)
  const doneKeys = new Set(doneTasks.map((task) => `${ids[task]}/`))
  const doneRows = rows.filter((row) => [...doneKeys].some((prefix) => row.call_id.startsWith(prefix)))
  const unexpected = doneRows.filter((row) => {
    const effect = expected.applied.get(row.call_id)
    return effect === undefined || effect.path !== row.path || effect.text !== row.text
  })
  const losses = runners.reduce((sum, runner) => sum + lossesOf(runner), 0)
  console.log(`load at end: ${load()}`)
  console.log(
    `kills ${kills}, workflows ${ids.length}: done ${done.length}, failed ${failed.length}, unfinished ${unfinished.length}`
  )
  for (const status of failed) if (status._tag === "Failed") console.log(`  failed: ${status.error.message}`)
  for (const status of unfinished) console.log(`  unfinished: ${status.executionId} (${status._tag})`)
  console.log(
    `model requests ${model.seen.length}, repeated ${model.repeated()}, in flight at the kills ${inFlight}, ` +
      `attempts that lost the fence ${losses}`
  )
  console.log(
    `tool effects ${doneRows.length} for ${done.length} done workflows (expected ${expected.applied.size}), ` +
      `not the reference's ${unexpected.length}, delivered again ${
        rows.reduce((sum, row) => sum + row.deliveries - 1, 0)
      }`
  )
  console.log(`sessions differing from the fault-free run or with a broken lineage: ${problems.length}`)
  for (const problem of problems.slice(0, 10)) console.log(`  ${problem}`)
  console.log(`wall ${elapsed()} ms`)
})

Effect.runPromise(Effect.scoped(main)).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
