import { decodeJobSpec, directoryLayout, type JobNameAndTags } from "@malocher/protocol";
import { loadDirectoryKey } from "./directory-key.js";
import { readJobSpecBytes } from "./read-job-spec-bytes.js";

/**
 * A job's `name` and `tags` from its spec (a result carries them too, once there is one).
 * A spec that cannot be read or verified has none.
 */
export async function readJobNameAndTags(dir: string, jobId: string): Promise<JobNameAndTags> {
  try {
    const spec = decodeJobSpec(await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId), jobId, loadDirectoryKey(dir, { create: false }));
    return { ...(spec.name === undefined ? {} : { name: spec.name }), ...(spec.tags === undefined ? {} : { tags: spec.tags }) };
  } catch {
    return {};
  }
}
