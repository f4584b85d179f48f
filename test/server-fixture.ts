/**
 * The run server under test: a real HTTP server on 127.0.0.1 over an in-memory store, an agent on
 * the scripted provider, and fetch/SSE helpers speaking the real wire format.
 */
import { Effect, Redacted, Schema } from "effect"
import type { Provider } from "rath"
import { Agent, Scripted, Server, SessionStore, Tool } from "rath"

/** Gates the `wait` tool: a run calling it waits until `release` is called. */
export const gate = () => {
  let open = false
  const waiters: Array<() => void> = []
  return {
    wait: Effect.async<void>((resume) => {
      if (open) resume(Effect.void)
      else waiters.push(() => resume(Effect.void))
    }),
    release: () => {
      open = true
      for (const w of waiters.splice(0)) w()
    }
  }
}

export const makeAgents = (g: ReturnType<typeof gate>) => {
  const echo = Agent.make({ name: "echo", description: "answers with the user's text" })
  const wait = Tool.make({
    name: "wait",
    description: "waits until the test lets it go",
    parameters: Schema.Struct({}),
    idempotent: true,
    handler: () => Effect.as(g.wait, { waited: true })
  })
  const waiter = Agent.make({ name: "waiter", description: "calls wait, then answers", tools: [wait] })
  const transfer = Tool.make({
    name: "transfer",
    description: "moves money",
    parameters: Schema.Struct({ amount: Schema.Number }),
    needsApproval: true,
    handler: ({ amount }) => Effect.succeed({ sent: amount })
  })
  const treasurer = Agent.make({ name: "treasurer", description: "pays, with approval", tools: [transfer] })
  return { echo, waiter, treasurer }
}

const lastUser = (request: Provider.Request) => {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const m = request.messages[i]!
    if (m._tag === "User") return m.text
  }
  return ""
}

/** The script: tool-using agents call their tool once, then every agent answers `echo: <user text>`. */
export const script = (request: Provider.Request): Scripted.Step => {
  const last = request.messages[request.messages.length - 1]
  const tools = (request.tools ?? []).map((t) => t.name)
  if (last?._tag !== "ToolResult" && tools.includes("wait")) return Scripted.toolCall("wait", {})
  if (last?._tag !== "ToolResult" && tools.includes("transfer")) return Scripted.toolCall("transfer", { amount: 30 })
  return Scripted.reply(`echo: ${lastUser(request)}`)
}

export const TOKEN = Redacted.make("t0ken-for-tests")

/** Starts a server over `store` for the scope. */
export const serve = (store: SessionStore.Service, g = gate()) => {
  const { echo, treasurer, waiter } = makeAgents(g)
  return Server.make({ workflows: [echo, waiter, treasurer], token: TOKEN }).pipe(
    Effect.provideService(SessionStore.SessionStore, store),
    Effect.provide(Scripted.layer(script))
  )
}

export interface Answer {
  readonly status: number
  readonly body: any
  readonly headers: Headers
}

/** One JSON request; writes carry the token unless `token: null`. */
export const call = (
  server: Server.Server,
  path: string,
  options?: { readonly method?: string; readonly body?: unknown; readonly token?: string | null }
) =>
  Effect.promise(async (): Promise<Answer> => {
    const method = options?.method ?? (options?.body === undefined ? "GET" : "POST")
    const token = options?.token === undefined ? Redacted.value(TOKEN) : options.token
    const response = await fetch(new URL(path, server.url), {
      method,
      headers: {
        ...(options?.body === undefined ? {} : { "content-type": "application/json" }),
        ...(token === null || method === "GET" ? {} : { authorization: `Bearer ${token}` })
      },
      ...(options?.body === undefined ? {} : { body: JSON.stringify(options.body) })
    })
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON
    }
    return { status: response.status, body, headers: response.headers }
  })

export interface Sse {
  readonly id: number | undefined
  readonly event: string
  readonly data: any
}

/** Reads server-sent events until `until` holds for one (or the stream ends). */
export const events = (
  server: Server.Server,
  path: string,
  options?: { readonly lastEventId?: number; readonly until?: (event: Sse) => boolean }
) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(new URL(path, server.url), {
      headers: options?.lastEventId === undefined ? {} : { "last-event-id": String(options.lastEventId) },
      signal: controller.signal
    })
    const out: Array<Sse> = []
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffer = ""
    const until = options?.until ?? ((e: Sse) => e.event === "end")
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        buffer += decoder.decode(value, { stream: true })
        let cut: number
        while ((cut = buffer.indexOf("\n\n")) !== -1) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut + 2)
          let id: number | undefined
          let event = "message"
          const data: Array<string> = []
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) id = Number(line.slice(4))
            else if (line.startsWith("event: ")) event = line.slice(7)
            else if (line.startsWith("data: ")) data.push(line.slice(6))
          }
          if (data.length === 0) continue
          const text = data.join("\n")
          let parsed: unknown = text
          try {
            parsed = JSON.parse(text)
          } catch {
            // [DONE]
          }
          const e = { id, event, data: parsed }
          out.push(e)
          if (until(e)) {
            controller.abort()
            return out
          }
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error
    }
    return out
  })
