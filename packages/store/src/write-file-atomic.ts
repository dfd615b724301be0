import { link, rename, unlink } from "node:fs/promises";
import { linkSync, renameSync, unlinkSync } from "node:fs";
import { createFile, createFileSync } from "./safe-file.js";
import { join } from "node:path";
import { directoryLayout, randomHex } from "@malocher/protocol";

/** A fresh path in the directory's `tmp/` for a file being written (created with `O_EXCL`, 0600: see safe-file.ts). */
export function tmpPath(dir: string): string {
  return join(directoryLayout.tmpDir(dir), `${process.pid}-${randomHex(8)}`);
}

/** Writes `bytes` to `target` so that readers see all of it or nothing (write to tmp, rename). */
export async function writeFileAtomic(dir: string, target: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = tmpPath(dir);
  try {
    await createFile(tmp, bytes);
    await rename(tmp, target);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
}

/** The synchronous twin of {@link writeFileAtomic}, for `submit()`. */
export function writeFileAtomicSync(dir: string, target: string, bytes: Uint8Array | string): void {
  const tmp = tmpPath(dir);
  try {
    createFileSync(tmp, bytes);
    renameSync(tmp, target);
  } catch (error) {
    unlinkQuietly(tmp);
    throw error;
  }
}

/**
 * Writes `bytes` to `target` only if `target` does not exist yet: write to tmp, then `link()`,
 * which fails with EEXIST on every file system (unlike rename, which overwrites on sshfs).
 * Returns false when another writer was first.
 */
export async function writeFileOnce(dir: string, target: string, bytes: Uint8Array): Promise<boolean> {
  const tmp = tmpPath(dir);
  try {
    await createFile(tmp, bytes);
    await link(tmp, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** The synchronous twin of {@link writeFileOnce}. */
export function writeFileOnceSync(dir: string, target: string, bytes: Uint8Array): boolean {
  const tmp = tmpPath(dir);
  try {
    createFileSync(tmp, bytes);
    linkSync(tmp, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkQuietly(tmp);
  }
}

/** Removes `path` if it can, and says nothing if it cannot (gone already, say). */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
