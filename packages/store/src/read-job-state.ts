import { JOB_STATES, directoryLayout, type JobState } from "@malocher/protocol";
import { listClaims } from "./job-listing.js";
import { readResultForState } from "./read-result.js";
import { pathExists } from "./path-exists.js";

/** What the directory holds about one job. */
export interface JobFacts {
  result: { ok: true } | { ok: false; error: { code?: string } } | undefined;
  cancelRequested: boolean;
  claimed: boolean;
  /** Its marker waits in `retrying/` for a retry's backoff. */
  retrying: boolean;
  queued: boolean;
  /** Its directory in `waiting/` waits for the jobs it depends on. */
  waiting: boolean;
}

/**
 * The one rule for a job's state, with a fixed precedence: a result (succeeded, failed, or
 * cancelled when it says `JOB_CANCELLED`) beats a cancel request, which beats a claim (running),
 * which beats a retry's marker (retrying), which beats a queue marker (queued), which beats a
 * waiting directory (waiting: for the jobs it depends on). So a crash
 * between two steps never makes a finished job look unfinished. Undefined: a spec whose queue
 * marker was never written.
 */
export function decideJobState(facts: JobFacts): JobState | undefined {
  if (facts.result !== undefined) return finishedState(facts.result);
  if (facts.cancelRequested) return "cancelled";
  if (facts.claimed) return "running";
  if (facts.retrying) return "retrying";
  if (facts.queued) return "queued";
  if (facts.waiting) return "waiting";
  return undefined;
}

/** The state a result gives its job. */
export function finishedState(result: { ok: true } | { ok: false; error: { code?: string } }): "succeeded" | "failed" | "cancelled" {
  if (result.ok) return "succeeded";
  return result.error.code === "JOB_CANCELLED" ? "cancelled" : "failed";
}

/** What an agent does with a job it just claimed: see {@link decideStartGate}. */
export type StartGate = "drop" | "cancel" | "run";

/**
 * The same precedence, read by an agent at its claim: a job with a result is dropped (it
 * finished), one with a cancel request ends cancelled without running, any other runs.
 */
export function decideStartGate(facts: { hasResult: boolean; isCancelled: boolean }): StartGate {
  if (facts.hasResult) return "drop";
  return facts.isCancelled ? "cancel" : "run";
}

/** Zero jobs in every state. */
export function emptyStateCounts(): Record<JobState, number> {
  return Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
}

/** Reads one job's state from the shared directory (see {@link decideJobState}); a result that cannot be read counts as failed. */
export async function readJobState(dir: string, jobId: string): Promise<JobState | undefined> {
  const [result, claims, queued, retrying, cancelRequested, waiting] = await Promise.all([
    readResultForState(dir, jobId),
    listClaims(dir),
    pathExists(directoryLayout.queuedFile(dir, jobId)),
    pathExists(directoryLayout.retryingFile(dir, jobId)),
    pathExists(directoryLayout.cancelFile(dir, jobId)),
    pathExists(directoryLayout.waitingJobDir(dir, jobId)),
  ]);
  const claimed = [...claims.values()].some((ids) => ids.includes(jobId));
  return decideJobState({ result, cancelRequested, claimed, retrying, queued, waiting });
}
