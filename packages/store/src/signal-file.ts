import { writeFileSync } from "node:fs";
import { directoryLayout } from "@malocher/protocol";

/**
 * Tells idle agents that jobs were queued, by rewriting the one file they watch (`signal`). Only
 * a hint: agents also scan the queue on a timer, and a failed write is ignored.
 */
export function touchSignalFile(dir: string): void {
  try {
    writeFileSync(directoryLayout.signalFile(dir), String(Date.now()));
  } catch {
    // Only a hint.
  }
}
