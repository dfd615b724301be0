import { createFileSync, makePrivateDirSync, readRegularFileSync } from "./safe-file.js";
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
    format = readRegularFileSync(directoryLayout.formatFile(dir), { maxBytes: 1024 }).toString("utf8");
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
  // Every directory 0700 and every file 0600, whatever the umask (see safe-file.ts).
  makePrivateDirSync(dir);
  makePrivateDirSync(directoryLayout.tmpDir(dir));
  for (const top of SHARDED_DIRS) {
    makePrivateDirSync(join(dir, top));
    for (const shard of SHARDS) makePrivateDirSync(join(dir, top, shard));
  }
  makePrivateDirSync(directoryLayout.runningDir(dir));
  makePrivateDirSync(directoryLayout.agentsDir(dir));
  try {
    createFileSync(directoryLayout.signalFile(dir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error; // a creator beside us made it
  }
  makePrivateDirSync(directoryLayout.retryingDir(dir));
  loadDirectoryKey(dir, { create: true });
  // Last, and write-once: a directory with a format file is complete; two creators agree.
  writeFileOnceSync(dir, directoryLayout.formatFile(dir), Buffer.from(FORMAT_LINE));
}
