import { encodeStoredResult, directoryLayout, type StoredResult } from "@malocher/protocol";
import { writeFileOnce } from "./write-file-atomic.js";
import { loadDirectoryKey } from "./directory-key.js";

/**
 * Publishes a job's result, write-once. Returns false when a result was already there (another
 * attempt won); ours is then discarded, which is what makes at-least-once runs give exactly one
 * result.
 */
export async function publishResult(dir: string, result: StoredResult): Promise<boolean> {
  const key = loadDirectoryKey(dir, { create: false });
  return writeFileOnce(dir, directoryLayout.resultFile(dir, result.jobId), encodeStoredResult(result, key));
}
