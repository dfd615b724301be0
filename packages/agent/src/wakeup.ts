/**
 * Wakes a sleeping loop. A trigger that arrives while nobody waits is kept for the next wait, so
 * no hint is lost between two checks; hints only ever shorten a wait.
 */
export class Wakeup {
  private resolveWaiter: (() => void) | undefined;
  private pending = false;

  /** Wakes the current waiter, or the next one. */
  trigger(): void {
    if (this.resolveWaiter === undefined) {
      this.pending = true;
      return;
    }
    const resolve = this.resolveWaiter;
    this.resolveWaiter = undefined;
    resolve();
  }

  /** Waits for a trigger, or at most `timeoutMs` (Infinity: for a trigger only). */
  wait(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer =
        timeoutMs === Infinity
          ? undefined
          : setTimeout(() => {
              this.resolveWaiter = undefined;
              resolve();
            }, timeoutMs);
      this.resolveWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
