import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SHARDS, isJobId, shardOf } from "@malocher/protocol";
import { breathe } from "./quick-reads.js";

/**
 * A directory change the watcher may not see on a coarse clock: a directory's mtime has a
 * granularity (1 s or 2 s on some network file systems), so two changes within one tick leave
 * one mtime. A directory changed this recently is listed again on every refresh.
 */
const MTIME_SETTLE_MS = 2500;

/**
 * A watch looks at its shards synchronously (an asynchronous `stat` or `readdir` costs several
 * times the CPU in trips to libuv's thread pool, see quick-reads.ts), and lets the event loop run
 * whenever this long went by (a slow network file system, a big shard).
 */
const SLICE_MS = 2;

/**
 * The job ids in the shard directories of one sharded directory (`results/`, `queued/`, …),
 * re-listed only for the shards whose mtime changed: a refresh of 100,000 finished jobs is then
 * 16 `stat`s, not 100,000 names. Only names; what they mean is the store's business.
 */
export class ShardWatch {
  private readonly mtimes = new Map<string, number>();
  private readonly ids = new Map<string, Set<string>>();

  /** `idOf` names the job of a directory entry (undefined: not a job's); default: entries named by job id. */
  constructor(
    private readonly root: string,
    private readonly idOf: (name: string) => string | undefined = (name) => (isJobId(name) ? name : undefined),
  ) {}

  /** Re-lists the shards that changed; returns the ids that appeared and went away since the last call (each id once per shard). */
  async refresh(): Promise<{ added: string[]; removed: string[] }> {
    const added: string[] = [];
    const removed: string[] = [];
    const now = Date.now();
    let sliceStart = performance.now();
    for (const shard of SHARDS) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await breathe();
        sliceStart = performance.now();
      }
      const path = join(this.root, shard);
      const mtime = mtimeOf(path);
      const known = this.mtimes.get(shard);
      if (known === mtime && now - mtime > MTIME_SETTLE_MS) continue;
      this.mtimes.set(shard, mtime);
      const names = mtime < 0 ? [] : namesIn(path);
      const next = new Set<string>();
      for (const name of names) {
        const id = this.idOf(name);
        if (id !== undefined) next.add(id);
      }
      const before = this.ids.get(shard) ?? new Set<string>();
      for (const id of next) if (!before.has(id)) added.push(id);
      for (const id of before) if (!next.has(id)) removed.push(id);
      this.ids.set(shard, next);
    }
    return { added, removed };
  }

  /** Whether any shard changed since the last refresh, without listing (for directories listed by someone else). */
  async changed(): Promise<boolean> {
    const now = Date.now();
    let changed = false;
    let sliceStart = performance.now();
    for (const shard of SHARDS) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await breathe();
        sliceStart = performance.now();
      }
      const mtime = mtimeOf(join(this.root, shard));
      const known = this.mtimes.get(shard);
      this.mtimes.set(shard, mtime);
      if (known !== mtime || now - mtime <= MTIME_SETTLE_MS) changed = true;
    }
    return changed;
  }

  /** How many ids the last listings found. */
  get size(): number {
    let size = 0;
    for (const ids of this.ids.values()) size += ids.size;
    return size;
  }

  has(jobId: string): boolean {
    return this.ids.get(shardOf(jobId))?.has(jobId) ?? false;
  }
}

/** A directory's mtime (ms), or -1 when it cannot be looked at. */
function mtimeOf(path: string): number {
  try {
    return statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  } catch {
    return -1;
  }
}

function namesIn(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
