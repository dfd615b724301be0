/** The lines Malocher writes into a job's log itself: where a run's output was cut, where a new run's output begins. */
import type { RetryReason } from "./retry-reason.js";

/** How the note starts that stands where an attempt's log was cut (readers following a log look for it). */
export const CUT_NOTE_PREFIX = "[... ";

/** The line that starts an attempt's log once it was cut to its tail. */
export function cutNote(cutBytes: number, maxBytes: number): string {
  return `${CUT_NOTE_PREFIX}${cutBytes} bytes cut: the job wrote more than maxLogBytes (${maxBytes}); the last ${maxBytes} bytes follow ...]\n`;
}

/**
 * The line written into a job's stderr log when an attempt ended without a result and the job
 * runs again (`next`: the attempt that follows, the same one after a result that could not be written).
 */
export function retryNote(attempt: number, host: string, reason: RetryReason, next: number, delayMs: number): string {
  const after = next === attempt ? "it runs again" : `attempt ${next} follows`;
  // Its message is a sentence of its own: "…killed by SIGKILL.; attempt 2 follows" read badly.
  return `--- malocher: attempt ${attempt} failed on ${host}: [${reason.code}] ${reason.message.replace(/\.$/, "")}; ${after} in ${(delayMs / 1000).toFixed(1)} s ---\n`;
}

/**
 * The line written into a job's stderr log when its run was interrupted through no fault of its
 * own, as its agent stopped (`why`: the agent's reason, e.g. its Slurm allocation ends), and it
 * went back to the queue.
 */
export function interruptNote(attempt: number, host: string, why: string): string {
  return `--- malocher: attempt ${attempt} on ${host} was interrupted, as its agent stopped: ${why}. It went back to the queue; its next run is attempt ${attempt} again ---\n`;
}

/**
 * The line written into a job's log before a run's output when the log holds output of earlier
 * runs of the job (an attempt that failed and is retried, or one interrupted and run again as the
 * same attempt): which attempt this run is, where and when it began.
 */
export function rerunNote(attempt: number, host: string, beganAt: Date): string {
  return `--- malocher: a run of attempt ${attempt} began on ${host} at ${beganAt.toISOString()}; the output above is from earlier runs ---\n`;
}

/**
 * The line written into a job's logs when it is retried (`malocher retry`, a keyed job's script
 * run again), below the output of its earlier runs: a rerun that writes nothing leaves it last.
 */
export function retriedNote(at: Date): string {
  return `--- malocher: the job was retried at ${at.toISOString()}; the output above is from earlier runs ---\n`;
}
