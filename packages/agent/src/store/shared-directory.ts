import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { DIRECTORY_FORMAT, MalocherError, SHARDED_DIRS, SHARDS, directoryLayout } from "@malocher/protocol";
import { join } from "node:path";
import { writeFileOnceSync } from "./write-file-atomic.js";
import { loadDirectoryKey } from "./directory-key.js";

const FORMAT_LINE = `malocher ${DIRECTORY_FORMAT}\n`;

/**
 * Makes sure `dir` is a Malocher directory of this format, creating it (and every queue
 * directory, once and for all: network file systems cache directory handles, so queue
 * directories are never deleted and recreated) when `create` is set.
 */
export function prepareSharedDirectory(dir: string, options: { create: boolean }): void {
  let format: string;
  try {
    format = readFileSync(directoryLayout.formatFile(dir), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    if (!options.create) {
      throw new MalocherError(
        "SHARED_DIR_FORMAT",
        `${dir} is not a Malocher directory (no "format" file). Submit a job there first, or pass the right --dir.`,
      );
    }
    createLayout(dir);
    return;
  }
  if (format !== FORMAT_LINE) {
    throw new MalocherError(
      "SHARED_DIR_FORMAT",
      `${dir} has directory format ${JSON.stringify(format.trim())}; this Malocher reads "${FORMAT_LINE.trim()}". ` +
        `Use the Malocher version that created it, or start a new directory.`,
    );
  }
}

function createLayout(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync(directoryLayout.tmpDir(dir), { recursive: true });
  for (const top of SHARDED_DIRS) {
    for (const shard of SHARDS) mkdirSync(join(dir, top, shard), { recursive: true });
  }
  mkdirSync(directoryLayout.runningDir(dir), { recursive: true });
  mkdirSync(directoryLayout.agentsDir(dir), { recursive: true });
  writeFileSync(directoryLayout.signalFile(dir), "");
  loadDirectoryKey(dir, { create: true });
  // Last, and write-once: a directory with a format file is complete; two creators agree.
  writeFileOnceSync(dir, directoryLayout.formatFile(dir), Buffer.from(FORMAT_LINE));
}
