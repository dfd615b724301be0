import { MalocherError, type JobResult } from "@malocher/protocol";
import { prepareSharedDirectory } from "@malocher/agent";
import { Cluster, type RunEvent } from "./cluster/cluster.js";
import { resolveNodeTargets, type SshOptions } from "./ssh/node-target.js";
import { listFinishedIds, listJobIds } from "./store/job-listing.js";
import { readResult } from "./store/read-result.js";
import { listenForSubmissions } from "./submit/announce-submitted.js";

/**
 * Options of `processAll` (and `malocher run`).
 *
 * @example
 * ```ts
 * for await (const [jobId, result] of processAll({ sshMachines: ["alice@node1", "node2:2222"] })) { … }
 * ```
 */
export interface ProcessAllOptions extends SshOptions {
  /** The shared directory; default `$MALOCHER_DIR` or `./.malocher`. */
  dir?: string;
  /** Jobs at once per node; default the node's CPU count. */
  slots?: number;
  /** Only these job ids (finished ones are yielded at once); default every job without a result. */
  jobs?: readonly string[];
  /** Called for node state changes and job starts/finishes, e.g. to show progress. */
  onEvent?: (event: RunEvent) => void;
}

const RESULT_SCAN_INTERVAL_MS = 1000;
const DISCONNECT_GRACE_MS = 10000;

/**
 * Runs every job of `dir` that has no result yet on the given machines (or locally), and yields
 * `[jobId, result]` in completion order until all are done. Leaving the loop (`break`) stops the
 * agents; their running jobs go back to the queue.
 */
export async function* processJobs(dir: string, options: ProcessAllOptions): AsyncGenerator<[string, JobResult]> {
  prepareSharedDirectory(dir, { create: true });
  const pending = new Set(options.jobs ?? []);
  if (options.jobs === undefined) {
    const finished = await listFinishedIds(dir);
    for (const jobId of await listJobIds(dir)) if (!finished.has(jobId)) pending.add(jobId);
  } else {
    const known = new Set(await listJobIds(dir));
    const unknown = options.jobs.filter((jobId) => !known.has(jobId));
    if (unknown.length > 0) {
      throw new MalocherError("JOB_NOT_FOUND", `No job ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? " …" : ""} in ${dir}.`);
    }
  }
  if (pending.size === 0) return;
  const nodes = options.sshMachines === undefined ? "local" : resolveNodeTargets(options);
  const inbox = new ResultInbox();
  const cluster = await Cluster.start({ dir, nodes, slots: options.slots ?? 0, disconnectGraceMs: DISCONNECT_GRACE_MS });
  const collect = async (jobId: string) => {
    if (!pending.has(jobId) || inbox.has(jobId)) return;
    const result = await readResult(dir, jobId);
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
  options.onEvent?.({ type: "run", pending: pending.size, nodes: cluster.sessions.length });
  const stopListening = listenForSubmissions(dir, cluster);
  const scanner = setInterval(() => scan().catch((error) => inbox.fail(error)), RESULT_SCAN_INTERVAL_MS);
  try {
    await scan();
    while (pending.size > 0) {
      const [jobId, result] = await inbox.next();
      pending.delete(jobId);
      yield [jobId, result];
    }
  } finally {
    clearInterval(scanner);
    stopListening();
    await cluster.close();
  }
}

/** Results waiting to be yielded, in arrival order; or the error that ends the run. */
class ResultInbox {
  private readonly items: Array<[string, JobResult]> = [];
  private readonly seen = new Set<string>();
  private error: unknown;
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

  async next(): Promise<[string, JobResult]> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) return item;
      if (this.error !== undefined) throw this.error;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
