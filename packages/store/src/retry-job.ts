import { enqueueJob } from "./queue-marker.js";
import { unlink } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";
import { readResultOrFailure } from "./read-result.js";
import { jobExists } from "./job-exists.js";
import { rearmDependents, setAsideResult } from "./release-dependents.js";
import { DependencyStates, readJobDependencies } from "./dependency-state.js";
import { armWaitingJobSync, failWaitingJob } from "./wait-for-dependencies.js";

/** What `retryJob` did: put the failed job back in the queue, or left it (not failed, or no such job). */
export type RetryOutcome = "requeued" | "notFailed" | "unknown";

/**
 * Gives a failed job a fresh run, in steps. A cancel request that came too late to matter
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
export async function retryJob(dir: string, jobId: string): Promise<RetryOutcome> {
  const result = await readResultOrFailure(dir, jobId);
  if (result === undefined) return (await jobExists(dir, jobId)) ? "notFailed" : "unknown";
  if (result.ok || result.error.code === "JOB_CANCELLED") return "notFailed";
  await unlink(directoryLayout.cancelFile(dir, jobId)).catch(() => {});
  if (!(await setAsideResult(dir, jobId))) return "notFailed"; // another retry was first
  const states = new DependencyStates(dir);
  const after = (await readJobDependencies(dir, jobId)) ?? [];
  if (after.length === 0) {
    try {
      enqueueJob(dir, jobId);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  } else {
    const armed = armWaitingJobSync(dir, jobId, after, states);
    if (armed.state === "blocked") await failWaitingJob(dir, jobId, armed.depId, armed.error);
  }
  await rearmDependents(dir, jobId, states);
  return "requeued";
}
