import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Malocher, type JobResult } from "malocher";
import { exhaustMemory, pidAfter, retainMemory, triple, workerPid } from "./fixtures/core/jobs.js";
import { collect } from "./support/results.js";
import { freshMalocher } from "./support/temp.js";

async function run(malocher: Malocher, options: Parameters<Malocher["processAll"]>[0]): Promise<Map<string, JobResult>> {
  const results = new Map<string, JobResult>();
  for await (const [jobId, result] of malocher.processAll(options)) results.set(jobId, result);
  return results;
}

test("a job that exhausts memory fails with JOB_OUT_OF_MEMORY; the node goes on", { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-oom-"));
  try {
    const malocher = new Malocher({ dir });
    const hog = malocher.submit(exhaustMemory);
    const after = [1, 2, 3].map((x) => malocher.submit(triple, x));
    const results = await run(malocher, { slots: 1, maxWorkerMemoryMb: 256 });
    const failed = results.get(hog);
    assert.ok(failed && !failed.ok);
    assert.equal(failed.error.code, "JOB_OUT_OF_MEMORY");
    assert.match(failed.error.message, /256 MB/);
    assert.equal(failed.attempts, 1, "not retried");
    for (const [index, jobId] of after.entries()) assert.equal(results.get(jobId)?.ok && (results.get(jobId) as { value: number }).value, 3 * (index + 1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a job that leaves its worker past maxWorkerMemoryMb ends; the worker is replaced, so the next job is not blamed", { timeout: 60_000 }, async (t) => {
  // Removed when the test file's process ends: a hook of its own ran before the cluster's close had
  // stopped the agent, which still wrote in the directory (ENOTEMPTY; see `freshMalocher`).
  const malocher = freshMalocher(t, "leak");
  const cluster = await malocher.startCluster({ slots: 1, maxWorkerMemoryMb: 256 });
  t.after(() => cluster.close());
  const leaky = malocher.submit(retainMemory, 300);
  const leaked = (await collect(cluster.processAll({ jobs: [leaky] }))).get(leaky);
  // It succeeds when it returns before the agent's once-a-second memory check sees its worker past
  // the limit (the worker then retires itself), and fails JOB_OUT_OF_MEMORY when the check catches
  // it still running (a loaded machine): either way its worker takes no further job.
  assert.ok(leaked !== undefined && (leaked.ok || leaked.error.code === "JOB_OUT_OF_MEMORY"), JSON.stringify(leaked));
  // Long enough for the agent's memory check (each second) to look at its worker.
  const next = malocher.submit(pidAfter, 2500);
  const after = (await collect(cluster.processAll({ jobs: [next] }))).get(next);
  assert.ok(after?.ok, `the next job: ${JSON.stringify(after)}`);
  if (leaked.ok) assert.notEqual(after.value, leaked.value, "it ran on a fresh worker");
});

test("a warm worker is replaced after maxJobsPerWorker jobs", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-recycle-"));
  try {
    const malocher = new Malocher({ dir });
    const ids = Array.from({ length: 9 }, () => malocher.submit(workerPid));
    const results = await run(malocher, { slots: 1, maxJobsPerWorker: 3 });
    const pids = ids.map((jobId) => {
      const result = results.get(jobId);
      assert.ok(result?.ok);
      return result.value as number;
    });
    // One slot: three workers in turn, three jobs each.
    const workers = [...new Set(pids)];
    assert.equal(workers.length, 3, `worker pids ${pids.join(",")}`);
    for (const pid of workers) assert.equal(pids.filter((p) => p === pid).length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
