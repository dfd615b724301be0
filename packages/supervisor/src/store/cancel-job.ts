import { readFile, rename, unlink } from "node:fs/promises";
import { directoryLayout, type StoredResult } from "@malocher/protocol";
import { parseAttempt, publishResult, tmpPath, writeFileOnce } from "@malocher/agent";
import { pathExists } from "./path-exists.js";

/** What `cancelJob` did: the job had finished already, was cancelled before it ran, or is being killed. */
export type CancelOutcome = "finished" | "cancelled" | "requested" | "unknown";

/**
 * Cancels a job: writes its cancel marker (agents check it before they start a claimed job and
 * while it runs), then takes its queue marker away if it is still queued and publishes the
 * `JOB_CANCELLED` result itself. A running job is killed by its agent, which publishes the result.
 */
export async function cancelJob(dir: string, jobId: string): Promise<CancelOutcome> {
  if (await pathExists(directoryLayout.resultFile(dir, jobId))) return "finished";
  if (!(await pathExists(directoryLayout.specFile(dir, jobId)))) return "unknown";
  await writeFileOnce(dir, directoryLayout.cancelFile(dir, jobId), new Uint8Array());
  const taken = tmpPath(dir);
  try {
    await rename(directoryLayout.queuedFile(dir, jobId), taken);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "requested";
    throw error;
  }
  const attempt = parseAttempt(await readFile(taken, "utf8").catch(() => ""));
  const result: StoredResult = {
    jobId,
    host: "-",
    attempts: attempt - 1,
    durationMs: 0,
    agentId: "-",
    finishedAt: Date.now(),
    ok: false,
    error: { name: "MalocherError", code: "JOB_CANCELLED", message: "The job was cancelled before it ran." },
  };
  await publishResult(dir, result);
  await unlink(taken).catch(() => {});
  return "cancelled";
}
