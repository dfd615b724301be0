import { readdir, readFile, rmdir, unlink } from "node:fs/promises";
import { decodeJobSpec, directoryLayout, failure, isJobId, storedOutcome } from "@malocher/protocol";
import { loadDirectoryKey } from "./directory-key.js";
import { markLeaseLost, readLeaseHost } from "./agent-lease.js";
import { parseAttempt, requeueClaim } from "./queue-marker.js";
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
  for (const jobId of ids) {
    const claim = directoryLayout.runningFile(dir, agentId, jobId);
    if (await pathExists(directoryLayout.resultFile(dir, jobId))) {
      await unlink(claim).catch(() => {});
      continue;
    }
    const attempt = parseAttempt(await readFile(claim, "utf8").catch(() => ""));
    if (!countAttempt) {
      if (await requeueClaim(dir, agentId, jobId)) recovery.requeued.push(jobId);
      continue;
    }
    const retries = await jobRetries(dir, jobId, defaultRetries);
    if (attempt <= retries) {
      if (await requeueClaim(dir, agentId, jobId, attempt + 1)) recovery.requeued.push(jobId);
      continue;
    }
    const lost = failure("NODE_LOST", `The node running this job (${host}) was lost ${attempt} time(s); retries (${retries}) are used up.`);
    await publishResult(dir, storedOutcome({ jobId, host, agentId, attempts: attempt, durationMs: 0 }, lost));
    await unlink(claim).catch(() => {});
    recovery.failed.push(jobId);
  }
  await markLeaseLost(dir, agentId);
  await rmdir(claimDir).catch(() => {});
  return recovery;
}

async function jobRetries(dir: string, jobId: string, defaultRetries: number): Promise<number> {
  try {
    const key = loadDirectoryKey(dir, { create: false });
    return decodeJobSpec(await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId), jobId, key).options.retries ?? defaultRetries;
  } catch {
    return defaultRetries;
  }
}
