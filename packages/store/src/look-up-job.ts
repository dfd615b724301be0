import { pathExists } from "./path-exists.js";
import { decodeJobSpec, directoryLayout, type JobSpec } from "@malocher/protocol";
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
 * The three look-ups of a job at once (one after another, they were most of a warm job's time
 * to start). Never rejects: an unreadable spec is returned as its error. `chunks`: the caller's
 * cache of spec chunks (see {@link SpecChunkCache}).
 */
export async function lookUpJob(dir: string, jobId: string, chunks?: SpecChunkCache): Promise<JobLookups> {
  const [hasResult, specBytes, isCancelled] = await Promise.all([
    pathExists(directoryLayout.resultFile(dir, jobId)),
    readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId, chunks).catch((error: Error) => error),
    isCancelRequested(dir, jobId),
  ]);
  return { hasResult, spec: specBytes instanceof Error ? specBytes : decodeSpec(dir, jobId, specBytes), isCancelled, madeAt: performance.now() };
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
 * come from any process since): started at once, so that it runs beside the claim.
 */
export async function withCancelLookedUpAgain(dir: string, jobId: string, lookups: Promise<JobLookups>): Promise<JobLookups> {
  const [earlier, isCancelled] = await Promise.all([lookups, isCancelRequested(dir, jobId)]);
  return { ...earlier, isCancelled };
}

/** Whether someone asked to cancel job `jobId` (its cancel marker is there). */
export function isCancelRequested(dir: string, jobId: string): Promise<boolean> {
  return pathExists(directoryLayout.cancelFile(dir, jobId));
}
