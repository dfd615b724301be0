import type { JobResult } from "@malocher/protocol";
import { Cluster, type RunEvent } from "./cluster/cluster.js";
import { clusterSettings, openSharedDirectory, type ClusterOptions } from "./cluster-options.js";
import { processJobs, type RunOptions } from "./process-all.js";
import { readAllResults } from "@malocher/store";
import { loadResultClass } from "./results/load-result-class.js";
import { listenForSubmissions } from "./submit/announce-submitted.js";
import { RUN_OPTION_NAMES, rejectUnknownNames } from "./option-names.js";
import { startDashboardServer } from "./dashboard/dashboard-server.js";
import { directoryActions } from "./dashboard/dashboard-actions.js";
import { dashboardOptionsOf, type Dashboard } from "./dashboard/dashboard-options.js";

/**
 * Agents that stay up between runs (for notebooks, long sessions, low latency): submit, call
 * `processAll`, submit more, call it again; `close()` at the end.
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ sshMachines: ["node1", "node2"] });
 * await cluster.ready();
 * const id = submit(train, 1);
 * for await (const [jobId, result] of cluster.processAll({ jobs: [id] })) console.log(result);
 * await cluster.close();
 * ```
 */
export interface StartedCluster {
  /** The shared directory it serves. */
  readonly dir: string;
  /**
   * Resolves when every machine's agent said hello and started its warm workers (or the machine
   * was set aside); rejects with `NO_USABLE_NODES`. Each agent's hello alone is its node's
   * `{ type: "node", state: "ready" }` event (`onEvent`).
   */
  ready(): Promise<void>;
  /** Yields the results of the jobs without one (or `jobs`) as they finish; agents stay up after. */
  processAll(options?: RunOptions): AsyncIterable<[string, JobResult]>;
  /** Every finished job's `[jobId, result]`. */
  results(): AsyncIterable<[string, JobResult]>;
  /** The dashboard, when `startCluster({ dashboard })` asked for one (it closes with the cluster). */
  readonly dashboard: Dashboard | undefined;
  /** Stops the agents (running jobs go back to the queue). Idempotent. */
  close(): Promise<void>;
}

/**
 * A started cluster's `processAll` checks its directory again (see `checkDirectorySecurity`) only
 * when the last check is older than this: the check lists the directory two levels deep (about
 * 170 entries), which took 2 to 4 ms, as long as a whole job, on a cluster that runs one job per
 * `processAll` (W3 of the benchmark).
 */
const RECHECK_DIRECTORY_AFTER_MS = 10_000;

/** Starts agents on the machines of `options` (or locally) for the directory `dir`. */
export async function startClusterIn(
  dir: string,
  options: ClusterOptions & { onEvent?: (event: RunEvent) => void },
): Promise<StartedCluster> {
  openSharedDirectory(dir, options);
  let checkedAt = performance.now();
  const checkDirectory = () => {
    if (performance.now() - checkedAt < RECHECK_DIRECTORY_AFTER_MS) return;
    openSharedDirectory(dir, options);
    checkedAt = performance.now();
  };
  const settings = clusterSettings(dir, options);
  const dashboardOptions = dashboardOptionsOf(options.dashboard, "startCluster"); // checked before any agent starts
  const cluster = await Cluster.start(settings);
  if (options.onEvent) cluster.on("event", options.onEvent);
  cluster.on("unusable", () => {}); // reported through ready() and processAll()
  const stopListening = listenForSubmissions(dir, cluster);
  let dashboard: Dashboard | undefined;
  try {
    dashboard =
      dashboardOptions === undefined
        ? undefined
        : await startDashboardServer(directoryActions(dir, options.allowSharedWriters === true), { ...(options.onWarning ? { onWarning: options.onWarning } : {}), ...dashboardOptions }, cluster);
  } catch (error) {
    stopListening();
    await cluster.close();
    throw error;
  }
  return {
    dir,
    dashboard,
    ready: () => cluster.ready(),
    processAll: (run: RunOptions = {}) => {
      rejectUnknownNames(run, RUN_OPTION_NAMES, "cluster.processAll");
      return processJobs(dir, run, cluster, checkDirectory);
    },
    results: () => readAllResults(dir, loadResultClass),
    close: async () => {
      await dashboard?.close();
      stopListening();
      await cluster.close();
    },
  };
}
