import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { MalocherError } from "./malocher-error.js";
import { DIRECTORY_FORMAT } from "./version.js";

/** Length of the HMAC-SHA256 tag at the end of every signed file. */
export const TAG_BYTES = 32;

/**
 * What a signed file holds; part of the MAC, so a spec cannot pass as a result. A "key" file names
 * the job submitted with a `submit.with({ key })` key (signed for the key's hash, not a job id); a
 * "retried" file is a failed result that `retry` set aside, signed anew so that it no longer
 * passes for a result (put back into `results/`, it would hide the rerun's).
 */
export type SignedFileKind = "spec" | "result" | "key" | "retried";

function tag(kind: SignedFileKind, jobId: string, body: Uint8Array, key: Uint8Array): Buffer {
  return createHmac("sha256", key)
    .update(`malocher-${kind}\n${DIRECTORY_FORMAT}\n${jobId}\n`)
    .update(body)
    .digest();
}

/**
 * The bytes of a signed file: the body, then HMAC-SHA256 over the kind, the directory format, the
 * job id and the body, keyed with the directory's secret key. Agents run only specs that verify.
 */
export function signFile(kind: SignedFileKind, jobId: string, body: Uint8Array, key: Uint8Array): Uint8Array {
  return Buffer.concat([body, tag(kind, jobId, body, key)]);
}

/**
 * Checks a signed file before anything of it is decoded (decoding may import modules) and
 * returns its body. Throws `JOB_SPEC_REJECTED` or `RESULT_REJECTED` when the tag does not match:
 * the file was written without the directory's key, changed, or belongs to another job.
 */
export function verifyFile(kind: SignedFileKind, jobId: string, bytes: Uint8Array, key: Uint8Array): Uint8Array {
  const code = kind === "result" || kind === "retried" ? "RESULT_REJECTED" : "JOB_SPEC_REJECTED";
  if (bytes.length < TAG_BYTES) {
    throw new MalocherError(code, `The ${kind} file of job ${jobId} is not signed with this directory's key (too short to hold a signature).`);
  }
  const body = bytes.subarray(0, bytes.length - TAG_BYTES);
  const expected = tag(kind, jobId, body, key);
  if (!timingSafeEqual(expected, bytes.subarray(bytes.length - TAG_BYTES))) {
    throw new MalocherError(
      code,
      `The ${kind} file of job ${jobId} is not signed with this directory's key: it was written by someone without ` +
        `the key, changed after it was written, or copied from another job.`,
    );
  }
  return body;
}

/** A short public name of a key, recorded in results ("which key signed this"). */
export function keyIdOf(key: Uint8Array): string {
  return createHash("sha256").update("malocher-key-id\n").update(key).digest("hex").slice(0, 16);
}
