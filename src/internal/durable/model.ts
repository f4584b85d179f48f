/**
 * The errors and requests of durable runs (public through `rath/Durable`).
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Approval from "../../Approval.js"
import type * as Session from "../../Session.js"
import type * as Workflow from "../../Workflow.js"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why a durable run could not be submitted, driven or finished.
 *
 * - `UnknownWorkflow`: no workflow of that name is registered (see {@link define}).
 * - `InvalidRequest`: the run request does not match {@link RunRequest} (`detail` says where).
 * - `WorkspaceUnreachable`: the run's workspace directory is not there under the workspace root
 *   (storage the runners share is not mounted, or the directory was never made); the step fails
 *   rather than run in an empty directory.
 * - `StepFailed`: a step of the workflow failed (`step` names its position, `detail` its error).
 * - `StoreFailed`: the `SessionStore` could not save or load a step's session.
 * - `NotFound`: no run has that execution id.
 * - `Interrupted`: the run was interrupted ({@link interrupt}).
 *
 * @since 0.2.0
 * @category errors
 */
export class DurableError extends Schema.TaggedError<DurableError>("rath/DurableError")("DurableError", {
  reason: Schema.Literal(
    "UnknownWorkflow",
    "InvalidRequest",
    "WorkspaceUnreachable",
    "StepFailed",
    "StoreFailed",
    "NotFound",
    "Interrupted"
  ),
  detail: Schema.String,
  workflow: Schema.optional(Schema.String),
  executionId: Schema.optional(Schema.String),
  step: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    const where = [
      this.workflow === undefined ? undefined : `workflow ${this.workflow}`,
      this.executionId === undefined ? undefined : `run ${this.executionId}`,
      this.step === undefined ? undefined : `step ${this.step}`
    ].filter((part) => part !== undefined).join(", ")
    return where === "" ? `${this.reason}: ${this.detail}` : `${this.reason} (${where}): ${this.detail}`
  }
}

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * A run request: the user message that starts the run, an optional workspace (a directory name
 * under the configured workspace root, which must exist) and an optional idempotency key (the
 * same key submits the same run once).
 *
 * @since 0.2.0
 * @category models
 */
export const RunRequest = Schema.Struct({
  prompt: Schema.String.pipe(Schema.minLength(1)),
  workspace: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/))),
  key: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)))
})

/**
 * @since 0.2.0
 * @category models
 */
export interface RunRequest extends Schema.Schema.Type<typeof RunRequest> {}

/**
 * A named workflow a runner can run.
 *
 * @since 0.2.0
 * @category models
 */
export interface Definition<R = never> {
  readonly name: string
  readonly step: Workflow.Step<any, R>
}

/**
 * Where a run is.
 *
 * - `Running`: submitted, not finished (it may be waiting for a runner).
 * - `Suspended`: waiting on something from outside (an approval: see {@link approve}).
 * - `Done`: finished; `sessionId` is the result's session in the `SessionStore`.
 * - `Failed`: finished with an error.
 *
 * @since 0.2.0
 * @category models
 */
export type Status =
  | { readonly _tag: "Running"; readonly executionId: string }
  | { readonly _tag: "Suspended"; readonly executionId: string }
  | { readonly _tag: "Done"; readonly executionId: string; readonly sessionId: string }
  | { readonly _tag: "Failed"; readonly executionId: string; readonly error: DurableError }

/**
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** Starts a run of the workflow registered as `name`; returns its execution id. */
  readonly submit: (name: string, input: unknown) => Effect.Effect<string, DurableError>
  /** Where the run is. */
  readonly poll: (executionId: string) => Effect.Effect<Status, DurableError>
  /** Waits for the run to finish and returns its result session. */
  readonly wait: (executionId: string) => Effect.Effect<Session.Session, DurableError>
  /** Interrupts the run. */
  readonly interrupt: (executionId: string) => Effect.Effect<void, DurableError>
  /** Answers the approval a tool call of the run waits for. */
  readonly approve: (
    executionId: string,
    callId: string,
    decision: Approval.Decision
  ) => Effect.Effect<void, DurableError>
}
