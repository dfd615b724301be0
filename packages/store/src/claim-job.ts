import { lstatSync, renameSync, statSync, type Stats } from "node:fs";
import { readdir, rmdir } from "node:fs/promises";
import { MalocherError, directoryLayout, isJobId } from "@malocher/protocol";
import { MARKER_MAX_BYTES, parseAttempt } from "./queue-marker.js";
import { isOwnFile, makePrivateDir, readRegularFileSync } from "./safe-file.js";

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
 * Throws `SHARED_FILE_UNSAFE` when what is queued under the job's name cannot be moved and is
 * another account's or a directory (planted there): the caller passes over that name. Synchronous, as the
 * agent's other calls on a job's way (see docs/ARCHITECTURE.md, "The run path"): a call through
 * libuv's thread pool costs about ten times the CPU of the call itself.
 */
export function claimJob(dir: string, agentId: string, jobId: string): ClaimedJob | undefined {
  const claimed = directoryLayout.runningFile(dir, agentId, jobId);
  const queued = directoryLayout.queuedFile(dir, jobId);
  try {
    renameSync(queued, claimed);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    throw plantedInQueue(queued, code) ?? error;
  }
  // An empty marker (a first attempt, most jobs) is known by its size: one call to the file
  // system instead of the four (open, fstat, read, close) of reading it, right before the job starts.
  try {
    const { size } = statSync(claimed);
    return { jobId, attempt: size === 0 ? 1 : parseAttempt(readRegularFileSync(claimed, { maxBytes: MARKER_MAX_BYTES }).toString("utf8")) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    // A marker that is no marker (planted: a FIFO, a huge file) says nothing about attempts.
    if ((error as { code?: string }).code === "SHARED_FILE_UNSAFE") return { jobId, attempt: 1 };
    throw error;
  }
}

/**
 * The error for a queued entry the claim's rename could not move (`code`) when that entry is
 * another account's or a directory, which no queue marker is; undefined for any other failure
 * (an expired NFS credential, our own running directory), which the caller reports as it is.
 */
function plantedInQueue(path: string, code: string | undefined): MalocherError | undefined {
  if (code !== "EACCES" && code !== "EPERM" && code !== "EISDIR" && code !== "ENOTDIR") return undefined;
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch {
    return undefined;
  }
  if (!stats.isDirectory() && isOwnFile(stats)) return undefined;
  const what = `${stats.isDirectory() ? "a directory" : "a file"} of uid ${stats.uid} (mode ${(stats.mode & 0o7777).toString(8)})`;
  return new MalocherError("SHARED_FILE_UNSAFE", `${path} is ${what}, which no queue marker is, and cannot be claimed (${code}): was it planted by another account? This agent passes it over.`);
}

/** Makes the directory an agent claims into (`running/<agentId>`), before its first claim. */
export async function openClaimDirectory(dir: string, agentId: string): Promise<void> {
  await makePrivateDir(directoryLayout.agentRunningDir(dir, agentId));
}

/** Removes an agent's claim directory when it stops (it stays while it holds a claim). */
export async function closeClaimDirectory(dir: string, agentId: string): Promise<void> {
  await rmdir(directoryLayout.agentRunningDir(dir, agentId)).catch(() => {});
}

/** The jobs `agentId` holds a claim on now (a supervisor may have taken some away). */
export async function listOwnClaims(dir: string, agentId: string): Promise<Set<string>> {
  return new Set((await readdir(directoryLayout.agentRunningDir(dir, agentId)).catch((): string[] => [])).filter(isJobId));
}
