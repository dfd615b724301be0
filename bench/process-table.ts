/** The processes of this machine and their CPU time, read from Linux's /proc. */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** One process as /proc shows it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The executable's name (`comm`), e.g. `node`, `sshd`. */
  name: string;
  /** The command line, arguments joined by spaces. */
  command: string;
  /** User plus system CPU time so far, in milliseconds. */
  cpuMs: number;
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux almost always). */
const TICKS_PER_SECOND = readTicksPerSecond();

/** The resolution of /proc's CPU times, in ms. */
export const CPU_TICK_MS = 1000 / TICKS_PER_SECOND;

/** Every process that could be read, by pid. Processes that exit while reading are skipped. */
export function readProcessTable(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readProcess(Number(entry));
    if (info) table.set(info.pid, info);
  }
  return table;
}

/** One process, or undefined if it is gone. */
export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ... utime stime ...": comm may contain spaces and parentheses.
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return { pid, ppid: Number(fields[1]), name: stat.slice(open + 1, close), command, cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** Whether `pid` is one of `ancestors` or descends from one of them. */
export function descendsFrom(table: ReadonlyMap<number, ProcessInfo>, pid: number, ancestors: ReadonlySet<number>): boolean {
  for (let current: number | undefined = pid, hops = 0; current !== undefined && current > 1 && hops < 64; hops++) {
    if (ancestors.has(current)) return true;
    current = table.get(current)?.ppid;
  }
  return false;
}

/** The machine's CPU time so far over all cores, busy and in total, in milliseconds (/proc/stat). */
export function readMachineCpu(): { busyMs: number; totalMs: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
  const idleTicks = idle! + iowait!;
  const totalTicks = user! + nice! + system! + idleTicks + irq! + softirq! + steal!;
  return { busyMs: ((totalTicks - idleTicks) * 1000) / TICKS_PER_SECOND, totalMs: (totalTicks * 1000) / TICKS_PER_SECOND };
}

function readTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}
