import type { RunEvent } from "./cluster/cluster.js";
import { RunTally, type ProgressReport, type RunOutcome } from "./run-tally.js";

/** At most this often (4 times a second), plus once at the end. */
const REPORT_INTERVAL_MS = 250;

/**
 * Feeds `processAll`'s `onProgress`: counts the run with a {@link RunTally} and reports at most
 * every {@link REPORT_INTERVAL_MS} (the latest state, after a change), and once more at the end.
 */
export class ProgressFeed {
  private readonly tally = new RunTally();
  private lastReportAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly onProgress: (progress: ProgressReport) => void) {}

  onEvent(event: RunEvent): void {
    this.tally.onEvent(event);
    this.changed();
  }

  /**
   * One result of the run, and the run's size now (jobs with a result so far plus those still to
   * come); `previous`: how the job ended before, when this result replaces that one (it was retried).
   */
  onResult(outcome: RunOutcome, total: number, previous?: RunOutcome): void {
    this.tally.onResult(outcome, previous);
    this.tally.setTotal(total);
    this.changed();
  }


  /** Reports the final state; nothing after. Idempotent. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.onProgress(this.tally.report());
  }

  private changed(): void {
    if (this.finished || this.timer !== undefined) return;
    const wait = this.lastReportAt + REPORT_INTERVAL_MS - Date.now();
    if (wait <= 0) this.report();
    else this.timer = setTimeout(() => this.report(), wait);
  }

  private report(): void {
    this.timer = undefined;
    this.lastReportAt = Date.now();
    this.onProgress(this.tally.report());
  }
}
