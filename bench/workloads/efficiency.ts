/**
 * W2 efficiency: jobs that sleep a fixed time on a started cluster. The ideal time is
 * jobs × sleep / slots (every slot busy from the first submit to the last result); efficiency is
 * ideal / actual. Also records what the time went to: when the first job started, how long the
 * agents took per job, and how evenly the jobs spread (agents that hoard leave others idle).
 */
import type { Malocher, StartedCluster } from "malocher";
import { sleepStamped, type SleepStamp } from "../bench-jobs.js";
import { now, percentile, summarize } from "../measurement.js";

/** Every slot busy from the first submit to the last result: the sum of the lengths ÷ the slots. */
export function idealSleepMs(lengthsMs: readonly number[], totalSlots: number): number {
  return lengthsMs.reduce((sum, ms) => sum + ms, 0) / totalSlots;
}

export interface EfficiencyRun {
  idealMs: number;
  actualMs: number;
  efficiency: number;
  /** First submit until the first job's code started (the job's own clock). */
  firstStartMs: number;
  /** First submit until every slot's first job had started. */
  allSlotsStartedMs: number;
  /** The last job's end until its result was yielded. */
  lastResultMs: number;
  /** The one-by-one `submit()` of all jobs (synchronous; agents are told while it runs). */
  submitMs: number;
  /** Per worker, from one job's end to the next one's start (the hand-off): median and 90th percentile. */
  handoffMs: { median: number; p90: number };
  /** Jobs the busiest worker ran (an even spread gives jobs ÷ slots). */
  busiestWorkerJobs: number;
  /** Median of the agents' own run time per job (worker run, as the agent measures it). */
  medianRunMs: number;
  /** Jobs each node ran. */
  jobsPerNode: Record<string, number>;
}

/**
 * `count` sleep lengths spread evenly at random over 1…`maxMs` ms, the same every time (a fixed
 * seed), so that Malocher and its peers get the same jobs in the same order.
 */
export function mixedSleepLengths(count: number, maxMs: number): number[] {
  let state = 0x2545f491;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0; // a linear congruential generator
    return 1 + Math.floor(((state >>> 8) / 2 ** 24) * maxMs);
  });
}

/** One job per entry of `lengthsMs`, each sleeping that long, submitted one by one. */
export async function measureEfficiency(malocher: Malocher, cluster: StartedCluster, lengthsMs: readonly number[], totalSlots: number): Promise<EfficiencyRun> {
  const jobs = lengthsMs.length;
  const startedAt = Date.now(); // the jobs' clock (the nodes share this machine's)
  const started = now();
  const ids: string[] = [];
  for (const ms of lengthsMs) ids.push(malocher.submit(sleepStamped, ms));
  const submitMs = now() - started;
  const jobsPerNode: Record<string, number> = {};
  const runMs: number[] = [];
  const byWorker = new Map<number, SleepStamp[]>();
  const run = cluster.processAll({
    jobs: ids,
    onEvent: (event) => {
      if (event.type === "jobFinished") runMs.push(event.durationMs);
    },
  });
  let received = 0;
  let lastEndedAt = 0;
  for await (const [jobId, result] of run) {
    if (!result.ok) throw new Error(`job ${jobId} failed: ${result.error.message}`);
    jobsPerNode[result.host] = (jobsPerNode[result.host] ?? 0) + 1;
    const stamp = result.value as SleepStamp;
    byWorker.set(stamp.pid, [...(byWorker.get(stamp.pid) ?? []), stamp]);
    lastEndedAt = Math.max(lastEndedAt, stamp.endedAt);
    received++;
  }
  const actualMs = now() - started;
  const endedAt = Date.now();
  if (received !== jobs) throw new Error(`${received} of ${jobs} results arrived`);
  const idealMs = idealSleepMs(lengthsMs, totalSlots);
  const workers = [...byWorker.values()].map((ran) => ran.sort((a, b) => a.startedAt - b.startedAt));
  const handoffs = workers.flatMap((ran) => ran.slice(1).map((stamp, i) => stamp.startedAt - ran[i]!.endedAt));
  const firstStarts = workers.map((ran) => ran[0]!.startedAt - startedAt);
  return {
    idealMs,
    actualMs,
    efficiency: idealMs / actualMs,
    firstStartMs: Math.min(...firstStarts),
    allSlotsStartedMs: Math.max(...firstStarts),
    lastResultMs: endedAt - lastEndedAt,
    submitMs,
    handoffMs: { median: summarize(handoffs).median, p90: percentile(handoffs, 90) },
    busiestWorkerJobs: Math.max(...workers.map((ran) => ran.length)),
    medianRunMs: summarize(runMs).median,
    jobsPerNode,
  };
}
