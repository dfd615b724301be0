import { readdir, readFile, rename, rmdir, unlink } from "node:fs/promises";
import { directoryLayout, isJobId } from "@malocher/protocol";
import { parseAttempt, writeFileAtomic } from "@malocher/agent";
import { access } from "node:fs/promises";

/**
 * Puts back in the queue every job a lost agent had claimed, counting the lost run as an attempt.
 * A job that has a result is only unclaimed: a result beats every other state. Returns the ids
 * requeued.
 */
export async function requeueAgentClaims(dir: string, agentId: string): Promise<string[]> {
  const claimDir = directoryLayout.agentRunningDir(dir, agentId);
  const ids = (await readdir(claimDir).catch((): string[] => [])).filter(isJobId);
  const requeued: string[] = [];
  for (const jobId of ids) {
    const claim = directoryLayout.runningFile(dir, agentId, jobId);
    if (await exists(directoryLayout.resultFile(dir, jobId))) {
      await unlink(claim).catch(() => {});
      continue;
    }
    try {
      const attempt = parseAttempt(await readFile(claim, "utf8"));
      await writeFileAtomic(dir, claim, String(attempt + 1));
      await rename(claim, directoryLayout.queuedFile(dir, jobId));
      requeued.push(jobId);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // the agent released it meanwhile
    }
  }
  await rmdir(claimDir).catch(() => {});
  return requeued;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
