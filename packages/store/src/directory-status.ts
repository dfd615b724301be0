import { NO_RUN, type JobState } from "@malocher/protocol";
import { readLeaseHost } from "./agent-lease.js";
import { listJobIds } from "./job-listing.js";
import { readResultForState } from "./read-result.js";
import { decideJobState, emptyStateCounts } from "./read-job-state.js";
import { factsOf, readStateMarkers } from "./state-markers.js";
import { readJobNameAndTags } from "./read-job-name-and-tags.js";

/** Job counts of a directory, overall and per node. */
export interface DirectoryStatus {
  dir: string;
  total: number;
  counts: Record<JobState, number>;
  /** Jobs whose spec exists but whose queue marker was never written (the submitter died). */
  unqueued: number;
  /** Per node (as the user named it): jobs running there now, and finished there. */
  nodes: Record<string, { running: number; succeeded: number; failed: number }>;
  /** Per tag (`submit.with({ tags })`): its jobs per state. */
  tags: Record<string, Record<JobState, number>>;
  /** Jobs whose result file cannot be read (counted as failed), with why: at most the first 20; absent when there are none. */
  unreadable?: { jobId: string; reason: string }[];
}

/** Reads the state of every job of `dir`, with the same precedence as `readJobState`. */
export async function readDirectoryStatus(dir: string): Promise<DirectoryStatus> {
  const [ids, markers] = await Promise.all([listJobIds(dir), readStateMarkers(dir)]);
  const status: DirectoryStatus = {
    dir,
    total: ids.length,
    counts: emptyStateCounts(),
    unqueued: 0,
    nodes: {},
    tags: {},
  };
  const unreadable: { jobId: string; reason: string }[] = [];
  const hosts = new Map<string, string>();
  const node = (host: string) => (status.nodes[host] ??= { running: 0, succeeded: 0, failed: 0 });
  for (const jobId of ids) {
    const result = await readResultForState(dir, jobId);
    if (result !== undefined && "unreadable" in result && unreadable.length < 20) unreadable.push({ jobId, reason: result.unreadable });
    const agentId = markers.claimedBy.get(jobId);
    const state = decideJobState(factsOf(markers, jobId, result));
    if (state === undefined) {
      status.unqueued++;
      continue;
    }
    status.counts[state]++;
    const tags = result === undefined ? (await readJobNameAndTags(dir, jobId)).tags : result.tags;
    for (const tag of tags ?? []) (status.tags[tag] ??= emptyStateCounts())[state]++;
    // A job that never ran (cancelled, or failed for a dependency) has a result but no node.
    if ((state === "succeeded" || state === "failed") && result?.host !== undefined && result.host !== NO_RUN) node(result.host)[state]++;
    else if (state === "running" && agentId !== undefined) node(await hostOfAgent(dir, agentId, hosts)).running++;
  }
  return unreadable.length === 0 ? status : { ...status, unreadable };
}

/** The host an agent's lease names (cached per call in `cache`), or the agent id when the lease cannot be read. */
export async function hostOfAgent(dir: string, agentId: string, cache: Map<string, string>): Promise<string> {
  let host = cache.get(agentId);
  if (host === undefined) {
    host = await readLeaseHost(dir, agentId);
    cache.set(agentId, host);
  }
  return host;
}
