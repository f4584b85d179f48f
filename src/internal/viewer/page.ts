// The debugger page `rath serve` answers at `/`: its style and its script, plain browser
// JavaScript with no framework and no dependency. Everything it shows comes from the JSON API
// under /api (notes/contract-17.md); it asks nothing of any other host (the CSP says so too).
//
// The script is kept in String.raw so that backslashes reach the browser as written; it uses no
// template literals of its own.

export const style = String.raw`
*{box-sizing:border-box}html,body{height:100%}body{margin:0;font:13px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2430;background:#f6f7f9;display:flex;flex-direction:column}
header{padding:6px 12px;background:#1f2430;color:#fff;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
header h1{font-size:15px;margin:0}header form{display:flex;gap:4px;margin:0}
header input,header select,header button{font:inherit}
#live{font-size:12px;opacity:.85}#live:before{content:"";display:inline-block;width:8px;height:8px;border-radius:4px;background:#888;margin-right:4px}#live.on:before{background:#3bbf60}
button{cursor:pointer;border:1px solid #c4cad4;background:#fff;border-radius:4px;padding:2px 8px}button.primary{background:#3b6fd8;color:#fff;border-color:#3b6fd8}
button.bad{color:#c9372c}.badge{background:#c9372c;color:#fff;border-radius:8px;padding:0 6px;font-size:11px}.badge.zero{background:#6b7280}
main{flex:1;display:grid;grid-template-columns:300px minmax(300px,1fr) minmax(380px,40%);min-height:0}
aside{display:flex;flex-direction:column;border-right:1px solid #d9dde4;min-height:0;background:#fff}
aside .filters{padding:6px;display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:4px}aside input{font:inherit;width:100%;min-width:0}aside input[type=checkbox]{width:auto}
aside .filters label{font-size:12px;display:flex;gap:4px;align-items:center;min-width:0}aside .filters label input{flex:1}aside .filters label input[type=checkbox]{flex:none}#q{margin:6px 6px 0;width:calc(100% - 12px)}
#count{padding:2px 8px;color:#5b6475;font-size:12px}
#list{flex:1;overflow:auto;position:relative;outline:none}#list-spacer{position:relative}
.row{position:absolute;left:0;right:0;height:40px;padding:3px 8px;border-bottom:1px solid #eef0f3;cursor:pointer;overflow:hidden;white-space:nowrap}
.row .l1{font-weight:600;overflow:hidden;text-overflow:ellipsis}.row .l2{font-size:11px;color:#5b6475;overflow:hidden;text-overflow:ellipsis}
.row.selected{background:#eef3fd}.row.compare{box-shadow:inset 3px 0 #8e44ad}.row.group{background:#f0f2f5;font-weight:600;color:#39414f}
.st{display:inline-block;width:8px;height:8px;border-radius:4px;margin-right:4px;background:#9aa3b2}
.st-running{background:#3b6fd8}.st-waiting{background:#e0a100}.st-failed{background:#c9372c}.st-done{background:#2f8f46}.st-interrupted{background:#8e44ad}
#graph-pane{position:relative;min-width:0;min-height:0;background:#fff;border-right:1px solid #d9dde4;display:flex;flex-direction:column}
.toolbar{display:flex;gap:4px;padding:4px;align-items:center;border-bottom:1px solid #eef0f3}.toolbar span{color:#5b6475;font-size:12px}
#graph{flex:1;width:100%;min-height:0;cursor:grab;user-select:none;touch-action:none}#graph.dragging{cursor:grabbing}
.node{cursor:pointer}.node rect{fill:#fff;stroke:#8a94a6;stroke-width:1.5}.node.selected rect{stroke:#3b6fd8;stroke-width:3;fill:#eef3fd}
.node.status-failed rect{stroke:#c9372c}.node.status-done rect{stroke:#2f8f46}.node.status-running rect{stroke:#3b6fd8;stroke-dasharray:6 3}
.node.status-waiting rect{stroke:#e0a100}.node.status-missing rect{stroke-dasharray:5 4;fill:#f3f4f6}
.node text{font-size:12px;fill:#1f2430}.node .t2{font-family:ui-monospace,monospace;font-size:11px;fill:#5b6475}
.edge{fill:none;stroke:#6b7280;stroke-width:1.6}.edge.kind-merge{stroke:#8e44ad;stroke-width:2.2}.edge.op-fork{stroke:#3b6fd8}.edge.op-detach{stroke-dasharray:6 4}
#details{display:flex;flex-direction:column;min-height:0;min-width:0}
.tabs{display:flex;gap:2px;padding:4px;border-bottom:1px solid #d9dde4;background:#fff;flex-wrap:wrap}.tabs button.on{background:#1f2430;color:#fff}
#pane{flex:1;overflow:auto;padding:8px 12px}
h2{font-size:14px;margin:0 0 6px;font-family:ui-monospace,monospace;word-break:break-all}
.muted{color:#5b6475}.err{color:#c9372c}
.entry{border:1px solid #d9dde4;border-radius:5px;background:#fff;margin:0 0 4px;padding:4px 6px}
.entry .head{display:flex;gap:6px;align-items:baseline}.entry .tag{font-weight:600;min-width:80px}.entry .who{color:#5b6475;font-size:12px}
.entry .text{white-space:pre-wrap;word-break:break-word;margin-top:2px}.entry .head button{margin-left:auto;font-size:11px}
pre{background:#f3f4f6;padding:6px;overflow:auto;font-size:12px;max-height:260px;margin:4px 0;white-space:pre-wrap;word-break:break-word}
.wf{display:grid;grid-template-columns:150px 1fr 170px;gap:2px 8px;align-items:center}
.wf .lbl{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;cursor:pointer}.wf .track{position:relative;height:14px;background:#f3f4f6;border-radius:3px}
.wf .bar{position:absolute;top:2px;bottom:2px;border-radius:2px;min-width:2px;background:#3b6fd8}.wf .bar.tool{background:#b35c00}.wf .bar.memory{background:#8e44ad}.wf .bar.check{background:#2f8f46}.wf .bar.bad{background:#c9372c}
.wf .num{font-size:11px;color:#5b6475;white-space:nowrap}
.msg{border-left:3px solid #c4cad4;padding:2px 8px;margin:4px 0}.msg .role{font-weight:600;font-size:12px;text-transform:uppercase;color:#5b6475}
.msg.role-user{border-color:#3b6fd8}.msg.role-assistant{border-color:#2f8f46}.msg.role-system{border-color:#e0a100}.msg.role-tool{border-color:#b35c00}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.card{border:1px solid #d9dde4;border-radius:5px;padding:6px;margin:0 0 6px;background:#fff}.card textarea{width:100%;font:12px ui-monospace,monospace;min-height:60px}
.card .actions{display:flex;gap:4px;margin-top:4px;align-items:center}
form.inline{display:flex;flex-direction:column;gap:4px;margin:4px 0}form.inline textarea{min-height:60px;font:inherit}
#toast{position:fixed;bottom:10px;right:10px;background:#1f2430;color:#fff;padding:6px 10px;border-radius:5px;display:none;max-width:50vw}#toast.show{display:block}
`

export const script = String.raw`
(function(){
  "use strict";
  // ---------------------------------------------------------------- token
  // the server prints http://127.0.0.1:PORT/#token=TOKEN once; keep it for this tab, off the URL bar
  var hash = location.hash.slice(1);
  var fromHash = /(?:^|&)token=([^&]*)/.exec(hash);
  if (fromHash) {
    try { sessionStorage.setItem("rath.token", decodeURIComponent(fromHash[1])); } catch (e) { /* storage off */ }
    history.replaceState(null, "", location.pathname + location.search);
  }
  function token(){ try { return sessionStorage.getItem("rath.token"); } catch (e) { return null; } }

  // ---------------------------------------------------------------- helpers
  function $(id){ return document.getElementById(id); }
  function el(tag, attrs, children){
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (attrs[k] === undefined || attrs[k] === null) continue;
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function(c){ if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  var SVG = "http://www.w3.org/2000/svg";
  function sv(tag, attrs){ var n = document.createElementNS(SVG, tag); for (var k in attrs) n.setAttribute(k, attrs[k]); return n; }
  function clip(text, n){ text = String(text); return text.length <= n ? text : text.slice(0, n - 1) + "\u2026"; }
  function toast(text){ var t = $("toast"); t.textContent = text; t.className = "show"; clearTimeout(toast.timer); toast.timer = setTimeout(function(){ t.className = ""; }, 5000); }
  function debounce(f, ms){ var timer; return function(){ var args = arguments; clearTimeout(timer); timer = setTimeout(function(){ f.apply(null, args); }, ms); }; }
  function qs(params){
    var parts = [];
    for (var k in params) if (params[k] !== undefined && params[k] !== null && params[k] !== "") parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
    return parts.length ? "?" + parts.join("&") : "";
  }
  function api(path, body){
    var init = { headers: {} };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["content-type"] = "application/json";
      var t = token();
      if (t) init.headers.authorization = "Bearer " + t;
      init.body = JSON.stringify(body);
    }
    return fetch("/api" + path, init).then(function(res){
      return res.text().then(function(text){
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
        if (!res.ok) {
          var message = (data && data.error) || res.statusText;
          if (res.status === 401) message += " (open the address the server printed, with its #token=)";
          throw new Error(res.status + ": " + message);
        }
        return data;
      });
    });
  }
  function fail(e){ toast(String(e && e.message || e)); }
  function entryText(entry){
    if (!entry) return "";
    if (typeof entry.text === "string" && entry.text) return entry.text;
    if (entry._tag === "ToolResult") return (entry.toolName || "") + " \u2192 " + (entry.error ? "failed: " + (entry.error.kind ? entry.error.kind + ": " : "") + (entry.error.message || JSON.stringify(entry.error)) : typeof entry.output === "string" ? entry.output : JSON.stringify(entry.output));
    if (entry._tag === "Check") return (entry.name || "") + ": " + (entry.passed ? "passed" : "failed");
    if (entry._tag === "Merge") return "merged " + (entry.sessions || []).join(" + ");
    if (entry.toolCalls && entry.toolCalls.length) return entry.toolCalls.map(function(c){ return c.name + "(" + c.arguments + ")"; }).join(", ");
    if (entry._tag === "Custom") return entry.type || "";
    return "";
  }
  function who(entry){ var a = entry && entry.author; return a ? (a.kind === a.name ? a.kind : a.kind + ":" + a.name) : ""; }

  // ---------------------------------------------------------------- state
  var state = {
    filters: {}, items: [], next: undefined, total: 0, loading: false, generation: 0,
    selected: null, compare: null, detail: null, timeline: [], tab: "entries",
    workflows: [], approvals: [], runs: [], graph: null, graphScope: "", group: false
  };
  var ROW = 40, PAGE = 200;

  // ---------------------------------------------------------------- session list (virtualised)
  var list = $("list"), spacer = $("list-spacer");
  function rows(){
    if (!state.group) return state.items.map(function(s){ return { session: s }; });
    var groups = new Map();
    state.items.forEach(function(s){ var key = s.run || ""; if (!groups.has(key)) groups.set(key, []); groups.get(key).push(s); });
    var out = [];
    groups.forEach(function(sessions, run){
      out.push({ group: run, count: sessions.length });
      sessions.forEach(function(s){ out.push({ session: s }); });
    });
    return out;
  }
  function renderList(){
    var all = rows();
    // ungrouped, the spacer is as tall as the whole store: scrolling there loads the pages in between
    var count = state.group ? all.length : Math.max(all.length, state.total);
    spacer.style.height = (count * ROW) + "px";
    var first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    var last = Math.min(count, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 5);
    spacer.textContent = "";
    for (var i = first; i < last; i++) {
      var r = all[i];
      var node;
      if (!r) node = el("div", { "class": "row muted", text: "loading\u2026" });
      else if (r.group !== undefined) {
        node = el("div", { "class": "row group", "data-run": r.group, title: "show this run's graph" }, [
          el("div", { "class": "l1", text: r.group ? "run " + r.group : "not from a run" }),
          el("div", { "class": "l2", text: r.count + " session" + (r.count === 1 ? "" : "s") + " loaded" })
        ]);
        (function(run){ node.addEventListener("click", function(){ if (run) loadGraph({ run: run }, "run " + run); }); })(r.group);
      } else {
        var s = r.session;
        node = el("div", {
          "class": "row" + (s.id === state.selected ? " selected" : "") + (s.id === state.compare ? " compare" : ""),
          "data-id": s.id, title: s.id + " (alt-click: compare with the selected session)"
        }, [
          el("div", { "class": "l1" }, [el("span", { "class": "st st-" + s.status, title: s.status }), (s.name || s.id)]),
          el("div", { "class": "l2", text: [s.updatedAt.replace("T", " ").slice(0, 19), s.entries + " entries",
            s.agents.join(","), s.failedChecks ? s.failedChecks + " failed check" + (s.failedChecks === 1 ? "" : "s") : "",
            (s.usage.input + s.usage.output) + " tok"].filter(Boolean).join(" \u00b7 ") })
        ]);
        (function(id){ node.addEventListener("click", function(e){ if (e.altKey) compareWith(id); else select(id); }); })(s.id);
      }
      node.style.top = (i * ROW) + "px";
      spacer.appendChild(node);
    }
    $("count").textContent = state.items.length + " of " + state.total + " sessions loaded" + (state.group ? ", grouped by run" : "");
    if (!state.group && last > state.items.length && state.next) loadMore();
  }
  list.addEventListener("scroll", function(){ requestAnimationFrame(renderList); });
  window.addEventListener("resize", function(){ renderList(); });

  function loadMore(){
    if (state.loading || state.next === null) return Promise.resolve();
    state.loading = true;
    var generation = state.generation;
    var f = state.filters;
    return api("/sessions" + qs({ cursor: state.next, limit: PAGE, q: f.q, agent: f.agent, tool: f.tool,
      failed: f.failed ? "true" : "", since: f.since, until: f.until, run: f.run })).then(function(page){
      if (generation !== state.generation) return;
      state.items = state.items.concat(page.items);
      state.next = page.next;
      state.total = page.total;
      state.loading = false;
      renderList();
    }, function(e){ state.loading = false; fail(e); });
  }
  function filtered(){ var f = state.filters; return !!(f.q || f.agent || f.tool || f.failed || f.since || f.until || f.run); }
  function reload(){
    state.generation++;
    state.items = []; state.next = undefined; state.total = 0; state.loading = false;
    list.scrollTop = 0;
    var done = loadMore();
    // with filters, the graph follows the first sessions they match; without, the store's newest
    return done.then(function(){
      if (filtered()) return loadGraph({ ids: state.items.slice(0, 100).map(function(s){ return s.id; }).join(",") }, "first 100 matching");
    });
  }
  function readFilters(){
    function iso(v){ if (!v) return ""; var d = new Date(v); return isNaN(d.getTime()) ? "" : d.toISOString(); }
    state.filters = { q: $("q").value.trim(), agent: $("f-agent").value.trim(), tool: $("f-tool").value.trim(),
      failed: $("f-failed").checked, since: iso($("f-since").value), until: iso($("f-until").value) };
    reload();
  }
  ["q", "f-agent", "f-tool"].forEach(function(id){ $(id).addEventListener("input", debounce(readFilters, 250)); });
  ["f-failed", "f-since", "f-until"].forEach(function(id){ $(id).addEventListener("change", readFilters); });
  $("group").addEventListener("change", function(){ state.group = $("group").checked; list.scrollTop = 0; renderList(); });

  // ---------------------------------------------------------------- graph (zoom and pan)
  var svg = $("graph");
  var view = { x: 0, y: 0, w: 100, h: 100 };
  function setView(){ svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" ")); }
  function fit(){
    var g = state.graph;
    if (!g) return;
    view = { x: 0, y: 0, w: Math.max(g.width, 200), h: Math.max(g.height, 120) };
    setView();
  }
  function pathOf(points){
    if (!points.length) return "";
    var d = "M" + points[0][0] + "," + points[0][1];
    for (var i = 1; i < points.length; i++) {
      var p = points[i - 1], q = points[i];
      // between layers a curve whose control points stay in the gap; across a layer a straight line
      if (p[0] === q[0] || q[1] <= p[1]) d += " L" + q[0] + "," + q[1];
      else { var mid = Math.round((p[1] + q[1]) * 5) / 10; d += " C" + p[0] + "," + mid + " " + q[0] + "," + mid + " " + q[0] + "," + q[1]; }
    }
    return d;
  }
  function drawGraph(){
    var g = state.graph;
    svg.textContent = "";
    var defs = sv("defs", {});
    var marker = sv("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.appendChild(sv("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8a94a6" }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    if (!g) return;
    var edges = sv("g", { "class": "edges" });
    g.edges.forEach(function(e){
      var path = sv("path", { "class": "edge kind-" + e.kind + " op-" + (e.operation || e.kind), d: pathOf(e.points), "marker-end": "url(#arrow)", "data-from": e.from, "data-to": e.to });
      var title = sv("title", {}); title.textContent = (e.operation || e.kind) + ": " + e.from + " \u2192 " + e.to; path.appendChild(title);
      edges.appendChild(path);
    });
    svg.appendChild(edges);
    var nodes = sv("g", { "class": "nodes" });
    g.nodes.forEach(function(n){
      var node = sv("g", { "class": "node status-" + n.status + (n.id === state.selected ? " selected" : ""), "data-id": n.id, transform: "translate(" + n.x + "," + n.y + ")", tabindex: "0" });
      node.appendChild(sv("rect", { width: n.width, height: n.height, rx: "7" }));
      var title = sv("title", {}); title.textContent = n.id + " (" + n.status + ")"; node.appendChild(title);
      var t1 = sv("text", { x: "10", y: "22" }); t1.textContent = clip(n.label, 30); node.appendChild(t1);
      var t2 = sv("text", { x: "10", y: "42", "class": "t2" }); t2.textContent = clip(n.id, 30); node.appendChild(t2);
      node.addEventListener("click", function(ev){ if (!moved) { if (ev.altKey) compareWith(n.id); else select(n.id); } });
      node.addEventListener("keydown", function(ev){ if (ev.key === "Enter") select(n.id); });
      nodes.appendChild(node);
    });
    svg.appendChild(nodes);
  }
  function loadGraph(params, scope){
    return api("/graph" + qs(params)).then(function(g){
      state.graph = g; state.graphScope = scope;
      $("graph-scope").textContent = g.nodes.length + " sessions \u00b7 " + scope;
      drawGraph(); fit();
    }, fail);
  }
  function zoom(factor, cx, cy){
    if (cx === undefined) { cx = view.x + view.w / 2; cy = view.y + view.h / 2; }
    view = { x: cx - (cx - view.x) * factor, y: cy - (cy - view.y) * factor, w: view.w * factor, h: view.h * factor };
    setView();
  }
  function toSvg(clientX, clientY){
    var m = svg.getScreenCTM();
    if (!m) return { x: view.x, y: view.y };
    var p = svg.createSVGPoint(); p.x = clientX; p.y = clientY;
    var q = p.matrixTransform(m.inverse());
    return { x: q.x, y: q.y };
  }
  svg.addEventListener("wheel", function(e){
    e.preventDefault();
    var p = toSvg(e.clientX, e.clientY);
    zoom(Math.exp(e.deltaY * 0.0015), p.x, p.y);
  }, { passive: false });
  var drag = null, moved = false;
  svg.addEventListener("pointerdown", function(e){ drag = { x: e.clientX, y: e.clientY, view: view }; moved = false; });
  window.addEventListener("pointermove", function(e){
    if (!drag) return;
    var m = svg.getScreenCTM(); var scale = m ? m.a : 1;
    var dx = (e.clientX - drag.x) / scale, dy = (e.clientY - drag.y) / scale;
    if (Math.abs(dx) + Math.abs(dy) > 3 / scale) { moved = true; svg.classList.add("dragging"); }
    if (moved) { view = { x: drag.view.x - dx, y: drag.view.y - dy, w: drag.view.w, h: drag.view.h }; setView(); }
  });
  window.addEventListener("pointerup", function(){ drag = null; svg.classList.remove("dragging"); setTimeout(function(){ moved = false; }, 0); });
  $("fit").addEventListener("click", fit);
  $("zoom-in").addEventListener("click", function(){ zoom(1 / 1.25); });
  $("zoom-out").addEventListener("click", function(){ zoom(1.25); });
  $("approvals-button").addEventListener("click", function(){ tab("approvals"); });
  $("graph-all").addEventListener("click", function(){ loadGraph({ limit: 100 }, "newest 100"); });

  // ---------------------------------------------------------------- details
  var pane = $("pane");
  function tab(name){
    state.tab = name;
    document.querySelectorAll(".tabs button").forEach(function(b){ b.classList.toggle("on", b.getAttribute("data-tab") === name); });
    render();
  }
  document.querySelectorAll(".tabs button").forEach(function(b){ b.addEventListener("click", function(){ tab(b.getAttribute("data-tab")); }); });
  function render(){
    pane.textContent = "";
    var show = { entries: renderEntries, timeline: renderTimeline, call: renderCall, diff: renderDiff, runs: renderRuns, approvals: renderApprovals }[state.tab];
    show();
  }
  function select(id){
    state.selected = id;
    renderList();
    document.querySelectorAll(".node.selected").forEach(function(n){ n.classList.remove("selected"); });
    var node = svg.querySelector('.node[data-id="' + CSS.escape(id) + '"]');
    if (node) node.classList.add("selected");
    state.call = null;
    return refreshSelected().then(function(){
      var s = state.detail && state.detail.summary;
      // a session of a run: show that run's graph; one outside the graph: it and its parents
      if (s && s.run && state.graphScope !== "run " + s.run) return loadGraph({ run: s.run }, "run " + s.run);
      if (s && !node) return loadGraph({ ids: [s.id].concat(s.parents).join(",") }, "session and parents");
    });
  }
  function refreshSelected(){
    var id = state.selected;
    if (!id) return Promise.resolve();
    return Promise.all([api("/sessions/" + encodeURIComponent(id)), api("/sessions/" + encodeURIComponent(id) + "/timeline")]).then(function(r){
      if (state.selected !== id) return;
      state.detail = r[0]; state.timeline = r[1].items;
      render();
    }, function(e){
      if (state.selected !== id) return;
      state.detail = null; state.timeline = [];
      pane.textContent = "";
      pane.appendChild(el("h2", { text: id }));
      pane.appendChild(el("p", { "class": "err", text: String(e.message || e) }));
    });
  }
  var refreshSoon = debounce(refreshSelected, 150);
  function header(){
    var s = state.detail.summary;
    return el("div", null, [
      el("h2", { text: s.name ? s.name + " \u00b7 " + s.id : s.id }),
      el("div", { "class": "muted", text: [s.status, s.entries + " entries", s.parents.length ? "parents " + s.parents.join(", ") : "root",
        s.run ? "run " + s.run : "", "tokens in " + s.usage.input + " / out " + s.usage.output,
        s.failedChecks ? s.failedChecks + " failed checks" : ""].filter(Boolean).join(" \u00b7 ") })
    ]);
  }
  function none(){ pane.appendChild(el("p", { "class": "muted", text: "Select a session in the list or the graph." })); }
  function renderEntries(){
    if (!state.detail) return none();
    pane.appendChild(header());
    var box = el("div", { id: "entries" });
    state.detail.entries.forEach(function(entry, i){
      var card = el("div", { "class": "entry tag-" + entry._tag, "data-entry": entry.id }, [
        el("div", { "class": "head" }, [
          el("span", { "class": "tag", text: (i + 1) + ". " + entry._tag }),
          el("span", { "class": "who", text: who(entry) }),
          entry._tag === "Assistant" ? el("button", { text: "call", title: "what this model call was sent", onclick: function(){ showCall(entry.id); } }) : null,
          el("button", { "class": "fork", text: "fork here", onclick: function(){ forkForm(card, entry); } })
        ]),
        el("div", { "class": "text", text: clip(entryText(entry), 2000) })
      ]);
      var raw = el("details", null, [el("summary", { "class": "muted", text: "json" }), el("pre", { text: JSON.stringify(entry, null, 2) })]);
      card.appendChild(raw);
      box.appendChild(card);
    });
    pane.appendChild(box);
  }
  function workflowSelect(withNone){
    var select = el("select", null, withNone ? [el("option", { value: "", text: "no re-run" })] : []);
    state.workflows.forEach(function(w){ select.appendChild(el("option", { value: w.name, text: w.name, title: w.description })); });
    return select;
  }
  function forkForm(card, entry){
    if (card.querySelector("form")) return;
    var text = el("textarea", { placeholder: "message (replaces this user message, else appended; empty: none)" });
    if (entry._tag === "User") text.value = entry.text || "";
    var wf = workflowSelect(true);
    var form = el("form", { "class": "inline" }, [text, el("div", { "class": "actions" }, [wf,
      el("button", { "class": "primary", type: "submit", text: "fork" }),
      el("button", { type: "button", text: "cancel", onclick: function(){ form.remove(); } })])]);
    form.addEventListener("submit", function(e){
      e.preventDefault();
      var body = { entry: entry.id };
      if (text.value) body.message = text.value;
      if (wf.value) body.workflow = wf.value;
      api("/sessions/" + encodeURIComponent(state.selected) + "/fork", body).then(function(out){
        toast("forked: " + out.session + (out.run ? " \u00b7 run " + out.run.id : ""));
        if (out.run) follow(out.run);
        reload();
        select(out.session);
      }, fail);
    });
    card.appendChild(form);
    text.focus();
  }
  function renderTimeline(){
    if (!state.detail) return none();
    pane.appendChild(header());
    var items = state.timeline;
    if (!items.length) { pane.appendChild(el("p", { "class": "muted", text: "No model or tool calls in this session." })); return; }
    var spans = items.map(function(it){ var end = Date.parse(it.at); return { it: it, start: end - (it.latencyMs || 0), end: end }; });
    var t0 = Math.min.apply(null, spans.map(function(s){ return s.start; }));
    var t1 = Math.max.apply(null, spans.map(function(s){ return s.end; }));
    var total = Math.max(1, t1 - t0);
    var sum = { latency: 0, input: 0, output: 0, cost: 0, costs: false };
    var grid = el("div", { "class": "wf", id: "timeline" });
    spans.forEach(function(s){
      var it = s.it;
      sum.latency += it.latencyMs || 0;
      if (it.tokens) { sum.input += it.tokens.input; sum.output += it.tokens.output; }
      if (it.cost !== null && it.cost !== undefined) { sum.cost += it.cost; sum.costs = true; }
      var lbl = el("div", { "class": "lbl", title: (it.agent ? it.agent + " \u00b7 " : "") + it.label + (it.error ? " \u00b7 " + it.error : ""), text: it.kind + " \u00b7 " + it.label });
      var bar = el("div", { "class": "bar " + it.kind + (it.ok ? "" : " bad") });
      bar.style.left = ((s.start - t0) / total * 100) + "%";
      bar.style.width = ((s.end - s.start) / total * 100) + "%";
      var nums = [it.latencyMs !== null ? it.latencyMs + " ms" : "", it.tokens ? it.tokens.input + "/" + it.tokens.output + " tok" : "",
        it.cost !== null && it.cost !== undefined ? "$" + it.cost.toFixed(4) : "", it.ok ? "" : "failed"].filter(Boolean).join(" \u00b7 ");
      var row = [lbl, el("div", { "class": "track" }, [bar]), el("div", { "class": "num", text: nums })];
      row.forEach(function(cell){
        cell.setAttribute("data-entry", it.entry);
        cell.classList.add("item-" + it.kind);
        if (it.kind === "model") cell.addEventListener("click", function(){ showCall(it.entry); });
      });
      row.forEach(function(cell){ grid.appendChild(cell); });
    });
    pane.appendChild(el("p", { "class": "muted", id: "timeline-sum", text: items.length + " calls \u00b7 " + sum.latency + " ms \u00b7 " + sum.input + "/" + sum.output + " tok" + (sum.costs ? " \u00b7 $" + sum.cost.toFixed(4) : "") + " \u00b7 click a model call to see what it was sent" }));
    pane.appendChild(grid);
  }
  function showCall(entry){
    var id = state.selected;
    state.call = { entry: entry, loading: true };
    tab("call");
    api("/sessions/" + encodeURIComponent(id) + "/calls/" + encodeURIComponent(entry)).then(function(call){
      if (state.selected !== id) return;
      state.call = call; if (state.tab === "call") render();
    }, function(e){ state.call = { entry: entry, error: String(e.message || e) }; if (state.tab === "call") render(); });
  }
  function renderCall(){
    var c = state.call;
    if (!c) { pane.appendChild(el("p", { "class": "muted", text: "Click a model call in the timeline (or \u201ccall\u201d on an Assistant entry) to see the messages it was sent." })); return; }
    pane.appendChild(el("h2", { text: "model call " + c.entry }));
    if (c.loading) { pane.appendChild(el("p", { "class": "muted", text: "loading\u2026" })); return; }
    if (c.error) { pane.appendChild(el("p", { "class": "err", text: c.error })); return; }
    pane.appendChild(el("p", { "class": "muted", text: c.messages.length + " messages \u00b7 tools: " + (c.tools.join(", ") || "none") + " \u00b7 " + (c.verified ? "verified against the recorded request fingerprint" : "not verified") }));
    var box = el("div", { id: "call" });
    c.messages.forEach(function(m){
      box.appendChild(el("div", { "class": "msg role-" + m.role }, [
        el("div", { "class": "role", text: m.role }),
        el("div", { "class": "text", text: m.content }),
        m.toolCalls && m.toolCalls.length ? el("pre", { text: JSON.stringify(m.toolCalls, null, 2) }) : null
      ]));
    });
    pane.appendChild(box);
    pane.appendChild(el("details", null, [el("summary", { text: "options" }), el("pre", { text: JSON.stringify(c.options, null, 2) })]));
  }
  function compareWith(id){
    state.compare = id;
    renderList();
    tab("diff");
  }
  function renderDiff(){
    var a = el("input", { value: state.selected || "", placeholder: "session A" });
    var b = el("input", { value: state.compare || "", placeholder: "session B (alt-click a session)" });
    var out = el("div", { id: "diff" });
    var form = el("form", { "class": "inline" }, [a, b, el("button", { "class": "primary", type: "submit", text: "diff" })]);
    form.addEventListener("submit", function(e){
      e.preventDefault();
      out.textContent = "loading\u2026";
      api("/diff" + qs({ a: a.value.trim(), b: b.value.trim() })).then(function(d){
        out.textContent = "";
        out.appendChild(el("p", { "class": "muted", text: "common prefix: " + d.common + " entries; then A has " + d.a.length + ", B has " + d.b.length }));
        function column(name, entries){
          return el("div", { "class": "side-" + name }, [el("h2", { text: name })].concat(entries.map(function(entry, i){
            return el("div", { "class": "entry tag-" + entry._tag }, [el("div", { "class": "head" }, [
              el("span", { "class": "tag", text: (d.common + i + 1) + ". " + entry._tag }), el("span", { "class": "who", text: who(entry) })]),
              el("div", { "class": "text", text: clip(entryText(entry), 1000) })]);
          })));
        }
        out.appendChild(el("div", { "class": "cols" }, [column("A", d.a), column("B", d.b)]));
      }, function(err){ out.textContent = String(err.message || err); out.className = "err"; });
    });
    pane.appendChild(el("p", { "class": "muted", text: "Compare two branches: the entries after their common prefix." }));
    pane.appendChild(form);
    pane.appendChild(out);
    if (a.value && b.value) form.requestSubmit();
  }
  function renderRuns(){
    pane.appendChild(el("h2", { text: "runs" }));
    if (!state.runs.length) pane.appendChild(el("p", { "class": "muted", text: "No runs yet: start one from the bar above." }));
    state.runs.forEach(function(r){
      var live = r.status === "running" || r.status === "waiting";
      pane.appendChild(el("div", { "class": "card run", "data-run": r.id, "data-status": r.status }, [
        el("div", null, [el("span", { "class": "st st-" + r.status }), el("b", { text: r.workflow }), " \u00b7 " + r.status + " \u00b7 " + r.id]),
        el("div", { "class": "muted", text: "started " + r.startedAt + (r.endedAt ? " \u00b7 ended " + r.endedAt : "") + (r.error ? " \u00b7 " + r.error : "") }),
        el("div", { "class": "actions" }, [
          el("button", { text: "open session", onclick: function(){ select(r.result || r.session); } }),
          live ? el("button", { "class": "bad interrupt", text: "interrupt", onclick: function(){
            api("/runs/" + encodeURIComponent(r.id) + "/interrupt", {}).then(function(info){ upsertRun(info); toast("interrupted " + info.id); }, fail);
          } }) : null
        ])
      ]));
    });
  }
  function renderApprovals(){
    pane.appendChild(el("h2", { text: "pending approvals" }));
    if (!state.approvals.length) pane.appendChild(el("p", { "class": "muted", text: "Nothing waits for a decision." }));
    state.approvals.forEach(function(a){
      var args = el("textarea", { "class": "args" }); args.value = JSON.stringify(a.arguments, null, 2);
      var reason = el("input", { "class": "reason", placeholder: "reason (optional)" });
      function answer(decision){
        var body = { decision: decision };
        if (reason.value) body.reason = reason.value;
        var edited;
        try { edited = JSON.parse(args.value); } catch (e) { toast("the arguments are not JSON: " + e.message); return; }
        if (JSON.stringify(edited) !== JSON.stringify(a.arguments)) body.arguments = edited;
        api("/approvals/" + encodeURIComponent(a.id), body).then(function(){
          state.approvals = state.approvals.filter(function(x){ return x.id !== a.id; });
          badge(); if (state.tab === "approvals") render();
          toast(decision + "d " + a.tool);
        }, fail);
      }
      pane.appendChild(el("div", { "class": "card approval", "data-approval": a.id }, [
        el("div", null, [el("b", { text: a.tool }), " \u00b7 run " + a.run + " \u00b7 session " + a.session]),
        el("div", { "class": "muted", text: "requested " + a.requestedAt + " \u00b7 call " + a.call }),
        args, reason,
        el("div", { "class": "actions" }, [
          el("button", { "class": "primary approve", text: "approve", onclick: function(){ answer("approve"); } }),
          el("button", { "class": "bad reject", text: "reject", onclick: function(){ answer("reject"); } })
        ])
      ]));
    });
  }
  function badge(){ var b = $("approvals-count"); b.textContent = state.approvals.length; b.className = "badge" + (state.approvals.length ? "" : " zero"); }
  function loadApprovals(){ return api("/approvals").then(function(r){ state.approvals = r.items; badge(); if (state.tab === "approvals") render(); }, fail); }
  var loadApprovalsSoon = debounce(loadApprovals, 100);
  function upsertRun(info){
    var i = state.runs.findIndex(function(r){ return r.id === info.id; });
    if (i < 0) state.runs.unshift(info); else state.runs[i] = info;
    if (state.tab === "runs") render();
  }

  // ---------------------------------------------------------------- runs: start and follow
  var following = new Map();
  function follow(run){
    upsertRun(run);
    if (following.has(run.id)) return;
    var source = new EventSource("/api/runs/" + encodeURIComponent(run.id) + "/events");
    following.set(run.id, source);
    // the session a run writes may move on (a step or fork makes a new id): the page follows it
    var current = run.session;
    source.addEventListener("entry", function(e){
      var data = JSON.parse(e.data);
      if (state.selected === current && data.session !== current) { state.selected = data.session; renderList(); }
      current = data.session;
      if (data.session === state.selected) {
        // the entry itself is here: show it at once, then ask for the derived views
        if (state.detail && state.detail.summary.id === data.session && state.detail.entries.length === data.index) {
          state.detail.entries.push(data.entry);
          if (state.tab === "entries") render();
        }
        refreshSoon();
      }
    });
    source.addEventListener("approval", function(){ loadApprovalsSoon(); });
    source.addEventListener("status", function(e){
      var info = JSON.parse(e.data);
      upsertRun(info);
      if (info.status === "waiting") loadApprovalsSoon();
      if (info.result && state.selected === current && info.result !== current) { current = info.result; select(info.result); }
    });
    source.addEventListener("end", function(){ source.close(); following.delete(run.id); loadApprovalsSoon(); if (state.selected) refreshSoon(); });
  }
  $("start").addEventListener("submit", function(e){
    e.preventDefault();
    var body = { workflow: $("start-workflow").value };
    var input = $("start-input").value;
    if (input) body.input = input;
    api("/runs", body).then(function(run){
      toast("started " + run.workflow + " \u00b7 " + run.id);
      $("start-input").value = "";
      follow(run);
      state.selected = run.session;
      state.detail = { summary: { id: run.session, name: null, parents: [], entries: 0, run: run.id, status: "running", usage: { input: 0, output: 0 }, failedChecks: 0, agents: [], tools: [] }, entries: [] };
      state.timeline = [];
      tab("timeline");
      refreshSelected();
    }, fail);
  });

  // ---------------------------------------------------------------- live updates
  function live(){
    var source = new EventSource("/api/events");
    source.onopen = function(){ $("live").className = "on"; $("live").textContent = "live"; };
    source.onerror = function(){ $("live").className = ""; $("live").textContent = "reconnecting"; };
    source.addEventListener("session", function(e){
      var s = JSON.parse(e.data);
      var known = state.items.find(function(x){ return x.id === s.id; });
      if (known) { known.updatedAt = s.updatedAt; known.entries = s.entries; known.status = s.status; renderList(); }
      else if (!filtered()) refreshTop();
      if (s.id === state.selected) refreshSoon();
      var node = svg.querySelector('.node[data-id="' + CSS.escape(s.id) + '"]');
      if (node) node.setAttribute("class", "node status-" + s.status + (s.id === state.selected ? " selected" : ""));
    });
    source.addEventListener("run", function(e){ var info = JSON.parse(e.data); upsertRun(info); if (info.status === "waiting") loadApprovalsSoon(); });
  }
  // a new session: fetch the newest page again and put what is new on top
  var refreshTop = debounce(function(){
    api("/sessions" + qs({ limit: 50 })).then(function(page){
      var have = new Set(state.items.map(function(s){ return s.id; }));
      var fresh = page.items.filter(function(s){ return !have.has(s.id); });
      if (!fresh.length) return;
      state.items = fresh.concat(state.items);
      state.total = page.total;
      renderList();
    }, fail);
  }, 200);

  // ---------------------------------------------------------------- keys
  document.addEventListener("keydown", function(e){
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
    if (e.key === "Escape" && typing) { e.target.blur(); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    var keys = { "/": function(){ $("q").focus(); }, f: fit, "+": function(){ zoom(1 / 1.25); }, "=": function(){ zoom(1 / 1.25); }, "-": function(){ zoom(1.25); },
      e: function(){ tab("entries"); }, t: function(){ tab("timeline"); }, c: function(){ tab("call"); }, d: function(){ tab("diff"); },
      r: function(){ tab("runs"); }, a: function(){ tab("approvals"); }, g: function(){ $("group").click(); },
      j: function(){ step(1); }, k: function(){ step(-1); }, ArrowDown: function(){ step(1); }, ArrowUp: function(){ step(-1); } };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  function step(by){
    var ids = rows().filter(function(r){ return r.session; }).map(function(r){ return r.session.id; });
    if (!ids.length) return;
    var i = ids.indexOf(state.selected);
    var next = ids[Math.max(0, Math.min(ids.length - 1, i < 0 ? 0 : i + by))];
    var index = rows().findIndex(function(r){ return r.session && r.session.id === next; });
    if (index * ROW < list.scrollTop || (index + 1) * ROW > list.scrollTop + list.clientHeight) list.scrollTop = index * ROW - list.clientHeight / 2;
    select(next);
  }

  // ---------------------------------------------------------------- start
  $("token-state").textContent = token() ? "token set" : "read-only (no token)";
  tab("entries");
  api("/workflows").then(function(r){
    state.workflows = r.items;
    var select = $("start-workflow");
    r.items.forEach(function(w){ select.appendChild(el("option", { value: w.name, text: w.name, title: w.description })); });
    $("start-button").disabled = r.items.length === 0;
  }, fail);
  api("/runs").then(function(r){ state.runs = r.items; r.items.forEach(function(run){ if (run.status === "running" || run.status === "waiting") follow(run); }); }, fail);
  loadApprovals();
  // the first screen: the newest page of sessions and the graph of the newest 100, side by side
  Promise.all([loadMore(), loadGraph({ limit: 100 }, "newest 100")]).then(function(){
    requestAnimationFrame(function(){
      window.rathFirstScreen = performance.now();
      document.body.setAttribute("data-ready", "true");
    });
  });
  live();
})();
`

export const body = String.raw`<header><h1 id="title"></h1>
<span id="live">connecting</span>
<form id="start"><select id="start-workflow" aria-label="workflow"></select><input id="start-input" placeholder="input message" aria-label="input"><button id="start-button" class="primary" type="submit">start run</button></form>
<button id="approvals-button" type="button" title="pending approvals (a)">approvals <span id="approvals-count" class="badge zero">0</span></button>
<span id="token-state" class="muted"></span></header>
<main>
<aside>
<input id="q" type="search" placeholder="search names, ids, text ( / )" aria-label="search">
<div class="filters">
<input id="f-agent" placeholder="agent" aria-label="agent"><input id="f-tool" placeholder="tool" aria-label="tool">
<label>since <input id="f-since" type="datetime-local"></label><label>until <input id="f-until" type="datetime-local"></label>
<label><input id="f-failed" type="checkbox"> failed check</label><label><input id="group" type="checkbox"> group by run</label>
</div>
<div id="count"></div>
<div id="list" tabindex="0"><div id="list-spacer"></div></div>
</aside>
<section id="graph-pane"><div class="toolbar"><button id="fit" type="button" title="fit (f)">fit</button><button id="zoom-in" type="button" title="zoom in (+)">+</button><button id="zoom-out" type="button" title="zoom out (-)">&minus;</button><button id="graph-all" type="button">newest 100</button><span id="graph-scope"></span></div>
<svg id="graph" xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet"></svg></section>
<section id="details"><nav class="tabs">
<button data-tab="entries" type="button" title="e">entries</button><button data-tab="timeline" type="button" title="t">timeline</button><button data-tab="call" type="button" title="c">call</button><button data-tab="diff" type="button" title="d">diff</button><button data-tab="runs" type="button" title="r">runs</button><button data-tab="approvals" type="button" title="a">approvals</button>
</nav><div id="pane"></div></section>
</main>
<div id="toast"></div>`
