// Agents started through Slurm, on a real Slurm cluster of two nodes on this machine
// (test/harness/slurm-cluster.ts): jobs spread over both nodes, time limits that requeue without
// counting an attempt, an allocation cancelled from outside, nothing left behind, and the errors.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MalocherError, type ProcessAllOptions, type RunEvent } from "malocher";
import { loggedNap, nap } from "./fixtures/slurm/jobs.js";
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
    const results = await collect(malocher.processAll({ slurm: slurmOptions("2:00"), slots: 2, onEvent: (event) => events.push(event) }));
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
});
