import { createHash } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { enqueueJob } from "./queue-marker.js";
import { directoryLayout, encodeJobSpec, type JobSpec } from "@malocher/protocol";
import { writeFileAtomicSync, writeFileOnceSync } from "./write-file-atomic.js";
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
  const keyFile = key === undefined ? undefined : directoryLayout.keyFile(dir, hashKey(key));
  if (keyFile !== undefined) {
    const existing = readKey(keyFile);
    if (existing !== undefined) return existing;
  }
  const after = spec.after ?? [];
  if (after.length > 0) checkDependenciesExist(dir, after);
  const specFile = directoryLayout.specFile(dir, spec.jobId);
  writeFileAtomicSync(dir, specFile, encodeJobSpec(spec, secretKey));
  if (keyFile !== undefined && !writeFileOnceSync(dir, keyFile, Buffer.from(spec.jobId))) {
    unlinkSync(specFile);
    return readKey(keyFile) ?? spec.jobId;
  }
  if (after.length === 0) {
    enqueueJob(dir, spec.jobId);
    return spec.jobId;
  }
  const armed = armWaitingJobSync(dir, spec.jobId, after, new DependencyStates(dir));
  if (armed.state === "blocked") {
    const nameAndTags = { ...(spec.name === undefined ? {} : { name: spec.name }), ...(spec.tags === undefined ? {} : { tags: spec.tags }) };
    failWaitingJobSync(dir, spec.jobId, armed.depId, armed.error, nameAndTags);
  }
  return spec.jobId;
}

function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function readKey(keyFile: string): string | undefined {
  try {
    return readFileSync(keyFile, "utf8");
  } catch {
    return undefined;
  }
}
