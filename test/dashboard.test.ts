// The dashboard's server without a browser: the token (query → cookie, bearer, 401 otherwise),
// the origin check and read-only mode on actions, 400/404 for bad ids and parameters, the status
// object `malocher status --json` prints, event ids that let a reconnecting page catch up, and a
// directory of 100,000 jobs: pages stay fast and the first load stays small.
import { strict as assert } from "node:assert";
import { rmSync, writeFileSync } from "node:fs";
import { directoryLayout } from "@malocher/protocol";
import { join } from "node:path";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Dashboard, Malocher, MalocherError } from "malocher";
import { failUnlessFixed, slotAfterGate, waitForGate } from "./fixtures/dashboard/dashboard-jobs.js";
import { square } from "./fixtures/jobs/jobs.js";
import { collect } from "./support/results.js";
import { spawn, type ChildProcess } from "node:child_process";
import { cliMain, root, runCli } from "./fixtures/jobs/support.js";
import { freshMalocher } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

const TIMEOUT = { timeout: 90_000 };

async function call(dashboard: Dashboard, path: string, init: RequestInit & { auth?: "bearer" | "none" | "cookie" } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if ((init.auth ?? "bearer") === "bearer") headers.set("authorization", `Bearer ${dashboard.token}`);
  if (init.auth === "cookie") headers.set("cookie", `malocher_dashboard=${dashboard.token}`);
  return fetch(`http://127.0.0.1:${dashboard.port}${path}`, { ...init, headers, redirect: "manual" });
}

async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

async function finishedDirectory(t: { after(fn: () => void): void }): Promise<{ malocher: Malocher; failed: string; succeeded: string; queued: string }> {
  const malocher = freshMalocher(t, "dashboard");
  const succeeded = malocher.submit.with({ name: "square", tags: ["a"] })(square, 3);
  const failed = malocher.submit.with({ name: "quota", tags: ["a", "b"] })(failUnlessFixed, join(malocher.dir, "fixed"), 1);
  await collect(malocher.processAll({ slots: 2 }));
  const queued = malocher.submit.with({ name: "later" })(square, 4);
  return { malocher, failed, succeeded, queued };
}

test("every request needs the token: the query once (then an HttpOnly SameSite=Strict cookie) or a bearer header; 401 otherwise", TIMEOUT, async (t) => {
  const { malocher } = await finishedDirectory(t);
  let printed = "";
  const dashboard = await malocher.dashboard({ onListening: (url) => (printed = url) });
  t.after(() => dashboard.close());
  assert.equal(printed, dashboard.url);
  assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/, "one line with the loopback address and a URL-safe token");
  for (const path of ["/", "/assets/app.js", "/api/overview", "/api/jobs", "/api/events"]) {
    assert.equal((await call(dashboard, path, { auth: "none" })).status, 401, `${path} without the token`);
  }
  assert.equal((await call(dashboard, "/api/overview", { auth: "none", headers: { authorization: "Bearer wrong-token-0123456789" } })).status, 401);
  assert.equal((await call(dashboard, "/", { auth: "none", headers: { cookie: "malocher_dashboard=wrong" } })).status, 401);
  const first = await call(dashboard, `/?token=${dashboard.token}`, { auth: "none" });
  assert.equal(first.status, 303, "the first visit is sent on without the token in its address");
  assert.equal(first.headers.get("location"), "/");
  assert.equal(first.headers.get("set-cookie"), `malocher_dashboard=${dashboard.token}; HttpOnly; SameSite=Strict; Path=/`);
  const page = await call(dashboard, "/", { auth: "cookie" });
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.match(await page.text(), /<script type="module" src="\/assets\/app\.js">/);
  assert.equal((await call(dashboard, "/api/overview")).status, 200, "a script's bearer token");
});

test("actions check the origin, --read-only refuses them, and bad ids and parameters get 400/404 with a message", TIMEOUT, async (t) => {
  const { malocher, failed, queued } = await finishedDirectory(t);
  const dashboard = await malocher.dashboard({ onListening: () => {} });
  t.after(() => dashboard.close());
  const origin = `http://127.0.0.1:${dashboard.port}`;
  const cases: Array<[string, RequestInit & { auth?: "bearer" | "none" | "cookie" }, number, string]> = [
    ["/api/jobs/not-a-job", {}, 400, "BAD_JOB_ID"],
    ["/api/jobs/0aaaaaaaa-000000000000", {}, 404, "JOB_NOT_FOUND"],
    ["/api/jobs/0aaaaaaaa-000000000000/logs", {}, 404, "JOB_NOT_FOUND"],
    ["/api/jobs/0aaaaaaaa-000000000000/logs?follow=1", {}, 404, "JOB_NOT_FOUND"],
    ["/api/jobs/%00%2e%2e/logs", {}, 400, "BAD_JOB_ID"],
    ["/api/jobs?limit=0", {}, 400, "BAD_PARAMETER"],
    ["/api/jobs?limit=abc", {}, 400, "BAD_PARAMETER"],
    ["/api/jobs?state=done", {}, 400, "BAD_PARAMETER"],
    ["/api/jobs?cursor=../../etc", {}, 400, "BAD_PARAMETER"],
    ["/api/jobs?sort=id", {}, 400, "BAD_PARAMETER"],
    [`/api/jobs?q=${"x".repeat(500)}`, {}, 400, "BAD_PARAMETER"],
    ["/api/stream?minutes=-1", {}, 400, "BAD_PARAMETER"],
    ["/api/events?since=abc", {}, 400, "BAD_PARAMETER"],
    ["/api/nothing", {}, 404, "NOT_FOUND"],
    ["/assets/../../package.json", {}, 404, "NOT_FOUND"],
    ["/api/jobs", { method: "DELETE" }, 405, "METHOD_NOT_ALLOWED"],
    ["/api/jobs/not-a-job/cancel", { method: "POST" }, 400, "BAD_JOB_ID"],
    ["/api/jobs/0aaaaaaaa-000000000000/retry", { method: "POST" }, 404, "JOB_NOT_FOUND"],
    ["/api/cancel", { method: "POST", body: JSON.stringify({ jobIds: ["x"] }) }, 400, "BAD_JOB_ID"],
    ["/api/cancel", { method: "POST", body: "{" }, 400, "BAD_BODY"],
    ["/api/retry-failed", { method: "POST", body: JSON.stringify({ code: "X" }) }, 400, "BAD_BODY"],
    // A browser's request (the cookie) from another site, or without an origin, may not act.
    [`/api/jobs/${queued}/cancel`, { method: "POST", auth: "cookie", headers: { origin: "http://evil.example" } }, 403, "BAD_ORIGIN"],
    [`/api/jobs/${queued}/cancel`, { method: "POST", auth: "cookie" }, 403, "BAD_ORIGIN"],
  ];
  for (const [path, init, status, code] of cases) {
    const response = await call(dashboard, path, init);
    const body = await json<{ error: { code: string; message: string } }>(response);
    assert.equal(response.status, status, `${init.method ?? "GET"} ${path.slice(0, 80)}: ${JSON.stringify(body)}`);
    assert.equal(body.error.code, code, path);
    assert.ok(body.error.message.length > 10, "a message that says what is wrong");
  }
  assert.equal(await malocher.state(queued), "queued", "nothing was cancelled by the refused requests");

  const fromPage = await call(dashboard, `/api/jobs/${queued}/cancel`, { method: "POST", auth: "cookie", headers: { origin } });
  assert.equal(fromPage.status, 200);
  assert.deepEqual(await json(fromPage), { jobId: queued, outcome: "cancelled" });
  assert.equal(await malocher.state(queued), "cancelled");

  const readOnly = await malocher.dashboard({ readOnly: true, onListening: () => {} });
  t.after(() => readOnly.close());
  const refused = await call(readOnly, `/api/jobs/${failed}/retry`, { method: "POST" });
  assert.equal(refused.status, 403);
  assert.equal((await json<{ error: { code: string } }>(refused)).error.code, "READ_ONLY");
  assert.equal((await json(await call(readOnly, "/api/overview"))).readOnly, true, "the page hides the buttons");
  assert.equal(await malocher.state(failed), "failed");
});

test("the API's status is the object `malocher status --json` prints; a job's page has its error with code, message and stack", TIMEOUT, async (t) => {
  const { malocher, failed, succeeded } = await finishedDirectory(t);
  const dashboard = await malocher.dashboard({ onListening: () => {} });
  t.after(() => dashboard.close());
  assert.deepEqual(await json(await call(dashboard, "/api/status")), JSON.parse(JSON.stringify(await malocher.status())));

  const detail = await json<{ state: string; error: { code: string; message: string; stack: string }; argsPreview: string; name: string }>(await call(dashboard, `/api/jobs/${failed}`));
  assert.equal(detail.state, "failed");
  assert.equal(detail.name, "quota");
  assert.equal(detail.error.code, "E_QUOTA");
  assert.equal(detail.error.message, "quota exceeded for item 1");
  assert.match(detail.error.stack, /at failUnlessFixed \(/);
  assert.match(detail.argsPreview, /"fixed"|fixed/);
  const ok = await json<{ valuePreview: string; ok: boolean }>(await call(dashboard, `/api/jobs/${succeeded}`));
  assert.deepEqual([ok.ok, ok.valuePreview], [true, "9"]);

  const overview = await json<{ failures: Array<{ code: string; message: string; count: number; jobIds: string[] }> }>(await call(dashboard, "/api/overview"));
  assert.deepEqual(overview.failures, [{ code: "E_QUOTA", message: "quota exceeded for item 1", count: 1, jobIds: [failed] }], "failures grouped by code and message");
  const filtered = await json<{ jobs: Array<{ id: string }>; total: number }>(await call(dashboard, "/api/jobs?state=failed&tag=b"));
  assert.deepEqual([filtered.total, filtered.jobs.map((job) => job.id)], [1, [failed]]);
  const searched = await json<{ total: number }>(await call(dashboard, "/api/jobs?q=QUOTA"));
  assert.equal(searched.total, 1, "search looks in names and error messages");

  // Retry all of a failure group, then a run elsewhere (another process's): the new result replaces
  // the failed one under the same name, and the dashboard notices (the set-aside copy in retried/).
  const retried = await json<{ requeued: string[] }>(await call(dashboard, "/api/retry-failed", { method: "POST", body: JSON.stringify({ code: "E_QUOTA", message: "quota exceeded for item 1" }) }));
  assert.deepEqual(retried.requeued, [failed]);
  writeFileSync(join(malocher.dir, "fixed"), "");
  await collect(malocher.processAll({ slots: 2 }));
  await waitUntil(async () => (await json<{ counts: { succeeded: number } }>(await call(dashboard, "/api/overview"))).counts.succeeded === 3, 60_000, "the rerun and the later job shown as succeeded");
  assert.deepEqual(await json(await call(dashboard, "/api/status")), JSON.parse(JSON.stringify(await malocher.status())));
});

test("a failed command's group says what its stderr ended with, not only that it did", TIMEOUT, async (t) => {
  // Its message's first line ends "its stderr ends with:": the table and the groups showed that alone.
  const malocher = freshMalocher(t, "dashboard-command-failure");
  malocher.submitCommand(["sh", "-c", "echo starting >&2; echo 'disk full' >&2; exit 3"]);
  await collect(malocher.processAll({ slots: 1 }));
  const dashboard = await malocher.dashboard({ onListening: () => {} });
  t.after(() => dashboard.close());
  const overview = await json<{ failures: Array<{ code: string; message: string }> }>(await call(dashboard, "/api/overview"));
  assert.deepEqual(
    overview.failures.map(({ code, message }) => [code, message]),
    [["COMMAND_FAILED", "The command sh -c 'echo starting >&2; echo '\\''disk full'\\'' >&2; exit 3' exited with code 3; its stderr ends with: disk full"]],
  );
});

test("a result whose spec is gone (an interrupted clean) neither stalls nor spins the index", TIMEOUT, async (t) => {
  const { malocher, succeeded } = await finishedDirectory(t);
  rmSync(directoryLayout.specFile(malocher.dir, succeeded));
  const dashboard = await malocher.dashboard({ onListening: () => {} });
  t.after(() => dashboard.close());
  const status = await within(call(dashboard, "/api/status"), 10_000, "the status");
  assert.deepEqual(await json(status), JSON.parse(JSON.stringify(await malocher.status())));
  const overview = await json<{ indexing: number; total: number }>(await call(dashboard, "/api/overview"));
  assert.deepEqual([overview.indexing, overview.total], [0, 2]);
});

test("events carry ids: a page that reconnects with Last-Event-ID gets what it missed, or a reset when it missed too much", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "dashboard-events");
  const gate = join(malocher.dir, "gate");
  const jobs = [1, 2, 3].map((x) => malocher.submit(waitForGate, gate, x));
  const dashboard = await malocher.dashboard({ onListening: () => {} });
  t.after(() => dashboard.close());
  const overview = await json<{ eventId: number; counts: { queued: number } }>(await call(dashboard, "/api/overview"));
  assert.equal(overview.counts.queued, 3);

  const cancelled = await call(dashboard, `/api/jobs/${jobs[0]}/cancel`, { method: "POST" });
  assert.equal(cancelled.status, 200);
  const stream = await readEvents(dashboard, overview.eventId, (events) => events.some((event) => event.event === "jobs" && event.data.includes(jobs[0]!)));
  const delta = stream.find((event) => event.event === "jobs")!;
  assert.deepEqual(JSON.parse(delta.data).rows.map((row: { id: string; state: string }) => [row.id, row.state]), [[jobs[0], "cancelled"]], "only the job that changed");
  assert.ok(stream.every((event) => Number(event.id) > overview.eventId), "every event has an id after the page's");

  // Reconnecting after the delta: nothing is sent again; from before it: the delta is replayed.
  const replayed = await readEvents(dashboard, overview.eventId, (events) => events.some((event) => event.event === "jobs"));
  assert.equal(replayed.find((event) => event.event === "jobs")?.id, delta.id);
  const reset = await readEvents(dashboard, 10 ** 9, (events) => events.length > 0);
  assert.equal(reset[0]?.event, "reset", "an id the server does not know: fetch everything again");
  writeFileSync(gate, "");
});

test("the task stream puts each job of a live run in the worker slot it ran in (its MALOCHER_SLOT)", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "dashboard-slots");
  const gate = join(malocher.dir, "gate");
  const jobs = [1, 2].map(() => malocher.submit(slotAfterGate, gate));
  let address: URL | undefined;
  const run = collect(malocher.processAll({ slots: 2, dashboard: { onListening: (url) => (address = new URL(url)) } }));
  type Bar = [string, string, number, number | null, string, number | null];
  const stream = async () => {
    if (address === undefined) return [];
    const response = await fetch(new URL("/api/stream?minutes=5", address), { headers: { authorization: `Bearer ${address.searchParams.get("token")}` } });
    return (await json<{ bars: Bar[] }>(response)).bars;
  };
  await waitUntil(async () => (await stream()).filter((bar) => bar[4] === "running" && bar[5] !== null).length === 2, 30_000, "both jobs running, each with its slot");
  const running = new Map((await stream()).map((bar) => [bar[0], bar[5]]));
  assert.deepEqual([...running.values()].sort(), [1, 2], "one job in each of the node's two slots");
  writeFileSync(gate, "");
  const results = await within(run, 30_000, "the run");
  for (const jobId of jobs) {
    const result = results.get(jobId);
    assert.ok(result?.ok);
    assert.equal(result.value, running.get(jobId), "the slot shown is the one the job ran in");
  }
});

test("a live run's dependencies on the dashboard: a job waits, then runs once its dependency succeeded; one whose dependency failed fails with DEPENDENCY_FAILED", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "dashboard-waiting");
  const [gateA, gateB] = [join(malocher.dir, "gate-a"), join(malocher.dir, "gate-b")];
  const first = malocher.submit(waitForGate, gateA, 1);
  const second = malocher.submit.with({ after: [first] })(waitForGate, gateB, 2);
  const failing = malocher.submit(failUnlessFixed, join(malocher.dir, "fixed"), 3);
  const blocked = malocher.submit.with({ after: [failing] })(square, 4);
  let address: URL | undefined;
  const run = collect(malocher.processAll({ slots: 2, dashboard: { onListening: (url) => (address = new URL(url)) } }));
  type Row = { id: string; state: string | null; error?: { code: string } };
  const rows = async () => {
    if (address === undefined) return new Map<string, Row>();
    const response = await fetch(new URL("/api/jobs?limit=10", address), { headers: { authorization: `Bearer ${address.searchParams.get("token")}` } });
    return new Map((await json<{ jobs: Row[] }>(response)).jobs.map((row) => [row.id, row]));
  };
  const stateOf = async (jobId: string) => (await rows()).get(jobId)?.state;
  await waitUntil(async () => (await stateOf(first)) === "running" && (await stateOf(second)) === "waiting", 30_000, "the first job running, the second waiting for it");
  // Each job's page names the jobs it runs after and before, with their states.
  const detail = async (jobId: string) =>
    json<{ after?: { id: string; state: string | null }[]; dependents?: { id: string; state: string | null }[] }>(
      await fetch(new URL(`/api/jobs/${jobId}`, address), { headers: { authorization: `Bearer ${address!.searchParams.get("token")}` } }),
    );
  assert.deepEqual((await detail(second)).after, [{ id: first, state: "running" }]);
  assert.deepEqual((await detail(first)).dependents, [{ id: second, state: "waiting" }]);
  assert.equal((await detail(first)).after, undefined);
  await waitUntil(async () => (await rows()).get(blocked)?.error?.code === "DEPENDENCY_FAILED", 10_000, "the job whose dependency failed, failed with DEPENDENCY_FAILED");
  assert.equal(await stateOf(blocked), "failed");
  writeFileSync(gateA, "");
  await waitUntil(async () => (await stateOf(second)) === "running", 10_000, "the second job running once the first succeeded");
  writeFileSync(gateB, "");
  const results = await within(run, 30_000, "the run");
  assert.equal(results.get(second)?.ok, true);
});

test("a dashboard that cannot listen says why and what to change: a port in use, a host that is no address of this machine", TIMEOUT, async (t) => {
  const { malocher } = await finishedDirectory(t);
  const first = await malocher.dashboard();
  t.after(() => first.close());
  await assert.rejects(malocher.dashboard({ port: first.port }), (error: unknown) => {
    assert.equal((error as MalocherError).code, "INVALID_OPTIONS");
    assert.equal((error as Error).message, `The dashboard cannot listen on 127.0.0.1:${first.port}: EADDRINUSE. Pick another --port.`);
    return true;
  });
  // 192.0.2.0/24 is for documentation: no machine has it (binding to it fails; nothing is sent).
  await assert.rejects(malocher.dashboard({ host: "192.0.2.7", onWarning: () => {} }), (error: unknown) => {
    assert.equal((error as MalocherError).code, "INVALID_OPTIONS");
    assert.match((error as Error).message, /^The dashboard cannot listen on 192\.0\.2\.7:0: EADDRNOTAVAIL\. 192\.0\.2\.7 is no address of this machine: pick another --host/);
    return true;
  });
});

test("a job's page lists the first 100 jobs it runs after and before, with their counts; a dependent cleaned away is left out", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "dashboard-links");
  const inputs = Array.from({ length: 101 }, (_, i) => malocher.submit(square, i));
  const fanIn = malocher.submit.with({ after: inputs })(square, 0);
  const fanOut = Array.from({ length: 101 }, (_, i) => malocher.submit.with({ after: [inputs[0]!] })(square, i));
  // Cancelled, then cleaned: its entry in its dependency's reverse index stays behind.
  await malocher.cancel(fanOut[0]!);
  assert.deepEqual((await malocher.clean()).map((cleaned) => cleaned.jobId), [fanOut[0]]);
  const dashboard = await malocher.dashboard();
  t.after(() => dashboard.close());
  type Linked = { id: string; state: string | null }[];
  const detail = async (jobId: string) => json<{ after?: Linked; afterCount?: number; dependents?: Linked; dependentCount?: number }>(await call(dashboard, `/api/jobs/${jobId}`));
  // Until the index has read the queue, states are unknown (null).
  await waitUntil(
    async () => (await detail(fanIn)).after?.every((linked) => linked.state !== null) === true && (await detail(inputs[0]!)).dependentCount === 101,
    20_000,
    "the index to have read the directory",
  );
  const ofFanIn = await detail(fanIn);
  assert.deepEqual(ofFanIn.after, inputs.slice(0, 100).map((id) => ({ id, state: "queued" })));
  assert.equal(ofFanIn.afterCount, 101);
  const ofInput = await detail(inputs[0]!);
  // The fan-in and the 100 fan-out jobs left, sorted by id (the order they were submitted in).
  assert.deepEqual(ofInput.dependents, [fanIn, ...fanOut.slice(1)].slice(0, 100).map((id) => ({ id, state: "waiting" })));
  assert.equal(ofInput.dependentCount, 101);
  const ofOther = await detail(inputs[1]!);
  assert.deepEqual(ofOther.dependents, [{ id: fanIn, state: "waiting" }]);
  assert.equal(ofOther.dependentCount, undefined);
});

interface SseEvent {
  id: string;
  event: string;
  data: string;
}

/** Reads the event stream from `since` until `enough` holds (within 15 s). */
async function readEvents(dashboard: Dashboard, since: number, enough: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const abort = new AbortController();
  const response = await call(dashboard, "/api/events", { headers: { "last-event-id": String(since) }, signal: abort.signal });
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const events: SseEvent[] = [];
  let buffer = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(block.split("\n").filter((line) => !line.startsWith(":")).map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]));
        if (fields["event"] !== undefined) events.push({ id: fields["id"] ?? "", event: fields["event"], data: fields["data"] ?? "" });
      }
      if (enough(events)) return;
    }
  })();
  try {
    await within(reading, 15_000, "the expected events");
  } finally {
    abort.abort();
    await reading.catch(() => {});
  }
  return events;
}

test("100,000 jobs: a page of the list comes in milliseconds, the first page load stays under 200 KB, memory stays flat", { timeout: 120_000 }, async (t) => {
  const malocher = freshMalocher(t, "dashboard-scale");
  const total = 100_000;
  const argLists = (function* () {
    for (let i = 0; i < total; i++) yield [i] as [number];
  })();
  await malocher.submitMany(square, argLists, { name: "sweep", tags: ["big"] });
  const dashboard = await malocher.dashboard({ onListening: () => {} });
  t.after(() => dashboard.close());
  await waitUntil(async () => (await json<{ total: number; indexing: number }>(await call(dashboard, "/api/overview"))).total === total, 60_000, "the index of 100,000 jobs");

  let firstLoad = 0;
  for (const path of ["/", "/assets/app.js", "/assets/charts.js", "/assets/style.css", "/api/overview", "/api/nodes", "/api/stream?minutes=5", "/api/jobs?limit=50"]) {
    const response = await call(dashboard, path);
    assert.equal(response.status, 200, path);
    firstLoad += (await response.arrayBuffer()).byteLength;
  }
  assert.ok(firstLoad < 200_000, `the first page load sends ${firstLoad} bytes`);

  const timings: number[] = [];
  let cursor = "";
  for (let page = 0; page < 20; page++) {
    const started = performance.now();
    const body = await json<{ jobs: Array<{ id: string }>; total: number; next: string }>(await call(dashboard, `/api/jobs?limit=100${cursor}`));
    timings.push(performance.now() - started);
    assert.equal(body.total, total);
    assert.equal(body.jobs.length, 100);
    cursor = `&cursor=${body.next}`;
  }
  const filtered = performance.now();
  const none = await json<{ total: number }>(await call(dashboard, "/api/jobs?state=failed&q=nothing-matches"));
  timings.push(performance.now() - filtered);
  assert.equal(none.total, 0);
  timings.sort((a, b) => a - b);
  t.diagnostic(`jobs pages at ${total} jobs: median ${timings[10]!.toFixed(1)} ms, slowest ${timings.at(-1)!.toFixed(1)} ms`);
  assert.ok(timings[10]! < 100, `a page takes ${timings[10]} ms (median)`);

  // Memory: the same requests again and again leave the heap where it was.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const heap = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage().heapUsed;
  };
  const before = await heap();
  for (let round = 0; round < 100; round++) await (await call(dashboard, `/api/jobs?limit=100&q=${round}`)).arrayBuffer();
  const after = await heap();
  t.diagnostic(`heap ${Math.round(before / 2 ** 20)} MB before 100 more requests, ${Math.round(after / 2 ** 20)} MB after`);
  assert.ok(after - before < 30 * 2 ** 20, `the heap grew by ${Math.round((after - before) / 2 ** 20)} MB`);
});

/** Starts the CLI; resolves with the process and the dashboard address from its `--json` line. */
function startCli(args: string[]): Promise<{ child: ChildProcess; url: URL; output: () => string }> {
  const child = spawn(process.execPath, [cliMain, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  return within(
    new Promise((resolve, reject) => {
      let buffer = "";
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        buffer += chunk;
        for (const line of buffer.split("\n").slice(0, -1)) {
          const event = JSON.parse(line) as { type?: string; url?: string };
          if (event.type === "dashboard") resolve({ child, url: new URL(event.url!), output: () => output });
        }
        buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
      });
      child.once("exit", (code) => reject(new Error(`malocher ${args[0]} ended (${code}) before it served the dashboard:\n${output}`)));
    }),
    30_000,
    `malocher ${args[0]} printing its dashboard address`,
  );
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", (code) => resolve(code))));
}

test("malocher dashboard serves a directory until Ctrl-C; malocher run --dashboard-host serves the run, with its nodes", TIMEOUT, async (t) => {
  // One name, one meaning: the page's listener is --port/--host on `dashboard`, --dashboard-port/--dashboard-host on `run` (whose --port is the SSH port).
  const words = (text: string) => new RegExp(text.split(" ").join("\\s+"));
  const runHelp = (await runCli(["run", "--help"])).stdout;
  assert.match(runHelp, words("--port <port> SSH port"));
  assert.match(runHelp, words("--dashboard-port <port> the port the dashboard listens on"));
  assert.match(runHelp, words("--dashboard-host <address> the address the dashboard listens on"));
  assert.doesNotMatch(runHelp, /--host </);
  const dashboardHelp = (await runCli(["dashboard", "--help"])).stdout;
  assert.match(dashboardHelp, words("--port <port> the port the dashboard listens on"));
  assert.match(dashboardHelp, words("--host <address> the address the dashboard listens on"));

  const { malocher } = await finishedDirectory(t);
  const served = await startCli(["dashboard", "--dir", malocher.dir, "--json"]);
  t.after(() => served.child.kill("SIGKILL"));
  assert.equal(served.url.hostname, "127.0.0.1");
  const token = served.url.searchParams.get("token")!;
  const get = (url: URL, path: string) => fetch(new URL(path, url), { headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual(await json(await get(served.url, "/api/status")), JSON.parse(JSON.stringify(await malocher.status())));
  served.child.kill("SIGINT");
  assert.equal(await within(exited(served.child), 10_000, "malocher dashboard ending on SIGINT"), 0);

  const gate = join(malocher.dir, "gate");
  const gated = malocher.submit.with({ name: "gated" })(waitForGate, gate, 1);
  const run = await startCli(["run", "--dir", malocher.dir, "--dashboard-host", "127.0.0.2", "--json", "--slots", "2"]);
  t.after(() => run.child.kill("SIGKILL"));
  assert.equal(run.url.hostname, "127.0.0.2", "--dashboard-host is where the page listens (and it implies --dashboard)");
  const runToken = run.url.searchParams.get("token")!;
  const nodes = async () => (await json<{ nodes: Array<{ host: string; state?: string; slots?: number; jobs: string[]; heartbeatAt?: number }> }>(await fetch(new URL("/api/nodes", run.url), { headers: { authorization: `Bearer ${runToken}` } }))).nodes;
  await waitUntil(async () => (await nodes()).some((node) => node.state === "ready" && node.jobs.includes(gated) && node.heartbeatAt !== undefined), 30_000, "the run's node, ready and running the gated job");
  const local = (await nodes()).find((node) => node.host === "local")!;
  assert.equal(local.slots, 2);
  writeFileSync(gate, "");
  assert.equal(await within(exited(run.child), 30_000, "the run ending"), 0, run.output());
  await assert.rejects(fetch(new URL("/api/overview", run.url)), "the dashboard closed with the run");
});
