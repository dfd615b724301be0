import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { checkDirectorySecurity, type DirectorySecurityOptions } from "./check-directory-security.js";
import { DIRECTORY_FORMAT, MalocherError, SHARDED_DIRS, SHARDS, directoryLayout } from "@malocher/protocol";
import { join } from "node:path";
import { writeFileOnceSync } from "./write-file-atomic.js";
import { loadDirectoryKey } from "./directory-key.js";

const FORMAT_LINE = `malocher ${DIRECTORY_FORMAT}\n`;

/** How to open a shared directory. */
export interface PrepareOptions extends DirectorySecurityOptions {
  /** Create it (private, 0700) if it does not exist. */
  create: boolean;
}

/**
 * Makes sure `dir` is a Malocher directory of this format that no one else can write to (see
 * `checkDirectorySecurity`), creating it when `create` is set (with every queue directory, once
 * and for all: network file systems cache directory handles, so queue directories are never
 * deleted and recreated). Returns the warnings of `allowSharedWriters`.
 */
export function prepareSharedDirectory(dir: string, options: PrepareOptions): string[] {
  checkDirectorySecurity(dir, options); // its existing parents, before we create anything there
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
    return checkDirectorySecurity(dir, options);
  }
  if (format !== FORMAT_LINE) {
    throw new MalocherError(
      "SHARED_DIR_FORMAT",
      `${dir} has directory format ${JSON.stringify(format.trim())}; this Malocher reads "${FORMAT_LINE.trim()}". ` +
        `Use the Malocher version that created it, or start a new directory.`,
    );
  }
  return checkDirectorySecurity(dir, options);
}

function createLayout(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700); // whatever the umask
  mkdirSync(directoryLayout.tmpDir(dir), { recursive: true });
  for (const top of SHARDED_DIRS) {
    for (const shard of SHARDS) mkdirSync(join(dir, top, shard), { recursive: true });
  }
  mkdirSync(directoryLayout.runningDir(dir), { recursive: true });
  mkdirSync(directoryLayout.retryingDir(dir), { recursive: true });
  mkdirSync(directoryLayout.agentsDir(dir), { recursive: true });
  writeFileSync(directoryLayout.signalFile(dir), "");
  loadDirectoryKey(dir, { create: true });
  // Last, and write-once: a directory with a format file is complete; two creators agree.
  writeFileOnceSync(dir, directoryLayout.formatFile(dir), Buffer.from(FORMAT_LINE));
}
