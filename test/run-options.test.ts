/**
 * Run options and per-job options of issue 5, in local mode (one agent on this machine): what a
 * user relies on is exactly one result per job, the right value or code, the right `attempts`,
 * and no process left behind.
 *
 * - `timeoutMs` (processAll and per job): JOB_TIMED_OUT, the job's whole process group killed
 *   (also a job stuck in spawnSync), not retried, the slot comes back.
 * - `retries` / `retryOnError`: a worker killed by a signal Malocher did not send is retried;
 *   JOB_THREW and JOB_EXITED are not, unless retryOnError; per job wins.
 * - `cancel`: queued jobs never start, running ones are killed, finished ones are kept (library
 *   and CLI).
 * - `submit.with({ key })`: the same key gives the same job, also across processes.
 * - `processAll({ signal })` and `processAll({ drainSignal })`.
 * - `codeChanged`, and warm workers that loaded a module which changed since.
 *
 * Each test ends by checking that the agents and workers it started are gone and that no child
 * of a job is left (see support/census.ts for how "ours" is told apart).
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Malocher, MalocherError, type JobResult, type RunEvent } from "malocher";
import {
  double,
  doubleAfterGate,
  doubleAfterSpawnSync,
  doubleExitingOnce,
  doubleKillingItselfOnce,
  doubleSlowly,
  doubleThrowingOnce,
  doubleWithChild,
  killItself,
  printingThrowingOnce,
  throwAlways,
} from "./fixtures/faults/jobs.js";
import { census, waitForNoLeftovers, type Census } from "./support/census.js";
import { isAlive, killPids } from "./support/processes.js";
import { record, stopActiveRuns } from "./support/recording.js";
import { collect } from "./support/results.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

/** Local agents inherit this process's environment: the tag tells our agents and workers apart. */
const TAG = `MALOCHER_TEST_TAG=run-options-${randomBytes(4).toString("hex")}`;
process.env["MALOCHER_TEST_TAG"] = TAG.slice("MALOCHER_TEST_TAG=".length);
const ENV_TAGS = [TAG];

const CLI_MAIN = fileURLToPath(new URL("../packages/supervisor/dist/cli/main.js", import.meta.url));
const SUBMIT_WITH_KEY = fileURLToPath(new URL("./fixtures/faults/submit-with-key.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

const TEST_TIMEOUT_MS = 40_000;
/** Upper bound for one run in these tests. */
const RUN_DEADLINE_MS = 20_000;
/** How long agents, workers and job children get to go away after a test. */
const LEFTOVER_DEADLINE_MS = 15_000;

/** This test's temp directory: the Malocher directory, gates, attempt records, pid files. */
let root: string;
let malocher: Malocher;
/** Where jobs record each attempt (one file per attempt). */
let starts: string;
/** The file that opens every gated job of the test. */
let gate: string;
let baseline: Census;

beforeEach(async () => {
  root = tempDir("run-options");
  malocher = new Malocher({ dir: join(root, "malocher") });
  starts = join(root, "starts");
  gate = join(root, "gate");
  baseline = census(ENV_TAGS, root);
});

afterEach(async () => {
  await stopActiveRuns();
  // A failed test may leave its processes: kill ours (those above the baseline) for the next one.
  const now = census(ENV_TAGS, root);
  killPids([
    ...now.agents.filter((pid) => !baseline.agents.includes(pid)),
    ...now.workers.filter((pid) => !baseline.workers.includes(pid)),
    ...now.marked,
  ]);
  removeDir(root);
});

// ---------------------------------------------------------------------------------------------
// helpers

/** Names of the attempts recorded in `starts` (one entry per attempt: `name`). */
function attemptsRecorded(): string[] {
  if (!existsSync(starts)) return [];
  return readdirSync(starts).map((file) => file.slice(0, file.indexOf(".")));
}

function countAttempts(name: string): number {
  return attemptsRecorded().filter((recorded) => recorded === name).length;
}

/** The result of `jobId`, asserted to be a failure with `code`. */
function assertFailed(results: Map<string, JobResult>, jobId: string, code: string, attempts: number): JobResult & { ok: false } {
  const result = results.get(jobId);
  assert.ok(result !== undefined, `job ${jobId} has a result`);
  assert.equal(result.ok, false, `job ${jobId} should fail with ${code}, got ${JSON.stringify(result)}`);
  if (result.ok) throw new Error("unreachable");
  assert.equal(result.error.code, code, `job ${jobId}: ${result.error.message}`);
  assert.equal(result.attempts, attempts, `job ${jobId} (${code}) attempts`);
  assert.equal(result.jobId, jobId);
  return result;
}

/** The result of `jobId`, asserted to be `value` after `attempts` runs. */
function assertValue(results: Map<string, JobResult>, jobId: string, value: unknown, attempts: number): void {
  const result = results.get(jobId);
  assert.ok(result !== undefined, `job ${jobId} has a result`);
  assert.ok(result.ok, `job ${jobId} failed: ${result.ok ? "" : `[${result.error.code}] ${result.error.message}`}`);
  assert.deepEqual(result.value, value, `job ${jobId}'s value`);
  assert.equal(result.attempts, attempts, `job ${jobId}'s attempts`);
  assert.equal(result.jobId, jobId);
  assert.equal(result.host, "local");
}

/** Every result in the directory, by job id (each job has at most one result file by design). */
async function storedResults(m: Malocher = malocher): Promise<Map<string, JobResult>> {
  return collect(m.results());
}

function readPid(file: string): number {
  return Number.parseInt(readFileSync(file, "utf8"), 10);
}

async function noLeftovers(): Promise<void> {
  await waitForNoLeftovers(ENV_TAGS, root, baseline, LEFTOVER_DEADLINE_MS);
}

// ---------------------------------------------------------------------------------------------
// timeouts

test("timeoutMs: attempts past the limit end JOB_TIMED_OUT with their process group killed, are not retried, and the slot comes back", { timeout: TEST_TIMEOUT_MS }, async () => {
  // One slot and two jobs that would hang for a minute: the second can only time out if the
  // first one's slot came back.
  const pidFiles = [join(root, "child-1.pid"), join(root, "child-2.pid")];
  const hung1 = malocher.submit(doubleWithChild, 1, pidFiles[0]!, root, undefined, starts);
  const hung2 = malocher.submit(doubleWithChild, 2, pidFiles[1]!, root, undefined, starts);
  const quick = malocher.submit(double, 21);
  const startedAt = Date.now();
  const results = await within(collect(malocher.processAll({ slots: 1, timeoutMs: 1000 })), RUN_DEADLINE_MS, "the run");
  assert.deepEqual([...results.keys()].sort(), [hung1, hung2, quick].sort(), "exactly one result per job");
  for (const [jobId, x] of [[hung1, 1], [hung2, 2]] as const) {
    const result = assertFailed(results, jobId, "JOB_TIMED_OUT", 1);
    assert.match(result.error.message, /1000 ms/, "names the limit");
    assert.ok(result.durationMs >= 1000 && result.durationMs < 6000, `ran about the limit, not longer (durationMs ${result.durationMs})`);
    assert.equal(countAttempts(String(x)), 1, "a timed-out job is not retried");
  }
  assertValue(results, quick, 42, 1);
  assert.ok(Date.now() - startedAt < RUN_DEADLINE_MS);
  for (const file of pidFiles) assert.ok(!isAlive(readPid(file)), "the child the job started was killed with its process group");
  await noLeftovers();
});

test("timeoutMs: a job stuck in spawnSync is killed with the process it waits for; per job wins over processAll both ways, 0 meaning no limit", { timeout: TEST_TIMEOUT_MS }, async () => {
  const pidFile = join(root, "sync-child.pid");
  const stuck = malocher.submit.with({ timeoutMs: 1500 })(doubleAfterSpawnSync, 1, pidFile, root, 30_000);
  const longerThanRun = malocher.submit.with({ timeoutMs: 8000 })(doubleSlowly, 2, 1500);
  const unlimited = malocher.submit.with({ timeoutMs: 0 })(doubleSlowly, 3, 1500);
  const runLimit = malocher.submit(doubleSlowly, 4, 10_000);
  const results = await within(collect(malocher.processAll({ slots: 4, timeoutMs: 500 })), RUN_DEADLINE_MS, "the run");
  assert.equal(results.size, 4, "exactly one result per job");

  const stuckResult = assertFailed(results, stuck, "JOB_TIMED_OUT", 1);
  assert.ok(stuckResult.durationMs >= 1500, `the job's own 1500 ms beat the run's 500 ms (durationMs ${stuckResult.durationMs})`);
  assert.ok(stuckResult.durationMs < 8000, `killed inside spawnSync, not after it returned (durationMs ${stuckResult.durationMs})`);
  assert.ok(existsSync(pidFile), "the spawnSync child ran");
  assert.ok(!isAlive(readPid(pidFile)), "the process the job waited for in spawnSync was killed");

  assertValue(results, longerThanRun, 4, 1);
  assertValue(results, unlimited, 6, 1);
  const limited = assertFailed(results, runLimit, "JOB_TIMED_OUT", 1);
  assert.ok(limited.durationMs < 5000, `the run's 500 ms applies to a job without its own (durationMs ${limited.durationMs})`);
  await noLeftovers();
});

// ---------------------------------------------------------------------------------------------
// retries

test("retries: a worker killed by a signal Malocher did not send is retried; attempts counts the runs; per job wins", { timeout: TEST_TIMEOUT_MS }, async () => {
  // processAll says 0 retries; jobs that say otherwise win.
  const onceThenOk = malocher.submit.with({ retries: 1 })(doubleKillingItselfOnce, 5, join(root, "once-5"), starts);
  const noRetries = malocher.submit(killItself, starts, "k0");
  const twoRetries = malocher.submit.with({ retries: 2 })(killItself, starts, "k2");
  const results = await within(collect(malocher.processAll({ slots: 3, retries: 0 })), RUN_DEADLINE_MS, "the run with retries: 0");
  assert.equal(results.size, 3, "exactly one result per job");
  assertValue(results, onceThenOk, 10, 2);
  assert.equal(countAttempts("5"), 2);
  const crashed = assertFailed(results, noRetries, "WORKER_CRASHED", 1);
  assert.match(crashed.error.message, /SIGKILL/, "names the signal");
  assert.equal(countAttempts("k0"), 1);
  const crashedThrice = assertFailed(results, twoRetries, "WORKER_CRASHED", 3);
  assert.equal(crashedThrice.error.message, "The worker process running this job was killed by SIGKILL (the kernel's out-of-memory killer does this, and kill -9) in attempt 3, its last.");
  assert.match((await malocher.logs(twoRetries)).stderr, /--- malocher: attempt 1 failed on local: \[WORKER_CRASHED\] The worker .* and kill -9\); attempt 2 follows in /, "the note reads as one sentence");
  assert.equal(countAttempts("k2"), 3);

  // The default is 3 retries: 4 attempts.
  const byDefault = malocher.submit(killItself, starts, "kd");
  const onceByDefault = malocher.submit(doubleKillingItselfOnce, 7, join(root, "once-7"), starts);
  const results2 = await within(collect(malocher.processAll({ slots: 2 })), RUN_DEADLINE_MS, "the run with default retries");
  assert.equal(results2.size, 2, "exactly one result per job");
  assertFailed(results2, byDefault, "WORKER_CRASHED", 4);
  assert.equal(countAttempts("kd"), 4);
  assertValue(results2, onceByDefault, 14, 2);
  assert.equal((await storedResults()).size, 5, "one stored result per job");
  await noLeftovers();
});

test("retryOnError: JOB_THREW and JOB_EXITED are not retried unless asked; per job wins", { timeout: TEST_TIMEOUT_MS }, async () => {
  const threw = malocher.submit(doubleThrowingOnce, 1, join(root, "once-1"), starts);
  const exited = malocher.submit(doubleExitingOnce, 2, join(root, "once-2"), starts, 3);
  const threwRetried = malocher.submit.with({ retryOnError: true })(doubleThrowingOnce, 3, join(root, "once-3"), starts);
  const exitedRetried = malocher.submit.with({ retryOnError: true })(doubleExitingOnce, 4, join(root, "once-4"), starts, 5);
  const alwaysThrows = malocher.submit.with({ retryOnError: true, retries: 2 })(throwAlways, "always fails", starts, "always");
  const results = await within(collect(malocher.processAll({ slots: 3 })), RUN_DEADLINE_MS, "the run");
  assert.equal(results.size, 5, "exactly one result per job");

  const threwResult = assertFailed(results, threw, "JOB_THREW", 1);
  assert.match(threwResult.error.message, /first attempt of 1 fails/, "the job's own message");
  assert.equal(countAttempts("1"), 1, "JOB_THREW is not retried by default");
  const exitedResult = assertFailed(results, exited, "JOB_EXITED", 1);
  assert.match(exitedResult.error.message, /exit code 3/);
  assert.equal(countAttempts("2"), 1, "JOB_EXITED is not retried by default");
  assertValue(results, threwRetried, 6, 2);
  assertValue(results, exitedRetried, 8, 2);
  const always = assertFailed(results, alwaysThrows, "JOB_THREW", 3);
  assert.match(always.error.message, /always fails/);
  assert.equal(countAttempts("always"), 3);

  // retryOnError on processAll, switched off by one job.
  const runWide = malocher.submit(throwAlways, "run-wide", starts, "runwide");
  const optedOut = malocher.submit.with({ retryOnError: false })(throwAlways, "opted out", starts, "optedout");
  const results2 = await within(collect(malocher.processAll({ slots: 2, retryOnError: true, retries: 1 })), RUN_DEADLINE_MS, "the second run");
  assert.equal(results2.size, 2, "exactly one result per job");
  assertFailed(results2, runWide, "JOB_THREW", 2);
  assert.equal(countAttempts("runwide"), 2);
  assertFailed(results2, optedOut, "JOB_THREW", 1);
  assert.equal(countAttempts("optedout"), 1);
  await noLeftovers();
});

test("a retried job's log keeps each run's output: why the attempt failed, then the later run after a line that names its attempt, node and start", { timeout: TEST_TIMEOUT_MS }, async () => {
  const job = malocher.submit.with({ retryOnError: true, retries: 1 })(printingThrowingOnce, join(root, "once-printing"), starts);
  const events: RunEvent[] = [];
  const results = await within(collect(malocher.processAll({ slots: 1, onEvent: (event) => events.push(event) })), RUN_DEADLINE_MS, "the run");
  assertValue(results, job, "ok", 2);
  const retrying = events.filter((event) => event.type === "jobRetrying");
  assert.deepEqual(
    retrying.map(({ jobId, attempt, error }) => ({ jobId, attempt, error })),
    [{ jobId: job, attempt: 2, error: { code: "JOB_THREW", message: "the first attempt fails" } }],
    "the run hears why the attempt failed",
  );
  const note = /--- malocher: a run of attempt 2 began on local at (\S+); the output above is from earlier runs ---\n/;
  const failed = /--- malocher: attempt 1 failed on local: \[JOB_THREW\] the first attempt fails; attempt 2 follows in \d+\.\d s ---\n/;
  const { stdout, stderr } = await malocher.logs(job);
  assert.match(stdout, new RegExp(`^first run\\n${note.source}second run\\n$`), "stdout: the first run, the note, the second run");
  assert.match(stderr, new RegExp(`^first run, no line break\\n${failed.source}${note.source}second run\\n$`), "stderr: why the first attempt failed, the note, each on a line of its own");
  const began = Date.parse(note.exec(stdout)![1]!);
  assert.ok(Number.isFinite(began) && Math.abs(Date.now() - began) < RUN_DEADLINE_MS, `the note's time is an ISO time of this run: ${stdout}`);
  await noLeftovers();
});

// ---------------------------------------------------------------------------------------------
// cancellation

test("cancel: queued jobs never start, the running one is killed with its children, finished ones keep their result", { timeout: TEST_TIMEOUT_MS }, async () => {
  const finished = malocher.submit(double, 4);
  assertValue(await within(collect(malocher.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the first run"), finished, 8, 1);
  const finishedBefore = (await storedResults()).get(finished);

  // One slot, three jobs that would hang: one runs, two wait in the queue.
  const pidFiles = new Map<string, string>();
  for (let x = 1; x <= 3; x++) {
    const pidFile = join(root, `child-${x}.pid`);
    pidFiles.set(malocher.submit(doubleWithChild, x, pidFile, root, undefined, starts), pidFile);
  }
  const run = record(malocher, { slots: 1 });
  await waitUntil(() => [...pidFiles.values()].some(existsSync), 10_000, "one job to run");
  const [running] = [...pidFiles].find(([, file]) => existsSync(file))!;
  const queued = [...pidFiles.keys()].filter((jobId) => jobId !== running);
  const unknown = "000000000-000000000000";

  const outcomes = await malocher.cancel([...pidFiles.keys(), finished, unknown]);
  assert.equal(outcomes[running], "requested", "the running job is being killed");
  for (const jobId of queued) assert.equal(outcomes[jobId], "cancelled", "a queued job is cancelled before it ran");
  assert.equal(outcomes[finished], "finished", "a finished job keeps its result");
  assert.equal(outcomes[unknown], "unknown");
  await assert.rejects(malocher.cancel("not-a-job"), (error: unknown) => error instanceof MalocherError && error.code === "JOB_NOT_FOUND");

  await within(run.done, 10_000, "the run after cancelling everything");
  assert.equal(run.error, undefined, `the run ended normally: ${String(run.error)}`);
  assert.deepEqual(run.duplicates, []);
  assert.deepEqual([...run.results.keys()].sort(), [...pidFiles.keys()].sort(), "each cancelled job yields one result");
  const killed = assertFailed(run.results, running, "JOB_CANCELLED", 1);
  assert.ok(killed.durationMs < 10_000);
  for (const jobId of queued) assertFailed(run.results, jobId, "JOB_CANCELLED", 0);
  assert.equal(attemptsRecorded().length, 1, `only the running job ever started: ${attemptsRecorded().join(", ")}`);
  const startedJobs = run.events.flatMap((event) => (event.type === "jobStarted" ? [event.jobId] : []));
  assert.deepEqual(startedJobs, [running], "no jobStarted for the queued jobs");
  for (const jobId of queued) assert.ok(!existsSync(pidFiles.get(jobId)!), "a cancelled queued job never ran");
  assert.ok(!isAlive(readPid(pidFiles.get(running)!)), "the running job's child was killed");

  const stored = await storedResults();
  assert.equal(stored.size, 4, "one stored result per job");
  assert.deepEqual(stored.get(finished), finishedBefore, "the finished job's result is unchanged");
  const status = await malocher.status();
  assert.equal(status.counts.cancelled, 3);
  assert.equal(status.counts.succeeded, 1);
  await noLeftovers();
});

/** Runs the built CLI; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { timeout: 15_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

test("malocher cancel --all from another process: the running job is killed, the queued ones never start; cancel <id> of a finished job keeps it", { timeout: TEST_TIMEOUT_MS }, async () => {
  const pidFiles = new Map<string, string>();
  for (let x = 1; x <= 3; x++) {
    const pidFile = join(root, `child-${x}.pid`);
    pidFiles.set(malocher.submit(doubleWithChild, x, pidFile, root, undefined, starts), pidFile);
  }
  const run = record(malocher, { slots: 1 });
  await waitUntil(() => [...pidFiles.values()].some(existsSync), 10_000, "one job to run");
  const [running] = [...pidFiles].find(([, file]) => existsSync(file))!;

  const cancelled = await cli(["cancel", "--all", "--dir", malocher.dir, "--json"]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  const outcomes = new Map(
    cancelled.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { jobId: string; outcome: string })
      .map(({ jobId, outcome }) => [jobId, outcome]),
  );
  assert.deepEqual([...outcomes.keys()].sort(), [...pidFiles.keys()].sort(), "--all names every unfinished job");
  for (const [jobId, outcome] of outcomes) assert.equal(outcome, jobId === running ? "requested" : "cancelled", `outcome of ${jobId}`);

  // The supervisor in this process was not told: the agent finds the cancel marker by itself.
  await within(run.done, 10_000, "the run after malocher cancel --all");
  assert.equal(run.error, undefined, `the run ended normally: ${String(run.error)}`);
  assert.deepEqual(run.duplicates, []);
  assert.equal(run.results.size, 3);
  assertFailed(run.results, running, "JOB_CANCELLED", 1);
  for (const jobId of outcomes.keys()) if (jobId !== running) assertFailed(run.results, jobId, "JOB_CANCELLED", 0);
  assert.equal(attemptsRecorded().length, 1, "only the running job ever started");
  assert.ok(!isAlive(readPid(pidFiles.get(running)!)), "the running job's child was killed");

  const finished = malocher.submit(double, 5);
  assertValue(await within(collect(malocher.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the run"), finished, 10, 1);
  const again = await cli(["cancel", finished, "--dir", malocher.dir, "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), { jobId: finished, outcome: "finished" });
  assertValue(await storedResults(), finished, 10, 1);
  const nothing = await cli(["cancel", "--dir", malocher.dir]);
  assert.equal(nothing.code, 2, "cancel without ids or --all is refused");
  assert.match(nothing.stderr, /INVALID_OPTIONS/);
  await noLeftovers();
});

// ---------------------------------------------------------------------------------------------
// keys

test("submit.with({ key }): the same key returns the existing job, finished or not, also from other processes at once", { timeout: TEST_TIMEOUT_MS }, async () => {
  const seed3 = malocher.submit.with({ key: "seed-3" })(double, 3);
  assert.equal(malocher.submit.with({ key: "seed-3" })(double, 3), seed3, "same key, same job");
  const seed4 = malocher.submit.with({ key: "seed-4" })(double, 4);
  assert.notEqual(seed4, seed3, "another key, another job");
  // The script run again (a new process, a new Malocher) gets the same job, whatever the args.
  const rerun = new Malocher({ dir: malocher.dir });
  assert.equal(rerun.submit.with({ key: "seed-3" })(double, 99), seed3);

  const results = await within(collect(malocher.processAll({ slots: 2 })), RUN_DEADLINE_MS, "the run");
  assert.deepEqual([...results.keys()].sort(), [seed3, seed4].sort(), "one job per key");
  assertValue(results, seed3, 6, 1);
  assertValue(results, seed4, 8, 1);

  // After it finished: still the same id, and nothing is run again; the run yields it, marked reused.
  assert.equal(rerun.submit.with({ key: "seed-3" })(double, 3), seed3);
  const again = await within(collect(rerun.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the run after resubmitting");
  assert.deepEqual([...again.keys()], [seed3], "the resubmitted job is yielded, as part of what this process submitted");
  assert.equal(again.get(seed3)?.reused, true, "found finished by its key: reused, not run again");
  assertValue(again, seed3, 6, 1);
  assert.equal((await malocher.status()).total, 2, "no extra job in the directory");

  // Four copies of a script submitting the same key at the same moment agree on one job.
  const ids = await Promise.all(
    [1, 2, 3, 4].map(
      (x) =>
        new Promise<string>((resolve, reject) => {
          execFile(process.execPath, ["--import", TSX, SUBMIT_WITH_KEY, malocher.dir, "race", String(x)], { timeout: 15_000 }, (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim()),
          );
        }),
    ),
  );
  assert.equal(new Set(ids).size, 1, `one job for the key: ${ids.join(", ")}`);
  assert.equal((await malocher.status()).total, 3, "the racing submitters left exactly one job");
  const raced = await within(collect(malocher.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the run of the raced key");
  assert.deepEqual([...raced.keys()], [ids[0]]);
  await noLeftovers();
});

// ---------------------------------------------------------------------------------------------
// stopping a run

test("processAll({ signal }): abort kills the running jobs and requeues them; the iteration throws the reason; a later run does them with attempts 1", { timeout: TEST_TIMEOUT_MS }, async () => {
  const pidFiles = new Map<string, string>();
  for (let x = 1; x <= 4; x++) {
    const pidFile = join(root, `child-${x}.pid`);
    pidFiles.set(malocher.submit(doubleWithChild, x, pidFile, root, gate, starts), pidFile);
  }
  const stop = new AbortController();
  const run = record(malocher, { slots: 2, signal: stop.signal });
  await waitUntil(() => [...pidFiles.values()].filter(existsSync).length === 2, 10_000, "two jobs to run");
  const reason = new Error("stop now");
  stop.abort(reason);
  await within(run.done, 15_000, "the aborted run");
  assert.equal(run.error, reason, "the iteration throws the abort reason");
  assert.equal(run.results.size, 0, "nothing finished");
  const runningPids = [...pidFiles.values()].filter(existsSync).map(readPid);
  assert.equal(runningPids.length, 2);
  for (const pid of runningPids) assert.ok(!isAlive(pid), "a running job's child was killed");
  assert.equal((await storedResults()).size, 0, "no result was published for the killed jobs");
  const status = await malocher.status();
  assert.equal(status.counts.queued, 4, `every job is back in the queue: ${JSON.stringify(status.counts)}`);
  await noLeftovers();

  writeFileSync(gate, "");
  const results = await within(collect(malocher.processAll({ slots: 4 })), RUN_DEADLINE_MS, "the run after the abort");
  assert.equal(results.size, 4, "exactly one result per job");
  for (const [jobId, pidFile] of pidFiles) {
    const x = Number(/child-(\d)/.exec(pidFile)![1]);
    assertValue(results, jobId, 2 * x, 1);
  }

  // An already aborted signal: nothing starts at all.
  const late = malocher.submit(double, 9);
  const before = attemptsRecorded().length;
  const already = new Error("aborted before");
  await assert.rejects(malocher.processAll({ signal: AbortSignal.abort(already) })[Symbol.asyncIterator]().next(), (error) => error === already);
  assert.equal(attemptsRecorded().length, before);
  assert.ok((await storedResults()).get(late) === undefined, "the job submitted last did not run");
  await noLeftovers();
});

test("processAll({ drainSignal }): running jobs finish and are yielded, nothing new starts, the iteration ends; a later run does the rest", { timeout: TEST_TIMEOUT_MS }, async () => {
  const inputs = new Map<string, number>();
  for (let x = 1; x <= 5; x++) inputs.set(malocher.submit(doubleAfterGate, x, gate, starts), x);
  const drain = new AbortController();
  const run = record(malocher, { slots: 2, drainSignal: drain.signal });
  await waitUntil(() => attemptsRecorded().length === 2, 10_000, "two jobs to run");
  drain.abort();
  writeFileSync(gate, "");
  await within(run.done, 15_000, "the drained run");
  assert.equal(run.error, undefined, `the drained iteration ends without an error: ${String(run.error)}`);
  assert.deepEqual(run.duplicates, []);
  const startedXs = attemptsRecorded().map(Number).sort();
  assert.equal(startedXs.length, 2, `nothing new started after the drain: ${startedXs.join(", ")}`);
  const byX = new Map([...inputs].map(([jobId, x]) => [x, jobId]));
  assert.deepEqual(
    [...run.results.keys()].sort(),
    startedXs.map((x) => byX.get(x)!).sort(),
    "exactly the jobs that were running are yielded",
  );
  for (const x of startedXs) assertValue(run.results, byX.get(x)!, 2 * x, 1);
  assert.equal((await malocher.unfinishedJobs()).length, 3, "the others are still waiting");
  await noLeftovers();

  const rest = await within(collect(malocher.processAll({ slots: 3 })), RUN_DEADLINE_MS, "the run after the drain");
  assert.equal(rest.size, 3);
  for (const jobId of rest.keys()) assertValue(rest, jobId, 2 * inputs.get(jobId)!, 1);
  assert.equal((await storedResults()).size, 5);

  // Drained before it began: it ends at once, and nothing runs.
  const never = malocher.submit(double, 6);
  const drained = new AbortController();
  drained.abort();
  const none = await within(collect(malocher.processAll({ slots: 1, drainSignal: drained.signal })), 10_000, "a run drained from the start");
  assert.equal(none.size, 0);
  assert.equal((await storedResults()).get(never), undefined);
  await noLeftovers();
});

// ---------------------------------------------------------------------------------------------
// changed code

test("codeChanged: a result says so when the job's module file changed after submit, and says nothing when it did not", { timeout: TEST_TIMEOUT_MS }, async () => {
  const edited = join(root, "edited.mjs");
  const untouched = join(root, "untouched.mjs");
  writeFileSync(edited, 'export function version(x) { return "v1:" + x; }\n');
  writeFileSync(untouched, 'export function version(x) { return "same:" + x; }\n');
  const changedJob = malocher.submit({ module: pathToFileURL(edited).href, export: "version" }, 1);
  const sameJob = malocher.submit({ module: pathToFileURL(untouched).href, export: "version" }, 2);
  writeFileSync(edited, 'export function version(x) { return "v2:" + x; }\n');
  const results = await within(collect(malocher.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the run");
  assertValue(results, changedJob, "v2:1", 1);
  assert.equal(results.get(changedJob)!.codeChanged, true, "the code that ran differed from the code at submit");
  assertValue(results, sameJob, "same:2", 1);
  assert.equal(results.get(sameJob)!.codeChanged, undefined, "unchanged code says nothing");
  await noLeftovers();
});

test("codeChanged: a module edited between two submits from one process: only the job submitted before the edit says codeChanged", { timeout: TEST_TIMEOUT_MS }, async () => {
  // A long-lived submitter (a notebook, a script that submits for hours): the user edits the
  // module, then submits more jobs. Those ran exactly the code they were submitted with.
  const file = join(root, "versioned.mjs");
  writeFileSync(file, 'export function version(x) { return "v1:" + x; }\n');
  const ref = { module: pathToFileURL(file).href, export: "version" };
  const submittedAtV1 = malocher.submit(ref, 1);
  writeFileSync(file, 'export function version(x) { return "v2:" + x; }\n');
  const submittedAtV2 = malocher.submit(ref, 2);
  const results = await within(collect(malocher.processAll({ slots: 1 })), RUN_DEADLINE_MS, "the run");
  assertValue(results, submittedAtV1, "v2:1", 1);
  assert.equal(results.get(submittedAtV1)!.codeChanged, true, "the code differed from the code at submit");
  assertValue(results, submittedAtV2, "v2:2", 1);
  assert.equal(results.get(submittedAtV2)!.codeChanged, undefined, "the job submitted after the edit ran the code it was submitted with");
  await noLeftovers();
});

test("a warm worker that loaded a module which changed since does not run the next job with the old code", { timeout: TEST_TIMEOUT_MS }, async () => {
  const file = join(root, "gated.mjs");
  const source = (version: string) =>
    `import { existsSync, mkdirSync, writeFileSync } from "node:fs";\n` +
    `export async function version(x, gate, starts) {\n` +
    `  mkdirSync(starts, { recursive: true }); writeFileSync(starts + "/" + x + "." + process.pid + "." + Math.random(), "");\n` +
    `  while (!existsSync(gate)) await new Promise((resolve) => setTimeout(resolve, 25));\n` +
    `  return "${version}:" + x;\n}\n`;
  writeFileSync(file, source("v1"));
  const ref = { module: pathToFileURL(file).href, export: "version" };
  const jobs = new Map([1, 2].map((x) => [malocher.submit(ref, x, gate, starts), x]));
  const run = record(malocher, { slots: 1 });
  await waitUntil(() => attemptsRecorded().length === 1, 10_000, "the first job to run");
  const first = Number(attemptsRecorded()[0]);
  writeFileSync(file, source("v2"));
  writeFileSync(gate, "");
  await within(run.done, 10_000, "the run (the second job must run on a worker with the new code)");
  assert.equal(run.error, undefined, String(run.error));
  for (const [jobId, x] of jobs) {
    // The first job imported v1 before the change; the second must get a worker with v2.
    assertValue(run.results, jobId, `${x === first ? "v1" : "v2"}:${x}`, 1);
    assert.equal(run.results.get(jobId)!.codeChanged, true, "both ran other code than was submitted (v1)");
  }
  await noLeftovers();
});
