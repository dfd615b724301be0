// The hand-off from one job to the next on an agent: while its only worker is busy, the agent
// looks up the next queued job without claiming it. A job cancelled meanwhile (by another
// process: only its cancel marker tells) must still never run, and the jobs after it must.
import { strict as assert } from "node:assert";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { Malocher, type StartedCluster } from "malocher";
import { tickUntilGateOpens } from "./fixtures/jobs/cli-jobs.js";
import { sleepStamped, spinStamped, square } from "./fixtures/jobs/jobs.js";
import { collect } from "./support/results.js";
import { freshMalocher } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

test("a queued job cancelled from another process while the agent's worker is busy never runs; the next job does", { timeout: 60_000 }, async (t) => {
  const malocher = freshMalocher(t, "handoff");
  const gate = join(malocher.dir, "gate");
  const ticking = [malocher.submit(tickUntilGateOpens, gate, false), malocher.submit(tickUntilGateOpens, gate, false)];
  const after = malocher.submit(square, 7);

  const results = collect(malocher.processAll({ slots: 1 }));
  // The agent takes jobs in no set order. Two ticks in, its one worker busy, it has had its turn
  // to look the next job up: the other ticking job, or the last.
  let busy: string | undefined;
  await waitUntil(
    async () => {
      for (const jobId of ticking) if ((await malocher.logs(jobId)).stdout.includes("tick 2")) busy = jobId;
      return busy !== undefined;
    },
    30_000,
    "a first job to tick twice",
  );
  const cancelled = ticking.find((jobId) => jobId !== busy)!;
  // "cancelled" when the cancel took the job from the queue itself, "requested" when the agent had claimed it.
  const outcome = (await new Malocher({ dir: malocher.dir }).cancel(cancelled))[cancelled];
  assert.ok(outcome === "cancelled" || outcome === "requested", `cancel said ${outcome}`);
  writeFileSync(gate, "");

  const done = await within(results, 30_000, "the run");
  assert.equal(done.get(busy!)?.ok, true);
  const result = done.get(cancelled);
  assert.equal(result?.ok === false && result.error.code, "JOB_CANCELLED");
  assert.deepEqual(await malocher.logs(cancelled), { stdout: "", stderr: "" }, "the cancelled job never started");
  const last = done.get(after);
  assert.equal(last?.ok && last.value, 49);
});

// While every worker is busy with short jobs, the agent claims one more job for the worker due to
// finish first, which starts it the moment its job ends. A job lined up so behind one that turns
// out long must go back to the queue, for a worker that is free, and not wait for the long one.
type Stamp = { startedAt: number; endedAt: number; pid: number };

/** A started local cluster of one agent with 2 workers that both learned that jobs here are short (the agent lines a job up behind a worker only then). */
async function clusterOfShortJobs(t: TestContext, name: string): Promise<{ malocher: Malocher; cluster: StartedCluster }> {
  const malocher = freshMalocher(t, name);
  const cluster = await malocher.startCluster({ slots: 2 });
  t.after(() => cluster.close());
  const warmUp = [0, 1, 2, 3].map(() => malocher.submit(sleepStamped, 100));
  assert.equal((await collect(cluster.processAll({ jobs: warmUp }))).size, 4);
  return { malocher, cluster };
}

/** Runs one long job and 10 short ones; returns each one's stamp (all must succeed, in one attempt). */
async function runLongAndShort(malocher: Malocher, cluster: StartedCluster, long: (ms: number) => Stamp | Promise<Stamp>): Promise<{ longRun: Stamp; shortRuns: Map<string, Stamp> }> {
  const longId = malocher.submit(long, 5000);
  const shortIds = Array.from({ length: 10 }, () => malocher.submit(sleepStamped, 100));
  const done = await within(collect(cluster.processAll({ jobs: [longId, ...shortIds] })), 45_000, "the run");
  const stamp = (jobId: string) => {
    const result = done.get(jobId);
    assert.ok(result?.ok, `job ${jobId}: ${JSON.stringify(result)}`);
    assert.equal(result.attempts, 1, `job ${jobId} ran once`);
    return result.value as Stamp;
  };
  return { longRun: stamp(longId), shortRuns: new Map(shortIds.map((jobId) => [jobId, stamp(jobId)])) };
}

test("a job lined up on a worker behind one that turns out long goes back and runs elsewhere first", { timeout: 60_000 }, async (t) => {
  const { malocher, cluster } = await clusterOfShortJobs(t, "handoff-long");
  const { longRun, shortRuns } = await runLongAndShort(malocher, cluster, sleepStamped);
  for (const [jobId, run] of shortRuns) {
    assert.ok(run.startedAt < longRun.endedAt, `short job ${jobId} started ${run.startedAt - longRun.endedAt} ms after the long job ended`);
  }
});

// A job that keeps its worker's event loop busy cannot hear that the job lined up behind it is asked
// back (a known limit): that one starts when it ends, and the late request is ignored.
test("a job lined up behind a long synchronous computation runs once, when the computation ends", { timeout: 60_000 }, async (t) => {
  const { malocher, cluster } = await clusterOfShortJobs(t, "handoff-spin");
  const { longRun, shortRuns } = await runLongAndShort(malocher, cluster, spinStamped);
  assert.ok([...shortRuns.values()].some((run) => run.startedAt < longRun.endedAt), "short jobs ran beside the computation");
});
