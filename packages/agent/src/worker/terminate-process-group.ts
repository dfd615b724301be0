import { readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { readProcessStat } from "./process-group-orphans.js";

/** How often a process group is looked at while it is given time to end. */
const POLL_MS = 25;
/** After SIGKILL, how long to wait for the group's processes to be gone (a process in uninterruptible sleep takes a while). */
const AFTER_KILL_MS = 5000;

/**
 * Ends a job's process group, gracefully and then by force, as GNU parallel's `--termseq` and
 * Slurm do: SIGTERM to every process of the group, then, once `graceMs` has passed with anything
 * of it still alive, SIGKILL. Resolves once no live process is left in the group (or, after the
 * SIGKILL, after a bounded wait). A command that traps SIGTERM can save its work meanwhile; a
 * group that ends by itself ends the wait early. `graceMs` 0: SIGKILL at once.
 */
export async function terminateProcessGroup(group: number, graceMs: number): Promise<void> {
  if (graceMs > 0 && signalGroup(group, "SIGTERM")) await waitUntilGone(group, graceMs);
  signalGroup(group, "SIGKILL");
  await waitUntilGone(group, AFTER_KILL_MS);
}

async function waitUntilGone(group: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (groupIsAlive(group) && performance.now() < deadline) await sleep(POLL_MS);
}

/** Sends `signal` to the whole group; false when the group is gone. */
function signalGroup(group: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-group, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a process of `group` still runs. Zombies do not count: a process whose parent died is
 * reaped by init, which in a container may never do so. Without /proc, whether the group can
 * still be signalled.
 */
function groupIsAlive(group: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return signalGroup(group, 0);
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid < group) continue; // a group's members were started after its leader, unless pids wrapped
    const stat = readProcessStat(pid);
    if (stat !== undefined && stat.pgrp === group && stat.state !== "Z") return true;
  }
  return false;
}
