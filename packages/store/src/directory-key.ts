import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, linkSync, openSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { MalocherError, directoryLayout } from "@malocher/protocol";
import { tmpPath } from "./write-file-atomic.js";

const KEY_BYTES = 32;
const keys = new Map<string, Buffer>();

/**
 * The directory's secret key, which signs job specs and results and seals secret values. It lives
 * in `<dir>/key`, readable by the user alone, and is created (write-once) with the directory. A
 * key file that someone else owns or could read is refused: whoever can replace it can run jobs
 * as you. It never leaves the file: not on the WebSocket, argv, a job's environment or a log.
 */
export function loadDirectoryKey(dir: string, options: { create: boolean }): Buffer {
  const cached = keys.get(dir);
  if (cached !== undefined) return cached;
  const path = directoryLayout.secretKeyFile(dir);
  let key = readKey(path);
  if (key === undefined) {
    if (!options.create) {
      throw new MalocherError("SHARED_DIR_INSECURE", `${dir} has no secret key file (${path}); was it made by an older Malocher?`);
    }
    const tmp = tmpPath(dir);
    writeFileSync(tmp, randomBytes(KEY_BYTES), { mode: 0o600 });
    try {
      linkSync(tmp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      unlinkSync(tmp);
    }
    key = readKey(path);
    if (key === undefined) throw new MalocherError("SHARED_DIR_INSECURE", `Could not create the secret key file ${path}.`);
  }
  keys.set(dir, key);
  return key;
}

function readKey(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    const uid = process.getuid?.();
    if (uid !== undefined && stats.uid !== uid) {
      throw new MalocherError(
        "SHARED_DIR_INSECURE",
        `The key file ${path} belongs to uid ${stats.uid}, not to you (uid ${uid}): someone else may have replaced it. ` +
          `Remove the directory's jobs you did not submit, then the key file, and submit again.`,
      );
    }
    if ((stats.mode & 0o077) !== 0) {
      throw new MalocherError(
        "SHARED_DIR_INSECURE",
        `The key file ${path} can be read or written by others (mode 0${(stats.mode & 0o777).toString(8)}); run \`chmod 600 '${path}'\` ` +
          `and, since others may have read it, start a new directory.`,
      );
    }
    const key = readFileSync(fd);
    if (key.length !== KEY_BYTES) throw new MalocherError("SHARED_DIR_INSECURE", `The key file ${path} is damaged (${key.length} bytes).`);
    return key;
  } finally {
    closeSync(fd);
  }
}
