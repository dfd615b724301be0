/**
 * The benchmark suite: starts the sshd nodes, runs every workload the settings ask for (repeats
 * of different workloads interleaved, so that a slow moment of the machine does not hit one side
 * of a ratio only), and returns the raw measurements. Turning them into ratios is the report's job.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Malocher, type RunEvent } from "malocher";
import { startBenchNodes, type BenchNodes } from "./bench-nodes.js";
import type { BenchSettings } from "./bench-settings.js";
import { CpuMeter, type CpuUse } from "./cpu-meter.js";
import { DaskPeer, type DaskAvailability } from "./dask-peer.js";
import { profileDispatch, type DispatchProfiles } from "./dispatch-profiles.js";
import { onInterrupt } from "./interrupt-cleanup.js";
import { measureRenameRate, measureWriteLinkRate } from "./file-system-limits.js";
import { runThroughParallel, type PeerCommand } from "./gnu-parallel.js";
import { now, percentile, repeat } from "./measurement.js";
import { writeSshClientConfig, type SshClientConfig } from "./ssh-client-config.js";
import { dispatchOnStartedCluster, dispatchRunsOnStartedCluster, dispatchWithProcessAll, SUBMIT_WAY_NAMES, type DispatchRun } from "./workloads/dispatch.js";
import { dashboardSideBySide, type DashboardPair } from "./workloads/dashboard.js";
import { idealSleepMs, measureEfficiency, w2SleepLengths, type EfficiencyRun } from "./workloads/efficiency.js";
import { measureProcessStartCpu, type ProcessStartCpu } from "./process-start-cpu.js";
import { measureClusterStart, measureColdProcessAll, measureWarmLatency, type WarmLatency } from "./workloads/latency.js";
import { measureBatchSubmitRate, measureBusyAndQueued, measureSubmitRate, type BusyAndQueued, type SubmitRun } from "./workloads/scale.js";

/** One way of running the peer: with or without shared SSH connections, and what each job runs. */
export interface PeerVariant {
  controlMaster: boolean;
  command: PeerCommand;
}

export const PEER_VARIANTS: readonly PeerVariant[] = [
  { controlMaster: true, command: "node -e" },
  { controlMaster: true, command: "true" },
  { controlMaster: false, command: "node -e" },
  { controlMaster: false, command: "true" },
];

/** One run of the Dask peer's W1: its clock (inside the Dask client) and the machine's CPU meanwhile. */
export interface PeerDispatchRun {
  jobs: number;
  ms: number;
  jobsPerSecond: number;
  cpu: CpuUse;
}

/** What the Dask peer measured; every list is empty when it was skipped (`availability` says why). */
export interface DaskResults {
  availability: DaskAvailability;
  /** `client.map` + `gather` on a started cluster. */
  batch: PeerDispatchRun[];
  /** The same with `batchAtScaleJobs` jobs. */
  batchAtScale: PeerDispatchRun[];
  /** `batch` once more on the cluster that had just run it. */
  batchAgain: PeerDispatchRun[];
  /** A `client.submit` loop + `gather` on a started cluster. */
  oneByOne: PeerDispatchRun[];
  /** W2, ideal ÷ actual per repeat, with the fixed and with the mixed lengths. */
  efficiency: number[];
  efficiencyMixed: number[];
  /** W3: per repeat, every single job's submit-to-result ms. */
  warm: number[][];
  /** From `SSHCluster(…)` until every worker registered, on 1 node and on `coldNodes`. */
  readyMs: { one: number[]; big: number[] };
  readyCpu: { big: CpuUse[] };
  /** Measurements the peer failed (the run goes on without them). */
  failures: string[];
}

/** Everything measured, before the profiles (which are taken only when wanted). */
export type Measurements = Omit<SuiteResults, "dispatchProfiles" | "durationMs">;

export interface SuiteResults {
  settings: BenchSettings;
  /** Where the shared directories were (the file system the limits are of). */
  baseDir: string;
  durationMs: number;
  fileSystem: { renamesPerSecond: number[]; writeLinksPerSecond: number[] };
  dispatch: {
    processAll: DispatchRun[];
    /** Issue 20: W1 over the same nodes by two supervisors side by side, one with `processAll({ dashboard })` and a page open. */
    dashboardPairs: DashboardPair[];
    startedCluster: DispatchRun[];
    /** One `submitMany` of the jobs, then `processAll` on a started cluster (the batch path). */
    batchStartedCluster: DispatchRun[];
    /** The same with `batchAtScaleJobs` jobs. */
    batchAtScale: DispatchRun[];
    /** `batchStartedCluster` once more on the cluster that had just run it: its processes past their first jobs. */
    batchAgain: DispatchRun[];
    localAgent: DispatchRun[];
    /** The warm-up curve (see `BenchSettings.warmUpBatches`): per batch, its run in each repeat. */
    warmUp: DispatchRun[][];
    /** jobs/s per repeat, in the order of {@link PEER_VARIANTS}. */
    peers: number[][];
  };
  /** W2 with the fixed length, both ways of submitting (see `EfficiencyRun.way`), per repeat. */
  efficiency: EfficiencyRun[];
  /** W2 with mixed lengths (1 ms to `efficiencyMixedMaxMs`), as {@link SuiteResults.efficiency}. */
  efficiencyMixed: EfficiencyRun[];
  /** The Dask SSHCluster peer, on the same nodes, in the same rounds. */
  dask: DaskResults;
  latency: {
    /** Per repeat: every single job of it. */
    warm: WarmLatency[][];
    /** Per repeat: the median of the single-job `parallel` runs with ControlMaster. */
    peerWarmMs: number[];
    /** Per repeat: the median of the single-job `parallel` runs without ControlMaster. */
    peerColdMs: number[];
    coldProcessAllMs: { small: number[]; big: number[] };
    /** Until every agent said hello (the target's measure). */
    readyMs: { one: number[]; big: number[] };
    readyCpu: { one: CpuUse[]; big: CpuUse[] };
    /** Until every agent's warm workers had started as well (`ready()`). */
    warmMs: { one: number[]; big: number[] };
    /** The CPU of starting one node's kinds of process, one at a time (what a start of many nodes adds up). */
    processStartCpu: ProcessStartCpu;
  };
  scale: {
    /** Per repeat: one-by-one `submit()`, and one `submitMany` of `batchJobs`. */
    oneByOne: SubmitRun[];
    batch: SubmitRun[];
    busyAndQueued: BusyAndQueued;
  };
  /** Nodes lost or failed during the run, with the measurement each disturbed. */
  nodeTroubles: string[];
  /** CPU profiles of one more W1 run, when a target of the per-job path (W1, W2, W3 warm) was missed; kept in `outputDir`. */
  dispatchProfiles?: DispatchProfiles & { outputDir: string };
}

export interface SuiteOptions {
  settings: BenchSettings;
  /** Where the shared directories go; default the system's temp directory. */
  baseDir?: string;
  log: (line: string) => void;
  /** Decides from the measurements whether a target of the per-job hot path was missed (then it is profiled). */
  hotPathMissed: (measured: Measurements) => boolean;
}

const TOP_FUNCTIONS = 12;

export async function runSuite(options: SuiteOptions): Promise<SuiteResults> {
  const { settings, log } = options;
  const suiteStarted = now();
  const baseDir = options.baseDir ?? tmpdir();
  const root = mkdtempSync(join(baseDir, "malocher-bench-"));
  // Short paths for the ControlMaster sockets (at most 108 bytes), wherever baseDir is.
  const sshDir = mkdtempSync(join(tmpdir(), "mb-ssh-"));
  let nodes: BenchNodes | undefined;
  let dask: DaskPeer | undefined;
  const configs: SshClientConfig[] = [];
  const cleanUp = async () => {
    await dask?.close();
    await Promise.all(configs.map((config) => config.stopMasters()));
    await nodes?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(sshDir, { recursive: true, force: true });
  };
  const forgetCleanUp = onInterrupt(cleanUp);
  try {
    log(`starting ${settings.coldNodes} sshd nodes`);
    nodes = await startBenchNodes(settings.coldNodes);
    let daskAvailability: DaskAvailability = { available: false, why: "switched off in the settings" };
    if (settings.dask) {
      const opened = await DaskPeer.open();
      if (opened instanceof DaskPeer) {
        dask = opened;
        daskAvailability = opened.versions;
        log(`Dask peer: dask ${opened.versions.dask}, python ${opened.versions.python}`);
      } else {
        daskAvailability = opened;
        log(`Dask peer skipped: ${opened.why}`);
      }
    }
    const ctx = new SuiteContext(settings, nodes, root, log, dask);
    const daskResults: DaskResults = { availability: daskAvailability, batch: [], batchAtScale: [], batchAgain: [], oneByOne: [], efficiency: [], efficiencyMixed: [], warm: [], readyMs: { one: [], big: [] }, readyCpu: { big: [] }, failures: [] };
    const withMaster = writeSshClientConfig(sshDir, nodes.sshd, true);
    const withoutMaster = writeSshClientConfig(sshDir, nodes.sshd, false);
    configs.push(withMaster, withoutMaster);

    const { dispatch, fileSystem } = await measureDispatch(ctx, withMaster, withoutMaster, daskResults);
    const { efficiency, efficiencyMixed } = await measureEfficiencyRuns(ctx, daskResults);
    const latency = await measureLatency(ctx, withMaster, withoutMaster, daskResults);
    await withMaster.stopMasters();
    const scale = await measureScale(ctx);
    const measured: Measurements = { settings, baseDir, fileSystem, dispatch, efficiency, efficiencyMixed, dask: daskResults, latency, scale, nodeTroubles: ctx.nodeTroubles };
    const dispatchProfiles = settings.profileOnMiss && options.hotPathMissed(measured) ? await profileW1(ctx) : undefined;
    return { ...measured, durationMs: now() - suiteStarted, ...(dispatchProfiles ? { dispatchProfiles } : {}) };
  } finally {
    forgetCleanUp();
    await cleanUp();
  }
}

/** What every workload needs: the settings, the nodes, a CPU meter and fresh directories. */
class SuiteContext {
  readonly meter: CpuMeter;
  private directories = 0;

  constructor(
    readonly settings: BenchSettings,
    readonly nodes: BenchNodes,
    readonly root: string,
    readonly log: (line: string) => void,
    /** The Dask peer, when Dask is installed. */
    readonly dask: DaskPeer | undefined,
  ) {
    this.meter = new CpuMeter(() => nodes.daemonPids());
  }

  /**
   * Runs `use` with the Dask peer, if there is one. A failure of the peer is logged and kept in
   * `dask.failures`, its cluster closed, and the run goes on: it costs that measurement only.
   */
  async withDask(label: string, dask: DaskResults, use: (peer: DaskPeer) => Promise<void>): Promise<void> {
    if (!this.dask) return;
    try {
      await use(this.dask);
    } catch (error) {
      const line = `${label}: the Dask peer failed (${(error as Error).message.split("\n", 1)[0]})`;
      this.log(line);
      dask.failures.push(line);
      await this.dask.stop().catch(() => {});
    }
  }

  /** Nodes that were lost, failed or retried during the run: they disturb what was measured. */
  readonly nodeTroubles: string[] = [];

  /**
   * SSH options for the first `count` nodes with the benchmark's slots per node. A node lost or
   * failed during the measurement `label` is logged and kept for the report.
   */
  cluster(count: number, label: string) {
    const onEvent = (event: RunEvent) => {
      if (event.type !== "node" || (event.state !== "lost" && event.state !== "failed")) return;
      const why = (event.error?.message.split("\n", 1)[0] ?? "").replace(/\s*Its last output:?$/, "");
      const line = `${label}: ${event.host} ${event.state} (${why})`;
      this.nodeTroubles.push(line);
      this.log(line);
    };
    return { ...this.nodes.clusterOptions(count), slots: this.settings.slotsPerNode, onEvent };
  }

  /**
   * Runs `use` on a new, empty shared directory under the run's root. No file of the run is
   * removed before its end: on a file system without a journal (ext4 under /tmp on this machine),
   * allocating an inode skips, one by one, every inode freed in the last minutes (the kernel's
   * `recently_deleted`, up to 6 minutes). Removing each run's thousands of files right after it
   * made the next run's file creations (a result per job) cost about a quarter of its agents' CPU
   * (perf, on this machine): a cost of the benchmark's housekeeping, which no sweep has.
   */
  async inFreshDirectory<T>(label: string, use: (dir: string) => Promise<T>): Promise<T> {
    return use(join(this.root, `${label}-${++this.directories}`));
  }
}

/** W1, its peers and its limits, one round of each after another. */
async function measureDispatch(
  ctx: SuiteContext,
  withMaster: SshClientConfig,
  withoutMaster: SshClientConfig,
  dask: DaskResults,
): Promise<Pick<SuiteResults, "dispatch" | "fileSystem">> {
  const { settings, log } = ctx;
  const result: SuiteResults["dispatch"] = { processAll: [], dashboardPairs: [], startedCluster: [], batchStartedCluster: [], batchAtScale: [], batchAgain: [], localAgent: [], warmUp: [], peers: PEER_VARIANTS.map(() => []) };
  const fileSystem: SuiteResults["fileSystem"] = { renamesPerSecond: [], writeLinksPerSecond: [] };
  await repeat(settings.repeats, async (round) => {
    const tag = `W1 round ${round + 1}/${settings.repeats}`;
    fileSystem.renamesPerSecond.push(measureRenameRate(ctx.root, settings.fileSystemOps));
    fileSystem.writeLinksPerSecond.push(measureWriteLinkRate(ctx.root, settings.fileSystemOps));
    log(`${tag}: file system ${fileSystem.renamesPerSecond.at(-1)!.toFixed(0)} renames/s, ${fileSystem.writeLinksPerSecond.at(-1)!.toFixed(0)} write+link steps/s`);
    const jobs = settings.dispatchJobs;
    const viaProcessAll = await ctx.inFreshDirectory("w1", (dir) => dispatchWithProcessAll(dir, jobs, ctx.cluster(settings.nodes, `${tag}, processAll`), ctx.meter));
    result.processAll.push(viaProcessAll);
    log(`${tag}: processAll over ${settings.nodes} nodes: ${viaProcessAll.jobsPerSecond.toFixed(0)} jobs/s`);
    const options = { ...ctx.nodes.clusterOptions(settings.nodes), slots: settings.slotsPerNode };
    result.dashboardPairs.push(await ctx.inFreshDirectory("w1-side", (plain) => ctx.inFreshDirectory("w1-dashboard", (served) => dashboardSideBySide([plain, served], jobs, options))));
    log(`${tag}: side by side without and with the dashboard: supervisor CPU ${result.dashboardPairs.at(-1)!.plain.supervisorCpuMs.toFixed(0)} and ${result.dashboardPairs.at(-1)!.withDashboard.supervisorCpuMs.toFixed(0)} ms`);
    const onStarted = await ctx.inFreshDirectory("w1-started", (dir) => dispatchOnStartedCluster(dir, jobs, ctx.cluster(settings.nodes, `${tag}, started cluster`), ctx.meter));
    result.startedCluster.push(onStarted);
    log(`${tag}: on a started cluster: ${onStarted.jobsPerSecond.toFixed(0)} jobs/s`);
    const [batch, batchAgain] = await ctx.inFreshDirectory("w1-batch", (dir) => dispatchRunsOnStartedCluster(dir, jobs, ctx.cluster(settings.nodes, `${tag}, batch`), ctx.meter, "batch", 2));
    result.batchStartedCluster.push(batch!);
    result.batchAgain.push(batchAgain!);
    log(`${tag}: submitMany, then processAll on a started cluster: ${batch!.jobsPerSecond.toFixed(0)} jobs/s, again on the same cluster ${batchAgain!.jobsPerSecond.toFixed(0)} jobs/s`);
    const atScale = settings.batchAtScaleJobs;
    const batchAtScale = await ctx.inFreshDirectory("w1-batch-at-scale", (dir) => dispatchOnStartedCluster(dir, atScale, ctx.cluster(settings.nodes, `${tag}, batch of ${atScale}`), ctx.meter, "batch"));
    result.batchAtScale.push(batchAtScale);
    log(`${tag}: the same with ${atScale} jobs: ${batchAtScale.jobsPerSecond.toFixed(0)} jobs/s`);
    await ctx.withDask(tag, dask, async (peer) => {
      // Each way on a cluster of its own, as ours: a cluster that ran jobs before would have paid its
      // first jobs' costs already (the batch's second run measures that on purpose). Started before
      // the clock like ours, and closed before anything else runs (an idle Dask cluster still uses CPU).
      const onFreshCluster = async <T>(measure: () => Promise<T>): Promise<T> => {
        await peer.start(ctx.nodes.sshd, settings.nodes, settings.slotsPerNode);
        try {
          return await measure();
        } finally {
          await peer.stop();
        }
      };
      // The batch twice, as ours; the second run once the scheduler has forgotten the first's tasks.
      const batchTwice = async () => {
        const first = await measurePeerDispatch(ctx, jobs, () => peer.batch(jobs));
        await peer.settle();
        return [first, await measurePeerDispatch(ctx, jobs, () => peer.batch(jobs))] as const;
      };
      const [daskBatch, daskBatchAgain] = await onFreshCluster(batchTwice);
      dask.batch.push(daskBatch);
      dask.batchAgain.push(daskBatchAgain);
      dask.oneByOne.push(await onFreshCluster(() => measurePeerDispatch(ctx, jobs, () => peer.oneByOne(jobs))));
      dask.batchAtScale.push(await onFreshCluster(() => measurePeerDispatch(ctx, settings.batchAtScaleJobs, () => peer.batch(settings.batchAtScaleJobs))));
      log(
        `${tag}: Dask map+gather ${daskBatch.jobsPerSecond.toFixed(0)} jobs/s (again ${daskBatchAgain.jobsPerSecond.toFixed(0)}), submit loop ${dask.oneByOne.at(-1)!.jobsPerSecond.toFixed(0)} jobs/s, ` +
          `map+gather of ${settings.batchAtScaleJobs} ${dask.batchAtScale.at(-1)!.jobsPerSecond.toFixed(0)} jobs/s`,
      );
    });
    const local = await ctx.inFreshDirectory("w1-local", (dir) => dispatchWithProcessAll(dir, jobs, { slots: settings.slotsPerNode }, ctx.meter));
    result.localAgent.push(local);
    log(`${tag}: one local agent: ${local.jobsPerSecond.toFixed(0)} jobs/s`);
    const curve = await ctx.inFreshDirectory("w1-warm-up", (dir) =>
      dispatchRunsOnStartedCluster(dir, settings.warmUpBatchJobs, { slots: settings.slotsPerNode }, ctx.meter, "batch", settings.warmUpBatches),
    );
    curve.forEach((run, batch) => (result.warmUp[batch] ??= []).push(run));
    log(`${tag}: one local agent, ${settings.warmUpBatches} batches of ${settings.warmUpBatchJobs} on one started cluster: ${curve.map((run) => run.jobsPerSecond.toFixed(0)).join(", ")} jobs/s`);
    for (const [index, variant] of PEER_VARIANTS.entries()) {
      const ssh = variant.controlMaster ? withMaster : withoutMaster;
      await ssh.startMasters(settings.nodes);
      const peerJobs = variant.controlMaster ? settings.peerJobsWithControlMaster : settings.peerJobsWithoutControlMaster;
      const ms = await runThroughParallel({ jobs: peerJobs, nodes: settings.nodes, jobsPerNode: settings.peerJobsPerNode, command: variant.command, ssh, workDir: ctx.root });
      result.peers[index]!.push(peerJobs / (ms / 1000));
      log(`${tag}: GNU parallel ${describePeer(variant)}: ${(peerJobs / (ms / 1000)).toFixed(1)} jobs/s`);
    }
  });
  return { dispatch: result, fileSystem };
}

/** W1 of the peer: its own clock, and the CPU of the whole machine meanwhile. */
async function measurePeerDispatch(ctx: SuiteContext, jobs: number, run: () => Promise<number>): Promise<PeerDispatchRun> {
  ctx.meter.start();
  const ms = await run();
  return { jobs, ms, jobsPerSecond: jobs / (ms / 1000), cpu: ctx.meter.stop() };
}

async function measureEfficiencyRuns(ctx: SuiteContext, dask: DaskResults): Promise<Pick<SuiteResults, "efficiency" | "efficiencyMixed">> {
  const { settings, log } = ctx;
  const slots = settings.nodes * settings.slotsPerNode;
  const { fixed, mixed } = w2SleepLengths(settings);
  const efficiency: EfficiencyRun[] = [];
  const efficiencyMixed: EfficiencyRun[] = [];
  await repeat(settings.repeats, async (round) => {
    // Each way on a cluster started for it (as Dask's below), its fixed lengths first; which way runs first alternates by round.
    for (const way of round % 2 === 0 ? (["batch", "oneByOne"] as const) : (["oneByOne", "batch"] as const)) {
      await ctx.inFreshDirectory("w2", async (dir) => {
        const malocher = new Malocher({ dir });
        const cluster = await malocher.startCluster(ctx.cluster(settings.nodes, `W2, ${SUBMIT_WAY_NAMES[way]}`));
        try {
          await cluster.ready();
          efficiency.push(await measureEfficiency(malocher, cluster, fixed, slots, way));
          efficiencyMixed.push(await measureEfficiency(malocher, cluster, mixed, slots, way));
        } finally {
          await cluster.close();
        }
      });
      log(
        `W2 round ${round + 1}/${settings.repeats}, ${SUBMIT_WAY_NAMES[way]}: efficiency ${efficiency.at(-1)!.efficiency.toFixed(3)} (${settings.efficiencySleepMs} ms jobs), ` +
          `${efficiencyMixed.at(-1)!.efficiency.toFixed(3)} (1–${settings.efficiencyMixedMaxMs} ms)`,
      );
    }
    await ctx.withDask(`W2 round ${round + 1}/${settings.repeats}`, dask, async (peer) => {
      await peer.start(ctx.nodes.sshd, settings.nodes, settings.slotsPerNode);
      try {
        dask.efficiency.push(idealSleepMs(fixed, slots) / (await peer.sleep(fixed)).ms);
        dask.efficiencyMixed.push(idealSleepMs(mixed, slots) / (await peer.sleep(mixed)).ms);
      } finally {
        await peer.stop();
      }
      log(`W2 round ${round + 1}/${settings.repeats}: Dask ${dask.efficiency.at(-1)!.toFixed(3)}, ${dask.efficiencyMixed.at(-1)!.toFixed(3)}`);
    });
  });
  return { efficiency, efficiencyMixed };
}

async function measureLatency(ctx: SuiteContext, withMaster: SshClientConfig, withoutMaster: SshClientConfig, dask: DaskResults): Promise<SuiteResults["latency"]> {
  const { settings, log } = ctx;
  const oneJob = { jobs: 1, nodes: 1, jobsPerNode: 1, command: "node -e" as const, workDir: ctx.root };
  const latency: SuiteResults["latency"] = {
    warm: [],
    peerWarmMs: [],
    peerColdMs: [],
    coldProcessAllMs: { small: [], big: [] },
    readyMs: { one: [], big: [] },
    readyCpu: { one: [], big: [] },
    warmMs: { one: [], big: [] },
    processStartCpu: measureProcessStartCpu(3),
  };
  await ctx.inFreshDirectory("w3", async (dir) => {
    const malocher = new Malocher({ dir });
    const cluster = await malocher.startCluster(ctx.cluster(settings.nodes, "W3 warm"));
    try {
      await cluster.ready();
      await withMaster.startMasters(1);
      await repeat(settings.repeats, async (round) => {
        const warm = await measureWarmLatency(malocher, cluster, settings.latencyRuns);
        latency.warm.push(warm);
        const peer = await repeat(settings.peerLatencyRuns, () => runThroughParallel({ ...oneJob, ssh: withMaster }));
        latency.peerWarmMs.push(percentile(peer, 50));
        const p50 = percentile(warm.map((run) => run.totalMs), 50);
        log(`W3 round ${round + 1}/${settings.repeats}: warm p50 ${p50.toFixed(1)} ms; one job through parallel with ControlMaster ${percentile(peer, 50).toFixed(0)} ms`);
      });
    } finally {
      await cluster.close();
    }
  });
  await ctx.withDask("W3 warm", dask, async (peer) => {
    await peer.start(ctx.nodes.sshd, settings.nodes, settings.slotsPerNode);
    try {
      await repeat(settings.repeats, async (round) => {
        dask.warm.push(await peer.latency(settings.latencyRuns));
        log(`W3 round ${round + 1}/${settings.repeats}: Dask warm p50 ${percentile(dask.warm.at(-1)!, 50).toFixed(1)} ms`);
      });
    } finally {
      await peer.stop();
    }
  });
  await repeat(settings.repeats, async (round) => {
    const tag = `W3 cold round ${round + 1}/${settings.repeats}`;
    const small = await ctx.inFreshDirectory("w3-cold", (dir) => measureColdProcessAll(dir, ctx.cluster(settings.nodes, `${tag}, cold processAll`)));
    const big = await ctx.inFreshDirectory("w3-cold", (dir) => measureColdProcessAll(dir, ctx.cluster(settings.coldNodes, `${tag}, cold processAll`)));
    const one = await ctx.inFreshDirectory("w3-ready", (dir) => measureClusterStart(dir, ctx.cluster(1, `${tag}, ready`), ctx.meter));
    const many = await ctx.inFreshDirectory("w3-ready", (dir) => measureClusterStart(dir, ctx.cluster(settings.coldNodes, `${tag}, ready`), ctx.meter));
    const peerCold = await repeat(settings.peerLatencyRuns, () => runThroughParallel({ ...oneJob, ssh: withoutMaster }));
    latency.coldProcessAllMs.small.push(small);
    latency.coldProcessAllMs.big.push(big);
    latency.readyMs.one.push(one.helloMs);
    latency.readyMs.big.push(many.helloMs);
    latency.readyCpu.one.push(one.helloCpu);
    latency.readyCpu.big.push(many.helloCpu);
    latency.warmMs.one.push(one.warmMs);
    latency.warmMs.big.push(many.warmMs);
    latency.peerColdMs.push(percentile(peerCold, 50));
    await ctx.withDask(tag, dask, async (peer) => {
      const one = await peer.start(ctx.nodes.sshd, 1, settings.slotsPerNode);
      await peer.stop();
      ctx.meter.start();
      const big = await peer.start(ctx.nodes.sshd, settings.coldNodes, settings.slotsPerNode);
      const cpu = ctx.meter.stop();
      await peer.stop();
      // Both or neither: the report divides one by the other.
      dask.readyMs.one.push(one);
      dask.readyMs.big.push(big);
      dask.readyCpu.big.push(cpu);
      log(`${tag}: Dask SSHCluster until every worker registered ${one.toFixed(0)} ms (1 node), ${big.toFixed(0)} ms (${settings.coldNodes} nodes)`);
    });
    log(
      `${tag}: processAll of one job ${small.toFixed(0)} ms (${settings.nodes} nodes), ${big.toFixed(0)} ms (${settings.coldNodes} nodes); ` +
        `every agent said hello ${one.helloMs.toFixed(0)} ms (1 node), ${many.helloMs.toFixed(0)} ms (${settings.coldNodes} nodes); ` +
        `warm workers started ${one.warmMs.toFixed(0)} ms, ${many.warmMs.toFixed(0)} ms`,
    );
  });
  return latency;
}

async function measureScale(ctx: SuiteContext): Promise<SuiteResults["scale"]> {
  const { settings, log } = ctx;
  const oneByOne: SubmitRun[] = [];
  const batch: SubmitRun[] = [];
  await repeat(settings.repeats, async (round) => {
    // Whichever comes first in a process pays for growing the kernel's inode and dentry caches: alternate.
    const measureOne = async () => oneByOne.push(await ctx.inFreshDirectory("w4-submit", async (dir) => measureSubmitRate(dir, settings.submitJobs)));
    const measureBatch = async () => batch.push(await ctx.inFreshDirectory("w4-submit-many", (dir) => measureBatchSubmitRate(dir, settings.batchJobs)));
    if (round % 2 === 0) await measureOne().then(measureBatch);
    else await measureBatch().then(measureOne);
    const one = oneByOne.at(-1)!;
    const many = batch.at(-1)!;
    log(
      `W4 round ${round + 1}/${settings.repeats}: one-by-one submit ${one.jobsPerSecond.toFixed(0)} jobs/s, ` +
        `submitMany ${many.jobsPerSecond.toFixed(0)} jobs/s (${(many.jobsPerSecond / one.jobsPerSecond).toFixed(2)}×)`,
    );
  });
  log(`W4: every slot busy, ${settings.queuedJobs} jobs queued; sampling the agents' CPU for ${settings.repeats} × ${settings.cpuWindowMs / 1000} s`);
  const busyAndQueued = await ctx.inFreshDirectory("w4-queued", (dir) =>
    measureBusyAndQueued(dir, ctx.cluster(settings.nodes, "W4 busy and queued"), { slotsPerNode: settings.slotsPerNode, queued: settings.queuedJobs, windowMs: settings.cpuWindowMs, windows: settings.repeats }, () => ctx.nodes.daemonPids()),
  );
  return { oneByOne, batch, busyAndQueued };
}

async function profileW1(ctx: SuiteContext): Promise<SuiteResults["dispatchProfiles"]> {
  const { settings, log } = ctx;
  log("a target of the per-job path was missed: profiling one more W1 run (supervisor over SSH; agent and workers on a local agent)");
  // Kept after the run (the report names them): open them in Chrome's DevTools or VS Code.
  const outputDir = mkdtempSync(join(tmpdir(), "malocher-bench-profiles-"));
  const overSsh = join(ctx.root, "w1-profile-ssh");
  const local = join(ctx.root, "w1-profile-local");
  try {
    const profiles = await profileDispatch({
      jobs: settings.dispatchJobs,
      sshOptions: ctx.cluster(settings.nodes, "profile run"),
      slots: settings.slotsPerNode,
      nodeDaemons: ctx.nodes.daemonPids(),
      directories: [overSsh, local],
      outputDir,
      topFunctions: TOP_FUNCTIONS,
    });
    return { ...profiles, outputDir };
  } finally {
    rmSync(overSsh, { recursive: true, force: true });
    rmSync(local, { recursive: true, force: true });
  }
}

export function describePeer(variant: PeerVariant): string {
  return `${variant.controlMaster ? "with" : "without"} ControlMaster, \`${variant.command}\``;
}
