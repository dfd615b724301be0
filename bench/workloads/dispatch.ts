/**
 * W1 dispatch and its local limit: no-op jobs (`echo(i)`) from the first `submit` to the last
 * result. Every result is checked (ok, and the value it was given).
 */
import { Malocher, type ClusterOptions, type JobResult, type ProcessAllOptions } from "malocher";
import { echo } from "../bench-jobs.js";
import type { CpuMeter, CpuUse } from "../cpu-meter.js";
import { now } from "../measurement.js";

export interface DispatchRun {
  jobs: number;
  ms: number;
  /** The synchronous submit loop alone: the supervisor's event loop is blocked meanwhile. */
  submitMs: number;
  jobsPerSecond: number;
  /** CPU use from the first submit to the last result. */
  cpu: CpuUse;
}

/**
 * Submits `count` no-op jobs into the empty directory `dir`, then runs them with a plain
 * `processAll(options)` (agents started for this run and stopped after it: SSH nodes, or one
 * local agent without `sshMachines`). The clock includes starting the agents.
 */
export async function dispatchWithProcessAll(
  dir: string,
  count: number,
  options: Omit<ProcessAllOptions, "dir">,
  meter: CpuMeter,
  atLastResult?: () => Promise<void>,
  way: SubmitWay = "oneByOne",
): Promise<DispatchRun> {
  const malocher = new Malocher({ dir });
  meter.start();
  const started = now();
  const expected = way === "batch" ? await submitEchoBatch(malocher, count) : submitEchoJobs(malocher, count);
  return await collect(malocher.processAll(options), expected, started, now() - started, meter, atLastResult);
}

/** How the jobs are submitted: a `submit()` loop, or one `submitMany` (the batch path: spec chunks). */
export type SubmitWay = "oneByOne" | "batch";

/** How each {@link SubmitWay} is named in the report. */
export const SUBMIT_WAY_NAMES: Record<SubmitWay, string> = { batch: "one `submitMany`", oneByOne: "a `submit()` loop" };

/**
 * The same on a cluster started (and every agent ready) before the clock starts: the dispatch
 * alone, without bootstrap. `way` says how the jobs are submitted.
 */
export async function dispatchOnStartedCluster(
  dir: string,
  count: number,
  options: Omit<ClusterOptions, "dir">,
  meter: CpuMeter,
  way: SubmitWay = "oneByOne",
  beforeClock?: () => Promise<void>,
): Promise<DispatchRun> {
  return (await dispatchRunsOnStartedCluster(dir, count, options, meter, way, 1, beforeClock))[0]!;
}

/**
 * `runs` such runs of `count` jobs (new ids each), one after another on one started cluster: the
 * first on processes that ran no job yet, each next one on processes that ran the ones before.
 * `beforeClock` runs once, before the first run's clock.
 */
export async function dispatchRunsOnStartedCluster(
  dir: string,
  count: number,
  options: Omit<ClusterOptions, "dir">,
  meter: CpuMeter,
  way: SubmitWay,
  runs: number,
  beforeClock?: () => Promise<void>,
): Promise<DispatchRun[]> {
  const malocher = new Malocher({ dir });
  const cluster = await malocher.startCluster(options);
  try {
    await cluster.ready();
    await beforeClock?.();
    const measured: DispatchRun[] = [];
    for (let run = 0; run < runs; run++) {
      meter.start();
      const started = now();
      const expected = way === "batch" ? await submitEchoBatch(malocher, count) : submitEchoJobs(malocher, count);
      measured.push(await collect(cluster.processAll({ jobs: [...expected.keys()] }), expected, started, now() - started, meter));
    }
    return measured;
  } finally {
    await cluster.close();
  }
}

/** One `submitMany(echo, [[0], [1], …])`; returns job id → i. */
async function submitEchoBatch(malocher: Malocher, count: number): Promise<Map<string, number>> {
  const ids = await malocher.submitMany(echo, Array.from({ length: count }, (_, i): [number] => [i]));
  return new Map(ids.map((id, i) => [id, i]));
}

/** Submits `echo(i)` for i < count; returns job id → i. */
function submitEchoJobs(malocher: Malocher, count: number): Map<string, number> {
  const expected = new Map<string, number>();
  for (let i = 0; i < count; i++) expected.set(malocher.submit(echo, i), i);
  return expected;
}

/** Checks every result; `atLastResult` runs after the clock stopped, while the agents still run. */
async function collect(
  results: AsyncIterable<[string, JobResult]>,
  expected: Map<string, number>,
  started: number,
  submitMs: number,
  meter: CpuMeter,
  atLastResult?: () => Promise<void>,
): Promise<DispatchRun> {
  let received = 0;
  let ms = 0;
  let cpu: CpuUse | undefined;
  for await (const [jobId, result] of results) {
    if (!result.ok) throw new Error(`job ${jobId} failed: ${result.error.code ?? ""} ${result.error.message}`);
    if (result.value !== expected.get(jobId)) throw new Error(`job ${jobId} returned ${String(result.value)}, expected ${expected.get(jobId)}`);
    if (++received === expected.size) {
      ms = now() - started;
      cpu = meter.stop(); // before the run's end stops the agents
      await atLastResult?.();
    }
  }
  if (received !== expected.size || cpu === undefined) throw new Error(`${received} of ${expected.size} results arrived`);
  return { jobs: received, ms, submitMs, jobsPerSecond: received / (ms / 1000), cpu };
}
