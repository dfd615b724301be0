import { MalocherError, encodeStoredResult, directoryLayout, type StoredResult } from "@malocher/protocol";
import { MAX_READ_BYTES } from "./safe-file.js";
import { writeFileOnceSync } from "./write-file-atomic.js";
import { loadDirectoryKey } from "./directory-key.js";
import { settleDependents } from "./settle-dependents.js";

/** What publishing results did to the jobs waiting for them: the ids it queued and the ids it failed (`DEPENDENCY_FAILED`). */
export interface SettledDependents {
  queued: string[];
  failed: string[];
}

/**
 * Publishes a job's result, write-once. Returns the bytes of the result file, or undefined when a
 * result was already there (another attempt won); ours is then discarded, which is what makes
 * at-least-once runs give exactly one result. A result that was published settles the jobs
 * waiting for it (`settleDependents`): they are queued once all they wait for succeeded, or fail
 * with `DEPENDENCY_FAILED`; `settled` hears which. A process that dies in between leaves them
 * waiting until a supervisor's sweep settles them (`sweepWaitingJobs`). The result is written
 * synchronously, as an agent's other calls on a job's way (see `claimJob`).
 */
export async function publishResult(dir: string, result: StoredResult, settled?: SettledDependents): Promise<Uint8Array | undefined> {
  const key = loadDirectoryKey(dir, { create: false });
  const bytes = encodeStoredResult(result, key);
  // What no reader would read (see MAX_READ_BYTES); the agent publishes a RESULT_WRITE_FAILED saying why instead.
  if (bytes.length > MAX_READ_BYTES) throw new MalocherError("RESULT_WRITE_FAILED", `its result takes ${bytes.length} bytes, more than the ${MAX_READ_BYTES} a result may`);
  if (!writeFileOnceSync(dir, directoryLayout.resultFile(dir, result.jobId), bytes)) return undefined;
  try {
    await settleDependents(dir, result, settled);
  } catch {
    // The result is out; the jobs waiting for it are settled by the next sweep.
  }
  return bytes;
}
