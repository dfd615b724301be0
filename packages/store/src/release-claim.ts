import { unlink } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";

/** Drops this agent's claim on a job after its result is published. */
export async function releaseClaim(dir: string, agentId: string, jobId: string): Promise<void> {
  try {
    await unlink(directoryLayout.runningFile(dir, agentId, jobId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
