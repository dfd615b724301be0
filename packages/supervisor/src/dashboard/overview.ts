import { JOB_STATES, NO_RUN, type JobState } from "@malocher/protocol";
import { emptyStateCounts, type DirectoryStatus } from "./store-access.js";
import type { JobIndex, JobRow } from "./job-index.js";

const MAX_GROUPS = 30;
const MAX_SAMPLE_IDS = 5;
/** Throughput: finished jobs per bucket over the last minutes. */
const BUCKET_MS = 5000;
const BUCKETS = 60;

/** Failed jobs that share a code and a message. */
export interface FailureGroup {
  code: string;
  message: string;
  count: number;
  /** A few of its jobs, newest first. */
  jobIds: string[];
}

/** What the overview shows; small (bounded groups), recomputed once per refresh that changed something. */
export interface Overview {
  dir: string;
  total: number;
  counts: Record<JobState, number>;
  unqueued: number;
  /** Jobs whose result is still being read (a first look at a big directory). */
  indexing: number;
  /** Finished jobs per second over the last minute (over the time since its first finish, when that is shorter: a young run). */
  throughput: number;
  /** Seconds until the waiting, queued, retrying and running jobs are done at that rate; undefined without a rate. */
  etaSeconds?: number;
  /** Finished jobs per BUCKET_MS, oldest first, ending now. */
  finishedHistory: { bucketMs: number; counts: number[] };
  byName: Array<{ name: string; counts: Record<JobState, number> }>;
  byTag: Array<{ tag: string; counts: Record<JobState, number> }>;
  failures: FailureGroup[];
  /** Failed jobs in all (the groups show the biggest MAX_GROUPS). */
  failureGroups: number;
}

const zero = emptyStateCounts;

/** The shortest span a rate is taken over. */
const RATE_SPAN_MIN_MS = 5000;

/** Sums the index into the overview and into the object `malocher status --json` prints. */
export function summarize(index: JobIndex, now = Date.now()): { overview: Overview; status: DirectoryStatus } {
  const counts = zero();
  let unqueued = 0;
  const nodes: DirectoryStatus["nodes"] = {};
  const tags = new Map<string, Record<JobState, number>>();
  const names = new Map<string, Record<JobState, number>>();
  const groups = new Map<string, FailureGroup>();
  const history = new Array<number>(BUCKETS).fill(0);
  const historyStart = now - BUCKETS * BUCKET_MS;
  let lastMinute = 0;
  /** The first finish of the last minute: a run younger than a minute has its rate over its own span. */
  let firstInMinute = now;
  for (const row of index.all()) {
    const state = row.state;
    if (state === undefined) {
      unqueued++;
      continue;
    }
    counts[state]++;
    for (const tag of row.tags ?? []) bump(tags, tag, state);
    if (row.name !== undefined) bump(names, row.name, state);
    // A job that never ran (cancelled, or failed for a dependency) has a result but no node.
    if ((state === "succeeded" || state === "failed") && row.host !== undefined && row.host !== NO_RUN) (nodes[row.host] ??= { running: 0, succeeded: 0, failed: 0 })[state]++;
    else if (state === "running" && row.host !== undefined) (nodes[row.host] ??= { running: 0, succeeded: 0, failed: 0 }).running++;
    if (state === "failed") addFailure(groups, row);
    if (row.finishedAt !== undefined && row.finishedAt > historyStart) {
      const bucket = Math.min(BUCKETS - 1, Math.floor((row.finishedAt - historyStart) / BUCKET_MS));
      history[bucket]!++;
      if (row.finishedAt > now - 60_000) {
        lastMinute++;
        firstInMinute = Math.min(firstInMinute, row.finishedAt);
      }
    }
  }
  const indexing = index.indexing;
  const status: DirectoryStatus = { dir: index.dir, total: index.size, counts, unqueued: unqueued - Math.min(unqueued, indexing), nodes, tags: Object.fromEntries(tags) };
  // Finishes per second over the last minute, or over the time since the first of them when that
  // is shorter (at least RATE_SPAN_MIN_MS, so that the first few finishes make no spike): a young
  // run's rate was a fraction of the truth, and its ETA many times too long.
  const throughput = lastMinute / (Math.max(RATE_SPAN_MIN_MS, now - firstInMinute) / 1000);
  const left = counts.waiting + counts.queued + counts.retrying + counts.running;
  const sorted = [...groups.values()].sort((a, b) => b.count - a.count);
  const overview: Overview = {
    dir: index.dir,
    total: index.size,
    counts,
    unqueued: status.unqueued,
    indexing,
    throughput: Math.round(throughput * 100) / 100,
    ...(throughput > 0 && left > 0 ? { etaSeconds: Math.round(left / throughput) } : {}),
    finishedHistory: { bucketMs: BUCKET_MS, counts: history },
    byName: top(names).map(([name, byState]) => ({ name, counts: byState })),
    byTag: top(tags).map(([tag, byState]) => ({ tag, counts: byState })),
    failures: sorted.slice(0, MAX_GROUPS).map((group) => ({ ...group, jobIds: [...group.jobIds].reverse() })),
    failureGroups: sorted.length,
  };
  return { overview, status };
}

function bump(map: Map<string, Record<JobState, number>>, key: string, state: JobState): void {
  let byState = map.get(key);
  if (byState === undefined) map.set(key, (byState = zero()));
  byState[state]++;
}

function addFailure(groups: Map<string, FailureGroup>, row: JobRow): void {
  const code = row.error?.code ?? "UNKNOWN";
  const message = row.error?.message ?? "";
  const key = `${code}\u0000${message}`;
  let group = groups.get(key);
  if (group === undefined) groups.set(key, (group = { code, message, count: 0, jobIds: [] }));
  group.count++;
  // Rows come oldest first: keep the newest few.
  group.jobIds.push(row.id);
  if (group.jobIds.length > MAX_SAMPLE_IDS) group.jobIds.shift();
}

function top(map: Map<string, Record<JobState, number>>): Array<[string, Record<JobState, number>]> {
  const total = (byState: Record<JobState, number>) => JOB_STATES.reduce((sum, state) => sum + byState[state], 0);
  return [...map].sort((a, b) => total(b[1]) - total(a[1])).slice(0, 50);
}

/** Whether a row is in a failure group (for "retry all" of one group). */
export function inFailureGroup(row: JobRow, code: string, message: string): boolean {
  return row.state === "failed" && (row.error?.code ?? "UNKNOWN") === code && (row.error?.message ?? "") === message;
}
