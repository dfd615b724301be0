import { resolve } from "node:path";
import { MalocherError, type JobRunOptions, shownValue } from "@malocher/protocol";
import { slurmSettingsOf, type ClusterSettings } from "./cluster/cluster.js";
import { resolveNodeTargets, type NodeTarget, type SshOptions } from "./ssh/node-target.js";
import { checkRunOptions } from "./submit/job-options.js";
import { checkSlurmOptions, longestJobMs, type SlurmOptions } from "./cluster/slurm/slurm-options.js";
import { MAX_READ_BYTES, prepareSharedDirectory } from "@malocher/store";
import type { DashboardOptions } from "./dashboard/dashboard-options.js";
import { SSH_SETTING_NAMES } from "./option-names.js";

/**
 * How to start agents and run jobs: the options `processAll` and `startCluster` share.
 * Job options given at `submit.with` win over `timeoutMs`, `retries` and `retryOnError` here.
 */
export interface ClusterOptions extends SshOptions, JobRunOptions {
  /** The shared directory; default `$MALOCHER_DIR` or `./.malocher`. */
  dir?: string;
  /** Jobs at once per node; default the node's CPU count. */
  slots?: number;
  /** A node is lost when it sent nothing for this long (heartbeats come every second). Default 5000. */
  heartbeatTimeoutMs?: number;
  /** An agent whose lease did not change for this long (on this machine's clock) is dead. Default 15000. */
  leaseTimeoutMs?: number;
  /**
   * A warm worker is replaced after this many jobs (against what jobs may leave behind in it:
   * timers, handles, module state; memory is checked after every job, see `maxWorkerMemoryMb`).
   * Default 10,000. A new worker costs its node about 0.4 s of CPU to start, and its first few
   * hundred jobs run before V8 has optimized its path: with 1,000, 20,000 no-op jobs on 4 nodes
   * × 2 slots ran at 825–944 jobs/s on this 2-core machine, with 10,000 at 1,280–1,299.
   */
  maxJobsPerWorker?: number;
  /** A job whose worker grows past this many MB (heap or resident) fails with JOB_OUT_OF_MEMORY. Default 4096. */
  maxWorkerMemoryMb?: number;
  /**
   * Each attempt of a job keeps at most this many bytes of stdout and of stderr in its logs: the
   * last ones, after a "[... N bytes cut ...]" note. Default 1 MiB.
   */
  maxLogBytes?: number;
  /**
   * Work in a directory that other users can write to (a deliberate group setup): each run then
   * warns instead of refusing with `SHARED_DIR_INSECURE`. Specs are still signed and verified.
   */
  allowSharedWriters?: boolean;
  /**
   * A drain (Ctrl-C once, `close()`) lets running jobs finish for at most this long; then they
   * are killed (SIGTERM, SIGKILL `killGraceMs` later) and go back to the queue without counting
   * an attempt. Default: no deadline.
   */
  drainTimeoutMs?: number;
  /** A lost node is started again (with exponential backoff) this many times in a row before it is set aside. Default 5. */
  maxNodeRestarts?: number;
  /**
   * Variables every job of the run gets on its node; a job's own `env` entries win over these.
   *
   * @example
   * ```ts
   * await processAll({ env: { OMP_NUM_THREADS: "1" }, cwd: "/shared/alice/project" });
   * ```
   */
  env?: Record<string, string>;
  /** The working directory of the run's jobs that did not name their own `cwd` (relative: to this process's). */
  cwd?: string;
  /** Where warnings go (default: stderr). */
  onWarning?: (warning: string) => void;
  /**
   * Start the agents through Slurm instead of over SSH: one allocation of `slurm.nodes` nodes, one
   * agent per node, another allocation while jobs remain. `slots` is then asked of Slurm per node
   * (`--cpus-per-task`); without it each agent runs as many jobs as the CPUs Slurm gave it.
   *
   * @example
   * ```ts
   * await processAll({ slurm: { nodes: 2, time: "30:00", partition: "short" } });
   * ```
   */
  slurm?: SlurmOptions;
  /**
   * Serve the dashboard (a web page of the jobs, nodes, failures and logs) while this runs, on
   * 127.0.0.1; its address with the token is printed (or given to `onListening`).
   */
  dashboard?: boolean | DashboardOptions;
}

const DISCONNECT_GRACE_MS = 10000;
const DEFAULT_RETRIES = 3;
const DEFAULT_MAX_LOG_BYTES = 1024 * 1024;
const DEFAULT_KILL_GRACE_MS = 5000;

/** Checks cluster options and fills in the defaults. */
export function clusterSettings(dir: string, options: ClusterOptions): ClusterSettings {
  const run = checkRunOptions(options, "processAll");
  if (options.slurm !== undefined && options.sshMachines !== undefined) {
    throw new MalocherError("INVALID_OPTIONS", "processAll takes sshMachines or slurm, not both: Slurm chooses the machines.");
  }
  refuseSshOptionsWithoutMachines(options);
  const nodes: ClusterSettings["nodes"] =
    options.slurm !== undefined ? { slurm: checkSlurmOptions(options.slurm), ssh: options } : options.sshMachines === undefined ? "local" : resolveNodeTargets(options);
  if (Array.isArray(nodes)) warnAboutUncheckedHostKeys(nodes, options);
  const killGraceMs = run.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const slurm = slurmSettingsOf(nodes);
  const longest = slurm === undefined ? Infinity : longestJobMs(slurm, killGraceMs);
  if (slurm !== undefined && run.timeoutMs !== undefined && run.timeoutMs > longest) {
    // Every job would fail NO_NODE_FITS, after an allocation was asked for in vain.
    throw new MalocherError(
      "INVALID_OPTIONS",
      `timeoutMs (--timeout) is ${run.timeoutMs} ms, longer than a job can run in an allocation of time ${slurm.time} (${longest} ms: the time less ${slurm.timeLimitMs - longest} ms in which agents stop their jobs before Slurm does). Ask for a longer time (slurm.time, --slurm-time) or a shorter timeout.`,
    );
  }
  return {
    dir,
    nodes,
    slots: wholeNumber(options.slots, "slots", 1) ?? 0,
    disconnectGraceMs: DISCONNECT_GRACE_MS,
    heartbeatTimeoutMs: wholeNumber(options.heartbeatTimeoutMs, "heartbeatTimeoutMs", 1) ?? 5000,
    leaseTimeoutMs: wholeNumber(options.leaseTimeoutMs, "leaseTimeoutMs", 1) ?? 15000,
    allowSharedWriters: options.allowSharedWriters === true,
    // Infinity: restarted without end.
    maxNodeRestarts: options.maxNodeRestarts === Infinity ? Infinity : (wholeNumber(options.maxNodeRestarts, "maxNodeRestarts", 0) ?? 5),
    run: {
      timeoutMs: run.timeoutMs ?? 0,
      retries: run.retries ?? DEFAULT_RETRIES,
      retryOnError: run.retryOnError ?? false,
      killGraceMs,
      drainTimeoutMs: wholeNumber(options.drainTimeoutMs, "drainTimeoutMs", 1) ?? 0,
      maxJobsPerWorker: wholeNumber(options.maxJobsPerWorker, "maxJobsPerWorker", 1) ?? 10_000,
      maxWorkerMemoryMb: wholeNumber(options.maxWorkerMemoryMb, "maxWorkerMemoryMb", 1) ?? 4096,
      maxLogBytes: logLimit(options.maxLogBytes) ?? DEFAULT_MAX_LOG_BYTES,
      env: checkRunEnv(options.env),
      ...(options.cwd === undefined ? {} : { cwd: checkRunCwd(options.cwd) }),
    },
  };
}

/** Refuses SSH settings a run would ignore: without `sshMachines` (or `slurm.loginHost`) it is local (the CLI's twin: `refuseSshFlagsWithoutMachines`). */
function refuseSshOptionsWithoutMachines(options: ClusterOptions): void {
  if (options.sshMachines !== undefined || options.slurm?.loginHost !== undefined) return;
  const given = (Object.keys(SSH_SETTING_NAMES) as Array<keyof typeof SSH_SETTING_NAMES>).filter((name) => options[name] !== undefined);
  if (given.length === 0) return;
  throw new MalocherError(
    "INVALID_OPTIONS",
    `${given.join(", ")} ${given.length === 1 ? "is" : "are"} for sshMachines (or slurm.loginHost); without sshMachines the run is local and would ignore ${given.length === 1 ? "it" : "them"}. Nothing was started.`,
  );
}

function checkRunEnv(env: Record<string, string> | undefined): Record<string, string> {
  if (env === undefined) return {};
  if (typeof env !== "object" || env === null || Array.isArray(env)) {
    throw new MalocherError("INVALID_OPTIONS", `processAll({ env }) needs an object of variables, got ${Array.isArray(env) ? "an array" : typeof env}.`);
  }
  for (const [name, value] of Object.entries(env)) {
    if (name === "" || name.includes("=") || name.includes("\0")) {
      throw new MalocherError("INVALID_OPTIONS", `processAll({ env }) has an invalid variable name ${JSON.stringify(name)}: use a name without "=".`);
    }
    if (typeof value !== "string") {
      throw new MalocherError("INVALID_OPTIONS", `processAll({ env }) needs string values; env.${name} is ${typeof value}. Use String(value).`);
    }
  }
  return { ...env };
}

function checkRunCwd(cwd: string): string {
  if (typeof cwd !== "string" || cwd === "") throw new MalocherError("INVALID_OPTIONS", `processAll({ cwd }) needs a directory path, got ${JSON.stringify(cwd)}.`);
  return resolve(cwd);
}

/** `value` when it is a whole number ≥ `least` (undefined when not given). */
function wholeNumber(value: number | undefined, name: string, least: number): number | undefined {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < least)) {
    throw new MalocherError("INVALID_OPTIONS", `{ ${name} } needs a whole number ≥ ${least}, got ${shownValue(value, "number")}.`);
  }
  return value;
}

/** `maxLogBytes`: a whole number of bytes, at most what a reader reads of a log (`MAX_READ_BYTES`, 1 GiB). */
function logLimit(value: number | undefined): number | undefined {
  const bytes = wholeNumber(value, "maxLogBytes", 1);
  if (bytes !== undefined && bytes > MAX_READ_BYTES) {
    throw new MalocherError("INVALID_OPTIONS", `{ maxLogBytes } (--max-log-bytes) is at most ${MAX_READ_BYTES} (1 GiB: what logs and the dashboard read of a log), got ${bytes}.`);
  }
  return bytes;
}

/** StrictHostKeyChecking no is allowed only when asked for, and then said loudly on every run. */
function warnAboutUncheckedHostKeys(nodes: NodeTarget[], options: ClusterOptions): void {
  const unchecked = new Set<string>();
  const visit = (target: NodeTarget) => {
    if (target.strictHostKeyChecking === "no") unchecked.add(`${target.label} (${target.host}:${target.port})`);
    if (target.via !== undefined) visit(target.via);
  };
  nodes.forEach(visit);
  if (unchecked.size === 0) return;
  const warn = warningsTo(options);
  warn(
    `HOST KEYS ARE NOT CHECKED for ${[...unchecked].join(", ")} (StrictHostKeyChecking no): anyone on the network path ` +
      `can impersonate these machines and read or change every job. Use accept-new or yes unless you know why not.`,
  );
}

/** Where a run's warnings go: `onWarning`, else stderr. */
export function warningsTo(options: { onWarning?: (warning: string) => void }): (warning: string) => void {
  return options.onWarning ?? ((warning: string) => process.stderr.write(`malocher: WARNING: ${warning}\n`));
}

/** Opens (or creates) the shared directory for a run, passing its warnings on. */
export function openSharedDirectory(dir: string, options: ClusterOptions): void {
  const warnings = prepareSharedDirectory(dir, { create: true, allowSharedWriters: options.allowSharedWriters === true });
  const warn = warningsTo(options);
  for (const warning of warnings) warn(warning);
}
