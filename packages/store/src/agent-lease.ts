import { rename, unlink } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";
import { writeFileAtomic } from "./write-file-atomic.js";

/** What an agent's lease file says about it. */
export interface AgentLease {
  agentId: string;
  /** The machine as the user named it. */
  host: string;
  hostname: string;
  pid: number;
  startedAt: number;
  /** Changes with every renewal, so observers can tell a live lease from a stale one. */
  seq: number;
  /** Process groups of the agent's workers. */
  processGroups: number[];
}

/** Writes (or rewrites) the agent's lease file in `agents/`. */
export async function renewLease(dir: string, lease: AgentLease): Promise<void> {
  await writeFileAtomic(dir, directoryLayout.leaseFile(dir, lease.agentId), JSON.stringify(lease));
}

/** Removes the lease when the agent stops cleanly (and the mark of a lost lease, if any). */
export async function removeLease(dir: string, agentId: string): Promise<void> {
  await unlink(directoryLayout.leaseFile(dir, agentId)).catch(() => {});
  await unlink(directoryLayout.lostLeaseFile(dir, agentId)).catch(() => {});
}

/**
 * Marks an agent as given up on: its lease is renamed to `<agentId>.lost`. The agent, should it
 * come back, sees its lease gone and stops; the next agent on its host reads the process groups
 * it left behind from the `.lost` file, kills them and removes the file.
 */
export async function markLeaseLost(dir: string, agentId: string): Promise<void> {
  try {
    await rename(directoryLayout.leaseFile(dir, agentId), directoryLayout.lostLeaseFile(dir, agentId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
