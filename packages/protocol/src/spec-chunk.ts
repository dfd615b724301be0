import { chunkMemberOf, MAX_CHUNK_MEMBERS } from "./job-id.js";
import { MalocherError } from "./malocher-error.js";

/**
 * A spec chunk holds the specs of the jobs of one chunk of a `submitMany` batch in one file,
 * `specs/<shard>/<chunkName>`, so a batch creates one spec file per chunk instead of one per job:
 *
 * ```
 * 0   "MLSC"                magic
 * 4   u32 LE                chunk format version (1)
 * 8   u32 LE n              members (1 … 4096)
 * 12  (n + 1) × u32 LE      offsets from the file's start: member i's record is [offset i, offset i+1)
 * …   n records             each exactly the bytes of a spec file of its own (`encodeJobSpec`)
 * ```
 *
 * Each record is signed for its member's job id, so a record is verified and decoded per job, as
 * a spec file of its own is, and a record copied to another member's place is rejected. A reader
 * of one member needs only the first {@link specChunkHeadBytes} bytes and the member's record.
 */
const MAGIC = 0x4353_4c4d; // "MLSC" read as u32 LE
const CHUNK_VERSION = 1;
/** Magic, version and member count: what a reader needs to know how many members a chunk has. */
export const SPEC_CHUNK_PREFIX_BYTES = 12;
const OFFSET_BYTES = 4;
const MAX_OFFSET = 0xffff_ffff;

/** The bytes of a spec chunk whose member i has the record `records[i]` (`encodeJobSpec` of that member's spec). */
export function encodeSpecChunk(records: readonly Uint8Array[]): Uint8Array {
  if (records.length === 0 || records.length > MAX_CHUNK_MEMBERS) throw new RangeError(`a spec chunk holds 1 to ${MAX_CHUNK_MEMBERS} records, not ${records.length}`);
  const headerBytes = SPEC_CHUNK_PREFIX_BYTES + OFFSET_BYTES * (records.length + 1);
  let total = headerBytes;
  for (const record of records) total += record.length;
  if (total > MAX_OFFSET) throw new RangeError(`a spec chunk holds at most ${MAX_OFFSET} bytes, not ${total}`);
  const bytes = Buffer.allocUnsafe(total);
  bytes.writeUInt32LE(MAGIC, 0);
  bytes.writeUInt32LE(CHUNK_VERSION, 4);
  bytes.writeUInt32LE(records.length, 8);
  let offset = headerBytes;
  let entry = SPEC_CHUNK_PREFIX_BYTES;
  for (const record of records) {
    bytes.writeUInt32LE(offset, entry);
    bytes.set(record, offset);
    offset += record.length;
    entry += OFFSET_BYTES;
  }
  bytes.writeUInt32LE(offset, entry);
  return bytes;
}

/** How many bytes from the start of a chunk hold what {@link specChunkRecordRange} needs for member `index`. */
export function specChunkHeadBytes(index: number): number {
  return SPEC_CHUNK_PREFIX_BYTES + OFFSET_BYTES * (index + 2);
}

/**
 * The number of members of the chunk `chunkName`, from its first {@link SPEC_CHUNK_PREFIX_BYTES}
 * bytes (or more). Throws `JOB_SPEC_CORRUPT` for bytes that do not start a spec chunk.
 */
export function specChunkMemberCount(head: Uint8Array, chunkName: string): number {
  return checkedCount(head, () => `The spec chunk ${chunkName}`);
}

/**
 * Where member `jobId`'s record is in its chunk, from the chunk's first
 * `specChunkHeadBytes(index)` bytes (or more): `[start, end)` from the file's start. Throws
 * `JOB_SPEC_CORRUPT` when the header is not a spec chunk's, is cut short, or has no record for the member.
 */
export function specChunkRecordRange(head: Uint8Array, jobId: string): { start: number; end: number } {
  const member = chunkMemberOf(jobId);
  const subject = () => `The spec chunk of job ${jobId}`;
  if (member === undefined) throw corrupt(subject, "the job id names no chunk member");
  const count = checkedCount(head, subject);
  if (member.index >= count) throw corrupt(subject, `it has ${count} members, none with index ${member.index}`);
  if (head.length < specChunkHeadBytes(member.index)) throw corrupt(subject, "its offsets table is cut short");
  const view = Buffer.from(head.buffer, head.byteOffset, head.length);
  const entry = SPEC_CHUNK_PREFIX_BYTES + OFFSET_BYTES * member.index;
  const start = view.readUInt32LE(entry);
  const end = view.readUInt32LE(entry + OFFSET_BYTES);
  if (start < SPEC_CHUNK_PREFIX_BYTES + OFFSET_BYTES * (count + 1) || end <= start) {
    throw corrupt(subject, `its offsets table gives the record bytes ${start} to ${end}`);
  }
  return { start, end };
}

function checkedCount(head: Uint8Array, subject: () => string): number {
  if (head.length < SPEC_CHUNK_PREFIX_BYTES) throw corrupt(subject, `its header is cut short (${head.length} bytes)`);
  const view = Buffer.from(head.buffer, head.byteOffset, head.length);
  if (view.readUInt32LE(0) !== MAGIC) throw corrupt(subject, "it does not start like a spec chunk");
  const version = view.readUInt32LE(4);
  if (version !== CHUNK_VERSION) throw corrupt(subject, `chunk format ${version}, expected ${CHUNK_VERSION}`);
  const count = view.readUInt32LE(8);
  if (count < 1 || count > MAX_CHUNK_MEMBERS) throw corrupt(subject, `it claims ${count} members`);
  return count;
}

function corrupt(subject: () => string, reason: string): MalocherError {
  return new MalocherError("JOB_SPEC_CORRUPT", `${subject()} is corrupt (${reason}); submit the job again.`);
}
