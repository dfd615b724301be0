import { pathExists } from "./path-exists.js";
import { readdir, readFile, rename, unlink } from "node:fs/promises";
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

/** A lease file's text. */
export function encodeLease(lease: AgentLease): string {
  return JSON.stringify(lease);
}

/** Reads a lease file's text; throws a TypeError naming the field when it is not a lease. */
export function decodeLease(text: string): AgentLease {
  const record = JSON.parse(text) as unknown;
  if (typeof record !== "object" || record === null) throw new TypeError("a lease is a JSON object");
  const fields = record as Record<string, unknown>;
  const string = (name: string): string => {
    if (typeof fields[name] !== "string") throw new TypeError(`field "${name}" should be a string`);
    return fields[name];
  };
  const integer = (name: string): number => {
    if (!Number.isSafeInteger(fields[name])) throw new TypeError(`field "${name}" should be an integer`);
    return fields[name] as number;
  };
  const groups = fields["processGroups"] ?? [];
  if (!Array.isArray(groups) || !groups.every((group) => Number.isSafeInteger(group) && group > 1)) {
    throw new TypeError('field "processGroups" should be a list of process ids');
  }
  return {
    agentId: string("agentId"),
    host: string("host"),
    hostname: string("hostname"),
    pid: integer("pid"),
    startedAt: integer("startedAt"),
    seq: integer("seq"),
    processGroups: groups as number[],
  };
}

/** Writes (or rewrites) the agent's lease file in `agents/`. */
export async function renewLease(dir: string, lease: AgentLease): Promise<void> {
  await writeFileAtomic(dir, directoryLayout.leaseFile(dir, lease.agentId), encodeLease(lease));
}

/** Whether the agent's lease is still there (a supervisor that declared it lost renamed it away). */
export async function leaseExists(dir: string, agentId: string): Promise<boolean> {
  return pathExists(directoryLayout.leaseFile(dir, agentId));
}

/** The host an agent runs on, as its lease names it; the agent's id when its lease is gone or unreadable. */
export async function readLeaseHost(dir: string, agentId: string): Promise<string> {
  try {
    return decodeLease(await readFile(directoryLayout.leaseFile(dir, agentId), "utf8")).host;
  } catch {
    return agentId;
  }
}

/** One lease file in `agents/`: a live agent's, or a lost one's (`<agentId>.lost`). */
export interface LeaseEntry {
  agentId: string;
  lost: boolean;
  lease: AgentLease;
}

/** Every readable lease in `agents/` (files that are not leases are passed over). */
export async function readAllLeases(dir: string): Promise<LeaseEntry[]> {
  const names = await readdir(directoryLayout.agentsDir(dir)).catch((): string[] => []);
  const entries: LeaseEntry[] = [];
  for (const name of names) {
    const lost = name.endsWith(".lost");
    const agentId = lost ? name.slice(0, -".lost".length) : name;
    try {
      entries.push({ agentId, lost, lease: decodeLease(await readFile(directoryLayout.leaseFile(dir, name), "utf8")) });
    } catch {}
  }
  return entries;
}

/** Removes the lease when the agent stops cleanly (and the mark of a lost lease, if any). */
export async function removeLease(dir: string, agentId: string): Promise<void> {
  await removeLostLease(dir, agentId);
  await unlink(directoryLayout.leaseFile(dir, agentId)).catch(() => {});
}

/** Removes the mark of a lost lease once it has told all it can. */
export async function removeLostLease(dir: string, agentId: string): Promise<void> {
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
