import { readdir } from "node:fs/promises";
import { REMOVED_SPEC_SUFFIX, SHARDS, directoryLayout, isChunkName, isJobId, shardOf } from "@malocher/protocol";
import { join } from "node:path";
import { readSpecChunkMembers } from "./read-spec-chunk-members.js";
import { jobExists } from "./job-exists.js";
import { pathExists } from "./path-exists.js";

async function listShardedIds(root: string): Promise<string[]> {
  const perShard = await Promise.all(
    SHARDS.map((shard) => readdir(join(root, shard)).catch((): string[] => [])),
  );
  return perShard.flat().filter(isJobId);
}

/**
 * Every submitted job's id, oldest first: the jobs with a spec file of their own, and the members
 * of each spec chunk (from its header, one small read per chunk) that are not removed.
 */
export async function listJobIds(dir: string): Promise<string[]> {
  return (await Promise.all(SHARDS.map((shard) => listSubmittedInShard(dir, shard)))).flat().sort();
}

async function listSubmittedInShard(dir: string, shard: string): Promise<string[]> {
  const names = await readdir(directoryLayout.specsShardDir(dir, shard)).catch((): string[] => []);
  const ids = names.filter(isJobId);
  const removed = new Set(names.filter((name) => name.endsWith(REMOVED_SPEC_SUFFIX)).map((name) => name.slice(0, -REMOVED_SPEC_SUFFIX.length)));
  // One chunk after another: a directory of many chunks must not open them all at once.
  for (const chunkName of names.filter(isChunkName)) {
    const members = (await readSpecChunkMembers(dir, chunkName)) ?? (await membersSeenElsewhere(dir, chunkName));
    for (const jobId of members) if (!removed.has(jobId)) ids.push(jobId);
  }
  return ids;
}

/**
 * The members of a chunk whose header cannot be read that have a queue marker, a claim or a
 * result: they still list (and fail with `JOB_SPEC_CORRUPT` when an agent takes them).
 */
async function membersSeenElsewhere(dir: string, chunkName: string): Promise<string[]> {
  const shard = shardOf(chunkName);
  const [queued, finished, claims] = await Promise.all([
    readdir(directoryLayout.queuedShardDir(dir, shard)).catch((): string[] => []),
    readdir(directoryLayout.resultsShardDir(dir, shard)).catch((): string[] => []),
    listClaims(dir),
  ]);
  const prefix = `${chunkName}-`;
  const seen = new Set([...queued, ...finished, ...[...claims.values()].flat()]);
  return [...seen].filter((jobId) => jobId.startsWith(prefix) && isJobId(jobId));
}

/** Ids of the jobs that have a result. */
export async function listFinishedIds(dir: string): Promise<Set<string>> {
  return new Set(await listShardedIds(directoryLayout.resultsDir(dir)));
}

/**
 * Of `jobIds`, the ones that `exists` says exist. Fewer jobs than shard directories are
 * looked up one by one (for one job, one look-up instead of listing 16 directories, which kept a
 * warm run's supervisor busy while its job's messages waited); more by `listAll`.
 */
async function idsThatExist(
  jobIds: ReadonlySet<string>,
  listAll: () => Promise<string[]>,
  exists: (jobId: string) => Promise<boolean>,
): Promise<Set<string>> {
  if (jobIds.size >= SHARDS.length) return new Set((await listAll()).filter((jobId) => jobIds.has(jobId)));
  const found = await Promise.all([...jobIds].filter(isJobId).map(async (jobId) => ((await exists(jobId)) ? jobId : undefined)));
  return new Set(found.filter((jobId) => jobId !== undefined));
}

/** Of `jobIds`, the submitted ones (they have a spec, and `clean` did not remove them). */
export function submittedAmong(dir: string, jobIds: ReadonlySet<string>): Promise<Set<string>> {
  return idsThatExist(jobIds, () => listJobIds(dir), (jobId) => jobExists(dir, jobId));
}

/** Of `jobIds`, the ones that have a result. */
export function finishedAmong(dir: string, jobIds: ReadonlySet<string>): Promise<Set<string>> {
  return idsThatExist(jobIds, () => listShardedIds(directoryLayout.resultsDir(dir)), (jobId) => pathExists(directoryLayout.resultFile(dir, jobId)));
}

/** Ids of the jobs whose queue marker is in the queue. */
export async function listQueuedIds(dir: string): Promise<Set<string>> {
  return new Set(await listShardedIds(directoryLayout.queuedDir(dir)));
}

/** Ids of the jobs with a cancel request. */
export async function listCancelledIds(dir: string): Promise<Set<string>> {
  return new Set(await listShardedIds(directoryLayout.cancelledDir(dir)));
}

/** Claimed jobs, by the agent holding them. */
export async function listClaims(dir: string): Promise<Map<string, string[]>> {
  const claims = new Map<string, string[]>();
  const agents = await readdir(directoryLayout.runningDir(dir)).catch((): string[] => []);
  await Promise.all(
    agents.map(async (agentId) => {
      const ids = await readdir(directoryLayout.agentRunningDir(dir, agentId)).catch((): string[] => []);
      claims.set(agentId, ids.filter(isJobId));
    }),
  );
  return claims;
}
