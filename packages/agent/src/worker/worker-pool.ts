import { WarmWorker } from "./warm-worker.js";

/**
 * A fixed number of warm workers, one per slot. A worker that died is replaced by a fresh one;
 * the slot is usable again once the new worker has started.
 */
export class WorkerPool {
  private readonly idle: WarmWorker[] = [];
  private readonly all = new Set<WarmWorker>();
  private closed = false;

  constructor(
    slots: number,
    private readonly stray: (chunk: Buffer) => void,
    private readonly onIdle: () => void,
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

  /** Gives a worker back after a job; a dead one is replaced. */
  release(worker: WarmWorker): void {
    if (this.closed) return;
    if (worker.dead) {
      this.all.delete(worker);
      this.startWorker();
      return;
    }
    this.idle.push(worker);
    this.onIdle();
  }

  /** Process group ids of all live workers. */
  get processGroups(): number[] {
    return [...this.all].flatMap((worker) => (worker.pid === undefined || worker.dead ? [] : [worker.pid]));
  }

  /** Kills every worker's process group. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    await Promise.all([...this.all].map((worker) => worker.kill()));
  }

  private startWorker(): void {
    const worker = new WarmWorker(this.stray);
    this.all.add(worker);
    worker.started().then(
      () => this.release(worker),
      (error: Error) => {
        this.stray(Buffer.from(`malocher agent: a worker failed to start: ${error.message}\n`));
        this.all.delete(worker);
        // Retry later rather than in a tight loop: a worker that cannot start now may later.
        if (!this.closed) setTimeout(() => !this.closed && this.startWorker(), 1000).unref();
      },
    );
  }
}
