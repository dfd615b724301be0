import { open, readFile, type FileHandle } from "node:fs/promises";
import { MalocherError, chunkMemberOf, specChunkHeadBytes, specChunkRecordRange } from "@malocher/protocol";
import type { SpecChunkCache } from "./spec-chunk-cache.js";

/**
 * The signed spec bytes of job `jobId` (what `decodeJobSpec` takes), from `specFile`
 * (`directoryLayout.specFile(dir, jobId)`). A job of its own has the whole file; a chunk member
 * only its record, found through the chunk's header: the reader opens the chunk and reads the
 * header's start and then the record, never the whole chunk (a chunk can be hundreds of KiB,
 * which a network file system would move for every job) — unless `chunks` keeps the chunk whole
 * (an agent's cache of the chunks it works through: one read per chunk instead of five calls per
 * member). Throws `JOB_SPEC_CORRUPT` for a chunk whose header does not lead to a whole record,
 * and the OS's error when the file cannot be read.
 */
export async function readJobSpecBytes(specFile: string, jobId: string, chunks?: SpecChunkCache): Promise<Buffer> {
  const member = chunkMemberOf(jobId);
  if (member === undefined) return readFile(specFile);
  const cached = await chunks?.record(specFile, jobId);
  if (cached !== undefined) return cached;
  const file = await open(specFile, "r");
  try {
    const head = await readAt(file, 0, specChunkHeadBytes(member.index));
    const { start, end } = specChunkRecordRange(head, jobId);
    // Checked before reading: a damaged (or forged) offset must not make the reader allocate gigabytes.
    if (end > (await file.stat()).size) throw recordPastTheEnd(jobId);
    return readAt(file, start, end - start);
  } finally {
    await file.close();
  }
}

/** Up to `length` bytes from `position`; fewer only at the end of the file (a record cut short then fails its signature). */
async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(bytes, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return bytes.subarray(0, filled);
}

/** The error for a chunk whose header points past its end. */
export function recordPastTheEnd(jobId: string): MalocherError {
  return new MalocherError("JOB_SPEC_CORRUPT", `The spec chunk of job ${jobId} is corrupt (it ends before the job's record does); submit the job again.`);
}
