import { asksForPlacement, type JobPlacement } from "@malocher/protocol";
import { touchSignalFile } from "@malocher/store";
import type { RunEvent } from "../cluster/cluster.js";

/** Clusters running in this process, by shared directory: told about new jobs at once, heard for finished ones. */
interface Listener {
  nudge(jobs?: number, jobIds?: string[]): void;
  readonly takesAnyJob: boolean;
  cancel(jobIds: string[]): void;
  on(name: "event", listener: (event: RunEvent) => void): unknown;
  off(name: "event", listener: (event: RunEvent) => void): unknown;
}

const runningClusters = new Map<string, Set<Listener>>();
/**
 * Within the current turn of the event loop: when this process last told the agents of a
 * directory, how long until it tells them again, and whether jobs came since.
 */
const lastTold = new Map<string, { at: number; retellAfterMs: number; untold: number }>();

/**
 * Within one turn of the event loop, agents are told again this long after the first time, then
 * after twice that, and so on: a synchronous loop of `submit()` calls keeps them busy while it
 * runs (200 submits take 0.05–0.2 s here, which the first jobs would otherwise wait for), and a
 * long loop wakes them a few times only (each wake-up has every idle agent read the queue, which
 * slowed a loop of 500 submits several times over on this 2-core machine).
 */
const FIRST_RETELL_AFTER_MS = 5;

/** Registers a running cluster of `dir` for nudges; returns the function that unregisters it. */
export function listenForSubmissions(dir: string, cluster: Listener): () => void {
  let clusters = runningClusters.get(dir);
  if (clusters === undefined) runningClusters.set(dir, (clusters = new Set()));
  clusters.add(cluster);
  return () => {
    clusters.delete(cluster);
    if (clusters.size === 0) runningClusters.delete(dir);
  };
}

/**
 * Tells agents that `count` jobs were queued in `dir`, each with the `placement` it asks for
 * (Infinity: any agent may be the one, as for retried jobs). The clusters of this process that
 * serve `dir` nudge as many of their agents as the jobs need (see `Cluster.nudge`), every agent for
 * jobs that ask for a label or several slots (see `asksForPlacement`); without one, the
 * directory's signal file is touched, which agents on this host watch. Both are hints; agents also
 * scan. The first jobs of a turn of the event loop are told at once, later ones after
 * {@link FIRST_RETELL_AFTER_MS}, twice that, … and once more at the end of the turn. `jobIds`:
 * the jobs, when known (one `submit()`): the first nudge of a turn names them, and the agents
 * nudged try them before they read the queue.
 */
export function announceSubmitted(dir: string, count: number, placement: JobPlacement = {}, jobIds?: string[]): void {
  const jobs = asksForPlacement(placement) ? Infinity : count;
  const told = lastTold.get(dir);
  if (told === undefined) {
    lastTold.set(dir, { at: performance.now(), retellAfterMs: FIRST_RETELL_AFTER_MS, untold: 0 });
    tellAgents(dir, jobs, jobIds);
    setImmediate(() => {
      const untold = lastTold.get(dir)?.untold ?? 0;
      if (untold > 0) tellAgents(dir, untold);
      lastTold.delete(dir);
    });
  } else if (performance.now() - told.at >= told.retellAfterMs) {
    told.at = performance.now();
    told.retellAfterMs *= 2;
    tellAgents(dir, told.untold + jobs);
    told.untold = 0;
  } else {
    told.untold += jobs;
  }
}

/**
 * Nudges this process's clusters of `dir`, and touches the signal file only when none of them
 * takes any job (none, or only `processAll({ jobs })` runs): a nudge goes to the agents that can
 * take the jobs, and the file would wake every agent on this host (with loopback nodes, each
 * submit woke all of them: a third of a warm job's time, on 2 cores). Agents of another process's
 * cluster on this host then find the jobs in their next scan.
 */
function tellAgents(dir: string, jobs: number, jobIds?: string[]): void {
  const clusters = [...(runningClusters.get(dir) ?? [])];
  for (const cluster of clusters) cluster.nudge(jobs, jobIds);
  if (!clusters.some((cluster) => cluster.takesAnyJob)) touchSignalFile(dir);
}

/**
 * Calls `listener` for each event of the clusters of `dir` running in this process now;
 * returns the function that stops listening.
 */
export function listenToClusterEvents(dir: string, listener: (event: RunEvent) => void): () => void {
  const clusters = [...(runningClusters.get(dir) ?? [])];
  for (const cluster of clusters) cluster.on("event", listener);
  return () => {
    for (const cluster of clusters) cluster.off("event", listener);
  };
}

/** Tells the clusters of this process to kill these jobs now (agents also find the markers). */
export function announceCancelled(dir: string, jobIds: string[]): void {
  for (const cluster of runningClusters.get(dir) ?? []) cluster.cancel(jobIds);
}
