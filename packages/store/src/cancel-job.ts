import { directoryLayout } from "@malocher/protocol";
import { writeFileOnce } from "./write-file-atomic.js";
import { failQueuedJob } from "./fail-queued-job.js";
import { jobExists } from "./job-exists.js";
import { pathExists } from "./path-exists.js";

/** What `cancelJob` did: the job had finished already, was cancelled before it ran, or is being killed. */
export type CancelOutcome = "finished" | "cancelled" | "requested" | "unknown";

/**
 * Cancels a job: writes its cancel marker (agents check it before they start a claimed job and
 * while it runs), then takes its queue marker away if it is still queued and publishes the
 * `JOB_CANCELLED` result itself. A running job is killed by its agent, which publishes the result.
 */
export async function cancelJob(dir: string, jobId: string): Promise<CancelOutcome> {
  if (await pathExists(directoryLayout.resultFile(dir, jobId))) return "finished";
  if (!(await jobExists(dir, jobId))) return "unknown";
  await writeFileOnce(dir, directoryLayout.cancelFile(dir, jobId), new Uint8Array());
  const failed = await failQueuedJob(dir, jobId, {
    name: "MalocherError",
    code: "JOB_CANCELLED",
    message: "The job was cancelled before it ran.",
  });
  if (!failed) return "requested";
  return "cancelled";
}
