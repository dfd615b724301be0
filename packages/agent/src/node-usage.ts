import { cpus, freemem, totalmem } from "node:os";

/** The node's CPU use between two calls (0 to 1 over all cores) and its memory, for heartbeats. */
export class NodeUsage {
  private last = cpuTimes();

  /** CPU use since the previous call, and memory now. */
  sample(): { cpu: number; memoryUsed: number; memoryTotal: number } {
    const now = cpuTimes();
    const total = now.total - this.last.total;
    const cpu = total > 0 ? Math.min(1, Math.max(0, (now.busy - this.last.busy) / total)) : 0;
    this.last = now;
    const memoryTotal = totalmem();
    return { cpu: Math.round(cpu * 1000) / 1000, memoryUsed: memoryTotal - freemem(), memoryTotal };
  }
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}
