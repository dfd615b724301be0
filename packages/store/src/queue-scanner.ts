import { readdir } from "node:fs/promises";
import { SHARDS, directoryLayout, isJobId } from "@malocher/protocol";
import { queueDueRetries } from "./queue-marker.js";

/** After a missed claim, a cached scan older than this many times its own reading is read again. */
const OUTDATED_AFTER_SCANS = 10;
/**
 * A scan of more jobs than this starts at a random one of its first SPREAD_WITHIN jobs (the ones
 * before it go to its end): agents that read the same deep queue then claim from different places
 * of it instead of racing for its oldest jobs. Needed for a batch: a chunk's members all live in
 * one shard, so starting at a random shard spreads nothing. Measured with 4 agents taking 2,000
 * members of two chunks 2 at a time: 2,719 missed claims and 305 scans before, 89 and 33 after
 * (one-by-one jobs: 550 and 75 before, 88 and 35 after). A smaller queue keeps its order.
 */
const SPREAD_FROM = 32;
const SPREAD_WITHIN = 256;

/**
 * Keeps one scan of the queue and hands out its ids, so that claims do not re-read the queue
 * directory each time. Each scan first queues the retrying jobs whose backoff is over. Every scan starts at a random shard so that agents spread over the queue
 * instead of all racing for the same oldest jobs, and a deep scan at a random one of its oldest
 * jobs (see SPREAD_WITHIN).
 */
export class QueueScanner {
  private cached: string[] = [];
  private readonly dir: string;
  private only: ReadonlySet<string> | undefined;
  /** Jobs this agent never takes (they ask for what its node lacks). */
  private readonly excluded = new Set<string>();
  /** Jobs passed over until a time (they wait for slots another job is waiting for). */
  private readonly deferred = new Map<string, number>();
  /** When the cached scan was read, and how long reading it took. */
  private scannedAt = 0;
  private scanMs = 0;

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

  /**
   * Hands out these jobs first, before the cached scan (whether they are still queued is found at
   * their claim): jobs a nudge named, claimed without reading the queue.
   */
  putFirst(jobIds: readonly string[]): void {
    const now = Date.now();
    this.cached = [...jobIds.filter((jobId) => this.takeable(jobId, now)), ...this.cached.filter((jobId) => !jobIds.includes(jobId))];
  }

  /** One id of the cached scan, if it has one (never reads the queue). */
  takeCached(): string | undefined {
    return this.cached.shift();
  }

  /** Forgets the cached scan; the next `take` reads the queue again. */
  invalidate(): void {
    this.cached = [];
  }

  /**
   * A job handed out was gone when claimed: other agents have been taking from the same queue.
   * The rest of the cached scan is then likely outdated too, and claiming through it costs a failed
   * rename per job taken elsewhere (measured: about three per job won, with four agents sharing a
   * queue). So the queue is read again, unless the cached scan is young compared with what a scan
   * costs: rescans stay within a tenth of the agent's time however long the queue is.
   */
  missed(): void {
    if (performance.now() - this.scannedAt > OUTDATED_AFTER_SCANS * this.scanMs) this.invalidate();
  }

  /** Up to `count` candidate ids, rescanning when the cached scan ran dry. */
  async take(count: number): Promise<string[]> {
    if (count === 0) return [];
    if (this.cached.length === 0) {
      const started = performance.now();
      this.cached = await this.scan();
      this.scannedAt = performance.now();
      this.scanMs = this.scannedAt - started;
    }
    return this.cached.splice(0, count);
  }

  private async scan(): Promise<string[]> {
    const start = Math.floor(Math.random() * SHARDS.length);
    const ids: string[] = [];
    const now = Date.now();
    // Retries whose backoff is over join the queue first: any agent that reads the queue moves them.
    await queueDueRetries(this.dir, now);
    for (const [jobId, until] of this.deferred) if (until <= now) this.deferred.delete(jobId);
    const takeable = (name: string) => this.takeable(name, now);
    // All shards at once: read one after another, they made up most of the time from a nudge to a claim.
    const shards = SHARDS.map((_, i) => SHARDS[(start + i) % SHARDS.length] as string);
    const perShard = await Promise.all(shards.map((shard) => readdir(directoryLayout.queuedShardDir(this.dir, shard)).catch((): string[] => [])));
    for (const names of perShard) ids.push(...names.filter(takeable).sort());
    if (ids.length <= SPREAD_FROM) return ids;
    const from = Math.floor(Math.random() * Math.min(ids.length, SPREAD_WITHIN));
    return [...ids.slice(from), ...ids.slice(0, from)];
  }

  /** Whether this agent takes the queued job `name` at `now`. */
  private takeable(name: string, now: number): boolean {
    return isJobId(name) && (this.only === undefined || this.only.has(name)) && !this.excluded.has(name) && !((this.deferred.get(name) ?? 0) > now);
  }
}
