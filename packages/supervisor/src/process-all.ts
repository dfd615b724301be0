import { MalocherError, type JobResult, type JobRunOptions } from "@malocher/protocol";
import { prepareSharedDirectory } from "@malocher/agent";
import { Cluster, type RunEvent } from "./cluster/cluster.js";
import { resolveNodeTargets, type SshOptions } from "./ssh/node-target.js";
import { listFinishedIds, listJobIds } from "./store/job-listing.js";
import { readResult } from "./store/read-result.js";
import { checkRunOptions } from "./submit/job-options.js";
import { listenForSubmissions } from "./submit/announce-submitted.js";

/**
 * Options of `processAll` (and `malocher run`).
 *
 * @example
 * ```ts
 * for await (const [jobId, result] of processAll({ sshMachines: ["alice@node1", "node2:2222"], timeoutMs: 60_000 })) { … }
 * ```
 */
export interface ProcessAllOptions extends SshOptions, JobRunOptions {
  /** The shared directory; default `$MALOCHER_DIR` or `./.malocher`. */
  dir?: string;
  /** Jobs at once per node; default the node's CPU count. */
  slots?: number;
  /** Only these job ids (finished ones are yielded at once); default every job without a result. */
  jobs?: readonly string[];
  /** Called for node state changes and job starts/finishes, e.g. to show progress. */
  onEvent?: (event: RunEvent) => void;
  /** Stops the run now: running jobs are killed and go back to the queue; the iteration throws. */
  signal?: AbortSignal;
  /** Drains the run: nothing new starts, running jobs finish, then the iteration ends. */
  drainSignal?: AbortSignal;
  /** A node is lost when it sent nothing for this long (heartbeats come every second). Default 5000. */
  heartbeatTimeoutMs?: number;
  /** An agent whose lease did not change for this long (on this machine's clock) is dead. Default 15000. */
  leaseTimeoutMs?: number;
  /** A warm worker is replaced after this many jobs. Default 1000. */
  maxJobsPerWorker?: number;
  /** A job whose worker grows past this many MB (heap or resident) fails with JOB_OUT_OF_MEMORY. Default 4096. */
  maxWorkerMemoryMb?: number;
}

const RESULT_SCAN_INTERVAL_MS = 1000;
const DISCONNECT_GRACE_MS = 10000;
const DEFAULT_RETRIES = 3;

/**
 * Runs every job of `dir` that has no result yet on the given machines (or locally), and yields
 * `[jobId, result]` in completion order until all are done. Leaving the loop (`break`) stops the
 * agents; their running jobs go back to the queue.
 */
export async function* processJobs(dir: string, options: ProcessAllOptions): AsyncGenerator<[string, JobResult]> {
  options.signal?.throwIfAborted();
  prepareSharedDirectory(dir, { create: true });
  const run = checkRunOptions(options, "processAll");
  const pending = await pendingJobs(dir, options.jobs);
  if (pending.size === 0) return;
  const nodes = options.sshMachines === undefined ? "local" : resolveNodeTargets(options);
  const inbox = new ResultInbox();
  const cluster = await Cluster.start({
    dir,
    nodes,
    slots: options.slots ?? 0,
    disconnectGraceMs: DISCONNECT_GRACE_MS,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 5000,
    leaseTimeoutMs: options.leaseTimeoutMs ?? 15000,
    run: {
      timeoutMs: run.timeoutMs ?? 0,
      retries: run.retries ?? DEFAULT_RETRIES,
      retryOnError: run.retryOnError ?? false,
      maxJobsPerWorker: positive(options.maxJobsPerWorker, "maxJobsPerWorker") ?? 1000,
      maxWorkerMemoryMb: positive(options.maxWorkerMemoryMb, "maxWorkerMemoryMb") ?? 4096,
    },
  });
  const collect = async (jobId: string) => {
    if (!pending.has(jobId) || inbox.has(jobId)) return;
    const result = await readResultOrFailure(dir, jobId);
    if (result !== undefined) inbox.push(jobId, result);
  };
  const scan = async () => {
    const finished = await listFinishedIds(dir);
    for (const jobId of pending) if (finished.has(jobId)) await collect(jobId);
  };
  cluster.on("event", (event) => {
    options.onEvent?.(event);
    if (event.type === "jobFinished") collect(event.jobId).catch((error) => inbox.fail(error));
  });
  cluster.on("unusable", (error) => inbox.fail(error));
  if (cluster.unusableError !== undefined) inbox.fail(cluster.unusableError);
  cluster.on("drained", () => inbox.end());
  const abort = () => inbox.fail(options.signal?.reason ?? new Error("aborted"));
  const drain = () => cluster.drain();
  options.signal?.addEventListener("abort", abort, { once: true });
  options.drainSignal?.addEventListener("abort", drain, { once: true });
  if (options.drainSignal?.aborted) drain();
  options.onEvent?.({ type: "run", pending: pending.size, nodes: cluster.sessions.length });
  const stopListening = listenForSubmissions(dir, cluster);
  const scanner = setInterval(() => scan().catch((error) => inbox.fail(error)), RESULT_SCAN_INTERVAL_MS);
  try {
    await scan();
    while (pending.size > 0) {
      const next = await inbox.next();
      if (next === undefined) break; // drained
      const [jobId, result] = next;
      pending.delete(jobId);
      yield [jobId, result];
    }
  } finally {
    clearInterval(scanner);
    stopListening();
    options.signal?.removeEventListener("abort", abort);
    options.drainSignal?.removeEventListener("abort", drain);
    await cluster.close();
  }
}

function positive(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
    throw new MalocherError("INVALID_OPTIONS", `processAll({ ${name} }) needs a whole number ≥ 1, got ${value}.`);
  }
  return value;
}

async function pendingJobs(dir: string, jobs: readonly string[] | undefined): Promise<Set<string>> {
  const known = await listJobIds(dir);
  if (jobs === undefined) {
    const finished = await listFinishedIds(dir);
    return new Set(known.filter((jobId) => !finished.has(jobId)));
  }
  const knownSet = new Set(known);
  const unknown = jobs.filter((jobId) => !knownSet.has(jobId));
  if (unknown.length > 0) {
    throw new MalocherError("JOB_NOT_FOUND", `No job ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? " …" : ""} in ${dir}.`);
  }
  return new Set(jobs);
}

/** A result that cannot be read is that job's failure, not the end of the run. */
async function readResultOrFailure(dir: string, jobId: string): Promise<JobResult | undefined> {
  try {
    return await readResult(dir, jobId);
  } catch (error) {
    return {
      ok: false,
      jobId,
      host: "-",
      attempts: 0,
      durationMs: 0,
      error: { name: "MalocherError", code: "RESULT_UNREADABLE", message: `The result file of job ${jobId} cannot be read: ${(error as Error).message}` },
    };
  }
}

/** Results waiting to be yielded, in arrival order; or the error that ends the run. */
class ResultInbox {
  private readonly items: Array<[string, JobResult]> = [];
  private readonly seen = new Set<string>();
  private error: unknown;
  private ended = false;
  private wake: (() => void) | undefined;

  has(jobId: string): boolean {
    return this.seen.has(jobId);
  }

  push(jobId: string, result: JobResult): void {
    if (this.seen.has(jobId)) return;
    this.seen.add(jobId);
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
