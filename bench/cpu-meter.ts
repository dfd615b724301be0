/**
 * Where the CPU went during a measurement: CPU time per kind of process (supervisor, agents,
 * workers, the nodes' sshd sessions, …) between `start()` and `stop()`, and how busy the whole
 * machine was. Tells whether a workload is bound by CPU, and by whose.
 */
import { availableParallelism } from "node:os";
import { descendsFrom, readMachineCpu, readProcessTable, type ProcessInfo } from "./process-table.js";
import { now } from "./measurement.js";

export const PROCESS_CLASSES = [
  "supervisor",
  "agents",
  "workers",
  "Dask client",
  "Dask scheduler",
  "Dask workers (nanny and worker process)",
  "sshd (nodes)",
  "other of the benchmark",
  "other processes",
] as const;
export type ProcessClass = (typeof PROCESS_CLASSES)[number];

/** CPU use over one window. Processes that ended inside the window are not in `byClass`. */
export interface CpuUse {
  wallMs: number;
  cores: number;
  /** CPU-milliseconds the whole machine was busy (all cores, all processes, also ended ones). */
  machineBusyMs: number;
  /** CPU-milliseconds per kind of process. */
  byClass: Record<ProcessClass, number>;
  /** CPU-milliseconds per process, with its kind. */
  byProcess: Array<{ pid: number; processClass: ProcessClass; cpuMs: number }>;
}

export class CpuMeter {
  private startedAt = 0;
  private startMachine = { busyMs: 0, totalMs: 0 };
  private startTable = new Map<number, ProcessInfo>();

  /** `nodeDaemons`: pids of the node sshd daemons; what descends from them (or from us) is ours. */
  constructor(private readonly nodeDaemons: () => number[]) {}

  start(): void {
    this.startTable = readProcessTable();
    this.startMachine = readMachineCpu();
    this.startedAt = now();
  }

  stop(): CpuUse {
    const wallMs = now() - this.startedAt;
    const machine = readMachineCpu();
    const table = readProcessTable();
    const ours = new Set([process.pid, ...this.nodeDaemons()]);
    const byClass = Object.fromEntries(PROCESS_CLASSES.map((name) => [name, 0])) as Record<ProcessClass, number>;
    const byProcess: CpuUse["byProcess"] = [];
    for (const info of table.values()) {
      const before = this.startTable.get(info.pid);
      // A pid used again by a new process (CPU time smaller than before) counts from zero.
      const cpuMs = info.cpuMs - (before && before.cpuMs <= info.cpuMs ? before.cpuMs : 0);
      if (cpuMs <= 0) continue;
      const processClass = classify(info, descendsFrom(table, info.pid, ours), table);
      byClass[processClass] += cpuMs;
      byProcess.push({ pid: info.pid, processClass, cpuMs });
    }
    return { wallMs, cores: availableParallelism(), machineBusyMs: machine.busyMs - this.startMachine.busyMs, byClass, byProcess };
  }
}

function classify(info: ProcessInfo, ours: boolean, table: ReadonlyMap<number, ProcessInfo>): ProcessClass {
  if (info.pid === process.pid) return "supervisor";
  if (!ours) return "other processes";
  if (info.command.includes("agent/dist/bundle/main.js")) return "agents";
  if (info.command.includes("worker-main.js")) return "workers";
  if (info.command.includes("dask-peer.py")) return "Dask client";
  // SSHCluster starts `python3 -m distributed.cli.dask_spec --spec {…"cls": "distributed.Scheduler"…}`
  // for the scheduler, the same with "distributed.Nanny" for a worker's nanny, which spawns the
  // worker process (multiprocessing) as its child.
  const daskSpec = (command: string) => command.includes("distributed.cli.dask_spec");
  if (daskSpec(info.command)) return info.command.includes("distributed.Scheduler") ? "Dask scheduler" : "Dask workers (nanny and worker process)";
  if (daskSpec(table.get(info.ppid)?.command ?? "")) return "Dask workers (nanny and worker process)";
  if (info.name.startsWith("sshd")) return "sshd (nodes)";
  return "other of the benchmark";
}
