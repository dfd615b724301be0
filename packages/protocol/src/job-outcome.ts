/**
 * The one place where job outcomes are made: a success, a failure with its code, and the stored
 * result that carries either with who made it. Agents, workers and supervisors all build their
 * results here, so every failure has a typed {@link ErrorCode} and `attempts` always means the
 * same thing: how many runs of the job started (0 for a job that failed before it ever ran).
 */
import { serializeError, type ErrorCode } from "./malocher-error.js";
import type { JobError, JobResult, StoredFailure, StoredResult } from "./job-result.js";
import type { JobNameAndTags } from "./job-spec.js";

/** How a job ended, before it is stored: its encoded value, or its failure. */
export type JobEnding = { ok: true; value: Uint8Array } | StoredFailure;

/** A failure with `code` and a message that says what happened and what to do. */
export function failure(code: ErrorCode, message: string): { ok: false; error: JobError } {
  return { ok: false, error: { name: "MalocherError", code, message } };
}

/** A failure with `code` from a caught error (its name and stack kept), its message replaced when `message` is given. */
export function failureFrom(code: ErrorCode, error: unknown, message?: string): { ok: false; error: JobError } {
  const serialized: JobError = serializeError(error);
  if (message !== undefined) serialized.message = message;
  return { ok: false, error: { ...serialized, code } };
}

/** The failure of a cancelled job. */
export function cancelled(before: "before it ran" | "while it ran"): { ok: false; error: JobError } {
  return failure("JOB_CANCELLED", `The job was cancelled ${before}.`);
}

/** The longest message of a failed dependency quoted in its dependents' messages (chains would grow without end). */
const QUOTED_DEPENDENCY_MESSAGE_CHARS = 400;

/**
 * The failure of a job that was not run because job `depId`, which it depends on, failed or was
 * cancelled with `depError`: it names that job and its code, and quotes its message.
 */
export function dependencyFailed(depId: string, depError: { code?: string; message: string }): { ok: false; error: JobError } {
  const code = depError.code ?? "JOB_THREW";
  // Down a chain, the job that failed first is named once, with its failure, whatever the depth.
  const first = code === "DEPENDENCY_FAILED" ? firstFailureOf(depError.message) : undefined;
  if (first !== undefined) {
    return failure("DEPENDENCY_FAILED", `The job was not run: job ${depId}, which it depends on, was not run either: job ${first.jobId}, further up the chain, ${first.how}`);
  }
  const how = code === "JOB_CANCELLED" ? "was cancelled" : `failed with ${code}`;
  const cut = depError.message.length > QUOTED_DEPENDENCY_MESSAGE_CHARS ? `${depError.message.slice(0, QUOTED_DEPENDENCY_MESSAGE_CHARS)}…` : depError.message;
  // A thrown error's message often has no full stop: the hint after it must not run on from it.
  const quoted = /[.!?…:]$/.test(cut.trimEnd()) ? cut.trimEnd() : `${cut.trimEnd()}.`;
  // Down a chain, the first failure's message (quoted last) says which job to retry.
  const hint = code === "DEPENDENCY_FAILED" ? "" : ` Retrying job ${depId} (malocher retry ${depId}) runs the jobs that wait for it once it succeeds.`;
  return failure("DEPENDENCY_FAILED", `The job was not run: it depends on job ${depId}, which ${how}: ${quoted}${hint}`);
}

/**
 * The job that failed first down a chain of `DEPENDENCY_FAILED` jobs, from one of their messages
 * (as {@link dependencyFailed} writes them), and what it did ("failed with CODE: …" and the hint
 * to retry it); undefined for another message.
 */
export function firstFailureOf(message: string): { jobId: string; how: string } | undefined {
  // Also as results of earlier versions word it ("…, because job X, which failed …").
  const found = /^The job was not run: (?:it depends on job |job \S+, which it depends on, was not run either(?:: job |, because job ))(\S+)(?:, further up the chain,|, which) (.*)$/s.exec(message);
  return found === null ? undefined : { jobId: found[1]!, how: found[2]! };
}

/** Who made a result and how long its last run took. */
export interface OutcomeMeta extends JobNameAndTags {
  jobId: string;
  /** The machine as the user named it; {@link NO_RUN} for a result made without a run. */
  host: string;
  agentId: string;
  /** How many runs of the job started. */
  attempts: number;
  durationMs: number;
  user?: string;
  codeChanged?: boolean;
}

/** The `host` and `agentId` of a result that no agent made (a supervisor failed or cancelled the job). */
export const NO_RUN = "-";

/** The result to store for `ending`, stamped now. */
export function storedOutcome(meta: OutcomeMeta, ending: JobEnding): StoredResult {
  return { ...meta, finishedAt: Date.now(), ...ending };
}

/**
 * The result of a job that ends without a run (cancelled in the queue, no node fits, retries used
 * up by lost nodes): `attemptsMade` runs had started before.
 */
export function outcomeWithoutRun(jobId: string, attemptsMade: number, ending: JobEnding, nameAndTags: JobNameAndTags = {}): StoredResult {
  return storedOutcome({ jobId, ...nameAndTags, host: NO_RUN, agentId: NO_RUN, attempts: attemptsMade, durationMs: 0 }, ending);
}

/** What a reader reports for a job whose result file is there but cannot be read or verified. */
export function unreadableResult(jobId: string, error: unknown): JobResult {
  const { error: jobError } = failure("RESULT_UNREADABLE", `The result file of job ${jobId} cannot be read: ${(error as Error).message}`);
  return { ok: false, jobId, host: NO_RUN, attempts: 0, durationMs: 0, error: jobError };
}
