import { open, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { MalocherError, directoryLayout, type JobResult } from "@malocher/protocol";
import { CUT_NOTE_PREFIX } from "@malocher/protocol";
import { jobExists } from "./job-exists.js";
import { pathExists } from "./path-exists.js";
import { readResultOrFailure } from "./read-result.js";

/** What `followLogs` yields: new output of one stream, and at the end the job's result. */
export type LogEvent = { type: "output"; stream: "stdout" | "stderr"; data: Buffer } | { type: "finished"; result: JobResult };

/** How `followLogs` polls. */
export interface FollowLogsOptions {
  /** How often the log files are looked at. Default 500 ms (a file-system watch does not see other hosts' writes). */
  pollMs?: number;
  /** Stops following (the iteration then just ends). */
  signal?: AbortSignal;
}

const CUT_NOTE = Buffer.from(CUT_NOTE_PREFIX);

/** Where a reader is in one log file. */
interface Cursor {
  stream: "stdout" | "stderr";
  path: string;
  offset: number;
  inode: number | undefined;
}

/**
 * Follows a job's stdout and stderr as its agent writes them into the shared directory, by
 * polling, until the job has a result; the last event is that result. Waits for a job that is
 * still queued. When the agent cuts an over-long log to its tail (`maxLogBytes`), the rewritten
 * log is followed from its cut note.
 */
export async function* followLogs(dir: string, jobId: string, options: FollowLogsOptions = {}): AsyncGenerator<LogEvent> {
  if (!(await jobExists(dir, jobId))) {
    throw new MalocherError("JOB_NOT_FOUND", `There is no job ${JSON.stringify(jobId)} in ${dir}. \`malocher status --dir ${dir}\` counts its jobs.`);
  }
  const cursors: Cursor[] = [
    { stream: "stdout", path: directoryLayout.stdoutFile(dir, jobId), offset: 0, inode: undefined },
    { stream: "stderr", path: directoryLayout.stderrFile(dir, jobId), offset: 0, inode: undefined },
  ];
  for (;;) {
    // The agent completes a job's logs before it publishes the result: read them after seeing it.
    const finished = await pathExists(directoryLayout.resultFile(dir, jobId));
    for (const cursor of cursors) {
      const data = await readNew(cursor);
      if (data.length > 0) yield { type: "output", stream: cursor.stream, data };
    }
    if (finished) {
      const result = await readResultOrFailure(dir, jobId);
      if (result !== undefined) {
        yield { type: "finished", result };
        return;
      }
    }
    try {
      await sleep(options.pollMs ?? 500, undefined, options.signal === undefined ? {} : { signal: options.signal });
    } catch {
      return; // aborted
    }
  }
}

/** What was added to the cursor's file since the last read (from the cut note, if the file was rewritten). */
async function readNew(cursor: Cursor): Promise<Buffer> {
  let size: number;
  let inode: number;
  try {
    ({ size, ino: inode } = await stat(cursor.path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
    throw error;
  }
  const rewritten = cursor.inode !== undefined && inode !== cursor.inode;
  cursor.inode = inode;
  if (!rewritten && size <= cursor.offset) return Buffer.alloc(0);
  const file = await open(cursor.path, "r");
  try {
    if (rewritten) {
      // The note stands where this attempt's output began, which is before what we had read.
      const whole = await file.readFile();
      const note = whole.lastIndexOf(CUT_NOTE, cursor.offset);
      const from = note >= 0 ? note : Math.min(cursor.offset, whole.length);
      cursor.offset = whole.length;
      return whole.subarray(from);
    }
    const data = Buffer.alloc(size - cursor.offset);
    const { bytesRead } = await file.read(data, 0, data.length, cursor.offset);
    cursor.offset += bytesRead;
    return data.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
