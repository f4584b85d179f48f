/**
 * The handlers of the run server's HttpApi (see `api.ts`).
 *
 * @internal
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Approval from "../../Approval.js"
import * as Entry from "../../Entry.js"
import * as Session from "../../Session.js"
import type * as SessionStore from "../../SessionStore.js"
import * as Viewer from "../../Viewer.js"
import * as Api from "./api.js"
import type * as Runs from "./runs.js"
import * as Sessions from "./sessions.js"

/** What the handlers work on. */
export interface Deps {
  readonly store: SessionStore.Service
  readonly runs: Runs.Manager
  readonly token: Redacted.Redacted<string>
}

const fromStore = (error: SessionStore.SessionStoreError): Api.NotFound | Api.Internal =>
  error.reason === "NotFound"
    ? new Api.NotFound({ error: error.message, reason: "NotFound" })
    : new Api.Internal({ error: error.message, reason: error.reason })

const fromRuns = (failure: Runs.Failure): Api.NotFound | Api.Conflict | Api.Internal =>
  failure._tag === "NotFound"
    ? new Api.NotFound({ error: failure.error, reason: "NotFound" })
    : failure._tag === "Conflict"
    ? new Api.Conflict({ error: failure.error, reason: "Conflict" })
    : new Api.Internal({ error: failure.error, reason: "Store" })

const badQuery = (error: Sessions.InvalidQuery) => new Api.BadRequest({ error: error.detail, reason: "InvalidQuery" })

const digest = (text: string) => createHash("sha256").update(text).digest()

/** Whether `given` is the token, in time that does not depend on where they differ. */
export const tokenMatches = (token: Redacted.Redacted<string>, given: Redacted.Redacted<string>): boolean =>
  timingSafeEqual(digest(Redacted.value(token)), digest(Redacted.value(given))) &&
  Redacted.value(given).length > 0

/** The bearer check of every write. */
export const layerAuthorization = (token: Redacted.Redacted<string>) =>
  Layer.succeed(Api.Authorization, {
    bearer: (given) =>
      tokenMatches(token, given) ? Effect.void : Effect.fail(
        new Api.Unauthorized({
          error: "this request changes something: send Authorization: Bearer <token>, the token printed at start",
          reason: "Unauthorized"
        })
      )
  })

const encoder = new TextEncoder()

/** One server-sent event. */
const sse = (id: number, event: string, data: unknown) =>
  encoder.encode(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

const sseResponse = (body: Stream.Stream<Uint8Array>) =>
  HttpServerResponse.stream(
    // a comment first, so the client knows at once that the stream is open
    Stream.concat(Stream.make(encoder.encode(": rath\n\n")), body),
    {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
    }
  )

/** The AI SDK UI chunks of a run's events (`?format=ui`). */
const uiChunks = (events: Stream.Stream<Runs.RunEvent>): Stream.Stream<unknown> => {
  const encode = (event: Runs.RunEvent): ReadonlyArray<unknown> => {
    if (event.event === "approval") {
      const approval = event.data as Api.Approval
      return [{ type: "tool-approval-request", approvalId: approval.id, toolCallId: approval.call }]
    }
    if (event.event === "end") {
      const status = (event.data as { status: string }).status
      return [{ type: "finish", finishReason: status === "done" ? "stop" : status === "failed" ? "error" : "other" }]
    }
    if (event.event !== "entry") return []
    const entry = (event.data as { entry: Entry.Encoded }).entry
    if (entry._tag === "Assistant") {
      const id = `text-${entry.id}`
      return [
        { type: "start-step" },
        ...(entry.text === "" ? [] : [
          { type: "text-start", id },
          { type: "text-delta", id, delta: entry.text },
          { type: "text-end", id }
        ]),
        ...entry.toolCalls.map((call) => ({
          type: "tool-input-available",
          toolCallId: call.id,
          toolName: call.name,
          input: call.parsed ?? call.arguments
        })),
        { type: "finish-step" }
      ]
    }
    if (entry._tag === "ToolResult") {
      return [
        entry.error === undefined
          ? { type: "tool-output-available", toolCallId: entry.callId, output: entry.output }
          : { type: "tool-output-error", toolCallId: entry.callId, errorText: entry.error.message }
      ]
    }
    return []
  }
  return Stream.concat(Stream.make({ type: "start" }), Stream.mapConcat(events, encode))
}

const lastEventId = (headers: Readonly<Record<string, string | undefined>>) => {
  const value = Number(headers["last-event-id"] ?? "0")
  return Number.isSafeInteger(value) && value > 0 ? value : 0
}

/** The handler layers of every group. */
export const layer = (deps: Deps) => {
  const { runs, store } = deps
  const views = Sessions.make(store, () => runs)
  const load = (id: string) => Effect.mapError(store.load(id), fromStore)
  const workflow = (name: string) =>
    Option.match(Option.fromNullable(runs.workflows.find((w) => w.name === name)), {
      onNone: () =>
        Effect.fail(
          new Api.NotFound({
            error: `no workflow ${JSON.stringify(name)} is registered (registered: ${
              runs.workflows.map((w) => w.name).join(", ") || "none: start the server with --module"
            })`,
            reason: "UnknownWorkflow"
          })
        ),
      onSome: Effect.succeed
    })

  const sessions = HttpApiBuilder.group(Api.Api, "sessions", (handlers) =>
    handlers
      .handle("list", ({ urlParams }) =>
        views.page(urlParams).pipe(
          Effect.catchTags({
            InvalidQuery: (e) => Effect.fail(badQuery(e)),
            SessionStoreError: (e) => Effect.fail(fromStore(e))
          })
        ))
      .handle("get", ({ path }) => Effect.mapError(views.detail(path.id), fromStore))
      .handle("timeline", ({ path }) => Effect.map(load(path.id), (session) => ({ items: Sessions.timeline(session) })))
      .handle("call", ({ path }) =>
        Effect.flatMap(load(path.id), (session) => {
          const view = Sessions.callView(session, path.entry)
          return view === undefined
            ? Effect.fail(
              new Api.NotFound({
                error: `session ${path.id} has no model call ${path.entry}`,
                reason: "UnknownEntry"
              })
            )
            : Effect.succeed(view)
        }))
      .handle("fork", ({ path, payload }) =>
        Effect.gen(function*() {
          const registered = payload.workflow === undefined ? undefined : yield* workflow(payload.workflow)
          const session = yield* load(path.id)
          const fork = yield* Sessions.forkAt(session, payload.entry, payload.message)
          if (Option.isNone(fork)) {
            return yield* Effect.fail(
              new Api.NotFound({ error: `session ${path.id} has no entry ${payload.entry}`, reason: "UnknownEntry" })
            )
          }
          yield* Effect.mapError(store.save(fork.value), fromStore)
          const run = registered === undefined
            ? null
            : yield* Effect.mapError(runs.start(registered, fork.value), fromRuns)
          return { session: fork.value.id, run }
        }))
      .handle("diff", ({ urlParams }) =>
        Effect.map(Effect.all([load(urlParams.a), load(urlParams.b)]), ([a, b]) => Sessions.diff(a, b)))
      .handle("graph", ({ urlParams }) =>
        Effect.gen(function*() {
          const all = yield* Effect.mapError(store.list({}), fromStore)
          let rows: ReadonlyArray<SessionStore.Summary>
          if (urlParams.ids !== undefined) {
            const ids = new Set(
              urlParams.ids.split(",").map((id) =>
                id.trim()
              ).filter((id) => id !== "")
            )
            rows = all.filter((row) => ids.has(row.id))
          } else if (urlParams.run !== undefined) {
            const run = urlParams.run
            rows = all.filter((row) => runs.runOf(row.id) === run)
          } else {
            const page = yield* views.page({ cursor: urlParams.cursor, limit: urlParams.limit }).pipe(
              Effect.catchTags({
                InvalidQuery: (e) => Effect.fail(badQuery(e)),
                SessionStoreError: (e) => Effect.fail(fromStore(e))
              })
            )
            const ids = new Set(page.items.map((item) => item.id))
            rows = all.filter((row) => ids.has(row.id))
          }
          return Viewer.layout(rows.map((row) => ({
            id: row.id,
            parents: row.lineage.parents,
            operation: row.lineage.operation,
            label: `${row.lineage.operation}${row.lineage.by === undefined ? "" : ` · ${row.lineage.by.name}`}`,
            status: runs.statusOf(row.id) ?? "idle"
          })))
        }))
      .handle("events", () =>
        Effect.succeed(sseResponse(
          runs.storeEvents.pipe(
            Stream.zipWithIndex,
            Stream.map(([event, i]) => sse(i + 1, event.event, event.data))
          )
        ))))

  const runsGroup = HttpApiBuilder.group(Api.Api, "runs", (handlers) =>
    handlers
      .handle("workflows", () =>
        Effect.succeed({ items: runs.workflows.map((w) => ({ name: w.name, description: w.description })) }))
      .handle("start", ({ payload }) =>
        Effect.gen(function*() {
          const registered = yield* workflow(payload.workflow)
          let session = payload.session === undefined
            ? yield* (payload.input === undefined ? Session.empty() : Session.fromUserMessage(payload.input))
            : yield* load(payload.session)
          if (payload.session !== undefined && payload.input !== undefined) {
            session = yield* Session.append(session, Entry.user(payload.input))
          }
          return yield* Effect.mapError(runs.start(registered, session), fromRuns)
        }))
      .handle("list", ({ urlParams }) =>
        Effect.succeed({ items: runs.list(urlParams.status) }))
      .handle("get", ({ path }) =>
        Option.match(runs.get(path.id), {
          onNone: () => Effect.fail(new Api.NotFound({ error: `no run ${path.id}`, reason: "NotFound" })),
          onSome: Effect.succeed
        }))
      .handle("events", ({ path, request, urlParams }) => {
        const after = lastEventId(request.headers)
        return Option.match(runs.events(path.id, urlParams.format === "ui" ? 0 : after), {
          onNone: () => Effect.fail(new Api.NotFound({ error: `no run ${path.id}`, reason: "NotFound" })),
          onSome: (events) =>
            Effect.succeed(
              urlParams.format === "ui"
                ? sseResponse(
                  uiChunks(events).pipe(
                    Stream.map((chunk) => encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`)),
                    Stream.concat(Stream.make(encoder.encode("data: [DONE]\n\n")))
                  )
                ).pipe(HttpServerResponse.setHeader("x-vercel-ai-ui-message-stream", "v1"))
                : sseResponse(events.pipe(Stream.map((event) => sse(event.seq, event.event, event.data))))
            )
        })
      })
      .handle("interrupt", ({ path }) => Effect.mapError(runs.interrupt(path.id), fromRuns)))

  const approvals = HttpApiBuilder.group(Api.Api, "approvals", (handlers) =>
    handlers
      .handle("list", () => Effect.succeed({ items: runs.approvals() }))
      .handle("answer", ({ path, payload }) =>
        Effect.gen(function*() {
          const decision = payload.decision === "reject"
            ? Approval.reject(payload.reason ?? "rejected over HTTP", "http")
            : payload.arguments === undefined
            ? Approval.approve("http")
            : Approval.edit(payload.arguments, {
              by: "http",
              ...(payload.reason === undefined ? {} : { reason: payload.reason })
            })
          const answered = yield* runs.answer(path.id, decision)
          if (!answered) {
            return yield* Effect.fail(new Api.NotFound({ error: `no pending approval ${path.id}`, reason: "NotFound" }))
          }
          return { ok: true as const }
        })))

  const spec = OpenApi.fromApi(Api.Api)
  const meta = HttpApiBuilder.group(
    Api.Api,
    "meta",
    (handlers) => handlers.handle("openapi", () => Effect.succeed(spec))
  )

  return Layer.mergeAll(sessions, runsGroup, approvals, meta).pipe(Layer.provideMerge(layerAuthorization(deps.token)))
}
