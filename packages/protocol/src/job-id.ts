import { randomHex } from "./random-hex.js";

/**
 * Job ids sort by submission time and are unique without coordination. Two shapes:
 *
 * - a job of its own: 9 base-36 digits of milliseconds since the epoch, a dash, 12 random hex
 *   digits (`0mabc1234-1a2b3c4d5e6f`);
 * - a member of a chunk (`submitMany` writes the specs of up to {@link MAX_CHUNK_MEMBERS} jobs
 *   into one file): the chunk's name, which is 9 base-36 digits of milliseconds, a dash and 8
 *   random hex digits, then a dash and the member's index as 3 hex digits
 *   (`0mabc1234-1a2b3c4d-03f`).
 *
 * The first random digit (character 10) picks the job's shard, so a chunk's members share its shard.
 */
const JOB_ID_PATTERN = /^[0-9a-z]{9}-(?:[0-9a-f]{12}|[0-9a-f]{8}-[0-9a-f]{3})$/;
const CHUNK_NAME_PATTERN = /^[0-9a-z]{9}-[0-9a-f]{8}$/;
/** Length of a chunk's name, `<9 base-36>-<8 hex>`; a member id is this, a dash and 3 hex digits (as long as a job id of its own). */
const CHUNK_NAME_LENGTH = 18;

/** The most jobs one chunk holds (its members' indexes are 3 hex digits). */
export const MAX_CHUNK_MEMBERS = 0x1000;

/** The 16 shard names; shards keep directories small at 100,000 jobs. */
export const SHARDS: readonly string[] = Array.from({ length: 16 }, (_, i) => i.toString(16));

/** The time part of the last id (or chunk) made in this process. */
let lastMs = 0;

/** The next millisecond of this process's id clock, never the same one twice. */
function nextMs(now: number): string {
  lastMs = Math.max(now, lastMs + 1);
  return lastMs.toString(36).padStart(9, "0");
}

/**
 * A fresh job id. Ids made by one process sort in the order they were made: when several are
 * made in the same millisecond, each takes the next millisecond (so a fast batch runs a little
 * ahead of the clock).
 */
export function newJobId(now: number = Date.now()): string {
  return `${nextMs(now)}-${randomHex(6)}`;
}

/**
 * A fresh chunk name, `<9 base-36 ms>-<8 hex>`. It takes one millisecond of {@link newJobId}'s
 * clock, so its members (see {@link chunkMemberId}) sort after every id made before it and before
 * every id made after it.
 */
export function newChunkName(now: number = Date.now()): string {
  return `${nextMs(now)}-${randomHex(4)}`;
}

/** The id of member `index` (0 ≤ index < {@link MAX_CHUNK_MEMBERS}) of the chunk `chunkName`; members sort by index. */
export function chunkMemberId(chunkName: string, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNK_MEMBERS) throw new RangeError(`chunk member index ${index} is out of range`);
  return `${chunkName}-${index.toString(16).padStart(3, "0")}`;
}

/** Where a chunk member's spec is: the chunk's name and the member's index in it. */
export interface ChunkMember {
  chunkName: string;
  index: number;
}

/** The chunk and index of a member id; undefined for a job of its own (or anything else). */
export function chunkMemberOf(jobId: string): ChunkMember | undefined {
  if (jobId.charAt(CHUNK_NAME_LENGTH) !== "-" || !isJobId(jobId)) return undefined;
  return { chunkName: jobId.slice(0, CHUNK_NAME_LENGTH), index: Number.parseInt(jobId.slice(CHUNK_NAME_LENGTH + 1), 16) };
}

/** Whether `value` has the shape of a job id, of either shape (also guards paths built from ids). */
export function isJobId(value: string): boolean {
  return JOB_ID_PATTERN.test(value);
}

/**
 * `value`, JSON-quoted, for a message about something that is not a job id: at most 80
 * characters of it (a 10,000-character argument is not echoed back whole).
 */
export function quoteNonId(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  return text.length <= 80 ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, 80))}… (${text.length} characters)`;
}

/** Whether `value` can be an agent's id: a file name in `agents/` and `running/` (letters, digits, `._-`; not `.` or `..`). */
export function isAgentId(value: string): boolean {
  return /^[A-Za-z0-9._-]{1,100}$/.test(value) && value !== "." && value !== "..";
}

/** Whether `value` has the shape of a chunk's name (the name of its spec file). */
export function isChunkName(value: string): boolean {
  return CHUNK_NAME_PATTERN.test(value);
}

/** The shard directory name a job id (or a chunk name) belongs to. */
export function shardOf(jobId: string): string {
  return jobId.charAt(10);
}
