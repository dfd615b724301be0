/**
 * Notices jobs that Slurm allocations keep cutting short. A job still running when its
 * allocation ends goes back to the queue as the same attempt (the time limit is no failure of
 * the job), so one that needs longer than an allocation lasts starts again and again, each time in
 * a new allocation, and never ends. A job without a `timeoutMs` is claimed in whatever time is
 * left: this watch warns once such a job started the same attempt {@link STARTS_BEFORE_WARNING} times.
 */

/** Starts of one attempt after which a job is said to be cut short by its allocations. */
const STARTS_BEFORE_WARNING = 3;
/** Jobs warned about one by one; after them, nothing more (the advice is the same). */
const MAX_WARNINGS = 5;

export class AllocationEndWatch {
  /** The jobs started and not finished: their attempt, and how often it started. */
  private readonly unfinished = new Map<string, { attempt: number; starts: number }>();
  private warnings = 0;

  constructor(
    private readonly time: string,
    private readonly warn: (warning: string) => void,
  ) {}

  /** A job's attempt started on a node of the run. */
  started(jobId: string, attempt: number): void {
    if (this.warnings >= MAX_WARNINGS) return;
    const seen = this.unfinished.get(jobId);
    const starts = seen?.attempt === attempt ? seen.starts + 1 : 1;
    this.unfinished.set(jobId, { attempt, starts });
    if (starts !== STARTS_BEFORE_WARNING) return;
    this.warnings++;
    this.warn(
      `job ${jobId} started ${starts} times, and each time its Slurm allocation ended first (time ${this.time}): it goes back to the queue and starts again, without end. ` +
        `Ask for a longer time (slurm.time, --slurm-time), or give it a timeoutMs that fits in one allocation (--timeout), so that it is claimed only when it can finish${
          this.warnings === MAX_WARNINGS ? ". (No more warnings of this kind in this run.)" : "."
        }`,
    );
  }

  /** A job ended (or its attempt failed and waits for a retry): its starts are of no more concern. */
  finished(jobId: string): void {
    this.unfinished.delete(jobId);
  }
}
