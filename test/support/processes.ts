/** Looking at and signalling processes by pid (Linux: /proc, pgrep). */
import { execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * Whether a process runs: a zombie (or dead) process counts as gone; one that exists but can be
 * neither signalled nor seen in /proc (another user's, hidepid) counts as running.
 */
export function isAlive(pid: number): boolean {
  let signalled = true;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
    signalled = false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.charAt(stat.lastIndexOf(")") + 2);
    return state !== "Z" && state !== "X";
  } catch {
    return !signalled;
  }
}

/**
 * Whether `file` holds a pid yet: a job's child writes its pid file with `writeFileSync`, which
 * creates the file before it writes, so a file that exists may still be empty.
 */
export function holdsPid(file: string): boolean {
  try {
    return Number(readFileSync(file, "utf8")) > 0;
  } catch {
    return false;
  }
}

/** Parent pid and process group of a live process, from /proc; throws if it is gone. */
export function procIds(pid: number): { ppid: number; pgrp: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/** A process's command line, its arguments joined by spaces; "" if it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** Sends `name` to `pid`, ignoring a process that is gone. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {}
}

/** SIGKILLs the given pids (SIGCONT first, for a stopped one), ignoring those that are gone. */
export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGCONT");
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/** `pgrep -f pattern` (a regular expression), without this process; throws if pgrep fails. */
export function pgrep(pattern: string): number[] {
  try {
    const out = execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" });
    return out
      .split("\n")
      .map((line) => Number.parseInt(line, 10))
      .filter((pid) => Number.isInteger(pid) && pid !== process.pid);
  } catch (error) {
    if ((error as { status?: number }).status === 1) return []; // nothing matched
    throw error;
  }
}

/** A regular expression that matches `text` literally (pgrep takes one). */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The pids of a process's children (`pgrep -P`). */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** A deadline for a child spawned `detached`: its whole process group is SIGKILLed when it passes. */
export interface GroupDeadline {
  /** Whether the deadline passed (and the group was killed). */
  passed(): boolean;
  /** Call when the child ended in time. */
  clear(): void;
}

/** SIGKILLs the process group of `child` (spawned with `detached: true`) after `ms`, unless cleared first. */
export function killGroupAfter(child: ChildProcess, ms: number): GroupDeadline {
  let passed = false;
  const timer = setTimeout(() => {
    passed = true;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
  }, ms);
  return { passed: () => passed, clear: () => clearTimeout(timer) };
}
