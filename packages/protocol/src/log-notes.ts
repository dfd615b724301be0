/** The lines Malocher writes into a job's log itself: where a run's output was cut, where a new run's output begins. */

/** How the note starts that stands where an attempt's log was cut (readers following a log look for it). */
export const CUT_NOTE_PREFIX = "[... ";

/** The line that starts an attempt's log once it was cut to its tail. */
export function cutNote(cutBytes: number, maxBytes: number): string {
  return `${CUT_NOTE_PREFIX}${cutBytes} bytes cut: the job wrote more than maxLogBytes (${maxBytes}); the last ${maxBytes} bytes follow ...]\n`;
}

/**
 * Why an attempt ended without a result, as the run and the job's log tell it (see
 * {@link retryNote} and the `jobRetrying` message): the failure's code and the first line of its
 * message, at most {@link MAX_RETRY_REASON_CHARS} characters.
 */
export interface RetryReason {
  code: string;
  message: string;
}

/** The longest message a {@link RetryReason} keeps. */
export const MAX_RETRY_REASON_CHARS = 500;

/** The reason for a failure with `code` and `message`: its first line, cut to {@link MAX_RETRY_REASON_CHARS}. */
export function retryReason(code: string, message: string): RetryReason {
  const line = message.split("\n")[0]!;
  return { code, message: line.length > MAX_RETRY_REASON_CHARS ? `${line.slice(0, MAX_RETRY_REASON_CHARS - 1)}…` : line };
}

/**
 * The line written into a job's stderr log when an attempt ended without a result and the job
 * runs again (`next`: the attempt that follows, the same one after a result that could not be written).
 */
export function retryNote(attempt: number, host: string, reason: RetryReason, next: number, delayMs: number): string {
  const after = next === attempt ? "it runs again" : `attempt ${next} follows`;
  return `--- malocher: attempt ${attempt} failed on ${host}: [${reason.code}] ${reason.message}; ${after} in ${(delayMs / 1000).toFixed(1)} s ---\n`;
}

/**
 * The line written into a job's stderr log when its run was interrupted through no fault of its
 * own (`why`: its agent stopped, or Slurm ended the allocation) and it goes back to the queue.
 */
export function interruptNote(attempt: number, host: string, why: string): string {
  return `--- malocher: attempt ${attempt} on ${host} was interrupted; it runs again as attempt ${attempt}. Why: ${why} ---\n`;
}

/**
 * The line written into a job's log before a run's output when the log holds output of earlier
 * runs of the job (an attempt that failed and is retried, or one interrupted and run again as the
 * same attempt): which attempt this run is, where and when it began.
 */
export function rerunNote(attempt: number, host: string, beganAt: Date): string {
  return `--- malocher: a run of attempt ${attempt} began on ${host} at ${beganAt.toISOString()}; the output above is from earlier runs ---\n`;
}
