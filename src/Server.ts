/**
 * The run server: workflows registered with it run over HTTP, on an `@effect/platform` HttpApi
 * whose OpenAPI document is served at `/api/openapi.json`.
 *
 * - Runs: `POST /api/runs` starts a registered workflow on a new or stored session;
 *   `GET /api/runs/:id/events` streams its entries as they are saved, its approvals and status
 *   changes as server-sent events (`id:` a sequence number from 1, `Last-Event-ID` resumes;
 *   `?format=ui` streams the AI SDK UI message stream instead); `POST /api/runs/:id/interrupt`.
 * - Approvals (human in the loop): a tool that `needsApproval` waits until
 *   `POST /api/approvals/:id` approves, rejects or edits the call.
 * - Sessions: paged and filtered lists, a session's entries, its timeline, what a model call was
 *   sent, a diff of two sessions, the lineage graph, and a fork at an entry re-run with an edited
 *   message (time travel).
 *
 * Every run is saved as it goes (`Resume.persist`) and recorded in the store, so a server started
 * over the same store resumes the runs a stopped one left in flight: an agent from where it was
 * cut (see `Resume`), another workflow from its start.
 *
 * Security: binds 127.0.0.1 unless told otherwise; every write (`POST`) needs
 * `Authorization: Bearer <token>`, a token of 32 random bytes drawn at start from the `Random`
 * service (provide a cryptographic one, as `rath serve` does), kept `Redacted` and never written to
 * the store; `Host` and `Origin` checks refuse DNS rebinding and cross-site requests; request
 * bodies above 64 KiB and URLs above 8 KiB are refused. Errors are `{ "error", "reason" }` JSON.
 *
 * @since 0.2.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as api from "./internal/server/api.js"
import * as server from "./internal/server/server.js"
import * as SessionStore from "./SessionStore.js"
import * as Workflow from "./Workflow.js"

/**
 * The HttpApi the server implements (for `HttpApiClient` or `OpenApi.fromApi`).
 *
 * @since 0.2.0
 * @category api
 */
export const Api = api.Api

/**
 * The server could not start.
 *
 * - `Listen`: the address is taken or not allowed.
 * - `Store`: the store could not be read to find the runs in flight.
 * - `DuplicateWorkflow`: two registered workflows have the same name.
 *
 * @since 0.2.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>("rath/ServerError")("ServerError", {
  reason: Schema.Literal("Listen", "Store", "DuplicateWorkflow"),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  /**
   * @since 0.2.0
   */
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options<R> {
  /** The workflows (or agents) runs may start, by name (`Workflow.nameOf`). */
  readonly workflows?: ReadonlyArray<Workflow.Step<any, R>> | undefined
  /** Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Default `0`: a free port. */
  readonly port?: number | undefined
  /** The page title. */
  readonly title?: string | undefined
  /** The bearer token; default: 32 random bytes from the `Random` service. */
  readonly token?: Redacted.Redacted<string> | undefined
}

/**
 * A listening server.
 *
 * @since 0.2.0
 * @category models
 */
export interface Server {
  /** `http://host:port/`. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** The bearer token writes need. Show it once (`url#token=...`); never log it. */
  readonly token: Redacted.Redacted<string>
}

/**
 * Starts the server for the scope, over the `SessionStore` in context; the workflows run with the
 * context of the caller (their provider and other services). Closing the scope stops the runs in
 * flight without recording an end, so the next server over the store resumes them.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <R = never>(
  options?: Options<R>
): Effect.Effect<Server, ServerError, Scope.Scope | SessionStore.SessionStore | R> =>
  Effect.gen(function*() {
    const store = yield* SessionStore.SessionStore
    const context = yield* Effect.context<R>()
    const workflows = (options?.workflows ?? []).map((step) => ({
      name: Workflow.nameOf(step),
      description: Workflow.descriptionOf(step),
      step: step as Workflow.Step<unknown, never>
    }))
    const names = new Set<string>()
    for (const workflow of workflows) {
      if (names.has(workflow.name)) {
        return yield* new ServerError({
          reason: "DuplicateWorkflow",
          detail: `two workflows are named ${workflow.name}: give each a name of its own (Workflow.make)`
        })
      }
      names.add(workflow.name)
    }
    return yield* server.make({
      store,
      workflows,
      context: context as Context.Context<never>,
      host: options?.host ?? "127.0.0.1",
      port: options?.port ?? 0,
      title: options?.title ?? "rath",
      token: options?.token
    }).pipe(
      Effect.mapError((cause) =>
        cause._tag === "SessionStoreError"
          ? new ServerError({ reason: "Store", detail: cause.message, cause })
          : new ServerError({
            reason: "Listen",
            detail: `cannot listen on ${options?.host ?? "127.0.0.1"}:${options?.port ?? 0}`,
            cause
          })
      )
    )
  })

/**
 * The address to print once at start: the URL with the token in its fragment (a fragment is not
 * sent to the server, and the page moves it out of the address bar).
 *
 * @since 0.2.0
 * @category getters
 */
export const tokenUrl = (self: Server, token: string): string => `${self.url}#token=${token}`
