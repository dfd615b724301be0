import { listRetrying } from "./queue-marker.js";
import { finishedState } from "./read-job-state.js";
import { lstat, readdir, rmdir, stat, unlink } from "node:fs/promises";
import { createFile, readRegularFile } from "./safe-file.js";
import { jobIdInKeyFile } from "./job-key-file.js";
import { listDependents } from "./settle-dependents.js";
import { jobExists } from "./job-exists.js";
import { basename, join } from "node:path";
import { MalocherError, REMOVED_SPEC_SUFFIX, SHARDS, chunkMemberOf, directoryLayout, isJobId, shownValue } from "@malocher/protocol";
import { listClaims, listFinishedIds, listQueuedIds } from "./job-listing.js";
import { readResultOrFailure } from "./read-result.js";
import { readSpecChunkMembers } from "./read-spec-chunk-members.js";

/** Which finished jobs `cleanJobs` removes. */
export interface CleanOptions {
  /** Only jobs that finished at least this long ago (by their result file's time). Default: all. */
  olderThanMs?: number;
  /** Only failed jobs, or only succeeded ones. Default: every finished job (cancelled ones too). */
  only?: "failed" | "succeeded";
}

/** One job `cleanJobs` removed. */
export interface CleanedJob {
  jobId: string;
  state: "succeeded" | "failed" | "cancelled";
  /** Bytes freed: spec, result, logs, set-aside results, cancel marker, key. */
  bytes: number;
}

/** Refuses options that would clean other jobs than asked: `olderThanMs: "7d"` would have cleaned every finished job. */
function checkCleanOptions(options: CleanOptions): void {
  const { olderThanMs, only } = options as { olderThanMs?: unknown; only?: unknown };
  if (olderThanMs !== undefined && (typeof olderThanMs !== "number" || !Number.isFinite(olderThanMs) || olderThanMs < 0)) {
    throw new MalocherError("INVALID_OPTIONS", `clean({ olderThanMs }) needs milliseconds, a number ≥ 0 (a week: 7 * 24 * 3600_000), got ${shownValue(olderThanMs, "number")}. Nothing was cleaned.`);
  }
  if (only !== undefined && only !== "failed" && only !== "succeeded") {
    throw new MalocherError("INVALID_OPTIONS", `clean({ only }) is "failed" or "succeeded", got ${shownValue(only, "string")}. Nothing was cleaned.`);
  }
}

/**
 * Removes finished jobs' files: the key file first (so a later `submit` with that key queues a new
 * job), then logs, set-aside results (`retried/`), the cancel marker and the spec, and the result
 * last: a process that dies half-way leaves a result, which the next clean finds and finishes,
 * never a spec without a result (which would look like a job to run). Jobs that are queued or
 * claimed are never touched, nor are jobs that an unfinished job depends on (their index entries in
 * `dependents/` go with them), nor are shared directories (network file systems cache directory handles,
 * so queue directories are never deleted). Do not run it at the same time as `retry` on the same jobs.
 *
 * The spec of a member of a spec chunk (`submitMany`) shares its file with the chunk's other
 * members, so cleaning the member creates its `.removed` marker instead (after which it no longer
 * lists as a job); the chunk file and its markers are deleted once every member is removed, by
 * the clean that removes the last one or, should that one die first, by any later clean; a
 * removed member counts as no job for `cancel`, `retry`, `result` and `logs` (see `jobExists`).
 */
export async function cleanJobs(dir: string, options: CleanOptions = {}): Promise<CleanedJob[]> {
  checkCleanOptions(options);
  const [finished, queued, retrying, claims, keys, setAside] = await Promise.all([
    listFinishedIds(dir),
    listQueuedIds(dir),
    listRetrying(dir),
    listClaims(dir),
    keyFilesByJob(dir),
    setAsideResultsByJob(dir),
  ]);
  const claimed = new Set([...claims.values()].flat());
  const cutoff = options.olderThanMs === undefined ? Infinity : Date.now() - options.olderThanMs;
  const cleaned: CleanedJob[] = [];
  /** Per spec chunk, the job cleaned last from it in this clean: it is credited with the chunk file's bytes. */
  const lastOfChunk = new Map<string, CleanedJob>();
  for (const jobId of [...finished].sort()) {
    if (queued.has(jobId) || retrying.has(jobId) || claimed.has(jobId)) continue;
    const resultFile = directoryLayout.resultFile(dir, jobId);
    const finishedAt = await stat(resultFile).then(
      (stats) => stats.mtimeMs,
      () => undefined,
    );
    if (finishedAt === undefined || finishedAt > cutoff) continue;
    const result = await readResultOrFailure(dir, jobId);
    if (result === undefined) continue;
    const state = finishedState(result);
    if (options.only !== undefined && options.only !== state) continue;
    // A job whose value or success a job still to run needs is kept until that one has run (a
    // dependent cleaned before it has left its index entry, and needs nothing any more).
    const dependents = await listDependents(dir, jobId);
    if (await someExist(dir, dependents.filter((dependent) => !finished.has(dependent)))) continue;
    const files = [
      ...(keys.get(jobId) ?? []),
      directoryLayout.stdoutFile(dir, jobId),
      directoryLayout.stderrFile(dir, jobId),
      ...(setAside.get(jobId) ?? []),
      directoryLayout.cancelFile(dir, jobId),
    ];
    let bytes = 0;
    for (const file of files) bytes += await removeFile(file);
    const member = chunkMemberOf(jobId);
    if (member === undefined) bytes += await removeFile(directoryLayout.specFile(dir, jobId));
    else await createFile(directoryLayout.removedSpecFile(dir, jobId)).catch(ignoreExisting);
    for (const dependent of dependents) await removeFile(directoryLayout.dependentFile(dir, jobId, dependent));
    await rmdir(directoryLayout.dependentsOfDir(dir, jobId)).catch(() => {}); // its own, not a shard's
    bytes += await removeFile(resultFile);
    const job: CleanedJob = { jobId, state, bytes };
    cleaned.push(job);
    if (member !== undefined) lastOfChunk.set(member.chunkName, job);
  }
  for (const [chunkName, bytes] of await removeEmptiedSpecChunks(dir)) {
    const job = lastOfChunk.get(chunkName);
    if (job !== undefined) job.bytes += bytes;
  }
  return cleaned;
}

/**
 * Deletes each spec chunk whose members are all removed, then its `.removed` markers (and any
 * marker whose chunk is gone already); returns the bytes freed per chunk. A chunk whose header
 * cannot be read is kept: which members it has is not known.
 */
async function removeEmptiedSpecChunks(dir: string): Promise<Map<string, number>> {
  const freed = new Map<string, number>();
  for (const shard of SHARDS) {
    const names = await readdir(directoryLayout.specsShardDir(dir, shard)).catch((): string[] => []);
    const removedOf = new Map<string, string[]>();
    for (const name of names) {
      if (!name.endsWith(REMOVED_SPEC_SUFFIX)) continue;
      const member = chunkMemberOf(name.slice(0, -REMOVED_SPEC_SUFFIX.length));
      if (member !== undefined) removedOf.set(member.chunkName, [...(removedOf.get(member.chunkName) ?? []), name]);
    }
    for (const [chunkName, removed] of removedOf) {
      const members = await readSpecChunkMembers(dir, chunkName); // [] when the chunk is gone
      const removedIds = new Set(removed.map((name) => name.slice(0, -REMOVED_SPEC_SUFFIX.length)));
      if (members === undefined || !members.every((jobId) => removedIds.has(jobId))) continue;
      if (members.length > 0) freed.set(chunkName, await removeFile(directoryLayout.specChunkFile(dir, chunkName)));
      for (const name of removed) await removeFile(join(directoryLayout.specsShardDir(dir, shard), name));
    }
  }
  return freed;
}

/**
 * Unlinks a file (a symlink itself, not what it names); returns its size, 0 when it was not there.
 * A directory at a file's path is none of ours (planted by another account): it is left there,
 * and the clean goes on.
 */
async function removeFile(path: string): Promise<number> {
  try {
    const { size } = await lstat(path);
    await unlink(path);
    return size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // EISDIR (EPERM on macOS): a directory.
    if (code === "ENOENT" || code === "EISDIR" || code === "EPERM") return 0;
    throw error;
  }
}

/** The key files (`submit.with({ key })`), by the job each names. */
function keyFilesByJob(dir: string): Promise<Map<string, string[]>> {
  return filesByJob(
    (shard) => directoryLayout.keysShardDir(dir, shard),
    (file) => readRegularFile(file, { maxBytes: 1024 }).then(jobIdInKeyFile, () => ""),
  );
}

/** The failed results `retry` set aside (`retried/<shard>/<jobId>.<ms>`), by job. */
function setAsideResultsByJob(dir: string): Promise<Map<string, string[]>> {
  return filesByJob(
    (shard) => directoryLayout.retriedShardDir(dir, shard),
    async (file) => basename(file).slice(0, basename(file).indexOf(".")),
  );
}

/** The files of a sharded directory, grouped by the job id `jobIdOf` finds for each. */
async function filesByJob(shardDir: (shard: string) => string, jobIdOf: (file: string) => Promise<string>): Promise<Map<string, string[]>> {
  const byJob = new Map<string, string[]>();
  for (const shard of SHARDS) {
    const names = await readdir(shardDir(shard)).catch((): string[] => []);
    for (const name of names) {
      const file = join(shardDir(shard), name);
      const jobId = await jobIdOf(file);
      if (isJobId(jobId)) byJob.set(jobId, [...(byJob.get(jobId) ?? []), file]);
    }
  }
  return byJob;
}

/** A marker that is there already is as good as ours. */
function ignoreExisting(error: NodeJS.ErrnoException): void {
  if (error.code !== "EEXIST") throw error;
}

/** Whether one of `jobIds` is still a job of `dir`. */
async function someExist(dir: string, jobIds: readonly string[]): Promise<boolean> {
  for (const jobId of jobIds) if (await jobExists(dir, jobId)) return true;
  return false;
}
