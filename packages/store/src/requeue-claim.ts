import { rename, unlink, writeFile } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";
import { tmpPath } from "./write-file-atomic.js";

/**
 * Puts a claimed job back in the queue. Without `nextAttempt` the interrupted run does not count
 * (the holder stopped before the job finished); with it, the queue marker carries the number of
 * the next attempt (a retry). The claim is first taken away by a rename, so a claim that someone
 * else requeued meanwhile is never queued twice. Returns false when the claim was gone already.
 */
export async function requeueClaim(dir: string, agentId: string, jobId: string, nextAttempt?: number): Promise<boolean> {
  let taken = tmpPath(dir);
  try {
    await rename(directoryLayout.runningFile(dir, agentId, jobId), taken);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  if (nextAttempt !== undefined) {
    // A fresh marker file: the taken one may be a hard link shared with the markers of other jobs
    // (`submitMany` links one empty file per chunk), so writing into it would change theirs too.
    const marker = tmpPath(dir);
    await writeFile(marker, String(nextAttempt));
    await unlink(taken);
    taken = marker;
  }
  await rename(taken, directoryLayout.queuedFile(dir, jobId));
  return true;
}
