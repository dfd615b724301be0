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
