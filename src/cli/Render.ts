/**
 * Text renderings of sessions for the terminal: `show`, the lineage tree, `diff` and `explain`,
 * plus their JSON forms. Pure functions from session values to strings and plain objects.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Entry from "../Entry.js"
import * as Model from "../Model.js"
import * as Placement from "../Placement.js"
import * as Provider from "../Provider.js"
import * as Session from "../Session.js"
import * as SessionGraph from "../SessionGraph.js"

const encodeEntry = Schema.encodeSync(Entry.Entry)

/**
 * An entry in its wire form (plain JSON).
 *
 * @since 0.1.0
 * @category getters
 */
export const entryJson = (entry: Entry.Entry): unknown => encodeEntry(entry)

/**
 * `1234 tok (in 1000, out 234)`, or `no usage`.
 *
 * @since 0.1.0
 * @category getters
 */
export const usageText = (usage: Entry.Usage | undefined): string =>
  usage === undefined
    ? "no usage"
    : `${usage.totalTokens} tok (in ${usage.inputTokens}, out ${usage.outputTokens}${
      usage.cachedInputTokens === undefined ? "" : `, cached ${usage.cachedInputTokens}`
    })`

const authorText = (author: Entry.Author): string =>
  author.kind === author.name ? author.kind : `${author.kind}:${author.name}`

const clip = (text: string, width: number): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`
}

/**
 * Where a tool ran, for display: `local:sbx_1 (/tmp/ws)`, or `no sandbox recorded`.
 *
 * @since 0.1.0
 * @category getters
 */
export const sandboxText = (placement: Placement.Placement | undefined): string =>
  placement === undefined
    ? "no sandbox recorded"
    : `${Placement.label(placement)}${placement.workspace === undefined ? "" : ` (${placement.workspace})`}${
      placement.network === true ? " with network" : ""
    }`

/**
 * The tokens of every model call in a set of sessions, each call counted once however many of the
 * sessions hold it (forks share history): what a whole run spent, rejected forks included.
 *
 * @since 0.1.0
 * @category getters
 */
export const runUsage = (sessions: Iterable<Session.Session>): Entry.Usage | undefined => {
  const seen = new Set<string>()
  let total: Entry.Usage | undefined
  for (const session of sessions) {
    for (const entry of Session.entries(session)) {
      if (seen.has(entry.id)) continue
      seen.add(entry.id)
      total = Entry.sumUsage(total, Entry.usageOf(entry))
    }
  }
  return total
}

/**
 * One effect of a tool, for display: `write src/a.ts (12 B, sha256 ab12cd34)`.
 *
 * @since 0.1.0
 * @category getters
 */
export const effectText = (effect: Entry.ToolEffect): string => {
  const details: Array<string> = []
  if (effect.bytes !== undefined) details.push(`${effect.bytes} B`)
  if (effect.exitCode !== undefined) details.push(`exit ${effect.exitCode}`)
  if (effect.sha256 !== undefined) details.push(`sha256 ${effect.sha256.slice(0, 12)}`)
  return `${effect.op}${effect.path === undefined ? "" : ` ${effect.path}`}${
    details.length === 0 ? "" : ` (${details.join(", ")})`
  }`
}

/**
 * The evidence lines of an entry beyond its summary (model, provider, usage; sandbox, duration,
 * effects; memory hits; check details).
 *
 * @since 0.1.0
 * @category getters
 */
export const evidence = (entry: Entry.Entry): ReadonlyArray<string> => {
  switch (entry._tag) {
    case "Assistant":
    case "ModelCall": {
      const out: Array<string> = []
      const who = [
        entry._tag === "ModelCall" ? `${entry.purpose} call` : undefined,
        entry.model === undefined ? undefined : `model ${entry.model}`,
        entry.provider === undefined
          ? undefined
          : `provider ${entry.provider.kind}${entry.provider.host === undefined ? "" : `@${entry.provider.host}`}${
            entry.provider.requestId === undefined ? "" : ` request ${entry.provider.requestId}`
          }`,
        entry.finishReason === undefined ? undefined : `finish ${entry.finishReason}`,
        entry.usage === undefined ? undefined : usageText(entry.usage),
        entry.missing === undefined ? undefined : `missing: ${entry.missing.join(", ")}`,
        entry.latencyMs === undefined ? undefined : `${entry.latencyMs} ms`
      ].filter((part) => part !== undefined)
      if (who.length > 0) out.push(who.join(" · "))
      return out
    }
    case "ToolResult": {
      const out = [
        `ran on ${sandboxText(entry.sandbox)} in ${entry.durationMs} ms${
          entry.error === undefined ? "" : `, failed: ${entry.error.kind}`
        }`
      ]
      for (const effect of entry.effects ?? []) out.push(`effect: ${effectText(effect)}`)
      if (entry.approval !== undefined) {
        out.push(
          `approval: ${entry.approval.decision}${entry.approval.by === undefined ? "" : ` by ${entry.approval.by}`}`
        )
      }
      return out
    }
    case "Memory":
      return [
        ...(entry.hits ?? []).map((hit) =>
          `hit ${hit.id} score ${hit.score.toFixed(3)}${hit.text === undefined ? "" : `: ${clip(hit.text, 80)}`}`
        ),
        ...(entry.written ?? []).map((w) => `wrote ${w.id}${w.text === undefined ? "" : `: ${clip(w.text, 80)}`}`)
      ]
    case "Check":
      return entry.details === undefined ? [] : [`details: ${clip(JSON.stringify(entry.details) ?? "", 100)}`]
    case "Custom":
      return entry.usage === undefined ? [] : [usageText(entry.usage)]
    case "Compression":
      return [
        `covers ${entry.covers.length} entries${entry.covers.length === 0 ? "" : `: ${entry.covers.join(", ")}`}`,
        ...(entry.call === undefined ? [] : [`written by call ${entry.call}`])
      ]
    default:
      return []
  }
}

/**
 * What a session holds, in numbers: entries, own usage, checks and tool results.
 *
 * @since 0.1.0
 * @category models
 */
export interface Facts {
  readonly length: number
  readonly own: number
  readonly usage: Entry.Usage | undefined
  readonly checks: ReadonlyArray<{ readonly name: string; readonly passed: boolean }>
  readonly tools: number
  readonly toolFailures: number
  readonly memory: number
}

/**
 * The facts of a session, from its own entries (not the history it inherited).
 *
 * @since 0.1.0
 * @category getters
 */
export const facts = (session: Session.Session): Facts => {
  const own = Chunk.toReadonlyArray(Session.ownEntries(session))
  const checks = own.filter(Entry.is("Check")).map((check) => ({ name: check.name, passed: check.passed }))
  const tools = own.filter(Entry.is("ToolResult"))
  return {
    length: session.length,
    own: own.length,
    usage: Session.usage(session).own,
    checks,
    tools: tools.length,
    toolFailures: tools.filter((tool) => tool.error !== undefined).length,
    memory: own.filter(Entry.is("Memory")).length
  }
}

const factsText = (facts: Facts): string => {
  const parts = [`${facts.length} entries (+${facts.own})`]
  if (facts.usage !== undefined) parts.push(`${facts.usage.totalTokens} tok`)
  if (facts.tools > 0) parts.push(`${facts.tools} tool${facts.tools === 1 ? "" : "s"}`)
  if (facts.memory > 0) parts.push(`${facts.memory} memory`)
  for (const check of facts.checks) parts.push(`${check.passed ? "✓" : "✗"} ${check.name}`)
  return parts.join(" · ")
}

const lineageText = (lineage: Session.Lineage): string => {
  const by = lineage.by === undefined ? "" : ` by ${authorText(lineage.by)}`
  return lineage.parents.length === 0
    ? `${lineage.operation}${by}`
    : `${lineage.operation} of ${lineage.parents.join(" + ")}${by}`
}

// -----------------------------------------------------------------------------
// show
// -----------------------------------------------------------------------------

/**
 * A session for the terminal: a header, every entry with its author and evidence (inherited
 * entries marked with `·`, the session's own with `+`), and usage.
 *
 * @since 0.1.0
 * @category getters
 */
export const show = (session: Session.Session, options?: { readonly width?: number }): string => {
  const width = options?.width ?? 100
  const all = Chunk.toReadonlyArray(Session.entries(session))
  const usage = Session.usage(session)
  const lines = [
    `session ${session.id}`,
    `  lineage   ${lineageText(session.lineage)}`,
    `  placement ${Option.match(session.placement, { onNone: () => "none", onSome: sandboxText })}`,
    `  entries   ${session.length} (${session.base} inherited, ${session.length - session.base} own)`,
    `  usage     own ${usageText(usage.own)}; with history ${usageText(usage.inclusive)}`,
    ""
  ]
  all.forEach((entry, index) => {
    const mark = index < session.base ? "·" : "+"
    lines.push(
      `${mark} ${String(index + 1).padStart(3)} ${entry.id}  ${entry._tag.padEnd(11)} ${
        authorText(entry.author).padEnd(16)
      } ${clip(Entry.summary(entry), width)}`
    )
    for (const line of evidence(entry)) lines.push(`        ${line}`)
  })
  return lines.join("\n") + "\n"
}

/**
 * A session as JSON: header, usage and entries in wire form.
 *
 * @since 0.1.0
 * @category getters
 */
export const showJson = (session: Session.Session): unknown => ({
  id: session.id,
  lineage: session.lineage,
  placement: Option.getOrUndefined(Option.map(session.placement, (placement) => ({ ...placement }))),
  base: session.base,
  length: session.length,
  usage: Session.usage(session),
  entries: Chunk.toReadonlyArray(Session.entries(session)).map(entryJson)
})

// -----------------------------------------------------------------------------
// lineage tree
// -----------------------------------------------------------------------------

/**
 * The lineage as a terminal tree: roots first, children under their first parent; a merge is
 * shown in full under its first parent and as a reference under the others.
 *
 * @since 0.1.0
 * @category getters
 */
export const tree = (graph: SessionGraph.SessionGraph, facts?: ReadonlyMap<string, Facts>): string => {
  const lines: Array<string> = []
  const shown = new Set<string>()
  const label = (id: string): string => {
    const row = graph.rows.get(id as Session.SessionId)
    if (row === undefined) return `${id}  (not loaded)`
    const by = row.by === undefined ? "" : ` by ${authorText(row.by)}`
    const merged = row.parents.length > 1 ? ` of ${row.parents.join(" + ")}` : ""
    const info = facts?.get(id)
    const extra = info === undefined
      ? (row.length === undefined ? "" : `  ${row.length} entries`)
      : `  ${factsText(info)}`
    return `${id}  ${row.operation}${merged}${by}${extra}`
  }
  const visit = (id: string, prefix: string, last: boolean, top: boolean) => {
    const branch = top ? "" : last ? "└─ " : "├─ "
    if (shown.has(id)) {
      lines.push(
        `${prefix}${branch}${id}  (${graph.rows.get(id as Session.SessionId)?.operation ?? "session"}, shown above)`
      )
      return
    }
    shown.add(id)
    lines.push(`${prefix}${branch}${label(id)}`)
    const children = graph.children.get(id as Session.SessionId) ?? []
    const next = top ? prefix : prefix + (last ? "   " : "│  ")
    children.forEach((child, i) => visit(child, next, i === children.length - 1, false))
  }
  const roots = new Set<string>()
  for (const row of graph.rows.values()) {
    const missing = row.parents.filter((parent) => !graph.rows.has(parent))
    if (row.parents.length === 0) roots.add(row.id)
    for (const parent of missing) roots.add(parent)
  }
  for (const root of roots) visit(root, "", true, true)
  // whatever a cycle kept unreachable from a root
  for (const id of graph.rows.keys()) if (!shown.has(id)) visit(id, "", true, true)
  return lines.join("\n") + "\n"
}

/**
 * The graph as JSON: rows and edges.
 *
 * @since 0.1.0
 * @category getters
 */
export const graphJson = (graph: SessionGraph.SessionGraph): unknown => ({
  sessions: Array.from(graph.rows.values()),
  edges: SessionGraph.edges(graph)
})

/**
 * The sessions connected to one (ancestors, descendants and their relatives): one run's graph.
 *
 * @since 0.1.0
 * @category getters
 */
export const component = (graph: SessionGraph.SessionGraph, id: string): SessionGraph.SessionGraph => {
  const seen = new Set<string>([id])
  const queue = [id]
  while (queue.length > 0) {
    const current = queue.pop()!
    const row = graph.rows.get(current as Session.SessionId)
    const neighbours = [...(row?.parents ?? []), ...(graph.children.get(current as Session.SessionId) ?? [])]
    for (const next of neighbours) {
      if (!seen.has(next)) {
        seen.add(next)
        queue.push(next)
      }
    }
  }
  return SessionGraph.fromRows(Array.from(graph.rows.values()).filter((row) => seen.has(row.id)))
}

// -----------------------------------------------------------------------------
// diff
// -----------------------------------------------------------------------------

/**
 * Two sessions compared from their common ancestor: the shared history and each side's entries
 * since.
 *
 * @since 0.1.0
 * @category models
 */
export interface Diff {
  readonly a: Session.Session
  readonly b: Session.Session
  /** The newest shared entry, if any. */
  readonly common: Entry.Entry | undefined
  readonly shared: number
  readonly onlyA: ReadonlyArray<Entry.Entry>
  readonly onlyB: ReadonlyArray<Entry.Entry>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const diff = (a: Session.Session, b: Session.Session): Diff => {
  const common = Session.commonAncestor(a, b)
  const shared = common?.length ?? 0
  return {
    a,
    b,
    common: common?.entry,
    shared,
    onlyA: Chunk.toReadonlyArray(Session.entries(a)).slice(shared),
    onlyB: Chunk.toReadonlyArray(Session.entries(b)).slice(shared)
  }
}

/**
 * @since 0.1.0
 * @category getters
 */
export const diffText = (self: Diff): string => {
  const lines = [
    self.common === undefined
      ? `no common history between ${self.a.id} and ${self.b.id}`
      : `common ancestor: entry ${self.common.id} (${self.shared} shared entries)`
  ]
  const side = (mark: string, session: Session.Session, entries: ReadonlyArray<Entry.Entry>) => {
    lines.push(
      "",
      `${mark}${mark}${mark} ${session.id} (${lineageText(session.lineage)}): ${entries.length} entries since`
    )
    for (const entry of entries) {
      lines.push(
        `${mark} ${entry.id}  ${entry._tag.padEnd(11)} ${authorText(entry.author).padEnd(16)} ${
          clip(Entry.summary(entry), 100)
        }`
      )
      for (const line of evidence(entry)) lines.push(`      ${line}`)
    }
  }
  side("-", self.a, self.onlyA)
  side("+", self.b, self.onlyB)
  return lines.join("\n") + "\n"
}

/**
 * @since 0.1.0
 * @category getters
 */
export const diffJson = (self: Diff): unknown => ({
  a: self.a.id,
  b: self.b.id,
  common: self.common?.id,
  shared: self.shared,
  onlyA: self.onlyA.map(entryJson),
  onlyB: self.onlyB.map(entryJson)
})

// -----------------------------------------------------------------------------
// explain
// -----------------------------------------------------------------------------

/**
 * The five questions about a session, answered from its entries and lineage.
 *
 * @since 0.1.0
 * @category models
 */
export interface Explanation {
  readonly session: Session.Session
  /**
   * 1. What the model saw at each call, from every component (agent turns, routing, summaries,
   * judges, user code): the messages each call was sent, rebuilt from that call's own history.
   */
  readonly calls: ReadonlyArray<{
    readonly index: number
    readonly answer: Entry.Assistant | Entry.ModelCall
    readonly sent: ReadonlyArray<Provider.Message>
    /**
     * Whether the rebuilt request has the fingerprint the call recorded; `undefined` when none was
     * recorded, or one of rath 0.1's format.
     */
    readonly verified: boolean | undefined
  }>
  /** 3. Where each tool ran, and 4. what it changed. */
  readonly tools: ReadonlyArray<Entry.ToolResult>
  /** 5. Where the final state came from: the ancestors, nearest first, each with its lineage. */
  readonly ancestry: ReadonlyArray<{
    readonly id: string
    readonly depth: number
    readonly row: SessionGraph.Row | undefined
    /** How many of the explained session's entries this ancestor added itself (when loaded). */
    readonly contributed: number | undefined
  }>
}

/**
 * Explains a session. `ancestors` are the ancestor sessions the caller could load (by id); their
 * own entries attribute the explained session's entries to the session that added them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const explain = (
  session: Session.Session,
  graph: SessionGraph.SessionGraph,
  ancestors: ReadonlyMap<string, Session.Session>
): Explanation => {
  const all = Chunk.toReadonlyArray(Session.entries(session))
  const calls = Model.calls(session).map((call) => ({
    index: call.index,
    answer: call.entry,
    sent: call.request.messages,
    verified: call.verified
  }))
  const present = new Set(all.map((entry) => entry.id))
  const found: Array<{ readonly id: string; readonly depth: number; readonly row: SessionGraph.Row | undefined }> = []
  const depth = new Map<string, number>([[session.id, 0]])
  let frontier: ReadonlyArray<string> = [session.id]
  const rowOf = (id: string) =>
    id === session.id ? SessionGraph.rowOf(session) : graph.rows.get(id as Session.SessionId)
  while (frontier.length > 0) {
    const next: Array<string> = []
    for (const id of frontier) {
      const row = rowOf(id)
      found.push({ id, depth: depth.get(id)!, row })
      for (const parent of row?.parents ?? []) {
        if (!depth.has(parent)) {
          depth.set(parent, depth.get(id)! + 1)
          next.push(parent)
        }
      }
    }
    frontier = next
  }
  // attribute each entry to the oldest loaded session that added it itself (a merge or a detach
  // re-holds entries that its parents added)
  const origin = new Map<string, string>()
  const oldestFirst = [...found].sort((a, b) => (a.row?.createdAt ?? 0) - (b.row?.createdAt ?? 0) || b.depth - a.depth)
  for (const step of oldestFirst) {
    const loaded = step.id === session.id ? session : ancestors.get(step.id)
    if (loaded === undefined) continue
    for (const entry of Chunk.toReadonlyArray(Session.ownEntries(loaded))) {
      if (present.has(entry.id) && !origin.has(entry.id)) origin.set(entry.id, step.id)
    }
  }
  const ancestry = found.map((step) => {
    const loaded = step.id === session.id || ancestors.has(step.id)
    let contributed = 0
    for (const owner of origin.values()) if (owner === step.id) contributed++
    return { ...step, contributed: loaded ? contributed : undefined }
  })
  return { session, calls, tools: all.filter(Entry.is("ToolResult")), ancestry }
}

const messageText = (message: Provider.Message): string => {
  switch (message._tag) {
    case "System":
    case "User":
      return message.text
    case "Assistant": {
      const calls = message.toolCalls.map((call) => `${call.name}(${call.arguments})`).join(", ")
      return calls.length === 0
        ? message.text
        : message.text.length === 0
        ? `calls ${calls}`
        : `${message.text} calls ${calls}`
    }
    case "ToolResult":
      return message.error === undefined
        ? `${message.toolName} -> ${Provider.toolResultText(message)}`
        : `${message.toolName} failed: ${Provider.toolResultText(message)}`
  }
}

const roleOf = (message: Provider.Message): string =>
  message._tag === "ToolResult" ? `tool ${message.toolName}` : message._tag.toLowerCase()

const purposeOf = (entry: Entry.Assistant | Entry.ModelCall): string =>
  entry._tag === "ModelCall" ? entry.purpose : "turn"

/**
 * The explanation as text: five numbered sections.
 *
 * @since 0.1.0
 * @category getters
 */
export const explainText = (self: Explanation, options?: { readonly full?: boolean }): string => {
  const width = options?.full === true ? Number.MAX_SAFE_INTEGER : 90
  const session = self.session
  const usage = Session.usage(session)
  const lines = [
    `session ${session.id}: ${lineageText(session.lineage)}, ${session.length} entries, ${usageText(usage.inclusive)}`,
    "",
    "1. What the model saw at each call"
  ]
  if (self.calls.length === 0) lines.push("   no model call in this session")
  self.calls.forEach((call, i) => {
    const check = call.verified === undefined
      ? ""
      : call.verified
      ? " (matches the recorded request fingerprint)"
      : " (does NOT match the recorded request fingerprint: what was sent differs from what the session holds)"
    lines.push(
      `   call ${i + 1} -> ${call.answer.id} (${purposeOf(call.answer)} by ${
        authorText(call.answer.author)
      }): sent ${call.sent.length} message${call.sent.length === 1 ? "" : "s"}${check}`
    )
    for (const message of call.sent) {
      lines.push(`      [${roleOf(message)}] ${clip(messageText(message), width)}`)
    }
  })
  lines.push("", "2. Which provider and model answered")
  if (self.calls.length === 0) lines.push("   no model call in this session")
  self.calls.forEach((call, i) => {
    const answer = call.answer
    lines.push(
      `   call ${i + 1} -> ${answer.id}: ${answer.provider?.kind ?? "unknown provider"}${
        answer.provider?.host === undefined ? "" : `@${answer.provider.host}`
      }, model ${answer.model ?? "unknown"}${
        answer.finishReason === undefined ? "" : `, finish ${answer.finishReason}`
      }, ${usageText(answer.usage)}${
        answer.provider?.requestId === undefined ? "" : `, request ${answer.provider.requestId}`
      }`
    )
  })
  lines.push("", "3. Where each tool ran")
  if (self.tools.length === 0) lines.push("   no tool ran in this session")
  for (const tool of self.tools) {
    lines.push(
      `   ${tool.id} ${tool.toolName}: ${sandboxText(tool.sandbox)}, ${tool.durationMs} ms, ${
        tool.error === undefined ? "ok" : `failed (${tool.error.kind}: ${clip(tool.error.message, 60)})`
      }`
    )
  }
  lines.push("", "4. What changed")
  const changing = self.tools.filter((tool) => (tool.effects ?? []).length > 0)
  if (changing.length === 0) lines.push("   no tool recorded an effect")
  for (const tool of changing) {
    for (const effect of tool.effects ?? []) lines.push(`   ${tool.id} ${tool.toolName}: ${effectText(effect)}`)
  }
  lines.push("", "5. Where the final state came from")
  for (const step of self.ancestry) {
    const indent = "   " + "  ".repeat(step.depth)
    const what = step.row === undefined ? "unknown" : lineageText({
      operation: step.row.operation,
      parents: step.row.parents,
      createdAt: step.row.createdAt,
      ...(step.row.by === undefined ? {} : { by: step.row.by })
    })
    const contributed = step.contributed === undefined
      ? " (not loaded: pass --store holding it to trace further)"
      : `, added ${step.contributed} of the ${self.session.length} entries`
    lines.push(`${indent}${step.depth === 0 ? "" : "<- "}${step.id}: ${what}${contributed}`)
  }
  return lines.join("\n") + "\n"
}

/**
 * The explanation as JSON.
 *
 * @since 0.1.0
 * @category getters
 */
export const explainJson = (self: Explanation): unknown => ({
  session: self.session.id,
  calls: self.calls.map((call) => ({
    entry: call.answer.id,
    purpose: purposeOf(call.answer),
    author: call.answer.author,
    provider: call.answer.provider,
    model: call.answer.model,
    finishReason: call.answer.finishReason,
    usage: call.answer.usage,
    requestFingerprint: call.answer.requestFingerprint,
    verified: call.verified ?? null,
    sent: call.sent
  })),
  tools: self.tools.map((tool) => ({
    entry: tool.id,
    tool: tool.toolName,
    callId: tool.callId,
    sandbox: tool.sandbox === undefined ? undefined : { ...tool.sandbox },
    durationMs: tool.durationMs,
    error: tool.error,
    effects: tool.effects ?? []
  })),
  ancestry: self.ancestry
})
