import { unlinkSync } from "node:fs";
import { enqueueJob } from "./queue-marker.js";
import { jobKeyFile, readJobOfKey, writeJobOfKey } from "./job-key-file.js";
import { MalocherError, directoryLayout, encodeJobSpec, type JobSpec } from "@malocher/protocol";
import { writeFileAtomicSync } from "./write-file-atomic.js";

/**
 * Puts one job in the queue: the spec is written whole (tmp, rename into `specs/`), then the
 * empty queue marker is created, which is what agents look for. A crash in between leaves a spec
 * without a marker: never run, shown as "never queued" by `status`, never a half job.
 *
 * With a `key`, the key's file (write-once) decides between submitters: the first one's job is
 * queued, and everyone else gets that job's id back (its spec is removed again). Returns the id
 * of the job that now stands for this submission.
 */
export function submitJob(dir: string, spec: JobSpec, secretKey: Uint8Array, key?: string): string {
  const keyFile = key === undefined ? undefined : jobKeyFile(dir, key);
  if (keyFile !== undefined) {
    const existing = readJobOfKey(keyFile.path, keyFile.keyHash, secretKey);
    if (existing !== undefined) return existing;
  }
  const specFile = directoryLayout.specFile(dir, spec.jobId);
  writeFileAtomicSync(dir, specFile, encodeJobSpec(spec, secretKey));
  if (keyFile !== undefined && !writeJobOfKey(dir, keyFile.path, keyFile.keyHash, spec.jobId, secretKey)) {
    unlinkSync(specFile);
    const winner = readJobOfKey(keyFile.path, keyFile.keyHash, secretKey);
    if (winner !== undefined) return winner;
    throw new MalocherError(
      "SHARED_FILE_UNSAFE",
      `The key file ${keyFile.path} of this submission was replaced while it was being written, by a file not signed with the ` +
        `directory's key (was it planted by another account?); it was removed: submit again.`,
    );
  }
  enqueueJob(dir, spec.jobId);
  return spec.jobId;
}
