import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { JobLogSplitter } from "./job-log-splitter.js";
import type { JobOutcome, RunJobRequest, WorkerReply } from "./worker-messages.js";

const PIPE_DRAIN_MS = 1000;
const PAGE_SIZE = 4096;
const WORKER_MAIN = fileURLToPath(new URL("./worker-main.js", import.meta.url));

/** How a job's run on a worker ended: its reported outcome, or the worker's death. */
export type WorkerRunEnd =
  | { kind: "outcome"; outcome: JobOutcome }
  | { kind: "stale" }
  /** The job never reached the worker (it died between jobs); the job did not run. */
  | { kind: "unavailable" }
  | { kind: "died"; exitCode: number | null; signal: NodeJS.Signals | null; lastStderr: string };

/** Where one job's output goes, and how much of each attempt's output each log keeps. */
export interface JobLogPaths {
  stdout: string;
  stderr: string;
  maxBytes: number;
}

/**
 * One warm worker process: started once, runs many jobs one at a time. Lives in its own process
 * group (`detached`), so `kill()` takes down everything a job spawned.
 */
export class WarmWorker {
  private readonly child: ChildProcess;
  private readonly stdout: JobLogSplitter;
  private readonly stderr: JobLogSplitter;
  private readonly ready: Promise<void>;
  private exited = false;
  private retiring = false;
  private onEnd: ((end: WorkerRunEnd) => void) | undefined;

  /** Jobs this worker has run. */
  jobsRun = 0;

  /**
   * `onExit` is called once when the process is gone, whether it was running a job or not.
   * `heapLimitMb` caps the V8 heap, so that a job exhausting memory fails alone.
   */
  constructor(stray: (chunk: Buffer) => void, onExit: () => void, heapLimitMb: number) {
    // Our pid, which the worker watches (see worker-main.ts).
    this.child = fork(WORKER_MAIN, [String(process.pid)], {
      detached: true,
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv: [`--max-old-space-size=${heapLimitMb}`],
    });
    this.stdout = new JobLogSplitter(this.child.stdout!, stray);
    this.stderr = new JobLogSplitter(this.child.stderr!, stray);
    this.ready = new Promise((resolve, reject) => {
      this.child.once("message", (reply: WorkerReply) => (reply.type === "ready" ? resolve() : reject(new Error("worker did not start"))));
      this.child.once("exit", (code, signal) => reject(new Error(`worker exited at start (code ${code}, signal ${signal})`)));
    });
    this.ready.catch(() => {});
    this.child.on("error", () => {}); // a send to a worker that just died: its exit reports it
    this.child.on("message", (reply: WorkerReply) => {
      if (reply.type === "done" && reply.retiring) this.retiring = true;
      if (reply.type === "done") this.onEnd?.({ kind: "outcome", outcome: reply });
      if (reply.type === "stale") {
        this.retiring = true; // it holds old code: it takes no more jobs
        this.onEnd?.({ kind: "stale" });
      }
    });
    this.child.on("exit", (exitCode, signal) => {
      this.exited = true;
      onExit();
      // Let the pipes drain so the log holds the job's last words, but do not wait for a
      // grandchild that escaped the process group and still holds them open.
      const report = () => this.onEnd?.({ kind: "died", exitCode, signal, lastStderr: this.stderr.lastOutput });
      const drained = setTimeout(report, PIPE_DRAIN_MS);
      this.child.once("close", () => {
        clearTimeout(drained);
        report();
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

  /** Waits until the worker can take jobs. */
  async started(): Promise<void> {
    await this.ready;
  }

  /**
   * Runs one job. Resolves when the job reported its outcome and both its logs are complete, or
   * when the worker died (then the logs hold what arrived).
   */
  async run(request: RunJobRequest, logs: JobLogPaths): Promise<WorkerRunEnd> {
    const stdoutDone = this.stdout.begin(request.jobId, logs.stdout, logs.maxBytes);
    const stderrDone = this.stderr.begin(request.jobId, logs.stderr, logs.maxBytes);
    const end = await new Promise<WorkerRunEnd>((resolve) => {
      this.onEnd = resolve;
      if (this.dead) {
        resolve({ kind: "unavailable" });
      } else {
        this.jobsRun++;
        this.child.send(request, (error) => {
          if (error) resolve({ kind: "unavailable" }); // it died between jobs
        });
      }
    });
    this.onEnd = undefined;
    if (end.kind === "died" || end.kind === "unavailable") await Promise.all([this.stdout.abandon(), this.stderr.abandon()]);
    else await Promise.all([stdoutDone, stderrDone]);
    return end;
  }

  /**
   * The process's resident memory in bytes (from /proc), or undefined when it is gone. Read
   * synchronously: /proc is in memory, and polled for every running job, four calls through
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

  /** Kills the worker's whole process group and waits for it to exit. Idempotent. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, "SIGKILL");
    } catch {
      this.child.kill("SIGKILL");
    }
    await exited;
  }
}
