// A job waiting out a retry's backoff is in the state `retrying`, held by no agent: its marker
// waits in `retrying/` and any agent queues it again once its time has come.
import { strict as assert } from "node:assert";
import { mkdirSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { claimJob, deferRetry, listRetrying, readDirectoryStatus } from "@malocher/store";
import { Malocher, type RunEvent } from "malocher";
import { doubleKillingItselfOnce } from "./fixtures/faults/jobs.js";
import { triple } from "./fixtures/core/jobs.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { removeDir, tempDir } from "./support/temp.js";
import { within } from "./support/wait.js";

const TIMEOUT = { timeout: 120_000 };
const RUN_DEADLINE_MS = 90_000;
const sshd = useSshNodes(2);

test("a job in backoff shows as retrying, held by no agent, and another agent runs it when its time comes", TIMEOUT, async (t) => {
  const dir = tempDir("retrying");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(triple, 5);
  // An agent that is gone by now claimed it, and its attempt failed: it waits for a minute.
  const goneAgent = "gone-agent-1";
  mkdirSync(directoryLayout.agentRunningDir(dir, goneAgent), { recursive: true });
  assert.deepEqual(await claimJob(dir, goneAgent, jobId), { jobId, attempt: 1 });
  const notBefore = Date.now() + 60_000;
  assert.equal(await deferRetry(dir, goneAgent, jobId, 2, notBefore), true);
  assert.deepEqual(readdirSync(directoryLayout.agentRunningDir(dir, goneAgent)), [], "no agent holds the job");
  assert.equal(await malocher.state(jobId), "retrying");
  assert.deepEqual([...(await listRetrying(dir))], [[jobId, notBefore]]);
  assert.equal((await readDirectoryStatus(dir)).counts.retrying, 1);

  // Its time comes (the marker is rewritten as a retry due now): the agents of a run take it.
  const due = join(dir, "tmp", "due-now");
  writeFileSync(due, `2 ${Date.now() - 1}`);
  renameSync(due, directoryLayout.retryingFile(dir, jobId));
  const results = await within(collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), slots: 1 })), RUN_DEADLINE_MS, "the run");
  assert.equal(results.length, 1);
  const [[, result] = ["", undefined]] = results;
  assert.ok(result?.ok, JSON.stringify(result));
  assert.equal(result.value, 15);
  assert.equal(result.attempts, 2, "the attempt the retry's marker carried");
  assert.notEqual(result.agentId, goneAgent);
  assert.equal(await malocher.state(jobId), "succeeded");
});

test("a worker that dies makes its job wait in retrying (the jobRetrying event), and the retry succeeds", TIMEOUT, async (t) => {
  const dir = tempDir("retrying-crash");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const work = tempDir("retrying-work");
  t.after(() => removeDir(work));
  const once = join(work, "once");
  const starts = join(work, "starts");
  const jobId = malocher.submit(doubleKillingItselfOnce, 21, once, starts);
  const events: RunEvent[] = [];
  const run = collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), onEvent: (event) => events.push(event) }));
  const results = await within(run, RUN_DEADLINE_MS, "the run");
  assert.equal(results.length, 1);
  const [[, result] = ["", undefined]] = results;
  assert.ok(result?.ok, JSON.stringify(result));
  assert.equal(result.value, 42);
  assert.equal(result.attempts, 2);
  const retrying = events.filter((event) => event.type === "jobRetrying");
  assert.equal(retrying.length, 1, JSON.stringify(events));
  assert.equal(retrying[0]?.type === "jobRetrying" && retrying[0].jobId, jobId);
  assert.equal(retrying[0]?.type === "jobRetrying" && retrying[0].attempt, 2);
  assert.deepEqual(readdirSync(directoryLayout.retryingDir(dir)), [], "the retry's marker left retrying/");
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}
