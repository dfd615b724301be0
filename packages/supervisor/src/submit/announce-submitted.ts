import { writeFileSync } from "node:fs";
import { directoryLayout } from "@malocher/protocol";

/** Clusters running in this process, by shared directory: told about new jobs at once. */
interface Listener {
  nudge(): void;
  cancel(jobIds: string[]): void;
}

const runningClusters = new Map<string, Set<Listener>>();
const pending = new Set<string>();

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
 * Tells agents that jobs were queued in `dir`, once per turn of the event loop however many were
 * submitted in it: nudges the clusters of this process over their WebSockets, and touches the
 * directory's signal file, which agents on this host watch. Both are hints; agents also scan.
 */
export function announceSubmitted(dir: string): void {
  if (pending.has(dir)) return;
  pending.add(dir);
  setImmediate(() => {
    pending.delete(dir);
    for (const cluster of runningClusters.get(dir) ?? []) cluster.nudge();
    try {
      writeFileSync(directoryLayout.signalFile(dir), String(Date.now()));
    } catch {
      // Only a hint.
    }
  });
}

/** Tells the clusters of this process to kill these jobs now (agents also find the markers). */
export function announceCancelled(dir: string, jobIds: string[]): void {
  for (const cluster of runningClusters.get(dir) ?? []) cluster.cancel(jobIds);
}
