import { randomHex } from "./random-hex.js";

/**
 * Job ids sort by submission time and are unique without coordination:
 * 9 base-36 digits of milliseconds since the epoch, a dash, 12 random hex digits.
 * The first random digit picks the job's shard.
 */
const JOB_ID_PATTERN = /^[0-9a-z]{9}-[0-9a-f]{12}$/;

/** The 16 shard names; shards keep directories small at 100,000 jobs. */
export const SHARDS: readonly string[] = Array.from({ length: 16 }, (_, i) => i.toString(16));

/** The time part of the last id made in this process. */
let lastMs = 0;

/**
 * A fresh job id. Ids made by one process sort in the order they were made: when several are
 * made in the same millisecond, each takes the next millisecond (so a fast batch runs a little
 * ahead of the clock).
 */
export function newJobId(now: number = Date.now()): string {
  lastMs = Math.max(now, lastMs + 1);
  return `${lastMs.toString(36).padStart(9, "0")}-${randomHex(6)}`;
}

/** Whether `value` has the shape of a job id (also guards paths built from ids). */
export function isJobId(value: string): boolean {
  return JOB_ID_PATTERN.test(value);
}

/** The shard directory name a job id belongs to. */
export function shardOf(jobId: string): string {
  return jobId.charAt(10);
}
