import { readFile } from "node:fs/promises";
import { listJobIds } from "./job-listing.js";
import { loadDirectoryKey } from "./directory-key.js";
import {
  decodeStoredResult,
  directoryLayout,
  toJobResult,
  unreadableResult,
  type JobResult,
  type LoadClass,
  type StoredResult,
} from "@malocher/protocol";

/**
 * A job's stored result, or undefined while it has none. `fileBytes`: the result file's bytes
 * when they are known already (its agent sent them); they are checked like the file's.
 */
export async function readStoredResult(dir: string, jobId: string, fileBytes?: Uint8Array): Promise<StoredResult | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = fileBytes ?? (await readFile(directoryLayout.resultFile(dir, jobId)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return decodeStoredResult(bytes, jobId, loadDirectoryKey(dir, { create: false }));
}

/**
 * A job's result with its value decoded, or undefined while it has none. Class instances in it
 * get their classes from `load`, or placeholders without it (see `toJobResult`).
 */
export async function readResult(dir: string, jobId: string, load?: LoadClass, fileBytes?: Uint8Array): Promise<JobResult | undefined> {
  const stored = await readStoredResult(dir, jobId, fileBytes);
  return stored === undefined ? undefined : toJobResult(stored, load);
}

/** A job's result (from `fileBytes`, when known); one that cannot be read is that job's `RESULT_UNREADABLE` failure. */
export async function readResultOrFailure(dir: string, jobId: string, load?: LoadClass, fileBytes?: Uint8Array): Promise<JobResult | undefined> {
  try {
    return await readResult(dir, jobId, load, fileBytes);
  } catch (error) {
    return unreadableResult(jobId, error);
  }
}

/** Every finished job's `[jobId, result]`, oldest job first. */
export async function* readAllResults(dir: string, load?: LoadClass): AsyncGenerator<[string, JobResult]> {
  for (const jobId of await listJobIds(dir)) {
    const result = await readResultOrFailure(dir, jobId, load);
    if (result !== undefined) yield [jobId, result];
  }
}
