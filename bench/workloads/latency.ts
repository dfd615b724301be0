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

/** A cluster's start: until every agent said hello (the CPU meanwhile), and until every warm worker had started. */
export interface ClusterStart {
  helloMs: number;
  helloCpu: CpuUse;
  warmMs: number;
}

/**
 * ms from `startCluster(options)` until every agent said hello (its node's "ready" event) and
 * the CPU use meanwhile, then until `ready()` (every agent's warm workers started as well); the
 * cluster is closed after.
 */
export async function measureClusterStart(
  dir: string,
  options: Omit<ClusterOptions, "dir"> & { sshMachines: readonly string[]; onEvent?: (event: RunEvent) => void },
  meter: CpuMeter,
): Promise<ClusterStart> {
  const nodes = options.sshMachines.length;
  const helloFrom = new Set<string>();
  let allSaidHello!: () => void;
  const saidHello = new Promise<void>((resolve) => (allSaidHello = resolve));
  const onEvent = (event: RunEvent) => {
    options.onEvent?.(event);
    if (event.type !== "node" || event.state !== "ready") return;
    helloFrom.add(event.host);
    if (helloFrom.size === nodes) allSaidHello();
  };
  meter.start();
  const started = now();
  const cluster = await new Malocher({ dir }).startCluster({ ...options, onEvent });
  try {
    await Promise.race([saidHello, cluster.ready().then(() => Promise.reject(new Error(`ready() resolved with ${helloFrom.size} of ${nodes} nodes' hello`)))]);
    const helloMs = now() - started;
    const helloCpu = meter.stop();
    await cluster.ready();
    return { helloMs, helloCpu, warmMs: now() - started };
  } finally {
    await cluster.close();
  }
}
