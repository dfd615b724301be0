import { availableParallelism, hostname, loadavg } from "node:os";
import { setImmediate as nextTurn } from "node:timers/promises";
import { watch, type FSWatcher } from "chokidar";
import {
  MALOCHER_VERSION,
  MalocherError,
  PROTOCOL_VERSION,
  agentStopDeadlineMs,
  directoryLayout,
  interruptNote,
  retryNote,
  type AgentLaunchConfig,
  type NodeCapacity,
  type RunSettings,
  type SupervisorMessage,
} from "@malocher/protocol";
import { SlotBudget } from "./slot-budget.js";
import { JobRun, type JobRunContext } from "./job-run.js";
import { LeaseKeeper, killLeftoverWorkers } from "./lease-keeper.js";
import { SupervisorLink } from "./link/supervisor-link.js";
import type { SupervisorChannel, SupervisorChannelEvents } from "./link/supervisor-channel.js";
import {
  QueueScanner,
  SpecChunkCache,
  claimJob,
  closeClaimDirectory,
  deferRetry,
  isCancelRequested,
  openClaimDirectory,
  plantedSymlinks,
  requeueClaim,
  type ClaimedJob,
  type JobLookups,
} from "@malocher/store";
import { Prefetch } from "./prefetch.js";
import { Outbox } from "./link/outbox.js";
import { Wakeup } from "./wakeup.js";
import { SlurmAllocationClock } from "./slurm/allocation-clock.js";
import { NodeUsage } from "./node-usage.js";
import { WorkerPool } from "./worker/worker-pool.js";
import { say } from "./say.js";
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
 * The line-up window of the prefetch (see prefetch.ts): a job lined up on a busy worker waits at
 * most until the job before it has run this long; then it goes back to the queue, so a job that
 * turns out long never keeps the next from other agents. Its worker takes no lined-up job then.
 */
const LINE_UP_WINDOW_MS = 1000;

/**
 * The node agent: claims queued jobs from the shared directory, runs each in a warm worker,
 * publishes the result write-once and tells the supervisor. Its main loop is {@link Agent.claimLoop}.
 */
export class Agent {
  private state: AgentState = "starting";
  private beginStopping!: (reason: string) => void;
  /**
   * Settles with the reason when the agent begins to stop, whoever asked: a signal, the end of its
   * SSH session, the supervisor, a lost lease, a drain's deadline, Slurm, or its own idle timeout.
   */
  readonly stopping: Promise<string> = new Promise((resolve) => (this.beginStopping = resolve));
  private readonly slots: SlotBudget;
  private readonly link: SupervisorChannel;
  /** Every message but `hello` and `bye` goes through it (see `Outbox`). */
  private readonly outbox: Outbox;
  private readonly scanner: QueueScanner;
  private readonly wakeup = new Wakeup();
  private readonly running = new Map<string, JobRun>();
  private readonly runs = new Set<Promise<void>>();
  private readonly prefetch: Prefetch;
  /** The spec chunks of batches this agent works through, read once each (see `SpecChunkCache`). */
  private readonly specChunks = new SpecChunkCache();
  private pool: WorkerPool | undefined;
  /** The run's settings, from the supervisor's welcome. */
  private settings: RunSettings | undefined;
  private readonly lease: LeaseKeeper;
  private signalWatcher: FSWatcher | undefined;
  private signalEcho: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private loopDone: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private resolveStopped!: () => void;
  private readonly finished = new Promise<void>((resolve) => (this.resolveStopped = resolve));
  /** In a Slurm allocation: its time (end, warning). */
  private readonly clock: SlurmAllocationClock | undefined;
  /** Jobs whose code ran that this agent put back in the queue when it stopped them, or Slurm did (told as it stops). */
  private readonly interruptedJobs = new Set<string>();
  /** Why this agent stops, once it began to: the first line of its reason (for the job logs' notes and `jobsRequeued`). */
  private stopReason: string | undefined;
  /** Jobs this agent put back because they do not fit in the allocation's time left. */
  private readonly outOfTime = new Set<string>();
  /** When a job last ran here (for the Slurm idle timeout). */
  private lastBusy = Date.now();
  /** The node's CPU and memory use, sampled for each heartbeat. */
  private readonly usage = new NodeUsage();

  /**
   * @param openChannel how to reach the supervisor; by default the WebSocket of the launch config
   *   (main.ts passes a `StdioLink` when the transport is `stdio`)
   */
  constructor(
    private readonly config: AgentLaunchConfig,
    openChannel: (events: SupervisorChannelEvents) => SupervisorChannel = (events) =>
      new SupervisorLink(`ws://${urlHost(config.address ?? "127.0.0.1")}:${config.port}/`, config.token, config.disconnectGraceMs, events),
  ) {
    this.slots = new SlotBudget(config.slots > 0 ? config.slots : availableParallelism());
    this.scanner = new QueueScanner(config.dir);
    this.link = openChannel({
      connected: () => this.sayHello(),
      message: (message) => this.onMessage(message),
      lost: (reason) => void this.stop(`lost the supervisor: ${reason}`),
    });
    this.outbox = new Outbox(this.link);
    this.prefetch = new Prefetch({
      dir: config.dir,
      scanner: this.scanner,
      specChunks: this.specChunks,
      capacity: () => this.capacity,
      mayClaim: () => this.state === "ready" && !this.slots.growing,
      takeIdleWorker: () => {
        const worker = this.state === "ready" && this.slots.free > 0 ? this.pool?.acquire() : undefined;
        if (worker !== undefined) this.slots.take();
        return worker;
      },
      requeue: async (jobId: string) => void (await requeueClaim(config.dir, config.agentId, jobId)),
      claim: (jobId) => this.claim(jobId),
    });
    this.lease = new LeaseKeeper({
      dir: config.dir,
      agentId: config.agentId,
      host: config.host,
      processGroups: () => this.pool?.processGroups ?? [],
      heldClaims: () => [...this.running.values()].filter((run) => run.holdsClaim),
      claimLost: (held) => {
        const run = this.running.get(held.jobId);
        if (run !== held || !run.holdsClaim) return; // it ended meanwhile, or runs again on a new claim
        say(`job ${run.jobId}: its claim was taken away (requeued by a supervisor); killing this run`);
        run.kill("claimLost");
      },
      leaseLost: () => void this.stop("its lease was removed: a supervisor declared this agent lost"),
      tick: () => {
        this.checkCancelled();
        if (config.allowSharedWriters) this.checkPlantedSymlinks();
      },
    });
    this.clock =
      config.slurm === undefined
        ? undefined
        : new SlurmAllocationClock(config.slurm, process.env["SLURM_JOB_ID"], {
            warned: () => void this.drain(0, "Slurm warned that the allocation ends soon"), // the clock stops it at the end
            ending: () => void this.stop("its Slurm allocation ends"),
            log: say,
            longestKillGraceMs: () => this.longestKillGraceMs(),
          });
  }

  /** Starts the agent; resolves when it has stopped. */
  async run(): Promise<void> {
    const labels = this.config.labels.length === 0 ? "" : `, labels ${this.config.labels.join(" ")}`;
    say(`starting: ${this.slots.total} slots${labels}, directory ${this.config.dir}, transport ${this.config.transport}`);
    const killed = await killLeftoverWorkers(this.config.dir);
    if (killed > 0) say(`killed ${killed} worker process group(s) left behind by a dead agent on this host`);
    await openClaimDirectory(this.config.dir, this.config.agentId);
    await this.lease.start();
    this.clock?.start();
    this.link.open();
    await this.finished;
  }

  /**
   * Stops claiming, kills running jobs (whole process groups), puts their claims back in the
   * queue, says bye and ends `run()`. Idempotent.
   */
  stop(reason: string): Promise<void> {
    this.stopReason ??= reason.split("\n")[0]!;
    this.beginStopping(reason);
    this.stopped ??= this.shutdown(reason);
    return this.stopped;
  }

  /**
   * How long stopping may take before the agent should exit regardless (see `agentStopDeadlineMs`):
   * from the longest kill grace of the run and of its running jobs, whose own may be longer.
   */
  get stopDeadlineMs(): number {
    return agentStopDeadlineMs(this.longestKillGraceMs());
  }

  /** The run's `killGraceMs`, or a running job's own when that is longer (0 before the welcome). */
  private longestKillGraceMs(): number {
    let longest = this.settings?.killGraceMs ?? 0;
    for (const run of this.running.values()) longest = Math.max(longest, run.killGraceMs);
    return longest;
  }

  private async shutdown(reason: string): Promise<void> {
    this.setState("draining", reason);
    this.wakeup.trigger();
    this.clock?.stop();
    // A last heartbeat tells the supervisor how long the jobs' graces make this stop (it waits that long).
    if (this.heartbeat !== undefined) this.sendHeartbeat();
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
    this.tellRequeued();
    this.outbox.flush();
    await this.link.close(reason);
    this.setState("stopped", reason);
    this.resolveStopped();
  }

  /**
   * Tells the supervisor which running jobs this agent's stop (or Slurm) ended and put back in the
   * queue, and why it stopped (they run again as the same attempt; see `JobsRequeuedMessage`).
   */
  private tellRequeued(): void {
    const jobIds = [...this.interruptedJobs];
    if (jobIds.length === 0 || this.stopReason === undefined) return;
    say(`${jobIds.length} running job(s) went back to the queue: ${jobIds.join(" ")}`);
    // The jobs running when it stopped or Slurm ended the allocation: a few per slot at most.
    this.outbox.send({ type: "jobsRequeued", jobIds, reason: this.stopReason });
  }

  /**
   * Claims nothing more; stops once the running jobs have finished, or once `drainTimeoutMs` has
   * passed (then the running jobs are ended, SIGTERM then SIGKILL, and go back to the queue
   * without counting an attempt).
   */
  private async drain(drainTimeoutMs: number, why = "the supervisor asked to drain"): Promise<void> {
    if (this.state !== "ready") return;
    this.setState("draining", why);
    this.wakeup.trigger();
    const deadline =
      drainTimeoutMs > 0
        ? setTimeout(() => void this.stop(`the drain's deadline (drainTimeoutMs, ${drainTimeoutMs} ms) passed`), drainTimeoutMs)
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
          this.prefetch.drop();
          this.wakeup.trigger();
        }
        if (this.state === "starting") this.becomeReady(message.settings);
        return;
      case "nudge":
        // A wake-up, and the jobs it names go first: the scanner reads the queue again only once
        // its cached scan ran dry or a claim missed; dropping a deep queue's scan on every hint
        // would read it again per job.
        if (message.jobIds !== undefined) this.scanner.putFirst(message.jobIds);
        this.wakeup.trigger();
        return;
      case "cancel":
        for (const jobId of message.jobIds) this.running.get(jobId)?.kill("cancelled");
        if (this.prefetch.drop(message.jobIds)) this.wakeup.trigger();
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
      LINE_UP_WINDOW_MS,
      (chunk) => process.stderr.write(chunk),
      () => this.wakeup.trigger(),
      () => this.lease.renewSoon(),
      () => this.outbox.send({ type: "warm" }),
    );
    this.setState("ready", "welcomed by the supervisor");
    this.lastBusy = Date.now();
    this.heartbeat = setInterval(() => {
      this.sendHeartbeat();
      for (const run of this.running.values()) run.checkMemory();
      this.checkIdle();
    }, HEARTBEAT_INTERVAL_MS);
    this.signalWatcher = watch(directoryLayout.signalFile(this.config.dir), { ignoreInitial: true });
    this.signalWatcher.on("all", () => this.onSignal());
    this.signalWatcher.on("error", () => {}); // the periodic scan covers for a failed watch
    // Not `=> this.stop(…)`: stopping waits for the loop to be done, which would then wait for the stop.
    this.loopDone = this.claimLoop(this.pool, settings).catch((error: Error) => void this.stop(`claim loop failed: ${error.stack ?? error.message}`));
    if (this.clock?.warned) void this.drain(0, "Slurm warned that the allocation ends soon (before this agent was welcomed)");
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
        if (!this.prefetch.looksAhead) this.prefetch.lookAhead(this.scanner.takeCached());
        const waitMs = await this.prefetchStep(pool, settings);
        // Going on at once still takes a turn of the event loop (see the missed claim below).
        await (waitMs > 0 ? this.wakeup.wait(waitMs) : nextTurn());
        continue;
      }
      const ahead = this.prefetch.takeLookahead();
      const candidates = ahead === undefined ? await this.scanner.take(idle) : [ahead.jobId, ...(await this.scanner.take(idle - 1))];
      if (candidates.length === 0) {
        if (this.clock !== undefined && this.running.size === 0 && this.outOfTime.size > 0) {
          void this.stop(`the time left in the Slurm allocation fits none of the ${this.outOfTime.size} job(s) still queued; a new allocation takes them`);
          return;
        }
        // The queue read empty: the next take reads it again (a nudge may name jobs meanwhile).
        await this.wakeup.wait(SCAN_INTERVAL_MS);
        continue;
      }
      for (const jobId of candidates) {
        if (this.state !== "ready" || this.slots.free <= 0) break;
        // A looked-ahead job's cancel marker was looked for again as it was taken from the look-ahead.
        const lookedAhead = ahead?.jobId === jobId ? ahead.lookups : undefined;
        // Synchronous (see `claimJob`): nothing runs between the check of the free slots and their use.
        const claimed = this.claim(jobId);
        if (claimed === undefined) {
          // Claims are synchronous and the cached scan needs no I/O: without a turn of the event
          // loop here, a run of misses through a stale scan would keep heartbeats and replies waiting.
          await nextTurn();
          continue;
        }
        this.slots.take();
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
   * Claims a queued job (see `claimJob`); undefined when another agent was first (the scan is then
   * likely outdated: `missed`), or when what is queued under its name cannot be claimed (planted by
   * another account): that name is passed over from then on, and logged once.
   */
  private claim(jobId: string): ClaimedJob | undefined {
    try {
      const claimed = claimJob(this.config.dir, this.config.agentId, jobId);
      if (claimed === undefined) this.scanner.missed();
      return claimed;
    } catch (error) {
      if (!(error instanceof MalocherError && error.code === "SHARED_FILE_UNSAFE")) throw error;
      this.scanner.exclude(jobId);
      say(error.message);
      return undefined;
    }
  }

  /**
   * One step of the prefetch while every worker is busy (see `Prefetch`); how long to sleep after
   * it: 0 to go on at once, Infinity until woken (a freed worker, a hint).
   */
  private async prefetchStep(pool: WorkerPool, settings: RunSettings): Promise<number> {
    if (this.slots.growing) return Infinity;
    const step = await this.prefetch.step(pool, settings.maxJobsPerWorker);
    switch (step.kind) {
      case "notDue":
        return step.dueAt === undefined ? Infinity : Math.max(1, step.dueAt - performance.now());
      case "noJob":
      case "unfit":
        return Infinity;
      case "dropped":
      case "missed":
      case "putBack":
        return 0;
      case "linedUp":
      case "handedOver":
        this.track(this.runJob(step.claimed, step.worker, pool, settings, step.lookups, step.kind === "linedUp"));
        return 0;
    }
  }

  /** Says what runs here; a job's kill grace longer than the run's goes along (see `supervisorStopWaitMs`). */
  private sendHeartbeat(): void {
    const longest = this.longestKillGraceMs();
    const beyondRun = this.settings !== undefined && longest > this.settings.killGraceMs ? { longestKillGraceMs: longest } : {};
    this.outbox.send({ type: "heartbeat", running: this.running.size, load: loadavg()[0] ?? 0, ...this.usage.sample(), ...beyondRun });
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
    linedUp: boolean,
  ): Promise<void> {
    const run = new JobRun(this.runContext(settings), claimed);
    this.running.set(claimed.jobId, run);
    // A job handed over holds its slot from its claim; a lined-up one takes a slot (and the worker,
    // from the job before it) when it starts. Both go back as soon as the job's code is done,
    // before its result is published: the next job starts while this one's is written and reported.
    if (linedUp) {
      run.lineUp();
      this.prefetch.linedUpOn.add(worker);
    } else {
      run.handOver();
    }
    const leaveLine = () => {
      this.prefetch.linedUpOn.delete(worker);
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
      const end = await run.execute(worker, hooks, lookedAhead, linedUp);
      freeWorker();
      if (end.kind === "published") {
        const { resultFile } = end;
        const attached = resultFile !== undefined && resultFile.length <= MAX_ATTACHED_RESULT_BYTES ? { resultFile } : {};
        this.outbox.send({ type: "jobFinished", jobId: claimed.jobId, ok: end.ok, durationMs: end.durationMs, ...attached });
      } else if (end.kind === "misfit") {
        await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId);
        this.scanner.exclude(claimed.jobId);
        this.outbox.send({ type: "misfit", jobId: claimed.jobId, reason: end.reason });
      } else if (end.kind === "outOfTime") {
        await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId);
        this.scanner.exclude(claimed.jobId);
        this.outOfTime.add(claimed.jobId);
        say(`job ${claimed.jobId}: its timeoutMs does not fit in the allocation's time left; back to the queue`);
      } else if (end.kind === "deferred") {
        await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId);
        this.scanner.defer(claimed.jobId, DEFER_MS);
      } else if (end.kind === "retry") {
        const { attempt, why } = end;
        const notBefore = Date.now() + end.delayMs;
        // Said in the job's log too (its stderr), where its output is: a retry leaves no result that would say it.
        await deferRetry(this.config.dir, this.config.agentId, claimed.jobId, attempt, notBefore, retryNote(claimed.attempt, this.config.host, why, attempt, end.delayMs));
        say(`job ${claimed.jobId}: attempt ${claimed.attempt} failed [${why.code}]; retrying as attempt ${attempt} in ${end.delayMs} ms`);
        this.outbox.send({ type: "jobRetrying", jobId: claimed.jobId, attempt, notBefore, error: why });
      } else if (end.kind === "requeue") {
        // A job its stop interrupted says so in its log (its stderr), and to the supervisor as this agent stops.
        const note = end.cause === "interrupted" ? interruptNote(claimed.attempt, this.config.host, this.stopReason ?? "Slurm ended the allocation") : undefined;
        const putBack = await requeueClaim(this.config.dir, this.config.agentId, claimed.jobId, undefined, note);
        if (putBack && end.cause === "interrupted") this.interruptedJobs.add(claimed.jobId);
      }
    } catch (error) {
      say(`job ${claimed.jobId}: ${(error as Error).message}; putting it back in the queue`);
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
      specChunks: this.specChunks,
      growSlots: (extra) => this.slots.grow(extra),
      jobStarted: (jobId, attempt, slot) => this.outbox.sendLater({ type: "jobStarted", jobId, attempt, slot }),
      dependentsSettled: (jobId, { queued, failed }) => {
        // A fan-out queues thousands: messages of at most SETTLED_IDS_PER_MESSAGE ids, well under a frame's limit.
        for (let at = 0; at < Math.max(queued.length, failed.length); at += SETTLED_IDS_PER_MESSAGE) {
          const part = (ids: string[]) => ids.slice(at, at + SETTLED_IDS_PER_MESSAGE);
          this.outbox.send({ type: "dependentsSettled", jobId, queued: part(queued), failed: part(failed) });
        }
        // Jobs it queued are this agent's to claim as much as anyone's: read the queue again.
        if (queued.length > 0) {
          this.scanner.invalidate();
          this.wakeup.trigger();
        }
      },
      log: say,
      ...(this.clock === undefined ? {} : { allocation: this.clock, stoppedBySlurm: () => this.stoppedBySlurm() }),
    };
  }

  /**
   * Whether a job that died of SIGTERM or SIGKILL was killed by Slurm ending the allocation
   * (`scancel`, a time limit): Slurm signals every process of the step at once, so the job's end
   * may be seen a moment before the agent's own SIGTERM; wait for it briefly.
   */
  private async stoppedBySlurm(): Promise<boolean> {
    const until = Date.now() + SLURM_SIGNAL_WAIT_MS;
    while (this.stopped === undefined && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    return this.stopped !== undefined;
  }

  /** In a Slurm allocation: leaves after `idleTimeoutMs` without a job, so an idle allocation ends. */
  private checkIdle(): void {
    if (this.config.slurm === undefined || this.state !== "ready") return;
    if (this.running.size > 0) this.lastBusy = Date.now();
    else if (Date.now() - this.lastBusy > this.config.slurm.idleTimeoutMs) {
      void this.stop(`no job for ${Math.round(this.config.slurm.idleTimeoutMs / 1000)} s (idleTimeoutMs): leaving the Slurm allocation`);
    }
  }

  /** The node's slots and labels, which decide whether a job fits here. */
  private get capacity(): NodeCapacity {
    return { slots: this.slots.total, labels: this.config.labels };
  }

  /** Kills running jobs whose cancel marker appeared (the supervisor's message may not reach us). */
  private checkCancelled(): void {
    for (const [jobId, run] of this.running) {
      if (isCancelRequested(this.config.dir, jobId)) run.kill("cancelled");
    }
  }

  /**
   * In writer mode: stops the agent at once if a directory of the layout was replaced with a
   * symlink meanwhile, by another account most likely (files written through it would land elsewhere). Its running jobs go
   * back to the queue; the agent that would replace it refuses to start (`SHARED_DIR_INSECURE`).
   */
  private checkPlantedSymlinks(): void {
    const links = plantedSymlinks(this.config.dir);
    if (links.length > 0) void this.stop(`symlinks appeared in the Malocher directory, which makes none (another account's?): ${links.join(", ")}`);
  }

  private setState(state: AgentState, why: string): void {
    this.state = state;
    say(`${state} (${why})`);
  }
}

/**
 * A published result up to this size travels with the "jobFinished" message, so the supervisor
 * need not read the file back (a third of a warm job's time after it finished).
 */
const MAX_ATTACHED_RESULT_BYTES = 64 * 1024;

/** Job ids per "dependentsSettled" message (a frame holds at most 1 MiB). */
const SETTLED_IDS_PER_MESSAGE = 2000;

/** How long a job that died of SIGTERM/SIGKILL waits for the agent's own SIGTERM (see `stoppedBySlurm`). */
const SLURM_SIGNAL_WAIT_MS = 1000;

/** A host for a ws:// URL (an IPv6 address in brackets). */
function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** How long a job that waits for slots another job waits for is passed over. */
const DEFER_MS = 2000;
