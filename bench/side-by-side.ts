/**
 * Each workload for Malocher, the Dask `SSHCluster` peer and GNU parallel, measured on the same
 * nodes in the same run: the numbers and the ratios Malocher ÷ peer (issue 19).
 */
import { percentile, ratio, summarize, type Summary } from "./measurement.js";
import type { Measurements } from "./suite.js";
import { TARGETS, type Target } from "./targets.js";
import { runsSubmitted } from "./workloads/efficiency.js";

export interface SideBySide {
  what: string;
  unit: "jobs/s" | "ms" | "" | "×";
  /** Which way is better: a rate or an efficiency higher, a time lower. */
  better: "higher" | "lower";
  ours: Summary;
  /** Undefined when the peer was skipped or does not run this workload. */
  dask?: Summary;
  parallel?: Summary;
  /** How the peers ran it, for the reader. */
  how: string;
  /** Issue 19's target for Malocher ÷ Dask. */
  daskTarget?: Target;
}

export function sideBySide(results: Measurements): SideBySide[] {
  const s = results.settings;
  const d = results.dispatch;
  const k = results.dask;
  const maybe = (samples: readonly number[]) => (samples.length > 0 ? summarize(samples) : undefined);
  const rates = (runs: ReadonlyArray<{ jobsPerSecond: number }>) => maybe(runs.map((run) => run.jobsPerSecond));
  const parallelRate = summarize(d.peers[0]!);
  const warmOurs = (p: number) => summarize(results.latency.warm.map((runs) => percentile(runs.map((run) => run.totalMs), p)));
  const warmDask = (p: number) => maybe(k.warm.map((runs) => percentile(runs, p)));
  const readyRatio = (big: readonly number[], one: readonly number[]) => (big.length > 0 && one.length > 0 ? ratio(summarize(big), summarize(one)) : undefined);
  const lines: Array<SideBySide | undefined> = [
    {
      what: `W1 batch: ${s.dispatchJobs} no-op jobs, one \`submitMany\`, then \`processAll\` on a started cluster`,
      unit: "jobs/s",
      better: "higher",
      ours: rates(d.batchStartedCluster)!,
      dask: rates(k.batch),
      parallel: parallelRate,
      how: "Dask: `client.map` + `gather`, on a cluster started for it (as each of our ways); parallel: `-S 4/node`, ControlMaster, `node -e`",
      daskTarget: TARGETS.batchVersusDask,
    },
    {
      what: `W1 one by one: a \`submit()\` loop, then \`processAll\` on a started cluster`,
      unit: "jobs/s",
      better: "higher",
      ours: rates(d.startedCluster)!,
      dask: rates(k.oneByOne),
      parallel: parallelRate,
      how: "Dask: a `client.submit` loop + `gather`, on a cluster started for it; parallel as above",
      daskTarget: TARGETS.oneByOneVersusDask,
    },
    {
      what: `W1 batch at scale: one \`submitMany\` of ${s.batchAtScaleJobs} no-op jobs, then \`processAll\` on a started cluster`,
      unit: "jobs/s",
      better: "higher",
      ours: rates(d.batchAtScale)!,
      dask: rates(k.batchAtScale),
      how: `Dask: \`client.map\` + \`gather\`; each on a cluster started for it. No target (the issue's is on ${s.dispatchJobs} jobs): how the ratio moves when what a run pays once weighs less`,
    },
    {
      what: `W1 batch again: ${s.dispatchJobs} more such jobs (new ids), on the cluster that had just run the first ones`,
      unit: "jobs/s",
      better: "higher",
      ours: rates(d.batchAgain)!,
      dask: rates(k.batchAgain),
      how: "Dask: `client.map` + `gather` once more, likewise, once its scheduler had forgotten the first run's tasks. No target: the same jobs on processes that each ran jobs just before",
    },
    {
      what: `W2: ${s.efficiencyJobs} jobs sleeping ${s.efficiencySleepMs} ms, ideal ÷ actual time`,
      unit: "",
      better: "higher",
      ours: summarize(runsSubmitted(results.efficiency, "batch").map((run) => run.efficiency)),
      dask: maybe(k.efficiency),
      how: "ours: one `submitMany`, then `processAll`; Dask: `client.map` + `gather` (our `submit()` loop: see W2 below)",
    },
    {
      what: `W2: ${s.efficiencyJobs} jobs sleeping 1–${s.efficiencyMixedMaxMs} ms (the same lengths), ideal ÷ actual time`,
      unit: "",
      better: "higher",
      ours: summarize(runsSubmitted(results.efficiencyMixed, "batch").map((run) => run.efficiency)),
      dask: maybe(k.efficiencyMixed),
      how: "as above",
    },
    {
      what: "W3 warm: one job at a time, submit to result, p50",
      unit: "ms",
      better: "lower",
      ours: warmOurs(50),
      dask: warmDask(50),
      parallel: summarize(results.latency.peerWarmMs),
      how: "Dask: `client.submit(…).result()`; parallel: one `node -e` job, master open",
      daskTarget: TARGETS.warmVersusDask,
    },
    { what: "W3 warm: p99", unit: "ms", better: "lower", ours: warmOurs(99), dask: warmDask(99), how: "as above" },
    {
      what: "start until ready, 1 node",
      unit: "ms",
      better: "lower",
      ours: summarize(results.latency.warmMs.one),
      dask: maybe(k.readyMs.one),
      how: "ours: `startCluster` until `ready()` (agents and their warm workers up); Dask: `SSHCluster(…)` until every worker registered (scheduler on the first node)",
      daskTarget: TARGETS.readyVersusDask,
    },
    {
      what: `start until ready, ${s.coldNodes} nodes`,
      unit: "ms",
      better: "lower",
      ours: summarize(results.latency.warmMs.big),
      dask: maybe(k.readyMs.big),
      how: "as above",
      daskTarget: TARGETS.readyVersusDask,
    },
    {
      what: `${s.coldNodes} nodes ready ÷ 1 node ready`,
      unit: "×",
      better: "lower",
      ours: readyRatio(results.latency.warmMs.big, results.latency.warmMs.one)!,
      dask: readyRatio(k.readyMs.big, k.readyMs.one),
      how: "as above",
    },
  ];
  return lines.filter((line): line is SideBySide => line !== undefined);
}
