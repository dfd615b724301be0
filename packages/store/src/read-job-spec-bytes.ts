import { statSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { MAX_SPEC_BYTES, MalocherError, chunkMemberOf, specChunkHeadBytes, specChunkRecordRange } from "@malocher/protocol";
import { openRegularFile, readRegularFile, readRegularFileSync } from "./safe-file.js";
import type { SpecChunkCache } from "./spec-chunk-cache.js";

/**
 * The signed spec bytes of job `jobId` (what `decodeJobSpec` takes), from `specFile`
 * (`directoryLayout.specFile(dir, jobId)`). A job of its own has the whole file; a chunk member
 * only its record, found through the chunk's header: the reader opens the chunk and reads the
 * header's start and then the record, never the whole chunk (a chunk can be hundreds of KiB,
 * which a network file system would move for every job) — unless `chunks` keeps the chunk whole
 * (an agent's cache of the chunks it works through: one read per chunk instead of five calls per
 * member). Throws `JOB_SPEC_CORRUPT` for a chunk whose header does not lead to a whole record,
 * `JOB_SPEC_REJECTED` for a file that is not a regular file or larger than a spec may be (checked
 * before reading it), and the OS's error when the file cannot be read.
 */
export async function readJobSpecBytes(specFile: string, jobId: string, chunks?: SpecChunkCache): Promise<Buffer> {
  try {
    return await readSpecBytes(specFile, jobId, chunks);
  } catch (error) {
    if (!(error instanceof MalocherError) || error.code !== "SHARED_FILE_UNSAFE") throw error;
    throw new MalocherError("JOB_SPEC_REJECTED", `The spec of job ${jobId} is refused: ${error.message}`);
  }
}

/** A job's own spec file up to this size is read synchronously. */
const MAX_SYNC_READ_BYTES = 256 * 1024;

async function readSpecBytes(specFile: string, jobId: string, chunks?: SpecChunkCache): Promise<Buffer> {
  const member = chunkMemberOf(jobId);
  if (member === undefined) {
    // A job's own spec file is read whole; synchronously when small (most are, see `claimJob`):
    // four calls through the thread pool cost more than the read. A big one must not stall the
    // event loop (an agent's heartbeats, a supervisor's listing) while a network file system sends it.
    const limits = { maxBytes: MAX_SPEC_BYTES };
    return statSync(specFile).size <= MAX_SYNC_READ_BYTES ? readRegularFileSync(specFile, limits) : readRegularFile(specFile, limits);
  }
  const cached = await chunks?.record(specFile, jobId);
  if (cached !== undefined) return cached;
  const file = await openRegularFile(specFile);
  try {
    const head = await readAt(file, 0, specChunkHeadBytes(member.index));
    const { start, end } = specChunkRecordRange(head, jobId);
    // Checked before reading: a damaged (or forged) offset must not make the reader allocate gigabytes.
    if (end > (await file.stat()).size || end - start > MAX_SPEC_BYTES) throw recordPastTheEnd(jobId);
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
