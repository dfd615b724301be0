/** Temp directories and Malocher directories that a test removes after itself. */
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Malocher } from "malocher";

/** A fresh temp directory `malocher-<prefix>-…` (realpath, so it compares equal to what `process.cwd()` reports). */
export function tempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), `malocher-${prefix}-`)));
}

/** Removes a directory tree; no error if it is gone already. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Directories of {@link freshMalocher} whose tests ended, removed when the test file's process ends. */
const removeAtExit = new Set<string>();
process.once("exit", () => {
  for (const dir of removeAtExit) removeDir(dir);
});

/**
 * A Malocher on a fresh temp directory for the test `t`, removed when the test file's process
 * ends, so after every `after` hook of `t`: removed in a hook of its own, it went while a cluster
 * closed in a later hook still had agents writing there (ENOTEMPTY).
 */
export function freshMalocher(t: { after(fn: () => void): void }, prefix: string): Malocher {
  const dir = tempDir(prefix);
  t.after(() => removeAtExit.add(dir));
  return new Malocher({ dir });
}
