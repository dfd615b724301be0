/**
 * The report of a run: BENCHMARKS.md (header, the targets with PASS/MISS, a section per workload
 * with every result as a ratio and the measurements behind it, what bounds each missed target,
 * the hot path's profiles, deviations from the issue) and the console summary.
 */
import { FULL } from "./bench-settings.js";
import { PROCESS_CLASSES, type CpuUse, type ProcessClass } from "./cpu-meter.js";
import type { ProfileSummary } from "./cpu-profile.js";
import type { Environment } from "./environment.js";
import { number, percent, summaryText, table } from "./markdown.js";
import { ratio, summarize, type Summary } from "./measurement.js";
import { explainMiss } from "./miss-explanations.js";
import { busyShare, resultRows, showValue, warmLatency, WORKLOADS, type Workload } from "./result-rows.js";
import { sideBySide } from "./side-by-side.js";
import type { SuiteResults } from "./suite.js";


export interface RenderedReport {
  markdown: string;
  /** The results as console lines (targets first). */
  console: string[];
}

export function renderReport(results: SuiteResults, environment: Environment, startedAt: Date): RenderedReport {
  const rows = resultRows(results);
  const s = results.settings;
  const md: string[] = [];
  md.push("# Malocher benchmarks", "");
  md.push(
    `Written by \`node --import tsx bench/main.ts${s.mode === "quick" ? " --quick" : ""}\` (${s.mode} run) on ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC; ` +
      `the run took ${(results.durationMs / 60_000).toFixed(1)} min. Do not edit by hand: run the benchmark again.`,
    "",
  );
  md.push(
    `- Machine: ${environment.cpu}, ${environment.cores} cores, ${environment.kernel}; Node ${environment.node}; ${environment.openssh}; ${environment.parallel}.`,
    `- Malocher ${environment.malocher} at ${environment.revision}.`,
    `- ${daskNote(results)}`,
    `- Nodes: real OpenSSH servers on 127.0.0.2, 127.0.0.3, … (the test harness), all on this machine: the supervisor, the nodes' agents and workers, sshd and the peer share these ${environment.cores} cores.`,
    `- Shared directory: ${results.baseDir} (${environment.fileSystem}).`,
    `- Every measurement is repeated ${s.repeats}× and shown as median (min – max). A ratio of two measurements is the ratio of their medians, with the widest range their repeats allow.`,
    `- ${noiseNote(results)}`,
    `- ${nodeTroubleNote(results)}`,
    "",
  );

  md.push("## Targets (issues 6, 19 and 20)", "");
  md.push(...table(["result", "measured", "target", ""], rows.filter((row) => row.target).map((row) => [`${row.workload}: ${row.what}`, showValue(row), row.target!.text, `**${row.verdict ?? "NOT MEASURED"}**`])));
  md.push("");

  for (const workload of WORKLOADS) {
    md.push(`## ${workload}`, "", sectionIntro(workload, results), "");
    const inSection = rows.filter((row) => row.workload === workload);
    md.push(...table(["result", "measured", "target", "", "from"], inSection.map((row) => [row.what, showValue(row), row.target?.text ?? "", row.verdict ? `**${row.verdict}**` : row.target ? "NOT MEASURED" : "", row.detail])));
    md.push("", ...sectionDetails(workload, results), "");
  }

  md.push("## What bounds the missed targets", "");
  const missed = rows.filter((row) => row.verdict === "MISS");
  if (missed.length === 0) md.push("Every target was met.", "");
  for (const row of missed) md.push(...explainMiss(row, results), "");

  if (results.dispatchProfiles) md.push(...profileSection(results.dispatchProfiles), "");

  md.push("## Deviations from issues 6 and 19", "", ...deviations(results).map((line) => `- ${line}`), "");

  const consoleLines = [
    ...rows.filter((row) => row.target).map((row) => `${(row.verdict ?? "NOT MEASURED").padEnd(15)} ${row.workload}: ${row.what}: ${showValue(row)} (target ${row.target!.text})`),
    ...rows.filter((row) => !row.target).map((row) => `${"".padEnd(15)} ${row.workload}: ${row.what}: ${showValue(row)}`),
  ];
  return { markdown: md.join("\n"), console: consoleLines };
}

function sectionIntro(workload: Workload, results: SuiteResults): string {
  const s = results.settings;
  const intros: Record<Workload, string> = {
    "Side by side with Dask":
      `Every workload for Malocher, Dask's \`SSHCluster\` and GNU parallel, on the same ${s.nodes} sshd nodes × ${s.slotsPerNode} slots in the same run, in alternating rounds: ` +
      `the peers' cluster is started before the clock as ours is (Dask: the scheduler on the first node, one worker with ${s.slotsPerNode} threads on each node; ` +
      "its client is a Python process on this machine, like our supervisor). Each peer's cluster is closed while the others are measured. " +
      "A ratio is Malocher ÷ the peer: above 1 Malocher is ahead where higher is better, below 1 where lower is better.",
    "W1 dispatch":
      `${s.dispatchJobs} no-op function jobs (\`echo(i)\` returns its argument) from the first \`submit\` to the last result, against the same no-op through GNU parallel \`--sshlogin\` over the same ${s.nodes} nodes (one SSH session per job; masters opened before the clock). ` +
      "Each round also runs W1 by two supervisors side by side over the same nodes (each a process of its own, started at the same moment), one plain and one with `processAll({ dashboard })` and a page open on it " +
      "(a process that follows its events and refetches the overview and the first page of jobs at most once a second): the difference of their CPU per job, at W1's rate alone, is what serving the dashboard costs " +
      "(side by side, whatever else loads the machine weighs on both alike).",
    Limits: "Measured in the same run: the rename and write+link rates of the file system under the shared directory (a job's life there is a handful of such steps), and the W1 jobs on one local agent with no SSH.",
    "W2 efficiency": `${s.efficiencyJobs} jobs sleeping ${s.efficiencySleepMs} ms, and ${s.efficiencyJobs} sleeping 1–${s.efficiencyMixedMaxMs} ms (spread evenly at random, the same lengths every time), on a started cluster of ${s.nodes} nodes × ${s.slotsPerNode} slots, from the first submit to the last result. Each repeat submits them both ways, one \`submitMany\` (as Dask's \`client.map\`) and a \`submit()\` loop, each way on a cluster started for it (as Dask's); which way runs first alternates.`,
    "W3 latency": `Warm: one job at a time on an idle started cluster, submit to result. Cold: \`processAll\` of one job including the agents' start, and \`startCluster\` until every agent said hello.`,
    "W4 scale": `One \`submitMany\` of ${s.batchJobs} jobs against ${s.submitJobs} one-by-one \`submit()\` calls (each in a fresh directory, alternating which goes first), and a cluster of ${s.nodes} nodes × ${s.slotsPerNode} slots with every slot busy (jobs sleeping) and ${s.queuedJobs} more queued: the agents' CPU time from /proc and this process's (the supervisor's) memory.`,
  };
  return intros[workload];
}

function sectionDetails(workload: Workload, results: SuiteResults): string[] {
  const s = results.settings;
  if (workload === "Side by side with Dask") {
    const show = (value: Summary | undefined, unit: string) => (value ? `${summaryText(value)}${unit === "×" ? "×" : ""}` : "—");
    const showRatio = (ours: Summary, peer: Summary | undefined) => (peer ? `${summaryText(ratio(ours, peer))}×` : "—");
    return [
      ...table(
        ["workload", "unit", "better", "Malocher", "Dask", "GNU parallel", "Malocher ÷ Dask", "Malocher ÷ GNU parallel", "how the peers ran it"],
        sideBySide(results).map((line) => [
          line.what,
          line.unit === "×" ? "ratio" : line.unit || "ratio",
          line.better,
          show(line.ours, line.unit),
          show(line.dask, line.unit),
          show(line.parallel, line.unit),
          showRatio(line.ours, line.dask),
          showRatio(line.ours, line.parallel),
          line.how,
        ]),
      ),
      "",
      "Where the CPU went during W1 on started clusters, from the first submit to the last result (CPU-ms per job, median of the repeats; from /proc; every process of the machine, by what it is):",
      "",
      ...cpuTable([
        ["Malocher batch", results.dispatch.batchStartedCluster],
        ["Malocher one by one", results.dispatch.startedCluster],
        ["Dask map + gather", results.dask.batch],
        ["Dask submit loop", results.dask.oneByOne],
        [`Malocher batch of ${s.batchAtScaleJobs}`, results.dispatch.batchAtScale],
        [`Dask map + gather of ${s.batchAtScaleJobs}`, results.dask.batchAtScale],
        ["Malocher batch again", results.dispatch.batchAgain],
        ["Dask map + gather again", results.dask.batchAgain],
      ]),
    ];
  }
  if (workload === "W1 dispatch") {
    const all = [...results.dispatch.processAll, ...results.dispatch.startedCluster, ...results.dispatch.localAgent];
    return [
      "Where the CPU went from the first submit to the last result (CPU-ms per job, median of the repeats; from /proc):",
      "",
      ...cpuTable([
        ["processAll over SSH", results.dispatch.processAll],
        ["started cluster, one by one", results.dispatch.startedCluster],
        ["started cluster, batch", results.dispatch.batchStartedCluster],
        ["one local agent", results.dispatch.localAgent],
      ]),
      "",
      `Submitting the ${s.dispatchJobs} jobs one by one took ${summaryText(summarize(all.map((run) => run.submitMs)))} ms over all W1 runs, ` +
        "with the supervisor's event loop blocked all along (`submit()` is synchronous; nodes count as lost after 5 s without a heartbeat read).",
    ];
  }
  if (workload === "Limits" && results.dispatch.warmUp.length > 0) {
    const n = s.warmUpBatchJobs;
    return [
      `The warm-up curve: ${s.warmUpBatches} batches of ${n} no-op jobs (one \`submitMany\`, then \`processAll\`), one after another on one started local agent and its ${s.slotsPerNode} workers (no SSH): ` +
        "the same processes from their first jobs on, while V8 compiles their path (CPU-ms per job, median of the repeats; from /proc):",
      "",
      ...cpuTable(results.dispatch.warmUp.map((runs, batch): [string, readonly MeteredRun[]] => [`jobs ${number(batch * n + 1)}–${number((batch + 1) * n)}`, runs])),
      "",
      `jobs/s per batch: ${results.dispatch.warmUp.map((runs) => summaryText(summarize(runs.map((run) => run.jobsPerSecond)))).join("; ")}.`,
    ];
  }
  if (workload === "W3 latency") {
    const phases = warmLatency(results).phases;
    return [
      "The warm jobs' phases as the supervisor saw them (median of the per-repeat medians, ms):",
      "",
      ...table(
        ["submit → agent's \"started\"", "\"started\" → \"finished\"", "\"finished\" → result yielded", "total"],
        [[summaryText(phases.toStart), summaryText(phases.run), summaryText(phases.toResult), summaryText(phases.total)]],
      ),
    ];
  }
  return [];
}

type MeteredRun = { jobs: number; cpu: CpuUse };

/** CPU-ms per job by kind of process, one column per way of running; rows no column used are left out. */
function cpuTable(allColumns: Array<[string, readonly MeteredRun[]]>): string[] {
  const columns = allColumns.filter(([, runs]) => runs.length > 0);
  const perJobMs = (runs: readonly MeteredRun[], pick: (cpu: CpuUse) => number) => summarize(runs.map((run) => pick(run.cpu) / run.jobs)).median;
  const used = PROCESS_CLASSES.filter((name: ProcessClass) => name === "other processes" || columns.some(([, runs]) => perJobMs(runs, (cpu) => cpu.byClass[name]) > 0));
  const rows: string[][] = used.map((name) => [name, ...columns.map(([, runs]) => perJobMs(runs, (cpu) => cpu.byClass[name]).toFixed(2))]);
  rows.push(["whole machine (also processes that ended)", ...columns.map(([, runs]) => perJobMs(runs, (cpu) => cpu.machineBusyMs).toFixed(2))]);
  rows.push(["machine busy (share of all cores)", ...columns.map(([, runs]) => percent(summarize(runs.map((run) => busyShare(run.cpu))).median))]);
  return table(["CPU-ms per job", ...columns.map(([name]) => name)], rows);
}

function daskNote(results: SuiteResults): string {
  const dask = results.dask.availability;
  if (!dask.available) return `Dask peer: skipped (${dask.why}).`;
  const failures = results.dask.failures.length === 0 ? "" : ` It failed during: ${results.dask.failures.join("; ")} (those measurements are missing).`;
  return `Dask peer: dask ${dask.dask}, distributed ${dask.distributed}, asyncssh ${dask.asyncssh}, Python ${dask.python} (Debian's packages).${failures}`;
}

function deviations(results: SuiteResults): string[] {
  const s = results.settings;
  const lines = [
    `GNU parallel without ControlMaster runs ${s.peerJobsWithoutControlMaster} jobs per repeat, not ${s.dispatchJobs}: each job opens a new SSH connection, so its rate (${summarize(results.dispatch.peers[2]!).median.toFixed(0)} jobs/s with \`node -e\`) is set by that per-job cost, and ${s.dispatchJobs} jobs would take minutes per repeat.`,
    `W4 uses ${s.nodes} nodes (the issue: 16) with ${s.queuedJobs} queued jobs, and compares one submitMany of ${s.batchJobs} jobs with ${s.submitJobs} one-by-one submit() calls.`,
    "All nodes run on this one machine, so every workload competes with its own nodes for the same cores; on real machines the nodes' work happens elsewhere.",
    "Dask's scheduler runs on the first node (SSHCluster's first host), which also runs a worker: it shares that node's cores, as everything here shares the machine's. " +
      "Each worker has as many threads as our nodes have slots; Dask's no-op tasks hold the GIL only briefly. Dask's W2 submits with `client.map`, ours (side by side) with one `submitMany`; W2 also shows ours with a `submit()` loop.",
  ];
  if (s.mode === "quick") {
    lines.unshift(
      `This is a --quick run: fewer jobs and one repeat; use the full run for the numbers. With ${s.dispatchJobs} jobs instead of ${FULL.dispatchJobs} the agents' start weighs more in W1, so its ratios come out lower.`,
    );
  }
  return lines;
}

function profileSection(profiles: NonNullable<SuiteResults["dispatchProfiles"]>): string[] {
  const lines = [
    "## Profiles of the per-job path",
    "",
    `A target of the per-job path was missed, so one more W1 run was profiled (profiled runs are slower; the files are in ${profiles.outputDir}, to open in Chrome's DevTools or VS Code): ` +
      `the supervisor over SSH (\`node --cpu-prof\`, ${profiles.supervisor.jobsPerSecond.toFixed(0)} jobs/s), and the agent and its warm workers on one local agent ` +
      `(${profiles.agent.jobsPerSecond.toFixed(0)} jobs/s; the same code, and a profiler cannot reach the SSH agents' environment). Self time: time in the function itself, not in what it calls.`,
  ];
  for (const [role, profile] of [["Supervisor", profiles.supervisor], ["Agent", profiles.agent], ["Warm workers (all added up)", profiles.workers]] as const) {
    lines.push("", ...profileTables(role, profile));
  }
  return lines;
}

function profileTables(role: string, profile: ProfileSummary): string[] {
  const busyMs = profile.totalMs - profile.idleMs;
  return [
    `**${role}**: busy ${busyMs.toFixed(0)} ms of ${profile.totalMs.toFixed(0)} ms profiled. By owner: ` +
      profile.owners.slice(0, 6).map((owner) => `${owner.owner} ${percent(owner.selfMs / busyMs)}`).join(", ") + ".",
    "",
    ...table(["function", "where", "self ms", "share of busy"], profile.functions.map((fn) => [fn.name, fn.location, fn.selfMs.toFixed(1), percent(fn.selfMs / busyMs)])),
  ];
}

function nodeTroubleNote(results: SuiteResults): string {
  if (results.nodeTroubles.length === 0) return "No node was lost during the run.";
  const text = `Nodes lost during the run (each disturbed that measurement): ${results.nodeTroubles.join("; ")}.`;
  if (!results.nodeTroubles.some((line) => line.includes("no heartbeat"))) return text;
  return (
    `${text} The supervisor judges heartbeats when its timers run: after its event loop was blocked past the heartbeat timeout ` +
    "(a long synchronous submit loop on a busy machine), a node counts as lost although its heartbeats were waiting to be read."
  );
}

function noiseNote(results: SuiteResults): string {
  const runs = results.dispatch.processAll;
  const other = summarize(runs.map((run) => run.cpu.byClass["other processes"] / Math.max(1, run.cpu.machineBusyMs))).median;
  const text = `Other processes on the machine used ${percent(other)} of the busy CPU time during W1`;
  return other > 0.05 ? `${text}: the numbers are disturbed by them.` : `${text}.`;
}

