import { stat } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";
import { listDependents } from "./store-access.js";

/** Listings kept (one per job page looked at recently). */
const KEPT_LISTINGS = 256;

/**
 * The jobs that depend on a job (the store's reverse index), sorted, for its page: read again only
 * when the index directory changed (its mtime), since a page refreshes about once a second in a
 * busy run and a fan-out's input has thousands of dependents.
 */
export class DependentsListing {
  private readonly kept = new Map<string, { mtimeMs: number; ids: string[] }>();

  constructor(private readonly dir: string) {}

  async of(jobId: string): Promise<string[]> {
    const mtimeMs = await stat(directoryLayout.dependentsOfDir(this.dir, jobId)).then(
      (stats) => stats.mtimeMs,
      () => undefined,
    );
    if (mtimeMs === undefined) return [];
    const known = this.kept.get(jobId);
    if (known?.mtimeMs === mtimeMs) return known.ids;
    const ids = (await listDependents(this.dir, jobId)).sort();
    this.kept.delete(jobId);
    this.kept.set(jobId, { mtimeMs, ids });
    if (this.kept.size > KEPT_LISTINGS) this.kept.delete(this.kept.keys().next().value!);
    return ids;
  }
}
