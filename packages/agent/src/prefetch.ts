import type { NodeCapacity } from "@malocher/protocol";
import { lookUpJob, withCancelLookedUpAgain, type ClaimedJob, type JobLookups, type QueueScanner, type SpecChunkCache } from "@malocher/store";
import { mayLineUp } from "./job-run.js";
import type { WarmWorker } from "./worker/warm-worker.js";
import type { WorkerPool } from "./worker/worker-pool.js";

/**
 * A job is claimed for a busy worker only this long before its job is due to end (as long as its
 * last one ran): enough for the claim and the hand-over, short enough that the last jobs of a
 * queue still go to whichever workers come free first, as without a prefetch.
 */
const PREFETCH_LEAD_MS = 15;

/**
 * What one step of the prefetch came to, a closed set:
 * - `notDue`: no busy worker is due to finish soon; sleep until the next one is (`dueAt`) or a wake-up.
 * - `noJob`: a worker is due, but the queue holds nothing to prefetch.
 * - `unfit`: the next job cannot wait behind another (it needs several slots, or this node lacks
 *   what it asks for): it is left for a free worker.
 * - `dropped`: the looked-up job was dropped meanwhile (a cancel, a new welcome): look again.
 * - `missed`: another agent claimed it first (or it could not be claimed: see the agent's `claim`).
 * - `linedUp`: claimed and lined up on the due worker, which starts it the moment its job ends.
 * - `handedOver`: claimed, but the due worker's job ended during the claim: an idle worker took it.
 * - `putBack`: claimed, but no worker could take it any more: back in the queue.
 */
export type PrefetchStep =
  | { kind: "notDue"; dueAt: number | undefined }
  | { kind: "noJob" | "unfit" | "dropped" | "missed" | "putBack" }
  | { kind: "linedUp" | "handedOver"; claimed: ClaimedJob; worker: WarmWorker; lookups: Promise<JobLookups> };

/** What the prefetch needs from its agent. */
export interface PrefetchContext {
  dir: string;
  scanner: QueueScanner;
  /** The agent's cache of spec chunks (see `SpecChunkCache`). */
  specChunks: SpecChunkCache;
  capacity(): NodeCapacity;
  /** Whether the agent still claims (it is ready, and no multi-slot job waits to grow). */
  mayClaim(): boolean;
  /** An idle worker with a free slot (the slot taken), if there is one. */
  takeIdleWorker(): WarmWorker | undefined;
  requeue(jobId: string): Promise<void>;
  /** Claims a queued job (see the agent's `claim`): undefined when another agent was first, or it cannot be claimed. */
  claim(jobId: string): ClaimedJob | undefined;
}

/**
 * The agent's prefetch for short jobs, in two parts. The look-ahead: while every worker is busy,
 * the next job of the scan is looked up (spec read, result and cancel marker checked) but not
 * claimed, so that a worker that comes free starts it after one rename, and other agents with idle
 * workers may still take it. The line-up: when a busy worker is due to finish (its job has run as
 * long as its last one did, less {@link PREFETCH_LEAD_MS}), the looked-up job is claimed and lined
 * up on that worker, which starts it the moment its job ends, without a round trip through the
 * agent. A lined-up job waits at most the worker's line-up window; then it goes back to the queue.
 */
export class Prefetch {
  private lookahead: { jobId: string; lookups: Promise<JobLookups> } | undefined;
  /** Workers a job is lined up on (claimed, not started): none gets a second. */
  readonly linedUpOn = new Set<WarmWorker>();

  constructor(private readonly context: PrefetchContext) {}

  /** Looks `jobId` up ahead of its claim (nothing when undefined, or when a look-up is under way). */
  lookAhead(jobId: string | undefined): void {
    if (this.lookahead === undefined && jobId !== undefined) this.lookahead = { jobId, lookups: lookUpJob(this.context.dir, jobId, this.context.specChunks) };
  }

  /** Whether a job is looked up ahead. */
  get looksAhead(): boolean {
    return this.lookahead !== undefined;
  }

  /**
   * Hands the looked-up job to the claim loop (its cancel marker is looked for again, beside the
   * claim); the look-ahead is empty after.
   */
  takeLookahead(): { jobId: string; lookups: Promise<JobLookups> } | undefined {
    const ahead = this.lookahead;
    this.lookahead = undefined;
    return ahead === undefined ? undefined : { jobId: ahead.jobId, lookups: withCancelLookedUpAgain(this.context.dir, ahead.jobId, ahead.lookups) };
  }

  /** Drops the looked-up job if it is one of `jobIds` (all of them without). Whether it dropped one. */
  drop(jobIds?: readonly string[]): boolean {
    if (this.lookahead === undefined || (jobIds !== undefined && !jobIds.includes(this.lookahead.jobId))) return false;
    this.lookahead = undefined;
    return true;
  }

  /** One step while every worker is busy: see {@link PrefetchStep}. */
  async step(pool: WorkerPool, maxJobsPerWorker: number): Promise<PrefetchStep> {
    const due = pool.lineUpTarget(maxJobsPerWorker, PREFETCH_LEAD_MS, this.linedUpOn);
    if (!("worker" in due)) return { kind: "notDue", dueAt: due.dueAt };
    // A worker is due: the queue is read again if the cached scan ran dry (or is outdated: a claim missed).
    if (this.lookahead === undefined) this.lookAhead((await this.context.scanner.take(1))[0]);
    const ahead = this.lookahead;
    if (ahead === undefined) return { kind: "noJob" };
    if (!mayLineUp(await ahead.lookups, this.context.capacity())) return { kind: "unfit" };
    if (this.lookahead !== ahead || !this.context.mayClaim()) return { kind: "dropped" };
    const { jobId, lookups } = this.takeLookahead()!;
    const claimed = this.context.claim(jobId);
    if (claimed === undefined) return { kind: "missed" };
    // The worker's job may have ended during the claim: then another worker due, or an idle one, takes it.
    const target = this.context.mayClaim() ? pool.lineUpTarget(maxJobsPerWorker, PREFETCH_LEAD_MS, this.linedUpOn) : undefined;
    const idle = this.context.takeIdleWorker();
    if (target !== undefined && "worker" in target && idle === undefined) return { kind: "linedUp", claimed, worker: target.worker, lookups };
    if (idle !== undefined) return { kind: "handedOver", claimed, worker: idle, lookups };
    await this.context.requeue(claimed.jobId);
    return { kind: "putBack" };
  }
}

