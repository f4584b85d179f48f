/**
 * The cost of durability per step: a five-agent chain on a scripted model run directly, on the
 * SingleRunner over SQLite (`Durable.layerSingle`), and on a runner over Postgres
 * (`Durable.layerRunner` + `SessionStore.layerPg`), interleaved so the machine's load hits each side
 * alike. Prints milliseconds per step (median of the rounds) and the overhead over the direct run.
 *
 *   npx tsx bench/durable.ts [rounds]        (needs PostgreSQL for the Postgres side and failover)
 *
 * Then the failover time after kill -9 with the documented settings (shard locks expire after 5 s,
 * refreshed every 1 s): `rath runner` processes on their own Postgres, a chaos workflow
 * (test/fixtures/durable-chaos-module.ts) whose model call is in flight on one of them, that
 * runner killed, and the time until a survivor asks the model the same thing again. KILLS rounds
 * (default 3), each on a new workflow. KILLS + 1 runners start at once and none joins later, so
 * no shard moves to a newcomer during a round (that would re-ask a call too, and is not failover).
 *
 *   npx tsx bench/durable.ts [rounds] [kills]
 */
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Agent, Scripted, Session, SessionStore, Workflow } from "rath"
import * as Durable from "rath/Durable"
import { chaosCluster, clientLayer, kill9, type RunnerProcess, submit } from "../test/fixtures/durable-harness.js"
import { type Seen } from "../test/fixtures/durable-model.js"
import { freePort, postgresBin, startPostgres } from "../test/postgres.js"

const STEPS = 5
const rounds = Number(process.argv[2] ?? 5)
const KILLS = Number(process.argv[3] ?? 3)

const agents = Array.from(
  { length: STEPS },
  (_, i) => Agent.make({ name: `a${i}`, instructions: `You are step ${i}.` })
)
const chain = Workflow.andThen(...(agents as [typeof agents[0], ...Array<typeof agents[0]>]))
const model = Scripted.layer(() => () => Effect.succeed(Scripted.reply("ok")))

const time = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* effect
    return (performance.now() - start) / STEPS
  })

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/**
 * Milliseconds from each kill -9 of the runner that has a model call in flight to the moment a
 * surviving runner sends that same call again (the step re-delivered and continued there).
 */
const failover = Effect.gen(function*() {
  // answers take 1.5 s, so a call is in flight at each kill
  const { launch, model, pg } = yield* chaosCluster({ delay: () => 1_500 })
  const up = (runner: RunnerProcess) => Effect.promise(() => runner.ready)
  let live: ReadonlyArray<RunnerProcess> = yield* Effect.all(Array.from({ length: KILLS + 1 }, () => launch()))
  yield* Effect.forEach(live, up, { concurrency: "unbounded" })
  const client = yield* Layer.build(clientLayer(pg.url))
  const times: Array<number> = []
  for (let k = 0; k < KILLS; k++) {
    const id = yield* submit(k).pipe(Effect.provide(client))
    const since = Date.now()
    let cut: Seen | undefined
    while (cut === undefined) {
      yield* Effect.sleep(20)
      cut = model.seen.find((seen) =>
        seen.startedAt >= since && seen.endedAt === undefined && live.some((runner) => runner.id === seen.runner)
      )
    }
    const victim = live.find((runner) => runner.id === cut!.runner)!
    const killedAt = Date.now()
    yield* Effect.promise(() => kill9(victim))
    let again: Seen | undefined
    while (again === undefined && Date.now() - killedAt < 120_000) {
      yield* Effect.sleep(20)
      again = model.seen.find((seen) =>
        seen.key === cut!.key && seen.runner !== victim.id && seen.startedAt >= killedAt
      )
    }
    if (again === undefined) return yield* Effect.dieMessage(`round ${k}: the cut call was not asked again in 120 s`)
    times.push(again.startedAt - killedAt)
    live = live.filter((runner) => runner !== victim)
    yield* Durable.wait(id).pipe(Effect.provide(client))
  }
  return times
}).pipe(Effect.scoped)

const main = Effect.gen(function*() {
  const dir = NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "rath-bench-durable-"))
  const direct: Array<number> = []
  const sqlite: Array<number> = []
  const pg: Array<number> = []
  const single = yield* Layer.build(
    Durable.layerSingle({ storeFile: NodePath.join(dir, "rath.db"), workflows: [Durable.define("chain", chain)] }).pipe(
      Layer.provide(model)
    )
  )
  const pgCtx = postgresBin === undefined ? undefined : yield* Effect.gen(function*() {
    const server = yield* startPostgres
    const port = yield* freePort
    return yield* Layer.build(
      Durable.layerRunner({ url: server.url, host: "127.0.0.1", port, workflows: [Durable.define("chain", chain)] })
        .pipe(
          Layer.provide(Layer.merge(model, SessionStore.layerPg({ url: server.url })))
        )
    )
  })
  for (let round = 0; round < rounds; round++) {
    direct.push(yield* time(Effect.flatMap(Session.fromUserMessage("go"), chain).pipe(Effect.provide(model))))
    sqlite.push(
      yield* time(
        Effect.flatMap(Durable.submit("chain", { prompt: "go", key: `s${round}` }), Durable.wait).pipe(
          Effect.provide(single)
        )
      )
    )
    if (pgCtx !== undefined) {
      pg.push(
        yield* time(
          Effect.flatMap(Durable.submit("chain", { prompt: "go", key: `p${round}` }), Durable.wait).pipe(
            Effect.provide(pgCtx)
          )
        )
      )
    }
  }
  const d = median(direct)
  console.log(
    `load: ${NodeOs.loadavg().map((n) => n.toFixed(2)).join(" ")} (1, 5, 15 min); ${rounds} rounds, ${STEPS} steps`
  )
  console.log(`direct            ${d.toFixed(2)} ms/step`)
  const s = median(sqlite)
  console.log(`SingleRunner/SQLite ${s.toFixed(2)} ms/step  (+${(s - d).toFixed(2)} ms, x${(s / d).toFixed(1)})`)
  if (pg.length > 0) {
    const p = median(pg)
    console.log(`runner/Postgres     ${p.toFixed(2)} ms/step  (+${(p - d).toFixed(2)} ms, x${(p / d).toFixed(1)})`)
  } else console.log("runner/Postgres     skipped: PostgreSQL is not installed")
  if (pgCtx !== undefined && KILLS > 0) {
    const times = yield* failover
    console.log(
      `failover after kill -9 (5 s lock expiry, 1 s refresh), ${times.length} kills: ` +
        `median ${(median(times) / 1000).toFixed(1)} s (${times.map((t) => (t / 1000).toFixed(1)).join(", ")} s); ` +
        `load ${NodeOs.loadavg().map((n) => n.toFixed(2)).join(" ")}`
    )
  }
  NodeFs.rmSync(dir, { recursive: true, force: true })
})

Effect.runPromise(Effect.scoped(main)).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
