import { enqueueJob, listRetrying } from "./queue-marker.js";
import { cancelled, outcomeWithoutRun, type StoredResult } from "@malocher/protocol";
import { publishResult } from "./publish-result.js";
import { listCancelledIds, listClaims, listFinishedIds, listJobIds, listQueuedIds } from "./job-listing.js";
import { armWaitingJobSync, failWaitingJob, listWaitingIds } from "./wait-for-dependencies.js";
import { DependencyStates, readJobDependencies } from "./dependency-state.js";

/**
 * Finds jobs that are nowhere: a spec without a result, a claim or a queue marker. A process that
 * died between two steps of a transition leaves them (a submitter between spec and marker, an
 * agent or canceller between taking a marker and putting it back or publishing). A job that stays
 * nowhere for `graceMs` on this observer's clock is queued again (one with dependencies waits for
 * them again: `armWaitingJobSync`), or, if it was cancelled, gets its `JOB_CANCELLED` result.
 */
export class OrphanedJobs {
  private readonly seen = new Map<string, number>();

  constructor(private readonly graceMs: number) {}

  /** One sweep; returns the ids put back in the queue. */
  async recover(dir: string): Promise<string[]> {
    const [ids, finished, queued, retrying, claims, cancelled, waiting] = await Promise.all([
      listJobIds(dir),
      listFinishedIds(dir),
      listQueuedIds(dir),
      listRetrying(dir),
      listClaims(dir),
      listCancelledIds(dir),
      listWaitingIds(dir),
    ]);
    const claimed = new Set([...claims.values()].flat());
    const now = Date.now();
    const nowhere = new Set(ids.filter((jobId) => !finished.has(jobId) && !queued.has(jobId) && !retrying.has(jobId) && !claimed.has(jobId) && !waiting.has(jobId)));
    for (const jobId of this.seen.keys()) if (!nowhere.has(jobId)) this.seen.delete(jobId);
    const requeued: string[] = [];
    for (const jobId of nowhere) {
      const since = this.seen.get(jobId);
      if (since === undefined) {
        this.seen.set(jobId, now);
        continue;
      }
      if (now - since < this.graceMs) continue;
      this.seen.delete(jobId);
      if (cancelled.has(jobId)) {
        await publishResult(dir, cancelledResult(jobId));
        continue;
      }
      const after = (await readJobDependencies(dir, jobId)) ?? [];
      if (after.length > 0) {
        const armed = armWaitingJobSync(dir, jobId, after, new DependencyStates(dir));
        if (armed.state === "queued") requeued.push(jobId);
        else if (armed.state === "blocked") await failWaitingJob(dir, jobId, armed.depId, armed.error);
        continue;
      }
      try {
        enqueueJob(dir, jobId);
        requeued.push(jobId);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
    return requeued;
  }
}

function cancelledResult(jobId: string): StoredResult {
  return outcomeWithoutRun(jobId, 0, cancelled("before it ran"));
}
