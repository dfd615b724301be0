import { lstat, readdir, rmdir, unlink } from "node:fs/promises";
import { isOwnFile, readRegularText } from "./safe-file.js";
import { decodeJobSpec, directoryLayout, failure, isJobId, storedOutcome } from "@malocher/protocol";
import { loadDirectoryKey } from "./directory-key.js";
import { markLeaseLost, readLeaseHost } from "./agent-lease.js";
import { MARKER_MAX_BYTES, parseAttempt, requeueClaim } from "./queue-marker.js";
import { publishResult } from "./publish-result.js";
import { readJobSpecBytes } from "./read-job-spec-bytes.js";
import { pathExists } from "./path-exists.js";

/** What recovering a lost agent's jobs did. */
export interface Recovery {
  /** Jobs put back in the queue for another attempt. */
  requeued: string[];
  /** Jobs that used up their retries: their result is now a `NODE_LOST` failure. */
  failed: string[];
}

/**
 * Recovers the jobs a lost agent had claimed: each goes back to the queue as its next attempt,
 * or, when its retries are used up, gets a `NODE_LOST` failure result (without `countAttempt`, as
 * for an agent whose Slurm allocation reached its time limit, each goes back as the same attempt). A job that already has a
 * result is only unclaimed (a result beats every other state). Then the agent's lease is marked
 * lost, which tells the agent, should it come back, that it was given up on.
 */
export async function recoverAgentJobs(dir: string, agentId: string, defaultRetries: number, countAttempt = true): Promise<Recovery> {
  const recovery: Recovery = { requeued: [], failed: [] };
  const claimDir = directoryLayout.agentRunningDir(dir, agentId);
  const ids = (await readdir(claimDir).catch((): string[] => [])).filter(isJobId);
  const host = await readLeaseHost(dir, agentId);
  const foreignOwner = await otherAccountOf(claimDir);
  for (const jobId of ids) {
    try {
      await recoverJob(dir, agentId, jobId, host, defaultRetries, countAttempt, recovery);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Only a claim still in another account's directory, which we could not move out of it.
      const stuck = foreignOwner !== undefined && (code === "EACCES" || code === "EPERM") && (await pathExists(directoryLayout.runningFile(dir, agentId, jobId)));
      if (!stuck) throw error;
      if (await failStuckClaim(dir, agentId, jobId, host, `${code}; its owner: ${foreignOwner}`)) recovery.failed.push(jobId);
    }
  }
  await markLeaseLost(dir, agentId);
  await rmdir(claimDir).catch(() => {});
  return recovery;
}

/** Recovers one job of a lost agent (see {@link recoverAgentJobs}). */
async function recoverJob(dir: string, agentId: string, jobId: string, host: string, defaultRetries: number, countAttempt: boolean, recovery: Recovery): Promise<void> {
  const claim = directoryLayout.runningFile(dir, agentId, jobId);
  if (await pathExists(directoryLayout.resultFile(dir, jobId))) {
    await unlink(claim).catch(() => {});
    return;
  }
  const attempt = parseAttempt(await readRegularText(claim, { maxBytes: MARKER_MAX_BYTES }).catch(() => ""));
  if (!countAttempt) {
    if (await requeueClaim(dir, agentId, jobId)) recovery.requeued.push(jobId);
    return;
  }
  const retries = await jobRetries(dir, jobId, defaultRetries);
  if (attempt <= retries) {
    if (await requeueClaim(dir, agentId, jobId, attempt + 1)) recovery.requeued.push(jobId);
    return;
  }
  const lost = failure("NODE_LOST", `The node running this job (${host}) was lost ${attempt} time(s); retries (${retries}) are used up.`);
  await publishResult(dir, storedOutcome({ jobId, host, agentId, attempts: attempt, durationMs: 0 }, lost));
  await unlink(claim).catch(() => {});
  recovery.failed.push(jobId);
}

/**
 * A claim that cannot be taken back (`why`): its directory is another account's, which moved a
 * job's queue marker into it (`running/<name>/`). Unless the job is queued,
 * waits for a retry, is claimed elsewhere or has a result, it fails with `SHARED_FILE_UNSAFE`,
 * saying what to remove: a job none of ours holds would otherwise wait for good, and any run with it.
 * Whether it failed it.
 */
async function failStuckClaim(dir: string, agentId: string, jobId: string, host: string, why: string): Promise<boolean> {
  const claimDir = directoryLayout.agentRunningDir(dir, agentId);
  const elsewhere = [directoryLayout.queuedFile(dir, jobId), directoryLayout.retryingFile(dir, jobId), directoryLayout.resultFile(dir, jobId)];
  for (const other of await readdir(directoryLayout.runningDir(dir)).catch((): string[] => [])) {
    if (other !== agentId) elsewhere.push(directoryLayout.runningFile(dir, other, jobId));
  }
  for (const path of elsewhere) if (await pathExists(path)) return false;
  const stuck = failure(
    "SHARED_FILE_UNSAFE",
    `The job's queue marker was moved into ${claimDir}, another account's directory, which Malocher cannot change (${why}): no agent of yours holds it. The job did not run again. Remove that directory (its owner or root can), then \`malocher retry ${jobId}\`.`,
  );
  await publishResult(dir, storedOutcome({ jobId, host, agentId, attempts: 1, durationMs: 0 }, stuck));
  return true;
}

/** "uid N, mode M" of a claim directory that is not ours (another account made it), else undefined. */
async function otherAccountOf(claimDir: string): Promise<string | undefined> {
  const stats = await lstat(claimDir).catch(() => undefined);
  if (stats === undefined || isOwnFile(stats)) return undefined;
  return `uid ${stats.uid}, mode ${(stats.mode & 0o7777).toString(8)}`;
}

async function jobRetries(dir: string, jobId: string, defaultRetries: number): Promise<number> {
  try {
    const key = loadDirectoryKey(dir, { create: false });
    return decodeJobSpec(await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId), jobId, key).options.retries ?? defaultRetries;
  } catch {
    return defaultRetries;
  }
}
