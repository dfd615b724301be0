import { existsSync, unlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readSpec } from "./list-jobs.js";
import { loadDirectoryKey } from "./directory-key.js";
import { enqueueJob } from "./queue-marker.js";
import { unlink } from "node:fs/promises";
import { decodeStoredResult, directoryLayout } from "@malocher/protocol";
import { readKeyedJobSpec } from "./keyed-job-difference.js";
import { readRegularFile, readRegularFileSync } from "./safe-file.js";
import { readResultOrFailure } from "./read-result.js";
import { jobExists } from "./job-exists.js";
import { noteRetryInLogsSync } from "./log-note.js";
import { rearmDependents, setAsideResult, setAsideResultSync } from "./settle-dependents.js";
import { DependencyStates, readJobDependencies } from "./dependency-state.js";
import { armWaitingJobSync, failWaitingJob, failWaitingJobSync } from "./wait-for-dependencies.js";

/**
 * What `retryJob` did: put the failed (or cancelled) job back in the queue, or left it (not
 * failed, no such job; `moduleMissing`: its function's module is no longer at the path it was
 * submitted from, so a rerun could only fail to import it again; `dependencyFailed`: a job it
 * depends on failed or was cancelled and is not retried, so it would only fail again at once).
 */
export type RetryOutcome = "requeued" | "notFailed" | "unknown" | "moduleMissing" | "dependencyFailed";

/**
 * Gives a failed job a fresh run, in steps; a cancelled one too (named, it is meant to run after
 * all: `retryFailed` leaves cancelled jobs alone). A job whose dependency failed and is not
 * retried first is left as it is. A cancel request that came too late to matter
 * (the job failed by itself) is dropped first, while the result still decides the job's state.
 * Results are write-once, so the failed result is then set aside by one atomic rename into
 * `retried/`, where it stays as the record of that failure until `clean`; of two concurrent
 * retries only one rename succeeds. Then the job's queue marker is created, empty: the rerun is
 * attempt 1 with the whole retry budget (a job with dependencies waits for them again instead).
 * Last, the jobs that ended `DEPENDENCY_FAILED` because of this one wait for it again
 * (`rearmDependents`). A process that dies between the steps leaves jobs that are nowhere (no
 * result, claim or marker), which any running supervisor queues (or arms) again after two lease
 * timeouts: the requeue still happens and the failure record is kept.
 */
async function retryJob(dir: string, jobId: string): Promise<{ outcome: RetryOutcome; rearmed: string[] }> {
  const left = (outcome: RetryOutcome) => ({ outcome, rearmed: [] });
  // The failure's bytes, kept: another retry may set it aside and the job run again meanwhile (see setAsideResult).
  const bytes = await readRegularFile(directoryLayout.resultFile(dir, jobId)).catch(() => undefined);
  const result = await readResultOrFailure(dir, jobId, undefined, bytes);
  if (result === undefined) return left((await jobExists(dir, jobId)) ? "notFailed" : "unknown");
  if (result.ok) return left("notFailed");
  if (await moduleMissing(dir, jobId)) return left("moduleMissing");
  const states = new DependencyStates(dir);
  const after = (await readJobDependencies(dir, jobId)) ?? [];
  if (await states.anyFailed(after)) return left("dependencyFailed");
  await unlink(directoryLayout.cancelFile(dir, jobId)).catch(() => {});
  if (!(await setAsideResult(dir, jobId, bytes))) return left("notFailed"); // another retry was first
  noteRetryInLogsSync(dir, jobId);
  if (after.length === 0) {
    try {
      enqueueJob(dir, jobId);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  } else {
    const armed = armWaitingJobSync(dir, jobId, after, states);
    if (armed.state === "blocked") {
      // A dependency failed since it was looked at.
      await failWaitingJob(dir, jobId, armed.depId, armed.error);
      return left("dependencyFailed");
    }
  }
  return { outcome: "requeued", rearmed: await rearmDependents(dir, jobId, states) };
}

/**
 * {@link retryJob} for each of `jobIds`, in order. A job that ended `DEPENDENCY_FAILED` and that
 * the retry of another of them set waiting again is `requeued`, whichever came first (the ids of
 * `retry --failed` come in no particular order).
 */
export async function retryJobs(dir: string, jobIds: readonly string[]): Promise<Record<string, RetryOutcome>> {
  const outcomes: Record<string, RetryOutcome> = {};
  const rearmed = new Set<string>();
  for (const jobId of jobIds) {
    if (rearmed.has(jobId)) {
      outcomes[jobId] = "requeued";
      continue;
    }
    const retried = await retryJob(dir, jobId);
    outcomes[jobId] = retried.outcome;
    for (const dependent of retried.rearmed) rearmed.add(dependent);
  }
  for (const jobId of jobIds) if (outcomes[jobId] === "dependencyFailed" && rearmed.has(jobId)) outcomes[jobId] = "requeued";
  return outcomes;
}


/** What `rerunKeyedJob` found a job a key names in: it runs again (it had failed), or it is reused as it is. */
export type KeyedJobOutcome = "rerun" | "finished" | "unfinished";

/**
 * For `submit.with({ key })` finding the job of its key, synchronously (`submit` is): a job whose
 * result is a failure (not a cancel) gets a fresh run exactly as {@link retryJob} gives it, the
 * failure set aside into `retried/` and the job queued again (or, with dependencies, waiting for
 * them again: a `DEPENDENCY_FAILED` job of a pipeline script run again waits for its reruns), so running a fixed script again
 * reruns what failed. A job that succeeded or was cancelled is `finished` and stays; one without a
 * result (queued, running) is `unfinished`. A result that cannot be read is left alone (`finished`).
 */
export function rerunKeyedJob(dir: string, jobId: string, secretKey: Uint8Array): KeyedJobOutcome {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFileSync(directoryLayout.resultFile(dir, jobId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "unfinished";
    if ((error as NodeJS.ErrnoException).code === "SHARED_FILE_UNSAFE") return "finished"; // not a result: its agent sets it aside
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
  if (!setAsideResultSync(dir, jobId, secretKey, bytes)) return "unfinished"; // another submitter or a retry was first: it runs again
  noteRetryInLogsSync(dir, jobId);
  const after = readKeyedJobSpec(dir, jobId, secretKey)?.after ?? [];
  if (after.length > 0) {
    // It waits for its dependencies again (the script submits them again before it, with their keys).
    const armed = armWaitingJobSync(dir, jobId, after, new DependencyStates(dir));
    if (armed.state === "blocked") failWaitingJobSync(dir, jobId, armed.depId, armed.error, {}, after);
    return "rerun";
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

