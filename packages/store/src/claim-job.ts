import { readFile, rename, stat } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";

/** A job this agent holds: its queue marker now lives in the agent's own running directory. */
export interface ClaimedJob {
  jobId: string;
  /** 1 for the first run; the queue marker carries the count across requeues. */
  attempt: number;
}

/**
 * Claims a queued job by one atomic rename into a directory only this agent renames into.
 * Returns undefined when another agent was first (the marker is gone), or when the claim was
 * taken away right after (a supervisor that declared this agent lost put it back in the queue).
 */
export async function claimJob(dir: string, agentId: string, jobId: string): Promise<ClaimedJob | undefined> {
  const claimed = directoryLayout.runningFile(dir, agentId, jobId);
  try {
    await rename(directoryLayout.queuedFile(dir, jobId), claimed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  // An empty marker (a first attempt, most jobs) is known by its size: one call to the file
  // system instead of the four (open, fstat, read, close) of reading it, right before the job starts.
  try {
    const { size } = await stat(claimed);
    return { jobId, attempt: size === 0 ? 1 : parseAttempt(await readFile(claimed, "utf8")) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A queue marker holds the number of the attempt it queues; an empty marker is attempt 1. */
export function parseAttempt(marker: string): number {
  const attempt = Number.parseInt(marker, 10);
  return Number.isSafeInteger(attempt) && attempt > 0 ? attempt : 1;
}
