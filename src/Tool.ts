/**
 * What a model can call: a name, a description, parameters as an Effect `Schema` (the JSON Schema
 * the model sees is generated from it) and a handler that runs as an Effect.
 *
 * Running a tool never crashes the caller: invalid JSON, arguments that do not match the schema,
 * an unknown tool, a failing handler or a timeout each become a typed {@link Outcome} failure that
 * the agent loop hands back to the model.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context_ from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as JSONSchema from "effect/JSONSchema"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { ParseOptions } from "effect/SchemaAST"
import * as Scope from "effect/Scope"
import * as Approval from "./Approval.js"
import type * as Entry from "./Entry.js"
import * as ToolNow from "./internal/toolNow.js"
import * as Trace from "./internal/trace.js"
import type * as Placement from "./Placement.js"
import * as Provider from "./Provider.js"
import * as Sandbox from "./Sandbox.js"
import type * as Session from "./Session.js"

/**
 * @since 0.1.0
 * @category errors
 */
export class ToolError extends Schema.TaggedError<ToolError>("rath/ToolError")("ToolError", {
  reason: Schema.Literal("DuplicateTool", "Failed"),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/**
 * What a tool's `resource` function gets: the calling session, the call id, and the two recorders
 * (a `resource` function computes a key before the call runs, so it gets no sandbox).
 *
 * @since 0.1.0
 * @category models
 */
export interface CallContext {
  readonly session: Session.Session
  readonly callId: string
  readonly toolName: string
  /** Records an observable effect (a file written, a process run). */
  readonly recordEffect: (effect: Entry.ToolEffect) => Effect.Effect<void>
  /**
   * Records the sandbox the tool ran in. {@link Context.sandbox} does this by itself; call it only
   * for a sandbox reached some other way.
   */
  readonly recordSandbox: (placement: Placement.Placement) => Effect.Effect<void>
}

/**
 * What a handler gets besides its arguments: the calling session, the call id, the session's
 * sandbox, and two recorders whose contents go into the tool-result entry as evidence.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context extends CallContext {
  /**
   * The handle of the calling session's sandbox (`Sandbox.handleFor(session)`), opened the first
   * time a handler runs it and held until the call ends; later runs in the same call give the same
   * handle. Running it records the sandbox's placement on the tool result, so the result says where
   * the tool ran. A handler that never runs it opens nothing. Fails with reason `NoPlacement` when
   * the session has no placement.
   */
  readonly sandbox: Effect.Effect<Sandbox.Handle, Sandbox.SandboxError, Sandbox.Sandbox>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Tool<in out Args = any, out R = any> {
  readonly name: string
  readonly description: string
  readonly parameters: Schema.Schema<Args, any>
  /** The JSON Schema the model sees: inline, no `$ref` (a recursive schema keeps `$defs`, see {@link jsonSchemaOf}). */
  readonly jsonSchema: Record<string, unknown>
  /** Safe to run concurrently with other calls of the same turn (default true). */
  readonly parallel: boolean
  /** The resource a call touches; calls on one resource run in order. */
  readonly resource?: ((args: Args, context: CallContext) => string | undefined) | undefined
  /** Re-running a call gives the same result and no extra effect (resume may re-run it). */
  readonly idempotent: boolean
  /** The call needs approval before it runs. */
  readonly needsApproval: boolean | ((args: Args) => boolean)
  readonly timeout?: Duration.Duration | undefined
  readonly handler: (args: Args, context: Context) => Effect.Effect<unknown, unknown, R>
}

/**
 * The requirements of a tool or tools.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements<T> = T extends Tool<any, infer R> ? R : never

/**
 * Makes the JSON Schema that models are shown for a parameters schema: plain, inline JSON Schema
 * (no `$ref`/`$defs`), right for OpenAI, Anthropic and MCP. Only a recursive schema, which cannot
 * be inlined, keeps `$defs` for the `$ref`s that point into it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const jsonSchemaOf = (schema: Schema.Schema.Any): Record<string, unknown> => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const json = JSONSchema.fromAST(schema.ast, {
    definitions,
    topLevelReferenceStrategy: "skip",
    target: "jsonSchema2020-12"
  }) as unknown as Record<string, unknown>
  const { $schema: _, ...rest } = json
  // A recursive schema cannot be inlined: keep the definitions its `$ref`s point to.
  return JSON.stringify(rest).includes("\"$ref\"") && Object.keys(definitions).length > 0
    ? { ...rest, $defs: definitions }
    : rest
}

/**
 * Defines a tool.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Tool } from "rath"
 *
 * const add = Tool.make({
 *   name: "add",
 *   description: "Adds two numbers",
 *   parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   handler: ({ a, b }) => Effect.succeed(a + b)
 * })
 * ```
 */
export const make = <Args, I, E, R>(options: {
  readonly name: string
  readonly description: string
  readonly parameters: Schema.Schema<Args, I>
  readonly handler: (args: Args, context: Context) => Effect.Effect<unknown, E, R>
  readonly parallel?: boolean | undefined
  readonly resource?: ((args: Args, context: CallContext) => string | undefined) | undefined
  readonly idempotent?: boolean | undefined
  readonly needsApproval?: boolean | ((args: Args) => boolean) | undefined
  readonly timeout?: Duration.DurationInput | undefined
  /** Overrides the generated JSON Schema (MCP tools pass their server's schema through). */
  readonly jsonSchema?: Record<string, unknown> | undefined
}): Tool<Args, R> => ({
  name: options.name,
  description: options.description,
  parameters: options.parameters,
  jsonSchema: options.jsonSchema ?? jsonSchemaOf(options.parameters),
  parallel: options.parallel ?? true,
  resource: options.resource,
  idempotent: options.idempotent ?? false,
  needsApproval: options.needsApproval ?? false,
  timeout: options.timeout === undefined ? undefined : Duration.decode(options.timeout),
  handler: options.handler
})

/**
 * The definition a provider sends to the model.
 *
 * @since 0.1.0
 * @category getters
 */
export const definition = (tool: Tool): Provider.ToolDefinition => ({
  name: tool.name,
  description: tool.description,
  parameters: tool.jsonSchema
})

// -----------------------------------------------------------------------------
// toolkit
// -----------------------------------------------------------------------------

/**
 * A set of tools with unique names.
 *
 * @since 0.1.0
 * @category models
 */
export interface Toolkit<R = never> {
  readonly tools: ReadonlyMap<string, Tool<any, R>>
  readonly definitions: ReadonlyArray<Provider.ToolDefinition>
}

/**
 * Combines tools (or toolkits); two tools with one name is a `ToolError` with reason
 * `DuplicateTool`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toolkit = <const T extends ReadonlyArray<Tool<any, any> | Toolkit<any>>>(
  ...items: T
): Either.Either<Toolkit<ToolkitRequirements<T[number]>>, ToolError> => {
  const tools = new Map<string, Tool<any, any>>()
  for (const item of items) {
    const list = "tools" in item ? Array.from(item.tools.values()) : [item]
    for (const tool of list) {
      if (tools.has(tool.name)) {
        return Either.left(new ToolError({ reason: "DuplicateTool", detail: `two tools are named "${tool.name}"` }))
      }
      tools.set(tool.name, tool)
    }
  }
  return Either.right({ tools, definitions: Array.from(tools.values(), definition) })
}

/**
 * @since 0.1.0
 * @category models
 */
export type ToolkitRequirements<T> = T extends Toolkit<infer R> ? R : T extends Tool<any, infer R> ? R : never

/**
 * @since 0.1.0
 * @category constructors
 */
export const emptyToolkit: Toolkit<never> = { tools: new Map(), definitions: [] }

// -----------------------------------------------------------------------------
// running
// -----------------------------------------------------------------------------

/**
 * What running one tool call produced: its JSON output or a typed error, and the evidence.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly callId: string
  readonly toolName: string
  readonly output: unknown
  readonly error?: Entry.ToolError | undefined
  readonly durationMs: number
  readonly effects: ReadonlyArray<Entry.ToolEffect>
  readonly sandbox?: Placement.Placement | undefined
  /** The decision on a call that needed approval. */
  readonly approval?: Entry.Approval | undefined
}

/**
 * The largest output kept whole, in characters of JSON. Larger outputs are cut (see {@link run}).
 *
 * @since 0.1.0
 * @category models
 */
export const DEFAULT_MAX_OUTPUT_CHARS = 64 * 1024

const errorMessage = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

/**
 * Encodes a handler's value as JSON, cutting it to `maxChars`: an oversized output becomes
 * `{ truncated: true, originalChars, preview }` where `preview` is the start of its JSON text,
 * so the result stays valid JSON and says it was cut.
 *
 * @since 0.1.0
 * @category combinators
 */
export const toJsonOutput = (value: unknown, maxChars: number = DEFAULT_MAX_OUTPUT_CHARS): unknown => {
  // a string, a finite number, a boolean or null is its own JSON value: no round trip (a string
  // longer than the cap is truncated as its JSON text is)
  if (value === null || typeof value === "boolean") return value
  if (typeof value === "number") return Number.isFinite(value) ? (value === 0 ? 0 : value) : null
  if (typeof value === "string" && value.length + 2 <= maxChars && isPlainJsonString(value)) return value
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (cause) {
    return { unserializable: true, detail: String(cause) }
  }
  if (text === undefined) return null
  if (text.length <= maxChars) return JSON.parse(text)
  return { truncated: true, originalChars: text.length, preview: text.slice(0, maxChars) }
}

// a string whose JSON text is itself in quotes (no character to escape), so that its length + 2
// is its JSON length and the cap is applied exactly as to its JSON text
const isPlainJsonString = (value: string): boolean => {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false
  }
  return true
}

/**
 * Runs one tool call from a toolkit: parses the raw argument text (empty means `{}`), decodes it
 * with the tool's schema, runs the handler (with the tool's or the given timeout) and encodes the
 * result. Never fails: every problem is an `Outcome` with an `error` of kind `unknown_tool`,
 * `invalid_arguments`, `tool_failed` or `timeout`. Interruption propagates. The call is an
 * `execute_tool {tool}` span when a tracer listens (in an agent, the executor runs it inside the
 * agent's own `execute_tool` span instead).
 *
 * @since 0.1.0
 * @category combinators
 */
export const run = <R>(
  toolkit: Toolkit<R>,
  call: Entry.ToolCall,
  options: {
    readonly session: Session.Session
    readonly timeout?: Duration.DurationInput | undefined
    readonly maxOutputChars?: number | undefined
    /** Replaces the call's arguments (an approver's edit). */
    readonly arguments?: unknown
  }
): Effect.Effect<Outcome, never, R> =>
  Trace.withSpan(
    runUntraced(toolkit, call, options),
    () => `execute_tool ${call.name}`,
    (context) => ({
      kind: "internal",
      captureStackTrace: false,
      attributes: Trace.toolAttributes(call, {
        description: toolkit.tools.get(call.name)?.description,
        sessionId: options.session.id,
        agent: undefined,
        content: Trace.capturing(context)
      })
    }),
    (outcome, context) => Trace.toolResult(outcome, Trace.capturing(context))
  )

// the default executor runs a call without a span of its own: an agent's `execute_tool` span is it
const runUntraced = <R>(
  toolkit: Toolkit<R>,
  call: Entry.ToolCall,
  options: RunOptions
): Effect.Effect<Outcome, never, R> =>
  // the fiber's clock read once, its time taken without an effect (this runs on every tool call;
  // an effect per clock read was a measurable share of it)
  Effect.withFiberRuntime((fiber): Effect.Effect<Outcome, never, R> => lift(runOn(fiber, toolkit, call, options)))

/** An outcome reached at once, as an effect; an effect as it is. */
const lift = <R>(ran: Outcome | Effect.Effect<Outcome, never, R>): Effect.Effect<Outcome, never, R> =>
  Effect.isEffect(ran) ? ran : Effect.succeed(ran)

type Running = ToolNow.Running

type ToolErrorResult = { readonly output: null; readonly error: Entry.ToolError }

/**
 * One call run from code already running on `fiber`: the outcome itself when it is known at once
 * (an unknown tool, invalid arguments, or a handler whose effect is already its result, as
 * `Effect.succeed(value)` is, and no timeout), else the effect that runs the handler and settles it.
 */
const runOn = <R>(
  fiber: Running,
  toolkit: Toolkit<R>,
  call: Entry.ToolCall,
  options: RunOptions
): Outcome | Effect.Effect<Outcome, never, R> => {
  const clock = Context_.get(fiber.currentDefaultServices, Clock.Clock)
  const started = clock.unsafeCurrentTimeMillis()
  const tool = toolkit.tools.get(call.name)
  if (tool === undefined) {
    const known = Array.from(toolkit.tools.keys()).join(", ")
    return failed(call, clock, started, {
      output: null,
      error: {
        kind: "unknown_tool",
        message: `no tool named "${call.name}"; the tools are: ${known === "" ? "none" : known}`
      }
    })
  }
  let raw: unknown
  if ("arguments" in options) {
    raw = options.arguments
  } else if (call.parsed !== undefined) {
    raw = call.parsed
  } else {
    // bounded: text nested too deep is refused before it is parsed
    const parsed = Provider.parseArgumentsEither(call.arguments)
    if (Either.isLeft(parsed)) return failed(call, clock, started, invalid(parsed.left))
    raw = parsed.right
  }
  if (!isFlat(raw) && !Provider.argumentsWithinDepth(raw)) {
    return failed(
      call,
      clock,
      started,
      invalid(`the arguments nest deeper than ${Provider.MAX_ARGUMENT_DEPTH} levels`)
    )
  }
  // decoded stopping at the first error; only invalid arguments are decoded again for every error
  // (what the model is told to fix)
  const decoded = decoderOf(tool)(raw, firstError)
  if (Either.isLeft(decoded)) {
    const all = decoderOf(tool)(raw, allErrors)
    return failed(
      call,
      clock,
      started,
      invalid(ParseResult.TreeFormatter.formatErrorSync(Either.isLeft(all) ? all.left : decoded.left))
    )
  }
  const state = new CallState(call, options, clock, started)
  const timeout = options.timeout === undefined ? tool.timeout : Duration.decode(options.timeout)
  const handled = tool.handler(decoded.right, state.context())
  // a handler whose effect is already its result (`Effect.succeed(value)`) ran nothing: it opened
  // no sandbox and nothing can interrupt it, so it is settled at once (with a timeout it is raced
  // against the clock as any handler is)
  if (timeout === undefined && Exit.isExit(handled)) return state.settle(handled, undefined)
  // without a timeout the handler's value is taken as it is (no Option around it)
  const timed: Effect.Effect<unknown, unknown, R> = timeout === undefined
    ? handled
    : Effect.timeoutOption(handled, timeout)
  // the sandbox the call held is released on every exit, an interruption from outside included
  // (a timed-out handler has been interrupted by then); the handler alone runs interruptibly, and
  // its exit is settled in the same step (an `onExit`, an `exit` and a `flatMap` were eleven
  // effects per call)
  return Effect.uninterruptibleMask((restore) =>
    Effect.matchCauseEffect(restore(timed), {
      onFailure: (cause) => state.release(Exit.failCause(cause), timeout),
      onSuccess: (value) => state.release(Exit.succeed(value), timeout)
    })
  )
}

/**
 * Arguments that are a value or an object (or array) of values only: within any depth limit, known
 * without the general check (which allocates a map and a list per object; most calls are flat).
 */
const isFlat = (raw: unknown): boolean => {
  if (typeof raw !== "object" || raw === null) return true
  for (const key in raw) {
    const value = (raw as Record<string, unknown>)[key]
    if (typeof value === "object" && value !== null) return false
  }
  return true
}

const firstError: ParseOptions = { onExcessProperty: "ignore" }
const allErrors: ParseOptions = { errors: "all", onExcessProperty: "ignore" }

// a tool's decoder, made once per parameters schema (`Schema.decodeUnknownEither` builds one per call)
const decoders = new WeakMap<
  Schema.Schema<any, any>,
  (u: unknown, options?: ParseOptions) => Either.Either<any, ParseResult.ParseError>
>()
const decoderOf = (tool: Tool): (u: unknown, options?: ParseOptions) => Either.Either<any, ParseResult.ParseError> => {
  let decoder = decoders.get(tool.parameters)
  if (decoder === undefined) {
    decoder = Schema.decodeUnknownEither(tool.parameters)
    decoders.set(tool.parameters, decoder)
  }
  return decoder
}

const invalid = (message: string): ToolErrorResult => ({
  output: null,
  error: { kind: "invalid_arguments", message }
})

/** The outcome of a call that ran nothing (no effects, no sandbox). */
const failed = (call: Entry.ToolCall, clock: Clock.Clock, started: number, result: ToolErrorResult): Outcome => ({
  callId: call.id,
  toolName: call.name,
  output: result.output,
  error: result.error,
  durationMs: clock.unsafeCurrentTimeMillis() - started,
  effects: []
})

/**
 * One running call: what its handler recorded (effects, the sandbox it ran in), the sandbox scope it
 * holds, and its settling. A class rather than closures: one object per call.
 */
class CallState {
  readonly effects: Array<Entry.ToolEffect> = []
  sandbox: Placement.Placement | undefined = undefined
  // the sandbox handle is opened on first use and held in `scope` until the call ends; a call
  // that never asks for it runs no extra effect
  scope: Scope.CloseableScope | undefined = undefined
  handle: Sandbox.Handle | undefined = undefined
  constructor(
    readonly call: Entry.ToolCall,
    readonly options: RunOptions,
    readonly clock: Clock.Clock,
    readonly started: number
  ) {}

  context(): Context {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    const { call, options } = this
    // plain data (an object literal with a getter is made by the runtime in a slow mode, about
    // twenty times the cost): `sandbox` is one effect that opens the handle when it runs
    return {
      session: options.session,
      callId: call.id,
      toolName: call.name,
      recordEffect: (effect) => Effect.sync(() => void self.effects.push(effect)),
      recordSandbox: (placement) => Effect.sync(() => void (self.sandbox = placement)),
      sandbox: Effect.suspend(() => self.openSandbox())
    }
  }

  /** The sandbox handle: opened on first use (run when `context.sandbox` runs). */
  openSandbox(): Effect.Effect<Sandbox.Handle, Sandbox.SandboxError, Sandbox.Sandbox> {
    if (this.handle !== undefined) return Effect.succeed(this.handle)
    const held = this.scope === undefined
      ? Effect.flatMap(Scope.make(), (made) => {
        if (this.scope === undefined) return Effect.succeed(this.scope = made)
        // a concurrent first use made one already: keep that one
        const kept = this.scope
        return Effect.as(Scope.close(made, Exit.void), kept)
      })
      : Effect.succeed(this.scope)
    return Effect.flatMap(
      held,
      (into) =>
        Effect.map(Scope.extend(Sandbox.handleFor(this.options.session), into), (opened) => {
          // two concurrent first uses both open one (both held by the scope): both get the first
          const handle = this.handle ??= opened
          this.sandbox = handle.placement
          return handle
        })
    )
  }

  outcome(output: unknown, error: Entry.ToolError | undefined): Outcome {
    const durationMs = this.clock.unsafeCurrentTimeMillis() - this.started
    const { call } = this
    const out: { -readonly [K in keyof Outcome]: Outcome[K] } = error === undefined
      ? { callId: call.id, toolName: call.name, output, durationMs, effects: this.effects }
      : { callId: call.id, toolName: call.name, output, error, durationMs, effects: this.effects }
    if (this.sandbox !== undefined) out.sandbox = this.sandbox
    return out
  }

  /** The outcome of the handler's exit (an interruption goes on). */
  settle(exit: Exit.Exit<unknown, unknown>, timeout: Duration.Duration | undefined): Outcome | Effect.Effect<never> {
    if (exit._tag === "Success") {
      if (timeout === undefined) return this.outcome(toJsonOutput(exit.value, this.options.maxOutputChars), undefined)
      const value = exit.value as Option.Option<unknown>
      return value._tag === "None"
        ? this.outcome(null, {
          kind: "timeout",
          message: `the tool did not finish within ${Duration.format(timeout)}`
        })
        : this.outcome(toJsonOutput(value.value, this.options.maxOutputChars), undefined)
    }
    if (Cause.isInterruptedOnly(exit.cause)) return Effect.interrupt
    const failure = Cause.failureOption(exit.cause)
    const message = Option.isSome(failure)
      ? errorMessage(failure.value)
      : `the tool died: ${Cause.pretty(exit.cause, { renderErrorCause: false })}`
    return this.outcome(null, { kind: "tool_failed", message })
  }

  /** Closes the sandbox scope the call held, if any, then settles the exit. */
  release(exit: Exit.Exit<unknown, unknown>, timeout: Duration.Duration | undefined): Effect.Effect<Outcome> {
    if (this.scope === undefined) return lift(this.settle(exit, timeout))
    return Effect.zipRight(Scope.close(this.scope, exit), Effect.suspend(() => lift(this.settle(exit, timeout))))
  }
}

/**
 * Whether a call needs approval.
 *
 * @since 0.1.0
 * @category getters
 */
export const requiresApproval = (tool: Tool, args: unknown): boolean =>
  typeof tool.needsApproval === "function" ? tool.needsApproval(args) : tool.needsApproval

// -----------------------------------------------------------------------------
// execution
// -----------------------------------------------------------------------------

/**
 * Options of one tool execution.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  readonly session: Session.Session
  /** Who asks (an agent's name): what an approver is told. */
  readonly agent?: string | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxOutputChars?: number | undefined
  /** Replaces the call's arguments (an approver's edit). */
  readonly arguments?: unknown
}

/**
 * How tool calls are executed. The default decides approval (see {@link approving}) and runs the
 * tool ({@link run}); `Replay` swaps in an executor that returns recorded results (approval
 * decisions included) without running anything or asking anyone.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecutorService {
  readonly execute: <R>(
    toolkit: Toolkit<R>,
    call: Entry.ToolCall,
    options: RunOptions
  ) => Effect.Effect<Outcome, never, R>
}

/**
 * An executor that decides approval before `execute` runs a call: a call of a tool whose
 * `needsApproval` holds for its (valid) arguments is put to the `Approval` service in effect, and
 * is run as asked (approve), run with other arguments (edit) or not run (reject: a `rejected`
 * outcome with the reason). The decision is recorded on the outcome. With no approval policy
 * provided, `Approval.none` rejects: approval fails closed. Calls that need no approval, and
 * calls whose arguments do not decode (the run reports them), go straight to `execute`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const approving =
  (execute: ExecutorService["execute"]): ExecutorService["execute"] =>
  <R>(toolkit: Toolkit<R>, call: Entry.ToolCall, options: RunOptions): Effect.Effect<Outcome, never, R> => {
    const tool = toolkit.tools.get(call.name)
    if (tool === undefined || tool.needsApproval === false) return execute(toolkit, call, options)
    const raw: Either.Either<unknown, string> = "arguments" in options
      ? Either.right(options.arguments)
      : argumentsOf(call)
    const decoded: Either.Either<unknown, unknown> = Either.isLeft(raw)
      ? raw
      : decoderOf(tool)(raw.right, firstError)
    if (Either.isLeft(decoded) || !requiresApproval(tool, decoded.right)) return execute(toolkit, call, options)
    return Effect.flatMap(Approval.Approval, (approver) =>
      Effect.flatMap(
        approver.decide({
          agent: options.agent ?? "",
          sessionId: options.session.id,
          call,
          arguments: decoded.right
        }),
        (decision): Effect.Effect<Outcome, never, R> => {
          const approval = Approval.toEntry(decision)
          if (decision._tag === "Reject") {
            return Effect.succeed({
              callId: call.id,
              toolName: call.name,
              output: null,
              error: { kind: "rejected", message: `the call was rejected: ${decision.reason}` },
              durationMs: 0,
              effects: [],
              approval
            })
          }
          const edited = decision._tag === "Edit" ? { ...options, arguments: decision.arguments } : options
          return Effect.map(execute(toolkit, call, edited), (outcome): Outcome => ({ ...outcome, approval }))
        }
      ))
  }

// the arguments as the run will see them (bounded in depth: a too deep value is left to the run,
// which reports it as invalid arguments)
const argumentsOf = (call: Entry.ToolCall): Either.Either<unknown, string> =>
  call.parsed !== undefined
    ? Provider.argumentsWithinDepth(call.parsed) ? Either.right(call.parsed) : Either.left("too deep")
    : Provider.parseArgumentsEither(call.arguments)

/**
 * The current tool executor: a `Context.Reference`, so nothing needs providing for the default
 * ({@link approving} around running the tool).
 *
 * @since 0.1.0
 * @category tags
 */
export class Executor extends Context_.Reference<Executor>()("rath/Tool/Executor", {
  defaultValue: (): ExecutorService => defaultExecutor
}) {}

// The default executor: `approving` around running the tool.
const defaultExecutor: ExecutorService = { execute: approving(runUntraced) }

// What the default executor does with one call, done at once by code already running on `fiber`
// where it can be: the outcome itself when the call needs no approval and its outcome is known
// without running an effect (see `runOn`), else the effect that executes it. An agent runs its
// calls through this when the default executor is in effect (found with `ToolNow.runNowOf`).
const runNow: ToolNow.RunNow = (fiber, toolkit, call, options) => {
  const tool = toolkit.tools.get(call.name)
  return tool !== undefined && tool.needsApproval !== false
    ? defaultExecutor.execute(toolkit, call, options)
    : runOn(fiber, toolkit, call, options)
}
ToolNow.register(defaultExecutor, runNow)

/**
 * Executes a tool call with the current {@link Executor}: the one path every tool call of an
 * agent takes (approval, running, recording), so that replays can stand in for all of it.
 *
 * @since 0.1.0
 * @category combinators
 */
export const execute = <R>(
  toolkit: Toolkit<R>,
  call: Entry.ToolCall,
  options: RunOptions
): Effect.Effect<Outcome, never, R> =>
  // the executor read from the fiber's context in the same step (this runs on every tool call)
  Effect.withFiberRuntime((fiber) => {
    const executor = Context_.get(fiber.currentContext, Executor)
    // the default executor's run done in this same step where it can be (see `runNow`)
    return executor === defaultExecutor
      ? lift(runNow(fiber, toolkit, call, options))
      : executor.execute(toolkit, call, options)
  })
