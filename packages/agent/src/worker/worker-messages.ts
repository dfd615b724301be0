import type { JobError } from "@malocher/protocol";

/** Agent → worker (over the IPC channel). */
export interface RunJobRequest {
  type: "run";
  jobId: string;
  /** The spec file to read; the worker reads it itself so large arguments never cross IPC. */
  specFile: string;
}

/** Worker → agent: the worker has loaded its runtime and takes jobs. */
export interface WorkerReady {
  type: "ready";
}

/** Worker → agent: one job's outcome; the value is encoded with the value codec. */
export type JobOutcome =
  | { type: "done"; jobId: string; ok: true; value: Uint8Array }
  | { type: "done"; jobId: string; ok: false; error: JobError };

export type WorkerReply = WorkerReady | JobOutcome;

/**
 * Written by the worker to its stdout and stderr after each job, so the agent can cut one warm
 * worker's output streams into per-job logs.
 */
export function endOfJobMarker(jobId: string): string {
  return `\u0000malocher:end-of-job:${jobId}\u0000`;
}
