import { availableParallelism, hostname, loadavg } from "node:os";
import { mkdir, rmdir } from "node:fs/promises";
import { watch, type FSWatcher } from "chokidar";
import {
  MALOCHER_VERSION,
  PROTOCOL_VERSION,
  directoryLayout,
  type AgentLaunchConfig,
  type StoredResult,
  type SupervisorMessage,
} from "@malocher/protocol";
import { SupervisorLink } from "./link/supervisor-link.js";
import { claimJob, type ClaimedJob } from "./store/claim-job.js";
import { publishResult } from "./store/publish-result.js";
import { releaseClaim } from "./store/release-claim.js";
import { requeueClaim } from "./store/requeue-claim.js";
import { QueueScanner } from "./store/queue-scanner.js";
import { Wakeup } from "./wakeup.js";
import { removeLease, renewLease } from "./store/agent-lease.js";
import { WorkerPool } from "./worker/worker-pool.js";
import type { WarmWorker, WorkerRunEnd } from "./worker/warm-worker.js";

/** The agent's life: `starting` until welcomed, `ready` while it claims, `draining`, `stopped`. */
export type AgentState = "starting" | "ready" | "draining" | "stopped";

/** The fallback scan period: hints (nudges, the signal file) only make it faster. */
const SCAN_INTERVAL_MS = 1000;
const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * The node agent: claims queued jobs from the shared directory, runs each in a warm worker,
 * publishes the result write-once and tells the supervisor. Its main loop is {@link Agent.claimLoop}.
 */
export class Agent {
  private state: AgentState = "starting";
  private readonly slots: number;
  private readonly link: SupervisorLink;
  private readonly scanner: QueueScanner;
  private readonly wakeup = new Wakeup();
  private readonly running = new Map<string, ClaimedJob>();
  private readonly pool: WorkerPool;
  private signalWatcher: FSWatcher | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private loopDone: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private resolveStopped!: () => void;
  private readonly finished = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly config: AgentLaunchConfig) {
    this.slots = config.slots > 0 ? config.slots : availableParallelism();
    this.scanner = new QueueScanner(config.dir);
    this.pool = new WorkerPool(this.slots, (chunk) => process.stderr.write(chunk), () => this.wakeup.trigger());
    this.link = new SupervisorLink(`ws://127.0.0.1:${config.port}/`, config.token, config.disconnectGraceMs, {
      connected: () => this.sayHello(),
      message: (message) => this.onMessage(message),
      lost: (reason) => void this.stop(`lost the supervisor: ${reason}`),
    });
  }

  /** Starts the agent; resolves when it has stopped. */
  async run(): Promise<void> {
    this.log(`starting: ${this.slots} slots, directory ${this.config.dir}`);
    await mkdir(directoryLayout.agentRunningDir(this.config.dir, this.config.agentId), { recursive: true });
    await renewLease(this.config.dir, {
      agentId: this.config.agentId,
      host: this.config.host,
      hostname: hostname(),
      pid: process.pid,
      startedAt: Date.now(),
    });
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
    await this.pool.close();
    await this.loopDone;
    await Promise.all([...this.running.keys()].map((jobId) => requeueClaim(this.config.dir, this.config.agentId, jobId)));
    await rmdir(directoryLayout.agentRunningDir(this.config.dir, this.config.agentId)).catch(() => {});
    await removeLease(this.config.dir, this.config.agentId);
    await this.link.close(reason);
    this.setState("stopped", reason);
    this.resolveStopped();
  }

  private sayHello(): void {
    this.link.send({
      type: "hello",
      agentId: this.config.agentId,
      host: this.config.host,
      hostname: hostname(),
      pid: process.pid,
      slots: this.slots,
      version: MALOCHER_VERSION,
      protocolVersion: PROTOCOL_VERSION,
    });
  }

  private onMessage(message: SupervisorMessage): void {
    switch (message.type) {
      case "welcome":
        if (this.state === "starting") this.becomeReady();
        return;
      case "nudge":
        this.scanner.invalidate();
        this.wakeup.trigger();
        return;
      case "stop":
        void this.stop(`the supervisor asked: ${message.reason}`);
        return;
    }
  }

  private becomeReady(): void {
    this.setState("ready", "welcomed by the supervisor");
    this.heartbeat = setInterval(() => {
      this.link.send({ type: "heartbeat", running: this.running.size, load: loadavg()[0] ?? 0 });
    }, HEARTBEAT_INTERVAL_MS);
    this.signalWatcher = watch(directoryLayout.signalFile(this.config.dir), { ignoreInitial: true });
    this.signalWatcher.on("all", () => {
      this.scanner.invalidate();
      this.wakeup.trigger();
    });
    this.signalWatcher.on("error", () => {}); // the periodic scan covers for a failed watch
    this.loopDone = this.claimLoop().catch((error: Error) => this.stop(`claim loop failed: ${error.stack ?? error.message}`));
  }

  /**
   * The main loop: while ready, claim as many queued jobs as there are idle workers (from a cached
   * scan of the queue), start each, and sleep until a hint, a freed slot or the scan interval.
   */
  private async claimLoop(): Promise<void> {
    while (this.state === "ready") {
      const idle = this.pool.idleCount;
      if (idle === 0 || !this.link.connected) {
        await this.wakeup.wait(SCAN_INTERVAL_MS);
        continue;
      }
      const candidates = await this.scanner.take(idle);
      if (candidates.length === 0) {
        await this.wakeup.wait(SCAN_INTERVAL_MS);
        this.scanner.invalidate();
        continue;
      }
      for (const jobId of candidates) {
        if (this.state !== "ready") break;
        const claimed = await claimJob(this.config.dir, this.config.agentId, jobId);
        if (claimed === undefined) continue; // another agent was first
        const worker = this.pool.acquire();
        if (worker === undefined) {
          await requeueClaim(this.config.dir, this.config.agentId, jobId);
          break;
        }
        void this.runJob(claimed, worker);
      }
    }
  }

  private async runJob(job: ClaimedJob, worker: WarmWorker): Promise<void> {
    const { dir, agentId } = this.config;
    this.running.set(job.jobId, job);
    this.link.send({ type: "jobStarted", jobId: job.jobId, attempt: job.attempt });
    const startedAt = Date.now();
    const end = await worker.run(
      { type: "run", jobId: job.jobId, specFile: directoryLayout.specFile(dir, job.jobId) },
      { stdout: directoryLayout.stdoutFile(dir, job.jobId), stderr: directoryLayout.stderrFile(dir, job.jobId) },
    );
    const durationMs = Date.now() - startedAt;
    if (this.state !== "ready" && end.kind === "died") {
      // We killed it while stopping: shutdown() puts the claim back in the queue.
      return;
    }
    try {
      const result = this.toStoredResult(job, end, durationMs);
      const published = await publishResult(dir, result);
      if (!published) this.log(`job ${job.jobId}: a result was already published; this run's result is discarded`);
      await releaseClaim(dir, agentId, job.jobId);
      this.running.delete(job.jobId);
      this.link.send({ type: "jobFinished", jobId: job.jobId, ok: result.ok, durationMs });
    } catch (error) {
      this.log(`job ${job.jobId}: could not publish its result: ${(error as Error).message}`);
    } finally {
      this.pool.release(worker);
    }
  }

  private toStoredResult(job: ClaimedJob, end: WorkerRunEnd, durationMs: number): StoredResult {
    const meta = {
      jobId: job.jobId,
      host: this.config.host,
      attempts: job.attempt,
      durationMs,
      agentId: this.config.agentId,
      finishedAt: Date.now(),
    };
    if (end.kind === "outcome") {
      const { outcome } = end;
      return outcome.ok ? { ...meta, ok: true, value: outcome.value } : { ...meta, ok: false, error: outcome.error };
    }
    if (end.signal !== null) {
      const hint = end.signal === "SIGKILL" ? " (the out-of-memory killer does this)" : "";
      return {
        ...meta,
        ok: false,
        error: {
          name: "MalocherError",
          code: "WORKER_CRASHED",
          message: `The worker process running this job was killed by ${end.signal}${hint} before the job returned.`,
        },
      };
    }
    return {
      ...meta,
      ok: false,
      error: {
        name: "MalocherError",
        code: "JOB_EXITED",
        message: `The job ended its worker process with exit code ${end.exitCode} (process.exit() or a fatal error) before returning a result.`,
      },
    };
  }

  private setState(state: AgentState, why: string): void {
    this.state = state;
    this.log(`${state} (${why})`);
  }

  private log(line: string): void {
    process.stderr.write(`malocher agent ${this.config.agentId}: ${line}\n`);
  }
}
