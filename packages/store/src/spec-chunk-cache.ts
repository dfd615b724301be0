import { readFile, stat } from "node:fs/promises";
import { chunkMemberOf, specChunkRecordRange } from "@malocher/protocol";
import { recordPastTheEnd } from "./read-job-spec-bytes.js";

/** Chunks up to this size are kept whole; a bigger one is read record by record (`readJobSpecBytes`). */
const MAX_CACHED_CHUNK_BYTES = 1024 * 1024;
/** How many chunks are kept (the most recently used). */
const CACHED_CHUNKS = 4;

/**
 * The spec chunks an agent has read, whole, so that the next members of a chunk cost no call to
 * the file system: an agent working through a deep queue of one batch claims member after member
 * of the same few chunks, and reading each member's record (open, read the header, stat, read the
 * record, close) was most of its file-system calls per job. A chunk file is write-once and never
 * changes (`submitChunk` links it in whole; `clean` only removes it), so bytes read once stay
 * right; each record is still checked by its signature when it is decoded.
 */
export class SpecChunkCache {
  private readonly chunks = new Map<string, Promise<Buffer | undefined>>();

  /**
   * Member `jobId`'s record from `specFile` (its chunk), reading the chunk whole the first time;
   * undefined when the chunk is too big to keep (then read the record alone). Rejects like
   * `readFile`, and with `JOB_SPEC_CORRUPT` for a header that does not lead to the record.
   */
  async record(specFile: string, jobId: string): Promise<Buffer | undefined> {
    const chunkName = chunkMemberOf(jobId)?.chunkName;
    if (chunkName === undefined) return undefined;
    let chunk = this.chunks.get(chunkName);
    if (chunk === undefined) {
      chunk = readSmallFile(specFile);
      this.chunks.set(chunkName, chunk);
      // A failed read is not kept: the next member tries again.
      chunk.catch(() => this.chunks.get(chunkName) === chunk && this.chunks.delete(chunkName));
      if (this.chunks.size > CACHED_CHUNKS) this.chunks.delete(this.chunks.keys().next().value!);
    } else {
      // Most recently used last.
      this.chunks.delete(chunkName);
      this.chunks.set(chunkName, chunk);
    }
    const bytes = await chunk;
    if (bytes === undefined) return undefined;
    const { start, end } = specChunkRecordRange(bytes, jobId);
    if (end > bytes.length) throw recordPastTheEnd(jobId);
    return bytes.subarray(start, end);
  }
}

async function readSmallFile(file: string): Promise<Buffer | undefined> {
  if ((await stat(file)).size > MAX_CACHED_CHUNK_BYTES) return undefined;
  return readFile(file);
}
