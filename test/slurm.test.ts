// Agents started through Slurm, on a real Slurm cluster of two nodes on this machine
// (test/harness/slurm-cluster.ts): jobs spread over both nodes, time limits that requeue without
// counting an attempt, an allocation cancelled from outside, nothing left behind, and the errors.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MalocherError, type ProcessAllOptions, type RunEvent } from "malocher";
import { longFirstTime, nap } from "./fixtures/slurm/jobs.js";
import { census, waitForNoLeftovers } from "./support/census.js";
import { collect } from "./support/results.js";
import { freshMalocher } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";
import { slurmInstalled, startSlurmCluster, type SlurmCluster } from "./harness/slurm-cluster.js";

const TAG = `MALOCHER_TEST_TAG=slurm-${randomBytes(4).toString("hex")}`;
process.env["MALOCHER_TEST_TAG"] = TAG.slice("MALOCHER_TEST_TAG=".length);

let slurm: SlurmCluster;
before(async () => {
  slurm = await startSlurmCluster(2);
  process.env["SLURM_CONF"] = slurm.conf; // for sbatch, squeue and scancel, and inherited by the agents
});
after(async () => {
  await slurm?.close();
});

/** Slurm options for the test cluster: the agents dial the supervisor on loopback. */
function slurmOptions(time: string, extra: Partial<NonNullable<ProcessAllOptions["slurm"]>> = {}): ProcessAllOptions["slurm"] {
  return { nodes: 2, time, supervisorHost: "127.0.0.1", ...extra };
}

/** The `[label, Slurm job id]` of every start the jobs of `longFirstTime` logged. */
function startsIn(log: string): string[][] {
  try {
    return readFileSync(log, "utf8").trim().split("\n").filter((line) => line !== "").map((line) => line.split(" "));
  } catch {
    return [];
  }
}

/** Waits until squeue lists none of the cluster's jobs. */
async function noAllocationLeft(ms = 15_000): Promise<void> {
  await waitUntil(async () => (await slurm.jobIds()).length === 0, ms, "squeue to list no allocation");
}

describe("Slurm", { skip: !slurmInstalled() && "needs slurm-wlm and munge" }, () => {
  test("one allocation of 2 nodes, one agent each: jobs spread over both, results name the Slurm node, nothing left", { timeout: 90_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const baseline = census([TAG], "never-matches-a-slurm-test");
    const ids = Array.from({ length: 8 }, () => malocher.submit(nap, 400));
    const events: RunEvent[] = [];
    const results = await collect(malocher.processAll({ slurm: slurmOptions("2:00"), slots: 2, onEvent: (event) => events.push(event), signal: t.signal }));
    assert.equal(results.size, ids.length);
    for (const result of results.values()) assert.ok(result.ok, JSON.stringify(result));
    const hosts = new Set([...results.values()].map((result) => result.host));
    assert.deepEqual([...hosts].sort(), ["n1", "n2"], "every job ran on a Slurm node, on both");
    for (const result of results.values()) {
      const value = (result.ok ? result.value : {}) as { node?: string };
      assert.equal(value.node, result.host, "the result's host is the node the job ran on (SLURMD_NODENAME)");
      assert.equal(result.attempts, 1);
    }
    const allocations = new Set(events.flatMap((event) => (event.type === "allocation" ? [event.id] : [])));
    assert.equal(allocations.size, 1, "one allocation for all the jobs");
    assert.ok(events.some((event) => event.type === "allocation" && event.state === "running" && event.endsAt !== undefined), "its end time was reported");
    await noAllocationLeft();
    await waitForNoLeftovers([TAG], "never-matches-a-slurm-test", baseline, 15_000);
  });

  test("an allocation that reaches its time limit mid-job loses nothing and charges no attempt: a new allocation finishes the jobs", { timeout: 150_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const log = join(malocher.dir, "starts.log");
    // Each job's first attempt runs longer than the 1-minute allocation; the second is quick.
    const ids = ["a", "b"].map((label) => malocher.submit(longFirstTime, log, label, 120_000));
    const events: RunEvent[] = [];
    const results = await collect(malocher.processAll({ slurm: slurmOptions("1:00"), slots: 1, onEvent: (event) => events.push(event), signal: t.signal }));
    assert.equal(results.size, 2);
    const starts = startsIn(log);
    const allocations = [...new Set(events.flatMap((event) => (event.type === "allocation" ? [event.id] : [])))];
    assert.equal(allocations.length, 2, `a second allocation after the first reached its limit: ${JSON.stringify(starts)}`);
    for (const id of ids) {
      const result = results.get(id)!;
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.attempts, 1, "the time limit charged no attempt");
      assert.equal((result.value as { slurmJob: string }).slurmJob, allocations[1], "the second allocation ran it");
    }
    for (const label of ["a", "b"]) {
      assert.deepEqual(starts.filter(([l]) => l === label).map(([, job]) => job), allocations, `${label} started once in each allocation`);
    }
    await noAllocationLeft();
  });

  test("an allocation cancelled from outside (scancel): its jobs go back to the queue and a new allocation finishes them", { timeout: 90_000 }, async (t) => {
    const malocher = freshMalocher(t, "slurm");
    const log = join(malocher.dir, "starts.log");
    const ids = ["a", "b", "c"].map((label) => malocher.submit(longFirstTime, log, label, 120_000));
    const events: RunEvent[] = [];
    let cancelled: string | undefined;
    const onEvent = (event: RunEvent) => {
      events.push(event);
      // Once all three run their first attempt (2 nodes × 2 slots), the allocation is cancelled from outside.
      if (event.type === "jobStarted" && events.filter((e) => e.type === "jobStarted").length === 3 && cancelled === undefined) {
        cancelled = events.find((e): e is Extract<RunEvent, { type: "allocation" }> => e.type === "allocation")!.id;
        void waitUntil(() => startsIn(log).length === 3, 20_000, "the three jobs to start").then(() => slurm.run("scancel", [cancelled!]));
      }
    };
    const results = await collect(malocher.processAll({ slurm: slurmOptions("2:00"), slots: 2, onEvent, signal: t.signal }));
    assert.ok(cancelled !== undefined);
    assert.equal(results.size, 3);
    for (const id of ids) {
      const result = results.get(id)!;
      assert.ok(result.ok, JSON.stringify(result));
      assert.notEqual((result.value as { slurmJob: string }).slurmJob, cancelled, "a new allocation ran it");
      assert.equal(result.attempts, 1, "Slurm's kill of the allocation is not the job's failure");
    }
    await noAllocationLeft();
  });
});
