/**
 * The run server's HttpApi: every endpoint and schema of the contract (notes/contract-17.md).
 * Handlers live in `handlers.ts`; the OpenAPI document is `OpenApi.fromApi(Api)`.
 *
 * @internal
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"

// -----------------------------------------------------------------------------
// errors: `{ error, reason }` with a status
// -----------------------------------------------------------------------------

const errorFields = {
  /** What went wrong, for a person. */
  error: Schema.String,
  /** A stable code. */
  reason: Schema.String
}

/** 400: the request is malformed (a body, a query parameter). */
export class BadRequest
  extends Schema.TaggedError<BadRequest>()("BadRequest", errorFields, HttpApiSchema.annotations({ status: 400 }))
{}

/** 401: a write without the server's bearer token. */
export class Unauthorized
  extends Schema.TaggedError<Unauthorized>()("Unauthorized", errorFields, HttpApiSchema.annotations({ status: 401 }))
{}

/** 404: no such session, entry, run, workflow or approval. */
export class NotFound
  extends Schema.TaggedError<NotFound>()("NotFound", errorFields, HttpApiSchema.annotations({ status: 404 }))
{}

/** 409: the request conflicts with the state (a run that already ended, say). */
export class Conflict
  extends Schema.TaggedError<Conflict>()("Conflict", errorFields, HttpApiSchema.annotations({ status: 409 }))
{}

/** 500: the store failed. */
export class Internal
  extends Schema.TaggedError<Internal>()("Internal", errorFields, HttpApiSchema.annotations({ status: 500 }))
{}

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/** An entry in its wire form (the `Entry` Schema encoded). */
export const EncodedEntry = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  identifier: "EncodedEntry"
})

export const Usage = Schema.Struct({ input: Schema.Number, output: Schema.Number })

export const SessionStatus = Schema.Literal("running", "done", "failed", "interrupted", "waiting", "idle")

export const SessionSummary = Schema.Struct({
  id: Schema.String,
  name: Schema.NullOr(Schema.String),
  parents: Schema.Array(Schema.String),
  entries: Schema.Number,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  run: Schema.NullOr(Schema.String),
  agents: Schema.Array(Schema.String),
  tools: Schema.Array(Schema.String),
  failedChecks: Schema.Number,
  usage: Usage,
  status: SessionStatus
}).annotations({ identifier: "SessionSummary" })
export type SessionSummary = typeof SessionSummary.Type

export const SessionPage = Schema.Struct({
  items: Schema.Array(SessionSummary),
  next: Schema.NullOr(Schema.String),
  total: Schema.Number
})

export const SessionDetail = Schema.Struct({
  summary: SessionSummary,
  entries: Schema.Array(EncodedEntry)
})

export const TimelineItem = Schema.Struct({
  kind: Schema.Literal("model", "tool", "memory", "check"),
  entry: Schema.String,
  index: Schema.Number,
  label: Schema.String,
  agent: Schema.NullOr(Schema.String),
  at: Schema.String,
  latencyMs: Schema.NullOr(Schema.Number),
  tokens: Schema.NullOr(Usage),
  cost: Schema.NullOr(Schema.Number),
  ok: Schema.Boolean,
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "TimelineItem" })
export type TimelineItem = typeof TimelineItem.Type

export const CallView = Schema.Struct({
  entry: Schema.String,
  messages: Schema.Array(Schema.Struct({
    role: Schema.String,
    content: Schema.String,
    toolCalls: Schema.optional(Schema.Array(Schema.Unknown))
  })),
  tools: Schema.Array(Schema.String),
  options: Schema.Unknown,
  verified: Schema.Boolean
})

export const Diff = Schema.Struct({
  common: Schema.Number,
  a: Schema.Array(EncodedEntry),
  b: Schema.Array(EncodedEntry)
})

export const Graph = Schema.Unknown.annotations({
  identifier: "Graph",
  description: "Viewer.layout output: { width, height, nodes, edges }"
})

export const RunStatus = Schema.Literal("running", "waiting", "done", "failed", "interrupted")
export type RunStatus = typeof RunStatus.Type

export const RunInfo = Schema.Struct({
  id: Schema.String,
  workflow: Schema.String,
  status: RunStatus,
  session: Schema.String,
  result: Schema.NullOr(Schema.String),
  startedAt: Schema.String,
  endedAt: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String)
}).annotations({ identifier: "RunInfo" })
export type RunInfo = typeof RunInfo.Type

export const WorkflowInfo = Schema.Struct({ name: Schema.String, description: Schema.String })

export const Approval = Schema.Struct({
  id: Schema.String,
  run: Schema.String,
  session: Schema.String,
  tool: Schema.String,
  call: Schema.String,
  arguments: Schema.Unknown,
  requestedAt: Schema.String
}).annotations({ identifier: "Approval" })
export type Approval = typeof Approval.Type

export const StartRun = Schema.Struct({
  workflow: Schema.String,
  session: Schema.optional(Schema.String),
  input: Schema.optional(Schema.String)
})

export const Answer = Schema.Struct({
  decision: Schema.Literal("approve", "reject"),
  reason: Schema.optional(Schema.String),
  arguments: Schema.optional(Schema.Unknown)
})

export const ForkRequest = Schema.Struct({
  entry: Schema.String,
  message: Schema.optional(Schema.String),
  workflow: Schema.optional(Schema.String)
})

export const Forked = Schema.Struct({ session: Schema.String, run: Schema.NullOr(RunInfo) })

const Items = <S extends Schema.Schema.Any>(item: S) => Schema.Struct({ items: Schema.Array(item) })

/** An SSE stream (text/event-stream), described for the OpenAPI document. */
const EventStream = Schema.String.pipe(
  HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" })
)

const BooleanFromText = Schema.Literal("true", "false")

// -----------------------------------------------------------------------------
// security
// -----------------------------------------------------------------------------

/** Writes carry `Authorization: Bearer <token>`, the token printed once at start. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("rath/Server/Authorization", {
  failure: Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

// -----------------------------------------------------------------------------
// groups
// -----------------------------------------------------------------------------

const id = HttpApiSchema.param("id", Schema.String)
const entry = HttpApiSchema.param("entry", Schema.String)

export class Sessions extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.get("list", "/sessions").setUrlParams(Schema.Struct({
      cursor: Schema.optional(Schema.String),
      limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500))),
      q: Schema.optional(Schema.String),
      agent: Schema.optional(Schema.String),
      tool: Schema.optional(Schema.String),
      failed: Schema.optional(BooleanFromText),
      since: Schema.optional(Schema.String),
      until: Schema.optional(Schema.String),
      run: Schema.optional(Schema.String)
    })).addSuccess(SessionPage)
  )
  .add(HttpApiEndpoint.get("get")`/sessions/${id}`.addSuccess(SessionDetail))
  .add(HttpApiEndpoint.get("timeline")`/sessions/${id}/timeline`.addSuccess(Items(TimelineItem)))
  .add(HttpApiEndpoint.get("call")`/sessions/${id}/calls/${entry}`.addSuccess(CallView))
  .add(
    HttpApiEndpoint.post("fork")`/sessions/${id}/fork`.setPayload(ForkRequest).addSuccess(Forked, { status: 201 })
      .middleware(Authorization)
  )
  .add(
    HttpApiEndpoint.get("diff", "/diff").setUrlParams(Schema.Struct({ a: Schema.String, b: Schema.String }))
      .addSuccess(Diff)
  )
  .add(
    HttpApiEndpoint.get("graph", "/graph").setUrlParams(Schema.Struct({
      ids: Schema.optional(Schema.String),
      run: Schema.optional(Schema.String),
      cursor: Schema.optional(Schema.String),
      limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 500)))
    })).addSuccess(Graph)
  )
  .add(HttpApiEndpoint.get("events", "/events").addSuccess(EventStream))
  .annotate(OpenApi.Description, "Stored sessions: paging, detail, timeline, explain, diff, graph, fork")
{}

export class Runs extends HttpApiGroup.make("runs")
  .add(HttpApiEndpoint.get("workflows", "/workflows").addSuccess(Items(WorkflowInfo)))
  .add(
    HttpApiEndpoint.post("start", "/runs").setPayload(StartRun).addSuccess(RunInfo, { status: 201 }).middleware(
      Authorization
    )
  )
  .add(
    HttpApiEndpoint.get("list", "/runs").setUrlParams(Schema.Struct({ status: Schema.optional(RunStatus) }))
      .addSuccess(Items(RunInfo))
  )
  .add(HttpApiEndpoint.get("get")`/runs/${id}`.addSuccess(RunInfo))
  .add(
    HttpApiEndpoint.get("events")`/runs/${id}/events`.setUrlParams(
      Schema.Struct({ format: Schema.optional(Schema.Literal("rath", "ui")) })
    ).addSuccess(EventStream)
  )
  .add(HttpApiEndpoint.post("interrupt")`/runs/${id}/interrupt`.addSuccess(RunInfo).middleware(Authorization))
  .annotate(OpenApi.Description, "Runs of registered workflows: start, follow (SSE), interrupt")
{}

export class Approvals extends HttpApiGroup.make("approvals")
  .add(HttpApiEndpoint.get("list", "/approvals").addSuccess(Items(Approval)))
  .add(
    HttpApiEndpoint.post("answer")`/approvals/${id}`.setPayload(Answer).addSuccess(
      Schema.Struct({ ok: Schema.Literal(true) })
    ).middleware(Authorization)
  )
  .annotate(OpenApi.Description, "Tool calls waiting for a person (human in the loop)")
{}

export class Meta extends HttpApiGroup.make("meta")
  .add(HttpApiEndpoint.get("openapi", "/openapi.json").addSuccess(Schema.Unknown))
{}

/** The run server's API, every path under `/api`. */
export class Api extends HttpApi.make("rath")
  .add(Sessions)
  .add(Runs)
  .add(Approvals)
  .add(Meta)
  .addError(BadRequest)
  .addError(NotFound)
  .addError(Conflict)
  .addError(Internal)
  .prefix("/api")
  .annotate(OpenApi.Title, "rath run server")
  .annotate(
    OpenApi.Description,
    "Runs of registered workflows over HTTP, their events over SSE, approvals, and the stored sessions"
  )
{}
