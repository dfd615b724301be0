import { mkdir, readdir, readFile, rename, rmdir, stat } from "node:fs/promises";
import { directoryLayout, isJobId } from "@malocher/protocol";
import { parseAttempt } from "./queue-marker.js";

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

/** Makes the directory an agent claims into (`running/<agentId>`), before its first claim. */
export async function openClaimDirectory(dir: string, agentId: string): Promise<void> {
  await mkdir(directoryLayout.agentRunningDir(dir, agentId), { recursive: true });
}

/** Removes an agent's claim directory when it stops (it stays while it holds a claim). */
export async function closeClaimDirectory(dir: string, agentId: string): Promise<void> {
  await rmdir(directoryLayout.agentRunningDir(dir, agentId)).catch(() => {});
}

/** The jobs `agentId` holds a claim on now (a supervisor may have taken some away). */
export async function listOwnClaims(dir: string, agentId: string): Promise<Set<string>> {
  return new Set((await readdir(directoryLayout.agentRunningDir(dir, agentId)).catch((): string[] => [])).filter(isJobId));
}
