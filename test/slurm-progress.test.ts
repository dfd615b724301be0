/**
 * What a Slurm run tells of its allocations: the warning for a job that they keep cutting short
 * (AllocationEndWatch: it starts again as the same attempt in each new allocation, without end),
 * and an allocation's progress line. A real allocation takes a minute at least, so three of them
 * are too long for the suite: the time-limit requeue itself is tested on a real Slurm cluster in
 * slurm.test.ts.
 */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { AllocationEndWatch } from "../packages/supervisor/src/cluster/slurm/allocation-end-watch.js";
import { allocationLine } from "../packages/supervisor/src/cli/progress-frame.js";
import { parseSlurmTime } from "../packages/supervisor/src/cluster/slurm/slurm-options.js";
import { agentOutputOf } from "../packages/supervisor/src/cluster/slurm/allocation-output.js";

test("a job that starts the same attempt 3 times is warned about once, naming the time and what to change", () => {
  const warnings: string[] = [];
  const watch = new AllocationEndWatch("5:00", (warning) => warnings.push(warning));
  for (let start = 0; start < 5; start++) watch.started("0mhx3k2a1-3f9c2b7d41e0", 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^job 0mhx3k2a1-3f9c2b7d41e0 started 3 times, and each time its Slurm allocation ended first \(time 5:00\)/);
  assert.match(warnings[0]!, /Ask for a longer time \(slurm\.time, --slurm-time\), or give it a timeoutMs that fits in one allocation \(--timeout\)/);
});

test("a new attempt (a retry after a failure) or a finish starts the count again; after 5 jobs the warnings stop", () => {
  const warnings: string[] = [];
  const watch = new AllocationEndWatch("1:00:00", (warning) => warnings.push(warning));
  watch.started("a", 1);
  watch.started("a", 1);
  watch.started("a", 2);
  watch.started("a", 2);
  watch.finished("a");
  watch.started("a", 2);
  assert.deepEqual(warnings, [], "never 3 starts of one attempt in a row");
  for (const job of ["b", "c", "d", "e", "f", "g"]) for (let start = 0; start < 3; start++) watch.started(job, 1);
  assert.equal(warnings.length, 5);
  assert.match(warnings[4]!, /No more warnings of this kind in this run\.\)$/);
});

test("an allocation's line shows the time left only while it runs (an ended one, cancelled early, has none)", () => {
  const now = 1_000_000;
  const endsAt = now + 5 * 60_000;
  assert.equal(allocationLine({ id: "26", state: "running", nodes: 1, endsAt }, now), "slurm job 26: running, 5 min left, 1 node");
  assert.equal(allocationLine({ id: "13", state: "ended", nodes: 2, endsAt }, now), "slurm job 13: ended, 2 nodes");
  assert.equal(allocationLine({ id: "14", state: "pending", nodes: 2, reason: "Resources" }, now), "slurm job 14: pending (Resources), 2 nodes");
});

test("Slurm's time formats are read in whole minutes, rounded up, as Slurm keeps a time limit", () => {
  assert.equal(parseSlurmTime("0:10"), 60_000, "Slurm gives 0:10 a minute: taken for 10 s, its warning came before the start");
  assert.equal(parseSlurmTime("1:30"), 120_000);
  assert.equal(parseSlurmTime("5"), 300_000);
  assert.equal(parseSlurmTime("02:00:00"), 7_200_000);
  assert.equal(parseSlurmTime("1-00:00:01"), 86_460_000);
  assert.equal(parseSlurmTime("0"), undefined);
});

test("a node's error keeps its own agent's lines of the output all the allocation's agents share, and those of no agent", () => {
  const output = [
    "malocher agent slurm-ab12-1-0: starting: 2 slots",
    "malocher agent slurm-ab12-1-1: starting: 2 slots",
    "malocher agent slurm-ab12-1-1: draining (received SIGTERM)",
    "srun: error: n2: task 1: Terminated",
    "malocher agent: cannot read the launch file",
    "malocher agent slurm-ab12-1-0: stopped",
  ].join("\n");
  assert.equal(
    agentOutputOf(output, "slurm-ab12-1-0"),
    ["malocher agent slurm-ab12-1-0: starting: 2 slots", "srun: error: n2: task 1: Terminated", "malocher agent: cannot read the launch file", "malocher agent slurm-ab12-1-0: stopped"].join("\n"),
    "an agent's line that names no agent (it did not know its id yet) could be anyone's: kept",
  );
  const long = Array.from({ length: 400 }, (_, i) => `malocher agent slurm-ab12-1-0: line ${i}`).join("\n");
  const shown = agentOutputOf(long, "slurm-ab12-1-0");
  assert.ok(shown.length <= 2000 && shown.startsWith("malocher agent slurm-ab12-1-0: line ") && shown.endsWith("line 399"), "the last lines, whole");
});
