import { touchSignalFile } from "@malocher/store";
import type { RunEvent } from "../cluster/cluster.js";

/** Clusters running in this process, by shared directory: told about new jobs at once, heard for finished ones. */
interface Listener {
  nudge(): void;
  cancel(jobIds: string[]): void;
  on(name: "event", listener: (event: RunEvent) => void): unknown;
  off(name: "event", listener: (event: RunEvent) => void): unknown;
}

const runningClusters = new Map<string, Set<Listener>>();
/**
 * Within the current turn of the event loop: when this process last told the agents of a
 * directory, how long until it tells them again, and whether jobs came since.
 */
const lastTold = new Map<string, { at: number; retellAfterMs: number; untold: boolean }>();

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
 * Tells agents that jobs were queued in `dir`: nudges the clusters of this process over their
 * WebSockets and touches the directory's signal file, which agents on this host watch. Both are
 * hints; agents also scan. The first job of a turn of the event loop is told at once, later ones
 * after {@link FIRST_RETELL_AFTER_MS}, twice that, … and once more at the end of the turn.
 */
export function announceSubmitted(dir: string): void {
  const told = lastTold.get(dir);
  if (told === undefined) {
    lastTold.set(dir, { at: performance.now(), retellAfterMs: FIRST_RETELL_AFTER_MS, untold: false });
    tellAgents(dir);
    setImmediate(() => {
      if (lastTold.get(dir)?.untold) tellAgents(dir);
      lastTold.delete(dir);
    });
  } else if (performance.now() - told.at >= told.retellAfterMs) {
    told.at = performance.now();
    told.retellAfterMs *= 2;
    told.untold = false;
    tellAgents(dir);
  } else {
    told.untold = true;
  }
}

function tellAgents(dir: string): void {
  for (const cluster of runningClusters.get(dir) ?? []) cluster.nudge();
  touchSignalFile(dir);
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
