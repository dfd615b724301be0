// The agent's queue scanner: jobs a nudge names are handed out first, without reading the queue,
// and only if this agent takes them; the cached scan follows.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { newJobId } from "@malocher/protocol";
import { QueueScanner, enqueueJob, prepareSharedDirectory } from "@malocher/store";
import { removeDir, tempDir } from "./support/temp.js";

test("jobs a nudge names come first, without a scan, and only those this agent takes", async (t) => {
  const dir = tempDir("queue-scanner");
  t.after(() => removeDir(dir));
  prepareSharedDirectory(dir, { create: true });
  const queued = [newJobId(), newJobId()];
  for (const jobId of queued) enqueueJob(dir, jobId);
  const scanner = new QueueScanner(dir);
  const [named, excluded, deferred] = [newJobId(), newJobId(), newJobId()];
  scanner.exclude(excluded);
  scanner.defer(deferred, 60_000);
  scanner.putFirst([named, excluded, deferred]);
  // Not in the queue directory: only the nudge told of it (its claim finds out whether it is queued).
  assert.deepEqual(await scanner.take(1), [named]);
  assert.deepEqual((await scanner.take(5)).sort(), [...queued].sort(), "then a scan of the queue");

  // With a scan cached: the named job goes first, and is not handed out again from the scan.
  const [taken] = await scanner.take(1);
  const left = queued.find((jobId) => jobId !== taken)!;
  scanner.putFirst([left]);
  assert.deepEqual(await scanner.take(5), [left]);
});
