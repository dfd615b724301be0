import { terminateProcessGroup } from "./terminate-process-group.js";
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { JobLogSplitter } from "./job-log-splitter.js";
import type { AgentRequest, JobOutcome, RunJobRequest, WithdrawJobRequest, WorkerReply } from "./worker-messages.js";

const PIPE_DRAIN_MS = 1000;
const PAGE_SIZE = 4096;
const WORKER_MAIN = fileURLToPath(new URL("./worker-main.js", import.meta.url));

/**
 * How one job's run on one worker ended (the second of the four outcome layers, see
 * docs/ARCHITECTURE.md, "Outcomes, layer by layer"): its outcome as the worker reported it, or
 * why there is none. Made by {@link WarmWorker.run} from the worker's replies
 * ({@link WorkerReply}) and its exit; read by the agent's `JobRun`, which knows what the worker
 * does not (why the agent killed it, the job's retries, the claim).
 */
export type WorkerRunEnd =
  /** The job's code ran and the worker reported how it ended (its `done` reply). */
  | { kind: "outcome"; outcome: JobOutcome }
  /** The worker holds an older version of the job's module than the file now (see `WorkerOutdatedCode`): the job did not run. */
  | { kind: "outdatedCode" }
  /**
   * The job did not run, or not through its own fault: it never reached the worker (it died
   * between jobs), it was given back while lined up, or the worker was killed for the job before it.
   */
  | { kind: "unavailable" }
  /** The worker exited while the job ran (`lastStderr`: the end of what it wrote, to tell an exhausted heap). */
  | { kind: "died"; exitCode: number | null; signal: NodeJS.Signals | null; lastStderr: string };

/** Where one job's output goes, and how much of each attempt's output each log keeps. */
export interface JobLogPaths {
  stdout: string;
  stderr: string;
  maxBytes: number;
  /** The line that separates this run's output from an earlier run's in a log (see `rerunNote`): made only for such a log. */
  rerunNote: () => string;
}

/** Called as a job's run on the worker changes: both at most once, `started` before `done`. */
export interface WorkerRunHooks {
  /** The job's code starts now (at once on an idle worker; for a lined-up job, when the one before it ended). */
  started(): void;
  /**
   * The job's code is done: its outcome came (its logs may still be streaming in), and the worker
   * takes the next job. Not called when the worker died or the job did not run.
   */
  done(): void;
}

interface RunOnWorker {
  jobId: string;
  hooks: WorkerRunHooks;
  end(end: WorkerRunEnd): void;
}

/**
 * One warm worker process: started once, runs many jobs one at a time. Lives in its own process
 * group (`detached`), so `kill()` takes down everything a job spawned. One job may be lined up
 * behind the running one; the worker starts it the moment the running one ends.
 */
export class WarmWorker {
  private readonly child: ChildProcess;
  private readonly stdout: JobLogSplitter;
  private readonly stderr: JobLogSplitter;
  private readonly ready: Promise<void>;
  private exited = false;
  private retiring = false;
  private running: RunOnWorker | undefined;
  /** The job lined up behind the running one (see {@link canLineUp}). */
  private linedUp: RunOnWorker | undefined;
  /** The job the last `stopJob` killed the worker for: a job after it that dies with it is not at fault. */
  private killedFor: string | undefined;
  /** Gives the lined-up job back when the line-up window ends. */
  private lineUpTimer: NodeJS.Timeout | undefined;
  /** Set once the process group is being ended (see {@link endProcessGroup}): resolves when it is gone. */
  private ending: Promise<void> | undefined;

  /** Jobs that started on this worker. */
  jobsRun = 0;
  /** When the running job started (`performance.now()`). */
  runningSince = 0;
  /** How long the last job that ended with an outcome ran, in ms (undefined before the first). */
  lastRunMs: number | undefined;

  /**
   * `onExit` is called once when the process is gone, whether it was running a job or not.
   * `heapLimitMb` caps the V8 heap, so that a job exhausting memory fails alone; a worker that a
   * job left past it takes no more jobs (see worker-main.ts). A job waits
   * lined up only until the job before it has run `lineUpWindowMs`: then it is given back (a job
   * that turns out long must not keep the next from other agents).
   */
  constructor(
    stray: (chunk: Buffer) => void,
    onExit: () => void,
    heapLimitMb: number,
    private readonly lineUpWindowMs: number,
    /** Its job slot, 1 to the node's slots: `MALOCHER_SLOT` of its jobs, and `{%}` of command jobs that ask for it. */
    readonly slotNumber: number = 1,
  ) {
    // Our pid, which the worker watches, and its memory limit (see worker-main.ts).
    this.child = fork(WORKER_MAIN, [String(process.pid), String(heapLimitMb)], {
      detached: true,
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: [`--max-old-space-size=${heapLimitMb}`],
      env: { ...process.env, MALOCHER_SLOT: String(slotNumber) },
    });
    this.stdout = new JobLogSplitter(this.child.stdout!, stray);
    this.stderr = new JobLogSplitter(this.child.stderr!, stray);
    this.ready = new Promise((resolve, reject) => {
      this.child.once("message", (reply: WorkerReply) => (reply.type === "ready" ? resolve() : reject(new Error("worker did not start"))));
      this.child.once("exit", (code, signal) => reject(new Error(`worker exited at start (code ${code}, signal ${signal})`)));
    });
    this.ready.catch(() => {});
    this.child.on("error", () => {}); // a send to a worker that just died: its exit reports it
    this.child.on("message", (reply: WorkerReply) => this.onReply(reply));
    this.child.on("exit", (exitCode, signal) => {
      this.exited = true;
      onExit();
      // What the jobs came to is decided once the IPC channel and the pipes are drained: an outcome
      // sent right before the exit (which says whether the lined-up job started) may still be on its
      // way, and the log should hold the job's last words. But a grandchild that escaped the
      // process group may hold the pipes open: do not wait for it.
      const drained = Promise.all([
        this.child.connected ? new Promise((resolve) => this.child.once("disconnect", resolve)) : undefined,
        new Promise((resolve) => this.child.once("close", resolve)),
      ]);
      const timeout = new Promise((resolve) => setTimeout(resolve, PIPE_DRAIN_MS));
      // A job being ended gracefully may outlive its worker (a command saving its work on
      // SIGTERM): its end is decided once nothing of its process group runs any more.
      void Promise.race([drained, timeout])
        .then(() => this.ending)
        .then(() => {
          this.settleAfterExit(exitCode, signal);
          // A job that ended before the worker died (killed as it retired) may never get its
          // end-of-job marker: its logs end with what arrived, or its run would wait for them forever.
          void this.stdout.abandon();
          void this.stderr.abandon();
        });
    });
  }

  /** The process id, which is also its process group id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is gone, or about to go: it takes no more jobs. */
  get dead(): boolean {
    return this.exited || this.retiring || !this.child.connected;
  }

  /** Whether a job runs on the worker now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** The job that runs on the worker now, as far as its replies tell. */
  get runningJobId(): string | undefined {
    return this.running?.jobId;
  }

  /**
   * Whether a job may be lined up behind the running one: none is, and the running one has run
   * less than the line-up window.
   */
  get canLineUp(): boolean {
    return !this.dead && this.running !== undefined && this.linedUp === undefined && performance.now() - this.runningSince < this.lineUpWindowMs;
  }

  /** Waits until the worker process is ready (its `WorkerReady` came) and can take jobs. */
  async whenReady(): Promise<void> {
    await this.ready;
  }

  /**
   * Runs one job, at once on an idle worker, or lined up behind the running job (see `canLineUp`).
   * Resolves when the job reported its outcome and both its logs are complete, or when it did not
   * run (then the logs hold what arrived).
   */
  async run(request: RunJobRequest, logs: JobLogPaths, hooks: WorkerRunHooks): Promise<WorkerRunEnd> {
    const { jobId } = request;
    const stdoutDone = this.stdout.begin(jobId, logs.stdout, logs.maxBytes, logs.rerunNote);
    const stderrDone = this.stderr.begin(jobId, logs.stderr, logs.maxBytes, logs.rerunNote);
    const end = await new Promise<WorkerRunEnd>((resolve) => {
      const run: RunOnWorker = { jobId, hooks, end: resolve };
      if (this.dead || this.linedUp !== undefined) return resolve({ kind: "unavailable" });
      let sent: AgentRequest = request;
      if (this.running === undefined) {
        this.running = run;
      } else {
        // Given back at the end of the line-up window, by a message: a job that keeps the worker's
        // event loop busy until it ends keeps the lined-up one too, which then starts at once.
        this.linedUp = run;
        this.lineUpTimer = setTimeout(() => this.withdraw(jobId), this.runningSince + this.lineUpWindowMs - performance.now());
        sent = { ...request, behind: this.running.jobId };
      }
      this.child.send(sent, (error) => {
        if (error) this.drop(run); // it died between jobs
      });
      if (this.running === run) this.start(run);
    });
    if (end.kind === "died") {
      await Promise.all([this.stdout.abandon(), this.stderr.abandon()]);
    } else if (end.kind === "unavailable") {
      this.stdout.cancel(jobId);
      this.stderr.cancel(jobId);
    } else {
      await Promise.all([stdoutDone, stderrDone]);
    }
    return end;
  }

  /**
   * Ends the job `jobId` on this worker: ends the process group if it runs (SIGTERM, then SIGKILL
   * `graceMs` later), or asks for it back if it is lined up (it may have started meanwhile: then it
   * runs). Otherwise does nothing.
   */
  stopJob(jobId: string, graceMs: number): void {
    if (this.running?.jobId === jobId) {
      this.killedFor = jobId;
      this.retiring = true;
      void this.endProcessGroup(graceMs);
    } else if (this.linedUp?.jobId === jobId) {
      this.withdraw(jobId);
    }
  }

  /** Asks for the lined-up job `jobId` back, unless it has started (then it runs). */
  private withdraw(jobId: string): void {
    if (this.linedUp?.jobId === jobId && this.child.connected) this.child.send({ type: "withdraw", jobId } satisfies WithdrawJobRequest);
  }

  /** Ends the runs of a worker that exited: the running job died (or was cut short by a kill meant for the one before it). */
  private settleAfterExit(exitCode: number | null, signal: NodeJS.Signals | null): void {
    const running = this.running;
    const linedUp = this.linedUp;
    this.running = this.linedUp = undefined;
    clearTimeout(this.lineUpTimer);
    linedUp?.end({ kind: "unavailable" });
    if (running === undefined) return;
    if (this.killedFor !== undefined && this.killedFor !== running.jobId) running.end({ kind: "unavailable" });
    else running.end({ kind: "died", exitCode, signal, lastStderr: this.stderr.lastOutput });
  }

  private onReply(reply: WorkerReply): void {
    switch (reply.type) {
      case "done":
        if (reply.retiring) this.retiring = true;
        // A worker that goes on has started the lined-up job, or starts it when it comes (see
        // worker-main.ts), also if this agent began killing the worker meanwhile: the job then
        // goes back to the queue once the worker is gone (`settleAfterExit`), never while it may run.
        return this.finishRunning(reply.jobId, { kind: "outcome", outcome: reply }, !reply.retiring);
      case "outdatedCode":
        this.retiring = true; // it holds outdated code: it takes no more jobs
        return this.finishRunning(reply.jobId, { kind: "outdatedCode" });
      case "withdrew":
        if (this.linedUp?.jobId === reply.jobId) this.drop(this.linedUp);
        return;
      case "refused":
        this.retiring = true;
        if (this.running?.jobId === reply.jobId) this.drop(this.running);
        else if (this.linedUp?.jobId === reply.jobId) this.drop(this.linedUp);
        return;
      case "ready":
        return;
    }
  }

  /**
   * The running job ended; `startsLinedUp`: the worker starts the lined-up job, if there is one.
   * The lined-up job starts here before the ended one is done, so that a slot passes straight from
   * one to the other (a job waiting to grow never gets it in between).
   */
  private finishRunning(jobId: string, end: WorkerRunEnd, startsLinedUp = false): void {
    const run = this.running;
    if (run?.jobId !== jobId) return;
    if (end.kind === "outcome") this.lastRunMs = performance.now() - this.runningSince;
    const next = this.linedUp;
    this.linedUp = undefined;
    clearTimeout(this.lineUpTimer);
    this.running = startsLinedUp ? next : undefined;
    if (next !== undefined && this.running === next) this.start(next);
    run.hooks.done();
    run.end(end);
    if (next !== undefined && this.running !== next) next.end({ kind: "unavailable" });
  }

  private start(run: RunOnWorker): void {
    this.jobsRun++;
    this.runningSince = performance.now();
    run.hooks.started();
  }

  /** Forgets a job that did not run here. */
  private drop(run: RunOnWorker): void {
    if (this.running === run) this.running = undefined;
    if (this.linedUp === run) {
      this.linedUp = undefined;
      clearTimeout(this.lineUpTimer);
    }
    run.end({ kind: "unavailable" });
  }

  /**
   * The process's resident memory in bytes (from /proc), or undefined when it is gone. Read
   * synchronously: /proc is in memory, and read for every running job each second, four calls through
   * libuv's thread pool each time were most of a busy agent's own CPU.
   */
  rss(): number | undefined {
    if (this.exited || this.child.pid === undefined) return undefined;
    try {
      const statm = readFileSync(`/proc/${this.child.pid}/statm`, "utf8");
      return Number(statm.split(" ")[1]) * PAGE_SIZE;
    } catch {
      return undefined;
    }
  }

  /** Takes the worker out of service: it accepts no more jobs and is killed. */
  retire(): Promise<void> {
    this.retiring = true;
    return this.kill();
  }

  /** Kills the worker's whole process group at once (or lets an ending already under way finish) and waits for it to exit. Idempotent. */
  async kill(): Promise<void> {
    if (this.exited && this.ending === undefined) return;
    const exited = this.exited ? undefined : new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    await this.endProcessGroup(0);
    await exited;
  }

  /**
   * Ends the worker's process group (the worker and all a job started): SIGTERM, then SIGKILL
   * `graceMs` later to whatever is left (see `terminateProcessGroup`). The worker takes no more
   * jobs. Idempotent: an ending under way goes on with its own grace.
   */
  private endProcessGroup(graceMs: number): Promise<void> {
    this.retiring = true;
    const group = this.child.pid;
    if (group === undefined) {
      this.child.kill("SIGKILL");
      return Promise.resolve();
    }
    this.ending ??= terminateProcessGroup(group, graceMs);
    return this.ending;
  }
}
