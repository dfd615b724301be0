import { closeSync, openSync } from "node:fs";
import { directoryLayout, encodeJobSpec, type JobSpec } from "@malocher/protocol";
import { writeFileAtomicSync } from "@malocher/agent";

/**
 * Puts one job in the queue: the spec is written whole (tmp, rename into `specs/`), then the
 * empty queue marker is created, which is what agents look for. A crash in between leaves a spec
 * without a marker: never run, shown as unqueued by `status`, never a half job.
 */
export function submitJob(dir: string, spec: JobSpec): void {
  writeFileAtomicSync(dir, directoryLayout.specFile(dir, spec.jobId), encodeJobSpec(spec));
  closeSync(openSync(directoryLayout.queuedFile(dir, spec.jobId), "wx"));
}
