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
  /** Jobs this agent never takes (they ask for what its node lacks). */
  private readonly excluded = new Set<string>();
  /** Jobs passed over until a time (they wait for slots another job is waiting for). */
  private readonly deferred = new Map<string, number>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** From now on, hand out only these jobs (a run restricted to some ids). */
  restrictTo(jobIds: readonly string[]): void {
    this.only = new Set(jobIds);
    this.invalidate();
  }

  /** Never hands out this job again. */
  exclude(jobId: string): void {
    this.excluded.add(jobId);
  }

  /** Does not hand out this job for `ms`. */
  defer(jobId: string, ms: number): void {
    this.deferred.set(jobId, Date.now() + ms);
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
    const now = Date.now();
    for (const [jobId, until] of this.deferred) if (until <= now) this.deferred.delete(jobId);
    const only = this.only;
    const takeable = (name: string) => isJobId(name) && (only === undefined || only.has(name)) && !this.excluded.has(name) && !this.deferred.has(name);
    // All shards at once: read one after another, they made up most of the time from a nudge to a claim.
    const shards = SHARDS.map((_, i) => SHARDS[(start + i) % SHARDS.length] as string);
    const perShard = await Promise.all(shards.map((shard) => readdir(directoryLayout.queuedShardDir(this.dir, shard)).catch((): string[] => [])));
    for (const names of perShard) ids.push(...names.filter(takeable).sort());
    return ids;
  }
}
