import { rename } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";

/**
 * Puts a claimed job back in the queue without counting an attempt: used when the holder stops
 * (drain, stop, supervisor gone) before the job finished.
 */
export async function requeueClaim(dir: string, agentId: string, jobId: string): Promise<void> {
  try {
    await rename(directoryLayout.runningFile(dir, agentId, jobId), directoryLayout.queuedFile(dir, jobId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
