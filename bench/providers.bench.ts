/**
 * Provider adapter overhead: one long streamed answer (5,000 text deltas and 20 tool calls of 25
 * argument pieces each) served by a local server in the vendor's SSE format, read (a) by the bare
 * SDK iterator and (b) through rath's adapter into a normalised `Response`. The difference is
 * what rath's normalisation costs per event. No network: 127.0.0.1 only.
 *
 * Prints one JSON line per adapter.
 */
import AnthropicSdk from "@anthropic-ai/sdk"
import { Effect, Redacted } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import OpenAI from "openai"
import { Anthropic, OpenAi, Provider } from "rath"

const TEXT = 5_000
const CALLS = 20
const PIECES = 25
const RUNS = 9

const frame = (data: unknown, event?: string) =>
  `${event === undefined ? "" : `event: ${event}\n`}data: ${JSON.stringify(data)}\n\n`

const openAiBody = (): string => {
  const chunk = (delta: unknown, finish: string | null = null) =>
    frame({
      id: "c",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [{ index: 0, delta, finish_reason: finish }]
    })
  const out = [chunk({ role: "assistant", content: "" })]
  for (let i = 0; i < TEXT; i++) out.push(chunk({ content: `word${i} ` }))
  for (let c = 0; c < CALLS; c++) {
    out.push(
      chunk({ tool_calls: [{ index: c, id: `call_${c}`, type: "function", function: { name: "f", arguments: "" } }] })
    )
    out.push(chunk({ tool_calls: [{ index: c, function: { arguments: "{\"xs\":[" } }] }))
    for (let p = 0; p < PIECES; p++) out.push(chunk({ tool_calls: [{ index: c, function: { arguments: `${p},` } }] }))
    out.push(chunk({ tool_calls: [{ index: c, function: { arguments: "0]}" } }] }))
  }
  out.push(chunk({}, "tool_calls"))
  out.push(
    frame({
      id: "c",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
    })
  )
  out.push("data: [DONE]\n\n")
  return out.join("")
}

const anthropicBody = (): string => {
  const out = [
    frame({
      type: "message_start",
      message: {
        id: "msg",
        type: "message",
        role: "assistant",
        model: "m",
        content: [],
        usage: { input_tokens: 1, output_tokens: 1 }
      }
    }, "message_start")
  ]
  out.push(
    frame({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, "content_block_start")
  )
  for (let i = 0; i < TEXT; i++) {
    out.push(
      frame(
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: `word${i} ` } },
        "content_block_delta"
      )
    )
  }
  out.push(frame({ type: "content_block_stop", index: 0 }, "content_block_stop"))
  for (let c = 0; c < CALLS; c++) {
    const index = c + 1
    out.push(
      frame({
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: `t${c}`, name: "f", input: {} }
      }, "content_block_start")
    )
    const pieces = ["{\"xs\":[", ...Array.from({ length: PIECES }, (_, p) => `${p},`), "0]}"]
    for (const partial_json of pieces) {
      out.push(
        frame(
          { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } },
          "content_block_delta"
        )
      )
    }
    out.push(frame({ type: "content_block_stop", index }, "content_block_stop"))
  }
  out.push(
    frame({ type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } }, "message_delta")
  )
  out.push(frame({ type: "message_stop" }, "message_stop"))
  return out.join("")
}

const bodies = { openai: openAiBody(), anthropic: anthropicBody() }
const events = { openai: TEXT + CALLS * (PIECES + 3) + 4, anthropic: TEXT + CALLS * (PIECES + 4) + 6 }

const server = Http.createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream" })
    res.end(req.url?.includes("chat/completions") ? bodies.openai : bodies.anthropic)
  })
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const key = "bench-key"

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Median times of `a` and `b`, run alternately (after one warm-up each) so drift hits both. */
const timePair = async (a: () => Promise<unknown>, b: () => Promise<unknown>) => {
  await a()
  await b()
  const as: Array<number> = []
  const bs: Array<number> = []
  for (let i = 0; i < RUNS; i++) {
    let start = performance.now()
    await a()
    as.push(performance.now() - start)
    start = performance.now()
    await b()
    bs.push(performance.now() - start)
  }
  return [median(as), median(bs)] as const
}

const openaiSdk = new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 })
const anthropicSdk = new AnthropicSdk({ apiKey: key, baseURL: url, maxRetries: 0 })
const openai = OpenAi.make({ apiKey: Redacted.make(key), baseUrl: `${url}/v1`, model: "m" })
const anthropic = Anthropic.make({ apiKey: Redacted.make(key), baseUrl: url, model: "m", maxTokens: 16 })

const check = (response: Provider.Response) => {
  if (response.toolCalls.length !== CALLS || response.text.length === 0) throw new Error("bad response")
}

const cases = [
  {
    adapter: "openai",
    sdk: async () => {
      const stream = await openaiSdk.chat.completions.create({ model: "m", messages: [], stream: true })
      let n = 0
      for await (const _ of stream) n++
      return n
    },
    rath: () => Effect.runPromise(Effect.map(Provider.accumulate(openai.stream({ messages: [] }), openai.info), check))
  },
  {
    adapter: "anthropic",
    sdk: async () => {
      const stream = await anthropicSdk.messages.create({ model: "m", max_tokens: 16, messages: [], stream: true })
      let n = 0
      for await (const _ of stream) n++
      return n
    },
    rath: () =>
      Effect.runPromise(Effect.map(Provider.accumulate(anthropic.stream({ messages: [] }), anthropic.info), check))
  }
] as const

for (const c of cases) {
  const [sdkMs, rathMs] = await timePair(c.sdk, c.rath)
  const n = events[c.adapter]
  console.log(JSON.stringify({
    workload: "provider-stream",
    peer: "rath",
    adapter: c.adapter,
    version: "0.1.0",
    events: n,
    sdkMs: Number(sdkMs.toFixed(2)),
    rathMs: Number(rathMs.toFixed(2)),
    overheadUsPerEvent: Number((((rathMs - sdkMs) * 1000) / n).toFixed(2)),
    runs: RUNS
  }))
}
server.close()
