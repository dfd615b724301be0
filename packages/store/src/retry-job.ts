import { enqueueJob } from "./queue-marker.js";
import { mkdir, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { directoryLayout } from "@malocher/protocol";
import { readResultOrFailure } from "./read-result.js";
import { jobExists } from "./job-exists.js";

/** What `retryJob` did: put the failed job back in the queue, or left it (not failed, or no such job). */
export type RetryOutcome = "requeued" | "notFailed" | "unknown";

/**
 * Gives a failed job a fresh run, in three steps. A cancel request that came too late to matter
 * (the job failed by itself) is dropped first, while the result still decides the job's state.
 * Results are write-once, so the failed result is then set aside by one atomic rename into
 * `retried/`, where it stays as the record of that failure until `clean`; of two concurrent
 * retries only one rename succeeds. Last, the job's queue marker is created, empty: the rerun is
 * attempt 1 with the whole retry budget. A process that dies between the last two steps leaves a
 * job that is nowhere (no result, claim or marker), which any running supervisor queues again
 * after two lease timeouts: the requeue still happens and the failure record is kept.
 */
export async function retryJob(dir: string, jobId: string): Promise<RetryOutcome> {
  const result = await readResultOrFailure(dir, jobId);
  if (result === undefined) return (await jobExists(dir, jobId)) ? "notFailed" : "unknown";
  if (result.ok || result.error.code === "JOB_CANCELLED") return "notFailed";
  await unlink(directoryLayout.cancelFile(dir, jobId)).catch(() => {});
  const setAside = directoryLayout.retriedResultFile(dir, jobId, Date.now());
  await mkdir(dirname(setAside), { recursive: true }); // directories made before `retried/` existed
  try {
    await rename(directoryLayout.resultFile(dir, jobId), setAside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "notFailed"; // another retry was first
    throw error;
  }
  try {
    enqueueJob(dir, jobId);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return "requeued";
}
