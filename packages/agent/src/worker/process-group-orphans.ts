import { readdirSync, readFileSync } from "node:fs";

/**
 * Whether this worker's process group (which it leads) holds a process that does not descend
 * from the worker: one a job started and left running after its parent exited, reparented to
 * init. The worker's own children (its watchdog) do not count. Reads /proc (about 1 ms per 100
 * processes); false where there is none.
 */
export function hasOrphansInGroup(): boolean {
  const group = process.pid;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return false;
  }
  const parentOf = new Map<number, number>();
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command name: state, ppid, pgrp, …
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pid = Number(entry);
    parentOf.set(pid, Number(ppid));
    if (Number(pgrp) === group && pid !== group && state !== "Z") members.push(pid);
  }
  return members.some((pid) => !descendsFrom(pid, group, parentOf));
}

function descendsFrom(pid: number, ancestor: number, parentOf: ReadonlyMap<number, number>): boolean {
  for (let at = parentOf.get(pid), steps = 0; at !== undefined && at > 1 && steps < 1000; at = parentOf.get(at), steps++) {
    if (at === ancestor) return true;
  }
  return false;
}
