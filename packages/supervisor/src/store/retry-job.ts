import { closeSync, openSync } from "node:fs";
import { mkdir, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { directoryLayout } from "@malocher/protocol";
import { readResultOrFailure } from "./read-result.js";
import { pathExists } from "./path-exists.js";

/** What `retryJob` did: put the failed job back in the queue, or left it (not failed, or no such job). */
export type RetryOutcome = "requeued" | "notFailed" | "unknown";

/**
 * Gives a failed job a fresh run. Results are write-once, so the failed result is first set aside
 * by one atomic rename into `retried/` (where it stays, as the record of that failure, until
 * `clean`), a cancel request that came too late to matter is dropped, and the job's queue marker
 * is created, empty: the rerun is attempt 1 with the whole retry budget. Of two concurrent retries only one rename succeeds. A process that dies between
 * the two steps leaves a job that is nowhere (no result, claim or marker); any supervisor queues
 * such a job again after two lease timeouts, so the requeue still happens and the failure record
 * is not lost.
 */
export async function retryJob(dir: string, jobId: string): Promise<RetryOutcome> {
  const result = await readResultOrFailure(dir, jobId);
  if (result === undefined) return (await pathExists(directoryLayout.specFile(dir, jobId))) ? "notFailed" : "unknown";
  if (result.ok || result.error.code === "JOB_CANCELLED") return "notFailed";
  const setAside = directoryLayout.retriedResultFile(dir, jobId, Date.now());
  await mkdir(dirname(setAside), { recursive: true }); // directories made before `retried/` existed
  try {
    await rename(directoryLayout.resultFile(dir, jobId), setAside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "notFailed"; // another retry was first
    throw error;
  }
  await unlink(directoryLayout.cancelFile(dir, jobId)).catch(() => {});
  try {
    closeSync(openSync(directoryLayout.queuedFile(dir, jobId), "wx"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return "requeued";
}
