/**
 * The run server: the HttpApi (api.ts, handlers.ts) behind the guard (guard.ts), the page at
 * `/`, on a Node HTTP server.
 *
 * @internal
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import type * as SessionStore from "../../SessionStore.js"
import * as Viewer from "../../Viewer.js"
import * as Api from "./api.js"
import * as Guard from "./guard.js"
import * as Handlers from "./handlers.js"
import * as Runs from "./runs.js"

/** A token of 32 random bytes (hex), drawn from the `Random` service in effect. */
export const generateToken: Effect.Effect<Redacted.Redacted<string>> = Effect.map(
  Effect.all(Array.from({ length: 32 }, () => Random.nextIntBetween(0, 256))),
  (bytes) => Redacted.make(bytes.map((b) => b.toString(16).padStart(2, "0")).join(""))
)

/** HttpApi's own 400 (a body or parameter its schema refuses) in the `{ error, reason }` form. */
const decodeErrors = HttpApiBuilder.middleware((app) =>
  Effect.catchAll(
    app as unknown as Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, never>,
    (error) =>
      Predicate.isTagged(error, "HttpApiDecodeError")
        ? HttpServerResponse.json({
          error: `bad request: ${(error as unknown as Error).message}`,
          reason: "BadRequest"
        }, {
          status: 400
        })
        : Effect.fail(error)
  ) as any
)

export interface Listening {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly token: Redacted.Redacted<string>
}

/** Starts the server for the scope. */
export const make = (options: {
  readonly store: SessionStore.Service
  readonly workflows: ReadonlyArray<Runs.Registered>
  readonly context: Context.Context<never>
  readonly host: string
  readonly port: number
  readonly title: string
  readonly token: Redacted.Redacted<string> | undefined
}): Effect.Effect<Listening, HttpServerError.ServeError | SessionStore.SessionStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const token = options.token ?? (yield* generateToken)
    const runs = yield* Runs.make({ store: options.store, workflows: options.workflows, context: options.context })
    const apiLayer = HttpApiBuilder.api(Api.Api).pipe(
      Layer.provide(Handlers.layer({ store: options.store, runs, token }))
    )
    const built = yield* Layer.build(
      Layer.mergeAll(apiLayer, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer, decodeErrors).pipe(
        Layer.provideMerge(HttpApiBuilder.Middleware.layer)
      )
    )
    const apiApp = yield* Effect.provide(HttpApiBuilder.httpApp, built)
    const html = Viewer.page({ title: options.title })
    const page = Effect.succeed(HttpServerResponse.html(html))
    const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const path = request.url.split("?")[0]
      return (path === "/" || path === "/index.html") && (request.method === "GET" || request.method === "HEAD")
        ? page
        : apiApp
    }).pipe(HttpIncomingMessage.withMaxBodySize(Option.some(Guard.MAX_BODY_BYTES)))
    const server = yield* NodeHttpServer.make(() => createServer({ maxHeaderSize: Guard.MAX_HEADER_BYTES }), {
      host: options.host,
      port: options.port
    })
    const port = server.address._tag === "TcpAddress" ? server.address.port : options.port
    yield* server.serve(Guard.guard({ host: options.host, port })(app)).pipe(
      Effect.provide(NodeHttpServer.layerContext),
      Effect.provide(built)
    )
    const shown = options.host.includes(":") ? `[${options.host}]` : options.host
    return { url: `http://${shown}:${port}/`, host: options.host, port, token }
  })
