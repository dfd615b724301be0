import { access, readdir } from "node:fs/promises";
import { SHARDS, directoryLayout, isJobId } from "@malocher/protocol";
import { join } from "node:path";

async function listShardedIds(root: string): Promise<string[]> {
  const perShard = await Promise.all(
    SHARDS.map((shard) => readdir(join(root, shard)).catch((): string[] => [])),
  );
  return perShard.flat().filter(isJobId);
}

/** Every submitted job's id, oldest first. */
export async function listJobIds(dir: string): Promise<string[]> {
  return (await listShardedIds(directoryLayout.specsDir(dir))).sort();
}

/** Ids of the jobs that have a result. */
export async function listFinishedIds(dir: string): Promise<Set<string>> {
  return new Set(await listShardedIds(directoryLayout.resultsDir(dir)));
}

/**
 * Of `jobIds`, the ones whose file `fileOf` gives exists. Fewer jobs than shard directories are
 * looked up one by one (for one job, one look-up instead of listing 16 directories, which kept a
 * warm run's supervisor busy while its job's messages waited); more by listing `root`'s shards.
 */
async function idsWithFile(
  jobIds: ReadonlySet<string>,
  root: string,
  fileOf: (jobId: string) => string,
): Promise<Set<string>> {
  if (jobIds.size >= SHARDS.length) return new Set((await listShardedIds(root)).filter((jobId) => jobIds.has(jobId)));
  const found = await Promise.all([...jobIds].filter(isJobId).map((jobId) => access(fileOf(jobId)).then(() => jobId, () => undefined)));
  return new Set(found.filter((jobId) => jobId !== undefined));
}

/** Of `jobIds`, the submitted ones (they have a spec). */
export function submittedAmong(dir: string, jobIds: ReadonlySet<string>): Promise<Set<string>> {
  return idsWithFile(jobIds, directoryLayout.specsDir(dir), (jobId) => directoryLayout.specFile(dir, jobId));
}

/** Of `jobIds`, the ones that have a result. */
export function finishedAmong(dir: string, jobIds: ReadonlySet<string>): Promise<Set<string>> {
  return idsWithFile(jobIds, directoryLayout.resultsDir(dir), (jobId) => directoryLayout.resultFile(dir, jobId));
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
