/**
 * The physical limits of the file system under the benchmark's directory: how many renames, and
 * how many "write a temp file, link it to its final name, unlink the temp" steps it does per
 * second, one after another from one process. A job's life in the shared directory is made of
 * such steps (the queue marker is claimed by a rename, a result is published by write + link),
 * so no job system on this directory can move jobs faster than these rates allow. Their files stay
 * in `dir` until the benchmark removes it at its end (see `SuiteContext.inFreshDirectory`).
 */
import { linkSync, mkdtempSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { now } from "./measurement.js";

/** Renames per second: one file renamed back and forth `count` times. */
export function measureRenameRate(dir: string, count: number): number {
  const work = mkdtempSync(join(dir, "rename-"));
  const a = join(work, "a");
  const b = join(work, "b");
  writeFileSync(a, "x");
  const started = now();
  for (let i = 0; i < count; i += 2) {
    renameSync(a, b);
    renameSync(b, a);
  }
  return (2 * Math.ceil(count / 2)) / ((now() - started) / 1000);
}

/** Write+link steps per second: write a 64-byte temp file, link it to a new name, unlink the temp. */
export function measureWriteLinkRate(dir: string, count: number): number {
  const work = mkdtempSync(join(dir, "write-link-"));
  const tmp = join(work, "tmp");
  const content = Buffer.alloc(64, 120);
  const started = now();
  for (let i = 0; i < count; i++) {
    writeFileSync(tmp, content);
    linkSync(tmp, join(work, String(i)));
    unlinkSync(tmp);
  }
  return count / ((now() - started) / 1000);
}
