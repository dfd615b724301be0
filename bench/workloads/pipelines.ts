/**
 * Pipelines (issue 21): what dependencies cost. A fan-out/fan-in of `jobs` jobs over one prepared
 * input (prepare → `jobs` jobs that each take its value with `resultOf` → one job that takes all
 * their values), against the same jobs without dependencies (the input and the values passed
 * inline), on one started cluster, each from the first submit to the last result; and a chain
 * of `chainJobs` jobs, each taking the previous one's value: the time per hop.
 */
import type { Malocher, StartedCluster } from "malocher";
import { resultOf } from "malocher";
import { pipelineInput, pipelineNext, pipelineSum, pipelineWork } from "../bench-jobs.js";
import { now } from "../measurement.js";
import { withDeadline } from "../wait.js";

const RUN_DEADLINE_MS = 600_000;

/** One fan-out/fan-in: milliseconds to submit everything, and from the first submit to the last result. */
export interface FanRun {
  jobs: number;
  /** Dependency edges: `jobs` into the fan-out, `jobs` into the fan-in (0 without dependencies). */
  edges: number;
  submitMs: number;
  totalMs: number;
}

/** Runs `ids` on `cluster` to their end; throws if one failed. */
async function runToEnd(cluster: StartedCluster, ids: string[], what: string): Promise<void> {
  const run = async () => {
    for await (const [jobId, result] of cluster.processAll({ jobs: ids })) {
      if (!result.ok) throw new Error(`${what}: job ${jobId} failed: [${result.error.code}] ${result.error.message}`);
    }
  };
  await withDeadline(run(), RUN_DEADLINE_MS, () => `${what} did not end within ${RUN_DEADLINE_MS} ms`);
}

/** prepare → `jobs` × work(resultOf(prepare), i) → sum(resultOf(each)). */
export async function fanOutFanIn(malocher: Malocher, cluster: StartedCluster, jobs: number): Promise<FanRun> {
  const started = now();
  const input = malocher.submit(pipelineInput);
  const fanOut = await malocher.submitMany(pipelineWork, Array.from({ length: jobs }, (_, i): [number, number] => [resultOf<number>(input), i]));
  const fanIn = malocher.submit(pipelineSum, fanOut.map((jobId) => resultOf<number>(jobId)));
  const submitMs = now() - started;
  await runToEnd(cluster, [input, ...fanOut, fanIn], "the fan-out/fan-in with dependencies");
  return { jobs: jobs + 2, edges: 2 * jobs, submitMs, totalMs: now() - started };
}

/** The same jobs without dependencies: the input and the values inline. */
export async function fanOutFanInInline(malocher: Malocher, cluster: StartedCluster, jobs: number): Promise<FanRun> {
  const started = now();
  const input = malocher.submit(pipelineInput);
  const fanOut = await malocher.submitMany(pipelineWork, Array.from({ length: jobs }, (_, i): [number, number] => [42, i]));
  const fanIn = malocher.submit(pipelineSum, Array.from({ length: jobs }, (_, i) => 42 + i));
  const submitMs = now() - started;
  await runToEnd(cluster, [input, ...fanOut, fanIn], "the fan-out/fan-in without dependencies");
  return { jobs: jobs + 2, edges: 0, submitMs, totalMs: now() - started };
}

/** A chain of `hops` jobs, each taking the previous one's value: milliseconds per hop. */
export async function chainPerHopMs(malocher: Malocher, cluster: StartedCluster, hops: number): Promise<number> {
  const started = now();
  const ids = [malocher.submit(pipelineNext, 0)];
  for (let i = 1; i < hops; i++) ids.push(malocher.submit(pipelineNext, resultOf<number>(ids[i - 1]!)));
  await runToEnd(cluster, ids, "the chain");
  return (now() - started) / hops;
}
