// selfeng's dashboard: plain JS, no dependencies. Reads the JSON API with the token given
// (kept in localStorage) and follows /v1/events/stream, resuming with Last-Event-ID.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = localStorage.getItem("selfeng.token") || "";
tokenInput.addEventListener("change", () => {
  localStorage.setItem("selfeng.token", tokenInput.value.trim());
  refreshAll();
  restartStream();
});

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  const token = tokenInput.value.trim();
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({}, options, { headers: headers(options && options.headers) }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok && response.status !== 202) {
    throw new Error(body.message || response.statusText);
  }
  return body;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  row.appendChild(td);
  return td;
}

function fillTable(id, rows, columns) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    cell(tr, "none yet").colSpan = columns.length;
    tr.className = "muted";
    body.appendChild(tr);
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const column of columns) cell(tr, typeof column === "function" ? column(row) : row[column]);
    body.appendChild(tr);
  }
}

const pct = (x) => (x === null || x === undefined ? "–" : Math.round(x * 100) + "%");

// -- the ask box ---------------------------------------------------------------------------
$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = $("answer");
  out.className = "answer";
  out.textContent = "asking…";
  try {
    const body = await api("/v1/requests?wait=30", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: $("ask").value }),
    });
    if (body.status === "pending") {
      out.textContent = "accepted as " + body.request_id + "; no answer yet";
    } else {
      out.className = body.ok ? "answer" : "answer bad";
      const how = body.ok ? " (" + body.tools.join(", ") + (body.cached ? ", cached" : "") + ")" : "";
      out.textContent = body.answer + how + "\nrequest " + body.request_id;
      out.dataset.requestId = body.request_id;
    }
  } catch (error) {
    out.className = "answer bad";
    out.textContent = String(error.message || error);
  }
  scheduleRefresh();
});

// -- the live feed (SSE over fetch, so the token travels in a header) -----------------------
const MAX_FEED = 300;
let lastEventId = null;
let streamAbort = null;
let seen = 0;

function addToFeed(id, type, data) {
  let event = {};
  try { event = JSON.parse(data); } catch (_) { /* a foreign record: show it raw */ }
  const li = document.createElement("li");
  const family = (event.key && topicOf(type)) || "";
  li.className = "t-" + family;
  li.dataset.key = event.key || "";
  li.dataset.type = type;
  const span = document.createElement("span");
  span.className = "type";
  span.textContent = type;
  li.append(id + " ", span, " " + (event.key || "") + " " + summary(event));
  const feed = $("feed");
  feed.prepend(li);
  while (feed.children.length > MAX_FEED) feed.lastChild.remove();
  $("feed-count").textContent = "(" + ++seen + ")";
}

function topicOf(type) {
  if (/^(Request|ToolSearched|Arguments|ToolExecuted|CacheHit|Response|Feedback)/.test(type)) return "requests";
  if (/^(Pattern|Composite|Failure|Repair|ToolRepaired|LLM)/.test(type)) return "learning";
  if (/^(Policy|Fork|Experiment|Token)/.test(type)) return "policy";
  if (type === "DeadLetter") return "deadletter";
  return "tools";
}

function summary(event) {
  const skip = new Set(["type", "schema_version", "event_id", "key", "occurred_at", "correlation_id", "causation_id", "producer", "policy_arm"]);
  const parts = [];
  for (const [k, v] of Object.entries(event)) {
    if (skip.has(k) || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
    parts.push(k + "=" + (typeof v === "object" ? JSON.stringify(v) : v));
  }
  return parts.join(" ").slice(0, 300);
}

async function follow() {
  streamAbort = new AbortController();
  const extra = { Accept: "text/event-stream" };
  let path = "/v1/events/stream";
  if (lastEventId) {
    extra["Last-Event-ID"] = lastEventId;
  } else {  // the first time: the last 100 events of the log too (SQLite positions)
    const head = (await api("/v1/stats?minutes=1")).head;
    if (/^\d+$/.test(head)) path += "?from=" + Math.max(0, Number(head) - 100);
  }
  const response = await fetch(path, { headers: headers(extra), signal: streamAbort.signal });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error("live feed: " + (body.message || response.status));
  }
  $("status").textContent = "live";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id = null, type = "message", data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("event: ")) type = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (!data) continue;
      lastEventId = id;
      addToFeed(id, type, data);
      if (/RequestCompleted|Registered|Repaired|RolledBack|PolicyChanged|Fork|Experiment|FeedbackApplied|LLMCalled/.test(type)) scheduleRefresh();
    }
  }
}

async function stream() {
  for (;;) {
    try {
      await follow();
    } catch (error) {
      if (error.name === "AbortError") return;
      $("status").textContent = String(error.message || error);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function restartStream() {
  if (streamAbort) streamAbort.abort();
  stream();
}

// -- panels --------------------------------------------------------------------------------
let refreshTimer = null;
function scheduleRefresh() {  // at most one refresh per half second, however busy the log
  if (refreshTimer !== null) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refreshAll();
  }, 500);
}

async function refreshStats() {
  const s = await api("/v1/stats?minutes=30");
  const minutes = s.minutes || [];
  const last = minutes.length ? minutes[minutes.length - 1].RequestReceived : 0;
  $("rpm").textContent = last;
  $("hit-rate").textContent = pct(s.cache_hit_rate);
  $("requests").textContent = s.requests;
  $("events").textContent = s.events;
  const chart = $("rpm-chart");
  chart.replaceChildren();
  const top = Math.max(1, ...minutes.map((m) => m.RequestReceived));
  const width = 300 / Math.max(1, minutes.length);
  minutes.forEach((m, i) => {
    const h = (m.RequestReceived / top) * 58;
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("x", i * width);
    rect.setAttribute("y", 60 - h);
    rect.setAttribute("width", Math.max(1, width - 1));
    rect.setAttribute("height", h);
    chart.appendChild(rect);
  });
}

async function refreshTools() {
  const body = await api("/v1/tools");
  fillTable("tools", body.tools, ["tool", "version", "runs", "cache_hits", (r) => pct(r.success_rate), "mean_ms"]);
}

async function refreshGraph() {
  const g = await api("/v1/skill-graph");
  const svg = $("graph");
  svg.replaceChildren();
  const names = Object.keys(g.tools || {}).filter((n) => g.tools[n].active !== null).sort();
  const at = {};
  names.forEach((name, i) => {
    const angle = (2 * Math.PI * i) / Math.max(1, names.length);
    at[name] = [200 + 130 * Math.cos(angle), 200 + 170 * Math.sin(angle)];
  });
  const ns = "http://www.w3.org/2000/svg";
  for (const [edge, data] of Object.entries(g.edges || {})) {
    const [from, to] = edge.split(">");
    if (!at[from] || !at[to]) continue;
    const line = document.createElementNS(ns, "line");
    line.setAttribute("x1", at[from][0]); line.setAttribute("y1", at[from][1]);
    line.setAttribute("x2", at[to][0]); line.setAttribute("y2", at[to][1]);
    line.setAttribute("stroke-width", 1 + Math.min(6, data.weight || 0));
    line.dataset.edge = edge;
    svg.appendChild(line);
  }
  for (const name of names) {
    const node = document.createElementNS(ns, "circle");
    node.setAttribute("cx", at[name][0]); node.setAttribute("cy", at[name][1]); node.setAttribute("r", 5);
    node.dataset.tool = name;
    const label = document.createElementNS(ns, "text");
    const left = at[name][0] < 200;  // labels point away from the circle
    label.setAttribute("x", at[name][0] + (left ? -7 : 7)); label.setAttribute("y", at[name][1] + 3);
    label.setAttribute("text-anchor", left ? "end" : "start");
    label.textContent = name;
    svg.append(node, label);
  }
}

async function refreshLearning() {
  const l = await api("/v1/learning");
  fillTable("patterns", l.patterns, ["pattern", "support", (r) => pct(r.success_rate), "confidence", (r) => (r.detected ? "yes" : "")]);
  fillTable("composites", l.composites, ["tool", (r) => r.members.join(" → "), "based_on"]);
  const rows = [
    ...l.repairs.map((r) => ({ what: "repair", tool: r.tool, versions: r.from_version + "→" + r.to_version, why: r.based_on })),
    ...l.rollbacks.map((r) => ({ what: "rollback", tool: r.tool, versions: r.from_version + "→" + r.to_version, why: r.reason })),
    ...l.deprecations.map((r) => ({ what: "deprecated", tool: r.tool, versions: r.version, why: r.reason })),
  ];
  fillTable("repairs", rows, ["what", "tool", "versions", "why"]);
  fillTable("llm", Object.entries(l.llm).map(([model, u]) => ({ model, ...u })), [
    "model", "calls", (u) => u.prompt_tokens + u.completion_tokens, (u) => Math.round(u.latency_ms / Math.max(1, u.calls)),
  ]);
}

// The experiments view: each arm's outcomes so far and the verdict, from /v1/experiments.
async function refreshExperiments() {
  const box = $("experiments");
  let body;
  try { body = await api("/v1/experiments"); } catch (_) { box.textContent = ""; return; }
  box.replaceChildren();
  for (const [name, e] of Object.entries(body.experiments || {})) {
    const p = document.createElement("p");
    const done = e.concluded;
    const verdict = done ? "winner: " + (done.winner || "none") + (done.reason ? " (" + done.reason + ")" : "")
      : e.status + (e.now && e.now.reason ? ": " + e.now.reason : "");
    p.textContent = name + " — " + e.metric + "; " + verdict;
    p.dataset.experiment = name;
    box.appendChild(p);
    const table = document.createElement("table");
    const head = table.insertRow();
    for (const title of ["arm", "split", "requests", e.metric, "wrong_rate", "policies"]) {
      const th = document.createElement("th"); th.textContent = title; head.appendChild(th);
    }
    for (const [arm, a] of Object.entries(e.arms || {})) {
      const row = table.insertRow();
      const metric = a[e.metric];
      for (const cell of [arm, Math.round((a.split || 0) * 100) + "%", a.requests,
        typeof metric === "number" ? metric.toFixed(3) : "", typeof a.wrong_rate === "number" ? a.wrong_rate.toFixed(3) : "",
        JSON.stringify(a.policies || {})]) {
        row.insertCell().textContent = String(cell);
      }
    }
    box.appendChild(table);
  }
}

async function refreshForks() {
  const f = await api("/v1/forks");
  fillTable("forks", f.forks, ["fork", (r) => JSON.stringify(r.policies), "position"]);
  const p = await api("/v1/policies");
  fillTable("policies", Object.entries(p).map(([name, r]) => ({ name, ...r })), ["name", (r) => JSON.stringify(r.value), "version"]);
}

async function refreshAll() {
  for (const part of [refreshStats, refreshTools, refreshGraph, refreshLearning, refreshExperiments, refreshForks]) {
    try { await part(); } catch (error) { $("status").textContent = String(error.message || error); }
  }
}

refreshAll();
stream();
setInterval(refreshStats, 30000);
