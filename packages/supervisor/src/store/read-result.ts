import { readFile } from "node:fs/promises";
import { listJobIds } from "./job-listing.js";
import { decodeStoredResult, directoryLayout, toJobResult, type JobResult, type StoredResult } from "@malocher/protocol";

/** A job's stored result, or undefined while it has none. */
export async function readStoredResult(dir: string, jobId: string): Promise<StoredResult | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(directoryLayout.resultFile(dir, jobId));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return decodeStoredResult(bytes, jobId);
}

/** A job's result with its value decoded, or undefined while it has none. */
export async function readResult(dir: string, jobId: string): Promise<JobResult | undefined> {
  const stored = await readStoredResult(dir, jobId);
  return stored === undefined ? undefined : toJobResult(stored);
}

/** Every finished job's `[jobId, result]`, oldest job first. */
export async function* readAllResults(dir: string): AsyncGenerator<[string, JobResult]> {
  for (const jobId of await listJobIds(dir)) {
    const result = await readResult(dir, jobId);
    if (result !== undefined) yield [jobId, result];
  }
}
