/**
 * Training data from sessions: whole trajectories in the chat fine-tuning format (messages and
 * tools), and preference pairs from branches that share a prompt where one branch's checks passed
 * and the other's failed. Every line is validated against its Schema before it is written.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Entry from "../../Entry.js"
import * as Model from "../../Model.js"
import * as Provider from "../../Provider.js"
import * as Session from "../../Session.js"
import { ChatExample, type ChatMessage, type ChatTool, EvalError, type Metadata, PreferencePair } from "./model.js"

/** A session to export, with what is known of it (from an eval result, or from its checks). */
export interface Item {
  readonly session: Session.Session
  /** Default: the session's checks (at least one, and all passed). */
  readonly passed?: boolean | undefined
  readonly score?: number | undefined
  /** Sessions with the same key share a prompt (default: the first user message). */
  readonly caseId?: string | undefined
  readonly metadata?: Metadata | undefined
}

/** Which items to export. All given conditions must hold. */
export interface Filter {
  readonly passed?: boolean | undefined
  readonly minScore?: number | undefined
  readonly cases?: ReadonlyArray<string> | undefined
  /** Metadata keys that must hold these values (JSON-equal). */
  readonly metadata?: Metadata | undefined
  /** Only trajectories with at least one tool call. */
  readonly withToolCalls?: boolean | undefined
}

/** Whether a session's checks passed: at least one check, and every one passed. */
export const checksPassed = (session: Session.Session): boolean => {
  let checks = 0
  for (const entry of Session.entries(session)) {
    if (entry._tag === "Check") {
      if (!entry.passed) return false
      checks++
    }
  }
  return checks > 0
}

const passedOf = (item: Item) => item.passed ?? checksPassed(item.session)

const matches = (item: Item, filter: Filter | undefined): boolean => {
  if (filter === undefined) return true
  if (filter.passed !== undefined && passedOf(item) !== filter.passed) return false
  if (filter.minScore !== undefined && (item.score ?? (passedOf(item) ? 1 : 0)) < filter.minScore) return false
  if (filter.cases !== undefined && (item.caseId === undefined || !filter.cases.includes(item.caseId))) return false
  if (filter.metadata !== undefined) {
    for (const [key, value] of Object.entries(filter.metadata)) {
      if (JSON.stringify(item.metadata?.[key]) !== JSON.stringify(value)) return false
    }
  }
  return true
}

/**
 * A session's messages in the chat format: what its last answering agent sees (its instructions
 * first, other agents' left out; see `Model.agentMessages`), or the transcript when no agent
 * answered; compression applied.
 */
export const chatMessages = (session: Session.Session): Array<ChatMessage> => {
  const last = Session.lastOf(session, "Assistant")
  const messages = Option.isSome(last) && last.value.author.kind === "agent"
    ? Model.agentMessages(last.value.author.name, session)
    : Session.messages(session)
  return messages.map((message): ChatMessage => {
    switch (message._tag) {
      case "System":
        return { role: "system", content: message.text }
      case "User":
        return { role: "user", content: message.text }
      case "Assistant":
        return message.toolCalls.length === 0
          ? { role: "assistant", content: message.text }
          : {
            role: "assistant",
            content: message.text,
            tool_calls: message.toolCalls.map((call) => ({
              id: call.id,
              type: "function" as const,
              function: { name: call.name, arguments: call.arguments }
            })) as [any, ...Array<any>]
          }
      case "ToolResult":
        return { role: "tool", tool_call_id: message.callId, content: Provider.toolResultText(message) }
    }
  })
}

/** The tools a session's model calls were offered (agents' specs and the calls' own), by name. */
export const chatTools = (session: Session.Session): Array<ChatTool> => {
  const byName = new Map<string, Entry.ToolDefinition>()
  for (const entry of Session.entries(session)) {
    if (entry._tag === "Custom" && entry.type === "rath.agent") {
      const tools = (entry.data as { readonly tools?: ReadonlyArray<Entry.ToolDefinition> }).tools
      for (const tool of tools ?? []) byName.set(tool.name, tool)
    } else if (Entry.isModelCall(entry) && entry._tag === "Assistant") {
      for (const tool of entry.tools ?? []) byName.set(tool.name, tool)
    }
  }
  return Array.from(byName.values(), (tool) => ({
    type: "function" as const,
    function: { name: tool.name, description: tool.description, parameters: tool.parameters }
  }))
}

const untilLastAssistant = (messages: ReadonlyArray<ChatMessage>): Array<ChatMessage> => {
  let last = messages.length - 1
  while (last >= 0 && messages[last]!.role !== "assistant") last--
  return messages.slice(0, last + 1)
}

const validate = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (value: unknown): Effect.Effect<A, EvalError> => {
    const decoded = decode(value)
    return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(
      new EvalError({
        reason: "InvalidExport",
        detail: `${what} does not match its schema: ${
          ParseResult.TreeFormatter.formatErrorSync(decoded.left).replace(/\s*\n\s*/g, " ")
        }`,
        cause: decoded.left
      })
    )
  }
}

const validChat = validate(ChatExample, "a chat example")
const validPair = validate(PreferencePair, "a preference pair")

/**
 * Chat fine-tuning examples, one per item that passes the filter: the messages up to the last
 * assistant answer, the tools offered, and metadata (case, session, score). Items with no
 * assistant answer are left out.
 */
export const chat = (items: ReadonlyArray<Item>, filter?: Filter): Effect.Effect<Array<ChatExample>, EvalError> =>
  Effect.gen(function*() {
    const out: Array<ChatExample> = []
    for (const item of items) {
      if (!matches(item, filter)) continue
      const messages = untilLastAssistant(chatMessages(item.session))
      if (messages.length === 0) continue
      if (
        filter?.withToolCalls === true && !messages.some((m) => m.role === "assistant" && m.tool_calls !== undefined)
      ) {
        continue
      }
      const tools = chatTools(item.session)
      out.push(
        yield* validChat({
          messages,
          ...(tools.length === 0 ? {} : { tools }),
          metadata: {
            session: item.session.id,
            ...(item.caseId === undefined ? {} : { case: item.caseId }),
            passed: passedOf(item),
            ...(item.score === undefined ? {} : { score: item.score }),
            ...item.metadata
          }
        })
      )
    }
    return out
  })

/** Options of {@link preferences}. */
export interface PreferenceOptions extends Filter {
  /** The most pairs per prompt (default: every passing branch with every failing one). */
  readonly maxPerPrompt?: number | undefined
}

const keyOf = (item: Item, messages: ReadonlyArray<ChatMessage>): string =>
  item.caseId ?? JSON.stringify(messages.find((m) => m.role === "user") ?? null)

/**
 * The two branches' messages as compared: as they are, or without system messages when their
 * system messages differ (two variants of an agent's instructions answering the same case: the
 * prompt is the conversation, and each variant's instructions are its own).
 */
const comparable = (
  a: ReadonlyArray<ChatMessage>,
  b: ReadonlyArray<ChatMessage>
): readonly [ReadonlyArray<ChatMessage>, ReadonlyArray<ChatMessage>] => {
  const systemOf = (messages: ReadonlyArray<ChatMessage>) => JSON.stringify(messages.filter((m) => m.role === "system"))
  if (systemOf(a) === systemOf(b)) return [a, b]
  return [a.filter((m) => m.role !== "system"), b.filter((m) => m.role !== "system")]
}

/**
 * Preference pairs from branches: items with the same prompt (the same case, or the same first
 * user message) whose messages agree up to a point, after which both answer as the assistant; one
 * passed its checks and the other did not. The shared messages are the prompt, the passing
 * branch's messages after it (to its last answer) are `chosen`, the failing one's `rejected`.
 * Branches whose system messages differ (variants of instructions) are compared without them.
 * The filter applies to the items (`passed` is ignored: pairs need both kinds).
 */
export const preferences = (
  items: ReadonlyArray<Item>,
  options?: PreferenceOptions
): Effect.Effect<Array<PreferencePair>, EvalError> =>
  Effect.gen(function*() {
    const groups = new Map<string, Array<{ item: Item; messages: Array<ChatMessage>; passed: boolean }>>()
    const filter = options === undefined ? undefined : { ...options, passed: undefined }
    for (const item of items) {
      if (!matches(item, filter)) continue
      const messages = chatMessages(item.session)
      const key = keyOf(item, messages)
      const group = groups.get(key) ?? []
      group.push({ item, messages, passed: passedOf(item) })
      groups.set(key, group)
    }
    const out: Array<PreferencePair> = []
    const seen = new Set<string>()
    for (const group of groups.values()) {
      let made = 0
      for (const good of group) {
        if (!good.passed) continue
        for (const bad of group) {
          if (bad.passed || (options?.maxPerPrompt !== undefined && made >= options.maxPerPrompt)) continue
          const [gm, bm] = comparable(good.messages, bad.messages)
          let k = 0
          while (k < gm.length && k < bm.length && JSON.stringify(gm[k]) === JSON.stringify(bm[k])) k++
          const chosen = untilLastAssistant(gm.slice(k))
          const rejected = untilLastAssistant(bm.slice(k))
          if (k === 0 || chosen[0]?.role !== "assistant" || rejected[0]?.role !== "assistant") continue
          const id = `${good.item.session.id}|${bad.item.session.id}`
          if (seen.has(id)) continue
          seen.add(id)
          const tools = chatTools(good.item.session)
          out.push(
            yield* validPair({
              prompt: gm.slice(0, k) as [ChatMessage, ...Array<ChatMessage>],
              chosen,
              rejected,
              ...(tools.length === 0 ? {} : { tools }),
              metadata: {
                ...(good.item.caseId === undefined ? {} : { case: good.item.caseId }),
                chosenSession: good.item.session.id,
                rejectedSession: bad.item.session.id,
                ...(good.item.score === undefined ? {} : { chosenScore: good.item.score }),
                ...(bad.item.score === undefined ? {} : { rejectedScore: bad.item.score })
              }
            })
          )
          made++
        }
      }
    }
    return out
  })

/** Values as JSONL (one JSON value a line, newline-terminated). */
export const toJsonl = (values: ReadonlyArray<unknown>): string =>
  values.map((value) => JSON.stringify(value)).join("\n") + (values.length === 0 ? "" : "\n")
