import { writeFileSync } from "node:fs";
import { directoryLayout } from "@malocher/protocol";
import type { RunEvent } from "../cluster/cluster.js";

/** Clusters running in this process, by shared directory: told about new jobs at once, heard for finished ones. */
interface Listener {
  nudge(): void;
  cancel(jobIds: string[]): void;
  on(name: "event", listener: (event: RunEvent) => void): unknown;
  off(name: "event", listener: (event: RunEvent) => void): unknown;
}

const runningClusters = new Map<string, Set<Listener>>();
/** When this process last told the agents of a directory, and whether jobs came after that. */
const lastTold = new Map<string, { at: number; untold: boolean }>();

/**
 * Within one turn of the event loop, agents are told again once this long has passed since the
 * last time: a synchronous loop of `submit()` calls then keeps them busy while it runs (200
 * submits take about 0.1 s here, which the first jobs would otherwise wait for).
 */
const RETELL_AFTER_MS = 5;

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
 * at most every {@link RETELL_AFTER_MS} and once more at the end of the turn, however many there are.
 */
export function announceSubmitted(dir: string): void {
  const told = lastTold.get(dir);
  if (told === undefined) {
    lastTold.set(dir, { at: performance.now(), untold: false });
    tellAgents(dir);
    setImmediate(() => {
      if (lastTold.get(dir)?.untold) tellAgents(dir);
      lastTold.delete(dir);
    });
  } else if (performance.now() - told.at >= RETELL_AFTER_MS) {
    told.at = performance.now();
    told.untold = false;
    tellAgents(dir);
  } else {
    told.untold = true;
  }
}

function tellAgents(dir: string): void {
  for (const cluster of runningClusters.get(dir) ?? []) cluster.nudge();
  try {
    writeFileSync(directoryLayout.signalFile(dir), String(Date.now()));
  } catch {
    // Only a hint.
  }
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
