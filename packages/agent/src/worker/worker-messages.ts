import type { RunSettings, StoredFailure } from "@malocher/protocol";

/**
 * Agent → worker (over the IPC channel): run a job, now or, while one runs, as soon as it ends
 * (at most one job waits so).
 */
export interface RunJobRequest {
  type: "run";
  jobId: string;
  /** The spec file, which the worker reads itself when `spec` is absent. */
  specFile: string;
  /**
   * The spec's bytes as the agent read them, when they are small (the worker verifies them as it
   * would the file); large arguments never cross IPC: the worker reads the file instead.
   */
  spec?: Uint8Array;
  /** The shared directory, whose key file the worker reads to verify the spec. */
  dir: string;
  /** The run's env and cwd, for what the job did not set itself (see `withRunDefaults`). */
  run: Pick<RunSettings, "env" | "cwd">;
  /**
   * The running job this one is lined up behind: it starts the moment that one's outcome is sent,
   * or, if that one has ended already, as soon as it comes.
   */
  behind?: string;
}

/**
 * Agent → worker: give back the job lined up behind the running one, unless it has started. The
 * worker answers with {@link WorkerWithdrew}; a job that started already just runs.
 */
export interface WithdrawJobRequest {
  type: "withdraw";
  jobId: string;
}

export type AgentRequest = RunJobRequest | WithdrawJobRequest;

/** Worker → agent: the worker has loaded its runtime and takes jobs. */
export interface WorkerReady {
  type: "ready";
}

/** What every outcome says besides ok/error. */
interface OutcomeMeta {
  type: "done";
  jobId: string;
  /** The function's module file differs from the one hashed at submit. */
  codeChanged: boolean;
  /**
   * Give this worker no more jobs: it exits after this reply (an error the job left behind), or
   * the job left it past its memory limit. A worker that is not retiring starts the job lined up
   * behind this one: now, or when that job's request comes.
   */
  retiring: boolean;
  /** The worker got SIGTERM while the job (a command) ran, and outlived it to copy its last output: the job was being ended. */
  terminated?: boolean;
}

/** Worker → agent: one job's outcome; the value is encoded with the value codec. */
export type JobOutcome = (OutcomeMeta & { ok: true; value: Uint8Array }) | (OutcomeMeta & StoredFailure);

/**
 * Worker → agent: the job's module changed on disk since this worker imported it (the worker
 * holds outdated code, which Node cannot import again); the job was not run. The agent retires
 * the worker and the job goes back to the queue, for a fresh worker.
 */
export interface WorkerOutdatedCode {
  type: "outdatedCode";
  jobId: string;
}

/** Worker → agent: the lined-up job was given back before it started. */
export interface WorkerWithdrew {
  type: "withdrew";
  jobId: string;
}

/** Worker → agent: the job was not run: this worker is dying or retired (it takes no more jobs). */
export interface WorkerRefused {
  type: "refused";
  jobId: string;
}

/**
 * Everything a worker process says to its agent over the IPC channel (the wire, the lowest of the
 * four outcome layers, see docs/ARCHITECTURE.md, "Outcomes, layer by layer"). Sent by
 * worker-main.ts; read only by `WarmWorker`, which turns what it says about a job into that
 * run's `WorkerRunEnd`.
 */
export type WorkerReply = WorkerReady | JobOutcome | WorkerOutdatedCode | WorkerWithdrew | WorkerRefused;

/**
 * Written by the worker to its stdout and stderr after each job, so the agent can cut one warm
 * worker's output streams into per-job logs.
 */
export function endOfJobMarker(jobId: string): string {
  return `\u0000malocher:end-of-job:${jobId}\u0000`;
}
