import { encodeStoredResult, directoryLayout, type StoredResult } from "@malocher/protocol";
import { writeFileOnce } from "./write-file-atomic.js";
import { loadDirectoryKey } from "./directory-key.js";

/**
 * Publishes a job's result, write-once. Returns the bytes of the result file, or undefined when a
 * result was already there (another attempt won); ours is then discarded, which is what makes
 * at-least-once runs give exactly one result.
 */
export async function publishResult(dir: string, result: StoredResult): Promise<Uint8Array | undefined> {
  const key = loadDirectoryKey(dir, { create: false });
  const bytes = encodeStoredResult(result, key);
  return (await writeFileOnce(dir, directoryLayout.resultFile(dir, result.jobId), bytes)) ? bytes : undefined;
}
