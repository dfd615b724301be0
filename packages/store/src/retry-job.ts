import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readSpec } from "./list-jobs.js";
import { loadDirectoryKey } from "./directory-key.js";
import { enqueueJob } from "./queue-marker.js";
import { mkdir, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { decodeStoredResult, directoryLayout } from "@malocher/protocol";
import { readResultOrFailure } from "./read-result.js";
import { jobExists } from "./job-exists.js";

/**
 * What `retryJob` did: put the failed job back in the queue, or left it (not failed, no such job,
 * or `moduleMissing`: its function's module is no longer at the path it was submitted from, so a
 * rerun could only fail to import it again).
 */
export type RetryOutcome = "requeued" | "notFailed" | "unknown" | "moduleMissing";

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
  if (await moduleMissing(dir, jobId)) return "moduleMissing";
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

/** What `rerunKeyedJob` found a job a key names in: it runs again (it had failed), or it is reused as it is. */
export type KeyedJobOutcome = "rerun" | "finished" | "unfinished";

/**
 * For `submit.with({ key })` finding the job of its key, synchronously (`submit` is): a job whose
 * result is a failure (not a cancel) gets a fresh run exactly as {@link retryJob} gives it, the
 * failure set aside into `retried/` and the job queued again, so running a fixed script again
 * reruns what failed. A job that succeeded or was cancelled is `finished` and stays; one without a
 * result (queued, running) is `unfinished`. A result that cannot be read is left alone (`finished`).
 */
export function rerunKeyedJob(dir: string, jobId: string, secretKey: Uint8Array): KeyedJobOutcome {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(directoryLayout.resultFile(dir, jobId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "unfinished";
    throw error;
  }
  let failedByItself: boolean;
  try {
    const stored = decodeStoredResult(bytes, jobId, secretKey);
    failedByItself = !stored.ok && stored.error.code !== "JOB_CANCELLED";
  } catch {
    return "finished";
  }
  if (!failedByItself) return "finished";
  try {
    unlinkSync(directoryLayout.cancelFile(dir, jobId));
  } catch {}
  const setAside = directoryLayout.retriedResultFile(dir, jobId, Date.now());
  mkdirSync(dirname(setAside), { recursive: true });
  try {
    renameSync(directoryLayout.resultFile(dir, jobId), setAside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "unfinished"; // another submitter or a retry was first: it runs again
    throw error;
  }
  try {
    enqueueJob(dir, jobId);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return "rerun";
}

/** Whether the job is a function job whose module file is gone from the path it was submitted with. */
async function moduleMissing(dir: string, jobId: string): Promise<boolean> {
  const spec = await readSpec(dir, jobId, loadDirectoryKey(dir, { create: false }));
  if (spec === undefined || spec.kind === "command" || !spec.fn.module.startsWith("file:")) return false;
  return !existsSync(fileURLToPath(spec.fn.module));
}
