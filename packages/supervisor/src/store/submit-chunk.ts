import { closeSync, linkSync, openSync, rmSync, writeFileSync } from "node:fs";
import { directoryLayout } from "@malocher/protocol";
import { tmpPath } from "@malocher/agent";

/** The jobs of one chunk of a batch: member `i` has the id `jobIds[i]` (`chunkMemberId(name, i)`); `bytes` is the chunk file (`encodeSpecChunk`). */
export interface SpecChunk {
  name: string;
  jobIds: string[];
  bytes: Uint8Array;
}

/**
 * Puts a chunk of jobs in the queue: first the specs of all of them, written as one file
 * (`specs/<shard>/<chunkName>`, tmp then linked in, write-once), then each job's queue marker
 * in order; `onQueued` hears of each job once it is queued. A job is queued when its marker
 * exists, and its spec is there before that. One spec file per chunk instead of one per job, and
 * markers that are hard links to one empty file per chunk instead of files of their own: creating
 * a file costs the file system several times what linking one does (measured on ext4), and a
 * marker's content is only ever replaced by renaming a fresh file over it, never written in
 * place (see `requeueClaim`).
 * If a marker cannot be made, the jobs from that one on are not submitted: each gets its
 * `.removed` marker (best effort), so nothing takes its spec in the chunk for a job, and the
 * error is thrown. A process that dies part way leaves members with a spec but no marker, which
 * a running supervisor queues after its grace period, as for a job of its own.
 */
export function submitChunk(dir: string, chunk: SpecChunk, onQueued: (jobId: string) => void): void {
  writeSpecChunk(dir, chunk);
  const emptyMarker = tmpPath(dir);
  writeFileSync(emptyMarker, "", { flag: "wx" });
  let queued = 0;
  try {
    for (const jobId of chunk.jobIds) {
      queueMarker(emptyMarker, directoryLayout.queuedFile(dir, jobId));
      queued++;
      onQueued(jobId);
    }
  } catch (error) {
    for (const jobId of chunk.jobIds.slice(queued)) markRemovedQuietly(directoryLayout.removedSpecFile(dir, jobId));
    throw error;
  } finally {
    rmSync(emptyMarker, { force: true });
  }
}

/** Writes the chunk's file whole: to tmp, then linked in (EEXIST if the name is taken, never overwritten). */
function writeSpecChunk(dir: string, chunk: SpecChunk): void {
  const tmp = tmpPath(dir);
  try {
    writeFileSync(tmp, chunk.bytes, { flag: "wx" });
    linkSync(tmp, directoryLayout.specChunkFile(dir, chunk.name));
  } finally {
    rmSync(tmp, { force: true });
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

function markRemovedQuietly(path: string): void {
  try {
    closeSync(openSync(path, "w"));
  } catch {}
}
