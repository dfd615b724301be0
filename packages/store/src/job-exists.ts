import { chunkMemberOf, directoryLayout, isJobId } from "@malocher/protocol";
import { pathExists } from "./path-exists.js";
import { readSpecChunkMembers } from "./read-spec-chunk-members.js";

/**
 * Whether `jobId` was submitted to `dir` and not cleaned: its spec file is there or, for a job
 * of a spec chunk (whose file stays while other jobs of the chunk remain), the chunk has that
 * member and it is not marked removed. A chunk whose header cannot be read still counts its ids
 * (their jobs fail with `JOB_SPEC_CORRUPT` rather than vanish).
 */
export async function jobExists(dir: string, jobId: string): Promise<boolean> {
  if (!isJobId(jobId)) return false;
  const member = chunkMemberOf(jobId);
  if (member === undefined) return pathExists(directoryLayout.specFile(dir, jobId));
  const [members, removed] = await Promise.all([readSpecChunkMembers(dir, member.chunkName), pathExists(directoryLayout.removedSpecFile(dir, jobId))]);
  return (members === undefined || member.index < members.length) && !removed;
}
