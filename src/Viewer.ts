/**
 * The session-graph viewer: one self-contained HTML page (inline CSS and JavaScript, no network)
 * that draws the lineage of a set of sessions as an SVG graph (forks, steps, merges, detaches)
 * and, when a node is clicked, shows that session's entries with their evidence: tool sandbox,
 * duration and effects, memory events, checks and usage.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Entry from "./Entry.js"
import * as internal from "./internal/viewer/layout.js"
import * as debuggerPage from "./internal/viewer/page.js"
import * as Placement from "./Placement.js"
import * as Session from "./Session.js"
import * as SessionGraph from "./SessionGraph.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The page title (default: "rath sessions"). */
  readonly title?: string | undefined
  /** The session selected when the page opens (default: the newest). */
  readonly selected?: string | undefined
}

/**
 * What the layout needs of a session: its id and parents; the lineage operation that made it
 * (`merge` edges are drawn as merges), a label and a status shown on its box.
 *
 * @since 0.2.0
 * @category models
 */
export type LayoutInput = internal.Input

/**
 * A node of the laid-out graph: a session (or a parent that is named but not given, `missing`).
 *
 * @since 0.1.0
 * @category models
 */
export type LayoutNode = internal.Node

/**
 * An edge of the laid-out graph, a polyline from the parent's bottom side to the child's top side
 * that crosses no node box other than its two ends. `kind` is "merge" for an edge into a merge and
 * "fork" otherwise; `operation` names the child's lineage operation exactly.
 *
 * @since 0.2.0
 * @category models
 */
export type LayoutEdge = internal.Edge

/**
 * The laid-out graph, the shape `/api/graph` answers.
 *
 * @since 0.1.0
 * @category models
 */
export type Layout = internal.Layout

/**
 * Node box size and gaps, in SVG units.
 *
 * @since 0.1.0
 * @category models
 */
export const geometry: {
  readonly width: number
  readonly height: number
  readonly gapX: number
  readonly gapY: number
  readonly margin: number
} = internal.geometry

const inputsOf = (graph: SessionGraph.SessionGraph): Array<LayoutInput> =>
  Array.from(graph.rows.values(), (row) => ({
    id: row.id,
    parents: row.parents,
    operation: row.operation,
    label: `${row.operation}${row.by === undefined ? "" : ` · ${row.by.name}`}`
  }))

/**
 * Lays a lineage graph out in layers (Sugiyama-style): a session sits one layer below its deepest
 * parent; an edge that spans several layers gets a bend point in each layer it crosses, in a slot
 * of its own, so that no edge passes through a node box other than its two ends; within a layer,
 * nodes are ordered by the mean position of their neighbours. Parents named but not given become
 * nodes marked `missing`. Accepts a `SessionGraph` or plain rows (`LayoutInput`), e.g. session
 * summaries with a label and status.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Viewer } from "rath"
 *
 * const laid = Viewer.layout([
 *   { id: "plan", parents: [] },
 *   { id: "a", parents: ["plan"], operation: "fork" },
 *   { id: "b", parents: ["plan"], operation: "fork" },
 *   { id: "merged", parents: ["plan", "a"], operation: "merge" }
 * ])
 * console.log(laid.edges.map((edge) => edge.points.length))
 * ```
 */
export const layout = (graph: SessionGraph.SessionGraph | Iterable<LayoutInput>): Layout =>
  internal.layout(isGraph(graph) ? inputsOf(graph) : graph)

const isGraph = (value: SessionGraph.SessionGraph | Iterable<LayoutInput>): value is SessionGraph.SessionGraph =>
  "rows" in value && value.rows instanceof Map

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

const clip = (text: string, width: number): string => text.length <= width ? text : `${text.slice(0, width - 1)}…`

const encodeEntry = Schema.encodeSync(Entry.Entry)

const usageLine = (usage: Entry.Usage | undefined): string =>
  usage === undefined ? "" : `${usage.totalTokens} tok (in ${usage.inputTokens}, out ${usage.outputTokens})`

const placementLine = (placement: Placement.Placement | undefined): string =>
  placement === undefined
    ? "no sandbox recorded"
    : `${Placement.label(placement)}${placement.workspace === undefined ? "" : ` (${placement.workspace})`}`

const evidenceOf = (entry: Entry.Entry): ReadonlyArray<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  switch (entry._tag) {
    case "Assistant":
      if (entry.model !== undefined) out.push(["model", entry.model])
      if (entry.provider !== undefined) {
        out.push([
          "provider",
          `${entry.provider.kind}${entry.provider.host === undefined ? "" : ` @ ${entry.provider.host}`}${
            entry.provider.requestId === undefined ? "" : ` (request ${entry.provider.requestId})`
          }`
        ])
      }
      if (entry.finishReason !== undefined) out.push(["finish", entry.finishReason])
      if (entry.usage !== undefined) out.push(["usage", usageLine(entry.usage)])
      for (const call of entry.toolCalls) out.push(["tool call", `${call.name}(${call.arguments}) [${call.id}]`])
      if (entry.requestFingerprint !== undefined) out.push(["request", entry.requestFingerprint])
      break
    case "ToolResult":
      out.push(["sandbox", placementLine(entry.sandbox)])
      out.push(["duration", `${entry.durationMs} ms`])
      out.push(["result", entry.error === undefined ? "ok" : `failed: ${entry.error.kind}: ${entry.error.message}`])
      for (const effect of entry.effects ?? []) {
        const details = [
          effect.bytes === undefined ? undefined : `${effect.bytes} B`,
          effect.exitCode === undefined ? undefined : `exit ${effect.exitCode}`,
          effect.sha256 === undefined ? undefined : `sha256 ${effect.sha256.slice(0, 12)}`
        ].filter((part) => part !== undefined)
        out.push([
          "effect",
          `${effect.op}${effect.path === undefined ? "" : ` ${effect.path}`}${
            details.length === 0 ? "" : ` (${details.join(", ")})`
          }`
        ])
      }
      if (entry.approval !== undefined) out.push(["approval", entry.approval.decision])
      break
    case "Memory":
      out.push(["store", `${entry.store}${entry.namespace === undefined ? "" : ` / ${entry.namespace}`}`])
      if (entry.query !== undefined) out.push(["query", entry.query])
      for (const hit of entry.hits ?? []) {
        out.push(["hit", `${hit.id} (${hit.score.toFixed(3)})${hit.text === undefined ? "" : `: ${hit.text}`}`])
      }
      for (const written of entry.written ?? []) {
        out.push(["wrote", `${written.id}${written.text === undefined ? "" : `: ${written.text}`}`])
      }
      break
    case "Check":
      out.push(["check", `${entry.name}: ${entry.passed ? "passed" : "failed"}`])
      if (entry.details !== undefined) out.push(["details", JSON.stringify(entry.details) ?? ""])
      break
    case "Compression":
      out.push(["covers", `${entry.covers.length} entries`])
      if (entry.usage !== undefined) out.push(["usage", usageLine(entry.usage)])
      break
    case "Placement":
      out.push(["placement", placementLine(entry.placement)])
      if (entry.previous !== undefined) out.push(["previous", placementLine(entry.previous)])
      break
    case "Merge":
      out.push(["sessions", entry.sessions.join(" + ")])
      break
    case "Custom":
      out.push(["type", entry.type])
      if (entry.usage !== undefined) out.push(["usage", usageLine(entry.usage)])
      break
    default:
      break
  }
  return out
}

const authorLine = (author: Entry.Author): string =>
  author.kind === author.name ? author.kind : `${author.kind}:${author.name}`

interface SessionData {
  readonly id: string
  readonly operation: string
  readonly parents: ReadonlyArray<string>
  readonly by: string | null
  readonly createdAt: number
  readonly placement: string | null
  readonly length: number
  readonly base: number
  readonly usageOwn: string
  readonly usageAll: string
  readonly tools: number
  readonly toolFailures: number
  readonly memory: number
  readonly checks: ReadonlyArray<{ readonly name: string; readonly passed: boolean }>
  /** The session's entries, oldest first, as keys of the page's shared entry table. */
  readonly entries: ReadonlyArray<string>
}

interface EntryData {
  readonly id: string
  readonly tag: string
  readonly author: string
  readonly time: number
  readonly summary: string
  readonly evidence: ReadonlyArray<readonly [string, string]>
  readonly raw: unknown
}

const entryData = (entry: Entry.Entry): EntryData => ({
  id: entry.id,
  tag: entry._tag,
  author: authorLine(entry.author),
  time: entry.timestamp,
  // the whole entry is one click away (its raw JSON); the list line stays short
  summary: clip(Entry.summary(entry), 240),
  evidence: evidenceOf(entry),
  raw: encodeEntry(entry)
})

const sessionData = (session: Session.Session): SessionData => {
  const all = Chunk.toReadonlyArray(Session.entries(session))
  const own = all.slice(session.base)
  const usage = Session.usage(session)
  const tools = own.filter(Entry.is("ToolResult"))
  return {
    id: session.id,
    operation: session.lineage.operation,
    parents: session.lineage.parents,
    by: session.lineage.by === undefined ? null : authorLine(session.lineage.by),
    createdAt: session.lineage.createdAt,
    placement: Option.match(session.placement, { onNone: () => null, onSome: placementLine }),
    length: session.length,
    base: session.base,
    usageOwn: usageLine(usage.own) || "none",
    usageAll: usageLine(usage.inclusive) || "none",
    tools: tools.length,
    toolFailures: tools.filter((tool) => tool.error !== undefined).length,
    memory: own.filter(Entry.is("Memory")).length,
    checks: own.filter(Entry.is("Check")).map((check) => ({ name: check.name, passed: check.passed })),
    entries: all.map((entry) => entry.id)
  }
}

const svg = (graph: SessionGraph.SessionGraph, laid: Layout, data: ReadonlyMap<string, SessionData>): string => {
  const { height, width } = geometry
  const edges = laid.edges.map((edge) =>
    `<path class="edge op-${escape(edge.operation)}" data-from="${escape(edge.from)}" data-to="${escape(edge.to)}" d="${
      internal.pathOf(edge.points)
    }" marker-end="url(#arrow)"><title>${escape(edge.operation)}: ${escape(edge.from)} → ${
      escape(edge.to)
    }</title></path>`
  )
  const nodes = laid.nodes.map((node) => {
    const row = graph.rows.get(node.id as Session.SessionId)
    const info = data.get(node.id)
    const failed = info?.checks.some((check) => !check.passed) ?? false
    const passed = !failed && (info?.checks.length ?? 0) > 0
    const status = node.missing ? " missing" : failed ? " failed" : passed ? " passed" : ""
    const title = node.missing ? "not loaded" : `${row!.operation}${row!.by === undefined ? "" : ` · ${row!.by.name}`}`
    const facts = info === undefined
      ? node.missing ? "parent not in this set" : ""
      : [
        `${info.length} entries`,
        info.usageOwn === "none" ? undefined : info.usageOwn.split(" (")[0],
        ...info.checks.map((check) => `${check.passed ? "✓" : "✗"} ${check.name}`)
      ].filter((part) => part !== undefined).join(" · ")
    return `<g class="node op-${escape(row?.operation ?? "missing")}${status}" data-id="${
      escape(node.id)
    }" tabindex="0" role="button" transform="translate(${node.x},${node.y})"><title>${
      escape(node.id)
    }</title><rect width="${width}" height="${height}" rx="8"/><text x="10" y="19" class="t1">${
      escape(clip(title, 30))
    }</text><text x="10" y="37" class="t2">${escape(clip(node.id, 32))}</text><text x="10" y="53" class="t3">${
      escape(clip(facts, 34))
    }</text></g>`
  })
  return `<svg id="graph" width="${laid.width}" height="${laid.height}" viewBox="0 0 ${laid.width} ${laid.height}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"/></marker></defs>${
    edges.join("")
  }${nodes.join("")}</svg>`
}

const style = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2430;background:#f6f7f9}
header{padding:10px 16px;background:#1f2430;color:#fff;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:16px;margin:0}header .meta{opacity:.75;font-size:13px}
.legend{display:flex;gap:12px;font-size:12px;opacity:.9}.legend span:before{content:"";display:inline-block;width:18px;height:3px;margin-right:4px;vertical-align:middle;background:var(--c)}
main{display:grid;grid-template-columns:auto minmax(380px,1fr);height:calc(100vh - 44px)}
#graph-pane{overflow:auto;max-width:62vw;min-width:260px;border-right:1px solid #d9dde4;background:#fff}#details{overflow:auto;padding:14px 18px}
.node{cursor:pointer}.node rect{fill:#fff;stroke:#8a94a6;stroke-width:1.5}.node:hover rect,.node:focus rect{stroke:#3b6fd8}
.node.selected rect{stroke:#3b6fd8;stroke-width:3;fill:#eef3fd}.node.failed rect{stroke:#c9372c}.node.passed rect{stroke:#2f8f46}
.node.missing rect{stroke-dasharray:5 4;fill:#f3f4f6}.node text{font-size:12px;fill:#1f2430}.node .t1{font-weight:600}.node .t2{font-family:ui-monospace,monospace;font-size:11px;fill:#5b6475}.node .t3{font-size:11px;fill:#5b6475}
.edge{fill:none;stroke:#8a94a6;stroke-width:1.6}.edge.op-fork{stroke:#3b6fd8}.edge.op-merge{stroke:#8e44ad;stroke-width:2.2}.edge.op-step{stroke:#6b7280}.edge.op-detach{stroke-dasharray:6 4}
h2{font-size:16px;margin:0 0 6px;font-family:ui-monospace,monospace;word-break:break-all}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0 12px}dl.facts dt{color:#5b6475}dl.facts dd{margin:0;word-break:break-word}
.chips{display:flex;gap:6px;flex-wrap:wrap;margin:6px 0 12px}.chip{padding:1px 8px;border-radius:10px;background:#e6e9ef;font-size:12px}.chip.ok{background:#dcf1e1}.chip.bad{background:#f8dcd9}
.entry{border:1px solid #d9dde4;border-radius:6px;background:#fff;margin:0 0 6px}.entry.inherited{opacity:.6}
.entry summary{cursor:pointer;padding:6px 8px;display:flex;gap:8px;align-items:baseline}.entry .tag{font-weight:600;min-width:86px}
.entry .author{color:#5b6475;font-size:12px;min-width:110px}.entry .text{flex:1;white-space:pre-wrap;word-break:break-word}
.entry .body{padding:0 10px 8px}.entry table{border-collapse:collapse;font-size:13px;margin:4px 0}.entry td{padding:1px 10px 1px 0;vertical-align:top}.entry td:first-child{color:#5b6475}
.entry pre{background:#f3f4f6;padding:6px;overflow:auto;font-size:12px;max-height:240px}
.tag-ToolResult .tag{color:#b35c00}.tag-Assistant .tag{color:#3b6fd8}.tag-Memory .tag{color:#8e44ad}.tag-Check .tag{color:#2f8f46}.tag-Check.check-failed .tag{color:#c9372c}
.muted{color:#5b6475}label.toggle{display:block;margin:6px 0 10px;font-size:13px}
`

const script = `
(function(){
  var data = JSON.parse(document.getElementById("rath-data").textContent);
  var details = document.getElementById("details");
  // ids come from the URL hash too: look them up as own keys only ("#constructor" is no session)
  function own(map, key){ return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined; }
  function el(tag, attrs, children){
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) { if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]); }
    (children || []).forEach(function(c){ if (c) node.appendChild(c); });
    return node;
  }
  function fact(list, name, value){ list.appendChild(el("dt", {text: name})); list.appendChild(el("dd", {text: value})); }
  function entryView(entry, index, inherited){
    var cls = "entry tag-" + entry.tag + (inherited ? " inherited" : "");
    if (entry.tag === "Check" && entry.raw && entry.raw.passed === false) cls += " check-failed";
    var rows = entry.evidence.map(function(pair){ return el("tr", null, [el("td", {text: pair[0]}), el("td", {text: pair[1]})]); });
    var body = el("div", {"class": "body"}, [
      el("div", {"class": "muted", text: entry.id + " · " + new Date(entry.time).toISOString() + (inherited ? " · inherited" : "")}),
      rows.length ? el("table", null, rows) : null,
      el("pre", {text: JSON.stringify(entry.raw, null, 2)})
    ]);
    return el("details", {"class": cls, "data-entry": entry.id}, [
      el("summary", null, [
        el("span", {"class": "tag", text: (index + 1) + ". " + entry.tag}),
        el("span", {"class": "author", text: entry.author}),
        el("span", {"class": "text", text: entry.summary})
      ]),
      body
    ]);
  }
  function show(id){
    document.querySelectorAll(".node.selected").forEach(function(n){ n.classList.remove("selected"); });
    var node = document.querySelector('.node[data-id="' + (window.CSS && CSS.escape ? CSS.escape(id) : id) + '"]');
    if (node) node.classList.add("selected");
    details.textContent = "";
    var s = own(data.sessions, id);
    if (!s) {
      details.appendChild(el("h2", {text: id}));
      details.appendChild(el("p", {"class": "muted", text: "This session is named as a parent but is not part of this set."}));
      return;
    }
    details.appendChild(el("h2", {text: s.id}));
    var facts = el("dl", {"class": "facts"});
    fact(facts, "lineage", s.operation + (s.parents.length ? " of " + s.parents.join(" + ") : "") + (s.by ? " by " + s.by : ""));
    fact(facts, "created", new Date(s.createdAt).toISOString());
    fact(facts, "placement", s.placement || "none");
    fact(facts, "entries", s.length + " (" + s.base + " inherited, " + (s.length - s.base) + " own)");
    fact(facts, "usage (own)", s.usageOwn);
    fact(facts, "usage (with history)", s.usageAll);
    details.appendChild(facts);
    var chips = el("div", {"class": "chips"}, [
      el("span", {"class": "chip", text: s.tools + " tool result" + (s.tools === 1 ? "" : "s") + (s.toolFailures ? ", " + s.toolFailures + " failed" : "")}),
      el("span", {"class": "chip", text: s.memory + " memory event" + (s.memory === 1 ? "" : "s")})
    ].concat(s.checks.map(function(c){ return el("span", {"class": "chip " + (c.passed ? "ok" : "bad"), text: (c.passed ? "✓ " : "✗ ") + c.name}); })));
    details.appendChild(chips);
    var list = el("div", {id: "entries"});
    var toggle = el("input", {type: "checkbox", id: "show-inherited"});
    if (s.base > 0) details.appendChild(el("label", {"class": "toggle"}, [toggle, document.createTextNode(" show the " + s.base + " inherited entries")]));
    function render(){
      list.textContent = "";
      s.entries.forEach(function(id, i){
        var inherited = i < s.base;
        if (inherited && !toggle.checked) return;
        list.appendChild(entryView(own(data.entries, id), i, inherited));
      });
    }
    toggle.addEventListener("change", render);
    render();
    details.appendChild(list);
    if (history.replaceState) history.replaceState(null, "", "#" + encodeURIComponent(id));
  }
  document.querySelectorAll(".node").forEach(function(node){
    var id = node.getAttribute("data-id");
    node.addEventListener("click", function(){ show(id); });
    node.addEventListener("keydown", function(e){ if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(id); } });
  });
  var hash = location.hash.slice(1);
  try { hash = decodeURIComponent(hash); } catch (e) { /* a malformed escape: the hash as it is */ }
  var initial = hash || data.selected;
  if (initial && (own(data.sessions, initial) || document.querySelector(".node"))) show(initial);
})();
`

const jsonForScript = (value: unknown): string =>
  JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")

/**
 * The viewer page for a set of sessions, as one self-contained HTML string.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Session, Viewer } from "rath"
 *
 * const program = Effect.gen(function*() {
 *   const root = yield* Session.fromUserMessage("plan the work")
 *   const attempt = yield* Session.fork(root)
 *   const page: string = Viewer.html([root, attempt], { title: "my run" })
 *   return page
 * })
 * ```
 */
export const html = (sessions: Iterable<Session.Session>, options?: Options): string => {
  const list = Array.from(sessions)
  const graph = SessionGraph.fromSessions(list)
  const laid = layout(graph)
  const data = new Map(list.map((session) => [session.id as string, sessionData(session)]))
  const newest = list.reduce<Session.Session | undefined>(
    (best, session) => best === undefined || session.lineage.createdAt >= best.lineage.createdAt ? session : best,
    undefined
  )
  const title = options?.title ?? "rath sessions"
  // entries are shared between sessions (a fork holds its parent's history): each is sent once
  const table = new Map<string, EntryData>()
  for (const session of list) {
    for (const entry of Session.reverseEntries(session)) {
      if (!table.has(entry.id)) table.set(entry.id, entryData(entry))
    }
  }
  const payload = {
    title,
    selected: options?.selected ?? newest?.id ?? null,
    sessions: Object.fromEntries(data),
    entries: Object.fromEntries(table)
  }
  const entries = list.reduce((sum, session) => sum + session.length - session.base, 0)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escape(title)}</title>
<style>${style}</style>
</head>
<body>
<header><h1>${escape(title)}</h1><span class="meta" id="summary">${list.length} session${
    list.length === 1 ? "" : "s"
  } · ${laid.edges.length} lineage edge${laid.edges.length === 1 ? "" : "s"} · ${entries} own entries</span>
<span class="legend"><span style="--c:#3b6fd8">fork</span><span style="--c:#6b7280">step</span><span style="--c:#8e44ad">merge</span><span style="--c:repeating-linear-gradient(90deg,#8a94a6 0 5px,transparent 5px 8px)">detach</span></span></header>
<main><div id="graph-pane">${
    svg(graph, laid, data)
  }</div><section id="details"><p class="muted">Click a session to see its entries.</p></section></main>
<script type="application/json" id="rath-data">${jsonForScript(payload)}</script>
<script>${script}</script>
</body>
</html>
`
}

/**
 * @since 0.2.0
 * @category models
 */
export interface PageOptions {
  /** The page title (default: "rath"). */
  readonly title?: string | undefined
}

/**
 * The debugger `rath serve` answers at `/`: one self-contained HTML document (inline CSS and
 * script, no external URL; its Content-Security-Policy allows requests to its own origin only)
 * that reads everything from the server's JSON API under `/api`: the session list with paging,
 * search and filters, grouped by run; the lineage graph (zoom, pan, fit); a timeline per session;
 * the messages a model call was sent; a diff of two branches; live updates over SSE; starting,
 * following and interrupting runs; answering approvals; forking from an entry. Writes carry the
 * bearer token the server printed (`#token=` in the address, kept in `sessionStorage`).
 * See docs/viewer.md.
 *
 * @since 0.2.0
 * @category constructors
 */
export const page = (options?: PageOptions): string => {
  const title = escape(options?.title ?? "rath")
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${debuggerPage.style}</style>
</head>
<body>
${debuggerPage.body.replace("<h1 id=\"title\"></h1>", `<h1 id="title">${title}</h1>`)}
<script>${debuggerPage.script}</script>
</body>
</html>
`
}
