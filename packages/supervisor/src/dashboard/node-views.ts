import type { MachineView } from "../cluster/cluster.js";
import type { DirectoryStatus } from "./store-access.js";
import type { JobIndex } from "./job-index.js";

const MAX_JOBS_SHOWN = 50;

/** One machine on the nodes page: the live cluster's view of it when there is one, and its jobs from the directory. */
export interface NodeView {
  host: string;
  /** The live session's state; undefined when the dashboard only reads a directory. */
  state?: string;
  slots?: number;
  running: number;
  succeeded: number;
  failed: number;
  /** Its running jobs (the first MAX_JOBS_SHOWN). */
  jobs: string[];
  cpu?: number;
  memoryUsed?: number;
  memoryTotal?: number;
  load?: number;
  heartbeatAt?: number;
  restarts?: number;
  transport?: string;
  labels?: string[];
  error?: { code: string; message: string };
}

/** The nodes of the live cluster (all of them, also idle ones) and every host the directory knows. */
export function nodeViews(index: JobIndex, status: DirectoryStatus, machines: MachineView[]): NodeView[] {
  const views = new Map<string, NodeView>();
  const view = (host: string) => {
    let node = views.get(host);
    if (node === undefined) views.set(host, (node = { host, running: 0, succeeded: 0, failed: 0, jobs: [] }));
    return node;
  };
  for (const machine of machines) {
    const node = view(machine.label);
    node.state = machine.state;
    node.slots = machine.slots;
    node.restarts = machine.restarts;
    node.labels = machine.labels;
    if (machine.transport !== undefined) node.transport = machine.transport;
    if (machine.error !== undefined) node.error = machine.error;
    const beat = machine.heartbeat;
    if (beat !== undefined) {
      node.load = beat.load;
      node.heartbeatAt = beat.at;
      if (beat.cpu !== undefined) node.cpu = beat.cpu;
      if (beat.memoryUsed !== undefined) node.memoryUsed = beat.memoryUsed;
      if (beat.memoryTotal !== undefined) node.memoryTotal = beat.memoryTotal;
    }
  }
  for (const [host, counts] of Object.entries(status.nodes)) Object.assign(view(host), counts);
  for (const jobIds of index.claims().values()) {
    for (const jobId of jobIds) {
      const row = index.row(jobId);
      if (row?.state !== "running" || row.host === undefined) continue;
      const node = view(row.host);
      if (node.jobs.length < MAX_JOBS_SHOWN) node.jobs.push(jobId);
    }
  }
  return [...views.values()];
}
