import { cancelled, directoryLayout } from "@malocher/protocol";
import { readResultOrFailure } from "./read-result.js";
import { writeFileOnce } from "./write-file-atomic.js";
import { failQueuedJob } from "./fail-queued-job.js";
import { jobExists } from "./job-exists.js";
import { pathExists } from "./path-exists.js";

/** What `cancelJobs` did to a job: the job had finished already, was cancelled before it ran, or is being killed. */
export type CancelOutcome = "finished" | "cancelled" | "requested" | "unknown";

/**
 * Cancels jobs, in two steps: first each one's cancel marker (agents check it before they start a
 * claimed job and while it runs), then, for each still queued (or waiting, or retrying), takes it
 * out of the queue and publishes the `JOB_CANCELLED` result itself. A running job is killed by its
 * agent, which publishes the result. Every marker comes first so that a job waiting for another
 * of them ends cancelled, as asked, rather than `DEPENDENCY_FAILED` when that one is cancelled
 * before it (see `failWaitingJob`).
 */
export async function cancelJobs(dir: string, jobIds: readonly string[]): Promise<Record<string, CancelOutcome>> {
  const outcomes: Record<string, CancelOutcome> = {};
  const marked: string[] = [];
  for (const jobId of jobIds) {
    if (await pathExists(directoryLayout.resultFile(dir, jobId))) outcomes[jobId] = "finished";
    else if (!(await jobExists(dir, jobId))) outcomes[jobId] = "unknown";
    else {
      await writeFileOnce(dir, directoryLayout.cancelFile(dir, jobId), new Uint8Array());
      marked.push(jobId);
    }
  }
  for (const jobId of marked) {
    if (await failQueuedJob(dir, jobId, cancelled("before it ran").error)) outcomes[jobId] = "cancelled";
    // Cancelled meanwhile, before it ran: as the dependent of another job of the list, or by the
    // agent that had claimed it. Otherwise it runs, and its agent kills it.
    else outcomes[jobId] = (await cancelledBeforeItRan(dir, jobId)) ? "cancelled" : "requested";
  }
  return outcomes;
}

/** Whether the job's result says it was cancelled before it ran. */
async function cancelledBeforeItRan(dir: string, jobId: string): Promise<boolean> {
  const result = await readResultOrFailure(dir, jobId).catch(() => undefined);
  return result !== undefined && !result.ok && result.error.code === "JOB_CANCELLED" && result.error.message === cancelled("before it ran").error.message;
}
