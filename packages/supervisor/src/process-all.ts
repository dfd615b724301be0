import { MalocherError, directoryLayout, type JobResult } from "@malocher/protocol";
import { Cluster, slurmSettingsOf, type RunEvent } from "./cluster/cluster.js";
import { clusterSettings, openSharedDirectory, warningsTo, type ClusterOptions } from "./cluster-options.js";
import { countWaiting, finishedAmong, listFinishedIds, listJobIds, listQueuedIds, listUnfinishedDependencies, loadDirectoryKey, readSpec, submittedAmong } from "@malocher/store";
import { finishedState, pathExists, readRegularFile, readRegularFileTailSync, readResultOrFailure } from "@malocher/store";
import { loadResultClass } from "./results/load-result-class.js";
import { AllocationEndWatch } from "./cluster/slurm/allocation-end-watch.js";
import { listenForSubmissions } from "./submit/announce-submitted.js";
import { ProgressFeed } from "./progress-feed.js";
import { submittedElsewhere, takeSubmitted, type SubmittedJob } from "./submit/submitted-jobs.js";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ProgressReport, RunOutcome } from "./run-tally.js";
import { startDashboardServer } from "./dashboard/dashboard-server.js";
import { directoryActions } from "./dashboard/dashboard-actions.js";
import { dashboardOptionsOf } from "./dashboard/dashboard-options.js";

/** What one run over the jobs takes, on a cluster of its own or a started one. */
export interface RunOptions {
  /**
   * Only these job ids (finished ones are yielded at once); default every job without a result.
   * A run of its own runs only these; on a started cluster, agents serve every queued job.
   */
  jobs?: readonly string[];
  /** Called for node state changes and job starts/finishes, e.g. to show progress. */
  onEvent?: (event: RunEvent) => void;
  /**
   * Called with the counts of the run (done, failed, running, queued, total, jobs/s, ETA, and
   * per node its state and slots in use), at most 4 times a second and once at the end.
   */
  onProgress?: (progress: ProgressReport) => void;
  /** Stops the run now: running jobs are killed and go back to the queue; the iteration throws. */
  signal?: AbortSignal;
  /** Drains the run: nothing new starts, running jobs finish, then the iteration ends. */
  drainSignal?: AbortSignal;
  /** Keep going after the last job: yield the results of jobs submitted later, until stopped. */
  keepAlive?: boolean;
}

/**
 * Options of `processAll` (and `malocher run`).
 *
 * @example
 * ```ts
 * for await (const [jobId, result] of processAll({ sshMachines: ["alice@node1", "node2:2222"], timeoutMs: 60_000 })) { … }
 * ```
 */
export interface ProcessAllOptions extends ClusterOptions, RunOptions {}

const RESULT_SCAN_INTERVAL_MS = 1000;
/** At most this many module files are given to agents to check at their start. */
const MAX_MUST_SEE = 16;
/** How many pending jobs' specs a run reads to find the modules its agents must see. */
const MODULE_SAMPLE_JOBS = 32;
/** Result files a scan reads at once (jobs that finished before this run listened, or whose message was lost). */
const READS_AT_ONCE = 32;

/**
 * Runs every job of `dir` that has no result yet, on `cluster` or on a cluster of its own (started
 * from `options` and stopped at the end), and yields `[jobId, result]` in completion order until
 * all are done. Leaving the loop (`break`) stops an own cluster's agents; their running jobs go
 * back to the queue. `checkDirectory` opens and checks the directory first (see
 * `openSharedDirectory`; a started cluster checks it less often: see started-cluster.ts).
 */
export async function* processJobs(
  dir: string,
  options: ProcessAllOptions,
  cluster?: Cluster,
  checkDirectory: () => void = () => openSharedDirectory(dir, options),
): AsyncGenerator<[string, JobResult]> {
  options.signal?.throwIfAborted();
  checkDirectory();
  const settings = cluster === undefined ? clusterSettings(dir, options) : undefined;
  // A started cluster serves its own dashboard (startCluster({ dashboard })).
  const dashboardOptions = cluster === undefined ? dashboardOptionsOf(options.dashboard, "processAll") : undefined;
  // A started cluster's agents may run the jobs already (they are told as jobs are submitted):
  // what they report while the jobs are listed is kept, and handled once the run listens.
  const early: RunEvent[] = [];
  const keepEarly = (event: RunEvent) => early.push(event);
  cluster?.on("event", keepEarly);
  let pending: Set<string>;
  /** Of the pending jobs, those waiting for others (read before any event of the run). */
  let waiting: number;
  // Also every job this process submitted since its last run, finished or not (of `jobs`, if given).
  const submitted = takeSubmitted(dir, options.jobs);
  try {
    pending = await pendingJobs(dir, options.jobs);
    // Those still in the directory: a job cleaned since would never have a result to yield.
    const unseen = new Set([...submitted.keys()].filter((jobId) => !pending.has(jobId)));
    if (unseen.size > 0) for (const jobId of await submittedAmong(dir, unseen)) pending.add(jobId);
    waiting = await countWaiting(dir, pending);
  } finally {
    cluster?.off("event", keepEarly);
  }
  const progress = options.onProgress === undefined ? undefined : new ProgressFeed(options.onProgress);
  if (pending.size === 0 && !options.keepAlive) {
    const elsewhere = submittedElsewhere(dir);
    if (elsewhere.length > 0) warningsTo(options)(`processAll() found no job to run in ${dir}; ${jobsElsewhere(elsewhere)}.`);
    progress?.finish(); // nothing to do: one report of zeros
    return;
  }
  // A run of its own claims only the jobs it was asked for (and the unfinished jobs they wait
  // for, whose results are not yielded); a started cluster serves every job.
  // Its agents check at their start that they see the modules of the jobs this process submitted
  // (those this machine sees: a module deleted since fails its own jobs, JOB_IMPORT_FAILED, not the run).
  const submittedModules = modulePathsOf(submitted);
  const modules = submittedModules.length === 0 && cluster === undefined ? await sampledModulePaths(dir, pending) : submittedModules;
  const mustSee = modules.filter((path) => existsSync(path));
  // Only a run of its own is told which jobs to take. With a started cluster nothing here awaits until
  // the run listens to its events: an event in between would be lost (a jobStarted of 8 jobs on 4
  // nodes was, in 1 to 5 of 12-14 rounds, while the jobs' dependencies were listed for nothing).
  const onlyJobs = cluster !== undefined || options.jobs === undefined ? undefined : [...pending, ...(await listUnfinishedDependencies(dir, pending))];
  const running = cluster ?? (await Cluster.start({ ...settings!, ...(onlyJobs === undefined ? {} : { onlyJobs }), ...(mustSee.length > 0 ? { mustSee } : {}) }));
  const dashboard =
    dashboardOptions === undefined
      ? undefined
      : await startDashboardServer(directoryActions(dir, options.allowSharedWriters === true), { ...(options.onWarning ? { onWarning: options.onWarning } : {}), ...dashboardOptions }, running).catch(
          async (error: unknown) => {
            await running.close();
            throw error;
          },
        );
  const inbox = new ResultInbox();
  /** Jobs with a result yielded, each counted once (a job retried meanwhile is yielded again). */
  let yielded = 0;
  /**
   * A run of its own over every job (no `jobs`) also takes in the jobs its agents start that it
   * did not list (submitted by another process while it runs), and any run takes in again a job of
   * it that starts anew after its result came (a retry: `malocher retry`, the dashboard), with the
   * dependents that the retry queues. It yields their results, a retried job's again; ending before
   * them would kill them and leave them queued, unreported.
   */
  const takesStartedJobs = cluster === undefined && options.jobs === undefined;
  /** Jobs yielded failed (or cancelled) in this run, how, and which of them run again and are pending once more. */
  const yieldedFailed = new Map<string, RunOutcome>();
  const runningAgain = new Set<string>();
  /** Jobs whose result is being read (`collect`): a start meanwhile makes the read stale. */
  const reading = new Set<string>();
  /**
   * Whether a start of `jobId`, whose result came, is no new run of it: its result is still the
   * file at its path, so the start is that result's own run's, heard late (a busy agent sends it
   * with a later frame, and a scan may find the result first), or a duplicate run's that lost the
   * race to publish (no agent starts a job that has a result). A retry sets the result aside first,
   * so a new run's start finds another file there (a quick job's new result), or none.
   */
  const startsNoNewRun = (jobId: string): boolean => {
    const now = resultFileIdentity(dir, jobId);
    // A start while its result is read: the result being read (its identity not known yet) is taken for the file there.
    return reading.has(jobId) ? now !== NO_RESULT_FILE : now === inbox.identityOf(jobId);
  };
  const runSize = () => yielded + pending.size - runningAgain.size;
  const takeIn = (jobId: string) => {
    const anew = inbox.has(jobId) || reading.has(jobId);
    if (anew && startsNoNewRun(jobId)) return;
    if (!anew && (pending.has(jobId) || !takesStartedJobs)) return;
    if (anew) {
      inbox.restart(jobId); // an earlier attempt's result, yielded or not, is superseded
      running.recentResultFiles.take(jobId);
    }
    if (yieldedFailed.has(jobId)) runningAgain.add(jobId);
    pending.add(jobId);
    const grown: RunEvent = { type: "runSize", total: runSize() };
    options.onEvent?.(grown);
    progress?.onEvent(grown);
  };
  const collect = async (jobId: string) => {
    if (!pending.has(jobId) || inbox.has(jobId)) return;
    const attempt = inbox.attemptOf(jobId);
    reading.add(jobId);
    // The bytes its agent sent with "jobFinished", if the cluster still has them; else the file's.
    const read = await readResultBytes(dir, jobId, running.recentResultFiles.take(jobId));
    const result = await readResultOrFailure(dir, jobId, loadResultClass, read.bytes).finally(() => reading.delete(jobId));
    if (inbox.attemptOf(jobId) !== attempt) return; // read before the job started again
    // A file at a queued job's result path that is no result (planted, or an old one put back): the
    // agent that claims the job sets it aside and runs the job; its result comes then.
    if (result !== undefined && !result.ok && result.error.code === "RESULT_UNREADABLE" && (await pathExists(directoryLayout.queuedFile(dir, jobId)))) return;
    if (result !== undefined) inbox.push(jobId, result, read.identity);
  };
  const scan = async () => {
    if (options.keepAlive) for (const jobId of await pendingJobs(dir, undefined)) pending.add(jobId);
    const finished = await finishedAmong(dir, pending);
    const toCollect = [...pending].filter((jobId) => finished.has(jobId));
    for (let at = 0; at < toCollect.length; at += READS_AT_ONCE) await Promise.all(toCollect.slice(at, at + READS_AT_ONCE).map(collect));
  };
  const slurm = settings === undefined ? undefined : slurmSettingsOf(settings.nodes);
  const cutShort = slurm === undefined ? undefined : new AllocationEndWatch(slurm.time, warningsTo(options));
  const onEvent = (event: RunEvent) => {
    options.onEvent?.(event);
    progress?.onEvent(event);
    if (event.type === "jobStarted") {
      takeIn(event.jobId);
      cutShort?.started(event.jobId, event.attempt);
    } else if (event.type === "dependentsQueued") {
      // They come before the job's own result: a retried job's dependents are taken in before the run could end.
      for (const jobId of event.queued) takeIn(jobId);
    } else if (event.type === "jobFinished") {
      cutShort?.finished(event.jobId);
      if (options.keepAlive) pending.add(event.jobId);
      collect(event.jobId).catch((error) => inbox.fail(error));
    } else if (event.type === "dependentsFailed") {
      for (const jobId of event.failed) {
        if (options.keepAlive) pending.add(jobId);
        collect(jobId).catch((error) => inbox.fail(error));
      }
    }
  };
  const onUnusable = (error: MalocherError) => inbox.fail(error);
  const onDrained = () => inbox.end();
  const abort = () => inbox.fail(options.signal?.reason ?? new Error("aborted"));
  const drain = () => running.drain();
  running.on("event", onEvent);
  running.on("unusable", onUnusable);
  running.on("drained", onDrained);
  if (running.unusableError !== undefined) inbox.fail(running.unusableError);
  options.signal?.addEventListener("abort", abort, { once: true });
  options.drainSignal?.addEventListener("abort", drain, { once: true });
  if (options.drainSignal?.aborted) drain();
  const runEvent: RunEvent = { type: "run", pending: pending.size, nodes: running.sessions.length, ...(waiting > 0 ? { waiting } : {}) };
  options.onEvent?.(runEvent);
  progress?.onEvent(runEvent);
  // A cluster of its own started before the run listened: its machines' first states came before.
  if (cluster === undefined) running.announceMachines();
  for (const event of early) onEvent(event);
  const stopListening = cluster === undefined ? listenForSubmissions(dir, running) : () => {};
  const scanner = setInterval(() => scan().catch((error) => inbox.fail(error)), RESULT_SCAN_INTERVAL_MS);
  try {
    await scan();
    let drained = false;
    while (!drained) {
      while (pending.size > 0 || options.keepAlive) {
        const next = await inbox.next();
        if (next === undefined) {
          drained = true;
          break;
        }
        const [jobId, found] = next;
        const result = submitted.get(jobId)?.reused ? { ...found, reused: true } : found;
        pending.delete(jobId);
        const again = runningAgain.delete(jobId);
        if (!again) yielded++;
        const previous = again ? yieldedFailed.get(jobId) : undefined;
        const outcome = finishedState(result);
        if (outcome === "succeeded") yieldedFailed.delete(jobId);
        else yieldedFailed.set(jobId, outcome);
        progress?.onResult(outcome, runSize(), previous);
        yield [jobId, result];
      }
      if (drained || !takesStartedJobs) break;
      // A run over every job ends when none is left: not one queued meanwhile whose start it has
      // not heard of yet (submitted by another process, or retried), which its agents may be
      // starting now and which its end would kill.
      const left = await pendingJobs(dir, undefined);
      if (left.size === 0) break;
      for (const jobId of left) takeIn(jobId);
      await scan();
    }
  } finally {
    progress?.finish();
    clearInterval(scanner);
    stopListening();
    running.off("event", onEvent);
    running.off("unusable", onUnusable);
    running.off("drained", onDrained);
    options.signal?.removeEventListener("abort", abort);
    options.drainSignal?.removeEventListener("abort", drain);
    await dashboard?.close();
    if (cluster === undefined) await running.close();
  }
}

/** A result file's identity when there is none at the path, and when what is there cannot be read. */
const NO_RESULT_FILE = -1;
const UNREADABLE_RESULT_FILE = -2;
/** How many bytes of a result file's end tell it from another result of the same job: of its signature, random-looking. */
const IDENTITY_BYTES = 6;

/** The identity of a result file's bytes (see {@link resultFileIdentity}). */
function identityOf(bytes: Uint8Array): number {
  return bytes.length < IDENTITY_BYTES ? UNREADABLE_RESULT_FILE : Buffer.from(bytes.buffer, bytes.byteOffset + bytes.length - IDENTITY_BYTES, IDENTITY_BYTES).readUIntBE(0, IDENTITY_BYTES);
}

/**
 * Which result file is at `jobId`'s result path now: the end of its signature (a result is
 * published once, as a new file with a tag of its own), or none, or one that cannot be read.
 */
function resultFileIdentity(dir: string, jobId: string): number {
  try {
    return identityOf(readRegularFileTailSync(directoryLayout.resultFile(dir, jobId), IDENTITY_BYTES));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? NO_RESULT_FILE : UNREADABLE_RESULT_FILE;
  }
}

/** A result's bytes (`known`: those its agent sent; else the file's, when it can be read) and their identity. */
async function readResultBytes(dir: string, jobId: string, known: Uint8Array | undefined): Promise<{ bytes: Uint8Array | undefined; identity: number }> {
  if (known !== undefined) return { bytes: known, identity: identityOf(known) };
  try {
    const bytes = await readRegularFile(directoryLayout.resultFile(dir, jobId));
    return { bytes, identity: identityOf(bytes) };
  } catch (error) {
    // Read again, and reported, by readResultOrFailure.
    return { bytes: undefined, identity: (error as NodeJS.ErrnoException).code === "ENOENT" ? NO_RESULT_FILE : UNREADABLE_RESULT_FILE };
  }
}

/** The files of the function modules of `jobs` (a few: jobs share their modules). */
function modulePathsOf(jobs: ReadonlyMap<string, SubmittedJob>): string[] {
  const paths = new Set<string>();
  for (const { module } of jobs.values()) if (module?.startsWith("file:")) paths.add(fileURLToPath(module));
  return [...paths].slice(0, MAX_MUST_SEE);
}

/** The module files of a few of `pending`'s jobs (a `malocher run` knows no submitted jobs of its own): jobs of a sweep share them. */
async function sampledModulePaths(dir: string, pending: ReadonlySet<string>): Promise<string[]> {
  const key = loadDirectoryKey(dir, { create: false });
  const paths = new Set<string>();
  for (const jobId of [...pending].slice(0, MODULE_SAMPLE_JOBS)) {
    const spec = await readSpec(dir, jobId, key);
    if (spec !== undefined && spec.kind !== "command" && spec.fn.module.startsWith("file:")) paths.add(fileURLToPath(spec.fn.module));
  }
  return [...paths].slice(0, MAX_MUST_SEE);
}

async function pendingJobs(dir: string, jobs: readonly string[] | undefined): Promise<Set<string>> {
  if (jobs === undefined) {
    const known = await listJobIds(dir);
    const [finished, queued] = await Promise.all([listFinishedIds(dir), listQueuedIds(dir)]);
    // A job still queued is pending even with a result file: no agent runs a job that has one, so
    // a file planted there must be read (and reported, RESULT_UNREADABLE) rather than hide the job.
    return new Set(known.filter((jobId) => !finished.has(jobId) || queued.has(jobId)));
  }
  const submitted = await submittedAmong(dir, new Set(jobs));
  const unknown = jobs.filter((jobId) => !submitted.has(jobId));
  if (unknown.length > 0) {
    const elsewhere = submittedElsewhere(dir, unknown);
    const hint = elsewhere.length === 0 ? "" : ` Of them, ${jobsElsewhere(elsewhere)}.`;
    throw new MalocherError("JOB_NOT_FOUND", `No job ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? " …" : ""} in ${dir}.${hint}`);
  }
  return new Set(jobs);
}

/** Where this process submitted jobs instead, and how to run them there: a run names one directory. */
function jobsElsewhere(elsewhere: ReadonlyArray<{ dir: string; jobs: number }>): string {
  const where = elsewhere.map(({ dir, jobs }) => `${jobs} to ${dir}`).join(", ");
  return `this process submitted ${where}: run them with the Malocher of their directory (new Malocher({ dir }).processAll(), or $MALOCHER_DIR for the default one)`;
}

/** Results waiting to be yielded, in arrival order; or the error that ends the run. */
class ResultInbox {
  private readonly items: Array<[string, JobResult]> = [];
  /** Each job whose result came, with that result file's identity (see `resultFileIdentity`). */
  private readonly seen = new Map<string, number>();
  /** How often a job started again after a result of it came (see {@link restart}); most never do. */
  private readonly restarts = new Map<string, number>();
  private error: unknown;
  private ended = false;
  private wake: (() => void) | undefined;

  has(jobId: string): boolean {
    return this.seen.has(jobId);
  }

  /** The identity of the result file of `jobId` that came, if one did. */
  identityOf(jobId: string): number | undefined {
    return this.seen.get(jobId);
  }

  /** Which attempt of the job a result read now belongs to: a read that spans a {@link restart} is stale. */
  attemptOf(jobId: string): number {
    return this.restarts.get(jobId) ?? 0;
  }

  /** The job runs again: its next result is a new one; one of it still waiting here, or being read, is superseded. */
  restart(jobId: string): void {
    this.seen.delete(jobId);
    this.restarts.set(jobId, this.attemptOf(jobId) + 1);
    const waiting = this.items.findIndex(([id]) => id === jobId);
    if (waiting >= 0) this.items.splice(waiting, 1);
  }

  push(jobId: string, result: JobResult, identity: number): void {
    if (this.seen.has(jobId)) return;
    this.seen.set(jobId, identity);
    this.items.push([jobId, result]);
    this.wake?.();
  }

  fail(error: unknown): void {
    this.error ??= error;
    this.wake?.();
  }

  /** No more results will come (the run drained). */
  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async next(): Promise<[string, JobResult] | undefined> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) return item;
      if (this.error !== undefined) throw this.error;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
