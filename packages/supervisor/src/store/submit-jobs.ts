import { closeSync, linkSync, openSync, rmSync, writeFileSync } from "node:fs";
import { directoryLayout, encodeJobSpec, type JobSpec } from "@malocher/protocol";
import { tmpPath, writeFileAtomicSync } from "@malocher/agent";

/**
 * Puts a chunk of jobs in the queue, each as {@link submitJob} does: its spec written whole (tmp,
 * rename into `specs/`), then its queue marker; `onQueued` hears of each job once it is queued.
 * The markers are hard links to one empty file per chunk rather than files of their own:
 * creating a file costs the file system far more than linking one (measured on ext4: about 4×
 * the jobs/s), and a marker's content is only ever replaced by renaming a fresh file over it,
 * never written in place (see `requeueClaim`). If writing fails, the job being written loses its
 * spec again (best effort) and the error is thrown: every job is queued whole or not at all.
 */
export function submitJobs(dir: string, specs: readonly JobSpec[], secretKey: Uint8Array, onQueued: (jobId: string) => void): void {
  const emptyMarker = tmpPath(dir);
  writeFileSync(emptyMarker, "", { flag: "wx" });
  try {
    for (const spec of specs) {
      const specFile = directoryLayout.specFile(dir, spec.jobId);
      writeFileAtomicSync(dir, specFile, encodeJobSpec(spec, secretKey));
      try {
        queueMarker(emptyMarker, directoryLayout.queuedFile(dir, spec.jobId));
      } catch (error) {
        rmSync(specFile, { force: true });
        throw error;
      }
      onQueued(spec.jobId);
    }
  } finally {
    rmSync(emptyMarker, { force: true });
  }
}

function queueMarker(emptyMarker: string, marker: string): void {
  try {
    linkSync(emptyMarker, marker);
  } catch (error) {
    // Too many links to one file (EMLINK), or a file system without hard links here: a file of its own.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EMLINK" && code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw error;
    closeSync(openSync(marker, "wx"));
  }
}
