/**
 * A local HTTP server on 127.0.0.1 that speaks whatever a test scripts: JSON, text, SSE events,
 * a stream cut in the middle, or no answer at all. It records every request it received.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly raw: string
  readonly body: any
}

export type Reply =
  | { readonly status?: number; readonly headers?: Record<string, string>; readonly json: unknown }
  | { readonly status?: number; readonly headers?: Record<string, string>; readonly text: string }
  | {
    readonly headers?: Record<string, string>
    /** SSE frames, each already formatted ("data: ...\n\n"). */
    readonly sse: ReadonlyArray<string>
    /** Destroy the socket after the frames instead of ending the response. */
    readonly cut?: boolean
    /** Keep the response open after the frames (a stalled stream). */
    readonly hold?: boolean
  }
  | { readonly hang: true }
  | {
    readonly status?: number
    /** No content type is sent unless given here. */
    readonly headers?: Record<string, string>
    /** The body as it is (text or bytes), written in these pieces. */
    readonly raw: string | Uint8Array | ReadonlyArray<string | Uint8Array>
    /** After the body: end the response (default), keep it open (a stall), or destroy the socket. */
    readonly then?: "end" | "hold" | "destroy"
  }

export interface Server {
  readonly url: string
  readonly port: number
  readonly received: Array<Received>
  /** Requests whose connection closed before the server answered (aborted by the client). */
  readonly aborted: Array<string>
}

export const sse = (data: unknown, event?: string): string =>
  `${event === undefined ? "" : `event: ${event}\n`}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`

export const start = (
  handler: (request: Received, index: number) => Reply
): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; state: Server }>((resume) => {
      const received: Array<Received> = []
      const aborted: Array<string> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8")
          let body: any = undefined
          try {
            body = raw === "" ? undefined : JSON.parse(raw)
          } catch {
            body = raw
          }
          const request: Received = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw, body }
          received.push(request)
          const reply = handler(request, received.length - 1)
          if ("raw" in reply) {
            res.writeHead(reply.status ?? 200, { ...reply.headers })
            const pieces = typeof reply.raw === "string" || reply.raw instanceof Uint8Array ? [reply.raw] : reply.raw
            for (const piece of pieces) res.write(piece)
            if (reply.then === "hold") res.on("close", () => aborted.push(request.path))
            else if (reply.then === "destroy") setTimeout(() => res.socket?.destroy(), 30)
            else res.end()
            return
          }
          if ("hang" in reply) {
            res.on("close", () => aborted.push(request.path))
            return
          }
          if ("sse" in reply) {
            res.writeHead(200, { "content-type": "text/event-stream", ...reply.headers })
            for (const frame of reply.sse) res.write(frame)
            if (reply.cut === true) setTimeout(() => res.socket?.destroy(), 30)
            else if (reply.hold === true) res.on("close", () => aborted.push(request.path))
            else res.end()
            return
          }
          if ("json" in reply) {
            res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers })
            res.end(JSON.stringify(reply.json))
            return
          }
          res.writeHead(reply.status ?? 200, { "content-type": "text/html", ...reply.headers })
          res.end(reply.text)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port
        resume(Effect.succeed({
          server,
          state: { url: `http://127.0.0.1:${port}`, port, received, aborted }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ state }) => state))
