import { readFile } from "node:fs/promises";
import { directoryLayout, isJobId, MalocherError } from "@malocher/protocol";
import { jobExists } from "./job-exists.js";

/** One job's captured output. */
export interface JobLogs {
  stdout: string;
  stderr: string;
}

/**
 * Reads what a job wrote to stdout and stderr so far (empty when it wrote nothing); `JOB_NOT_FOUND`
 * for a job that was never submitted here or was cleaned.
 */
export async function readLogs(dir: string, jobId: string): Promise<JobLogs> {
  if (!isJobId(jobId)) throw new MalocherError("JOB_NOT_FOUND", `${JSON.stringify(jobId)} is not a job id.`);
  if (!(await jobExists(dir, jobId))) throw new MalocherError("JOB_NOT_FOUND", `No job ${jobId} in ${dir}.`);
  const read = (path: string) =>
    readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw error;
    });
  const [stdout, stderr] = await Promise.all([read(directoryLayout.stdoutFile(dir, jobId)), read(directoryLayout.stderrFile(dir, jobId))]);
  return { stdout, stderr };
}
