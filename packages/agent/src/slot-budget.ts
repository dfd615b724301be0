/**
 * The agent's slots: a claimed job takes one, and a job that asked for more (`slots`) grows its
 * share before it starts. At most one job waits to grow at a time, and no job is claimed while
 * one waits, so a big job is not starved by small ones and two big jobs never hold part of what
 * each other needs.
 */
export class SlotBudget {
  private used = 0;
  private waiting: { extra: number; grant: (granted: boolean) => void } | undefined;

  constructor(readonly total: number) {}

  /** Slots a new claim may take now (none while a job waits to grow). */
  get free(): number {
    return this.waiting === undefined ? this.total - this.used : 0;
  }

  /** Whether a job waits to grow. */
  get growing(): boolean {
    return this.waiting !== undefined;
  }

  /** One slot for a job just claimed. */
  take(): void {
    this.used++;
  }

  /**
   * `extra` more slots for a job that holds one. Resolves true once they are its, false if the
   * wait was given up (`abandonWait`); returns undefined, without waiting, if another job waits.
   */
  grow(extra: number): Promise<boolean> | undefined {
    if (this.waiting !== undefined) return undefined;
    if (this.total - this.used >= extra) {
      this.used += extra;
      return Promise.resolve(true);
    }
    return new Promise((grant) => {
      this.waiting = { extra, grant };
    });
  }

  /** Gives back slots of a job that ended; a waiting job may now grow. */
  release(count: number): void {
    this.used -= count;
    const waiting = this.waiting;
    if (waiting !== undefined && this.total - this.used >= waiting.extra) {
      this.waiting = undefined;
      this.used += waiting.extra;
      waiting.grant(true);
    }
  }

  /** Ends the wait of a growing job with false (the agent is stopping). */
  abandonWait(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.grant(false);
  }
}
