import { unlinkSync } from "node:fs";
import { directoryLayout } from "@malocher/protocol";

/** Drops this agent's claim on a job after its result is published (synchronous, as `claimJob`). */
export function releaseClaim(dir: string, agentId: string, jobId: string): void {
  try {
    unlinkSync(directoryLayout.runningFile(dir, agentId, jobId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
