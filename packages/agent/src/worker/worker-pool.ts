import { WarmWorker } from "./warm-worker.js";
import { say } from "../say.js";

/**
 * A fixed number of warm workers, one per slot. A worker that died is replaced by a fresh one;
 * the slot is usable again once the new worker has started.
 */
export class WorkerPool {
  private readonly idle: WarmWorker[] = [];
  private readonly all = new Set<WarmWorker>();
  /** Workers whose process said `ready`: only these are given jobs. */
  private readonly ready = new Set<WarmWorker>();
  private closed = false;
  private warmed = false;

  constructor(
    private readonly slots: number,
    private readonly heapLimitMb: number,
    private readonly lineUpWindowMs: number,
    private readonly stray: (chunk: Buffer) => void,
    private readonly onIdle: () => void,
    private readonly onWorkerStarted: () => void,
    private readonly onWarm: () => void,
  ) {
    for (let i = 0; i < slots; i++) this.startWorker();
  }

  /** How many workers wait for a job. */
  get idleCount(): number {
    return this.idle.length;
  }

  /** Takes an idle worker, if there is one. */
  acquire(): WarmWorker | undefined {
    return this.idle.pop();
  }

  /**
   * The busy worker to line a job up on, just in time: one whose job is due to end within `leadMs`
   * (it runs as long as its last one did), that can take a lined-up job (see `WarmWorker.canLineUp`),
   * is not in `taken` and has run fewer than `maxJobs`. Otherwise, when the next one will be due
   * (`performance.now()` time; undefined if none will).
   */
  lineUpTarget(maxJobs: number, leadMs: number, taken: ReadonlySet<WarmWorker>): { worker: WarmWorker } | { dueAt: number | undefined } {
    const now = performance.now();
    let target: { worker: WarmWorker; dueAt: number } | undefined;
    let nextDueAt: number | undefined;
    for (const worker of this.ready) {
      if (!worker.canLineUp || taken.has(worker) || worker.jobsRun >= maxJobs || worker.lastRunMs === undefined) continue;
      const dueAt = worker.runningSince + worker.lastRunMs - leadMs;
      if (dueAt > now) nextDueAt = Math.min(dueAt, nextDueAt ?? dueAt);
      else if (target === undefined || dueAt < target.dueAt) target = { worker, dueAt };
    }
    return target ?? { dueAt: nextDueAt };
  }

  /** Gives a worker back after a job; one that takes no more jobs is ended (and replaced on exit). */
  release(worker: WarmWorker): void {
    if (worker.dead) {
      void worker.retire();
      return;
    }
    if (this.closed) return;
    this.idle.push(worker);
    this.onIdle();
  }

  /** Ends a worker that should not take more jobs (too many run, too much memory, outdated code). */
  retire(worker: WarmWorker): void {
    void worker.retire(); // its exit starts the replacement
  }

  /** A worker died (during a job, or idle: a stray error ended it): start its replacement. */
  private onWorkerExit(worker: WarmWorker): void {
    const idleAt = this.idle.indexOf(worker);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    if (!this.ready.has(worker)) return; // a failed start is retried after a pause
    this.ready.delete(worker);
    this.all.delete(worker);
    if (!this.closed) this.startWorker();
  }

  /** Process group ids of the live workers (each worker leads its own group). */
  get processGroups(): number[] {
    return [...this.all].flatMap((worker) => (worker.dead || worker.pid === undefined ? [] : [worker.pid]));
  }

  /** Kills every worker's process group. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    await Promise.all([...this.all].map((worker) => worker.kill()));
  }

  private startWorker(): void {
    // The lowest slot number no live worker has: a replacement takes the number of the worker it replaces.
    const taken = new Set([...this.all].map((worker) => worker.slotNumber));
    let slotNumber = 1;
    while (taken.has(slotNumber)) slotNumber++;
    const worker: WarmWorker = new WarmWorker(this.stray, () => this.onWorkerExit(worker), this.heapLimitMb, this.lineUpWindowMs, slotNumber);
    this.all.add(worker);
    worker.whenReady().then(
      () => {
        this.ready.add(worker);
        this.onWorkerStarted();
        this.release(worker);
        if (!this.warmed && this.ready.size === this.slots) {
          this.warmed = true;
          this.onWarm();
        }
      },
      (error: Error) => {
        say(`a worker failed to start: ${error.message}`);
        if (!this.warmed) {
          this.warmed = true; // as warm as it will get: do not keep anyone waiting
          this.onWarm();
        }
        this.all.delete(worker);
        if (!this.closed) setTimeout(() => !this.closed && this.startWorker(), 1000).unref();
      },
    );
  }
}
