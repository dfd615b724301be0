/**
 * W4 scale: how fast the batch form `submitMany` queues jobs against one-by-one `submit()`, and how calm the system is while every
 * slot is busy with long jobs and many more wait in the queue: the agents' CPU use (it must be
 * near zero: no per-file watches, no busy polling) and the supervisor's memory.
 */
import { Malocher, type ClusterOptions } from "malocher";
import { echo, sleepFor } from "../bench-jobs.js";
import { now } from "../measurement.js";
import { descendsFrom, readProcess, readProcessTable } from "../process-table.js";
import { delay, withDeadline } from "../wait.js";

/** Long enough to outlast any measurement; the jobs are killed when the cluster closes. */
const LONG_JOB_MS = 600_000;
/**
 * After queueing, the CPU is sampled from this long on: the agents' hints (nudge, signal file)
 * settle first. (Measured: a 5 s window starting 2 s after queueing 2,000 jobs saw the busiest
 * agent at 1.0 %, the following ones at 0.4–0.6 %.)
 */
const SETTLE_MS = 5000;
const STARTED_DEADLINE_MS = 60_000;

/** One way of queueing jobs: its rate, and the CPU this process spent per job (user space, kernel). */
export interface SubmitRun {
  jobsPerSecond: number;
  userUsPerJob: number;
  systemUsPerJob: number;
}

/** `count` one-by-one `submit(echo, i)` calls into the empty `dir`. */
export function measureSubmitRate(dir: string, count: number): SubmitRun {
  const malocher = new Malocher({ dir });
  malocher.submit(echo, -1); // the first submit prepares the directory and locates the function
  return measureSubmitting(count, () => {
    for (let i = 0; i < count; i++) malocher.submit(echo, i);
  });
}

/** One `submitMany(echo, [[0], [1], …])` of `count` jobs into the empty `dir`. */
export async function measureBatchSubmitRate(dir: string, count: number): Promise<SubmitRun> {
  const malocher = new Malocher({ dir });
  malocher.submit(echo, -1);
  const argLists = Array.from({ length: count }, (_, i): [number] => [i]);
  return measureSubmitting(count, () => malocher.submitMany(echo, argLists));
}

function measureSubmitting(count: number, submitAll: () => void): SubmitRun;
function measureSubmitting(count: number, submitAll: () => Promise<unknown>): Promise<SubmitRun>;
function measureSubmitting(count: number, submitAll: () => unknown): SubmitRun | Promise<SubmitRun> {
  const cpuBefore = process.cpuUsage();
  const started = now();
  const done = (): SubmitRun => {
    const seconds = (now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { jobsPerSecond: count / seconds, userUsPerJob: cpu.user / count, systemUsPerJob: cpu.system / count };
  };
  const running = submitAll();
  return running instanceof Promise ? running.then(done) : done();
}

export interface BusyAndQueued {
  agents: number;
  /** Per window: the CPU use of the busiest agent, as a fraction of one core. */
  busiestAgentCpu: number[];
  /** Per window: the mean CPU use of the agents, as a fraction of one core. */
  meanAgentCpu: number[];
  /** Per window: this process's (the supervisor's) CPU use, as a fraction of one core. */
  supervisorCpu: number[];
  /** The supervisor's resident memory once the long jobs ran, before queueing, and after. */
  rssBeforeQueueingMb: number;
  rssQueuedMb: number;
  /** How long queueing the jobs took (`submitMany`). */
  queueingMs: number;
  /** The wait between queueing and the first CPU window. */
  settleMs: number;
  /** Jobs other than the long ones that started meanwhile (must be 0: every slot was busy). */
  strayStarts: number;
}

export interface BusyAndQueuedPlan {
  slotsPerNode: number;
  queued: number;
  windowMs: number;
  windows: number;
}

/**
 * Starts a cluster, fills every slot with a long job, queues `queued` more, lets the hints settle,
 * then samples the agents' CPU time from /proc over `windows` windows of `windowMs`.
 */
export async function measureBusyAndQueued(
  dir: string,
  options: Omit<ClusterOptions, "dir"> & { sshMachines: readonly string[] },
  plan: BusyAndQueuedPlan,
  nodeDaemons: () => number[],
): Promise<BusyAndQueued> {
  const malocher = new Malocher({ dir });
  const cluster = await malocher.startCluster({ ...options, slots: plan.slotsPerNode });
  const stop = new AbortController();
  let background: Promise<void> | undefined;
  try {
    await cluster.ready();
    const slots = plan.slotsPerNode * options.sshMachines.length;
    const busy = new Set<string>();
    for (let i = 0; i < slots; i++) busy.add(malocher.submit(sleepFor, LONG_JOB_MS));
    const started = new Set<string>();
    let strayStarts = 0;
    let failure: unknown;
    let allStarted!: () => void;
    const allBusy = new Promise<void>((resolve) => (allStarted = resolve));
    const run = cluster.processAll({
      jobs: [...busy],
      signal: stop.signal,
      onEvent: (event) => {
        if (event.type !== "jobStarted") return;
        if (!busy.has(event.jobId)) strayStarts++;
        started.add(event.jobId);
        if (started.size === busy.size) allStarted();
      },
    });
    background = (async () => {
      for await (const [jobId] of run) failure ??= new Error(`long job ${jobId} finished during the measurement`);
    })().catch((error: unknown) => {
      if (!stop.signal.aborted) failure ??= error;
    });
    const runEnded = background.then(() => Promise.reject(failure ?? new Error("the run of the long jobs ended")));
    await withDeadline(Promise.race([allBusy, runEnded]), STARTED_DEADLINE_MS, () => `only ${started.size} of ${busy.size} long jobs started`);

    const rssBeforeQueueingMb = process.memoryUsage().rss / 2 ** 20;
    const queueingStarted = now();
    await malocher.submitMany(echo, Array.from({ length: plan.queued }, (_, i): [number] => [i]));
    const queueingMs = now() - queueingStarted;
    await delay(SETTLE_MS);

    // A node lost meanwhile (its agent restarting) would leave slots idle: wait until all are back.
    let agents = findAgents(nodeDaemons());
    for (const deadline = now() + STARTED_DEADLINE_MS; agents.length !== options.sshMachines.length; agents = findAgents(nodeDaemons())) {
      if (now() > deadline) throw new Error(`found ${agents.length} agents under the nodes' sshd, expected ${options.sshMachines.length}`);
      await delay(200);
    }
    const cpu = await sampleCpu(agents, plan);
    const rssQueuedMb = process.memoryUsage().rss / 2 ** 20;
    if (failure !== undefined) throw failure;
    return { agents: agents.length, ...cpu, rssBeforeQueueingMb, rssQueuedMb, queueingMs, settleMs: SETTLE_MS, strayStarts };
  } finally {
    stop.abort();
    await background;
    await cluster.close();
  }
}

/** The agents' and this process's CPU use over `plan.windows` windows of `plan.windowMs`. */
async function sampleCpu(agents: number[], plan: BusyAndQueuedPlan): Promise<Pick<BusyAndQueued, "busiestAgentCpu" | "meanAgentCpu" | "supervisorCpu">> {
  const busiestAgentCpu: number[] = [];
  const meanAgentCpu: number[] = [];
  const supervisorCpu: number[] = [];
  for (let window = 0; window < plan.windows; window++) {
    const before = agents.map((pid) => readProcess(pid)?.cpuMs ?? NaN);
    const supervisorBefore = process.cpuUsage();
    const windowStarted = now();
    await delay(plan.windowMs);
    const wallMs = now() - windowStarted;
    const used = agents.map((pid, i) => ((readProcess(pid)?.cpuMs ?? NaN) - before[i]!) / wallMs);
    if (used.some((share) => !Number.isFinite(share))) throw new Error("an agent exited during the measurement");
    const supervisor = process.cpuUsage(supervisorBefore);
    busiestAgentCpu.push(Math.max(...used));
    meanAgentCpu.push(used.reduce((sum, share) => sum + share, 0) / used.length);
    supervisorCpu.push((supervisor.user + supervisor.system) / 1000 / wallMs);
  }
  return { busiestAgentCpu, meanAgentCpu, supervisorCpu };
}

/** Pids of the agents running under the node daemons. */
function findAgents(daemons: number[]): number[] {
  const table = readProcessTable();
  const roots = new Set(daemons);
  return [...table.values()]
    .filter((info) => info.command.includes("agent/dist/bundle/main.js") && descendsFrom(table, info.pid, roots))
    .map((info) => info.pid);
}
