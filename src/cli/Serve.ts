/**
 * `rath serve`: the viewer page and a small JSON API over a session source, on an HTTP server
 * bound to 127.0.0.1 by default. The source is reopened on every request, so sessions written
 * while the server runs show up on reload.
 *
 * - `GET /`: the viewer page (every session of the source)
 * - `GET /api/sessions`: the lineage rows, as JSON
 * - `GET /api/graph`: the rows and edges, as JSON
 * - `GET /api/sessions/:id`: one session (header, usage, entries in wire form)
 * - `GET /api/sessions/:id/jsonl`: one session as JSONL
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import * as Session from "../Session.js"
import * as SessionGraph from "../SessionGraph.js"
import * as Viewer from "../Viewer.js"
import { CliError } from "./CliError.js"
import * as Render from "./Render.js"
import * as Source from "./Source.js"

/**
 * The HTTP routes over a source.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = <R>(open: Effect.Effect<Source.SessionSource, CliError, R>) => {
  const byId = Effect.gen(function*() {
    const { id } = yield* HttpRouter.params
    const source = yield* open
    return yield* source.load(id ?? "")
  })
  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/",
      Effect.gen(function*() {
        const source = yield* open
        const sessions = yield* Source.loadAll(source)
        return HttpServerResponse.html(Viewer.html(sessions, { title: `rath: ${source.label}` }))
      })
    ),
    HttpRouter.get(
      "/api/sessions",
      Effect.map(Effect.flatMap(open, (source) => source.list), (rows) => HttpServerResponse.unsafeJson(rows))
    ),
    HttpRouter.get(
      "/api/graph",
      Effect.map(
        Effect.flatMap(open, (source) => source.list),
        (rows) => HttpServerResponse.unsafeJson(Render.graphJson(SessionGraph.fromRows(rows)))
      )
    ),
    HttpRouter.get(
      "/api/sessions/:id",
      Effect.map(byId, (session) => HttpServerResponse.unsafeJson(Render.showJson(session)))
    ),
    HttpRouter.get(
      "/api/sessions/:id/jsonl",
      Effect.map(
        byId,
        (session) =>
          HttpServerResponse.text(Session.toJsonl(session), { contentType: "application/x-ndjson; charset=utf-8" })
      )
    ),
    HttpRouter.catchTag("CliError", (error) =>
      HttpServerResponse.json({ error: error.message, reason: error.reason }, {
        status: error.reason === "NotFound" ? 404 : error.reason === "InvalidData" ? 422 : 500
      }))
  )
}

const reasonOf = (cause: unknown): string => {
  const inner = typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : cause
  return inner instanceof Error ? inner.message : String(inner)
}

/**
 * The server as a layer: listens on `host:port` (port 0 picks a free one), prints the address,
 * and serves {@link router}. Its output includes the `HttpServer`, so callers can read the address.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R>(options: {
  readonly open: Effect.Effect<Source.SessionSource, CliError, R>
  readonly label: string
  readonly host: string
  readonly port: number
}) =>
  Layer.mergeAll(
    HttpServer.serve(router(options.open)),
    Layer.effectDiscard(
      HttpServer.addressFormattedWith((address) =>
        Console.log(`rath: serving ${options.label} at ${address} (Ctrl-C to stop)`)
      )
    )
  ).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: options.host, port: options.port })),
    Layer.mapError((cause) =>
      new CliError({
        reason: "Io",
        detail: `cannot listen on ${options.host}:${options.port} (${reasonOf(cause)}): pick another port with --port`,
        cause
      })
    )
  )
