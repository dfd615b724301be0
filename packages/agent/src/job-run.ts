import { userInfo } from "node:os";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  backoffMs,
  cancelled,
  directoryLayout,
  failure,
  MalocherError,
  placementMisfit,
  rerunNote,
  retryReason,
  type RetryReason,
  slotsOf,
  storedOutcome,
  type JobEnding,
  type JobSpec,
  type NodeCapacity,
  type OutcomeMeta,
  type RunSettings,
} from "@malocher/protocol";
import type { ClaimedJob, SettledDependents, SpecChunkCache } from "@malocher/store";
import { decideStartGate, publishResult } from "@malocher/store";
import { describeFileOwner } from "@malocher/store";
import { releaseClaim } from "@malocher/store";
import { isCancelRequested, lookUpJob, type JobLookups } from "@malocher/store";
import type { WarmWorker, WorkerRunEnd, WorkerRunHooks } from "./worker/warm-worker.js";

/**
 * The closed set of stages of one job's run on one agent, in order (see docs/ARCHITECTURE.md,
 * "The run path"): `claimed`; then `linedUp` (claimed by the prefetch for a busy worker, waiting
 * behind its job, holding no slot) or `handedOver` (given to an idle worker, holding its slot);
 * `running` (its code runs); `publishing` (its code ended, its worker and slots are free, its
 * result is being written or it goes back to the queue); `ended`.
 */
export const RUN_STAGES = ["claimed", "linedUp", "handedOver", "running", "publishing", "ended"] as const;

/** One of {@link RUN_STAGES}. */
export type RunStage = (typeof RUN_STAGES)[number];

/**
 * Why the agent cut one attempt short (the third of the four outcome layers, see
 * docs/ARCHITECTURE.md, "Outcomes, layer by layer"): set by the agent through {@link JobRun.kill}
 * (a timeout, a cancel, the memory check, its own stop, a claim taken away); read by the
 * {@link JobRun} itself, which turns it and the {@link WorkerRunEnd} into the {@link JobRunEnd}.
 */
export type KillReason = "timeout" | "cancelled" | "outOfMemory" | "stopping" | "claimLost";

/**
 * What became of one attempt of a claimed job, and so what the agent does with its claim (the top
 * of the four outcome layers, see docs/ARCHITECTURE.md, "Outcomes, layer by layer"): its result
 * is out, it goes back to the queue (at once, or to wait for its next attempt), or the claim is
 * dropped. Made by {@link JobRun.execute}; read by the agent's `runJob`, which makes the store's
 * transition (`requeueClaim`, `deferRetry`) and tells the supervisor.
 */
export type JobRunEnd =
  /** `resultFile`: the bytes this run published, when its result was the first. */
  | { kind: "published"; ok: boolean; durationMs: number; resultFile?: Uint8Array }
  /** Back to the queue at once as the same attempt, not at the job's fault (`requeueClaim`): see {@link RequeueCause}. */
  | { kind: "requeue"; cause: RequeueCause }
  /** To wait in `retrying/` (the job state `retrying`) for `delayMs`, then run as attempt `attempt` (`deferRetry`); `why` this attempt gave no result. */
  | { kind: "retry"; attempt: number; delayMs: number; why: RetryReason }
  /** Back to the queue untouched, for other agents: it waits for slots another job waits for. */
  | { kind: "deferred" }
  /** Back to the queue untouched: its timeoutMs does not fit in this Slurm allocation's time left. */
  | { kind: "outOfTime" }
  /** Back to the queue for good, as far as this agent goes: its node lacks what the job asks for. */
  | { kind: "misfit"; reason: string }
  /** Nothing to do: the job has a result already, or its claim was taken away (`claimLost`). */
  | { kind: "dropped" };

/**
 * Why a job went back to the queue as the same attempt, a closed set: `notStarted`, its code did
 * not run (it was stopped first, its worker could not take it, died between jobs or held outdated
 * code); `interrupted`, its code ran and was ended by its agent's stop or by Slurm ending the
 * allocation (the agent tells the supervisor of these as it stops: `jobsRequeued`).
 */
export type RequeueCause = "notStarted" | "interrupted";

/** What a job run needs from its agent. */
export interface JobRunContext {
  dir: string;
  agentId: string;
  host: string;
  settings: RunSettings;
  /** The node's slots and labels, which decide whether a job fits here. */
  capacity: NodeCapacity;
  /** The agent's cache of spec chunks: a batch's members are read from memory after the first. */
  specChunks: SpecChunkCache;
  /** More slots for a job that asked for them (see `SlotBudget.grow`). */
  growSlots(extra: number): Promise<boolean> | undefined;
  /** `slot`: the worker slot it runs in (its `MALOCHER_SLOT`). */
  jobStarted(jobId: string, attempt: number, slot: number): void;
  /** Publishing job `jobId`'s result queued or failed jobs that waited for it. */
  dependentsSettled(jobId: string, settled: SettledDependents): void;
  log(line: string): void;
  /**
   * In a Slurm allocation: the longest a job with this kill grace may run in any allocation, and
   * from now in this one (until the agent's stop, which the running jobs' graces may bring forward).
   */
  allocation?: { longestMs(killGraceMs: number): number; timeLeftMs(killGraceMs: number): number };
  /** In a Slurm allocation: whether a job killed by SIGTERM/SIGKILL was killed by the allocation's end. */
  stoppedBySlurm?(): Promise<boolean>;
}

/**
 * Look-ups made ahead of a claim are used this long (the cancel marker is looked for again at
 * the claim). A result that appears later is caught as for any running job: it is write-once.
 */
const LOOKUPS_FRESH_MS = 1000;
/** A spec up to this size goes to the worker with the job, saving it a read of the file. */
const MAX_SPEC_BYTES_OVER_IPC = 64 * 1024;
/** Who runs the jobs, recorded in each result (looked up once: it showed in the agent's profile). */
const USER = userInfo().username;
/** The first retry waits about this long; each further one twice as long (see `backoffMs`). */
const RETRY_BACKOFF_BASE_MS = 500;
/** A job none of whose results could be written waits this long in `retrying/` before it runs again. */
const RESULT_WRITE_RETRY_MS = 5000;
const V8_OUT_OF_MEMORY = /JavaScript heap out of memory|Reached heap limit/;

/**
 * One attempt of one claimed job, from reading its spec to publishing its result (or deciding
 * to retry it). The agent may kill it at any time with a reason, which decides what follows.
 */
export class JobRun {
  private killReason: KillReason | undefined;
  /** The worker it was given to (a kill reaches the job through it, and only this job). */
  private worker: WarmWorker | undefined;
  /** The slots this run holds: the one of its claim, plus what the job asked for beyond it. */
  slotsHeld = 1;
  /** See {@link JobRun.killGraceMs}. */
  private graceMs: number;
  /** The spec's `name` and `tags`, copied into the result once the spec was read. */
  private nameAndTags: { name?: string; tags?: string[] } = {};

  private currentStage: RunStage = "claimed";

  constructor(
    private readonly context: JobRunContext,
    readonly job: ClaimedJob,
  ) {
    this.graceMs = context.settings.killGraceMs;
  }

  /** How long a kill gives the job between SIGTERM and SIGKILL: the run's `killGraceMs`, or the job's own once its spec was read. */
  get killGraceMs(): number {
    return this.graceMs;
  }

  get jobId(): string {
    return this.job.jobId;
  }

  /** Where the run is (see {@link RUN_STAGES}). */
  get stage(): RunStage {
    return this.currentStage;
  }

  /** Whether its claim is still in the agent's running directory: until it publishes (which releases or requeues it). */
  get holdsClaim(): boolean {
    return this.currentStage !== "publishing" && this.currentStage !== "ended";
  }

  /** claimed → linedUp: it waits on a busy worker, behind that worker's job. */
  lineUp(): void {
    this.move(["claimed"], "linedUp");
  }

  /** claimed → handedOver: an idle worker takes it, and it holds its slot from now on. */
  handOver(): void {
    this.move(["claimed"], "handedOver");
  }

  /** linedUp | handedOver → running: its code started. Returns the stage it came from, if it moved. */
  start(): RunStage | undefined {
    return this.move(["linedUp", "handedOver"], "running");
  }

  /** claimed | linedUp | handedOver | running → publishing: its code is done (or never ran). Returns the stage it came from, if it moved. */
  endCode(): RunStage | undefined {
    return this.move(["claimed", "linedUp", "handedOver", "running"], "publishing");
  }

  /** Any stage → ended: the agent is done with the run. */
  end(): void {
    this.currentStage = "ended";
  }

  private move(from: readonly RunStage[], to: RunStage): RunStage | undefined {
    const was = this.currentStage;
    if (!from.includes(was)) return undefined;
    this.currentStage = to;
    return was;
  }

  /**
   * Ends the job's process group if its code runs now (SIGTERM, then SIGKILL `killGraceMs` later;
   * at once when it grew past its memory limit), or takes it back from its worker if it waits
   * there; `reason` decides what follows.
   */
  kill(reason: KillReason): void {
    if (this.killReason !== undefined) return;
    this.killReason = reason;
    this.worker?.stopJob(this.jobId, this.graceFor(reason));
  }

  private graceFor(reason: KillReason): number {
    return reason === "outOfMemory" ? 0 : this.graceMs;
  }

  /**
   * Runs the attempt on `worker` and publishes its result, or says how to requeue it. Never
   * throws for a job's own failure; a failing file system is logged and the claim requeued.
   * `hooks.started` is called when the job's code starts on `worker`, `hooks.done` once it no
   * longer runs there (before publishing; also when it never started). `lookedAhead`: the job's
   * look-ups, made before it was claimed (its cancel marker looked for again at the claim); used
   * when still fresh. `linedUp`: `worker` is busy and the job waits behind its running job; a job
   * that needs more than one slot then goes back to the queue instead.
   */
  async execute(worker: WarmWorker, hooks: WorkerRunHooks, lookedAhead: Promise<JobLookups> | undefined, linedUp: boolean): Promise<JobRunEnd> {
    const { dir, agentId } = this.context;
    const { jobId, attempt } = this.job;
    let lookups = lookedAhead === undefined ? undefined : await lookedAhead;
    if (lookups === undefined || performance.now() - lookups.madeAt > LOOKUPS_FRESH_MS) lookups = await lookUpJob(dir, jobId, this.context.specChunks);
    if (decideStartGate(lookups) === "drop") {
      this.context.log(`job ${jobId} already has a result; dropping the claim`);
      releaseClaim(dir, agentId, jobId);
      return { kind: "dropped" };
    }
    if (lookups.spec instanceof Error) return this.publish(await this.refusal(lookups.spec), 0);
    const { bytes: specBytes, decoded: spec } = lookups.spec;
    const misfit = placementMisfit(spec.options, this.context.capacity);
    if (misfit !== undefined) return { kind: "misfit", reason: misfit };
    const timeoutMs = spec.options.timeoutMs ?? this.context.settings.timeoutMs;
    const graceMs = spec.options.killGraceMs ?? this.context.settings.killGraceMs;
    const { allocation } = this.context;
    if (allocation !== undefined) {
      // Its stop before the allocation's end comes early enough for its kill grace (see slurmStopMarginMs).
      const longestMs = allocation.longestMs(graceMs);
      if (timeoutMs > longestMs) {
        return { kind: "misfit", reason: `its timeoutMs (${timeoutMs} ms) is longer than a Slurm allocation of this run can run a job with its killGraceMs (${longestMs} ms): ask for a longer time` };
      }
      // Also a job without timeoutMs: one whose grace asks for a stop that is due already would stop the agent at once.
      const leftMs = allocation.timeLeftMs(graceMs);
      if (leftMs <= 0 || timeoutMs > leftMs) return { kind: "outOfTime" };
    }
    const extra = slotsOf(spec.options) - 1;
    if (extra > 0) {
      if (linedUp) return { kind: "deferred" };
      const grown = this.context.growSlots(extra);
      if (grown === undefined) return { kind: "deferred" };
      if (await grown) this.slotsHeld += extra;
    }
    this.graceMs = graceMs;
    if (spec.name !== undefined) this.nameAndTags.name = spec.name;
    if (spec.tags !== undefined) this.nameAndTags.tags = spec.tags;
    // A job that waited for slots may have been cancelled meanwhile: look again.
    if (decideStartGate(lookups) === "cancel" || (extra > 0 && isCancelRequested(dir, jobId))) this.killReason ??= "cancelled";
    // From here on a kill reaches the worker; one that came before is handled here.
    if (this.killReason !== undefined) {
      hooks.done();
      return this.killReason === "cancelled" ? this.publish(cancelled("before it ran"), 0) : this.endWithoutResult("notStarted");
    }
    // The worker's job may have ended meanwhile (the worker is then free for others) or run too long.
    if (linedUp && !worker.canLineUp) return { kind: "requeue", cause: "notStarted" };
    this.worker = worker;
    let startedAt = 0;
    let durationMs = 0;
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    /** The job's code no longer runs on the worker (its outcome came, or it died, or never started). */
    const codeEnded = () => {
      if (ended) return;
      ended = true;
      if (startedAt !== 0) durationMs = Date.now() - startedAt;
      clearTimeout(timer);
      hooks.done();
    };
    let end: WorkerRunEnd;
    try {
      end = await worker.run(
        {
          type: "run",
          jobId,
          specFile: directoryLayout.specFile(dir, jobId),
          ...(specBytes.length <= MAX_SPEC_BYTES_OVER_IPC ? { spec: specBytes } : {}),
          dir,
          run: { env: this.context.settings.env, ...(this.context.settings.cwd === undefined ? {} : { cwd: this.context.settings.cwd }) },
        },
        {
          stdout: directoryLayout.stdoutFile(dir, jobId),
          stderr: directoryLayout.stderrFile(dir, jobId),
          maxBytes: this.context.settings.maxLogBytes,
          rerunNote: () => rerunNote(attempt, this.context.host, new Date(startedAt === 0 ? Date.now() : startedAt)),
        },
        {
          started: () => {
            startedAt = Date.now();
            this.context.jobStarted(jobId, attempt, worker.slotNumber);
            if (timeoutMs > 0) timer = setTimeout(() => this.kill("timeout"), timeoutMs);
            hooks.started();
            if (this.killReason !== undefined) worker.stopJob(jobId, this.graceFor(this.killReason)); // it was killed while it waited on the worker
          },
          done: codeEnded,
        },
      );
    } finally {
      codeEnded();
    }
    if (end.kind === "outdatedCode" || end.kind === "unavailable") {
      // A job taken back from its worker because it was cancelled is done with here and now.
      if (this.killReason === "cancelled") return this.publish(cancelled("while it ran"), 0);
      return this.endWithoutResult("notStarted");
    }
    // The agent claims and starts the next job on the freed worker before this result is written.
    await nextTurn();
    return this.decide(spec, end, durationMs, timeoutMs);
  }

  /** The failure for a spec that cannot be run: corrupt, or not signed with our key (logged with its owner). */
  private async refusal(error: unknown): Promise<JobEnding> {
    const code = error instanceof MalocherError ? error.code : "JOB_SPEC_CORRUPT";
    if (code !== "JOB_SPEC_REJECTED") return failure("JOB_SPEC_CORRUPT", (error as Error).message);
    const owner = await describeFileOwner(directoryLayout.specFile(this.context.dir, this.job.jobId));
    this.context.log(`job ${this.job.jobId}: REJECTED its spec file (owner ${owner}): ${(error as Error).message} It was not run.`);
    return failure("JOB_SPEC_REJECTED", `${(error as Error).message} The spec file's owner is ${owner}. The job was not run.`);
  }

  /** Kills the job if its code runs now and its worker grew past `maxWorkerMemoryMb` (the agent asks every second). */
  checkMemory(): void {
    const worker = this.worker;
    if (worker === undefined || worker.runningJobId !== this.jobId) return;
    const rss = worker.rss();
    if (rss !== undefined && rss > this.context.settings.maxWorkerMemoryMb * 1024 * 1024) this.kill("outOfMemory");
  }

  private async decide(spec: JobSpec, end: WorkerRunEnd, durationMs: number, timeoutMs: number): Promise<JobRunEnd> {
    const { attempt } = this.job;
    const retries = spec.options.retries ?? this.context.settings.retries;
    const retryOnError = spec.options.retryOnError ?? this.context.settings.retryOnError;
    const mayRetry = attempt <= retries;
    const limitMb = this.context.settings.maxWorkerMemoryMb;
    if (this.killReason === undefined && (await this.killedBySlurm(end))) return { kind: "requeue", cause: "interrupted" };
    // A job that failed because its agent stopped it (SIGTERM to its process group: a command that
    // exits on it) goes back to the queue: its agent's stop is no failure of the job.
    if (this.killReason === "stopping" && end.kind === "outcome" && !end.outcome.ok) return this.endWithoutResult("interrupted");
    // A job killed for its time limit or a cancel ends so, whatever it managed to do meanwhile
    // (a command that saved its work on SIGTERM and exited, a function that returned).
    if (end.kind !== "outcome" || this.killReason === "timeout" || this.killReason === "cancelled") {
      const killed = this.killedOutcome(timeoutMs);
      if (killed !== undefined) return this.publish(killed, durationMs);
    }
    if (end.kind === "outcome") {
      const { outcome } = end;
      const codeChanged = outcome.codeChanged;
      if (outcome.ok) return this.publish({ ok: true, value: outcome.value }, durationMs, codeChanged);
      const { error, thrown } = outcome;
      if (retryOnError && mayRetry) return this.retry(retryReason(error.code ?? error.name, error.message));
      return this.publish({ ok: false, error, ...(thrown === undefined ? {} : { thrown }) }, durationMs, codeChanged);
    }
    if (end.kind !== "died" || this.killReason !== undefined) return this.endWithoutResult("interrupted");
    if (V8_OUT_OF_MEMORY.test(end.lastStderr)) {
      return this.publish(
        failure("JOB_OUT_OF_MEMORY", `The job exhausted the JavaScript heap (limit ${limitMb} MB, maxWorkerMemoryMb) and its worker died.`),
        durationMs,
      );
    }
    if (end.signal !== null) {
      const hint = end.signal === "SIGKILL" ? " (the kernel's out-of-memory killer does this, and kill -9)" : "";
      if (mayRetry) return this.retry(retryReason("WORKER_CRASHED", `The worker process running this job was killed by ${end.signal}${hint}.`));
      // Earlier attempts may have ended otherwise (their notes are in the job's stderr log).
      const attempts = attempt === 1 ? "" : ` in attempt ${attempt}, its last`;
      return this.publish(failure("WORKER_CRASHED", `The worker process running this job was killed by ${end.signal}${hint}${attempts}.`), durationMs);
    }
    const exited = failure(
      "JOB_EXITED",
      `The job ended its worker process with exit code ${end.exitCode} (process.exit() or a fatal error) before returning a result.`,
    );
    if (retryOnError && mayRetry) return this.retry(retryReason("JOB_EXITED", exited.error.message));
    return this.publish(exited, durationMs);
  }

  /**
   * Slurm ends an allocation (time limit, `scancel`) by signalling every process of the step at
   * once: a job (its worker, or its command) may die of that before the agent hears its own
   * SIGTERM. Such a job is put back without counting an attempt, as when the agent stops it.
   */
  private async killedBySlurm(end: WorkerRunEnd): Promise<boolean> {
    if (this.context.stoppedBySlurm === undefined) return false;
    const bySignal = (signal: unknown) => signal === "SIGTERM" || signal === "SIGKILL";
    const died = end.kind === "died" && bySignal(end.signal);
    // A command dies of the signal, or exits on it (a trap): its worker, which outlives SIGTERM to copy its output, says so.
    const commandKilled =
      end.kind === "outcome" &&
      !end.outcome.ok &&
      (end.outcome.terminated === true || (end.outcome.error.code === "COMMAND_FAILED" && bySignal((end.outcome.error as { signal?: unknown }).signal)));
    return (died || commandKilled) && (await this.context.stoppedBySlurm());
  }

  /** The failure a kill for `killReason` ends the job with; undefined for kills that requeue it (stopping, a lost claim) or none. */
  private killedOutcome(timeoutMs: number): JobEnding | undefined {
    const grace = `SIGTERM, then SIGKILL after killGraceMs (${this.graceMs} ms) if anything of it still ran`;
    switch (this.killReason) {
      case "timeout":
        return failure("JOB_TIMED_OUT", `The job ran longer than its limit of ${timeoutMs} ms and was ended with every process it started (${grace}).`);
      case "cancelled":
        return cancelled("while it ran");
      case "outOfMemory":
        return failure("JOB_OUT_OF_MEMORY", `The job's worker grew past maxWorkerMemoryMb (${this.context.settings.maxWorkerMemoryMb} MB) and was killed.`);
      case "stopping":
      case "claimLost":
      case undefined:
        return undefined;
    }
  }

  /** Counts the attempt, which failed for `why`, and asks for the next one after an exponential backoff with jitter. */
  private retry(why: RetryReason): JobRunEnd {
    return { kind: "retry", attempt: this.job.attempt + 1, delayMs: backoffMs(this.job.attempt, RETRY_BACKOFF_BASE_MS), why };
  }

  /** Dropped when the claim was taken away (`claimLost`), otherwise back to the queue as the same attempt. */
  private endWithoutResult(cause: RequeueCause): JobRunEnd {
    return this.killReason === "claimLost" ? { kind: "dropped" } : { kind: "requeue", cause };
  }

  /** Publishes write-once; a first result already there wins and ours is discarded. */
  private async publish(
    ending: JobEnding,
    durationMs: number,
    codeChanged = false,
  ): Promise<JobRunEnd> {
    const { dir, agentId, host } = this.context;
    const { jobId, attempt } = this.job;
    const meta: OutcomeMeta = {
      jobId,
      host,
      attempts: attempt,
      durationMs,
      agentId,
      user: USER,
      ...(codeChanged ? { codeChanged } : {}),
      ...this.nameAndTags,
    };
    const result = storedOutcome(meta, ending);
    let resultFile: Uint8Array | undefined;
    const settled: SettledDependents = { queued: [], failed: [] };
    try {
      resultFile = await publishResult(dir, result, settled);
      if (settled.queued.length + settled.failed.length > 0) this.context.dependentsSettled(jobId, settled);
      if (resultFile === undefined) {
        this.context.log(`job ${jobId}: a result was already published; this run's result is discarded`);
      }
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      this.context.log(`job ${jobId}: could not write its result (${reason})`);
      const fallback = storedOutcome(
        meta,
        failure("RESULT_WRITE_FAILED", `The job finished but its result could not be written to the shared directory: ${(error as Error).message}.`),
      );
      try {
        await publishResult(dir, fallback, settled);
      } catch {
        // Nothing could be written: the same attempt runs again after a pause, here or elsewhere.
        return { kind: "retry", attempt: this.job.attempt, delayMs: RESULT_WRITE_RETRY_MS, why: retryReason("RESULT_WRITE_FAILED", (error as Error).message) };
      }
    }
    releaseClaim(dir, agentId, jobId);
    return { kind: "published", ok: result.ok, durationMs, ...(resultFile === undefined ? {} : { resultFile }) };
  }
}

/**
 * Whether a looked-up job may be lined up behind a busy worker's job: its spec reads, and it fits
 * this node in one slot (a job that needs more grows its share on a free worker instead).
 */
export function mayLineUp(lookups: JobLookups, capacity: NodeCapacity): boolean {
  if (lookups.spec instanceof Error) return false; // a free worker publishes why it cannot run
  const { options } = lookups.spec.decoded;
  return slotsOf(options) === 1 && placementMisfit(options, capacity) === undefined;
}


