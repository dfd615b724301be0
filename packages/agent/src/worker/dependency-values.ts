import {
  collectResultRefs,
  decodeStoredResult,
  decodeValueWithClasses,
  dependencyFailed,
  directoryLayout,
  failure,
  MalocherError,
  replaceResultRefs,
  type JobEnding,
  type StoredResult,
} from "@malocher/protocol";
import { loadDirectoryKey, readRegularFile } from "@malocher/store";
import { importClass } from "@malocher/locate";

/**
 * A job's dependencies as its worker sees them, just before the job runs: every job it depends
 * on must have succeeded (its result read and verified with the directory's key), and each
 * `resultOf(id)` in its arguments is replaced by a fresh decoding of that job's value, with its
 * classes. Results that succeeded never change, so a worker keeps the verified ones it read
 * (up to {@link CACHED_VALUE_BYTES} of values): a fan-out of many jobs over one input reads it once per worker.
 */
const CACHED_VALUE_BYTES = 256 * 1024 * 1024;
const verified = new Map<string, StoredResult & { ok: true }>();
let cachedBytes = 0;

type Succeeded = StoredResult & { ok: true };

/** Job `depId`'s succeeded result, or the failure of a job that depends on it. */
async function readSucceeded(dir: string, depId: string): Promise<{ stored: Succeeded } | { failed: JobEnding }> {
  const known = verified.get(depId);
  if (known !== undefined) return { stored: known };
  let stored: StoredResult;
  try {
    stored = decodeStoredResult(await readRegularFile(directoryLayout.resultFile(dir, depId)), depId, loadDirectoryKey(dir, { create: false }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { failed: failure("DEPENDENCY_FAILED", `The job was not run: job ${depId}, which it depends on, has no result (it was set aside or cleaned after this job was queued).`) };
    }
    return { failed: dependencyFailed(depId, { code: error instanceof MalocherError ? error.code : "RESULT_UNREADABLE", message: (error as Error).message }) };
  }
  if (!stored.ok) return { failed: dependencyFailed(depId, stored.error) };
  if (stored.value.byteLength <= CACHED_VALUE_BYTES) {
    while (cachedBytes + stored.value.byteLength > CACHED_VALUE_BYTES && verified.size > 0) {
      const [oldest, entry] = verified.entries().next().value as [string, StoredResult & { ok: true }];
      verified.delete(oldest);
      cachedBytes -= entry.value.byteLength;
    }
    verified.set(depId, stored);
    cachedBytes += stored.value.byteLength;
  }
  return { stored };
}

/**
 * Checks that every job of `after` succeeded and puts their values in place of the `resultOf`
 * references in `args` (changed in place). Returns the arguments, or the failure to end the job
 * with (`DEPENDENCY_FAILED`, or the code of a value that cannot be decoded here).
 */
export async function withDependencyValues(dir: string, after: readonly string[], args: unknown[] | undefined): Promise<{ args: unknown[] | undefined } | JobEnding> {
  const results = new Map<string, Succeeded>();
  for (const depId of after) {
    const read = await readSucceeded(dir, depId);
    if ("failed" in read) return read.failed;
    results.set(depId, read.stored);
  }
  if (args === undefined) return { args };
  const values = new Map<string, unknown>();
  for (const depId of collectResultRefs(args)) {
    const stored = results.get(depId);
    if (stored === undefined) return failure("JOB_SPEC_CORRUPT", `The arguments name job ${depId}'s result, which the job's spec does not list among its dependencies.`);
    try {
      values.set(depId, await decodeValueWithClasses(stored.value, "RESULT_UNREADABLE", importClass, "JOB_IMPORT_FAILED"));
    } catch (error) {
      const code = error instanceof MalocherError ? error.code : "RESULT_UNREADABLE";
      return failure(code === "JOB_IMPORT_FAILED" ? code : "DEPENDENCY_FAILED", `The value of job ${depId}, which this job takes, cannot be read here: ${(error as Error).message}`);
    }
  }
  return { args: replaceResultRefs(args, (depId) => values.get(depId)) as unknown[] };
}
