/** The sizes of a benchmark run: the full one (the numbers) and `--quick`. */

export interface BenchSettings {
  mode: "full" | "quick";
  /** How often each measurement is repeated. */
  repeats: number;
  /** Nodes of W1, W2, W3 warm and W4. */
  nodes: number;
  /** Nodes of W3's big cold start. */
  coldNodes: number;
  slotsPerNode: number;
  /** W1 and the local-agent limit: no-op jobs per run. */
  dispatchJobs: number;
  /**
   * W1's batch way, and Dask's, once more with this many jobs: how the ratio moves when the
   * processes' first jobs (before V8 has compiled their path) weigh less. No target: the is on `dispatchJobs`.
   */
  batchAtScaleJobs: number;
  /**
   * The warm-up curve: this many batches of {@link BenchSettings.warmUpBatchJobs} no-op jobs, one
   * after another on one started local agent (no SSH): the CPU per job of the same processes from
   * their first jobs until V8 has compiled their path.
   */
  warmUpBatches: number;
  warmUpBatchJobs: number;
  /** GNU parallel's jobs at once per node (`-S N/host`). */
  peerJobsPerNode: number;
  /** GNU parallel's no-op jobs per run, with ControlMaster (the W1 target's peer). */
  peerJobsWithControlMaster: number;
  /**
   * The same without ControlMaster: a new SSH connection per job costs ~0.1 s of CPU here, so
   * the full count would take minutes per run; the rate is set by that per-job cost.
   */
  peerJobsWithoutControlMaster: number;
  efficiencyJobs: number;
  efficiencySleepMs: number;
  /** W2 with mixed lengths: each job sleeps 1 ms to this long (the same lengths for every peer). */
  efficiencyMixedMaxMs: number;
  /** Run the Dask SSHCluster peer (skipped, saying why, when Dask is not installed). */
  dask: boolean;
  /** W3: single jobs per repeat (p50 and p99 are over these). */
  latencyRuns: number;
  /** W3: single-job `parallel` invocations per repeat. */
  peerLatencyRuns: number;
  /** File-system limits: operations per repeat. */
  fileSystemOps: number;
  /** W4: one-by-one submits per repeat. */
  submitJobs: number;
  /** W4: jobs of one `submitMany` per repeat. */
  batchJobs: number;
  /** W4: jobs queued behind the busy slots. */
  queuedJobs: number;
  /** W4: length of one CPU sampling window (one per repeat); /proc counts CPU in 10 ms ticks. */
  cpuWindowMs: number;
  /** Profile one more W1 run (supervisor, agent, workers) when W1, W2 or W3's warm latency misses its target. */
  profileOnMiss: boolean;
}

export const FULL: BenchSettings = {
  mode: "full",
  repeats: 3,
  nodes: 4,
  coldNodes: 16,
  slotsPerNode: 2,
  dispatchJobs: 2000,
  batchAtScaleJobs: 20_000,
  warmUpBatches: 8,
  warmUpBatchJobs: 1000,
  peerJobsPerNode: 4,
  peerJobsWithControlMaster: 2000,
  peerJobsWithoutControlMaster: 200,
  efficiencyJobs: 200,
  efficiencySleepMs: 100,
  efficiencyMixedMaxMs: 200,
  dask: true,
  latencyRuns: 200,
  peerLatencyRuns: 10,
  fileSystemOps: 20_000,
  submitJobs: 5000,
  batchJobs: 100_000,
  queuedJobs: 100_000,
  cpuWindowMs: 10_000,
  profileOnMiss: true,
};

export const QUICK: BenchSettings = {
  ...FULL,
  mode: "quick",
  repeats: 1,
  dispatchJobs: 500,
  batchAtScaleJobs: 5000,
  warmUpBatches: 4,
  warmUpBatchJobs: 500,
  peerJobsWithControlMaster: 100,
  peerJobsWithoutControlMaster: 24,
  latencyRuns: 50,
  peerLatencyRuns: 3,
  fileSystemOps: 5000,
  batchJobs: 20_000,
  queuedJobs: 20_000,
  cpuWindowMs: 5000,
  profileOnMiss: false,
};
