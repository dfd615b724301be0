/**
 * For each missed target, the measurements of what bounds it: CPU per job and how busy the
 * machine was (W1), where the time beyond the ideal went (W2), the phases of a job and the slowest
 * ones (W3 warm), the CPU a start takes (W3 ready). The hot path's profiles, when they were taken,
 * have a section of their own.
 */
import type { CpuUse } from "./cpu-meter.js";
import { number, percent, summaryText, table } from "./markdown.js";
import { percentile, summarize } from "./measurement.js";
import { HOT_PATH_TARGETS, busyShare, malocherCpuMs, showValue, submitCpuText, warmLatency, warmUpCurve, type ResultRow, type W2Jobs } from "./result-rows.js";
import type { SuiteResults } from "./suite.js";
import { TARGETS } from "./targets.js";
import { SUBMIT_WAY_NAMES } from "./workloads/dispatch.js";
import { listScheduleEfficiency, listScheduleEfficiencyShuffled, runsSubmitted, w2LengthsText, w2SleepLengths } from "./workloads/efficiency.js";

export function explainMiss(row: ResultRow, results: SuiteResults): string[] {
  const title = `### ${row.workload}: ${row.what} — ${showValue(row)}, target ${row.target?.text ?? ""}`;
  return [title, "", ...explanation(row, results), ...profileHint(row, results)];
}

function explanation(row: ResultRow, results: SuiteResults): string[] {
  switch (row.target) {
    case TARGETS.dispatchVersusParallel:
    case TARGETS.dispatchVersusLocalAgent:
      return dispatchBound(row, results);
    case TARGETS.efficiency:
      return efficiencyBound(results, row.w2Jobs!);
    case TARGETS.warmLatencyVersusParallel:
      return warmLatencyBound(results);
    case TARGETS.readySixteenVersusOne:
      return startBound(results);
    case TARGETS.batchVersusDask:
    case TARGETS.oneByOneVersusDask:
    case TARGETS.batchVersusOneByOneDispatch:
      return versusDaskDispatchBound(results);
    case TARGETS.warmVersusDask:
      return [...warmLatencyBound(results).slice(0, 1), "", `Dask's warm p50 over the same number of single jobs: ${summaryText(summarize(results.dask.warm.map((runs) => percentile(runs, 50))))} ms.`];
    case TARGETS.readyVersusDask:
      return readyVersusDaskBound(results);
    case TARGETS.batchVersusOneByOne:
      return batchSubmitBound(results);
    case TARGETS.dashboardCpu:
      return dashboardBound(results);
    case TARGETS.agentCpuWhileQueued:
      return [
        "A busy agent neither scans the queue nor watches it file by file: it wakes for its heartbeat each second (which also reads each running job's memory from /proc), " +
          "for its lease every 2 s (a stat, a readdir of its claims, a write and a rename, a look for each running job's cancel marker), and for a freed worker or a hint. " +
          "That is about 10 wake-ups a second, each running a little JavaScript that runs too rarely to be optimized. Which agent is busiest changes from window to window, " +
          "and /proc counts in 10 ms ticks (a tick more or less is 0.1 % of a 10 s window); the mean agent's share is in the table.",
      ];
    default:
      return [];
  }
}

/** The dashboard's cost is a difference of two supervisors' CPU: each round's pair, and what the dashboard does meanwhile. */
function dashboardBound(results: SuiteResults): string[] {
  const perJob = (run: { jobs: number; supervisorCpuMs: number }) => number(run.supervisorCpuMs / run.jobs);
  const pairs = results.dispatch.dashboardPairs.map((pair, round) => `round ${round + 1}: ${perJob(pair.plain)} ms plain, ${perJob(pair.withDashboard)} ms with the dashboard`);
  return [
    `The supervisors' CPU per job side by side: ${pairs.join("; ")}. ` +
      "What the dashboard does meanwhile: a refresh at most every 800 ms while the run reports starts and finishes (its claims listed each time; the other directories listed within 0.5 % of a core, " +
      "at least 3 s apart; specs read for names and tags within 0.5 %), its overview summed within 1 % of a core, one event of the changed jobs per refresh, and the page's requests. " +
      "`npm run bench:dashboard -- --profile DIR` profiles it on a local agent.",
  ];
}

function dispatchBound(row: ResultRow, results: SuiteResults): string[] {
  const runs = results.dispatch.processAll;
  const busy = summarize(runs.map((run) => busyShare(run.cpu))).median;
  const perJob = summarize(runs.map((run) => malocherCpuMs(run.cpu) / run.jobs)).median;
  const cores = runs[0]!.cpu.cores;
  const byClass = (["workers", "agents", "supervisor", "sshd (nodes)"] as const).map(
    (name) => `${name} ${number(summarize(runs.map((run) => run.cpu.byClass[name] / run.jobs)).median)} ms`,
  );
  const lines = [
    `During W1 the machine's ${cores} cores were ${percent(busy)} busy. Malocher's own processes used ${number(perJob)} CPU-ms per no-op job (${byClass.join(", ")}; the table under W1): ` +
      `on ${cores} cores that allows at most ${((cores * 1000) / perJob).toFixed(0)} jobs/s however the work is spread, since the nodes run on the supervisor's machine. ` +
      (busy > 0.85 ? "W1 is bound by CPU: by the cost per job, not by waiting." : "The machine was not saturated, so part of W1 is waiting (hand-offs between processes), not CPU."),
  ];
  if (row.target === TARGETS.dispatchVersusParallel) {
    const needed = 10 * summarize(results.dispatch.peers[0]!).median;
    lines.push("", `Reaching ${row.target.text} GNU parallel here means ${needed.toFixed(0)} jobs/s: at most ${number((cores * 1000) / needed)} CPU-ms per job for all of Malocher's processes together.`);
  }
  return lines;
}

/**
 * W1 on started clusters against Dask: how busy the machine was, and the CPU per job of each way,
 * by kind of process. When the machine is saturated, the ratio of two rates is the inverse ratio
 * of their CPU per job.
 */
function versusDaskDispatchBound(results: SuiteResults): string[] {
  const malocher = (cpu: CpuUse) => malocherCpuMs(cpu);
  const dask = (cpu: CpuUse) => cpu.byClass["Dask client"] + cpu.byClass["Dask scheduler"] + cpu.byClass["Dask workers (nanny and worker process)"] + cpu.byClass["sshd (nodes)"];
  const ways: Array<[string, readonly MeteredRun[], (cpu: CpuUse) => number]> = [
    ["Malocher batch", results.dispatch.batchStartedCluster, malocher],
    ["Malocher one by one", results.dispatch.startedCluster, malocher],
    ["Dask map + gather", results.dask.batch, dask],
    ["Dask submit loop", results.dask.oneByOne, dask],
  ];
  const lines = ways
    .filter(([, runs]) => runs.length > 0)
    .map(([name, runs, own]) => {
      const median = (pick: (run: MeteredRun) => number) => summarize(runs.map(pick)).median;
      const cores = runs[0]!.cpu.cores;
      const ownPerJob = median((run) => own(run.cpu) / run.jobs);
      return (
        `- ${name}: ${number(median((run) => run.jobsPerSecond))} jobs/s with the machine ${percent(median((run) => busyShare(run.cpu)))} busy; ` +
        `its own processes used ${number(ownPerJob)} CPU-ms per job (the machine as a whole ${number(median((run) => run.cpu.machineBusyMs / run.jobs))}, other processes included): ` +
        `on ${cores} cores of its own that cost allows at most ${((cores * 1000) / ownPerJob).toFixed(0)} jobs/s.`
      );
    });
  const writeLinks = summarize(results.fileSystem.writeLinksPerSecond).median;
  return [
    ...batchComparisonLines(results),
    "Every process of these runs shares this machine's cores with the nodes, the peers and whatever else runs on the machine, so a rate is bound by the CPU a job costs; " +
      "where both sides saturate the machine, the ratio of their rates is at most the inverse ratio of their own CPU per job. " +
      "Measured in the same run (the table under \"Side by side with Dask\" splits it by process):",
    "",
    ...lines,
    "",
    "What a job costs where: a Malocher job crosses three processes (supervisor, agent, a worker process of its own, for its kill, memory limit, env and cwd) " +
      "and leaves its result in a file, write-once, before anyone hears of it; a Dask task runs as a thread of its worker and its result stays in that worker's memory until gathered. " +
      `The file steps are not what bounds it: at this run's ${number(writeLinks)} write+link steps/s (one process, back to back), a job's one result file takes ${number(1000 / writeLinks)} ms of a core. ` +
      "The agents' CPU is: the system calls of the claim, look-ups and publish (synchronous: through libuv's thread pool each cost ten times its own CPU here), the hand-off to the worker and back over a pipe with its log markers, " +
      "and one frame to the supervisor per job (a job's jobStarted travels with a later frame while the agent is busy). " +
      "The next step would be several jobs per claim, per message to a worker and per result frame; each job would keep its own id, result, retry, timeout and cancel.",
  ];
}

type MeteredRun = { jobs: number; jobsPerSecond: number; cpu: CpuUse };

/**
 * W1's batch way with `dispatchJobs` and with `batchAtScaleJobs` jobs, ours and Dask's (each on a
 * cluster started for it), and with `dispatchJobs` once more on the cluster that had just run
 * them: the rates, and our CPU per job by kind of process in each.
 */
function batchComparisonLines(results: SuiteResults): string[] {
  const s = results.settings;
  const d = results.dispatch;
  const k = results.dask;
  const first = [d.batchStartedCluster, k.batch] as const;
  const lines = [
    ...comparedRuns(
      `with ${s.batchAtScaleJobs} jobs instead of ${s.dispatchJobs}, in the same rounds, each on a cluster started for it`,
      first,
      [d.batchAtScale, k.batchAtScale],
      [`${s.dispatchJobs}`, `${s.batchAtScaleJobs} jobs`],
      "What a run pays once weighs a tenth as much per job in the bigger one: the ramp-up and the tail, the fixed part of `submitMany`, " +
        `and what each of the ${s.nodes} agents and ${s.nodes * s.slotsPerNode} workers spends on its first jobs while V8 has not yet optimized their path (each process does that for itself).`,
    ),
    ...comparedRuns(
      `with ${s.dispatchJobs} more such jobs (new ids), right after, on the cluster that had just run the first ones`,
      first,
      [d.batchAgain, k.batchAgain],
      ["first run", "again"],
      `The second run's agents and workers had run the first ${s.dispatchJobs} jobs just before (Dask's second run started once its scheduler had forgotten the first run's tasks).`,
    ),
    ...warmUpLines(results),
  ];
  return lines.length === 0 ? [] : [...lines, ""];
}

/**
 * The warm-up curve against W1: what a job costs our processes once past their first jobs, and
 * the rate that cost would allow, against Dask's batch in the same run.
 */
function warmUpLines(results: SuiteResults): string[] {
  const s = results.settings;
  const curve = warmUpCurve(results);
  if (curve === undefined) return [];
  const cores = results.dispatch.warmUp[0]![0]!.cpu.cores;
  const allowed = (cores * 1000) / curve.last.median;
  const dask = results.dask.batch.length > 0 ? summarize(results.dask.batch.map((run) => run.jobsPerSecond)).median : undefined;
  const versusDask = dask === undefined ? "" : `, ${(allowed / dask).toFixed(2)}× Dask's map + gather in this run (${number(dask)} jobs/s)`;
  return [
    `The warm-up curve (under "Limits": the same code on one local agent and its ${s.slotsPerNode} workers, no SSH, ${s.warmUpBatches} batches of ${s.warmUpBatchJobs} jobs one after another): ` +
      `the CPU per job of our processes falls from ${number(curve.first.median)} ms in their first ${s.warmUpBatchJobs} jobs to ${number(curve.last.median)} ms in jobs ${curve.lastJobs}. ` +
      `At that cost ${cores} cores would run ${number(allowed)} jobs/s${versusDask}. ` +
      `In W1 each of the ${s.nodes} agents runs about ${number(s.dispatchJobs / s.nodes)} of the ${s.dispatchJobs} jobs and each of the ${s.nodes * s.slotsPerNode} workers about ${number(s.dispatchJobs / (s.nodes * s.slotsPerNode))}: ` +
      "all of them in that first, costly stretch, which every fresh process pays for itself.",
  ];
}

/**
 * "The same batch way `how`: a and b jobs/s. Dask's …: so Malocher ÷ Dask goes from x to y. Our
 * CPU-ms per job, `labels[0]` → `labels[1]`: … `closing`", for our and Dask's runs of a first and a
 * second kind; nothing when ours of either kind are missing.
 */
function comparedRuns(
  how: string,
  [ours, dask]: readonly [readonly MeteredRun[], readonly MeteredRun[]],
  [oursSecond, daskSecond]: readonly [readonly MeteredRun[], readonly MeteredRun[]],
  labels: readonly [string, string],
  closing: string,
): string[] {
  if (ours.length === 0 || oursSecond.length === 0) return [];
  const rate = (runs: readonly MeteredRun[]) => summarize(runs.map((run) => run.jobsPerSecond)).median;
  const perJob = (runs: readonly MeteredRun[], pick: (cpu: CpuUse) => number) => summarize(runs.map((run) => pick(run.cpu) / run.jobs)).median;
  const byClass = (["agents", "workers", "supervisor", "sshd (nodes)"] as const).map(
    (name) => `${name} ${number(perJob(ours, (cpu) => cpu.byClass[name]))} → ${number(perJob(oursSecond, (cpu) => cpu.byClass[name]))}`,
  );
  const versusDask =
    dask.length > 0 && daskSecond.length > 0
      ? ` Dask's map + gather: ${number(rate(dask))} and ${number(rate(daskSecond))} jobs/s, so Malocher ÷ Dask goes from ` +
        `${(rate(ours) / rate(dask)).toFixed(2)}× to ${(rate(oursSecond) / rate(daskSecond)).toFixed(2)}×.`
      : "";
  return [
    `The same batch way ${how}: ${number(rate(ours))} and ${number(rate(oursSecond))} jobs/s.${versusDask} ` +
      `Our CPU-ms per job, ${labels[0]} → ${labels[1]}: ${byClass.join(", ")}; together ${number(perJob(ours, malocherCpuMs))} → ${number(perJob(oursSecond, malocherCpuMs))}. ` +
      closing,
  ];
}

/** Start until ready against Dask: the CPU each start took. */
function readyVersusDaskBound(results: SuiteResults): string[] {
  const s = results.settings;
  const ours = results.latency.readyCpu.big;
  const dask = results.dask.readyCpu.big;
  if (dask.length === 0) return [];
  const perNode = (cpus: readonly CpuUse[]) => number(summarize(cpus.map((cpu) => cpu.machineBusyMs / s.coldNodes)).median);
  return [
    `Starting ${s.coldNodes} nodes cost the machine ${perNode(ours)} CPU-ms per node for Malocher until every agent said hello (its warm workers start after) ` +
      `and ${perNode(dask)} CPU-ms per node for Dask until every worker registered (a nanny and a worker process per node, each a Python that imports distributed, and the scheduler). ` +
      "On this machine every node's start shares the same cores, so a start is bound by that CPU.",
  ];
}

function batchSubmitBound(results: SuiteResults): string[] {
  const { oneByOne, batch } = results.scale;
  const cpuPerJob = (runs: typeof batch) => summarize(runs.map((run) => run.userUsPerJob + run.systemUsPerJob)).median;
  const writeLinks = summarize(results.fileSystem.writeLinksPerSecond).median;
  return [
    `Both ways are bound by this process's CPU per job: one-by-one ${submitCpuText(oneByOne)}, submitMany ${submitCpuText(batch)}. ` +
      `Their CPU per job differs by ${number(cpuPerJob(oneByOne) / cpuPerJob(batch))}×, and the ratio follows it; one-by-one's kernel part varies most from round to round ` +
      "(creating files costs this file system anything from tens to hundreds of µs), so the ratio does too.",
    "",
    "What a batched job still costs: in the kernel, its queue marker (a hard link to one empty file per chunk); in user space, encoding its arguments and its spec record " +
      "(msgpack), the record's HMAC signature and its id. Its spec is a record in one file per chunk of up to 1000 jobs. " +
      "A one-by-one job also creates its spec file (in `tmp/`, written, renamed into `specs/`) and its marker file, locates its function and touches the signal file. " +
      `The file system's write+link+unlink step alone runs at ${number(writeLinks)}/s here.`,
  ];
}

/** How many random orders of W2's mixed lengths the estimate of what they allow is taken over (see `listScheduleEfficiencyShuffled`). */
const ESTIMATE_ORDERS = 2000;

function efficiencyBound(results: SuiteResults, { way, mixed }: W2Jobs): string[] {
  const s = results.settings;
  const runs = runsSubmitted(mixed ? results.efficiencyMixed : results.efficiency, way);
  const lengths = w2LengthsText(s, mixed);
  const slots = s.nodes * s.slotsPerNode;
  const median = (pick: (run: (typeof runs)[number]) => number) => summarize(runs.map(pick)).median;
  const perRepeat = (pick: (run: (typeof runs)[number]) => number) => runs.map((run) => pick(run).toFixed(0)).join(", ");
  const busiest = median((run) => Math.max(...Object.values(run.jobsPerNode)));
  const even = s.efficiencyJobs / s.nodes;
  const evenPerWorker = s.efficiencyJobs / slots;
  const busiestWorker = median((run) => run.busiestWorkerJobs);
  const runMs = median((run) => run.medianRunMs);
  const handoff = median((run) => run.handoffMs.median);
  const overhead = median((run) => run.slotOverheadPerJobMs);
  const lengthsMs = w2SleepLengths(s)[mixed ? "mixed" : "fixed"];
  const overheadText = `the ${number(overhead)} ms per job measured here (a slot's time from its first job's start to its last job's end, less the lengths, per job; the median over the repeats: hand-offs, and timers that fire late while the cores are busy)`;
  return [
    `Where the ${summaryText(summarize(runs.map((run) => run.actualMs - run.idealMs)))} ms beyond the ideal went (medians over the repeats; the jobs stamp when their code ran):`,
    "",
    `- The first job's code started ${perRepeat((run) => run.firstStartMs)} ms after the first submit (repeat ${runs.map((_, i) => i + 1).join(", ")}), ` +
      `every slot's first job by ${perRepeat((run) => run.allSlotsStartedMs)} ms; submitting the ${s.efficiencyJobs} jobs by ${SUBMIT_WAY_NAMES[way]} took ${perRepeat((run) => run.submitMs)} ms ` +
      (way === "batch" ? "(agents are told as each chunk of up to 1000 jobs is written)" : "(agents are told of the first job at once and again every few ms while the loop runs)") +
      ". A worker's first job also imports (for `.ts`, transpiles) the job module.",
    `- An agent took ${runMs.toFixed(0)} ms per ${lengths} job (its own measure: the worker's run and the job's logs completed).`,
    `- Between one job's end and the next one's start on the same worker: ${number(handoff)} ms (median; 90th percentile ${number(median((run) => run.handoffMs.p90))} ms): ` +
      "a job the agent lined up on the busy worker (its prefetch) starts as the worker sends the last one's outcome; one it did not (a worker's first jobs, a claim another agent won) " +
      "waits for the outcome to reach the agent, a claim (one rename) and the job's way to the worker; then the worker decodes it, and every process waits for a core. " +
      `Over ${evenPerWorker} jobs per slot that alone is ${number(handoff * evenPerWorker)} ms.`,
    `- The busiest worker ran ${busiestWorker} jobs where an even spread gives ${evenPerWorker}; the busiest node ${busiest} where it gives ${even}` +
      (busiestWorker > evenPerWorker && !mixed ? `: the extra job of that slot is ${s.efficiencySleepMs} ms more at the end.` : "."),
    `- At the end, a slot sat idle ${perRepeat((run) => run.tailIdleMs)} ms (the mean over the slots, per repeat) from its last job's end until the last job's end.`,
    `- The last result was yielded ${perRepeat((run) => run.lastResultMs)} ms after the last job's code ended.`,
    mixed ? mixedLengthsEstimate(lengthsMs, slots, overhead, overheadText) : `- With ${overheadText}, ${evenPerWorker} jobs back to back on each slot reach at most ${listScheduleEfficiency(lengthsMs, slots, overhead).toFixed(3)}.`,
  ];
}

/**
 * What W2's mixed lengths allow a scheduler that does not know them (each job to the slot that
 * comes free first), without any cost between jobs and with the one measured.
 */
function mixedLengthsEstimate(lengthsMs: readonly number[], slots: number, overheadMs: number, overheadText: string): string {
  const orders = (costMs: number) => {
    const shuffled = listScheduleEfficiencyShuffled(lengthsMs, slots, costMs, ESTIMATE_ORDERS);
    return (
      `${listScheduleEfficiency(lengthsMs, slots, costMs).toFixed(3)} in submission order and ${shuffled.median.toFixed(3)} over ${ESTIMATE_ORDERS} random orders ` +
      `(5th percentile ${shuffled.p5.toFixed(3)}, best ${shuffled.max.toFixed(3)})`
    );
  };
  return (
    "- An estimate of what these lengths allow a scheduler that does not know them, each job going to the slot that comes free first " +
    `(one that knew them could do better, longest first): without any cost between jobs ${orders(0)}; ` +
    `with ${overheadText}, ${orders(overheadMs)}. Which jobs come last decides how long the other slots idle at the end. ` +
    "The agents take the jobs in neither order exactly: each goes through its scan of the queue from a random place of it (a scan starts at a random shard, " +
    "and a deep one at a random one of its first jobs, so that agents do not race for the same job), and the agents' claims interleave."
  );
}

function warmLatencyBound(results: SuiteResults): string[] {
  const { p50, phases } = warmLatency(results);
  const peer = summarize(results.latency.peerWarmMs).median;
  const slowest = results.latency.warm
    .flatMap((runs, repeatIndex) => runs.map((run, index) => ({ ...run, where: `run ${index + 1} of repeat ${repeatIndex + 1}` })))
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, 4);
  return [
    `A warm job's median ${summaryText(phases.total)} ms split into ${summaryText(phases.toStart)} ms from submit until the agent's "started" message arrived ` +
      `(the nudge through the SSH tunnel, the agent's queue scan, the claim, reading the spec), ${summaryText(phases.run)} ms until its "finished" message ` +
      `(the warm worker's run, publishing the result) and ${summaryText(phases.toResult)} ms until processAll yielded the result (decoding the result file's bytes, which came with the message). ` +
      `${TARGETS.warmLatencyVersusParallel.text} against this peer (${number(peer)} ms) needs a p50 of at most ${number(peer / 20)} ms; it was ${number(p50.median)} ms.`,
    "",
    "The slowest single jobs (they set p99). Run 1 of repeat 1 is the first job after `ready()`: the warm workers have started, " +
      "but the first job a warm worker runs also imports the job module. (— : processAll found the result before the agent's message arrived.)",
    "",
    ...table(
      ["which", "total ms", "submit → \"started\"", "→ \"finished\"", "→ result"],
      slowest.map((run) => [run.where, number(run.totalMs), number(run.toStartMs), number(run.runMs), number(run.toResultMs)]),
    ),
  ];
}

function startBound(results: SuiteResults): string[] {
  const s = results.settings;
  const { big, one } = results.latency.readyCpu;
  const cores = big[0]!.cores;
  const cpuBig = summarize(big.map(malocherCpuMs)).median;
  const cpuOne = summarize(one.map(malocherCpuMs)).median;
  const readyOne = summarize(results.latency.readyMs.one).median;
  const floorMs = cpuBig / cores;
  const start = results.latency.processStartCpu;
  const perNode = (["agents", "workers", "sshd (nodes)", "supervisor"] as const).map(
    (name) => `${name} ${summarize(big.map((cpu) => cpu.byClass[name] / s.coldNodes)).median.toFixed(0)}`,
  );
  const bareFloorMs = (s.coldNodes * start.bareNodeMs) / cores;
  return [
    `Until every agent said hello, starting ${s.coldNodes} nodes kept the machine's ${cores} cores ${percent(summarize(big.map(busyShare)).median)} busy. ` +
      `Malocher's processes and the nodes' sshd used ${cpuBig.toFixed(0)} CPU-ms for ${s.coldNodes} nodes against ${cpuOne.toFixed(0)} CPU-ms for 1 node. ` +
      `On ${cores} cores that CPU alone takes at least ${floorMs.toFixed(0)} ms, ${number(floorMs / readyOne)}× the 1-node start: ` +
      "the start of many nodes is bound by this machine's CPU, which every node shares here; on separate machines the nodes would start side by side.",
    "",
    `CPU-ms per node during the ${s.coldNodes}-node start: ${perNode.join(", ")} (the supervisor's share is its SSH handshakes and launches; ` +
      "workers are those of agents that said hello early, started while the others still start). " +
      `Started one at a time, \`node -e 0\` takes ${start.bareNodeMs.toFixed(0)} CPU-ms here, a \`node\` that loads the agent (one bundled file) ${start.nodeWithAgentMs.toFixed(0)}, ` +
        `and one that starts tsx's loader as each of an agent's warm workers does ${start.nodeWithTsxMs.toFixed(0)}. ` +
      `${s.coldNodes} bare \`node\` starts alone take ${bareFloorMs.toFixed(0)} ms of ${cores} cores, ${number(bareFloorMs / readyOne)}× the 1-node start, ` +
      "before any SSH session or any work of the agent: one Node process per node is the architecture, and its own start is most of a node's start.",
  ];
}

/** Where the hot path's profiles are, or that the full run takes them. */
function profileHint(row: ResultRow, results: SuiteResults): string[] {
  if (row.target === undefined || !HOT_PATH_TARGETS.includes(row.target)) return [];
  if (results.dispatchProfiles) return ["", "What the CPU does on this path, function by function: see the profiles below."];
  if (!results.settings.profileOnMiss) return ["", "(The full run also profiles the supervisor, an agent and its workers on this path.)"];
  return [];
}
