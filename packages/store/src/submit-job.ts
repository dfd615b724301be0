import { unlinkSync } from "node:fs";
import { enqueueJob } from "./queue-marker.js";
import { jobKeyFile, readJobOfKey, writeJobOfKey } from "./job-key-file.js";
import { MalocherError, directoryLayout, encodeJobSpec, type JobSpec } from "@malocher/protocol";
import { writeFileAtomicSync } from "./write-file-atomic.js";
import { DependencyStates, checkDependenciesExist } from "./dependency-state.js";
import { armWaitingJobSync, failWaitingJobSync } from "./wait-for-dependencies.js";

/**
 * Puts one job in the queue: the spec is written whole (tmp, rename into `specs/`), then the
 * empty queue marker is created, which is what agents look for. A crash in between leaves a spec
 * without a marker: never run, shown as "never queued" by `status`, never a half job.
 *
 * A job with dependencies (`spec.after`, each one submitted before: `JOB_NOT_FOUND` otherwise)
 * waits for them in `waiting/` instead (see `armWaitingJobSync`); it is queued at once when they
 * all succeeded already, and fails `DEPENDENCY_FAILED` at once when one failed.
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
  const after = spec.after ?? [];
  if (after.length > 0) checkDependenciesExist(dir, after);
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
  if (after.length === 0) {
    enqueueJob(dir, spec.jobId);
    return spec.jobId;
  }
  const armed = armWaitingJobSync(dir, spec.jobId, after, new DependencyStates(dir));
  if (armed.state === "blocked") {
    const nameAndTags = { ...(spec.name === undefined ? {} : { name: spec.name }), ...(spec.tags === undefined ? {} : { tags: spec.tags }) };
    failWaitingJobSync(dir, spec.jobId, armed.depId, armed.error, nameAndTags, after);
  }
  return spec.jobId;
}
