/**
 * The UI message stream, read by the AI SDK's own client code (`ai` is a dev dependency only):
 * a rath chat endpoint on 127.0.0.1 answers `DefaultChatTransport`, `readUIMessageStream` builds
 * the message, `validateUIMessages` accepts what rath exports.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { assert, describe, it } from "@effect/vitest"
import { DefaultChatTransport, readUIMessageStream, type UIMessage, validateUIMessages } from "ai"
import { Effect, FastCheck as fc, Layer, Option, Queue, Schema, Stream } from "effect"
import { execFile } from "node:child_process"
import { createServer } from "node:http"
import { join } from "node:path"
import { Agent, Approval, Entry, Scripted, Session, Tool } from "rath"
import * as UiStream from "rath/UiStream"

const add = Tool.make({
  name: "add",
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const remove = Tool.make({
  name: "remove",
  description: "Removes a file",
  parameters: Schema.Struct({ path: Schema.String }),
  needsApproval: true,
  handler: ({ path }) => Effect.succeed({ removed: path })
})

const calculator = Agent.make({ name: "calculator", instructions: "Use add.", tools: [add, remove] })

const script = [
  { text: "Let me add.", reasoning: "2 and 3: use add", toolCalls: [{ name: "add", arguments: { a: 2, b: 3 } }] },
  Scripted.reply("2 + 3 = 5.", { chunks: ["2 + 3", " = ", "5."] })
]

/** Serves `app` on 127.0.0.1 (a free port) for the scope; returns its base URL. */
const serve = <E, R>(route: (router: HttpRouter.HttpRouter) => HttpRouter.HttpRouter<E, R>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
    const server = HttpServer.HttpServer
    const address = (yield* Effect.provide(server, context)).address
    yield* HttpServer.serveEffect(route(HttpRouter.empty)).pipe(Effect.provide(context))
    if (address._tag !== "TcpAddress") return yield* Effect.die("not a TCP server")
    return `http://127.0.0.1:${address.port}`
  })

/** A chat endpoint running `agent` on the scripted provider. */
const chatServer = <E>(
  agent: Agent.Agent<E, never>,
  steps: ReadonlyArray<Scripted.Step>,
  layer?: Layer.Layer<never>,
  options?: UiStream.RunOptions
) =>
  serve((router) =>
    HttpRouter.post(
      router,
      "/api/chat",
      UiStream.handler(agent, { onError: (error) => (error as Error).message, ...options }).pipe(
        Effect.provide(layer === undefined ? Scripted.layer(steps) : Layer.merge(Scripted.layer(steps), layer))
      )
    )
  )

const user = (id: string, text: string): UIMessage => ({ id, role: "user", parts: [{ type: "text", text }] })

/** Sends `messages` with the AI SDK's transport and reads the answer with its reader. */
const chat = (url: string, messages: Array<UIMessage>) =>
  Effect.promise(async () => {
    // as useChat does: a last assistant message is continued, not replaced
    const lastMessage = messages.at(-1)
    const message = lastMessage?.role === "assistant" ? structuredClone(lastMessage) : undefined
    const transport = new DefaultChatTransport({ api: `${url}/api/chat` })
    const stream = await transport.sendMessages({
      trigger: "submit-message",
      chatId: "chat-1",
      messageId: undefined,
      messages,
      abortSignal: undefined
    })
    const errors: Array<unknown> = []
    let last: UIMessage | undefined
    let states = 0
    for await (
      const next of readUIMessageStream({
        stream,
        onError: (error) => errors.push(error),
        ...(message ? { message } : {})
      })
    ) {
      last = next
      states++
    }
    return { message: last, errors, states }
  })

/** The raw server-sent events of one chat request. */
const rawChat = (url: string, body: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/api/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

const chunksOf = (sse: string): Array<{ readonly type: string } & Record<string, unknown>> =>
  sse.split("\n\n").filter((event) => event.startsWith("data: ") && event !== "data: [DONE]").map((event) =>
    JSON.parse(event.slice("data: ".length))
  )

const pick = (value: unknown, ...keys: Array<string>): Record<string, unknown> =>
  Object.fromEntries(keys.flatMap((key) => {
    const field = (value as Record<string, unknown>)[key]
    return field === undefined ? [] : [[key, field]]
  }))

/** What a model is sent for a session, without the entries' evidence (ids, authors, usage). */
const conversation = (session: Session.Session) =>
  Session.messages(session).map((message) =>
    pick(message, "_tag", "text", "reasoning", "toolCalls", "callId", "toolName", "output", "error")
  )

const partTypes = (message: UIMessage | undefined) => (message?.parts ?? []).map((part) => part.type)

describe("UiStream over HTTP, read by the AI SDK", () => {
  it.scoped("DefaultChatTransport and readUIMessageStream rebuild the run as one assistant message", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, script)
      const { errors, message, states } = yield* chat(url, [user("u1", "What is 2 + 3?")])
      assert.deepStrictEqual(errors, [])
      assert.isAbove(states, 5, "the message is built chunk by chunk")
      assert.strictEqual(message?.role, "assistant")
      assert.deepStrictEqual(partTypes(message), [
        "data-rath-session",
        "step-start",
        "reasoning",
        "text",
        "tool-add",
        "data-rath-usage",
        "step-start",
        "text"
      ])
      const parts = message!.parts
      assert.deepStrictEqual(pick(parts[2], "type", "text", "state"), {
        type: "reasoning",
        text: "2 and 3: use add",
        state: "done"
      })
      assert.deepStrictEqual(pick(parts[3], "type", "text", "state"), {
        type: "text",
        text: "Let me add.",
        state: "done"
      })
      const tool = parts[4] as { state: string; input: unknown; output: unknown; toolCallId: string }
      assert.strictEqual(tool.state, "output-available")
      assert.deepStrictEqual(tool.input, { a: 2, b: 3 })
      assert.strictEqual(tool.output, 5)
      assert.deepStrictEqual(pick(parts[7], "type", "text", "state"), {
        type: "text",
        text: "2 + 3 = 5.",
        state: "done"
      })
      // rath's data parts: the session id (updated at the end) and the usage of both calls
      const session = parts[0] as { data: UiStream.SessionData }
      assert.match(session.data.sessionId, /.+/)
      assert.strictEqual(session.data.agent, "calculator")
      assert.strictEqual(session.data.reason, "stop")
      const usage = parts[5] as { data: UiStream.UsageData }
      assert.strictEqual(usage.data.turn, 1)
      assert.strictEqual(
        usage.data.total.totalTokens,
        usage.data.usage.totalTokens + (yield* firstUsage(url)),
        "the total is both calls'"
      )
      // what the client built is a valid UIMessage, and rath imports it
      yield* Effect.promise(() => validateUIMessages({ messages: [user("u1", "What is 2 + 3?"), message!] }))
      const imported = yield* UiStream.toSession([user("u1", "What is 2 + 3?"), message!])
      const tags = Array.from(Session.transcript(imported), (entry) => entry._tag)
      assert.deepStrictEqual(tags, ["User", "Assistant", "ToolResult", "Assistant"])
    }))

  it.scoped("the response is server-sent events with the protocol's headers, ending with [DONE]", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, script)
      const response = yield* rawChat(url, {
        id: "c",
        messages: [user("u1", "What is 2 + 3?")],
        trigger: "submit-message"
      })
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("content-type"), "text/event-stream")
      assert.strictEqual(response.headers.get("x-vercel-ai-ui-message-stream"), "v1")
      assert.strictEqual(response.headers.get("cache-control"), "no-cache")
      assert.isTrue(response.text.endsWith("data: [DONE]\n\n"))
      const chunks = chunksOf(response.text)
      // every chunk decodes with the Schema, in the order the protocol expects
      for (const c of chunks) Schema.decodeUnknownSync(UiStream.UIMessageChunk)(c)
      const types = chunks.map((c) => c.type)
      assert.strictEqual(types[0], "start")
      assert.strictEqual(types.at(-1), "finish")
      assert.deepStrictEqual(chunks.at(-1), { type: "finish", finishReason: "stop" })
      assert.strictEqual(types.filter((t) => t === "start-step").length, 2)
      assert.strictEqual(types.filter((t) => t === "finish-step").length, 2)
      const toolChunks = types.filter((t) => t.startsWith("tool-"))
      assert.deepStrictEqual(toolChunks, [
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-output-available"
      ])
      // the argument deltas are the raw argument text
      const deltas = chunks.filter((c) => c.type === "tool-input-delta").map((c) => c.inputTextDelta).join("")
      assert.deepStrictEqual(JSON.parse(deltas), { a: 2, b: 3 })
      // text deltas arrive in the scripted pieces
      assert.deepStrictEqual(
        chunks.filter((c) => c.type === "text-delta").map((c) => c.delta),
        ["Let me add.", "2 + 3", " = ", "5."]
      )
    }))

  it.scoped("a malformed request is a 400 that names the problem", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, script)
      const noMessages = yield* rawChat(url, { id: "c" })
      assert.strictEqual(noMessages.status, 400)
      assert.match(JSON.parse(noMessages.text).reason, /InvalidRequest/)
      const badPart = yield* rawChat(url, {
        messages: [{ id: "u1", role: "user", parts: [{ type: "text" }] }]
      })
      assert.strictEqual(badPart.status, 400)
      const body = JSON.parse(badPart.text)
      assert.strictEqual(body.reason, "InvalidMessages")
      assert.match(body.error, /text/)
    }))

  it.scoped("a run that fails streams an error chunk and finish; the client reports the error", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, [Scripted.fail("BadRequest", "the model is down")])
      const { errors, message } = yield* chat(url, [user("u1", "hi")])
      assert.strictEqual(errors.length, 1)
      assert.match(String((errors[0] as Error).message ?? errors[0]), /down/)
      assert.include(partTypes(message), "data-rath-session")
    }))
})

/** The first call's total tokens, read from a second run of the same script. */
const firstUsage = (url: string) =>
  Effect.map(rawChat(url, { messages: [user("u1", "What is 2 + 3?")] }), (response) => {
    const usage = chunksOf(response.text).find((c) => c.type === "data-rath-usage") as unknown as {
      data: UiStream.UsageData
    }
    return usage.data.usage.totalTokens
  })

describe("UiStream.makeEncoder", () => {
  const add = { id: "c-add", name: "add", arguments: "{\"a\":1,\"b\":2}", parsed: { a: 1, b: 2 } }
  const rm = { id: "c-rm", name: "remove", arguments: "{\"path\":\"x\"}", parsed: { path: "x" } }

  it.effect("an approval asked before its call is announced waits for it; a paused stream ends with finish", () =>
    Effect.gen(function*() {
      const session = yield* Session.fromUserMessage("x")
      const answer = yield* Session.append(session, Entry.assistant({ text: "", toolCalls: [add, rm] }))
      const entry = Option.getOrThrow(Session.lastOf(answer, "Assistant"))
      const encode = UiStream.makeEncoder()
      const types = (input: UiStream.Input) => encode(input).map((c) => c.type)
      assert.deepStrictEqual(types({ _tag: "RunStarted", agent: "a", sessionId: session.id }), [
        "start",
        "data-rath-session"
      ])
      assert.deepStrictEqual(types({ _tag: "TurnStarted", turn: 0 }), ["start-step"])
      // the approval side channel got ahead of the run's events
      assert.deepStrictEqual(types({ _tag: "ApprovalRequested", call: rm }), [])
      assert.deepStrictEqual(types({ _tag: "AwaitingClient" }), [])
      assert.deepStrictEqual(types({ _tag: "TurnFinished", turn: 0, entry }), [
        "tool-input-available",
        "tool-input-available",
        "tool-approval-request",
        "finish-step",
        "finish"
      ])
      const outcome = { callId: add.id, toolName: "add", output: 3, durationMs: 1, effects: [] }
      assert.deepStrictEqual(types({ _tag: "ToolFinished", turn: 0, call: add, outcome }), [], "nothing after finish")
    }))
})

describe("UiStream tool input errors", () => {
  it.scoped("arguments that are not JSON: tool-input-error, then the tool's invalid_arguments error", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, [
        { text: "", toolCalls: [{ id: "bad", name: "add", arguments: "{\"a\": 1," }] },
        Scripted.reply("Sorry.")
      ])
      const response = yield* rawChat(url, { messages: [user("u1", "add")] })
      const tools = chunksOf(response.text).filter((c) => c.type.startsWith("tool-"))
      assert.deepStrictEqual(tools.map((c) => c.type).slice(-2), ["tool-input-error", "tool-output-error"])
      assert.strictEqual(tools.at(-2)!.input, "{\"a\": 1,")
      assert.match(String(tools.at(-1)!.errorText), /^invalid_arguments: /)
      const { errors, message } = yield* chat(url, [user("u1", "add")])
      assert.deepStrictEqual(errors, [])
      const part = message!.parts.find((p) => p.type === "tool-add") as { state: string; errorText: string }
      assert.strictEqual(part.state, "output-error")
      assert.match(part.errorText, /invalid_arguments/)
    }))
})

describe("UiStream approvals", () => {
  const approvalScript = [
    Scripted.toolCall("remove", { path: "notes.txt" }),
    Scripted.reply("Done.")
  ]

  it.scoped("a rejected call: tool-approval-request, then tool-output-denied", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(
        calculator,
        approvalScript,
        Approval.layerTest(() => Approval.reject("not that file", "ada"))
      )
      const response = yield* rawChat(url, { messages: [user("u1", "remove notes.txt")] })
      const tools = chunksOf(response.text).filter((c) => c.type.startsWith("tool-"))
      assert.deepStrictEqual(tools.map((c) => c.type), [
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-approval-request",
        "tool-output-denied"
      ])
      const { message } = yield* chat(url, [user("u1", "remove notes.txt")])
      const part = message!.parts.find((p) => p.type === "tool-remove") as { state: string; approval: unknown }
      assert.strictEqual(part.state, "output-denied")
    }))

  it.scoped("an approved call: tool-approval-request, then its output", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, approvalScript, Approval.layerApproveAll)
      const { errors, message } = yield* chat(url, [user("u1", "remove notes.txt")])
      assert.deepStrictEqual(errors, [])
      const part = message!.parts.find((p) => p.type === "tool-remove") as { state: string; output: unknown }
      assert.strictEqual(part.state, "output-available")
      assert.deepStrictEqual(part.output, { removed: "notes.txt" })
    }))

  it.scoped("the approval request is streamed while the decision is pending (Approval.layerQueue)", () =>
    Effect.gen(function*() {
      const { pending, service } = yield* Approval.makeQueue()
      const session = yield* Session.fromUserMessage("remove notes.txt")
      const seen: Array<string> = []
      yield* UiStream.fromAgent(calculator, session).pipe(
        Stream.tap((c) =>
          Effect.gen(function*() {
            seen.push(c.type)
            if (c.type !== "tool-approval-request") return
            // the client sees the request before anyone decided: answer it now
            const request = yield* Queue.take(pending)
            assert.strictEqual(request.request.call.id, c.toolCallId)
            yield* request.respond(Approval.approve("ui"))
          })
        ),
        Stream.runDrain,
        Effect.provideService(Approval.Approval, service),
        Effect.provide(Scripted.layer(approvalScript))
      )
      const at = seen.indexOf("tool-approval-request")
      assert.isAbove(at, seen.indexOf("tool-input-available"))
      assert.strictEqual(seen[at + 1], "tool-output-available")
      assert.strictEqual(seen.at(-1), "finish")
    }))
})

describe("UiStream approvals decided by the client (useChat's tool approval parts)", () => {
  /** The model calls `remove`, then answers from the tool result it reads. */
  const answer: Scripted.Step = (request) => {
    const last = request.messages.at(-1)
    return last?._tag === "ToolResult"
      ? Scripted.reply(last.error === undefined ? "Removed." : `Kept: ${last.error.message}`)
      : Scripted.toolCall("remove", { path: "notes.txt" }, { id: "call-rm" })
  }
  const client = { approval: "client" } as const

  /** What `addToolApprovalResponse` does to the message. */
  const respond = (message: UIMessage, approved: boolean, reason?: string): UIMessage => ({
    ...message,
    parts: message.parts.map((part) =>
      part.type === "tool-remove" && part.state === "approval-requested"
        ? {
          ...part,
          state: "approval-responded",
          approval: { id: part.approval.id, approved, ...(reason === undefined ? {} : { reason }) }
        }
        : part
    )
  })

  it.scoped("the stream stops at the request; the answer comes back with the messages and the run goes on", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, [answer, answer], undefined, client)
      const first = yield* chat(url, [user("u1", "remove notes.txt")])
      assert.deepStrictEqual(first.errors, [])
      const asked = first.message!.parts.find((p) => p.type === "tool-remove") as {
        state: string
        approval: { id: string }
      }
      assert.strictEqual(asked.state, "approval-requested")
      assert.strictEqual(asked.approval.id, "approval-call-rm")
      // the raw stream ends with the request and finish (tool-calls): the tool did not run
      const raw = chunksOf((yield* rawChat(url, { messages: [user("u1", "remove notes.txt")] })).text)
      assert.deepStrictEqual(raw.slice(-3).map((c) => c.type), ["tool-approval-request", "finish-step", "finish"])
      assert.deepStrictEqual(raw.at(-1), { type: "finish", finishReason: "tool-calls" })
      assert.isFalse(raw.some((c) => c.type === "tool-output-available"))

      // the user approves: the call runs, and the model answers in the same message
      const approved = respond(first.message!, true)
      yield* Effect.promise(() => validateUIMessages({ messages: [user("u1", "remove notes.txt"), approved] }))
      const second = yield* chat(url, [user("u1", "remove notes.txt"), approved])
      assert.deepStrictEqual(second.errors, [])
      assert.strictEqual(second.message!.id, first.message!.id)
      const done = second.message!.parts.find((p) => p.type === "tool-remove") as { state: string; output: unknown }
      assert.strictEqual(done.state, "output-available")
      assert.deepStrictEqual(done.output, { removed: "notes.txt" })
      const texts = second.message!.parts.flatMap((p) => p.type === "text" ? [p.text] : [])
      assert.deepStrictEqual(texts, ["Removed."])
      // and the whole conversation imports: the call, its approved result, the answer
      const session = yield* UiStream.toSession([user("u1", "remove notes.txt"), second.message!])
      const result = Array.from(Session.transcript(session)).find((e) => e._tag === "ToolResult") as Entry.ToolResult
      assert.deepStrictEqual(result.approval, { decision: "approved" })
    }))

  it.scoped("a denial is a rejected result the model reads, with the user's reason", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, [answer, answer], undefined, client)
      const first = yield* chat(url, [user("u1", "remove notes.txt")])
      const denied = respond(first.message!, false, "I still need it")
      const second = yield* chat(url, [user("u1", "remove notes.txt"), denied])
      const part = second.message!.parts.find((p) => p.type === "tool-remove") as { state: string }
      assert.strictEqual(part.state, "output-denied")
      const texts = second.message!.parts.flatMap((p) => p.type === "text" ? [p.text] : [])
      assert.deepStrictEqual(texts, ["Kept: the call was rejected: I still need it"])
    }))

  it.scoped("no call of a step that waits for the client runs; the next request runs them all", () =>
    Effect.gen(function*() {
      let calls = 0
      const both: Scripted.Step = (request) => {
        calls++
        return request.messages.at(-1)?._tag === "ToolResult"
          ? Scripted.reply("Both done.")
          : {
            text: "",
            toolCalls: [
              { id: "call-add", name: "add", arguments: { a: 1, b: 2 } },
              { id: "call-rm", name: "remove", arguments: { path: "notes.txt" } }
            ]
          }
      }
      const url = yield* chatServer(calculator, [both, both], undefined, client)
      const first = yield* chat(url, [user("u1", "add and remove")])
      const states = (message: UIMessage | undefined) =>
        (message?.parts ?? []).flatMap((p) =>
          p.type.startsWith("tool-") ? [`${p.type}:${(p as { state: string }).state}`] : []
        )
      assert.deepStrictEqual(states(first.message), ["tool-add:input-available", "tool-remove:approval-requested"])
      const second = yield* chat(url, [user("u1", "add and remove"), respond(first.message!, true)])
      assert.deepStrictEqual(states(second.message), ["tool-add:output-available", "tool-remove:output-available"])
      assert.strictEqual(calls, 2, "one model call per request: the continuation did not ask the model again first")
      // the model was sent both results, add's from the messages and remove's from this run
      const session = yield* UiStream.toSession([user("u1", "add and remove"), second.message!])
      const results = Array.from(Session.transcript(session)).flatMap((e) => e._tag === "ToolResult" ? [e.output] : [])
      assert.deepStrictEqual(results, [3, { removed: "notes.txt" }])
    }))

  it.scoped("in server mode, an answer in the messages does not decide: the Approval service does", () =>
    Effect.gen(function*() {
      const url = yield* chatServer(calculator, [answer, answer], undefined, client)
      const first = yield* chat(url, [user("u1", "remove notes.txt")])
      const server = yield* chatServer(calculator, [answer], Approval.layerTest(() => Approval.reject("policy", "ops")))
      const second = yield* chat(server, [user("u1", "remove notes.txt"), respond(first.message!, true)])
      const part = second.message!.parts.find((p) => p.type === "tool-remove") as { state: string }
      assert.strictEqual(part.state, "output-denied")
    }))
})

describe("UIMessage[] and sessions", () => {
  /** Messages in every state rath keeps, as the AI SDK shapes them. */
  const messages: Array<UIMessage> = [
    { id: "s1", role: "system", parts: [{ type: "text", text: "Be brief." }] },
    user("u1", "Add 2 and 3, then remove notes.txt and old.txt."),
    {
      id: "a1",
      role: "assistant",
      parts: [
        { type: "step-start" },
        { type: "reasoning", text: "add first", state: "done" },
        { type: "text", text: "Adding.", state: "done" },
        { type: "tool-add", toolCallId: "c1", state: "output-available", input: { a: 2, b: 3 }, output: 5 },
        { type: "step-start" },
        {
          type: "tool-remove",
          toolCallId: "c2",
          state: "output-available",
          input: { path: "notes.txt" },
          output: { removed: "notes.txt" },
          approval: { id: "ap-1", approved: true }
        },
        {
          type: "tool-remove",
          toolCallId: "c3",
          state: "output-denied",
          input: { path: "old.txt" },
          approval: { id: "ap-2", approved: false, reason: "keep it" }
        },
        { type: "tool-add", toolCallId: "c4", state: "output-error", input: { a: 1 }, errorText: "b is missing" },
        { type: "step-start" },
        { type: "text", text: "5; notes.txt removed; old.txt kept.", state: "done" }
      ]
    },
    user("u2", "Thanks")
  ]

  it.effect("import then export gives the same messages, and the AI SDK validates them", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() => validateUIMessages({ messages }))
      const session = yield* UiStream.toSession(messages)
      const exported = UiStream.fromSession(session)
      assert.deepStrictEqual(exported, messages as ReadonlyArray<unknown>)
      yield* Effect.promise(() => validateUIMessages({ messages: exported }))
    }))

  /** Conversations in every state that survives the trip: user and assistant turns, 1-3 steps each. */
  const conversations = fc.integer({ min: 1, max: 3 }).chain((turns) => {
    let next = 0
    const id = (prefix: string) => fc.constant(null).map(() => `${prefix}${next++}`)
    const json = fc.jsonValue({ maxDepth: 2 })
    const input = fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), json, { maxKeys: 3 })
    const tool = fc.tuple(fc.constantFrom("add", "remove", "look_up"), id("call-"), input, id("ap-")).chain((
      [name, toolCallId, args, approvalId]
    ) =>
      fc.oneof(
        json.map((output) => ({ type: `tool-${name}`, toolCallId, state: "output-available", input: args, output })),
        json.map((output) => ({
          type: `tool-${name}`,
          toolCallId,
          state: "output-available",
          input: args,
          output,
          approval: { id: approvalId, approved: true }
        })),
        fc.string({ minLength: 1 }).map((errorText) => ({
          type: `tool-${name}`,
          toolCallId,
          state: "output-error",
          input: args,
          errorText
        })),
        fc.string({ minLength: 1 }).map((reason) => ({
          type: `tool-${name}`,
          toolCallId,
          state: "output-denied",
          input: args,
          approval: { id: approvalId, approved: false, reason }
        }))
      )
    )
    const step = fc.record({
      reasoning: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      text: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      tools: fc.array(tool, { maxLength: 3 })
    }).filter((st) => st.reasoning !== undefined || st.text !== undefined || st.tools.length > 0).map((st) => [
      { type: "step-start" },
      ...(st.reasoning === undefined ? [] : [{ type: "reasoning", text: st.reasoning, state: "done" }]),
      ...(st.text === undefined ? [] : [{ type: "text", text: st.text, state: "done" }]),
      ...st.tools
    ])
    const turn = fc.tuple(id("u"), fc.string(), id("a"), fc.array(step, { minLength: 1, maxLength: 3 })).map((
      [userId, text, assistantId, steps]
    ) => [
      { id: userId, role: "user", parts: [{ type: "text", text }] },
      { id: assistantId, role: "assistant", parts: steps.flat() }
    ])
    return fc.array(turn, { minLength: turns, maxLength: turns }).map((all) => all.flat())
  })

  it.effect.prop(
    "import then export is the identity on generated conversations, and the AI SDK validates them",
    [conversations],
    ([generated]) =>
      Effect.gen(function*() {
        yield* Effect.promise(() => validateUIMessages({ messages: generated }))
        const exported = UiStream.fromSession(yield* UiStream.toSession(generated))
        assert.deepStrictEqual(exported, generated as ReadonlyArray<unknown>)
      }),
    { fastCheck: { seed: 1402, numRuns: 60 } }
  )

  it.effect("the imported session holds the conversation as rath entries", () =>
    Effect.gen(function*() {
      const session = yield* UiStream.toSession(messages, { agent: "helper" })
      const transcript = Array.from(Session.transcript(session))
      assert.deepStrictEqual(transcript.map((entry) => entry._tag), [
        "System",
        "User",
        "Assistant",
        "ToolResult",
        "Assistant",
        "ToolResult",
        "ToolResult",
        "ToolResult",
        "Assistant",
        "User"
      ])
      const first = transcript[2] as Entry.Assistant
      assert.strictEqual(first.reasoning, "add first")
      assert.deepStrictEqual(first.toolCalls, [{
        id: "c1",
        name: "add",
        arguments: "{\"a\":2,\"b\":3}",
        parsed: { a: 2, b: 3 }
      }])
      assert.deepStrictEqual(first.author, { kind: "agent", name: "helper" })
      const denied = transcript[6] as Entry.ToolResult
      assert.deepStrictEqual(denied.error, { kind: "rejected", message: "keep it" })
      assert.deepStrictEqual(denied.approval, { decision: "rejected", reason: "keep it" })
      const failed = transcript[7] as Entry.ToolResult
      assert.deepStrictEqual(failed.error, { kind: "tool_failed", message: "b is missing" })
      // the model would be sent the conversation: the provider messages line up call by call
      const sent = Session.messages(session)
      assert.strictEqual(sent.filter((m) => m._tag === "ToolResult").length, 4)
    }))

  it.effect("a session made by a run exports messages the AI SDK validates", () =>
    Effect.gen(function*() {
      const start = yield* Session.fromUserMessage("What is 2 + 3?")
      const session = yield* calculator(start).pipe(Effect.provide(Scripted.layer(script)))
      const exported = UiStream.fromSession(session)
      yield* Effect.promise(() => validateUIMessages({ messages: exported }))
      assert.deepStrictEqual(exported.map((m) => m.role), ["user", "assistant"], "the agent's instructions stay out")
      assert.deepStrictEqual(exported[1]!.parts.map((p) => p.type), [
        "step-start",
        "reasoning",
        "text",
        "tool-add",
        "step-start",
        "text"
      ])
      const withInstructions = UiStream.fromSession(session, { instructions: true })
      assert.deepStrictEqual(withInstructions.map((m) => m.role), ["user", "system", "assistant"])
      // and importing the export gives the same conversation back
      const again = yield* UiStream.toSession(exported)
      assert.deepStrictEqual(conversation(again), conversation(session).filter((m) => m._tag !== "System"))
    }))

  it.effect("malformed messages are typed errors that say where", () =>
    Effect.gen(function*() {
      const notArray = yield* Effect.flip(UiStream.toSession({ messages: [] }))
      assert.strictEqual(notArray.reason, "InvalidMessages")
      const noOutput = yield* Effect.flip(UiStream.toSession([
        {
          id: "a",
          role: "assistant",
          parts: [{ type: "tool-add", toolCallId: "c", state: "output-available", input: {} }]
        }
      ]))
      assert.strictEqual(noOutput.reason, "InvalidMessages")
      assert.match(noOutput.message, /output/)
      const badRole = yield* Effect.flip(UiStream.toSession([{ id: "x", role: "robot", parts: [] }]))
      assert.strictEqual(badRole.reason, "InvalidMessages")
      assert.match(badRole.message, /role/)
      const file = yield* Effect.flip(UiStream.toSession([
        { id: "u", role: "user", parts: [{ type: "file", mediaType: "image/png", url: "data:," }] }
      ]))
      assert.strictEqual(file.reason, "UnsupportedPart")
      assert.match(file.message, /message 0 \(user\) part 0/)
    }))

  it.effect("data and source parts are not kept; invalid JSON arguments survive as raw text", () =>
    Effect.gen(function*() {
      const session = yield* UiStream.toSession([
        user("u", "hi"),
        {
          id: "a",
          role: "assistant",
          parts: [
            { type: "data-rath-usage", id: "rath-usage", data: { any: 1 } },
            { type: "source-url", sourceId: "s", url: "https://example.com" },
            {
              type: "tool-add",
              toolCallId: "c",
              state: "output-error",
              input: undefined,
              rawInput: "{\"a\":",
              errorText: "x"
            }
          ]
        }
      ])
      const assistant = Array.from(Session.transcript(session)).find((e) => e._tag === "Assistant") as Entry.Assistant
      assert.deepStrictEqual(assistant.toolCalls, [{ id: "c", name: "add", arguments: "{\"a\":" }])
      const exported = UiStream.fromSession(session)
      assert.deepStrictEqual(exported[1]!.parts, [
        { type: "step-start" },
        { type: "tool-add", toolCallId: "c", state: "output-error", rawInput: "{\"a\":", errorText: "x" }
      ])
    }))
})

describe("importing rath", () => {
  /** The src/ modules a child process loads for `script` (tsx resolves the sources). */
  const loaded = (script: string) =>
    Effect.async<Array<string>, Error>((resume) => {
      const root = join(import.meta.dirname, "..")
      const hook = `data:text/javascript,${
        encodeURIComponent(
          `export async function resolve(s, c, next) { const r = await next(s, c); ` +
            `if (r.url.includes("/src/")) process.stderr.write("src " + r.url + "\\n"); return r }`
        )
      }`
      const register = `data:text/javascript,${
        encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(hook)})`)
      }`
      const child = execFile(
        process.execPath,
        ["--import", register, "--import", "tsx", "--input-type=module", "-e", script],
        { cwd: root, timeout: 60_000 },
        (error, _stdout, stderr) =>
          resume(
            error === null
              ? Effect.succeed(stderr.split("\n").filter((line) => line.startsWith("src ")))
              : Effect.fail(new Error(`${error.message}\n${stderr}`))
          )
      )
      return Effect.sync(() => child.kill("SIGKILL"))
    })

  it.live("does not load rath/UiStream; importing the subpath does", () =>
    Effect.gen(function*() {
      const main = yield* loaded(`await import(${JSON.stringify(join(import.meta.dirname, "..", "src", "index.ts"))})`)
      assert.isAbove(main.length, 20, "the hook saw rath's modules load")
      assert.isFalse(main.some((line) => line.includes("/src/UiStream")), main.join("\n"))
      const sub = yield* loaded(
        `await import(${JSON.stringify(join(import.meta.dirname, "..", "src", "UiStream.ts"))})`
      )
      assert.isTrue(sub.some((line) => line.includes("/src/UiStream.ts")))
    }), 60_000)
})
