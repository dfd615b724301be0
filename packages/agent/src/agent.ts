import { availableParallelism, hostname, loadavg } from "node:os";
import { watch, type FSWatcher } from "chokidar";
import {
  MALOCHER_VERSION,
  PROTOCOL_VERSION,
  directoryLayout,
  type AgentLaunchConfig,
  type NodeCapacity,
  type RunSettings,
  type SupervisorMessage,
} from "@malocher/protocol";
import { SlotBudget } from "./slot-budget.js";
import { JobRun, fitsQueuedRun, type JobRunContext } from "./job-run.js";
import { LeaseKeeper, killLeftoverWorkers } from "./lease-keeper.js";
import { SupervisorLink } from "./link/supervisor-link.js";
import type { SupervisorChannel, SupervisorChannelEvents } from "./link/supervisor-channel.js";
import { claimJob, closeClaimDirectory, deferRetry, openClaimDirectory, type ClaimedJob } from "@malocher/store";
import { requeueClaim } from "@malocher/store";
import { QueueScanner } from "@malocher/store";
import { isCancelRequested, lookUpJob, withCancelLookedUpAgain, type JobLookups } from "@malocher/store";
import { Wakeup } from "./wakeup.js";
import { WorkerPool } from "./worker/worker-pool.js";
import type { WarmWorker } from "./worker/warm-worker.js";

/** The agent's life: `starting` until welcomed, `ready` while it claims, `draining`, `stopped`. */
export type AgentState = "starting" | "ready" | "draining" | "stopped";

/** The fallback scan period: hints (nudges, the signal file) only make it faster. */
const SCAN_INTERVAL_MS = 1000;
/** The agent's heartbeat, when it also reads each running job's memory (its lease is renewed every LEASE_RENEW_MS). */
const HEARTBEAT_INTERVAL_MS = 1000;
/** After a signal-file change, the agent wakes again this much later (see `onSignal`). */
const SIGNAL_ECHO_MS = 60;
/**
 * The agent's prefetch: while every worker is busy, one more job may be claimed for a worker that
 * starts it the moment its job ends. Only for short jobs: the queued job waits at most until the
 * job before it has run this long (the queue window); then it goes back to the queue, so a job
 * that turns out long never keeps the next from other agents. Its worker takes no queued job then.
 */
const PREFETCH_MAX_RUN_MS = 1000;
/**
 * A job is claimed for a busy worker only this long before its job is due to end (as long as its
 * last one ran): enough for the claim and the hand-over, short enough that the last jobs of a
 * queue still go to whichever workers come free first, as without a prefetch.
 */
const PREFETCH_LEAD_MS = 15;

/**
 * The node agent: claims queued jobs from the shared directory, runs each in a warm worker,
 * publishes the result write-once and tells the supervisor. Its main loop is {@link Agent.claimLoop}.
 */
export class Agent {
  private state: AgentState = "starting";
  private readonly slots: SlotBudget;
  private readonly link: SupervisorChannel;
  private readonly scanner: QueueScanner;
  private readonly wakeup = new Wakeup();
  private readonly running = new Map<string, JobRun>();
  private readonly runs = new Set<Promise<void>>();
  /**
   * The job this agent expects to claim next, looked up (spec read, result and cancel marker
   * checked) while every worker is busy, but not claimed: other agents may still take it.
   */
  private lookahead: { jobId: string; lookups: Promise<JobLookups> } | undefined;
  private pool: WorkerPool | undefined;
  /** The run's settings, from the supervisor's welcome. */
  private settings: RunSettings | undefined;
  /** Workers a prefetched job is on its way to (looked up, then queued): none gets a second. */
  private readonly queuing = new Set<WarmWorker>();
  private readonly lease: LeaseKeeper;
  private signalWatcher: FSWatcher | undefined;
  private signalEcho: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private loopDone: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private resolveStopped!: () => void;
  private readonly finished = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  /**
   * @param openChannel how to reach the supervisor; by default the WebSocket of the launch config
   *   (main.ts passes a `StdioLink` when the transport is `stdio`)
   */
  constructor(
    private readonly config: AgentLaunchConfig,
    openChannel: (events: SupervisorChannelEvents) => SupervisorChannel = (events) =>
      new SupervisorLink(`ws://127.0.0.1:${config.port}/`, config.token, config.disconnectGraceMs, events),
  ) {
    this.slots = new SlotBudget(config.slots > 0 ? config.slots : availableParallelism());
    this.scanner = new QueueScanner(config.dir);
    this.link = openChannel({
      connected: () => this.sayHello(),
      message: (message) => this.onMessage(message),
      lost: (reason) => void this.stop(`lost the supervisor: ${reason}`),
    });
    this.lease = new LeaseKeeper({
      dir: config.dir,
      agentId: config.agentId,
      host: config.host,
      processGroups: () => this.pool?.processGroups ?? [],
      heldJobs: () => [...this.running.keys()],
      claimLost: (jobId) => {
        this.log(`job ${jobId}: its claim was taken away (requeued by a supervisor); killing this run`);
        this.running.get(jobId)?.kill("claimLost");
      },
      leaseLost: () => void this.stop("its lease was removed: a supervisor declared this agent lost"),
      tick: () => void this.checkCancelled(),
    });
  }

  /** Starts the agent; resolves when it has stopped. */
  async run(): Promise<void> {
    const labels = this.config.labels.length === 0 ? "" : `, labels ${this.config.labels.join(" ")}`;
    this.log(`starting: ${this.slots.total} slots${labels}, directory ${this.config.dir}, transport ${this.config.transport}`);
    const killed = await killLeftoverWorkers(this.config.dir);
    if (killed > 0) this.log(`killed ${killed} worker process group(s) left behind by a dead agent on this host`);
    await openClaimDirectory(this.config.dir, this.config.agentId);
    await this.lease.start();
    this.link.open();
    await this.finished;
  }

  /**
   * Stops claiming, kills running jobs (whole process groups), puts their claims back in the
   * queue, says bye and ends `run()`. Idempotent.
   */
  stop(reason: string): Promise<void> {
    this.stopped ??= this.shutdown(reason);
    return this.stopped;
  }

  private async shutdown(reason: string): Promise<void> {
    this.setState("draining", reason);
    this.wakeup.trigger();
    clearInterval(this.heartbeat);
    await this.signalWatcher?.close();
    clearTimeout(this.signalEcho);
    for (const run of this.running.values()) run.kill("stopping");
    this.slots.abandonWait();
    await this.pool?.close();
    await this.loopDone;
    await Promise.all(this.runs);
    await closeClaimDirectory(this.config.dir, this.config.agentId);
    await this.lease.stop();
    await this.link.close(reason);
    this.setState("stopped", reason);
    this.resolveStopped();
  }

  /**
   * Claims nothing more; stops once the running jobs have finished, or once `drainTimeoutMs` has
   * passed (then the running jobs are ended, SIGTERM then SIGKILL, and go back to the queue
   * without counting an attempt).
   */
  private async drain(drainTimeoutMs: number): Promise<void> {
    if (this.state !== "ready") return;
    this.setState("draining", "the supervisor asked to drain");
    this.wakeup.trigger();
    const deadline =
      drainTimeoutMs > 0
        ? setTimeout(() => void this.stop(`the drain's deadline (drainTimeoutMs, ${drainTimeoutMs} ms) passed; running jobs go back to the queue`), drainTimeoutMs)
        : undefined;
    await this.loopDone;
    await Promise.all(this.runs);
    clearTimeout(deadline);
    await this.stop("drained");
  }

  private sayHello(): void {
    this.link.send({
      type: "hello",
      agentId: this.config.agentId,
      host: this.config.host,
      hostname: hostname(),
      pid: process.pid,
      slots: this.slots.total,
      version: MALOCHER_VERSION,
      protocolVersion: PROTOCOL_VERSION,
    });
  }

  /**
   * The signal file changed: jobs were queued. chokidar drops further changes of a file for 50 ms
   * after one it reported, and a submitter touches the file again while it keeps submitting, so
   * the agent also wakes once that window has passed.
   */
  private onSignal(): void {
    this.wakeup.trigger();
    this.signalEcho ??= setTimeout(() => {
      this.signalEcho = undefined;
      this.wakeup.trigger();
    }, SIGNAL_ECHO_MS);
  }

  private onMessage(message: SupervisorMessage): void {
    switch (message.type) {
      case "welcome":
        if (message.onlyJobs !== undefined) {
          this.scanner.restrictTo(message.onlyJobs);
          this.lookahead = undefined;
          this.wakeup.trigger();
        }
        if (this.state === "starting") this.becomeReady(message.settings);
        return;
      case "nudge":
        // Only a wake-up: the scanner reads the queue again once its cached scan ran dry or a
        // claim missed; dropping a deep queue's scan on every hint would read it again per job.
        this.wakeup.trigger();
        return;
      case "cancel":
        for (const jobId of message.jobIds) this.running.get(jobId)?.kill("cancelled");
        if (this.lookahead !== undefined && message.jobIds.includes(this.lookahead.jobId)) {
          this.lookahead = undefined;
          this.wakeup.trigger();
        }
        return;
      case "drain":
        void this.drain(this.settings?.drainTimeoutMs ?? 0);
        return;
      case "stop":
        void this.stop(`the supervisor asked: ${message.reason}`);
        return;
    }
  }

  private becomeReady(settings: RunSettings): void {
    this.settings = settings;
    // Each new worker is recorded in the lease at once, so a successor can kill it if we die.
    this.pool = new WorkerPool(
      this.slots.total,
      settings.maxWorkerMemoryMb,
      PREFETCH_MAX_RUN_MS,
      (chunk) => process.stderr.write(chunk),
      () => this.wakeup.trigger(),
      () => this.lease.renewSoon(),
      () => this.link.send({ type: "warm" }),
    );
    this.setState("ready", "welcomed by the supervisor");
    this.heartbeat = setInterval(() => {
      this.link.send({ type: "heartbeat", running: this.running.size, load: loadavg()[0] ?? 0 });
      for (const run of this.running.values()) run.checkMemory();
    }, HEARTBEAT_INTERVAL_MS);
    this.signalWatcher = watch(directoryLayout.signalFile(this.config.dir), { ignoreInitial: true });
    this.signalWatcher.on("all", () => this.onSignal());
    this.signalWatcher.on("error", () => {}); // the periodic scan covers for a failed watch
    // Not `=> this.stop(…)`: stopping waits for the loop to be done, which would then wait for the stop.
    this.loopDone = this.claimLoop(this.pool, settings).catch((error: Error) => void this.stop(`claim loop failed: ${error.stack ?? error.message}`));
  }

  /**
   * The main loop: while ready, claim as many queued jobs as there are idle workers (from a cached
   * scan of the queue), start each, and sleep until a hint, a freed slot or the scan interval. While
   * every worker is busy it prefetches for short jobs, and otherwise sleeps until a worker comes free
   * or a hint comes: no periodic wake-up (the scan interval is for idle workers).
   */
  private async claimLoop(pool: WorkerPool, settings: RunSettings): Promise<void> {
    while (this.state === "ready") {
      const idle = Math.min(pool.idleCount, this.slots.free);
      if (!this.link.connected) {
        await this.wakeup.wait(SCAN_INTERVAL_MS);
        continue;
      }
      if (idle <= 0) {
        if (this.lookahead === undefined) this.lookAhead(this.scanner.takeCached());
        const waitMs = await this.prefetch(pool, settings);
        if (waitMs > 0) await this.wakeup.wait(waitMs);
        continue;
      }
      const ahead = this.lookahead;
      this.lookahead = undefined;
      const candidates = ahead === undefined ? await this.scanner.take(idle) : [ahead.jobId, ...(await this.scanner.take(idle - 1))];
      if (candidates.length === 0) {
        await this.wakeup.wait(SCAN_INTERVAL_MS);
        this.scanner.invalidate();
        continue;
      }
      for (const jobId of candidates) {
        if (this.state !== "ready" || this.slots.free <= 0) break;
        // The slot is taken before the claim's await: a job already claimed may grow into the
        // free slots meanwhile, and a slot counted as free before it would then be used twice.
        this.slots.take();
        // A looked-ahead job's cancel marker is looked for again, while it is claimed.
        const lookedAhead = ahead?.jobId === jobId ? withCancelLookedUpAgain(this.config.dir, jobId, ahead.lookups) : undefined;
        const claimed = await claimJob(this.config.dir, this.config.agentId, jobId).catch((error: Error) => {
          this.slots.release(1);
          throw error;
        });
        if (claimed === undefined) {
          this.slots.release(1); // another agent was first
          this.scanner.missed();
          continue;
        }
        const worker = pool.acquire();
        if (worker === undefined) {
          this.slots.release(1);
          await requeueClaim(this.config.dir, this.config.agentId, jobId);
          break;
        }
        this.track(this.runJob(claimed, worker, pool, settings, lookedAhead, false));
      }
    }
  }

  /**
   * While every worker is busy with short jobs, claims the looked-up job for the worker whose job
   * is due to end next, just before it does (see PREFETCH_LEAD_MS); the worker starts it the
   * moment that job ends, so the hand-off costs no round trip through the agent. Returns 0 when it
   * claimed (or tried), else how long until it may (Infinity: not until woken).
   */
  private async prefetch(pool: WorkerPool, settings: RunSettings): Promise<number> {
    if (this.slots.growing) return Infinity;
    const due = pool.queueTarget(settings.maxJobsPerWorker, PREFETCH_LEAD_MS, this.queuing);
    if (!("worker" in due)) return due.dueAt === undefined ? Infinity : Math.max(1, due.dueAt - performance.now());
    // A worker is due: the queue is read again if the cached scan ran dry (or went stale on a missed claim).
    if (this.lookahead === undefined) {
      const [jobId] = await this.scanner.take(1);
      if (this.lookahead === undefined) this.lookAhead(jobId);
    }
    const ahead = this.lookahead;
    if (ahead === undefined) return Infinity;
    if (!fitsQueuedRun(await ahead.lookups, this.capacity)) return Infinity; // for a free worker
    if (this.lookahead !== ahead || this.state !== "ready") return 0; // dropped meanwhile (a cancel, a welcome): look again
    this.lookahead = undefined;
    const lookups = withCancelLookedUpAgain(this.config.dir, ahead.jobId, ahead.lookups);
    const claimed = await claimJob(this.config.dir, this.config.agentId, ahead.jobId);
    if (claimed === undefined) {
      this.scanner.missed(); // another agent was first
      return 0;
    }
    // The worker's job may have ended during the claim: then another worker due, or an idle one, takes it.
    const target = this.state === "ready" && !this.slots.growing ? pool.queueTarget(settings.maxJobsPerWorker, PREFETCH_LEAD_MS, this.queuing) : undefined;
    const idle = this.state === "ready" && this.slots.free > 0 ? pool.acquire() : undefined;
    if (target !== undefined && "worker" in target && idle === undefined) {
      this.track(this.runJob(claimed, target.worker, pool, settings, lookups, true));
    } else if (idle !== undefined) {
      this.slots.take();
      this.track(this.runJob(claimed, idle, pool, settings, lookups, false));
    } else {
      await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId);
    }
    return 0;
  }

  /**
   * While every worker is busy, looks up `jobId` (the next job of the scan, if there is one)
   * without claiming it, so that a freed worker starts it after one rename: a claimed job waiting
   * for a worker here would hold back other agents with idle workers. A busy agent reads the queue
   * for it only when a worker is due for a prefetch; otherwise it takes from its cached scan.
   */
  private lookAhead(jobId: string | undefined): void {
    if (jobId !== undefined) this.lookahead = { jobId, lookups: lookUpJob(this.config.dir, jobId) };
  }

  private track(run: Promise<void>): void {
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
  }

  private async runJob(
    claimed: ClaimedJob,
    worker: WarmWorker,
    pool: WorkerPool,
    settings: RunSettings,
    lookedAhead: Promise<JobLookups> | undefined,
    queued: boolean,
  ): Promise<void> {
    const run = new JobRun(this.runContext(settings), claimed);
    this.running.set(claimed.jobId, run);
    // A job handed over holds its slot from its claim; a lined-up one takes a slot (and the worker,
    // from the job before it) when it starts. Both go back as soon as the job's code is done,
    // before its result is published: the next job starts while this one's is written and reported.
    if (queued) {
      run.lineUp();
      this.queuing.add(worker);
    } else {
      run.handOver();
    }
    const leaveLine = () => {
      this.queuing.delete(worker);
      this.wakeup.trigger(); // the worker may be due for a prefetch again
    };
    const started = () => {
      if (run.start() !== "linedUp") return;
      leaveLine();
      this.slots.take();
    };
    const freeWorker = () => {
      const was = run.endCode();
      if (was === "linedUp") leaveLine();
      if (was !== "handedOver" && was !== "running") return;
      if (!worker.busy) {
        if (!worker.dead && worker.jobsRun >= settings.maxJobsPerWorker) pool.retire(worker);
        pool.release(worker);
      }
      this.slots.release(run.slotsHeld);
      this.wakeup.trigger();
    };
    const hooks = { started, done: freeWorker };
    try {
      const end = await run.execute(worker, hooks, lookedAhead, queued);
      freeWorker();
      if (end.kind === "published") {
        const { resultFile } = end;
        const attached = resultFile !== undefined && resultFile.length <= MAX_ATTACHED_RESULT_BYTES ? { resultFile } : {};
        this.link.send({ type: "jobFinished", jobId: claimed.jobId, ok: end.ok, durationMs: end.durationMs, ...attached });
      } else if (end.kind === "misfit") {
        await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId);
        this.scanner.exclude(claimed.jobId);
        this.link.send({ type: "misfit", jobId: claimed.jobId, reason: end.reason });
      } else if (end.kind === "deferred") {
        await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId);
        this.scanner.defer(claimed.jobId, DEFER_MS);
      } else if (end.kind === "requeue" && end.delayMs > 0) {
        const attempt = end.nextAttempt ?? claimed.attempt;
        const notBefore = Date.now() + end.delayMs;
        await deferRetry(this.config.dir, this.config.agentId, claimed.jobId, attempt, notBefore);
        this.log(`job ${claimed.jobId}: retrying as attempt ${attempt} in ${end.delayMs} ms`);
        this.link.send({ type: "jobRetrying", jobId: claimed.jobId, attempt, notBefore });
      } else if (end.kind === "requeue") {
        await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId, end.nextAttempt);
      }
    } catch (error) {
      this.log(`job ${claimed.jobId}: ${(error as Error).message}; putting it back in the queue`);
      freeWorker();
      await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId).catch(() => {});
    } finally {
      freeWorker();
      run.end();
      this.running.delete(claimed.jobId);
      this.wakeup.trigger(); // a job requeued above may be claimed again
    }
  }

  private runContext(settings: RunSettings): JobRunContext {
    return {
      dir: this.config.dir,
      agentId: this.config.agentId,
      host: this.config.host,
      settings,
      capacity: this.capacity,
      growSlots: (extra) => this.slots.grow(extra),
      jobStarted: (jobId, attempt) => this.link.send({ type: "jobStarted", jobId, attempt }),
      dependentsSettled: (jobId, { released, failed }) => {
        this.link.send({ type: "dependentsSettled", jobId, released, failed });
        // Jobs it queued are this agent's to claim as much as anyone's: read the queue again.
        if (released.length > 0) {
          this.scanner.invalidate();
          this.wakeup.trigger();
        }
      },
      log: (line) => this.log(line),
    };
  }

  /** The node's slots and labels, which decide whether a job fits here. */
  private get capacity(): NodeCapacity {
    return { slots: this.slots.total, labels: this.config.labels };
  }

  /** Kills running jobs whose cancel marker appeared (the supervisor's message may not reach us). */
  private async checkCancelled(): Promise<void> {
    for (const [jobId, run] of this.running) {
      if (await isCancelRequested(this.config.dir, jobId)) run.kill("cancelled");
    }
  }

  private setState(state: AgentState, why: string): void {
    this.state = state;
    this.log(`${state} (${why})`);
  }

  private log(line: string): void {
    process.stderr.write(`malocher agent ${this.config.agentId}: ${line}\n`);
  }
}

/**
 * A published result up to this size travels with the "jobFinished" message, so the supervisor
 * need not read the file back (a third of a warm job's time after it finished).
 */
const MAX_ATTACHED_RESULT_BYTES = 64 * 1024;

/** How long a job that waits for slots another job waits for is passed over. */
const DEFER_MS = 2000;
