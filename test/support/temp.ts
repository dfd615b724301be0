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

/** A Malocher on a fresh temp directory, removed after the test `t`. */
export function freshMalocher(t: { after(fn: () => void): void }, prefix: string): Malocher {
  const dir = tempDir(prefix);
  t.after(() => removeDir(dir));
  return new Malocher({ dir });
}
