/**
 * W3 latency: one job on an idle, started cluster (submit to result), and the cold start: one job
 * through a plain `processAll` that first has to bring up its agents, and the time a started
 * cluster needs until every agent said hello.
 */
import { Malocher, type ClusterOptions, type RunEvent, type StartedCluster } from "malocher";
import type { CpuMeter, CpuUse } from "../cpu-meter.js";
import { echo } from "../bench-jobs.js";
import { now } from "../measurement.js";

/** One warm job's submit-to-result time, and its phases as the supervisor saw them. */
export interface WarmLatency {
  totalMs: number;
  /** Submit until the agent's "started" message arrived (queue, nudge, scan, claim). */
  toStartMs: number;
  /** "started" until "finished" (run in the warm worker, publish the result). */
  runMs: number;
  /** "finished" until `processAll` yielded the result (read the result file). */
  toResultMs: number;
}

/** `runs` single jobs, one after another, on an idle started cluster. */
export async function measureWarmLatency(malocher: Malocher, cluster: StartedCluster, runs: number): Promise<WarmLatency[]> {
  const latencies: WarmLatency[] = [];
  for (let i = 0; i < runs; i++) {
    let startedAt = NaN;
    let finishedAt = NaN;
    const submittedAt = now();
    const jobId = malocher.submit(echo, i);
    const onEvent = (event: RunEvent) => {
      if (event.type === "jobStarted" && event.jobId === jobId) startedAt = now();
      if (event.type === "jobFinished" && event.jobId === jobId) finishedAt = now();
    };
    for await (const [, result] of cluster.processAll({ jobs: [jobId], onEvent })) {
      if (!result.ok || result.value !== i) throw new Error(`job ${jobId} failed or returned the wrong value`);
    }
    const resultAt = now();
    latencies.push({ totalMs: resultAt - submittedAt, toStartMs: startedAt - submittedAt, runMs: finishedAt - startedAt, toResultMs: resultAt - finishedAt });
  }
  return latencies;
}

/** ms from submitting one job into the empty `dir` to its result, through `processAll(options)`. */
export async function measureColdProcessAll(dir: string, options: Omit<ClusterOptions, "dir">): Promise<number> {
  const malocher = new Malocher({ dir });
  const started = now();
  const jobId = malocher.submit(echo, 1);
  let ms: number | undefined;
  for await (const [, result] of malocher.processAll(options)) {
    if (!result.ok) throw new Error(`job ${jobId} failed: ${result.error.message}`);
    ms = now() - started; // the run then stops its agents, which is not part of the latency
  }
  if (ms === undefined) throw new Error(`job ${jobId} gave no result`);
  return ms;
}

/**
 * ms from `startCluster(options)` until `ready()` (every agent said hello), and the CPU use
 * meanwhile; the cluster is closed after.
 */
export async function measureClusterReady(dir: string, options: Omit<ClusterOptions, "dir">, meter: CpuMeter): Promise<{ ms: number; cpu: CpuUse }> {
  meter.start();
  const started = now();
  const cluster = await new Malocher({ dir }).startCluster(options);
  try {
    await cluster.ready();
    const ms = now() - started;
    return { ms, cpu: meter.stop() };
  } finally {
    await cluster.close();
  }
}
