import { rename, rm } from "node:fs/promises";
import { readRegularText } from "./safe-file.js";
import { directoryLayout, outcomeWithoutRun, type JobError } from "@malocher/protocol";
import { MARKER_MAX_BYTES, parseAttempt } from "./queue-marker.js";
import { publishResult } from "./publish-result.js";
import { tmpPath } from "./write-file-atomic.js";
import { readJobNameAndTags } from "./read-job-name-and-tags.js";

/**
 * Takes a queued (or retrying, or waiting) job out of the queue and publishes `error` as its
 * result, in place of an agent (a job cancelled before it ran, a job no node can run), with the
 * job's name and tags; the jobs waiting for it then fail with `DEPENDENCY_FAILED`. Returns false,
 * changing nothing, when the job is in none of them (an agent holds it, or it has finished).
 */
export async function failQueuedJob(dir: string, jobId: string, error: JobError): Promise<boolean> {
  const taken = tmpPath(dir);
  if (
    !(await takeMarker(directoryLayout.queuedFile(dir, jobId), taken)) &&
    !(await takeMarker(directoryLayout.retryingFile(dir, jobId), taken)) &&
    !(await takeMarker(directoryLayout.waitingJobDir(dir, jobId), taken))
  ) {
    return false;
  }
  const attempt = parseAttempt(await readRegularText(taken, { maxBytes: MARKER_MAX_BYTES }).catch(() => "")); // a waiting job's directory reads as attempt 1
  await publishResult(dir, outcomeWithoutRun(jobId, attempt - 1, { ok: false, error }, await readJobNameAndTags(dir, jobId)));
  await rm(taken, { recursive: true, force: true }).catch(() => {}); // a waiting job's marker is a directory
  return true;
}

/** Renames a marker away; false when it is not there. */
async function takeMarker(marker: string, taken: string): Promise<boolean> {
  try {
    await rename(marker, taken);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}
