import { chunkMemberOf, directoryLayout, isJobId } from "@malocher/protocol";
import { pathExists } from "./path-exists.js";

/**
 * Whether `jobId` was submitted to `dir` and not cleaned: its spec file is there and, for a
 * job of a spec chunk (whose file stays while other jobs of the chunk remain), it is not marked
 * removed.
 */
export async function jobExists(dir: string, jobId: string): Promise<boolean> {
  if (!isJobId(jobId)) return false;
  const [hasSpec, removed] = await Promise.all([
    pathExists(directoryLayout.specFile(dir, jobId)),
    chunkMemberOf(jobId) === undefined ? false : pathExists(directoryLayout.removedSpecFile(dir, jobId)),
  ]);
  return hasSpec && !removed;
}
