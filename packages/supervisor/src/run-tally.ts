import { NO_RUN } from "@malocher/protocol";
import type { finishedState } from "@malocher/store";
import type { RunEvent } from "./cluster/cluster.js";
import type { NodeState } from "./cluster/node-session.js";
import type { AllocationStatus } from "./cluster/slurm/slurm-allocations.js";

/** One machine of a run, as progress displays show it. */
export interface NodeProgress {
  /** The machine as the user named it, or `"local"`. */
  host: string;
  state: NodeState;
  /** Jobs running there now. */
  slotsInUse: number;
  /** Jobs it runs at once (0 until its agent said hello). */
  slots: number;
  /** Jobs that finished there in this run. */
  done: number;
  /** Why it failed or was lost, when it did. */
  error?: string;
}

/**
 * Where a run stands: what `processAll`'s `onProgress` gets and what `malocher run` draws.
 *
 * @example
 * ```ts
 * processAll({ onProgress: (p) => console.log(`${p.done}/${p.total} · ${p.jobsPerSecond.toFixed(1)} jobs/s`) });
 * ```
 */
export interface ProgressReport {
  /** Jobs with a result (succeeded, failed or cancelled); `total` once the run is over. */
  done: number;
  /** Of those, the ones that failed (`ok: false`, but not cancelled). */
  failed: number;
  /** Of those, the ones cancelled (`ok: false` with `JOB_CANCELLED`). */
  cancelled: number;
  running: number;
  /** Jobs of the run that are neither done nor running nor waiting. */
  queued: number;
  /** Jobs of the run that wait for other jobs (`resultOf`, `after`) to succeed. */
  waiting: number;
  /** Jobs of the run: those without a result when it started, and those it took in since (submitted or retried meanwhile, or with `keepAlive`). */
  total: number;
  /** Results per second since the run started. */
  jobsPerSecond: number;
  /**
   * How long the rest will take: at that rate, and no less than the running jobs need by their
   * ages (a job younger than half the mean duration needs the rest of the mean; an older one is
   * judged to need as long again as it ran, so a long last job raises the ETA instead of leaving
   * it at "1 s"). Undefined before the first result or when nothing is left.
   */
  etaMs: number | undefined;
  nodes: NodeProgress[];
  /** The run's Slurm allocations not yet ended (pending with Slurm's reason, or running until `endsAt`); empty without Slurm. */
  allocations: AllocationStatus[];
}

/** How a job of a run ended, as its counts tell it: the store's finished state of its result. */
export type RunOutcome = ReturnType<typeof finishedState>;

/**
 * Counts a run's events and results into a {@link ProgressReport}: the one piece of counting
 * that `processAll`'s `onProgress` and the CLI's live view share.
 */
export class RunTally {
  private total = 0;
  private done = 0;
  private failed = 0;
  private cancelled = 0;
  private waiting = 0;
  private readonly nodes = new Map<string, NodeProgress>();
  private readonly allocations = new Map<string, AllocationStatus>();
  /** The running jobs: where, and since when (on this clock). */
  private readonly runningJobs = new Map<string, { host: string; since: number }>();
  private finishedMs = 0;
  /** Nothing new starts (a drain): what is left is the running jobs, until `deadlineAt` at the latest. */
  private draining: { deadlineAt?: number } | undefined;
  private finishedCount = 0;

  constructor(
    private readonly startedAt: number = Date.now(),
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes one event of the run. */
  onEvent(event: RunEvent): void {
    switch (event.type) {
      case "run":
        this.total = event.pending;
        this.waiting = event.waiting ?? 0;
        return;
      case "runSize":
        this.total = event.total;
        return;
      case "dependentsQueued":
        this.waiting = Math.max(0, this.waiting - event.queued.length);
        return;
      case "dependentsFailed":
        this.waiting = Math.max(0, this.waiting - event.failed.length);
        return;
      case "node": {
        const node = this.node(event.host);
        node.state = event.state;
        node.slots = event.slots || node.slots;
        if (event.error) node.error = event.error.message;
        // A lost or stopped agent's jobs go back to the queue (or fail, and their results count).
        if (event.state !== "ready") {
          node.slotsInUse = 0;
          for (const [jobId, job] of this.runningJobs) if (job.host === event.host) this.runningJobs.delete(jobId);
        }
        return;
      }
      case "jobStarted":
        this.node(event.host).slotsInUse++;
        this.runningJobs.set(event.jobId, { host: event.host, since: this.clock() });
        return;
      case "jobFinished": {
        this.runningJobs.delete(event.jobId);
        if (event.host === NO_RUN) return; // failed by the supervisor (no node fits it): it never ran
        const node = this.node(event.host);
        node.slotsInUse = Math.max(0, node.slotsInUse - 1);
        node.done++;
        this.finishedMs += event.durationMs;
        this.finishedCount++;
        return;
      }
      case "jobRetrying": {
        const node = this.node(event.host);
        node.slotsInUse = Math.max(0, node.slotsInUse - 1);
        this.runningJobs.delete(event.jobId);
        return;
      }
      case "draining":
        this.draining = { ...(event.deadlineAt === undefined ? {} : { deadlineAt: event.deadlineAt }) };
        return;
      case "allocation": {
        const { type: _type, ...status } = event;
        if (status.state === "ended") this.allocations.delete(status.id);
        else this.allocations.set(status.id, status);
        return;
      }
    }
  }

  /** Counts one result of the run; `previous`: how the job ended before, when this result replaces that one (a retry). */
  onResult(outcome: RunOutcome, previous?: RunOutcome): void {
    if (previous === undefined) this.done++;
    else if (previous !== "succeeded") this[previous]--;
    if (outcome !== "succeeded") this[outcome]++;
  }

  /** The run's size, when it changes after its start (see the `runSize` event). */
  setTotal(total: number): void {
    this.total = total;
  }

  report(now: number = this.clock()): ProgressReport {
    const seconds = (now - this.startedAt) / 1000;
    const jobsPerSecond = seconds > 0 ? this.done / seconds : 0;
    const nodes = [...this.nodes.values()].map((node) => ({ ...node }));
    const total = Math.max(this.total, this.done);
    const left = total - this.done;
    const running = Math.min(left, nodes.reduce((sum, node) => sum + node.slotsInUse, 0));
    const waiting = Math.min(left - running, this.waiting);
    return {
      done: this.done,
      failed: this.failed,
      cancelled: this.cancelled,
      running,
      queued: left - running - waiting,
      waiting,
      total,
      jobsPerSecond,
      etaMs: this.etaMs(now, left, running, jobsPerSecond),
      nodes,
      allocations: [...this.allocations.values()].map((allocation) => ({ ...allocation })),
    };
  }

  /**
   * How long the run still takes: the jobs left at the rate so far, and at least what the running
   * ones still need; during a drain, only that (the queued jobs do not start), and no longer than
   * until the drain's deadline.
   */
  private etaMs(now: number, left: number, running: number, jobsPerSecond: number): number | undefined {
    if (this.draining !== undefined) {
      if (running === 0) return undefined;
      const need = this.runningJobsNeedMs(now);
      return this.draining.deadlineAt === undefined ? need : Math.max(0, Math.min(need, this.draining.deadlineAt - now));
    }
    return jobsPerSecond > 0 && left > 0 ? Math.max((left / jobsPerSecond) * 1000, this.runningJobsNeedMs(now)) : undefined;
  }

  /** The longest any running job still needs, judged by its age against the mean duration (see `etaMs`). */
  private runningJobsNeedMs(now: number): number {
    const mean = this.finishedCount > 0 ? this.finishedMs / this.finishedCount : 0;
    let longest = 0;
    for (const { since } of this.runningJobs.values()) {
      const age = now - since;
      longest = Math.max(longest, mean - age, age);
    }
    return longest;
  }

  private node(host: string): NodeProgress {
    let node = this.nodes.get(host);
    if (node === undefined) {
      node = { host, state: "connecting", slotsInUse: 0, slots: 0, done: 0 };
      this.nodes.set(host, node);
    }
    return node;
  }
}
