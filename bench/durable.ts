/**
 * The cost of durability per step: a five-agent chain on a scripted model run directly, on the
 * SingleRunner over SQLite (`Durable.layerSingle`), and on a runner over Postgres
 * (`Durable.layerRunner` + `SessionStore.layerPg`), interleaved so the machine's load hits each side
 * alike. Prints milliseconds per step (median of the rounds) and the overhead over the direct run.
 *
 *   npx tsx bench/durable.ts [rounds]        (needs PostgreSQL for the Postgres side)
 *
 * Failover time after kill -9 with the documented settings is what test/durable-chaos.test.ts
 * prints for each kill (the time from the kill to the replacement's first model call).
 */
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { Agent, Scripted, Session, SessionStore, Workflow } from "rath"
import * as Durable from "rath/Durable"
import { freePort, postgresBin, startPostgres } from "../test/postgres.js"

const STEPS = 5
const rounds = Number(process.argv[2] ?? 5)

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
  NodeFs.rmSync(dir, { recursive: true, force: true })
})

Effect.runPromise(Effect.scoped(main)).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
