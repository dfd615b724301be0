import { readdirSync, readFileSync } from "node:fs";

/**
 * Whether this worker's process group (which it leads) holds a process that does not descend
 * from the worker: one that a command started and left running when it exited, reparented to
 * init. The worker's own children (its watchdog) do not count. Reads /proc; false where there is
 * none. Only processes numbered from `firstPid` (the command's pid) on are looked at, which keeps
 * this at a few reads: the command's descendants got later pids, unless pid numbers wrapped
 * around meanwhile (then such a process lives on until the worker is retired).
 */
export function hasOrphansInGroup(firstPid: number): boolean {
  const group = process.pid;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return false;
  }
  const parents = new ParentLookup();
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid < firstPid || pid === group) continue;
    const stat = parents.stat(pid);
    if (stat === undefined || stat.pgrp !== group || stat.state === "Z") continue;
    if (!parents.descendsFrom(pid, group)) return true;
  }
  return false;
}

/** What /proc/<pid>/stat says of a process: its state (`Z`: a zombie), parent and process group. */
export interface ProcessStat {
  state: string;
  ppid: number;
  pgrp: number;
}

/** Reads /proc/<pid>/stat; undefined when the process is gone (or there is no /proc). */
export function readProcessStat(pid: number): ProcessStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name: state, ppid, pgrp, …
    const [state = "", ppid, pgrp] = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** Reads /proc/<pid>/stat on demand, once per pid. */
class ParentLookup {
  private readonly stats = new Map<number, ProcessStat | undefined>();

  stat(pid: number): ProcessStat | undefined {
    if (this.stats.has(pid)) return this.stats.get(pid);
    const stat = readProcessStat(pid);
    this.stats.set(pid, stat);
    return stat;
  }

  descendsFrom(pid: number, ancestor: number): boolean {
    for (let at = this.stat(pid)?.ppid, steps = 0; at !== undefined && at > 1 && steps < 1000; at = this.stat(at)?.ppid, steps++) {
      if (at === ancestor) return true;
    }
    return false;
  }
}
