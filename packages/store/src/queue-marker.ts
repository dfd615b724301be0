import { readdir, rename, unlink } from "node:fs/promises";
import { createFile, makePrivateDir, readRegularText } from "./safe-file.js";
import { createEmptyMarker } from "./empty-marker.js";
import { directoryLayout, isJobId } from "@malocher/protocol";
import { tmpPath } from "./write-file-atomic.js";
import { noteInJobLog } from "./log-note.js";

/**
 * Queue markers: a job is queued while `queued/<shard>/<jobId>` exists, and waits for a retry's
 * backoff while `retrying/<jobId>` does. A marker's text is the number of the attempt it queues
 * (empty: the first), and for a retrying job also the time (ms since the epoch, on the clock of
 * the agent that deferred it) before which it is not run: `"<attempt> <notBefore>"`. A marker's
 * text is only ever replaced by renaming a fresh file over it, never written in place: first
 * markers are hard links to one empty file.
 */

/** A queue marker holds an attempt number and a time, if anything; anything larger is not one. */
export const MARKER_MAX_BYTES = 64;

/**
 * A job's first queue marker (empty: attempt 1), a hard link to this process's one empty marker
 * where the file system has links (see empty-marker.ts). Throws EEXIST when the job is queued
 * already.
 */
export function enqueueJob(dir: string, jobId: string): void {
  createEmptyMarker(dir, directoryLayout.queuedFile(dir, jobId));
}

/** A queue marker's text: the attempt it queues (an empty marker is attempt 1). */
export function parseAttempt(marker: string): number {
  const attempt = Number.parseInt(marker, 10);
  return Number.isSafeInteger(attempt) && attempt > 0 ? attempt : 1;
}

/** When a retrying job's marker lets it run again (0 when its text names no time: at once). */
export function parseNotBefore(marker: string): number {
  const notBefore = Number(marker.trim().split(/\s+/)[1]);
  return Number.isSafeInteger(notBefore) && notBefore > 0 ? notBefore : 0;
}

/**
 * Puts a claimed job back in the queue. Without `nextAttempt` the interrupted run does not count
 * (the holder stopped before the job finished); with it, the queue marker carries the number of
 * the next attempt. The claim is first taken away by a rename, so a claim that someone else
 * requeued meanwhile is never queued twice. Returns false when the claim was gone already.
 * `logNote`: a line for the job's stderr log, written once the claim is taken and before the job
 * is queued, so that it never lands in the log of a run elsewhere (see `noteInJobLog`).
 */
export async function requeueClaim(dir: string, agentId: string, jobId: string, nextAttempt?: number, logNote?: string): Promise<boolean> {
  const taken = await takeClaim(dir, agentId, jobId);
  if (taken === undefined) return false;
  if (logNote !== undefined) await noteInJobLog(dir, jobId, logNote);
  const marker = nextAttempt === undefined ? taken : await rewriteMarker(dir, taken, String(nextAttempt));
  await rename(marker, directoryLayout.queuedFile(dir, jobId));
  return true;
}

/**
 * Takes the claim of `agentId` on `jobId` away and leaves the job waiting in `retrying/` as
 * attempt `nextAttempt` until `notBefore`; from then on any agent may queue it again
 * ({@link queueDueRetries}). No agent holds the job meanwhile. Returns false when the claim was
 * gone already (someone else requeued it). `logNote`: as for {@link requeueClaim}.
 */
export async function deferRetry(dir: string, agentId: string, jobId: string, nextAttempt: number, notBefore: number, logNote?: string): Promise<boolean> {
  const taken = await takeClaim(dir, agentId, jobId);
  if (taken === undefined) return false;
  if (logNote !== undefined) await noteInJobLog(dir, jobId, logNote);
  const marker = await rewriteMarker(dir, taken, `${nextAttempt} ${notBefore}`);
  await rename(marker, directoryLayout.retryingFile(dir, jobId)).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
    // A directory made before retries waited in `retrying/`.
    await makePrivateDir(directoryLayout.retryingDir(dir));
    await rename(marker, directoryLayout.retryingFile(dir, jobId));
  });
  return true;
}

/** Renames an agent's claim into `tmp/`; its path there, or undefined when the claim was gone. */
async function takeClaim(dir: string, agentId: string, jobId: string): Promise<string | undefined> {
  const taken = tmpPath(dir);
  try {
    await rename(directoryLayout.runningFile(dir, agentId, jobId), taken);
    return taken;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * A fresh marker with `text` in place of the taken one, which may be a hard link shared with
 * the markers of other jobs (see `enqueueJob`): writing into it would change theirs too.
 */
async function rewriteMarker(dir: string, taken: string, text: string): Promise<string> {
  const marker = tmpPath(dir);
  await createFile(marker, text);
  await unlink(taken);
  return marker;
}

/**
 * The longest a retrying job waits, from any observer's clock: the longest backoff is 45 s (see
 * `backoffMs`), the pause after a result could not be written 5 s; the rest is room for a writer's
 * clock ahead of the observer's. A marker that says longer (planted, far in the future) is due.
 */
const MAX_RETRY_WAIT_MS = 10 * 60_000;

/** The jobs waiting for a retry's backoff, with the time each may run again. */
export async function listRetrying(dir: string): Promise<Map<string, number>> {
  const names = await readdir(directoryLayout.retryingDir(dir)).catch((): string[] => []);
  const retrying = new Map<string, number>();
  for (const jobId of names.filter(isJobId)) {
    const marker = await readRegularText(directoryLayout.retryingFile(dir, jobId), { maxBytes: MARKER_MAX_BYTES }).catch(() => undefined);
    if (marker !== undefined) retrying.set(jobId, parseNotBefore(marker));
  }
  return retrying;
}

/**
 * Moves every retrying job whose time has come (on this observer's clock) back into the queue,
 * its marker (and so its attempt number) unchanged; one rename each, so of several agents doing
 * this at once exactly one moves a job. Returns the ids it queued.
 */
export async function queueDueRetries(dir: string, now = Date.now()): Promise<string[]> {
  const queued: string[] = [];
  for (const [jobId, notBefore] of await listRetrying(dir)) {
    // A time further ahead than any backoff (and any clock's lead over this one) is none of ours: due now.
    if (notBefore > now && notBefore - now <= MAX_RETRY_WAIT_MS) continue;
    try {
      await rename(directoryLayout.retryingFile(dir, jobId), directoryLayout.queuedFile(dir, jobId));
      queued.push(jobId);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  return queued;
}
