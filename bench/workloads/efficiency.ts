/**
 * W2 efficiency: jobs that sleep a fixed time on a started cluster. The ideal time is
 * jobs × sleep / slots (every slot busy from the first submit to the last result); efficiency is
 * ideal / actual. Also records what the time went to: when the first job started, how long the
 * agents took per job, and how evenly the jobs spread (agents that hoard leave others idle).
 */
import type { Malocher, StartedCluster } from "malocher";
import { sleepFor } from "../bench-jobs.js";
import { now, summarize } from "../measurement.js";

export interface EfficiencyRun {
  idealMs: number;
  actualMs: number;
  efficiency: number;
  /** First submit until the first "started" message. */
  firstStartMs: number;
  /** The one-by-one `submit()` of all jobs (synchronous: agents hear of them once it is done). */
  submitMs: number;
  /** Median of the agents' own run time per job (worker run, as the agent measures it). */
  medianRunMs: number;
  /** Jobs each node ran. */
  jobsPerNode: Record<string, number>;
}

export async function measureEfficiency(malocher: Malocher, cluster: StartedCluster, jobs: number, sleepMs: number, totalSlots: number): Promise<EfficiencyRun> {
  const started = now();
  const ids: string[] = [];
  for (let i = 0; i < jobs; i++) ids.push(malocher.submit(sleepFor, sleepMs));
  const submitMs = now() - started;
  const jobsPerNode: Record<string, number> = {};
  const runMs: number[] = [];
  let firstStartMs = NaN;
  let received = 0;
  const run = cluster.processAll({
    jobs: ids,
    onEvent: (event) => {
      if (event.type === "jobStarted" && Number.isNaN(firstStartMs)) firstStartMs = now() - started;
      if (event.type === "jobFinished") runMs.push(event.durationMs);
    },
  });
  for await (const [jobId, result] of run) {
    if (!result.ok) throw new Error(`job ${jobId} failed: ${result.error.message}`);
    jobsPerNode[result.host] = (jobsPerNode[result.host] ?? 0) + 1;
    received++;
  }
  const actualMs = now() - started;
  if (received !== jobs) throw new Error(`${received} of ${jobs} results arrived`);
  const idealMs = (jobs * sleepMs) / totalSlots;
  return { idealMs, actualMs, efficiency: idealMs / actualMs, firstStartMs, submitMs, medianRunMs: summarize(runMs).median, jobsPerNode };
}
