// How long stopping an agent may take follows from its jobs' kill grace, in one place
// (packages/protocol/src/stop-deadline.ts): a job that traps SIGTERM gets all of its grace, however
// long, before its agent exits regardless or its supervisor gives up on the agent. Shown here on
// the computation and on the supervisor's wait, not on a real run: a grace long enough to outlast
// the old fixed caps (10 s in the supervisor, 15 s in the agent) makes any such run last longer
// than they did. kill-grace.test.ts shows the grace itself on real jobs.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { agentStopDeadlineMs, decodeAgentMessage, encodeMessage, supervisorStopWaitMs, type HeartbeatMessage } from "@malocher/protocol";
import { within } from "../packages/supervisor/src/cluster/agent-process.js";

/** After the grace: SIGKILL, and up to 5 s for the process group to be gone (terminate-process-group.ts). */
const AFTER_KILL_MS = 5000;

test("the stop deadlines grow with the kill grace: the agent outlasts its jobs' grace, the supervisor outlasts the agent", () => {
  assert.equal(agentStopDeadlineMs(5000), 15_000, "the default grace (5 s) keeps the agent's deadline of 15 s");
  for (const graceMs of [0, 5000, 30_000, 600_000]) {
    const agentMs = agentStopDeadlineMs(graceMs);
    const supervisorMs = supervisorStopWaitMs(graceMs);
    assert.ok(agentMs > graceMs + AFTER_KILL_MS, `grace ${graceMs} ms: the agent's deadline ${agentMs} ms leaves the SIGKILL and the claims time`);
    assert.ok(supervisorMs > agentMs, `grace ${graceMs} ms: the supervisor (${supervisorMs} ms) waits past the agent's own deadline (${agentMs} ms)`);
  }
  // A trapping job with a 30 s grace is no longer cut at 10 or 15 s.
  assert.ok(agentStopDeadlineMs(30_000) > 30_000 + AFTER_KILL_MS && supervisorStopWaitMs(30_000) > agentStopDeadlineMs(30_000));
});

test("a heartbeat carries a running job's kill grace when it is longer than the run's", () => {
  const heartbeat: HeartbeatMessage = { type: "heartbeat", running: 1, load: 0.5, longestKillGraceMs: 30_000 };
  assert.deepEqual(decodeAgentMessage(encodeMessage(heartbeat)), heartbeat);
  const plain: HeartbeatMessage = { type: "heartbeat", running: 1, load: 0.5 };
  assert.deepEqual(decodeAgentMessage(encodeMessage(plain)), plain, "an agent that runs no such job leaves it out");
});

test("the supervisor's wait for a stopping agent grows when the agent tells of a longer grace meanwhile", async () => {
  const never = new Promise<never>(() => {});
  let limitMs = 50;
  // A heartbeat telling of a job's longer grace, before the first limit is up.
  setTimeout(() => (limitMs = 300), 20);
  const started = performance.now();
  assert.equal(await within(never, () => limitMs), undefined, "it gives up in the end");
  const waitedMs = performance.now() - started;
  assert.ok(waitedMs >= 295, `it waited ${waitedMs.toFixed(0)} ms: past the first limit, to the grown one`);
  assert.equal(await within(Promise.resolve("exited"), () => 60_000), "exited", "an agent that ends first ends the wait");
});
