/**
 * W2 efficiency: jobs that sleep a fixed time on a started cluster. The ideal time is
 * jobs × sleep / slots (every slot busy from the first submit to the last result); efficiency is
 * ideal / actual. Also records what the time went to: when the first job started, how long the
 * agents took per job, and how evenly the jobs spread (agents that hoard leave others idle).
 */
import type { Malocher, StartedCluster } from "malocher";
import { sleepStamped, type SleepStamp } from "../bench-jobs.js";
import { now, percentile, summarize, type Summary } from "../measurement.js";
import type { BenchSettings } from "../bench-settings.js";
import type { SubmitWay } from "./dispatch.js";

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
  /** How the jobs were submitted. */
  way: SubmitWay;
  /** Submitting all jobs: one `submitMany` (agents are told as each chunk is written), or the `submit()` loop (agents are told while it runs). */
  submitMs: number;
  /** Per worker, from one job's end to the next one's start (the hand-off): median and 90th percentile. */
  handoffMs: { median: number; p90: number };
  /**
   * What each job cost its slot beyond its length, on average: the slots' time from their first
   * job's start to their last job's end, less the jobs' lengths, ÷ the jobs (hand-offs and the
   * timers' overrun).
   */
  slotOverheadPerJobMs: number;
  /** At the end, how long a slot sat idle after its last job until the run's last job ended: the mean over the slots that ran a job. */
  tailIdleMs: number;
  /** Jobs the busiest worker ran (an even spread gives jobs ÷ slots). */
  busiestWorkerJobs: number;
  /** Median of the agents' own run time per job (worker run, as the agent measures it). */
  medianRunMs: number;
  /** Jobs each node ran. */
  jobsPerNode: Record<string, number>;
}

/** W2's jobs: `efficiencyJobs` of `efficiencySleepMs` each, and as many of 1…`efficiencyMixedMaxMs` ms (see {@link mixedSleepLengths}). */
export function w2SleepLengths(settings: BenchSettings): { fixed: number[]; mixed: number[] } {
  return {
    fixed: Array.from({ length: settings.efficiencyJobs }, () => settings.efficiencySleepMs),
    mixed: mixedSleepLengths(settings.efficiencyJobs, settings.efficiencyMixedMaxMs),
  };
}

/** W2's lengths as the report names them: the fixed length, or the range of the mixed ones. */
export function w2LengthsText(settings: BenchSettings, mixed: boolean): string {
  return mixed ? `1–${settings.efficiencyMixedMaxMs} ms` : `${settings.efficiencySleepMs} ms`;
}

/** The runs of `runs` whose jobs were submitted `way`. */
export function runsSubmitted(runs: readonly EfficiencyRun[], way: SubmitWay): EfficiencyRun[] {
  return runs.filter((run) => run.way === way);
}

/**
 * `count` sleep lengths spread evenly at random over 1…`maxMs` ms, the same every time (a fixed
 * seed), so that Malocher and its peers get the same jobs in the same order.
 */
export function mixedSleepLengths(count: number, maxMs: number): number[] {
  const random = seededRandom(0x2545f491);
  return Array.from({ length: count }, () => 1 + Math.floor(random() * maxMs));
}

/** Numbers in [0, 1) from a linear congruential generator: the same sequence for the same seed. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) / 2 ** 24;
  };
}

/**
 * One job per entry of `lengthsMs`, each sleeping that long, submitted in one `submitMany` (`batch`,
 * as Dask's `client.map`) or by a `submit()` loop (`oneByOne`).
 */
export async function measureEfficiency(malocher: Malocher, cluster: StartedCluster, lengthsMs: readonly number[], totalSlots: number, way: SubmitWay): Promise<EfficiencyRun> {
  const jobs = lengthsMs.length;
  const startedAt = Date.now(); // the jobs' clock (the nodes share this machine's)
  const started = now();
  const ids: string[] = [];
  if (way === "batch") ids.push(...(await malocher.submitMany(sleepStamped, lengthsMs.map((ms): [number] => [ms]))));
  else for (const ms of lengthsMs) ids.push(malocher.submit(sleepStamped, ms));
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
  for await (const [jobId, result] of run) {
    if (!result.ok) throw new Error(`job ${jobId} failed: ${result.error.message}`);
    jobsPerNode[result.host] = (jobsPerNode[result.host] ?? 0) + 1;
    const stamp = result.value as SleepStamp;
    byWorker.set(stamp.pid, [...(byWorker.get(stamp.pid) ?? []), stamp]);
    received++;
  }
  const actualMs = now() - started;
  const endedAt = Date.now();
  if (received !== jobs) throw new Error(`${received} of ${jobs} results arrived`);
  const idealMs = idealSleepMs(lengthsMs, totalSlots);
  const workers = [...byWorker.values()].map((ran) => ran.sort((a, b) => a.startedAt - b.startedAt));
  const handoffs = workers.flatMap((ran) => ran.slice(1).map((stamp, i) => stamp.startedAt - ran[i]!.endedAt));
  const firstStarts = workers.map((ran) => ran[0]!.startedAt - startedAt);
  const lastEnds = workers.map((ran) => Math.max(...ran.map((stamp) => stamp.endedAt)));
  const lastEndedAt = Math.max(...lastEnds);
  const busySpans = workers.reduce((sum, ran, i) => sum + lastEnds[i]! - ran[0]!.startedAt, 0);
  return {
    idealMs,
    actualMs,
    efficiency: idealMs / actualMs,
    firstStartMs: Math.min(...firstStarts),
    allSlotsStartedMs: Math.max(...firstStarts),
    lastResultMs: endedAt - lastEndedAt,
    way,
    submitMs,
    handoffMs: { median: summarize(handoffs).median, p90: percentile(handoffs, 90) },
    slotOverheadPerJobMs: (busySpans - idealMs * totalSlots) / jobs,
    tailIdleMs: lastEnds.reduce((sum, end) => sum + (lastEndedAt - end), 0) / workers.length,
    busiestWorkerJobs: Math.max(...workers.map((ran) => ran.length)),
    medianRunMs: summarize(runMs).median,
    jobsPerNode,
  };
}

/**
 * An estimate of the efficiency these jobs allow a scheduler without foresight, in the order given:
 * each, in turn, goes to the slot that comes free first, and costs it `overheadMs` beyond its
 * length (a scheduler that knew the lengths could do better, longest first). With lengths that
 * differ, which jobs come last decides how long the other slots idle at the end.
 */
export function listScheduleEfficiency(lengthsMs: readonly number[], slots: number, overheadMs: number): number {
  const freeAt = new Array<number>(slots).fill(0);
  for (const ms of lengthsMs) {
    let first = 0;
    for (let i = 1; i < slots; i++) if (freeAt[i]! < freeAt[first]!) first = i;
    freeAt[first]! += ms + overheadMs;
  }
  return idealSleepMs(lengthsMs, slots) / Math.max(...freeAt);
}

/** {@link listScheduleEfficiency} over `orders` random orders of the jobs (a fixed seed: the same every run). */
export function listScheduleEfficiencyShuffled(lengthsMs: readonly number[], slots: number, overheadMs: number, orders: number): Summary & { p5: number } {
  const random = seededRandom(0x9e3779b9);
  const efficiencies = Array.from({ length: orders }, () => {
    const order = [...lengthsMs];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return listScheduleEfficiency(order, slots, overheadMs);
  });
  return { ...summarize(efficiencies), p5: percentile(efficiencies, 5) };
}
