/**
 * `rath demo`: a real multi-agent, multi-session workflow on the embedded defaults.
 *
 * A planner writes a plan; two coders fork from it and each writes and checks code in its own
 * local sandbox; a reviewer runs the check again in each sandbox and records a `Check` entry,
 * which rejects one branch; the accepted branch is merged back and compressed; the run is
 * committed to memory. When every branch fails its check nothing is merged: the run stops with
 * {@link Rejected}, and the saved branches (with their failed checks) are the evidence. Every session is saved to the SQLite store and memory lives under the
 * same directory, so `rath explain`, `rath graph` and `rath show` can look further.
 *
 * With no API key the model is scripted (and labelled as such in every answer); with
 * `OPENAI_API_KEY` or `ANTHROPIC_API_KEY` the same workflow runs on the real model.
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Agent from "../Agent.js"
import * as Builtin from "../Builtin.js"
import * as Compressor from "../Compressor.js"
import * as Entry from "../Entry.js"
import * as Memory from "../Memory.js"
import * as Placement from "../Placement.js"
import * as Provider from "../Provider.js"
import * as ProviderConfig from "../ProviderConfig.js"
import * as Scripted from "../providers/Scripted.js"
import * as Sandbox from "../Sandbox.js"
import * as LocalSandbox from "../sandboxes/Local.js"
import * as Session from "../Session.js"
import * as SessionGraph from "../SessionGraph.js"
import * as SessionStore from "../SessionStore.js"

/**
 * The task every demo run starts from.
 */
export const TASK = "Write slugify(text) in slugify.mjs: lower case, words joined by single dashes, " +
  "punctuation dropped. Add check.mjs that tests it and exits non-zero on failure."

const PLANNER = "You are the planner. Answer with a short numbered plan (at most 4 steps) for the task. No code."

const coderInstructions = (variant: "A" | "B") =>
  `You are coder ${variant}. Implement the plan in your sandbox with the tools: write slugify.mjs ` +
  `(export function slugify(text)) and check.mjs (import it, compare slugify("Hello, World!") with ` +
  `"hello-world" and slugify("  Effect  is   great ") with "effect-is-great", print the result and ` +
  `exit 1 on a mismatch). Then run "node check.mjs" with run_shell and report the outcome in one sentence. ` +
  (variant === "A" ? "Prefer a regular expression." : "Prefer splitting on spaces.")

// -----------------------------------------------------------------------------
// the scripted model: answers from what the request holds, like a (very) small model
// -----------------------------------------------------------------------------

const CHECK = `import { slugify } from "./slugify.mjs"
const cases = [["Hello, World!", "hello-world"], ["  Effect  is   great ", "effect-is-great"]]
let failed = 0
for (const [input, expected] of cases) {
  const actual = slugify(input)
  const ok = actual === expected
  if (!ok) failed++
  console.log(\`\${ok ? "ok  " : "FAIL"} slugify(\${JSON.stringify(input)}) = \${JSON.stringify(actual)}\`)
}
process.exit(failed === 0 ? 0 : 1)
`

const SLUGIFY_A = `export function slugify(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
}
`

// attempt B forgets the punctuation and the repeated spaces: its check fails, for real
const SLUGIFY_B = `export function slugify(text) {
  return text.trim().toLowerCase().split(" ").join("-")
}
`

const lastOutput = (request: Provider.Request): Provider.Message | undefined => {
  const last = request.messages[request.messages.length - 1]
  return last?._tag === "ToolResult" ? last : undefined
}

/**
 * The scripted model's answer to a request: what the demo runs on without an API key.
 */
export const script = (request: Provider.Request): Scripted.Reply => {
  const system = request.messages.find((message) => message._tag === "System")
  const text = system?._tag === "System" ? system.text : ""
  if (request.toolChoice === "none") {
    return Scripted.reply(
      "The planner split the slugify task into four steps; coder A's regular-expression version passed " +
        "check.mjs, coder B's space-splitting version failed it and was rejected; A's branch was merged."
    )
  }
  if (text.startsWith("You are the planner")) {
    // the planner is sent what memory recalled from earlier runs (an untrusted user-role block)
    const recalled = request.messages.some((message) =>
      message._tag === "User" && message.text.startsWith("<untrusted-memory>")
    )
    const steps = [
      "1. Lower-case the text.\n",
      "2. Replace every run of non-alphanumerics with one dash.\n",
      "3. Trim dashes at both ends.\n4. Check with two cases in check.mjs."
    ]
    const chunks = recalled
      ? ["0. An earlier run is recalled: reuse the approach that passed its check.\n", ...steps]
      : steps
    return Scripted.reply(chunks.join(""), { chunks })
  }
  const variant = text.startsWith("You are coder A") ? "A" : "B"
  const results = request.messages.filter((message) => message._tag === "ToolResult").length
  if (results === 0) {
    return {
      text: `Writing the ${variant === "A" ? "regular-expression" : "split-based"} version and its check.`,
      toolCalls: [
        { name: "write_file", arguments: { path: "slugify.mjs", content: variant === "A" ? SLUGIFY_A : SLUGIFY_B } },
        { name: "write_file", arguments: { path: "check.mjs", content: CHECK } }
      ]
    }
  }
  if (results === 2) return Scripted.toolCall("run_shell", { command: "node check.mjs" })
  const last = lastOutput(request)
  const output = last?._tag === "ToolResult" ? last.output as { exitCode?: number } | undefined : undefined
  return Scripted.reply(
    output?.exitCode === 0 ? "check.mjs passes: both cases are right." : "check.mjs fails: a case is wrong."
  )
}

// -----------------------------------------------------------------------------
// the workflow
// -----------------------------------------------------------------------------

// the planner recalls what earlier demo runs committed to memory, and is sent it
const planner = Agent.make({
  name: "planner",
  description: "Plans the task",
  instructions: PLANNER,
  memory: { namespace: "demo", k: 3, query: "slugify" }
})

const coder = (variant: "A" | "B") =>
  Agent.make({
    name: `coder-${variant.toLowerCase()}`,
    description: `Implements the plan (attempt ${variant})`,
    instructions: coderInstructions(variant),
    tools: [Builtin.writeFile, Builtin.readFile, Builtin.runShell],
    maxTurns: 8
  })

const reviewer: Entry.Author = { kind: "workflow", name: "reviewer" }

/** The reviewer is plain code: it runs the check again in the branch's own sandbox. */
const review = (session: Session.Session) =>
  Effect.scoped(Effect.gen(function*() {
    const handle = yield* Sandbox.handleFor(session)
    const result = yield* handle.exec({ command: "node check.mjs", timeout: "20 seconds" }).pipe(
      Effect.map((out) => ({ exitCode: out.exitCode, output: (out.stdout + out.stderr).trim() })),
      Effect.catchAll((error) => Effect.succeed({ exitCode: -1, output: error.message }))
    )
    return yield* Session.append(
      session,
      Entry.check("node check.mjs", result.exitCode === 0, {
        details: { exitCode: result.exitCode, output: result.output, sandbox: Placement.label(handle.placement) },
        author: reviewer
      })
    )
  }))

/**
 * Every branch failed the reviewer's check, so nothing was merged. Every session up to the
 * reviews was saved (`sessions`); `attempts` are the rejected branches, each ending in its failed
 * `Check` entry.
 */
export class Rejected extends Data.TaggedError("DemoRejected")<{
  readonly sessions: ReadonlyArray<Session.Session>
  readonly attempts: ReadonlyArray<Session.Session>
  readonly scripted: boolean
}> {
  override get message(): string {
    return `every attempt failed the reviewer's check (node check.mjs), so nothing was merged: ${
      this.attempts.map((attempt) => attempt.id).join(", ")
    }`
  }
}

/**
 * A model call failed (the provider refused the key, does not know the model, cannot be reached,
 * ...): the message names the provider failure and what to set, ahead of the vendor's own words.
 */
export class ModelFailed extends Data.TaggedError("DemoModelFailed")<{
  readonly error: Provider.ProviderError
  /** Who made the call (`agent planner`, `compressor`), when known. */
  readonly caller: string | undefined
  readonly cause: unknown
}> {
  override get message(): string {
    const { detail, model, provider, reason, status } = this.error
    const env = provider === "anthropic" ? "ANTHROPIC" : provider === "openai" ? "OPENAI" : undefined
    const setting = (name: string, fallback: string) => env === undefined ? fallback : `${env}_${name}`
    const hint = reason === "Unauthorized"
      ? `check the API key (${setting("API_KEY", "the provider's key")})`
      : reason === "ModelNotFound"
      ? `check the model name (${setting("DEFAULT_MODEL", "the provider's model")})`
      : reason === "Transport" || reason === "Timeout" || reason === "Unavailable"
      ? `check that the endpoint is up (${setting("BASE_URL", "the provider's base URL")})`
      : reason === "RateLimited"
      ? "wait and run it again"
      : "check the provider's configuration"
    const what = `${reason} from ${provider}${model === undefined ? "" : ` model ${model}`}${
      status === undefined ? "" : ` (HTTP ${status})`
    }`
    return `the model provider failed${this.caller === undefined ? "" : ` in ${this.caller}`}: ${what}; ${hint}, ` +
      `or set RATH_DEMO_SCRIPTED=1 for the scripted model. The provider said: ${detail}`
  }
}

const isProviderError = Schema.is(Provider.ProviderError)

/** The provider failure behind an agent's or the compressor's error, looked for through `cause`. */
const modelFailure = (error: unknown): Option.Option<ModelFailed> => {
  let current: unknown = error
  let caller: string | undefined
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    if (isProviderError(current)) {
      return Option.some(new ModelFailed({ error: current, caller, cause: error }))
    }
    const value = current as { _tag?: unknown; agent?: unknown; compressor?: unknown; cause?: unknown }
    if (caller === undefined && typeof value.agent === "string") caller = `agent ${value.agent}`
    if (caller === undefined && typeof value.compressor === "string") caller = value.compressor
    current = value.cause
  }
  return Option.none()
}

/**
 * The model the demo runs on instead of its own choice (the scripted model, or the one an API
 * key selects); `scripted` is how the demo labels it. For tests.
 */
export class Model extends Context.Reference<Model>()("rath/cli/demo/Model", {
  defaultValue: () => Option.none<{ readonly layer: Layer.Layer<Provider.Provider>; readonly scripted: boolean }>()
}) {}

/**
 * What a demo run produced.
 */
export interface Result {
  readonly sessions: ReadonlyArray<Session.Session>
  readonly final: Session.Session
  readonly accepted: Session.Session
  readonly rejected: ReadonlyArray<Session.Session>
  readonly recalled: number
  readonly scripted: boolean
}

const workflow = (workspaces: string, progress: (line: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const saved: Array<Session.Session> = []
    const save = (session: Session.Session) =>
      Effect.as(Effect.tap(store.save(session), () => Effect.sync(() => saved.push(session))), session)

    const task = yield* Session.fromUserMessage(TASK, { author: { kind: "user", name: "user" } }).pipe(
      Effect.flatMap(save)
    )
    yield* progress("1/5 task saved")
    // the planner recalls earlier demo runs from memory (a Memory entry) and is sent what it found
    const planned = yield* planner(task).pipe(Effect.flatMap(save))
    const recall = Session.findLast(
      planned,
      (entry): entry is Entry.Memory => entry._tag === "Memory" && entry.operation === "recall"
    )
    const hits = Option.match(recall, { onNone: () => 0, onSome: (entry) => entry.hits?.length ?? 0 })
    yield* progress(`2/5 the planner was sent ${hits} recalled memories and wrote a plan; two coders start`)

    const passed = (session: Session.Session) =>
      Option.match(Session.lastOf(session, "Check"), { onNone: () => false, onSome: (check) => check.passed })
    // two attempts, each a fork placed in its own local sandbox, run concurrently
    const attempts = yield* Effect.forEach(["A", "B"] as const, (variant) =>
      Effect.gen(function*() {
        const fork = yield* Session.fork(planned, { by: { kind: "workflow", name: `attempt-${variant}` } })
        // a workspace under the demo directory is kept after the run, for a person to look at
        const workspace = `${workspaces}/${fork.id}`
        const placed = yield* Sandbox.place(fork, Placement.make({ backend: "local", workspace })).pipe(
          Effect.flatMap(save)
        )
        const coded = yield* coder(variant)(placed)
        const reviewed = yield* review(coded).pipe(Effect.flatMap(save))
        yield* progress(`3/5 coder ${variant} done; the reviewer's check ${passed(reviewed) ? "passed" : "failed"}`)
        return reviewed
      }), { concurrency: 2 })

    const accepted = attempts.find(passed)
    if (accepted === undefined) {
      yield* progress("4/5 every attempt failed the reviewer's check: nothing to merge, stopping")
      return yield* new Rejected({ sessions: saved, attempts, scripted: false })
    }
    const rejected = attempts.filter((attempt) => attempt !== accepted)

    const merged = yield* Session.merge(planned, accepted).pipe(Effect.flatMap(save))
    yield* progress(`4/5 merged ${accepted.id}; compressing and committing to memory`)
    const compressed = yield* Compressor.make({ keepLast: 2 })(merged)
    const { session: final } = yield* Memory.commitSession(compressed, { namespace: "demo" })
    yield* save(final)
    yield* progress(`5/5 done: ${saved.length} sessions saved`)
    return { sessions: saved, final, accepted, rejected, recalled: hits } as const
  })

/**
 * Runs the demo with its data under `dir` (the store at `dir/rath.db`, memory at
 * `dir/memory.db`), on the real model when a key is set and on the scripted one otherwise.
 * `onProgress` hears one line at each step of the workflow.
 */
export const run = (options: {
  readonly dir: string
  readonly onProgress?: ((line: string) => Effect.Effect<void>) | undefined
}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.makeDirectory(options.dir, { recursive: true })
    const chosen = yield* Model
    const scripted = Option.isSome(chosen) ? chosen.value.scripted : !(yield* realModel)
    const provider = Option.isSome(chosen)
      ? chosen.value.layer
      : scripted
      ? Scripted.layer((request) => script(request), { model: "scripted-demo" })
      : realLayer
    const layers = Layer.mergeAll(
      provider,
      Sandbox.layer({ backends: [LocalSandbox.backend()] }),
      SessionStore.layer({ filename: path.join(options.dir, "rath.db") }),
      Memory.layerSqlite({ filename: path.join(options.dir, "memory.db") })
    )
    const result = yield* workflow(path.join(options.dir, "workspaces"), options.onProgress ?? (() => Effect.void))
      .pipe(
        // what the workflow itself appends (memory events, merges) is authored by the demo
        Effect.provideService(Entry.CurrentAuthor, { kind: "workflow", name: "demo" }),
        Effect.provide(layers),
        // a rejection says which model judged it; a provider failure deep in an agent's error
        // becomes one that says what to check
        Effect.catchAll((error) =>
          Effect.fail(
            Predicate.isTagged(error, "DemoRejected")
              ? new Rejected({ sessions: error.sessions, attempts: error.attempts, scripted })
              : Option.getOrElse(modelFailure(error), () => error)
          )
        )
      )
    return { ...result, scripted } satisfies Result
  })

/**
 * The models the demo runs on when a key is set and no model is configured (neither in the
 * environment nor in `<RATH_HOME>/config.json`): issue 8 asks that a key alone is enough for the
 * demo. The library itself never picks a model (`ProviderConfig` fails with `MissingModel`).
 */
export const defaultModels = {
  OPENAI_DEFAULT_MODEL: "gpt-4.1-mini",
  ANTHROPIC_DEFAULT_MODEL: "claude-haiku-4-5"
} as const

/**
 * The provider from the configuration; when it names no model, the same configuration with the
 * demo's {@link defaultModels} under the environment's own values.
 */
const realLayer = ProviderConfig.layerFromEnv().pipe(
  Layer.catchAll((error) =>
    error.reason === "MissingModel"
      ? Layer.unwrapEffect(Effect.map(Effect.configProviderWith(Effect.succeed), (env) =>
        ProviderConfig.layerFromEnv().pipe(
          Layer.provide(Layer.setConfigProvider(
            ConfigProvider.orElse(env, () => ConfigProvider.fromMap(new Map(Object.entries(defaultModels))))
          ))
        )))
      : Layer.fail(error)
  )
)

const isSet = (name: string) => Config.map(Config.withDefault(Config.string(name), ""), (value) => value !== "")

/**
 * Whether a real model is configured (an API key in the environment, read through `Config`), and
 * `RATH_DEMO_SCRIPTED=1` does not force the scripted one.
 */
export const realModel: Effect.Effect<boolean> = Effect.orDie(
  Config.all([
    isSet("OPENAI_API_KEY"),
    isSet("ANTHROPIC_API_KEY"),
    Config.withDefault(Config.string("RATH_DEMO_SCRIPTED"), "")
  ])
).pipe(Effect.map(([openai, anthropic, forced]) => forced !== "1" && (openai || anthropic)))

/**
 * The lineage of the demo's sessions as an indented tree, with what each session holds.
 */
export const tree = (sessions: ReadonlyArray<Session.Session>): string => {
  const graph = SessionGraph.fromSessions(sessions)
  const byId = new Map(sessions.map((session) => [session.id as string, session]))
  const lines: Array<string> = []
  const describe = (session: Session.Session | undefined): string => {
    if (session === undefined) return ""
    const check = Option.getOrUndefined(Session.lastOf(session, "Check"))
    const by = session.lineage.by === undefined ? "" : ` by ${session.lineage.by.name}`
    const verdict = check === undefined ? "" : check.passed ? "  [check passed]" : "  [check failed: rejected]"
    const own = Chunk.toReadonlyArray(Session.ownEntries(session))
      .filter((entry) => entry._tag !== "Custom")
      .map((entry) => entry._tag)
    return `${session.lineage.operation}${by}, ${session.length} entries (+${own.join(", ")})${verdict}`
  }
  const visit = (id: string, depth: number, seen: Set<string>) => {
    if (seen.has(id)) return
    seen.add(id)
    lines.push(`${"  ".repeat(depth)}${depth === 0 ? "" : "└─ "}${id}  ${describe(byId.get(id))}`)
    for (const child of graph.children.get(id as Session.SessionId) ?? []) visit(child, depth + 1, seen)
  }
  const seen = new Set<string>()
  for (const root of SessionGraph.roots(graph)) visit(root, 0, seen)
  return lines.join("\n")
}
