import { readdir, readFile } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";
import { recoverAgentJobs, type Recovery } from "./recover-agent-jobs.js";

/**
 * Watches agents' leases on the observer's own clock: a lease is stale when its content has not
 * changed for `leaseTimeoutMs` as this process saw it (or an agent's claim directory has had no
 * lease for that long). Clocks of two hosts are never compared.
 */
export class LeaseObserver {
  private readonly seen = new Map<string, { content: string; since: number }>();

  constructor(private readonly leaseTimeoutMs: number) {}

  /** Agents holding claims (or leases) whose lease has not changed for the timeout. */
  async staleAgents(dir: string): Promise<string[]> {
    const now = Date.now();
    const [claimDirs, leases] = await Promise.all([
      readdir(directoryLayout.runningDir(dir)).catch((): string[] => []),
      readdir(directoryLayout.agentsDir(dir)).catch((): string[] => []),
    ]);
    const agents = new Set([...claimDirs, ...leases.filter((name) => !name.endsWith(".lost"))]);
    const stale: string[] = [];
    for (const agentId of agents) {
      const content = await readFile(directoryLayout.leaseFile(dir, agentId), "utf8").catch(() => "");
      const last = this.seen.get(agentId);
      if (last === undefined || last.content !== content) {
        this.seen.set(agentId, { content, since: now });
      } else if (now - last.since >= this.leaseTimeoutMs) {
        stale.push(agentId);
      }
    }
    for (const agentId of this.seen.keys()) if (!agents.has(agentId)) this.seen.delete(agentId);
    return stale;
  }

  /** Forgets an agent (after its recovery). */
  forget(agentId: string): void {
    this.seen.delete(agentId);
  }
}

/**
 * Requeues (or fails, when retries are used up) the jobs of every agent whose lease went stale,
 * so that recovery never depends on one process's memory: any supervisor, also one started
 * later, does it.
 */
export async function requeueStaleJobs(dir: string, observer: LeaseObserver, defaultRetries: number): Promise<Recovery> {
  const total: Recovery = { requeued: [], failed: [] };
  for (const agentId of await observer.staleAgents(dir)) {
    const recovery = await recoverAgentJobs(dir, agentId, defaultRetries);
    observer.forget(agentId);
    total.requeued.push(...recovery.requeued);
    total.failed.push(...recovery.failed);
  }
  return total;
}
