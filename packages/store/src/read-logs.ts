import { readRegularText } from "./safe-file.js";
import { directoryLayout, isJobId, MalocherError, quoteNonId } from "@malocher/protocol";
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
  if (!isJobId(jobId)) throw new MalocherError("JOB_NOT_FOUND", `${quoteNonId(jobId)} is not a job id.`);
  if (!(await jobExists(dir, jobId))) throw new MalocherError("JOB_NOT_FOUND", `No job ${jobId} in ${dir}.`);
  const read = (path: string) =>
    readRegularText(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw error;
    });
  const [stdout, stderr] = await Promise.all([read(directoryLayout.stdoutFile(dir, jobId)), read(directoryLayout.stderrFile(dir, jobId))]);
  return { stdout, stderr };
}
