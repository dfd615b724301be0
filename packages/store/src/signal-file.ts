import { rewriteFileSync } from "./safe-file.js";
import { directoryLayout } from "@malocher/protocol";

/**
 * Tells idle agents that jobs were queued, by rewriting the one file they watch (`signal`). Only
 * a hint: agents also scan the queue on a timer, and a failed write is ignored.
 */
export function touchSignalFile(dir: string): void {
  try {
    rewriteFileSync(directoryLayout.signalFile(dir), String(Date.now())); // never through a symlink
  } catch {
    // Only a hint.
  }
}
