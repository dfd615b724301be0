import { existsSync } from "node:fs";
import { lstat, rename } from "node:fs/promises";
import { MalocherError, decodeJobSpec, directoryLayout, type JobSpec } from "@malocher/protocol";
import { readStoredResult } from "./read-result.js";
import { isOwnFile } from "./safe-file.js";
import { loadDirectoryKey } from "./directory-key.js";
import { readJobSpecBytes } from "./read-job-spec-bytes.js";
import type { SpecChunkCache } from "./spec-chunk-cache.js";

/** What a job run reads before it starts: whether a result exists, the spec, whether it was cancelled. */
export interface JobLookups {
  hasResult: boolean;
  /**
   * The job's spec bytes (its record, for a chunk member) and the spec they verify and decode to
   * with the directory's key, or why they could not be read or were refused.
   */
  spec: { bytes: Buffer; decoded: JobSpec } | Error;
  isCancelled: boolean;
  /** When the look-ups were made (`performance.now()`). */
  madeAt: number;
}

/**
 * The three look-ups of a job. Never rejects: an unreadable spec is returned as its error.
 * `chunks`: the caller's cache of spec chunks (see {@link SpecChunkCache}). The existence checks
 * are synchronous (see `claimJob`); only reading a result that is there, or a chunk the first
 * time, goes through the thread pool.
 */
export async function lookUpJob(dir: string, jobId: string, chunks?: SpecChunkCache): Promise<JobLookups> {
  const isCancelled = isCancelRequested(dir, jobId);
  const [hasResult, specBytes] = await Promise.all([
    hasValidResult(dir, jobId),
    readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId, chunks).catch((error: Error) => error),
  ]);
  return { hasResult, spec: specBytes instanceof Error ? specBytes : decodeSpec(dir, jobId, specBytes), isCancelled, madeAt: performance.now() };
}

/**
 * Whether a queued job has a result already (then it is not run). A file at its result path that
 * is not a result of this directory (planted junk, a FIFO, a set-aside result put back: a replay)
 * is set aside into `retried/` as `<jobId>.<ms>.rejected` and the job runs: it is never hidden.
 * A result that merely cannot be read now (an I/O error) counts as one.
 */
async function hasValidResult(dir: string, jobId: string): Promise<boolean> {
  const path = directoryLayout.resultFile(dir, jobId);
  if (!existsSync(path)) return false;
  try {
    await readStoredResult(dir, jobId);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    // Any other error (an I/O error, an expired NFS credential) is taken for a result, not to run
    // the job again, unless the file is another account's (planted: we may not read its 0600 file).
    if (!(error instanceof MalocherError) && (await lstat(path).then(isOwnFile, () => true))) return true;
  }
  const aside = `${directoryLayout.retriedResultFile(dir, jobId, Date.now())}.rejected`;
  await rename(path, aside).catch(() => {});
  return false;
}

function decodeSpec(dir: string, jobId: string, bytes: Buffer): { bytes: Buffer; decoded: JobSpec } | Error {
  try {
    return { bytes, decoded: decodeJobSpec(bytes, jobId, loadDirectoryKey(dir, { create: false })) };
  } catch (error) {
    return error as Error;
  }
}

/**
 * `lookups` made earlier, with the job's cancel marker looked for again now (a cancel may have
 * come from any process since).
 */
export async function withCancelLookedUpAgain(dir: string, jobId: string, lookups: Promise<JobLookups>): Promise<JobLookups> {
  const isCancelled = isCancelRequested(dir, jobId);
  return { ...(await lookups), isCancelled };
}

/** Whether someone asked to cancel job `jobId` (its cancel marker is there); synchronous, see `claimJob`. */
export function isCancelRequested(dir: string, jobId: string): boolean {
  return existsSync(directoryLayout.cancelFile(dir, jobId));
}
