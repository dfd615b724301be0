import { readFile, rename, unlink } from "node:fs/promises";
import { directoryLayout, type JobError, type StoredResult } from "@malocher/protocol";
import { parseAttempt } from "./claim-job.js";
import { publishResult } from "./publish-result.js";
import { tmpPath } from "./write-file-atomic.js";
import { readJobNameAndTags } from "./read-job-name-and-tags.js";

/**
 * Takes a queued job out of the queue and publishes `error` as its result, in place of an agent
 * (a job cancelled before it ran, a job no node can run), with the job's name and tags. Returns false, changing nothing, when
 * the job is not in the queue (an agent holds it, or it has finished).
 */
export async function failQueuedJob(dir: string, jobId: string, error: JobError): Promise<boolean> {
  const taken = tmpPath(dir);
  try {
    await rename(directoryLayout.queuedFile(dir, jobId), taken);
  } catch (failure) {
    if ((failure as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw failure;
  }
  const attempt = parseAttempt(await readFile(taken, "utf8").catch(() => ""));
  const result: StoredResult = {
    jobId,
    ...(await readJobNameAndTags(dir, jobId)),
    host: "-",
    attempts: attempt - 1,
    durationMs: 0,
    agentId: "-",
    finishedAt: Date.now(),
    ok: false,
    error,
  };
  await publishResult(dir, result);
  await unlink(taken).catch(() => {});
  return true;
}
