import { directoryLayout, type JobState } from "@malocher/protocol";
import { listClaims } from "./job-listing.js";
import { readStoredResult } from "./read-result.js";
import { pathExists } from "./path-exists.js";

/** What the directory holds about one job. */
export interface JobFacts {
  result: { ok: true } | { ok: false; error: { code?: string } } | undefined;
  cancelRequested: boolean;
  claimed: boolean;
  queued: boolean;
}

/**
 * The one rule for a job's state, with a fixed precedence: a result (succeeded, failed, or
 * cancelled when it says `JOB_CANCELLED`) beats a cancel request, which beats a claim (running),
 * which beats a queue marker (queued). So a crash between two steps never makes a finished job
 * look unfinished. Undefined: a spec whose queue marker was never written.
 */
export function decideJobState(facts: JobFacts): JobState | undefined {
  if (facts.result !== undefined) {
    if (facts.result.ok) return "succeeded";
    return facts.result.error.code === "JOB_CANCELLED" ? "cancelled" : "failed";
  }
  if (facts.cancelRequested) return "cancelled";
  if (facts.claimed) return "running";
  if (facts.queued) return "queued";
  return undefined;
}

/** Reads one job's state from the shared directory (see {@link decideJobState}). */
export async function readJobState(dir: string, jobId: string): Promise<JobState | undefined> {
  const [result, claims, queued, cancelRequested] = await Promise.all([
    readStoredResult(dir, jobId),
    listClaims(dir),
    pathExists(directoryLayout.queuedFile(dir, jobId)),
    pathExists(directoryLayout.cancelFile(dir, jobId)),
  ]);
  const claimed = [...claims.values()].some((ids) => ids.includes(jobId));
  return decideJobState({ result, cancelRequested, claimed, queued });
}
