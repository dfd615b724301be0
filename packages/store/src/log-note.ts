import { close, read, write } from "node:fs";
import { promisify } from "node:util";
import { directoryLayout } from "@malocher/protocol";
import { openLogForAppend } from "./safe-file.js";

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
