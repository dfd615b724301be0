import { setImmediate as nextTurn } from "node:timers/promises";
import { MalocherError, chunkMemberOf, directoryLayout, type JobNameAndTags, type StoredResult } from "@malocher/protocol";
import { readJobNameAndTags, readRegularFileSync, readStoredResult } from "./store-access.js";

/**
 * Specs and results read synchronously, a slice at a time. A dashboard reads thousands of these
 * small files while a run goes on (the names and tags of jobs submitted one by one, the errors of
 * failures, every result on a directory alone). Through fs/promises each one is four trips to
 * libuv's thread pool (open, fstat, read, close): 150–220 µs of CPU per file on a 2-core machine,
 * against 10–20 µs read synchronously. SLICE_FILES of them (about a millisecond) hold the event
 * loop no longer than a few of the supervisor's messages; bigger files (a spec with large
 * arguments) and anything the sync read refuses go through the store's own (asynchronous) readers.
 * Only the reading is done here: the store's readers check and decode the bytes.
 */
const QUICK_MAX_BYTES = 256 * 1024;
/** Files read between two turns of the event loop. */
export const SLICE_FILES = 64;

/** Lets the event loop run (between two slices of reads). */
export function breathe(): Promise<void> {
  return nextTurn();
}

/** A job's name and tags from its spec ({} when it cannot be read), as `readJobNameAndTags` gives them. */
export async function readNameAndTags(dir: string, jobId: string): Promise<JobNameAndTags> {
  if (chunkMemberOf(jobId) !== undefined) return readJobNameAndTags(dir, jobId); // a member of a spec chunk: the store finds its record
  let bytes: Buffer;
  try {
    bytes = readRegularFileSync(directoryLayout.specFile(dir, jobId), { maxBytes: QUICK_MAX_BYTES });
  } catch (error) {
    if (error instanceof MalocherError && error.code === "SHARED_FILE_UNSAFE") return readJobNameAndTags(dir, jobId);
    return {};
  }
  return readJobNameAndTags(dir, jobId, bytes);
}

/** A job's stored result (undefined: it has none), as `readStoredResult` gives it; throws when it cannot be decoded. */
export async function readResultFile(dir: string, jobId: string): Promise<StoredResult | undefined> {
  let bytes: Buffer;
  try {
    bytes = readRegularFileSync(directoryLayout.resultFile(dir, jobId), { maxBytes: QUICK_MAX_BYTES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    if (error instanceof MalocherError && error.code === "SHARED_FILE_UNSAFE") return readStoredResult(dir, jobId);
    throw error;
  }
  return readStoredResult(dir, jobId, bytes);
}
