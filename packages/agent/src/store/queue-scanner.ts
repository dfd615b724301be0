import { readdir } from "node:fs/promises";
import { SHARDS, directoryLayout, isJobId } from "@malocher/protocol";

/**
 * Keeps one scan of the queue and hands out its ids, so that claims do not re-read the queue
 * directory each time. Every scan starts at a random shard so that agents spread over the queue
 * instead of all racing for the same oldest jobs.
 */
export class QueueScanner {
  private cached: string[] = [];
  private readonly dir: string;
  private only: ReadonlySet<string> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** From now on, hand out only these jobs (a run restricted to some ids). */
  restrictTo(jobIds: readonly string[]): void {
    this.only = new Set(jobIds);
    this.invalidate();
  }

  /** Forgets the cached scan; the next `take` reads the queue again. */
  invalidate(): void {
    this.cached = [];
  }

  /** Up to `count` candidate ids, rescanning when the cached scan ran dry. */
  async take(count: number): Promise<string[]> {
    if (this.cached.length === 0) this.cached = await this.scan();
    return this.cached.splice(0, count);
  }

  private async scan(): Promise<string[]> {
    const start = Math.floor(Math.random() * SHARDS.length);
    const ids: string[] = [];
    for (let i = 0; i < SHARDS.length; i++) {
      const shard = SHARDS[(start + i) % SHARDS.length] as string;
      const names = await readdir(directoryLayout.queuedShardDir(this.dir, shard)).catch(() => []);
      const only = this.only;
      ids.push(...names.filter((name) => isJobId(name) && (only === undefined || only.has(name))).sort());
    }
    return ids;
  }
}
