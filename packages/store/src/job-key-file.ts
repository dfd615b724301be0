import { createHash } from "node:crypto";
import { unlinkSync } from "node:fs";
import { TAG_BYTES, directoryLayout, isJobId, signFile, verifyFile } from "@malocher/protocol";
import { readRegularFileSync } from "./safe-file.js";
import { writeFileOnceSync } from "./write-file-atomic.js";

/**
 * The key files of `submit.with({ key })`: `keys/<shard>/<sha256 of the key>` names the job that
 * stands for the key (write-once: the first submitter's). The name is signed with the directory's
 * key for the key's hash, so that a file another account planted there cannot make `submit`
 * return a job id of its choosing (or a path like `../../x`): such a file is replaced.
 */
const MAX_KEY_FILE_BYTES = 1024;

/** The key's file. */
export function jobKeyFile(dir: string, key: string): { path: string; keyHash: string } {
  const keyHash = createHash("sha256").update(key).digest("hex");
  return { path: directoryLayout.keyFile(dir, keyHash), keyHash };
}

/**
 * The job id the key file names, if it is there and signed for this key with `secretKey`;
 * undefined when there is none. A file that is there but not ours is removed (then undefined).
 */
export function readJobOfKey(path: string, keyHash: string, secretKey: Uint8Array): string | undefined {
  let bytes: Buffer;
  try {
    bytes = readRegularFileSync(path, { maxBytes: MAX_KEY_FILE_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code !== "SHARED_FILE_UNSAFE") throw error;
    removePlanted(path);
    return undefined;
  }
  try {
    const jobId = Buffer.from(verifyFile("key", keyHash, bytes, secretKey)).toString("utf8");
    if (isJobId(jobId)) return jobId;
  } catch {
    // not signed with our key: planted
  }
  removePlanted(path);
  return undefined;
}

/** Writes the key file for `jobId` unless one is there; whether this one is. */
export function writeJobOfKey(dir: string, path: string, keyHash: string, jobId: string, secretKey: Uint8Array): boolean {
  return writeFileOnceSync(dir, path, signFile("key", keyHash, Buffer.from(jobId), secretKey));
}

/** The job id a key file names, unverified (for `clean`, which removes a job's key files with it). */
export function jobIdInKeyFile(bytes: Buffer): string {
  return bytes.length < TAG_BYTES ? "" : bytes.subarray(0, bytes.length - TAG_BYTES).toString("utf8");
}

function removePlanted(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
