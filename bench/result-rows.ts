/**
 * The results of a run as rows: every result a ratio against a peer or a limit measured in the
 * same run, with the issue's target and PASS/MISS where it has one. Also the derived numbers the
 * report and its explanations share.
 */
import type { CpuUse } from "./cpu-meter.js";
import { number, percent, summaryText } from "./markdown.js";
import { percentile, ratio, summarize, type Summary } from "./measurement.js";
import { CPU_TICK_MS } from "./process-table.js";
import { PEER_VARIANTS, describePeer, type Measurements } from "./suite.js";
import { sideBySide } from "./side-by-side.js";
import { TARGETS, verdict, type Target, type Verdict } from "./targets.js";
import { SUBMIT_WAY_NAMES, type DispatchRun, type SubmitWay } from "./workloads/dispatch.js";
import { dashboardShare, type SupervisorRun } from "./workloads/dashboard.js";
import { runsSubmitted, w2LengthsText } from "./workloads/efficiency.js";
import type { WarmLatency } from "./workloads/latency.js";
import type { SubmitRun } from "./workloads/scale.js";

/** One reported result. */
export interface ResultRow {
  workload: Workload;
  what: string;
  value: Summary;
  format: "ratio" | "plain" | "percent";
  target?: Target;
  verdict?: Verdict;
  /** The measurements behind the ratio. */
  detail: string;
  /** A W2 row's jobs: how they were submitted, and which lengths (the explanation of a miss reads these). */
  w2Jobs?: W2Jobs;
}

/** Which of W2's runs a row summarizes. */
export interface W2Jobs {
  way: SubmitWay;
  mixed: boolean;
}

export const WORKLOADS = ["Side by side with Dask", "W1 dispatch", "Limits", "W2 efficiency", "W3 latency", "W4 scale"] as const;
export type Workload = (typeof WORKLOADS)[number];

/** Targets that the cost of a job's path (submit, claim, run, publish, notify) decides. */
export const HOT_PATH_TARGETS: readonly Target[] = [
  TARGETS.dispatchVersusParallel,
  TARGETS.dispatchVersusLocalAgent,
  TARGETS.efficiency,
  TARGETS.warmLatencyVersusParallel,
  TARGETS.batchVersusDask,
  TARGETS.oneByOneVersusDask,
  TARGETS.batchVersusOneByOneDispatch,
  TARGETS.warmVersusDask,
];

/** Whether a target of the per-job path was missed: then a profile of that path is worth taking. */
export function hotPathMissesTarget(measured: Measurements): boolean {
  return resultRows(measured).some((row) => row.verdict === "MISS" && row.target !== undefined && HOT_PATH_TARGETS.includes(row.target));
}

export function resultRows(results: Measurements): ResultRow[] {
  const s = results.settings;
  const d = results.dispatch;
  const rows: ResultRow[] = [];
  const skipped = results.dask.availability.available ? "" : `not measured: ${results.dask.availability.why}`;
  for (const line of sideBySide(results)) {
    if (!line.daskTarget) continue;
    const row: ResultRow = {
      workload: "Side by side with Dask",
      what: `${line.what}: Malocher ÷ Dask`,
      value: line.dask ? ratio(line.ours, line.dask) : { median: NaN, min: NaN, max: NaN, samples: [] },
      format: "ratio",
      target: line.daskTarget,
      detail: line.dask ? `Malocher ${summaryText(line.ours)} ${line.unit}, Dask ${summaryText(line.dask)} ${line.unit} (${line.better} is better)` : skipped,
    };
    rows.push(line.dask ? targeted(row) : row);
  }
  const batchStarted = jobsPerSecond(d.batchStartedCluster);
  const oneByOneStarted = jobsPerSecond(d.startedCluster);
  rows.push(
    targeted({
      workload: "Side by side with Dask",
      what: "W1 on a started cluster: batch (`submitMany`) jobs/s ÷ one-by-one (`submit()` loop) jobs/s",
      value: ratio(batchStarted, oneByOneStarted),
      format: "ratio",
      target: TARGETS.batchVersusOneByOneDispatch,
      detail: `batch ${summaryText(batchStarted)} jobs/s, one by one ${summaryText(oneByOneStarted)} jobs/s`,
    }),
  );
  const ours = jobsPerSecond(d.processAll);
  const started = jobsPerSecond(d.startedCluster);
  const local = jobsPerSecond(d.localAgent);
  const peers = d.peers.map((rates) => summarize(rates));
  const renames = summarize(results.fileSystem.renamesPerSecond);
  const writeLinks = summarize(results.fileSystem.writeLinksPerSecond);

  const w1 = "W1 dispatch";
  for (const [index, variant] of PEER_VARIANTS.entries()) {
    const peerJobs = variant.controlMaster ? s.peerJobsWithControlMaster : s.peerJobsWithoutControlMaster;
    rows.push(
      targeted({
        workload: w1,
        what: `our jobs/s ÷ GNU parallel ${describePeer(variant)}`,
        value: ratio(ours, peers[index]!),
        format: "ratio",
        detail: `ours ${summaryText(ours)} jobs/s (${s.dispatchJobs} jobs, processAll over ${s.nodes} nodes × ${s.slotsPerNode} slots, agent start included); parallel ${summaryText(peers[index]!)} jobs/s (${peerJobs} jobs, ${s.peerJobsPerNode} per node)`,
        ...(index === 0 ? { target: TARGETS.dispatchVersusParallel } : {}),
      }),
    );
  }
  if (d.dashboardPairs.length > 0) rows.push(dashboardRow(results));
  rows.push({
    workload: w1,
    what: "on a started cluster (agent start excluded) ÷ GNU parallel with ControlMaster, `node -e`",
    value: ratio(started, peers[0]!),
    format: "ratio",
    detail: `started cluster ${summaryText(started)} jobs/s, parallel ${summaryText(peers[0]!)} jobs/s`,
  });

  const limits = "Limits";
  rows.push(
    targeted({
      workload: limits,
      what: "W1 jobs/s ÷ the same jobs on one local agent (no SSH)",
      value: ratio(ours, local),
      format: "plain",
      target: TARGETS.dispatchVersusLocalAgent,
      detail: `W1 ${summaryText(ours)} jobs/s; local agent (processAll without sshMachines, ${s.slotsPerNode} slots) ${summaryText(local)} jobs/s`,
    }),
  );
  rows.push({ workload: limits, what: "W1 jobs/s ÷ renames/s of the file system", value: ratio(ours, renames), format: "plain", detail: `${summaryText(renames)} renames/s (one process, back to back)` });
  rows.push({ workload: limits, what: "W1 jobs/s ÷ write+link steps/s of the file system", value: ratio(ours, writeLinks), format: "plain", detail: `${summaryText(writeLinks)} write+link+unlink steps/s` });
  rows.push({ workload: limits, what: "local agent jobs/s ÷ write+link steps/s", value: ratio(local, writeLinks), format: "plain", detail: `local agent ${summaryText(local)} jobs/s` });
  const curve = warmUpCurve(results);
  if (curve !== undefined) {
    rows.push({
      workload: limits,
      what: `the warm-up: CPU per job of one local agent, its workers and the supervisor, in their first ${s.warmUpBatchJobs} jobs ÷ in their jobs ${curve.lastJobs}`,
      value: ratio(curve.first, curve.last),
      format: "ratio",
      detail: `${summaryText(curve.first)} → ${summaryText(curve.last)} CPU-ms per job (see the warm-up curve below)`,
    });
  }

  const w2 = "W2 efficiency";
  for (const way of ["batch", "oneByOne"] as const) {
    for (const mixed of [false, true]) {
      const runs = runsSubmitted(mixed ? results.efficiencyMixed : results.efficiency, way);
      const lengths = w2LengthsText(s, mixed);
      const efficiency = summarize(runs.map((run) => run.efficiency));
      const actual = summarize(runs.map((run) => run.actualMs));
      const spread = runs.flatMap((run) => Object.values(run.jobsPerNode));
      rows.push(
        targeted({
          workload: w2,
          what: `ideal time ÷ actual time, jobs of ${lengths}, submitted by ${SUBMIT_WAY_NAMES[way]}`,
          value: efficiency,
          format: "plain",
          target: TARGETS.efficiency,
          detail: `ideal ${runs[0]!.idealMs.toFixed(0)} ms (the ${s.efficiencyJobs} jobs' total ÷ ${s.nodes * s.slotsPerNode} slots), actual ${summaryText(actual)} ms; per repeat ${runs.map((run) => run.efficiency.toFixed(3)).join(", ")}; jobs per node ${Math.min(...spread)}–${Math.max(...spread)} over the repeats`,
          w2Jobs: { way, mixed },
        }),
      );
    }
  }

  const w3 = "W3 latency";
  const warm = warmLatency(results);
  const peerWarm = summarize(results.latency.peerWarmMs);
  const peerCold = summarize(results.latency.peerColdMs);
  rows.push(
    targeted({
      workload: w3,
      what: "one job through GNU parallel with ControlMaster ÷ our warm p50",
      value: ratio(peerWarm, warm.p50),
      format: "ratio",
      target: TARGETS.warmLatencyVersusParallel,
      detail: `our p50 ${summaryText(warm.p50)} ms over ${s.latencyRuns} single jobs on an idle started cluster of ${s.nodes} nodes; parallel (\`node -e\`, master already open) ${summaryText(peerWarm)} ms`,
    }),
  );
  rows.push({ workload: w3, what: "one job through GNU parallel with ControlMaster ÷ our warm p99", value: ratio(peerWarm, warm.p99), format: "ratio", detail: `our p99 ${summaryText(warm.p99)} ms` });
  const cold = summarize(results.latency.coldProcessAllMs.small);
  const coldBig = summarize(results.latency.coldProcessAllMs.big);
  rows.push({
    workload: w3,
    what: `cold: processAll of one job on ${s.nodes} nodes ÷ one job through GNU parallel without ControlMaster`,
    value: ratio(cold, peerCold),
    format: "ratio",
    detail: `processAll (agents started, job run, result) ${summaryText(cold)} ms; parallel (new SSH connection, \`node -e\`) ${summaryText(peerCold)} ms`,
  });
  rows.push({ workload: w3, what: `cold: processAll of one job on ${s.coldNodes} nodes ÷ on ${s.nodes} nodes`, value: ratio(coldBig, cold), format: "ratio", detail: `${summaryText(coldBig)} ms vs ${summaryText(cold)} ms` });
  const readyOne = summarize(results.latency.readyMs.one);
  const readyBig = summarize(results.latency.readyMs.big);
  rows.push(
    targeted({
      workload: w3,
      what: `${s.coldNodes} nodes ready ÷ 1 node ready (from startCluster until every agent said hello)`,
      value: ratio(readyBig, readyOne),
      format: "ratio",
      target: TARGETS.readySixteenVersusOne,
      detail: `${s.coldNodes} nodes ${summaryText(readyBig)} ms, 1 node ${summaryText(readyOne)} ms`,
    }),
  );
  const warmOne = summarize(results.latency.warmMs.one);
  const warmBig = summarize(results.latency.warmMs.big);
  rows.push({
    workload: w3,
    what: `${s.coldNodes} nodes warm ÷ 1 node warm (until \`ready()\`: every agent's ${s.slotsPerNode} warm workers started too)`,
    value: ratio(warmBig, warmOne),
    format: "ratio",
    detail: `${s.coldNodes} nodes ${summaryText(warmBig)} ms, 1 node ${summaryText(warmOne)} ms`,
  });

  const w4 = "W4 scale";
  const { oneByOne, batch } = results.scale;
  const submits = summarize(oneByOne.map((run) => run.jobsPerSecond));
  const batchSubmits = summarize(batch.map((run) => run.jobsPerSecond));
  const q = results.scale.busyAndQueued;
  rows.push(
    targeted({
      workload: w4,
      what: "batch `submitMany` jobs/s ÷ one-by-one `submit()` jobs/s",
      value: ratio(batchSubmits, submits),
      format: "ratio",
      target: TARGETS.batchVersusOneByOne,
      detail:
        `submitMany of ${s.batchJobs} jobs ${summaryText(batchSubmits)} jobs/s (${submitCpuText(batch)}); ` +
        `${s.submitJobs} one-by-one submits ${summaryText(submits)} jobs/s (${submitCpuText(oneByOne)})`,
    }),
  );
  rows.push({ workload: w4, what: "one-by-one `submit()` jobs/s ÷ write+link steps/s of the file system", value: ratio(submits, writeLinks), format: "plain", detail: `${summaryText(submits)} submits/s (${s.submitJobs} jobs); ${summaryText(writeLinks)} write+link steps/s` });
  rows.push({ workload: w4, what: "`submitMany` jobs/s ÷ write+link steps/s of the file system", value: ratio(batchSubmits, writeLinks), format: "plain", detail: `${summaryText(batchSubmits)} jobs/s (${s.batchJobs} jobs); ${summaryText(writeLinks)} write+link steps/s` });
  rows.push(
    targeted({
      workload: w4,
      what: `busiest agent's CPU (share of one core), every slot busy and ${s.queuedJobs} jobs queued`,
      value: summarize(q.busiestAgentCpu),
      format: "percent",
      target: TARGETS.agentCpuWhileQueued,
      detail:
        `${q.agents} agents, ${s.repeats} window(s) of ${s.cpuWindowMs / 1000} s from ${q.settleMs / 1000} s after queueing ` +
        `(/proc counts CPU in ${CPU_TICK_MS} ms ticks: ${percent(CPU_TICK_MS / s.cpuWindowMs)} per tick); ` +
        `mean agent ${percent(summarize(q.meanAgentCpu).median)}; supervisor ${percent(summarize(q.supervisorCpu).median)}; ` +
        (q.strayStarts === 0 ? "no queued job started meanwhile (every slot stayed busy)" : `${q.strayStarts} queued jobs started meanwhile: a slot was free`),
    }),
  );
  rows.push({
    workload: w4,
    what: `supervisor RSS with ${s.queuedJobs} jobs queued ÷ before queueing them`,
    value: summarize([q.rssQueuedMb / q.rssBeforeQueueingMb]),
    format: "ratio",
    detail:
      `${q.rssBeforeQueueingMb.toFixed(0)} MB → ${q.rssQueuedMb.toFixed(0)} MB ` +
      `(${q.rssQueuedMb > q.rssBeforeQueueingMb ? `${(((q.rssQueuedMb - q.rssBeforeQueueingMb) * 2 ** 20) / s.queuedJobs).toFixed(0)} bytes per queued job` : "no growth"}); ` +
      `queueing them with submitMany took ${(q.queueingMs / 1000).toFixed(1)} s`,
  });
  return rows;
}

/** Issue 20: the share of a core the dashboard adds to the supervisor while W1 runs, from the side-by-side pairs, at W1's rate. */
function dashboardRow(results: Measurements): ResultRow {
  const d = results.dispatch;
  const rate = jobsPerSecond(d.processAll);
  const perJob = (runs: readonly SupervisorRun[]) => summaryText(summarize(runs.map((run) => run.supervisorCpuMs / run.jobs)));
  const wall = (runs: readonly SupervisorRun[]) => summaryText(summarize(runs.map((run) => run.wallMs)));
  return targeted({
    workload: "W1 dispatch",
    what: "supervisor CPU that serving the dashboard adds (`processAll({ dashboard })`, a page open), as a share of one core",
    value: dashboardShare(d.dashboardPairs, rate.median / 1000),
    format: "percent",
    target: TARGETS.dashboardCpu,
    detail:
      `W1 by two supervisors side by side, per round: CPU per job ${perJob(d.dashboardPairs.map((pair) => pair.plain))} ms plain, ${perJob(d.dashboardPairs.map((pair) => pair.withDashboard))} ms with the dashboard ` +
      `(${wall(d.dashboardPairs.map((pair) => pair.plain))} and ${wall(d.dashboardPairs.map((pair) => pair.withDashboard))} ms wall); the difference per round at W1's ${number(rate.median)} jobs/s alone`,
  });
}

/** The row with its PASS or MISS, if it has a target. */
function targeted(row: ResultRow): ResultRow {
  return row.target ? { ...row, verdict: verdict(row.target, row.value) } : row;
}

/** A row's value as `median (min – max)` in its format. */
export function showValue(row: ResultRow): string {
  const one = (value: number) => (row.format === "percent" ? percent(value) : `${number(value)}${row.format === "ratio" ? "×" : ""}`);
  const { median, min, max } = row.value;
  return min === max || !Number.isFinite(min) ? one(median) : `${one(median)} (${one(min)} – ${one(max)})`;
}

/** The submitting process's CPU per job, user space and kernel, as medians over the repeats. */
export function submitCpuText(runs: readonly SubmitRun[]): string {
  const median = (pick: (run: SubmitRun) => number) => number(summarize(runs.map(pick)).median);
  return `${median((run) => run.userUsPerJob)} µs user + ${median((run) => run.systemUsPerJob)} µs kernel CPU per job`;
}

/** The warm single jobs' p50, p99 and phases, each a summary over the repeats. */
export function warmLatency(results: Measurements) {
  // A phase is missing (NaN) when processAll found the result before the agent's messages arrived.
  const perRepeat = (pick: (run: WarmLatency) => number, p: number) =>
    summarize(results.latency.warm.map((runs) => percentile(runs.map(pick).filter(Number.isFinite), p)));
  return {
    p50: perRepeat((run) => run.totalMs, 50),
    p99: perRepeat((run) => run.totalMs, 99),
    phases: {
      total: perRepeat((run) => run.totalMs, 50),
      toStart: perRepeat((run) => run.toStartMs, 50),
      run: perRepeat((run) => run.runMs, 50),
      toResult: perRepeat((run) => run.toResultMs, 50),
    },
  };
}

function jobsPerSecond(runs: DispatchRun[]): Summary {
  return summarize(runs.map((run) => run.jobsPerSecond));
}

/** The share of all cores the machine was busy. */
export function busyShare(cpu: CpuUse): number {
  return cpu.machineBusyMs / (cpu.wallMs * cpu.cores);
}

/** CPU-ms of Malocher's processes: supervisor, agents, workers and the nodes' sshd. */
/**
 * The warm-up curve's ends: our CPU-ms per job (every Malocher process) in the first batch and in
 * the last, and which jobs the last batch was; undefined without at least two batches.
 */
export function warmUpCurve(results: Measurements): { first: Summary; last: Summary; lastJobs: string } | undefined {
  const batches = results.dispatch.warmUp;
  if (batches.length < 2) return undefined;
  const perJob = (runs: readonly DispatchRun[]) => summarize(runs.map((run) => malocherCpuMs(run.cpu) / run.jobs));
  const n = results.settings.warmUpBatchJobs;
  return { first: perJob(batches[0]!), last: perJob(batches.at(-1)!), lastJobs: `${(batches.length - 1) * n + 1}–${batches.length * n}` };
}

export function malocherCpuMs(cpu: CpuUse): number {
  return cpu.byClass.supervisor + cpu.byClass.agents + cpu.byClass.workers + cpu.byClass["sshd (nodes)"];
}

