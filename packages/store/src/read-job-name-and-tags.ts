import { decodeJobSpec, directoryLayout, type JobNameAndTags } from "@malocher/protocol";
import { loadDirectoryKey } from "./directory-key.js";
import { readJobSpecBytes } from "./read-job-spec-bytes.js";

/**
 * A job's `name` and `tags` from its spec (a result carries them too, once there is one).
 * A spec that cannot be read or verified has none. `specBytes`: the spec's bytes when they are
 * known already (read by the caller); they are checked like the file's.
 */
export async function readJobNameAndTags(dir: string, jobId: string, specBytes?: Uint8Array): Promise<JobNameAndTags> {
  try {
    const bytes = specBytes ?? (await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId));
    const spec = decodeJobSpec(bytes, jobId, loadDirectoryKey(dir, { create: false }));
    return { ...(spec.name === undefined ? {} : { name: spec.name }), ...(spec.tags === undefined ? {} : { tags: spec.tags }) };
  } catch {
    return {};
  }
}
