// Graceful, then forced: a killed job's process group gets SIGTERM, and SIGKILL killGraceMs later
// if anything of it still runs; a drain past drainTimeoutMs requeues its running jobs.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { parseAttempt } from "@malocher/store";
import { Malocher, type JobResult } from "malocher";
import { isAlive, literal, pgrep } from "./support/processes.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

const TIMEOUT = { timeout: 120_000 };
const RUN_DEADLINE_MS = 60_000;

test("a timed-out command that traps SIGTERM saves its work before SIGKILL; the result stays JOB_TIMED_OUT", TIMEOUT, async (t) => {
  const work = tempDir("grace-work");
  t.after(() => removeDir(work));
  const malocher = new Malocher({ dir: join(work, "jobs") });
  const saved = join(work, "saved");
  // `sleep & wait`: the shell runs its trap as soon as SIGTERM comes, not after the sleep.
  const script = `trap 'echo saved > "$1"; echo saving out; echo saving err >&2; exit 0' TERM; sleep 60 & wait`;
  const jobId = malocher.submitCommand(["sh", "-c", script, "sh", saved], { timeoutMs: 1000, killGraceMs: 20_000 });
  const [id, result] = only(await within(collect(malocher.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the run"));
  assert.equal(id, jobId);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.error.code, "JOB_TIMED_OUT", JSON.stringify(result));
  assert.match(!result.ok ? result.error.message : "", /SIGTERM, then SIGKILL after killGraceMs \(20000 ms\)/);
  assert.equal(readFileSync(saved, "utf8"), "saved\n", "the trap ran");
  // What it printed after SIGTERM is in its logs: its worker, in its process group, outlived the signal.
  const logs = await malocher.logs(jobId);
  assert.deepEqual([logs.stdout, logs.stderr], ["saving out\n", "saving err\n"]);
  // It ended at SIGTERM, long before the 20 s grace was over.
  assert.ok(result.durationMs < 15_000, `durationMs ${result.durationMs}`);
});

test("the CLI: submit --timeout 1s --kill-grace 20s gives a command the grace; run --kill-grace and --drain-timeout take durations", TIMEOUT, async (t) => {
  const work = tempDir("grace-cli");
  t.after(() => removeDir(work));
  const dir = join(work, "jobs");
  const saved = join(work, "saved");
  const script = `trap 'echo saved > "$1"; exit 0' TERM; sleep 60 & wait`;
  const submitted = await runCli(["submit", "--dir", dir, "--timeout", "1s", "--kill-grace", "20s", "--", "sh", "-c", script, "sh", saved, ":::", "once"]);
  assert.equal(submitted.code, 0, describeRun(submitted));
  const ran = await runCli(["run", "--dir", dir, "--slots", "1", "--kill-grace", "2s", "--drain-timeout", "1m", "--quiet"]);
  assert.equal(ran.code, 1, describeRun(ran));
  assert.match(ran.stdout + ran.stderr, /JOB_TIMED_OUT/, describeRun(ran));
  assert.equal(readFileSync(saved, "utf8"), "saved\n", "the job's own grace (20 s) won over the run's (2 s): the trap ran");
  const refused = await runCli(["run", "--dir", dir, "--kill-grace", "5"]);
  assert.equal(refused.code, 2, describeRun(refused));
  assert.match(refused.stderr, /--kill-grace/);
});

test("a job that ignores SIGTERM is killed killGraceMs later, with every process it started", TIMEOUT, async (t) => {
  const work = tempDir("grace-ignore");
  t.after(() => removeDir(work));
  const malocher = new Malocher({ dir: join(work, "jobs") });
  const marker = `malocher-grace-${process.pid}-${Date.now()}`;
  const pids = join(work, "pids");
  // The shell and a child both ignore SIGTERM; the child's argv carries the marker.
  const script = `trap '' TERM; sh -c 'trap "" TERM; while :; do sleep 0.1; done' ${marker} & echo $$ $! > "$1"; wait`;
  malocher.submitCommand(["sh", "-c", script, "sh", pids], { timeoutMs: 1000, killGraceMs: 3000 });
  const [, result] = only(await within(collect(malocher.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the run"));
  assert.equal(!result.ok && result.error.code, "JOB_TIMED_OUT", JSON.stringify(result));
  // Its code ran until the grace was over: the time limit, then the grace.
  assert.ok(result.durationMs >= 1000 + 3000 - 100, `durationMs ${result.durationMs}`);
  const [shell, child] = readFileSync(pids, "utf8").trim().split(" ").map(Number);
  assert.ok(shell !== undefined && child !== undefined);
  assert.equal(isAlive(shell), false, "the job's shell is gone");
  assert.equal(isAlive(child), false, "the job's child is gone");
  assert.deepEqual(pgrep(literal(marker)), [], "no process of the job is left");
});

test("cancel ends a running command with SIGTERM first; the result says JOB_CANCELLED", TIMEOUT, async (t) => {
  const work = tempDir("grace-cancel");
  t.after(() => removeDir(work));
  const malocher = new Malocher({ dir: join(work, "jobs") });
  const saved = join(work, "saved");
  const started = join(work, "started");
  const script = `trap 'echo saved > "$1"; exit 0' TERM; : > "$2"; sleep 60 & wait`;
  const jobId = malocher.submitCommand(["sh", "-c", script, "sh", saved, started], { killGraceMs: 20_000 });
  const run = collect(malocher.processAll({ slots: 1 }));
  await waitUntil(() => existsSync(started), RUN_DEADLINE_MS, "the job to start");
  await malocher.cancel(jobId);
  const [, result] = only(await within(run, RUN_DEADLINE_MS, "the run"));
  assert.equal(!result.ok && result.error.code, "JOB_CANCELLED", JSON.stringify(result));
  assert.equal(readFileSync(saved, "utf8"), "saved\n", "the trap ran");
});

test("a drain past drainTimeoutMs ends the running job and puts it back in the queue without counting an attempt", TIMEOUT, async (t) => {
  const work = tempDir("grace-drain");
  t.after(() => removeDir(work));
  const malocher = new Malocher({ dir: join(work, "jobs") });
  const started = join(work, "started");
  const jobId = malocher.submitCommand(["sh", "-c", `: > "$1"; sleep 60`, "sh", started], { killGraceMs: 500 });
  const drain = new AbortController();
  const run = collect(malocher.processAll({ slots: 1, drainSignal: drain.signal, drainTimeoutMs: 1000 }));
  await waitUntil(() => existsSync(started), RUN_DEADLINE_MS, "the job to start");
  drain.abort();
  const results = await within(run, RUN_DEADLINE_MS, "the drained run");
  assert.deepEqual(results, [], "the drained run yields no result for the job it ended");
  await waitUntil(async () => (await malocher.state(jobId)) === "queued", 10_000, "the job to be queued again");
  const marker = readFileSync(directoryLayout.queuedFile(join(work, "jobs"), jobId), "utf8");
  assert.equal(parseAttempt(marker), 1, `its queue marker still queues attempt 1 (${JSON.stringify(marker)})`);
  assert.deepEqual(await malocher.cancel(jobId), { [jobId]: "cancelled" });
});

/** The one result of a run. */
function only(results: Array<[string, JobResult]>): [string, JobResult] {
  assert.equal(results.length, 1, JSON.stringify(results));
  return results[0]!;
}

async function collect(iterable: AsyncIterable<[string, JobResult]>): Promise<Array<[string, JobResult]>> {
  const all: Array<[string, JobResult]> = [];
  for await (const item of iterable) all.push(item);
  return all;
}
