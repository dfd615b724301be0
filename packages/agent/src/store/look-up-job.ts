import { access } from "node:fs/promises";
import { directoryLayout } from "@malocher/protocol";
import { readJobSpecBytes } from "./read-job-spec-bytes.js";

/** What a job run reads before it starts: whether a result exists, the spec's bytes, whether it was cancelled. */
export interface JobLookups {
  hasResult: boolean;
  /** The job's spec bytes (its record, for a chunk member), or why they could not be read. */
  specBytes: Buffer | Error;
  isCancelled: boolean;
  /** When the look-ups were made (`performance.now()`). */
  madeAt: number;
}

/**
 * The three look-ups of a job at once (one after another, they were most of a warm job's time
 * to start). Never rejects: an unreadable spec is returned as its error.
 */
export async function lookUpJob(dir: string, jobId: string): Promise<JobLookups> {
  const [hasResult, specBytes, isCancelled] = await Promise.all([
    exists(directoryLayout.resultFile(dir, jobId)),
    readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId).catch((error: Error) => error),
    exists(directoryLayout.cancelFile(dir, jobId)),
  ]);
  return { hasResult, specBytes, isCancelled, madeAt: performance.now() };
}

/**
 * `lookups` made earlier, with the job's cancel marker looked for again now (a cancel may have
 * come from any process since): started at once, so that it runs beside the claim.
 */
export async function withCancelLookedUpAgain(dir: string, jobId: string, lookups: Promise<JobLookups>): Promise<JobLookups> {
  const [earlier, isCancelled] = await Promise.all([lookups, exists(directoryLayout.cancelFile(dir, jobId))]);
  return { ...earlier, isCancelled };
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
