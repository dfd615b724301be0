import { unlink } from "node:fs/promises";
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

/** Removes the lease when the agent stops cleanly. */
export async function removeLease(dir: string, agentId: string): Promise<void> {
  await unlink(directoryLayout.leaseFile(dir, agentId)).catch(() => {});
}
