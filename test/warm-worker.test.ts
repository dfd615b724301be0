// A warm worker's line-up: a job the agent lines up behind the worker's running job starts when
// that one ends, also when it reaches the worker after that one ended (short jobs end before the
// next is sent). That job ran then, and was not handed back to the queue.
import { strict as assert } from "node:assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { WarmWorker, type WorkerRunEnd } from "../packages/agent/dist/worker/warm-worker.js";
import { echo, markThenEcho } from "./fixtures/jobs/jobs.js";
import { freshMalocher } from "./support/temp.js";

/** Spins, blocking this process's event loop (so no reply of the worker is handled), until `done()` or `ms` passed. */
function spinUntil(done: () => boolean, ms: number): void {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until);
}

test("a job lined up behind one that ended before it reached the worker runs, and is not given back", { timeout: 60_000 }, async (t) => {
  const malocher = freshMalocher(t, "warm-worker");
  const dir = malocher.dir;
  const marker = join(dir, "first-ended");
  const [warmUp, first, second] = [malocher.submit(echo, 0), malocher.submit(markThenEcho, marker, 1), malocher.submit(echo, 2)];
  const worker = new WarmWorker(() => {}, () => {}, 512, 60_000);
  t.after(() => worker.kill());
  await worker.whenReady();
  const run = (jobId: string) => {
    const request = { type: "run" as const, jobId, specFile: directoryLayout.specFile(dir, jobId), dir, run: { env: {} } };
    const logs = { stdout: directoryLayout.stdoutFile(dir, jobId), stderr: directoryLayout.stderrFile(dir, jobId), maxBytes: 1 << 20, rerunNote: () => "" };
    return worker.run(request, logs, { started: () => {}, done: () => {} });
  };
  const ranOk = (end: WorkerRunEnd) => end.kind === "outcome" && end.outcome.ok;
  assert.ok(ranOk(await run(warmUp)), "the warm-up job ran"); // the job module is imported now

  const firstEnd = run(first);
  // The first job ends while this process cannot hear it: its reply waits, the job is still the
  // running one here, and the second is lined up behind it, reaching an idle worker.
  spinUntil(() => existsSync(marker), 20_000);
  assert.ok(existsSync(marker), "the first job ran");
  spinUntil(() => false, 300); // its reply is sent
  assert.ok(worker.busy, "no reply was handled yet");
  const secondEnd = run(second);
  const [a, b] = await Promise.all([firstEnd, secondEnd]);
  assert.ok(ranOk(a), "the first job ran");
  assert.ok(ranOk(b), `the lined-up job ran (it ended ${b.kind})`);
  assert.equal(worker.busy, false, "the worker is idle after both");
});
