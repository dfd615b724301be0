// The dashboard page: plain ES modules, no build step. State comes from the JSON API once, then
// from the server's event stream as deltas (jobs that changed, the overview when it changed, the
// nodes when they changed). Everything user-made (names, messages, logs) goes in as text, never HTML.
import { drawHistory, drawStream, streamWindow } from "./charts.js";

const STATES = ["waiting", "queued", "retrying", "running", "succeeded", "failed", "cancelled"];
const PAGE_SIZE = 50;

const store = {
  overview: undefined,
  nodes: [],
  readOnly: false,
  /** Task-stream bars by job id: [host, start, end|null, state, slot|null] (the slot: the worker slot the run said it ran in). */
  bars: new Map(),
  listeners: new Set(),
};

// ---------- small helpers ----------

/** h("div.card#x", { onclick }, child, …): an element; strings become text nodes. */
function h(spec, props, ...children) {
  const [, tag, rest] = /^([a-z0-9]+)(.*)$/.exec(spec);
  const el = document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) ?? []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (props && (typeof props !== "object" || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = undefined;
  }
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") el.style.cssText = value; // through the CSSOM: the page's CSP forbids style attributes
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(path, init) {
  const response = await fetch(`/api/${path}`, { credentials: "same-origin", ...init });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body ?? {}) });
}

const number = (n) => (n ?? 0).toLocaleString("en-US");
function duration(ms) {
  if (ms === undefined || ms === null) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} m`;
}
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : "");
const bytes = (n) => (n === undefined ? "" : n > 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.round(n / 2 ** 20)} MiB`);
const stateBadge = (state) => h(`span.state.${state ?? "unqueued"}`, { "data-state": state ?? "unqueued" }, state ?? "unqueued");
const jobLink = (id) => h("a.mono", { href: `#/job/${id}` }, id);

/** Jobs named on a job's page (its dependencies, its dependents), each with its state; `total` when there are more than listed. */
function linkedJobs(spec, jobs, total) {
  if (!jobs?.length) return undefined;
  return h(spec, jobs.map((job) => h("div.linked-job", { dataset: { id: job.id } }, jobLink(job.id), " ", stateBadge(job.state))), total > jobs.length ? h("div.muted", `… and ${number(total - jobs.length)} more`) : "");
}

function progressBar(counts) {
  const total = STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0) || 1;
  const order = ["succeeded", "failed", "cancelled", "running", "retrying", "queued", "waiting"];
  return h("div.bar", order.map((state) => h(`span.${state}`, { style: `width:${(100 * (counts[state] ?? 0)) / total}%`, title: `${state} ${counts[state] ?? 0}` })));
}

function flash(message) {
  const note = h("div.notice", message);
  document.querySelector("main").prepend(note);
  setTimeout(() => note.remove(), 4000);
}

// ---------- live updates ----------

let events;
let lastEventId = 0;

function connect(since) {
  events?.close();
  events = new EventSource(`/api/events?since=${since}`);
  const conn = document.getElementById("conn");
  events.onopen = () => {
    conn.textContent = "live";
    conn.className = "conn live";
  };
  events.onerror = () => {
    conn.textContent = "reconnecting…";
    conn.className = "conn down";
  };
  const take = (name, handler) =>
    events.addEventListener(name, (event) => {
      lastEventId = Number(event.lastEventId) || lastEventId;
      handler(JSON.parse(event.data));
    });
  take("overview", (overview) => {
    store.overview = { ...store.overview, ...overview };
    emit("overview");
  });
  take("nodes", (nodes) => {
    store.nodes = nodes;
    emit("nodes");
  });
  take("jobs", (delta) => {
    if (!delta.refetch) for (const row of delta.rows) noteBar(row);
    emit("jobs", delta);
  });
  take("reset", () => void load());
  take("problem", (problem) => console.warn("dashboard:", problem.message));
}

function emit(what, data) {
  for (const listener of store.listeners) listener(what, data);
}

function noteBar(row) {
  if (!row.host) store.bars.delete(row.id); // queued again (a claim given back)
  else if (row.finishedAt) store.bars.set(row.id, [row.host, row.finishedAt - (row.durationMs ?? 0), row.finishedAt, row.state, row.slot ?? null]);
  else if (row.state === "running") store.bars.set(row.id, [row.host, row.runningSince ?? Date.now(), null, "running", row.slot ?? null]);
  else store.bars.delete(row.id);
}

/** Fetches everything once, then follows the event stream from the same point. */
async function load() {
  const [overview, nodes, stream] = await Promise.all([api("overview"), api("nodes"), api("stream?minutes=5")]);
  store.overview = overview;
  store.nodes = nodes.nodes;
  store.readOnly = overview.readOnly;
  store.bars = new Map(stream.bars.map(([id, host, start, end, state, slot]) => [id, [host, stream.since + start, end === null ? null : stream.since + end, state, slot ?? null]]));
  document.getElementById("dir").textContent = overview.dir;
  document.getElementById("readonly").hidden = !overview.readOnly;
  lastEventId = Math.min(overview.eventId, nodes.eventId);
  connect(lastEventId);
  route();
}

// ---------- views ----------

let unmount = () => {};

function route() {
  unmount();
  store.listeners.clear();
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, arg] = hash.split("/");
  for (const link of document.querySelectorAll("header nav a")) link.classList.toggle("active", link.dataset.view === (view === "job" ? "jobs" : view || "overview"));
  const main = document.getElementById("main");
  main.replaceChildren();
  if (view === "jobs") unmount = jobsView(main, new URLSearchParams(arg ?? ""));
  else if (view === "job" && arg) unmount = jobView(main, decodeURIComponent(arg));
  else if (view === "nodes") unmount = nodesView(main);
  else unmount = overviewView(main);
}

function listen(listener) {
  store.listeners.add(listener);
}

function overviewView(main) {
  const tiles = h("div.tiles");
  const rate = h("div.card");
  const history = h("canvas#history", { height: 70 });
  const groups = h("div");
  const failures = h("div");
  const streamCanvas = h("canvas#stream", { height: 220 });
  /** The failure table's buttons, kept from one showing to the next (one being pressed, or waiting for its answer, stays). */
  const retryButtons = new Map();
  let failuresShown;
  main.append(
    tiles,
    h("div.row2", { style: "margin-top:14px" }, h("div", rate, h("div.card", { style: "margin-top:10px" }, h("div.muted", "Finished per 5 s, last 5 minutes"), history)), groups),
    h("h2", "Failures by code and message"),
    failures,
    h("h2", "Task stream (per worker slot, up to the last 5 minutes)"),
    h("div.card", h("div.legend", ["running", "succeeded", "failed", "cancelled"].map((s) => h("span", h("i", { style: `background:var(--${s})` }), s))), streamCanvas),
  );
  const render = () => {
    const o = store.overview;
    if (!o) return;
    tiles.replaceChildren(
      h("div.tile", h("div.n#count-total", number(o.total)), h("div.l", "jobs")),
      ...STATES.map((state) => h(`div.tile.${state}`, h(`div.n#count-${state}`, number(o.counts[state])), h("div.l", state))),
    );
    const done = o.counts.succeeded + o.counts.failed + o.counts.cancelled;
    rate.replaceChildren(
      h("div", h("b", `${o.throughput} jobs/s`), h("span.muted", " over the last minute")),
      h("div", "ETA ", h("b#eta", o.etaSeconds === undefined ? "–" : duration(o.etaSeconds * 1000))),
      h("div", `${number(done)} of ${number(o.total)} finished`, o.unqueued ? ` · ${number(o.unqueued)} never queued` : "", o.indexing ? ` · reading ${number(o.indexing)} results…` : ""),
      progressBar(o.counts),
    );
    groups.replaceChildren(
      h("div.card", h("b", "Progress per name"), progressTable(o.byName.map((g) => [g.name, g.counts, `#/jobs/name=${encodeURIComponent(g.name)}`]))),
      h("div.card", { style: "margin-top:10px" }, h("b", "Progress per tag"), progressTable(o.byTag.map((g) => [g.tag, g.counts, `#/jobs/tag=${encodeURIComponent(g.tag)}`]))),
    );
    // Only when the failures changed: a table rebuilt under the pointer loses the click on its button.
    const failuresNow = JSON.stringify([o.failures, o.failureGroups, o.counts.failed, store.readOnly]);
    if (failuresNow !== failuresShown) {
      failuresShown = failuresNow;
      failures.replaceChildren(failureTable(o, retryButtons));
    }
    drawHistory(history, o.finishedHistory);
  };
  const redrawStream = () => {
    const now = Date.now();
    drawStream(streamCanvas, store.bars, now, streamWindow(store.bars, now));
  };
  listen((what) => {
    if (what === "overview") render();
  });
  render();
  redrawStream();
  const timer = setInterval(redrawStream, 1000);
  return () => clearInterval(timer);
}

function progressTable(groups) {
  if (groups.length === 0) return h("div.muted", "none (submit.with({ name, tags }))");
  return h(
    "table",
    h("tbody", groups.map(([label, counts, href]) => {
      const total = STATES.reduce((sum, state) => sum + counts[state], 0);
      const done = counts.succeeded + counts.failed + counts.cancelled;
      return h("tr", h("td", h("a", { href }, label)), h("td", { style: "width:45%" }, progressBar(counts)), h("td.num", `${number(done)}/${number(total)}`), h("td.num", counts.failed ? h("span", { style: "color:var(--failed)" }, `${number(counts.failed)} failed`) : ""));
    })),
  );
}

/** The failures by group, with Retry buttons taken from `buttons` (by group; made there the first time). */
function failureTable(o, buttons) {
  const shown = new Set([""]);
  for (const group of o.failures) shown.add(JSON.stringify([group.code, group.message]));
  for (const key of buttons.keys()) if (!shown.has(key)) buttons.delete(key);
  if (o.failures.length === 0) return h("div.card.muted#no-failures", "No failed jobs.");
  const retryButton = (key, body, label) => {
    let button = buttons.get(key);
    if (button === undefined) {
      button = h("button", { onclick: () => act(button, () => post("retry-failed", body), (r) => retriedText(r.requeued.length, r.dependencyFailed.length)) });
      buttons.set(key, button);
    }
    if (!button.dataset.acting) button.disabled = store.readOnly;
    button.textContent = label;
    return button;
  };
  const retryAll = retryButton("", undefined, `Retry all ${number(o.counts.failed)} failed`);
  retryAll.id = "retry-all-failed";
  retryAll.classList.add("primary");
  return h(
    "div",
    h("div.toolbar", retryAll, o.failureGroups > o.failures.length ? h("span.muted", `the ${o.failures.length} biggest of ${o.failureGroups} groups`) : ""),
    h(
      "table#failure-groups",
      h("thead", h("tr", h("th", "code"), h("th", "message"), h("th.num", "jobs"), h("th", "latest"), h("th", ""))),
      h("tbody", o.failures.map((group) => {
        const button = retryButton(JSON.stringify([group.code, group.message]), { code: group.code, message: group.message }, "Retry all");
        return h("tr.failure-group", h("td.mono", group.code), h("td.msg", { title: group.message }, group.message), h("td.num", number(group.count)), h("td", group.jobIds.slice(0, 2).map((id) => h("div", jobLink(id)))), h("td", store.readOnly ? "" : button));
      })),
    ),
  );
}

/** What a retry of several jobs did: those requeued, and those left failed because a job they depend on still is. */
function retriedText(requeued, dependencyFailed) {
  const left = dependencyFailed === 0 ? "" : `; ${dependencyFailed} left failed: a job they depend on failed or was cancelled, retry it first`;
  return `requeued ${requeued} job${requeued === 1 ? "" : "s"}${left}`;
}

async function act(button, run, describe) {
  button.disabled = true;
  button.dataset.acting = "1"; // a render meanwhile leaves it disabled
  try {
    flash(describe(await run()));
  } catch (error) {
    flash(`Failed: ${error.message}`);
  } finally {
    delete button.dataset.acting;
    button.disabled = false;
  }
}

function jobsView(main, params) {
  const filters = { state: params.get("state") ?? "", name: params.get("name") ?? "", tag: params.get("tag") ?? "", host: params.get("host") ?? "", q: params.get("q") ?? "" };
  const input = (key, placeholder) => h("input", { name: key, placeholder, value: filters[key], oninput: (e) => { filters[key] = e.target.value; refetchSoon(); } });
  const stateSelect = h("select", { name: "state", onchange: (e) => { filters.state = e.target.value; refetch(); } }, h("option", { value: "" }, "all states"), [...STATES, "unqueued"].map((s) => h("option", { value: s, selected: filters.state === s }, s)));
  const summary = h("span.muted#jobs-total");
  const body = h("tbody#jobs-body");
  const more = h("button#load-more", { onclick: () => fetchPage(false) }, "Load more");
  // Bulk actions on the jobs listed (loaded so far): the server checks each one's state again.
  const listed = (states) => [...body.querySelectorAll("tr.job-row")].filter((tr) => states.includes(tr.querySelector(".state")?.dataset.state)).map((tr) => tr.dataset.id);
  const cancelListed = h("button.danger#cancel-listed", {
    hidden: store.readOnly,
    onclick: () => {
      const ids = listed(["waiting", "queued", "retrying", "running"]);
      if (ids.length === 0) return flash("No queued or running job is listed.");
      if (confirm(`Cancel the ${ids.length} queued or running jobs listed?`)) act(cancelListed, () => post("cancel", { jobIds: ids }), (r) => `cancel: ${Object.values(r.outcomes).length} jobs`);
    },
  }, "Cancel listed unfinished");
  const retryListed = h("button.primary#retry-listed", {
    hidden: store.readOnly,
    onclick: () => {
      const ids = listed(["failed"]);
      if (ids.length === 0) return flash("No failed job is listed.");
      act(retryListed, () => post("retry", { jobIds: ids }), (r) => retriedText(Object.values(r.outcomes).filter((o) => o === "requeued").length, Object.values(r.outcomes).filter((o) => o === "dependencyFailed").length));
    },
  }, "Retry listed failed");
  const newer = h("div.notice", { hidden: true });
  main.append(
    h("form.filters", { onsubmit: (e) => e.preventDefault() }, stateSelect, input("name", "name"), input("tag", "tag"), input("host", "host"), input("q", "search id, name, error"), summary),
    newer,
    h("table#jobs", h("thead", h("tr", h("th", "job"), h("th", "name"), h("th", "state"), h("th", "host"), h("th.num", "attempts"), h("th.num", "duration"), h("th", "finished"), h("th", "error"))), body),
    h("div.toolbar", more, cancelListed, retryListed),
  );
  const rows = new Map();
  let next = null;
  let paged = false;
  let timer;
  const query = () => new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== "")).toString();
  const rowOf = (job) =>
    h(
      "tr.job-row",
      { dataset: { id: job.id } },
      h("td.id", jobLink(job.id)),
      h("td", job.name ?? "", job.tags?.length ? h("span.muted", ` #${job.tags.join(" #")}`) : ""),
      h("td", stateBadge(job.state)),
      h("td", job.host ?? ""),
      h("td.num", job.attempts ?? ""),
      h("td.num", duration(job.durationMs)),
      h("td", time(job.finishedAt)),
      h("td.msg", { title: job.error?.message ?? "" }, job.error ? h("span", h("b.mono", job.error.code), " ", job.error.message) : ""),
    );
  async function fetchPage(first) {
    const q = query();
    const cursor = first ? "" : `${q ? "&" : ""}cursor=${next}`;
    const page = await api(`jobs?${q}${cursor}&limit=${PAGE_SIZE}`);
    if (first) {
      body.replaceChildren();
      rows.clear();
      paged = false;
      newer.hidden = true;
    } else paged = true;
    for (const job of page.jobs) {
      const tr = rowOf(job);
      rows.set(job.id, tr);
      body.append(tr);
    }
    next = page.next;
    more.hidden = next === null;
    summary.textContent = `${number(page.total)} jobs match${page.indexing ? ` (reading ${number(page.indexing)} more…)` : ""}`;
    history.replaceState(null, "", `#/jobs${q ? `/${q}` : ""}`);
  }
  const refetch = () => fetchPage(true).catch((error) => flash(error.message));
  const refetchSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(refetch, 250);
  };
  let lastAuto = 0;
  listen((what, delta) => {
    if (what !== "jobs") return;
    let unseen = delta.refetch ? 1 : 0;
    for (const job of delta.rows ?? []) {
      const tr = rows.get(job.id);
      if (tr) {
        const fresh = rowOf(job);
        tr.replaceWith(fresh);
        rows.set(job.id, fresh);
      } else unseen++;
    }
    for (const id of delta.removed ?? []) rows.get(id)?.remove();
    if (unseen === 0) return;
    // New or re-sorted jobs: the first page is fetched again (at most every 2 s); a paged-down list only hears of them.
    if (!paged && Date.now() - lastAuto > 2000) {
      lastAuto = Date.now();
      refetch();
    } else if (paged) {
      newer.hidden = false;
      newer.replaceChildren("Jobs changed since this list was loaded. ", h("a", { href: "#", onclick: (e) => { e.preventDefault(); refetch(); } }, "Reload the list"));
    } else refetchSoon();
  });
  refetch();
  return () => clearTimeout(timer);
}

function jobView(main, id) {
  const head = h("div.toolbar");
  const facts = h("div.card");
  const outcome = h("div");
  const stdout = h("pre#log-stdout", "");
  const stderr = h("pre#log-stderr", "");
  const logState = h("span.muted#log-state", "");
  main.append(head, facts, outcome, h("h2", "Logs ", logState), h("div.muted", "stdout"), stdout, h("div.muted", "stderr"), stderr);
  // Made once, shown or hidden as the job's state allows: a button rebuilt under the pointer loses the click.
  const title = h("h2.mono", { style: "margin:0" }, id);
  const state = h("span#job-state");
  const cancel = h("button.danger#btn-cancel", { hidden: true, onclick: () => act(cancel, () => post(`jobs/${id}/cancel`), (r) => `cancel: ${r.outcome}`) }, "Cancel");
  const retry = h("button.primary#btn-retry", { hidden: true, onclick: () => act(retry, () => post(`jobs/${id}/retry`), (r) => `retry: ${r.outcome}`) }, "Retry");
  let detail;
  let closed = false;
  /** The jobs its page names (its dependencies and dependents): a change of theirs refreshes it too. */
  let linked = new Set();
  /** When the job had finished at the last refresh (undefined: not finished). */
  let seenFinishedAt;
  let refreshes = 0;
  /** The latest-asked refresh whose answer shows. */
  let shownRefresh = 0;
  let logs;
  /** The log stream ended with the job's end (not with an error, after which it is not opened again by itself). */
  let logsEnded = false;
  async function refresh() {
    // Refreshes overlap (each change of the job or of a linked one asks for one): an answer shows
    // unless a later-asked one showed already (so a slow server still updates the page).
    const asked = ++refreshes;
    let answer;
    try {
      answer = await api(`jobs/${encodeURIComponent(id)}`);
    } catch (error) {
      if (asked > shownRefresh) head.replaceChildren(h("div.error-box#job-error", error.message));
      return;
    }
    if (closed || asked < shownRefresh) return;
    shownRefresh = asked;
    detail = answer;
    linked = new Set([...(detail.after ?? []), ...(detail.dependents ?? [])].map((job) => job.id));
    const canCancel = !store.readOnly && (detail.state === "waiting" || detail.state === "queued" || detail.state === "retrying" || detail.state === "running");
    const canRetry = !store.readOnly && (detail.state === "failed" || detail.state === "cancelled");
    if (head.firstChild !== title) head.replaceChildren(title, state, cancel, retry);
    state.replaceChildren(stateBadge(detail.state));
    cancel.hidden = !canCancel;
    retry.hidden = !canRetry;
    // The log was followed to the job's end, and a retry runs it again (or ran it to a new end since
    // the last look): follow it again, for the new attempt's output.
    const active = detail.state === "waiting" || detail.state === "queued" || detail.state === "retrying" || detail.state === "running";
    if (logsEnded && (active || (seenFinishedAt !== undefined && detail.finishedAt !== seenFinishedAt))) followLogs();
    seenFinishedAt = detail.finishedAt;
    const fact = (label, value) => (value === undefined || value === "" ? [] : [h("dt", label), h("dd", value)]);
    facts.replaceChildren(
      h(
        "dl.facts",
        fact("name", detail.name),
        fact("tags", detail.tags?.join(", ")),
        fact("function", detail.function),
        fact("command", detail.argv?.map((word) => (/[\s"'$]/.test(word) ? JSON.stringify(word) : word)).join(" ")),
        fact("submitted", detail.submittedAt ? new Date(detail.submittedAt).toLocaleString() : undefined),
        fact("host", detail.host),
        fact("attempts", detail.attempts),
        fact("running since", detail.runningSince ? time(detail.runningSince) : undefined),
        fact("duration", detail.durationMs === undefined ? undefined : duration(detail.durationMs)),
        fact("finished", detail.finishedAt ? new Date(detail.finishedAt).toLocaleString() : undefined),
        fact("cwd", detail.cwd),
        fact("env", detail.env?.length ? detail.env.join(", ") : undefined),
        fact("options", detail.options && Object.keys(detail.options).length ? JSON.stringify(detail.options) : undefined),
        fact("runs after", linkedJobs("div#job-after", detail.after, detail.afterCount)),
        fact("runs before", linkedJobs("div#job-dependents", detail.dependents, detail.dependentCount)),
      ),
      detail.argsPreview !== undefined ? h("div", h("div.muted", { style: "margin-top:8px" }, "arguments"), h("pre.light#job-args", detail.argsPreview)) : "",
      detail.specError ? h("div.error-box", `spec: ${detail.specError}`) : "",
    );
    if (detail.error) {
      const e = detail.error;
      outcome.replaceChildren(
        h("h2", "Error"),
        h(
          "div.error-box",
          h("div", h("span.code#error-code", e.code ?? e.name), " ", h("span.muted", e.name)),
          h("div#error-message", { style: "margin:6px 0;white-space:pre-wrap" }, e.message),
          e.exitCode !== undefined ? h("div.muted", `exit code ${e.exitCode}${e.signal ? `, signal ${e.signal}` : ""}`) : "",
          e.stack ? h("pre#error-stack", e.stack) : "",
        ),
      );
    } else if (detail.valuePreview !== undefined) outcome.replaceChildren(h("h2", "Value"), h("pre.light#job-value", detail.valuePreview));
    else outcome.replaceChildren();
  }
  // The output as it is written (server-sent events from the shared directory), then "finished";
  // from the start each time (a retried job's log holds every attempt's output).
  function followLogs() {
    stdout.textContent = "";
    stderr.textContent = "";
    const stream = new EventSource(`/api/jobs/${encodeURIComponent(id)}/logs?follow=1`);
    logs = stream;
    logsEnded = false;
    logState.textContent = "(following)";
    stream.addEventListener("output", (event) => {
      const { stream: name, text } = JSON.parse(event.data);
      const pre = name === "stdout" ? stdout : stderr;
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(text);
      if (pre.textContent.length > 512 * 1024) pre.textContent = pre.textContent.slice(-256 * 1024);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    stream.addEventListener("finished", () => {
      stream.close();
      logsEnded = true;
      logState.textContent = "(job finished)";
    });
    stream.onerror = () => {
      if (stream.readyState === EventSource.CLOSED) logState.textContent = "(not available)";
    };
  }
  followLogs();
  listen((what, delta) => {
    if (what === "jobs" && (delta.refetch || delta.rows?.some((row) => row.id === id || linked.has(row.id)))) void refresh();
  });
  void refresh();
  return () => {
    closed = true;
    logs.close();
  };
}

/** How often the nodes page asks for the Slurm allocations while it is shown (their records change at each poll of squeue, every 2 s). */
const ALLOCATIONS_EVERY_MS = 3000;

function nodesView(main) {
  const body = h("tbody#nodes-body");
  // The Slurm allocations of the supervisors that run on this directory (any of them, this page's own run or not).
  const allocationsBody = h("tbody#allocations-body");
  const allocations = h(
    "section#allocations",
    { hidden: true },
    h("h2", "Slurm allocations"),
    h("table", h("thead", h("tr", h("th", "slurm job"), h("th", "state"), h("th.num", "nodes"))), allocationsBody),
  );
  let allocationList = [];
  const note = h(
    "p.muted#nodes-note",
    "No run serves this page (malocher dashboard on a directory): these are the hosts the directory's jobs name. CPU, memory and heartbeats come from a run's agents (malocher run --dashboard).",
  );
  main.append(
    h(
      "table#nodes",
      h("thead", h("tr", h("th", "node"), h("th", "state"), h("th.num", "slots busy/total"), h("th.num", "CPU"), h("th.num", "memory"), h("th.num", "load"), h("th.num", "last heartbeat"), h("th.num", "restarts"), h("th.num", "done"), h("th.num", "failed"), h("th", "running jobs"))),
      body,
    ),
    note,
    allocations,
  );
  const render = () => {
    const now = Date.now();
    note.hidden = store.overview?.live === true; // a run's nodes say it all
    allocations.hidden = allocationList.length === 0;
    allocationsBody.replaceChildren(
      ...allocationList.map((allocation) => h("tr.allocation-row", h("td.mono", String(allocation.id)), h("td", String(allocation.words)), h("td.num", String(allocation.nodes)))),
    );
    body.replaceChildren(
      ...store.nodes.map((node) =>
        h(
          "tr.node-row",
          { dataset: { host: node.host } },
          h("td.mono", node.host, node.labels?.length ? h("span.muted", ` ${node.labels.join(" ")}`) : ""),
          h("td", node.state ?? "–", node.error ? h("div.muted", { title: node.error.message }, node.error.code) : ""),
          h("td.num", node.slots === undefined ? `${node.running}` : `${node.running}/${node.slots}`),
          h("td.num", node.cpu === undefined ? "" : `${Math.round(node.cpu * 100)} %`),
          h("td.num", node.memoryTotal ? `${bytes(node.memoryUsed)} / ${bytes(node.memoryTotal)}` : ""),
          h("td.num", node.load === undefined ? "" : node.load.toFixed(2)),
          h("td.num", node.heartbeatAt ? `${Math.max(0, Math.round((now - node.heartbeatAt) / 1000))} s ago` : ""),
          h("td.num", node.restarts ?? ""),
          h("td.num", number(node.succeeded)),
          h("td.num", number(node.failed)),
          h("td", node.jobs.slice(0, 8).map((id) => h("div", jobLink(id))), node.jobs.length > 8 ? h("div.muted", `… ${node.running - 8} more`) : ""),
        ),
      ),
    );
  };
  listen((what) => {
    if (what === "nodes") render();
  });
  let closed = false;
  let asking = false;
  const fetchAllocations = async () => {
    if (asking || document.hidden) return; // one question at a time, none for a hidden tab
    asking = true;
    try {
      allocationList = (await api("allocations")).allocations ?? [];
    } catch {
      return; // the next one may answer
    } finally {
      asking = false;
    }
    if (!closed) render();
  };
  render();
  void fetchAllocations();
  const timer = setInterval(render, 1000); // the heartbeat ages
  const allocationTimer = setInterval(fetchAllocations, ALLOCATIONS_EVERY_MS);
  return () => {
    closed = true;
    clearInterval(timer);
    clearInterval(allocationTimer);
  };
}

window.addEventListener("hashchange", route);
load().catch((error) => {
  document.getElementById("main").replaceChildren(h("div.error-box", `Cannot load the dashboard: ${error.message}`));
});
