import { createHash } from "node:crypto";
import { readFileSync, unlinkSync } from "node:fs";
import { enqueueJob } from "./queue-marker.js";
import { directoryLayout, encodeJobSpec, type JobSpec } from "@malocher/protocol";
import { writeFileAtomicSync, writeFileOnceSync } from "./write-file-atomic.js";

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
  const keyFile = key === undefined ? undefined : directoryLayout.keyFile(dir, hashKey(key));
  if (keyFile !== undefined) {
    const existing = readKey(keyFile);
    if (existing !== undefined) return existing;
  }
  const specFile = directoryLayout.specFile(dir, spec.jobId);
  writeFileAtomicSync(dir, specFile, encodeJobSpec(spec, secretKey));
  if (keyFile !== undefined && !writeFileOnceSync(dir, keyFile, Buffer.from(spec.jobId))) {
    unlinkSync(specFile);
    return readKey(keyFile) ?? spec.jobId;
  }
  enqueueJob(dir, spec.jobId);
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
