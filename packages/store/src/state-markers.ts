import { listCancelledIds, listClaims, listQueuedIds } from "./job-listing.js";
import { listRetrying } from "./queue-marker.js";
import type { JobFacts } from "./read-job-state.js";
import { listWaitingIds } from "./wait-for-dependencies.js";

/**
 * Every marker that decides job states (see `decideJobState`), read once for a whole directory,
 * for readers of many jobs (`status`, the job listing): queue and retry markers, claims, cancel
 * requests, waiting directories.
 */
export interface StateMarkers {
  queued: Set<string>;
  retrying: Map<string, number>;
  /** The agent holding each claimed job. */
  claimedBy: Map<string, string>;
  cancelled: Set<string>;
  waiting: Set<string>;
}

/** Reads the {@link StateMarkers} of `dir`. */
export async function readStateMarkers(dir: string): Promise<StateMarkers> {
  const [queued, retrying, claims, cancelled, waiting] = await Promise.all([
    listQueuedIds(dir),
    listRetrying(dir),
    listClaims(dir),
    listCancelledIds(dir),
    listWaitingIds(dir),
  ]);
  const claimedBy = new Map<string, string>();
  for (const [agentId, jobIds] of claims) for (const jobId of jobIds) claimedBy.set(jobId, agentId);
  return { queued, retrying, claimedBy, cancelled, waiting };
}

/** What the markers and its result (if read) say about job `jobId`. */
export function factsOf(markers: StateMarkers, jobId: string, result: JobFacts["result"]): JobFacts {
  return {
    result,
    cancelRequested: markers.cancelled.has(jobId),
    claimed: markers.claimedBy.has(jobId),
    retrying: markers.retrying.has(jobId),
    queued: markers.queued.has(jobId),
    waiting: markers.waiting.has(jobId),
  };
}
