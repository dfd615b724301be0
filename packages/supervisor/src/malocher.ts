import { resolve } from "node:path";
import { MalocherError, isJobId, quoteNonId, refuseWhileImportingJobModule, shownValue, type JobResult, type JobSpec, type JobState } from "@malocher/protocol";
import { readJobState } from "@malocher/store";
import { cancelJobs, type CancelOutcome } from "@malocher/store";
import { loadDirectoryKey, prepareSharedDirectory } from "@malocher/store";
import { processJobs, type ProcessAllOptions } from "./process-all.js";
import { startClusterIn, type StartedCluster } from "./started-cluster.js";
import { openSharedDirectory, type ClusterOptions } from "./cluster-options.js";
import type { RunEvent } from "./cluster/cluster.js";
import { checkNodes, type NodeCheck } from "./check-nodes.js";
import { prepareJob, type JobTarget } from "./submit/prepare-job.js";
import { prepareCommandJob } from "./submit/prepare-command-job.js";
import type { CommandJobOptions, JobOptions } from "./submit/job-options.js";
import { keyedJobDifference, rerunKeyedJob, submitJob } from "@malocher/store";
import { warnKeyReused } from "./submit/key-reuse-warning.js";
import { noteSubmitted } from "./submit/submitted-jobs.js";
import { locateFunction } from "@malocher/locate";
import { readAllocationRecords, removeStaleAllocationFiles, type AllocationRecord } from "./cluster/slurm/allocation-records.js";
import { CLUSTER_OPTION_NAMES, COMMAND_JOB_OPTION_NAMES, JOB_FILTER_NAMES, JOB_OPTION_NAMES, RUN_OPTION_NAMES, optionNames, rejectUnknownNames } from "./option-names.js";
import { submitMany, type BatchOptions } from "./submit/submit-many.js";
import { announceCancelled, announceSubmitted } from "./submit/announce-submitted.js";
import { listFinishedIds, listJobIds } from "@malocher/store";
import { readAllResults } from "@malocher/store";
import { loadResultClass } from "./results/load-result-class.js";
import { readDirectoryStatus, type DirectoryStatus } from "@malocher/store";
import { LISTED_JOB_STATES, listJobs, type JobFilter, type JobListing } from "@malocher/store";
import { readLogs, type JobLogs } from "@malocher/store";
import { retryJobs, type RetryOutcome } from "@malocher/store";
import { cleanJobs, type CleanOptions, type CleanedJob } from "@malocher/store";
import { followLogs, type FollowLogsOptions, type LogEvent } from "@malocher/store";
import { waitForResult, type ResultWaitOptions } from "./results/wait-for-result.js";
import { startDashboardServer } from "./dashboard/dashboard-server.js";
import { directoryActions } from "./dashboard/dashboard-actions.js";
import { checkDashboardOptions, type Dashboard, type DashboardOptions } from "./dashboard/dashboard-options.js";

/** `submit(fn, ...args)` and `submit.with(options)(fn, ...args)`. */
export interface SubmitFunction {
  /** Queues `fn(...args)` as a job and returns its id. */
  <F extends (...args: never[]) => unknown>(fn: F, ...args: Parameters<F>): string;
  /** Queues a job given by reference: `{ module: import.meta.url, export: "train" }`. */
  (fn: { module: string; export: string }, ...args: unknown[]): string;
  /** The same `submit`, with per-job options. */
  with(options: JobOptions): SubmitFunction;
}

/** Options of {@link Malocher}. */
export interface MalocherOptions {
  /** The shared directory; default `$MALOCHER_DIR` or `./.malocher`. It must be on the shared FS. */
  dir?: string;
  /** Accept a directory other users can write to, with a warning (see `ClusterOptions`). */
  allowSharedWriters?: boolean;
}

/** The shared directory the default functions use. */
export function defaultDirectory(): string {
  return resolve(process.env["MALOCHER_DIR"] || ".malocher");
}

/**
 * A Malocher directory: submit jobs into it, run them, read results. The package's top-level
 * `submit`, `processAll` and `results` use one of these on the default directory.
 *
 * @example
 * ```ts
 * const m = new Malocher({ dir: "/shared/alice/experiments" });
 * const id = m.submit(train, 3, 0.01);
 * for await (const [jobId, result] of m.processAll({ sshMachines: ["node1", "node2"] })) console.log(jobId, result);
 * ```
 */
export class Malocher {
  /** The shared directory (absolute). */
  readonly dir: string;
  /** Queues a job; synchronous; returns its id. */
  readonly submit: SubmitFunction;
  private prepared = false;

  private readonly allowSharedWriters: boolean;

  constructor(options: MalocherOptions = {}) {
    rejectUnknownNames(options, ["dir", "allowSharedWriters"], "new Malocher");
    this.dir = options.dir === undefined ? defaultDirectory() : resolve(options.dir);
    this.allowSharedWriters = options.allowSharedWriters === true;
    this.submit = this.makeSubmit({});
  }

  /**
   * Queues a command job: the program `argv[0]` (found on the node's PATH) with the other words
   * as its arguments, no shell (use `["sh", "-c", "…"]` for one). Synchronous; returns the job id.
   * Its result's `value` is a `CommandOutput` `{ exitCode, signal, stdout, stderr }` (the last 4 KiB
   * of each); a non-zero exit or a signal makes it `ok: false` with `COMMAND_FAILED` and the same
   * fields on the error. Its full output goes to the job's logs.
   *
   * @example
   * ```ts
   * for (const seed of [1, 2, 3]) m.submitCommand(["python", "train.py", "--seed", String(seed)], { timeoutMs: 3_600_000 });
   * ```
   */
  submitCommand(argv: readonly string[], options: CommandJobOptions = {}): string {
    refuseWhileImportingJobModule("submitCommand()");
    rejectUnknownNames(options, COMMAND_JOB_OPTION_NAMES, "submitCommand");
    return this.enqueue((key) => prepareCommandJob(argv, options, key), options.key);
  }

  /**
   * Runs every job without a result (also ones other processes submitted) and yields
   * `[jobId, result]` in completion order. Without `sshMachines` it runs them on this machine.
   * A job its agents start while it runs (one retried, or submitted by another process) is part
   * of the run too: a retried job is yielded again, with its new result.
   */
  processAll(options: Omit<ProcessAllOptions, "dir"> = {}): AsyncIterable<[string, JobResult]> {
    refuseWhileImportingJobModule("processAll()");
    rejectUnknownNames(options, optionNames(CLUSTER_OPTION_NAMES, RUN_OPTION_NAMES), "processAll");
    return processJobs(this.dir, { allowSharedWriters: this.allowSharedWriters, ...options });
  }

  /** Starts agents that stay up between `processAll` calls; see {@link StartedCluster}. */
  async startCluster(options: Omit<ClusterOptions, "dir"> & { onEvent?: (event: RunEvent) => void } = {}): Promise<StartedCluster> {
    refuseWhileImportingJobModule("startCluster()");
    rejectUnknownNames(options, [...optionNames(CLUSTER_OPTION_NAMES), "onEvent"], "startCluster");
    return startClusterIn(this.dir, { allowSharedWriters: this.allowSharedWriters, ...options });
  }

  /**
   * Checks that every machine of `sshMachines` can run jobs of this directory: SSH login, Node.js
   * and the agent at the same paths as here, this directory shared and writable. See {@link checkNodes}.
   *
   * @example
   * ```ts
   * const bad = (await m.checkNodes({ sshMachines: ["node1", "node2"] })).filter((node) => !node.ok);
   * ```
   */
  checkNodes(options: Omit<ClusterOptions, "dir">): Promise<NodeCheck[]> {
    try {
      rejectUnknownNames(options, CLUSTER_OPTION_NAMES, "checkNodes");
    } catch (error) {
      return Promise.reject(error);
    }
    return checkNodes({ allowSharedWriters: this.allowSharedWriters, ...options, dir: this.dir });
  }

  /**
   * Every finished job's `[jobId, result]`, oldest job first. Class instances in values and
   * thrown errors get their classes back by importing their modules (never this process's main
   * module: see {@link JobResult}); with `loadClasses: false` nothing is imported and they arrive
   * as placeholders that carry their fields and their class's name.
   */
  results(options: { loadClasses?: boolean } = {}): AsyncIterable<[string, JobResult]> {
    rejectUnknownNames(options, ["loadClasses"], "results");
    return readAllResults(this.dir, options.loadClasses === false ? undefined : loadResultClass);
  }

  /**
   * Waits for one job's result, whoever runs it (this process or another one), and resolves with
   * it. `timeoutMs` gives up with `RESULT_WAIT_TIMED_OUT`, `signal` with its reason.
   *
   * @example
   * ```ts
   * const result = await m.result(m.submit(train, 3), { timeoutMs: 60_000 });
   * ```
   */
  result(jobId: string, options?: ResultWaitOptions): Promise<JobResult> {
    try {
      rejectUnknownNames(options, ["signal", "timeoutMs"], "result");
    } catch (error) {
      return Promise.reject(error);
    }
    return waitForResult(this.dir, jobId, options);
  }

  /** Ids of the jobs that have no result yet, oldest first. */
  async unfinishedJobs(): Promise<string[]> {
    const finished = await listFinishedIds(this.dir);
    return (await listJobIds(this.dir)).filter((jobId) => !finished.has(jobId));
  }

  /** One job's state (`waiting`, `queued`, `retrying`, `running`, `succeeded`, `failed`, `cancelled`), or undefined for an unknown id. */
  async state(jobId: string): Promise<JobState | undefined> {
    if (!isJobId(jobId)) throw new MalocherError("JOB_NOT_FOUND", `${quoteNonId(jobId)} is not a job id.`);
    return readJobState(this.dir, jobId);
  }

  /**
   * Every job of the directory with its state, name, key, host, attempts, duration and what it
   * runs (the function and its arguments, or the command), oldest first; only those `filter`
   * admits (each field given must match one of its entries).
   *
   * @example
   * ```ts
   * for (const job of await m.jobs({ states: ["running"] })) console.log(job.jobId, job.host, job.what);
   * ```
   */
  async jobs(filter: JobFilter = {}): Promise<JobListing[]> {
    checkJobFilter(filter);
    prepareSharedDirectory(this.dir, { create: false, allowSharedWriters: this.allowSharedWriters });
    return listJobs(this.dir, filter);
  }

  /**
   * Counts of jobs per state and per node, read from the directory, and the Slurm allocations
   * that live supervisors of this directory hold (pending with Slurm's reason, or running until `endsAt`).
   */
  async status(): Promise<DirectoryStatus & { allocations: AllocationRecord[] }> {
    prepareSharedDirectory(this.dir, { create: false, allowSharedWriters: this.allowSharedWriters });
    const [status, allocations] = await Promise.all([readDirectoryStatus(this.dir), readAllocationRecords(this.dir)]);
    return { ...status, allocations };
  }

  /**
   * Cancels jobs: queued ones never start, running ones are killed; their results say
   * `JOB_CANCELLED`. Jobs that already finished keep their result. Returns what happened to each.
   */
  async cancel(jobIds: string | readonly string[]): Promise<Record<string, CancelOutcome>> {
    const ids = typeof jobIds === "string" ? [jobIds] : [...jobIds];
    for (const jobId of ids) if (!isJobId(jobId)) throw new MalocherError("JOB_NOT_FOUND", `${quoteNonId(jobId)} is not a job id.`);
    const outcomes = await cancelJobs(this.dir, ids);
    announceCancelled(this.dir, ids);
    return outcomes;
  }

  /**
   * Gives failed jobs a fresh run: each failed result is set aside (kept in `retried/` until
   * `clean`) and the job queued again, so the next `processAll` runs it. Jobs that did not fail
   * are left alone. Returns what happened to each.
   *
   * @example
   * ```ts
   * await m.retry([jobId]);
   * for await (const [id, result] of m.processAll()) console.log(id, result.ok);
   * ```
   */
  async retry(jobIds: string | readonly string[]): Promise<Record<string, RetryOutcome>> {
    prepareSharedDirectory(this.dir, { create: false, allowSharedWriters: this.allowSharedWriters });
    const ids = typeof jobIds === "string" ? [jobIds] : [...jobIds];
    for (const jobId of ids) if (!isJobId(jobId)) throw new MalocherError("JOB_NOT_FOUND", `${quoteNonId(jobId)} is not a job id.`);
    const outcomes = await retryJobs(this.dir, ids);
    if (Object.values(outcomes).includes("requeued")) announceSubmitted(this.dir, Infinity); // retried jobs may ask for any node
    return outcomes;
  }

  /** {@link retry} for every failed job of the directory (not cancelled ones); returns the ids requeued. */
  async retryFailed(): Promise<string[]> {
    const failed: string[] = [];
    for await (const [jobId, result] of this.results()) if (!result.ok && result.error.code !== "JOB_CANCELLED") failed.push(jobId);
    const outcomes = await this.retry(failed);
    return failed.filter((jobId) => outcomes[jobId] === "requeued");
  }

  /**
   * Removes finished jobs' files (spec, result, logs, key, set-aside results), never those of
   * queued or running jobs, and what supervisors that died left in `slurm/` (the files of
   * allocations none records any more). Returns the jobs removed.
   *
   * @example
   * ```ts
   * const removed = await m.clean({ olderThanMs: 7 * 24 * 3600_000, only: "succeeded" });
   * ```
   */
  async clean(options: CleanOptions = {}): Promise<CleanedJob[]> {
    rejectUnknownNames(options, ["olderThanMs", "only"], "clean");
    prepareSharedDirectory(this.dir, { create: false, allowSharedWriters: this.allowSharedWriters });
    const cleaned = await cleanJobs(this.dir, options);
    await removeStaleAllocationFiles(this.dir);
    return cleaned;
  }

  /**
   * Serves the dashboard of this directory (a web page of its jobs, failures and logs, with a JSON
   * API) on 127.0.0.1 until `close()`; prints its address with the token unless `onListening` is
   * given. `processAll({ dashboard })` and `startCluster({ dashboard })` also show their nodes.
   *
   * @example
   * ```ts
   * const dashboard = await m.dashboard({ port: 8470, readOnly: true });
   * console.log(dashboard.url); // http://127.0.0.1:8470/?token=…
   * ```
   */
  async dashboard(options: DashboardOptions = {}): Promise<Dashboard> {
    checkDashboardOptions(options, "dashboard");
    prepareSharedDirectory(this.dir, { create: false, allowSharedWriters: this.allowSharedWriters });
    return startDashboardServer(directoryActions(this.dir, this.allowSharedWriters), options);
  }

  /** What a job wrote to stdout and stderr. */
  async logs(jobId: string): Promise<JobLogs> {
    return readLogs(this.dir, jobId);
  }

  /**
   * Follows a job's output as it is written, until the job has a result (the last event).
   *
   * @example
   * ```ts
   * for await (const event of m.followLogs(jobId)) {
   *   if (event.type === "output") process[event.stream].write(event.data);
   *   else console.log("finished:", event.result.ok);
   * }
   * ```
   */
  followLogs(jobId: string, options: FollowLogsOptions = {}): AsyncIterable<LogEvent> {
    rejectUnknownNames(options, ["pollMs", "signal"], "followLogs");
    return followLogs(this.dir, jobId, options);
  }

  /**
   * Queues one job per argument list, writing them in chunks (faster than one `submit` per job:
   * the function is located once, markers are linked, agents told once per chunk); resolves with
   * their ids in the same order. A bad argument list is refused with the
   * error `submit` gives, naming `argLists[i]…`; see {@link submitMany} for what was submitted then.
   *
   * @example
   * ```ts
   * const ids = await m.submitMany(train, seeds.map((seed) => [seed, 0.01]), { tags: ["sweep"] });
   * ```
   */
  submitMany<F extends (...args: never[]) => unknown>(fn: F, argLists: Iterable<Parameters<F>>, options?: BatchOptions): Promise<string[]>;
  submitMany(fn: { module: string; export: string }, argLists: Iterable<readonly unknown[]>, options?: BatchOptions): Promise<string[]>;
  async submitMany(fn: JobTarget, argLists: Iterable<readonly unknown[]>, options: BatchOptions = {}): Promise<string[]> {
    refuseWhileImportingJobModule("submitMany()");
    rejectUnknownNames(options, JOB_OPTION_NAMES, "submitMany");
    const jobIds = await submitMany(this.dir, this.directoryKey(), fn, argLists, options).catch((error: unknown) => {
      for (const jobId of (error as { jobIds?: string[] })?.jobIds ?? []) noteSubmitted(this.dir, jobId);
      throw error;
    });
    const module = typeof fn === "function" ? locateFunction(fn).module : fn.module; // located once already: cached
    for (const jobId of jobIds) noteSubmitted(this.dir, jobId, false, module);
    return jobIds;
  }

  /** The directory's secret key, preparing the directory on first use. */
  private directoryKey(): Uint8Array {
    if (!this.prepared) {
      openSharedDirectory(this.dir, { allowSharedWriters: this.allowSharedWriters });
      this.prepared = true;
    }
    // Made with the directory (by openSharedDirectory) and never again: a new key would make every
    // spec and result already there unverifiable.
    return loadDirectoryKey(this.dir, { create: false });
  }

  private makeSubmit(options: JobOptions): SubmitFunction {
    const submit = ((target: JobTarget, ...args: unknown[]) => {
      refuseWhileImportingJobModule("submit()");
      return this.enqueue((key) => prepareJob(target, args, options, key), options.key);
    }) as SubmitFunction;
    submit.with = (more: JobOptions) => {
      rejectUnknownNames(more, JOB_OPTION_NAMES, "submit.with");
      return this.makeSubmit({ ...options, ...more, env: { ...options.env, ...more.env } });
    };
    return submit;
  }

  /**
   * Writes the spec `prepare` makes (given the directory's key) into the queue; returns the job id.
   * With a `jobKey` whose job exists, that job's id: run again if it had failed (see
   * `rerunKeyedJob`), reused as it is otherwise.
   */
  private enqueue(prepare: (directoryKey: Uint8Array) => JobSpec, jobKey: string | undefined): string {
    const key = this.directoryKey();
    const spec = prepare(key);
    const jobId = submitJob(this.dir, spec, key, jobKey);
    const found = jobId === spec.jobId ? undefined : rerunKeyedJob(this.dir, jobId, key);
    const difference = found === undefined ? undefined : keyedJobDifference(this.dir, jobId, spec, key);
    if (found !== undefined && difference !== undefined) warnKeyReused(jobKey!, jobId, difference, found);
    if (found === undefined || found === "rerun") announceSubmitted(this.dir, 1, spec.options, [jobId]);
    noteSubmitted(this.dir, jobId, found === "finished", spec.kind === "command" ? undefined : spec.fn.module);
    return jobId;
  }
}

/**
 * Refuses a filter of `jobs()` that would admit every job or none by mistake: an unknown field
 * (`{ stat: … }` listed every job), a field that is no list of strings, a state that is none.
 */
function checkJobFilter(filter: JobFilter): void {
  if (typeof filter !== "object" || filter === null || Array.isArray(filter)) {
    throw new MalocherError("INVALID_OPTIONS", `jobs(filter) needs an object, e.g. { states: ["failed"] }, got ${shownValue(filter)}.`);
  }
  rejectUnknownNames(filter, JOB_FILTER_NAMES, "jobs");
  for (const [name, value] of Object.entries(filter) as Array<[string, unknown]>) {
    if (value === undefined) continue;
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
      throw new MalocherError("INVALID_OPTIONS", `jobs({ ${name} }) needs a list of strings, e.g. { ${name}: [${name === "states" ? '"failed"' : '"…"'}] }, got ${shownValue(value)}.`);
    }
  }
  const unknown = filter.states?.find((state) => !LISTED_JOB_STATES.includes(state));
  if (unknown !== undefined) throw new MalocherError("INVALID_OPTIONS", `jobs({ states }) takes ${LISTED_JOB_STATES.join(", ")}; got ${JSON.stringify(unknown)}.`);
}
