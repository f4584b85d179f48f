/**
 * `rath serve` answers only requests meant for it: a `Host` that does not name it (DNS
 * rebinding), a cross-site request, a body, a long URL or a mutating method get a 4xx JSON error;
 * listening beyond loopback prints a warning. Real HTTP on 127.0.0.1, headers set by hand.
 */
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { assert, describe, it } from "@effect/vitest"
import type { Console } from "effect"
import { Effect, Option, Redacted } from "effect"
import * as Http from "node:http"
import * as Os from "node:os"
import { IdGenerator, Session } from "rath"
import * as Serve from "../src/cli/Serve.js"

interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** One request with exactly these headers (fetch cannot set `Host`). */
const request = (
  port: number,
  options: {
    readonly path?: string
    readonly method?: string
    readonly headers?: Record<string, string>
    readonly body?: string
  }
) =>
  Effect.async<Answer, Error>((resume) => {
    const req = Http.request({
      host: "127.0.0.1",
      port,
      path: options.path ?? "/api/sessions",
      method: options.method ?? "GET",
      headers: { host: `127.0.0.1:${port}`, ...options.headers }
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on("end", () =>
        resume(Effect.succeed({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8")
        })))
    })
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end(options.body)
  })

/** Serves one session (a JSONL directory) for the scope; the port it listens on, and what it printed. */
const serving = (host: string) =>
  Effect.gen(function*() {
    const session = yield* Session.fromUserMessage("the secret plan").pipe(
      Effect.provideService(IdGenerator.IdGenerator, IdGenerator.sequential())
    )
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "rath-serve-" })
    yield* fs.writeFileString(`${dir}/one.jsonl`, Session.toJsonl(session))
    const printed: Array<string> = []
    const base = yield* Effect.console
    const hear = (...parts: ReadonlyArray<unknown>) => Effect.sync(() => void printed.push(parts.join(" ")))
    const capture: Console.Console = { ...base, log: hear, error: hear }
    const server = yield* Serve.run({
      target: Option.some(dir),
      store: `${dir}/unused.db`,
      module: Option.none(),
      host,
      port: 0
    }).pipe(Effect.withConsole(capture))
    return { port: server.port, printed, session, token: Redacted.value(server.token) }
  }).pipe(Effect.provide(NodeContext.layer))

const refused = (answer: Answer, status: number, reason: string) => {
  assert.strictEqual(answer.status, status, answer.body)
  assert.strictEqual(JSON.parse(answer.body).reason, reason)
  assert.notInclude(answer.body, "s_0", "a refusal shows no session")
}

describe("rath serve: who may ask", () => {
  it.scopedLive("answers its own names; refuses another Host (DNS rebinding) with a 403", () =>
    Effect.gen(function*() {
      const { port, printed } = yield* serving("127.0.0.1")
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
        const answer = yield* request(port, { headers: { host } })
        assert.strictEqual(answer.status, 200, host)
        assert.include(answer.body, "s_0")
        assert.strictEqual(JSON.parse(answer.body).total, 1)
        assert.strictEqual(answer.headers["x-content-type-options"], "nosniff")
        assert.strictEqual(answer.headers["cache-control"], "no-store")
      }
      // a rebinding page: its own name, resolving to 127.0.0.1, on the served port
      refused(yield* request(port, { headers: { host: `attacker.example:${port}` } }), 403, "HostNotAllowed")
      refused(yield* request(port, { path: "/", headers: { host: `attacker.example:${port}` } }), 403, "HostNotAllowed")
      refused(yield* request(port, { headers: { host: `127.0.0.1:${port + 1}` } }), 403, "HostNotAllowed")
      refused(yield* request(port, { headers: { host: "127.0.0.1" } }), 403, "HostNotAllowed")
      refused(yield* request(port, { headers: { host: `localhost.attacker.example:${port}` } }), 403, "HostNotAllowed")
      assert.isFalse(printed.some((line) => line.includes("warning")), printed.join("\n"))
      // the address with the token, printed once
      const { token } = yield* Effect.succeed({ token: /#token=([0-9a-f]{64})/.exec(printed.join("\n"))?.[1] })
      assert.isDefined(token)
      assert.strictEqual(printed.filter((line) => line.includes("#token=")).length, 1)
    }))

  it.scopedLive("refuses cross-site requests, bodies, long URLs and every mutating method", () =>
    Effect.gen(function*() {
      const { port } = yield* serving("127.0.0.1")
      const same = yield* request(port, {
        headers: { origin: `http://127.0.0.1:${port}`, "sec-fetch-site": "same-origin" }
      })
      assert.strictEqual(same.status, 200)
      refused(yield* request(port, { headers: { origin: "http://attacker.example" } }), 403, "CrossOrigin")
      refused(yield* request(port, { headers: { origin: `http://localhost:${port}` } }), 403, "CrossOrigin")
      refused(yield* request(port, { headers: { origin: "null" } }), 403, "CrossOrigin")
      refused(yield* request(port, { headers: { "sec-fetch-site": "cross-site" } }), 403, "CrossOrigin")
      refused(yield* request(port, { headers: { "sec-fetch-site": "same-site" } }), 403, "CrossOrigin")
      for (const method of ["PUT", "DELETE", "PATCH"]) {
        refused(yield* request(port, { method }), 405, "MethodNotAllowed")
      }
      // a write with no token or a wrong one
      refused(
        yield* request(port, {
          method: "POST",
          path: "/api/runs",
          headers: { "content-type": "application/json" },
          body: "{}"
        }),
        401,
        "Unauthorized"
      )
      refused(
        yield* request(port, {
          method: "POST",
          path: "/api/runs",
          headers: { "content-type": "application/json", authorization: "Bearer nope" },
          body: JSON.stringify({ workflow: "x" })
        }),
        401,
        "Unauthorized"
      )
      refused(
        yield* request(port, {
          method: "POST",
          path: "/api/runs",
          headers: { "content-length": String(70 * 1024) },
          body: "x".repeat(70 * 1024)
        }),
        413,
        "TooLarge"
      )
      refused(
        yield* request(port, { headers: { "content-length": "100" }, body: "x".repeat(100) }),
        413,
        "TooLarge"
      )
      refused(
        yield* request(port, { path: `/api/sessions/${"a".repeat(Serve.MAX_URL_LENGTH)}` }),
        414,
        "UrlTooLong"
      )
      // the server is still fine
      assert.strictEqual((yield* request(port, {})).status, 200)
    }))

  it.scopedLive("--host 0.0.0.0 warns; IP literals and the machine's name pass, other names do not", () =>
    Effect.gen(function*() {
      const { port, printed } = yield* serving("0.0.0.0")
      assert.isTrue(
        printed.some((line) => /warning: listening on 0\.0\.0\.0.*every session/.test(line)),
        printed.join("\n")
      )
      assert.strictEqual((yield* request(port, { headers: { host: `192.168.7.9:${port}` } })).status, 200)
      assert.strictEqual((yield* request(port, { headers: { host: `${Os.hostname()}:${port}` } })).status, 200)
      refused(yield* request(port, { headers: { host: `attacker.example:${port}` } }), 403, "HostNotAllowed")
    }))

  it("hostAllowed: the bound host by name, ports compared exactly", () => {
    const bound = { host: "my-box.lan", port: 7777 }
    assert.isTrue(Serve.hostAllowed("my-box.lan:7777", bound))
    assert.isTrue(Serve.hostAllowed("localhost:7777", bound))
    assert.isFalse(Serve.hostAllowed("my-box.lan:77770", bound))
    assert.isFalse(Serve.hostAllowed("10.0.0.1:7777", bound))
    assert.isFalse(Serve.hostAllowed(undefined, bound))
    // a browser leaves the default port out of Host
    assert.isTrue(Serve.hostAllowed("localhost", { host: "127.0.0.1", port: 80 }))
    assert.isFalse(Serve.hostAllowed("localhost", bound))
    assert.isTrue(Serve.hostAllowed("[::1]:7777", { host: "::1", port: 7777 }))
    assert.isFalse(Serve.isLoopback("0.0.0.0"))
    assert.isTrue(Serve.isLoopback("127.0.0.1"))
  })
})
