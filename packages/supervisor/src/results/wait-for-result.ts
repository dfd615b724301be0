import { MalocherError, isJobId, type JobResult } from "@malocher/protocol";
import { listenToClusterEvents } from "../submit/announce-submitted.js";
import { jobExists } from "@malocher/store";
import { readJobState } from "@malocher/store";
import { readResultOrFailure } from "@malocher/store";
import { loadResultClass } from "./load-result-class.js";

/** Options of `result(jobId, options)`. */
export interface ResultWaitOptions {
  /** Stop waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Give up after this long with `RESULT_WAIT_TIMED_OUT` (the job goes on); default: wait as long as it takes. */
  timeoutMs?: number;
}

/**
 * How often the directory is looked at for the result. Whoever runs the job (another process,
 * another machine) publishes it there; a cluster of this process also says so at once.
 */
const POLL_INTERVAL_MS = 500;

/**
 * Waits for one job's result in `dir` and resolves with it, also when another process runs the
 * job. Rejects with `JOB_NOT_FOUND` for an id the directory does not have.
 */
export async function waitForResult(dir: string, jobId: string, options: ResultWaitOptions = {}): Promise<JobResult> {
  options.signal?.throwIfAborted();
  if (typeof jobId !== "string" || !isJobId(jobId)) throw new MalocherError("JOB_NOT_FOUND", `${JSON.stringify(jobId)} is not a job id.`);
  if (options.timeoutMs !== undefined && (!Number.isFinite(options.timeoutMs) || options.timeoutMs < 0)) {
    throw new MalocherError("INVALID_OPTIONS", `result(jobId, { timeoutMs }) needs a number ≥ 0, got ${String(options.timeoutMs)}.`);
  }
  const found = await readResultOrFailure(dir, jobId, loadResultClass);
  if (found !== undefined) return found;
  if (!(await jobExists(dir, jobId))) throw new MalocherError("JOB_NOT_FOUND", `No job ${jobId} in ${dir}.`);

  return new Promise<JobResult>((resolve, reject) => {
    const cleanUps: Array<() => void> = [];
    let finished = false;
    const finish = (settle: () => void) => {
      if (finished) return;
      finished = true;
      for (const cleanUp of cleanUps) cleanUp();
      settle();
    };
    let looking = false;
    let lookAgain = false;
    const look = () => {
      if (looking) {
        lookAgain = true;
        return;
      }
      looking = true;
      readResultOrFailure(dir, jobId, loadResultClass).then(
        (result) => {
          looking = false;
          if (result !== undefined) finish(() => resolve(result));
          else if (lookAgain) {
            lookAgain = false;
            look();
          }
        },
        (error: unknown) => finish(() => reject(error)),
      );
    };
    const poller = setInterval(look, POLL_INTERVAL_MS);
    cleanUps.push(() => clearInterval(poller));
    cleanUps.push(
      listenToClusterEvents(dir, (event) => {
        if (event.type === "jobFinished" && event.jobId === jobId) look();
      }),
    );
    if (options.timeoutMs !== undefined) {
      const timeoutMs = options.timeoutMs;
      const timer = setTimeout(() => {
        readJobState(dir, jobId).then(
          (state) => finish(() => reject(timedOut(jobId, timeoutMs, state))),
          (error: unknown) => finish(() => reject(error)),
        );
      }, timeoutMs);
      cleanUps.push(() => clearTimeout(timer));
    }
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = () => finish(() => reject(signal.reason));
      signal.addEventListener("abort", onAbort, { once: true });
      cleanUps.push(() => signal.removeEventListener("abort", onAbort));
      if (signal.aborted) onAbort();
    }
    look(); // a result that came while this was being set up
  });
}

function timedOut(jobId: string, timeoutMs: number, state: string | undefined): MalocherError {
  const now = state === undefined ? "was never queued" : `is ${state}`;
  return new MalocherError(
    "RESULT_WAIT_TIMED_OUT",
    `Job ${jobId} has no result after ${timeoutMs} ms: it ${now}. Jobs run while processAll() or \`malocher run\` runs (here or in another process); wait longer or start one.`,
  );
}

