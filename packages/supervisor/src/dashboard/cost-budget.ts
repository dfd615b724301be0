/**
 * Spaces out a repeated piece of work so that it takes at most a share of one core: after a run
 * that took `ms`, the next one is due `ms / share` later (never sooner than `minGapMs`). The
 * dashboard's listings and sums grow with the directory (100,000 results are ~30 ms to list);
 * this keeps what it costs the supervisor flat however big the directory gets, and lets small
 * directories refresh every time.
 */
export class CostBudget {
  private dueAt = 0;

  constructor(
    private readonly share: number,
    private readonly minGapMs = 0,
    /** Never longer than this between two runs (wall time counts waits too, so a loaded machine overstates the cost). */
    private readonly maxGapMs = 4000,
  ) {}

  /** Milliseconds until the work is due (0: now). */
  wait(now = performance.now()): number {
    return Math.max(0, this.dueAt - now);
  }

  /** Whether the work may run now. */
  due(now = performance.now()): boolean {
    return now >= this.dueAt;
  }

  /** Runs `work` and books its time. */
  async spend<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.book(started);
    }
  }

  /** Books work that started at `started` (`performance.now()`) and ended now. */
  book(started: number): void {
    const ended = performance.now();
    this.dueAt = ended + Math.min(this.maxGapMs, Math.max(this.minGapMs, (ended - started) / this.share));
  }
}
