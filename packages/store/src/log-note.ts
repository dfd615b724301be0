import { close, closeSync, constants, fstatSync, openSync, read, readSync, write, writeSync } from "node:fs";
import { promisify } from "node:util";
import { directoryLayout, retriedNote } from "@malocher/protocol";
import { isOwnFile, openLogForAppend } from "./safe-file.js";

/**
 * Appends `note` (a line Malocher writes itself, ending in a line break) to the log open to
 * append as `fd`, which holds `size` bytes: on a line of its own, after a line break when the
 * log's last line lacks one.
 */
export async function appendLogNote(fd: number, size: number, note: string): Promise<void> {
  let lineBreak = "";
  if (size > 0) {
    const last = Buffer.alloc(1);
    await promisify(read)(fd, last, 0, 1, size - 1);
    if (last[0] !== 0x0a) lineBreak = "\n";
  }
  await promisify(write)(fd, Buffer.from(`${lineBreak}${note}`));
}

/**
 * Appends `note` to job `jobId`'s stderr log (see `appendLogNote`; the log opened as
 * `openLogForAppend` does). Best effort: a log that cannot be written is left as it is (the note
 * only explains, and the job's way goes on). Call it only while no run of the job writes its log.
 */
export async function noteInJobLog(dir: string, jobId: string, note: string): Promise<void> {
  try {
    const { fd, size } = await openLogForAppend(directoryLayout.stderrFile(dir, jobId));
    try {
      await appendLogNote(fd, size, note);
    } finally {
      await promisify(close)(fd);
    }
  } catch {
    // Nothing to undo: at worst the log lacks the note.
  }
}

/**
 * Before a retried job runs again: each of its logs that holds output says, on a line of its own,
 * that the output above it is from earlier runs (a rerun that writes nothing would otherwise seem
 * to have written it). Only a log that is a regular file of ours with one link is written, none
 * is created. Best effort, as {@link noteInJobLog}; call it before the job is queued again.
 */
export function noteRetryInLogsSync(dir: string, jobId: string, at = new Date()): void {
  for (const path of [directoryLayout.stdoutFile(dir, jobId), directoryLayout.stderrFile(dir, jobId)]) {
    let fd: number | undefined;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const stats = fstatSync(fd);
      if (!stats.isFile() || stats.nlink !== 1 || !isOwnFile(stats) || stats.size === 0) continue;
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, stats.size - 1);
      writeSync(fd, `${last[0] === 0x0a ? "" : "\n"}${retriedNote(at)}`);
    } catch {
      // No log (the job wrote nothing), or one we may not write: it needs no note, or gets none.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
