import { strict as assert } from "node:assert";
import { test } from "node:test";
import { runChaos, type ChaosReport } from "./chaos/run-chaos.js";

function assertNothingLost(report: ChaosReport): void {
  assert.equal(report.resultsPublished, report.jobs, "every job has a result");
  assert.equal(report.lost, 0, "no job lost");
  assert.equal(report.duplicateResults, 0, "no result published twice");
  assert.equal(report.failedResults, 0, "no job failed (retries cover every injected fault)");
  assert.equal(report.wrongValues, 0, "every result holds its own job's value");
  assert.equal(report.orphanedProcesses, 0, "no agent or worker process left over");
}

test("chaos: killed workers, agents, sshd sessions and supervisors, stopped agents: nothing lost, nothing doubled", { timeout: 240_000 }, async (t) => {
  const report = await runChaos({ jobs: 150, faults: 10 });
  t.diagnostic(JSON.stringify(report));
  assertNothingLost(report);
});

test("chaos over sshfs: every node sees the directory through its own network mount", { timeout: 240_000 }, async (t) => {
  const report = await runChaos({ jobs: 150, faults: 10, sshfs: true });
  t.diagnostic(JSON.stringify(report));
  assertNothingLost(report);
});
