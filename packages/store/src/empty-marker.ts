import { existsSync, linkSync } from "node:fs";
import { createFileSync } from "./safe-file.js";
import { tmpPath, unlinkQuietly } from "./write-file-atomic.js";

/**
 * Per shared directory, the empty file in its `tmp/` that this process links new queue markers
 * to, or `null` where the file system gives no hard links. Creating a file costs a file system
 * several times what linking one does (an inode to allocate, and later to free: on ext4 here one
 * create took 20 to 140 µs of CPU, growing after mass deletions), and a queue marker's text is
 * only ever replaced by renaming a fresh file over it, never written in place, so the first
 * markers of any number of jobs can share one empty inode. The file goes when the process exits;
 * one killed leaves it behind (an empty file in `tmp/`).
 */
const emptyMarkers = new Map<string, string | null>();

/** Errors that say this file system makes no hard links (at least not of this file). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"]);

let removedAtExit = false;

/**
 * Creates `target` as an empty file: a hard link to this process's empty marker of `dir`, or a
 * file of its own where links are not to be had. Throws EEXIST when `target` exists.
 */
export function createEmptyMarker(dir: string, target: string): void {
  for (let attempt = 0; attempt < 2 && emptyMarkers.get(dir) !== null; attempt++) {
    const source = emptyMarkers.get(dir) ?? makeEmptyMarker(dir);
    try {
      linkSync(source, target);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (NO_HARD_LINKS.has(code)) {
        dropEmptyMarker(dir, source);
        emptyMarkers.set(dir, null);
      } else if (code === "EMLINK" || (code === "ENOENT" && !existsSync(source))) {
        // Full, or removed from tmp/: a new one, once.
        dropEmptyMarker(dir, source);
      } else {
        throw error; // EEXIST (the job is queued), or what creating the file would meet too
      }
    }
  }
  createFileSync(target);
}

function makeEmptyMarker(dir: string): string {
  const path = tmpPath(dir);
  createFileSync(path);
  if (!removedAtExit) process.once("exit", removeEmptyMarkers);
  removedAtExit = true;
  emptyMarkers.set(dir, path);
  return path;
}

function dropEmptyMarker(dir: string, path: string): void {
  emptyMarkers.delete(dir);
  unlinkQuietly(path);
}

function removeEmptyMarkers(): void {
  for (const path of emptyMarkers.values()) if (path !== null) unlinkQuietly(path);
  emptyMarkers.clear();
}
