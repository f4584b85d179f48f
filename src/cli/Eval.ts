/**
 * `rath eval`: run a dataset through a workflow module and score it (`run`, with `--continue` and
 * `--rerun-failed`), score a stored run again without calling a model (`rescore`), summarize a run
 * (`show`), compare two runs with paired tests as text or an HTML report (`compare`), and export
 * chat fine-tuning or preference JSONL (`export`). Runs live in the SQLite store (`--store`).
 *
 * The workflow module exports `workflow` (or a default export), `(session) => Effect<Session>`,
 * and optionally `scorers` (default: `[Eval.exact()]`), `prices` (a price table) and `layer` (a
 * Layer providing what the workflow needs; default: the provider configured from the environment).
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Eval from "../Eval.js"
import * as ProviderConfig from "../ProviderConfig.js"
import type * as Session from "../Session.js"
import * as SessionStore from "../SessionStore.js"
import { CliError, messageOf } from "./CliError.js"
import { importFile, tsxHint } from "./ModuleLoader.js"
import * as Source from "./Source.js"

const store = Options.text("store").pipe(
  Options.withDefault(Source.defaultStore),
  Options.withDescription("the SQLite store that holds eval runs and their case sessions")
)

const json = Options.boolean("json").pipe(Options.withDescription("print JSON instead of text"))

const fromEvalError = (error: Eval.EvalError | SessionStore.SessionStoreError): CliError => {
  if (error._tag === "SessionStoreError") return Source.fromStoreError("store")(error)
  const reason = error.reason === "NotFound" ? "NotFound" : error.reason === "Store" ? "Io" : "InvalidData"
  return new CliError({ reason, detail: error.message, cause: error })
}

/** Opens the store (creating it when `create`) and provides it. */
const withStore = <A, E, R>(path: string, create: boolean, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(
    Source.openSqlite(path, { create }),
    (service) => Effect.provideService(effect, SessionStore.SessionStore, service)
  )

interface EvalModule {
  readonly workflow: (session: Session.Session) => Effect.Effect<Session.Session, unknown, never>
  readonly scorers: ReadonlyArray<Eval.Scorer<unknown, never>>
  readonly prices: Eval.Prices | undefined
  readonly layer: Layer.Layer<never, unknown, never> | undefined
}

const loadModule = (file: string, needWorkflow: boolean) =>
  Effect.gen(function*() {
    const module = yield* importFile(file)
    const workflow = module.workflow ?? module.default
    if (needWorkflow && typeof workflow !== "function") {
      return yield* new CliError({
        reason: "Usage",
        detail:
          `${file} exports no workflow: export (session) => Effect<Session> as \`workflow\` or as the default export`
      })
    }
    const scorers = module.scorers ?? [Eval.exact()]
    if (!Array.isArray(scorers) || scorers.some((s) => typeof s?.name !== "string" || typeof s?.score !== "function")) {
      return yield* new CliError({ reason: "Usage", detail: `${file} exports \`scorers\` that are not Eval scorers` })
    }
    if (module.layer !== undefined && !Layer.isLayer(module.layer)) {
      return yield* new CliError({ reason: "Usage", detail: `${file} exports a \`layer\` that is not a Layer` })
    }
    return {
      workflow: workflow as EvalModule["workflow"],
      scorers: scorers as EvalModule["scorers"],
      prices: module.prices as Eval.Prices | undefined,
      layer: module.layer as EvalModule["layer"]
    } satisfies EvalModule
  })

/** A progress line on stderr: rewritten in place on a terminal, every tenth of the way otherwise. */
const progressLine = (label: string) => {
  const tty = process.stderr.isTTY === true
  let lastTenth = -1
  return (p: Eval.Progress): Effect.Effect<void> => {
    const width = 24
    const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width)
    const eta = p.done === 0 ? 0 : Math.round(((p.elapsedMs / p.done) * (p.total - p.done)) / 1000)
    const line = `${label} [${"#".repeat(filled)}${
      ".".repeat(width - filled)
    }] ${p.done}/${p.total}  pass ${p.passed}  fail ${p.failed}${p.skipped > 0 ? `  skipped ${p.skipped}` : ""}  ${
      (p.elapsedMs / 1000).toFixed(1)
    }s${p.done < p.total ? `  eta ${eta}s` : ""}`
    // on a terminal the line is rewritten in place; otherwise one line every tenth of the way
    if (tty) return Effect.sync(() => void process.stderr.write(`\r${line}${p.done === p.total ? "\n" : ""}`))
    const tenth = Math.floor((p.done / Math.max(p.total, 1)) * 10)
    if (tenth === lastTenth && p.done !== p.total) return Effect.void
    lastTenth = tenth
    return Console.error(line)
  }
}

const printReport = (report: Eval.Report, asJson: boolean) =>
  asJson
    ? Console.log(
      JSON.stringify(
        {
          id: report.id,
          spec: report.spec,
          totals: report.totals,
          ran: report.ran,
          skipped: report.skipped,
          wallMs: report.wallMs,
          cases: report.cases
        },
        null,
        2
      )
    )
    : Console.log(
      `${
        Eval.summary(report)
      }\nran ${report.ran} case(s), skipped ${report.skipped}, ${report.wallMs} ms\nrun id: ${report.id}`
    )

const minPassRate = Options.float("min-pass-rate").pipe(
  Options.optional,
  Options.withDescription("exit with code 6 when the pass rate is below this (0..1)")
)

const checkPassRate = (report: Eval.Report, min: Option.Option<number>) =>
  Option.match(min, {
    onNone: () => Effect.void,
    onSome: (rate) =>
      report.totals.passRate < rate
        ? new CliError({
          reason: "Rejected",
          detail: `pass rate ${(report.totals.passRate * 100).toFixed(1)}% is below ${
            (rate * 100).toFixed(1)
          }% (run ${report.id})`
        })
        : Effect.void
  })

const provideModuleLayer = <A, E, R>(effect: Effect.Effect<A, E, R>, module: EvalModule) =>
  Effect.provide(
    effect as Effect.Effect<A, E, never>,
    (module.layer ?? ProviderConfig.layerFromEnv()) as Layer.Layer<never, unknown, never>
  )

const mapRunError = (error: unknown): CliError =>
  error instanceof CliError
    ? error
    : typeof error === "object" && error !== null && "_tag" in error &&
        (error._tag === "EvalError" || error._tag === "SessionStoreError")
    ? fromEvalError(error as Eval.EvalError)
    : new CliError({ reason: "InvalidData", detail: `the eval failed: ${messageOf(error)}`, cause: error })

const runCommand = Command.make(
  "run",
  {
    dataset: Options.file("dataset").pipe(
      Options.withAlias("d"),
      Options.withDescription("the dataset, JSONL: {\"input\", \"expected\"?, \"id\"?, \"metadata\"?} per line")
    ),
    workflow: Options.file("workflow").pipe(
      Options.withAlias("w"),
      Options.withDescription(
        `the module under test: exports \`workflow\`, and optionally \`scorers\`, \`prices\`, \`layer\`; ${tsxHint}`
      )
    ),
    name: Options.text("name").pipe(Options.optional, Options.withDescription("a name for the run")),
    concurrency: Options.integer("concurrency").pipe(
      Options.withDefault(4),
      Options.withDescription("cases run at once")
    ),
    budget: Options.integer("budget").pipe(
      Options.optional,
      Options.withDescription("a token budget shared by all cases")
    ),
    continueRun: Options.text("continue").pipe(
      Options.optional,
      Options.withDescription("continue this run id: cases it has a result for are not run again")
    ),
    rerunFailed: Options.boolean("rerun-failed").pipe(
      Options.withDescription("with --continue: run the failed cases again too")
    ),
    minPassRate,
    store,
    json
  },
  (args) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(args.dataset).pipe(
        Effect.mapError((cause) =>
          new CliError({ reason: "NotFound", detail: `cannot read dataset ${args.dataset}: ${cause.message}`, cause })
        )
      )
      const cases = yield* Eval.parseDataset(text, { source: args.dataset }).pipe(Effect.mapError(fromEvalError))
      const module = yield* loadModule(args.workflow, true)
      if (args.rerunFailed && Option.isNone(args.continueRun)) {
        return yield* new CliError({ reason: "Usage", detail: "--rerun-failed needs --continue RUN_ID" })
      }
      const report = yield* withStore(
        args.store,
        true,
        provideModuleLayer(
          Eval.run({
            name: Option.getOrUndefined(args.name),
            dataset: cases,
            workflow: module.workflow,
            scorers: module.scorers,
            concurrency: args.concurrency,
            budget: Option.getOrUndefined(args.budget),
            prices: module.prices,
            continue: Option.getOrUndefined(args.continueRun),
            rerun: args.rerunFailed ? "failed" : "missing",
            onProgress: progressLine("eval")
          }),
          module
        )
      ).pipe(Effect.mapError(mapRunError))
      yield* printReport(report, args.json)
      yield* checkPassRate(report, args.minPassRate)
    })
).pipe(Command.withDescription("run a dataset through a workflow module, score every case, and save the run"))

const runId = (name: string) =>
  Args.text({ name }).pipe(Args.withDescription("an eval run id (printed by `rath eval run`)"))

const rescoreCommand = Command.make(
  "rescore",
  {
    run: runId("run"),
    workflow: Options.file("workflow").pipe(
      Options.withAlias("w"),
      Options.withDescription(`the module whose \`scorers\` (and \`prices\`) score the run again; no model is called`)
    ),
    name: Options.text("name").pipe(Options.optional),
    store,
    json
  },
  (args) =>
    Effect.gen(function*() {
      const module = yield* loadModule(args.workflow, false)
      const rescoring = Eval.rescore({
        run: args.run,
        scorers: module.scorers,
        name: Option.getOrUndefined(args.name),
        prices: module.prices,
        onProgress: progressLine("rescore")
      })
      // the module's layer serves what its scorers need (a sandbox for `command`); judges are
      // answered from the recordings, so no provider is configured here
      const report = yield* withStore(
        args.store,
        false,
        (module.layer === undefined ? rescoring : Effect.provide(rescoring, module.layer)) as Effect.Effect<
          Eval.Report,
          unknown,
          SessionStore.SessionStore
        >
      ).pipe(Effect.mapError(mapRunError))
      yield* printReport(report, args.json)
    })
).pipe(Command.withDescription("score a stored run again from its recordings (judges replayed; no model called)"))

const showCommand = Command.make("show", { run: runId("run"), store, json }, (args) =>
  Effect.gen(function*() {
    const record = yield* withStore(args.store, false, Eval.load(args.run)).pipe(Effect.mapError(mapRunError))
    if (args.json) {
      return yield* Console.log(
        JSON.stringify(
          { id: record.id, spec: record.spec, totals: Eval.totals(record.cases), cases: record.cases },
          null,
          2
        )
      )
    }
    yield* Console.log(Eval.summary(record))
    for (const c of record.cases) {
      yield* Console.log(
        `${c.pass ? "pass" : "FAIL"} ${c.caseId} (line ${c.line}) score ${c.score.toFixed(3)}  ${
          c.checks.map((k) => `${k.name}:${k.passed ? "ok" : "x"}`).join(" ")
        }${c.error === undefined ? "" : `  error: ${c.error}`}  session ${c.session}`
      )
    }
  })).pipe(Command.withDescription("summarize a stored eval run and list its cases"))

const compareCommand = Command.make(
  "compare",
  {
    a: runId("run-a"),
    b: runId("run-b"),
    html: Options.file("html").pipe(
      Options.optional,
      Options.withDescription("also write a standalone HTML report with plots")
    ),
    store,
    json
  },
  (args) =>
    Effect.gen(function*() {
      const [a, b] = yield* withStore(args.store, false, Effect.all([Eval.load(args.a), Eval.load(args.b)])).pipe(
        Effect.mapError(mapRunError)
      )
      const comparison = Eval.compare(a, b)
      yield* args.json ? Console.log(JSON.stringify(comparison, null, 2)) : Console.log(Eval.compareText(comparison))
      if (Option.isSome(args.html)) {
        const fs = yield* FileSystem.FileSystem
        yield* fs.writeFileString(args.html.value, Eval.compareHtml(comparison)).pipe(
          Effect.mapError((cause) =>
            new CliError({ reason: "Io", detail: `cannot write ${args.html}: ${cause.message}`, cause })
          )
        )
        yield* Console.error(`rath: wrote ${args.html.value}`)
      }
    })
).pipe(Command.withDescription("compare two eval runs case by case (McNemar exact test on pass, Wilcoxon on scores)"))

const exportCommand = Command.make(
  "export",
  {
    runs: Args.text({ name: "run" }).pipe(
      Args.atLeast(1),
      Args.withDescription("eval run ids (several: preference pairs across runs)")
    ),
    format: Options.choice("format", ["chat", "preferences"]).pipe(Options.withDefault("chat" as const)),
    passed: Options.boolean("passed").pipe(Options.withDescription("chat: only cases that passed")),
    failed: Options.boolean("failed").pipe(Options.withDescription("chat: only cases that failed")),
    minScore: Options.float("min-score").pipe(Options.optional),
    cases: Options.text("case").pipe(Options.repeated, Options.withDescription("only this case id (repeatable)")),
    withToolCalls: Options.boolean("with-tool-calls").pipe(
      Options.withDescription("chat: only trajectories that call a tool")
    ),
    maxPerPrompt: Options.integer("max-per-prompt").pipe(
      Options.optional,
      Options.withDescription("preferences: most pairs per prompt")
    ),
    out: Options.file("out").pipe(
      Options.withAlias("o"),
      Options.optional,
      Options.withDescription("write to this file instead of standard output")
    ),
    store
  },
  (args) =>
    Effect.gen(function*() {
      if (args.passed && args.failed) {
        return yield* new CliError({ reason: "Usage", detail: "--passed and --failed exclude each other" })
      }
      const filter = {
        ...(args.passed ? { passed: true } : args.failed ? { passed: false } : {}),
        ...(Option.isSome(args.minScore) ? { minScore: args.minScore.value } : {}),
        ...(args.cases.length > 0 ? { cases: args.cases } : {}),
        ...(args.withToolCalls ? { withToolCalls: true } : {}),
        ...(Option.isSome(args.maxPerPrompt) ? { maxPerPrompt: args.maxPerPrompt.value } : {})
      }
      const lines = yield* withStore(
        args.store,
        false,
        Effect.gen(function*() {
          const items: Array<Eval.ExportItem> = []
          for (const id of args.runs) {
            items.push(...(yield* Eval.items(yield* Eval.load(id))))
          }
          return args.format === "chat"
            ? yield* Eval.exportChat(items, filter)
            : yield* Eval.exportPreferences(items, filter)
        })
      ).pipe(Effect.mapError(mapRunError))
      const text = Eval.toJsonl(lines)
      if (Option.isNone(args.out)) {
        if (text !== "") yield* Console.log(text.slice(0, -1))
      } else {
        const fs = yield* FileSystem.FileSystem
        yield* fs.writeFileString(args.out.value, text).pipe(
          Effect.mapError((cause) =>
            new CliError({ reason: "Io", detail: `cannot write ${args.out}: ${cause.message}`, cause })
          )
        )
      }
      yield* Console.error(
        `rath: ${lines.length} ${args.format === "chat" ? "example(s)" : "pair(s)"}${
          Option.isSome(args.out) ? ` written to ${args.out.value}` : ""
        }`
      )
    })
).pipe(
  Command.withDescription(
    "export a run's trajectories as chat fine-tuning JSONL, or preference pairs (chosen/rejected)"
  )
)

/**
 * The `rath eval` command and its subcommands.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = Command.make("eval").pipe(
  Command.withDescription("evaluate workflows on datasets: run, rescore, show, compare, export"),
  Command.withSubcommands([runCommand, rescoreCommand, showCommand, compareCommand, exportCommand])
)

/**
 * The subcommands of `rath eval`, for the help pages and the command-line scan.
 *
 * @since 0.2.0
 * @category constructors
 */
export const subcommands = [runCommand, rescoreCommand, showCommand, compareCommand, exportCommand] as const
