import { readdir } from "node:fs/promises";
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
