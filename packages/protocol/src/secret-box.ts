import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { MalocherError } from "./malocher-error.js";

const IV_BYTES = 12;
const AUTH_TAG_BYTES = 16;

function secretKey(directoryKey: Uint8Array): Buffer {
  return createHmac("sha256", directoryKey).update("malocher-secret-env\n").digest();
}

/**
 * Encrypts one secret value for a job spec with AES-256-GCM under a key derived from the
 * directory's key; the job id and the variable's name are bound in as associated data, so a
 * sealed value cannot be moved to another job or variable. Layout: iv ‖ ciphertext ‖ auth tag.
 */
export function sealSecret(value: string, jobId: string, name: string, directoryKey: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", secretKey(directoryKey), iv);
  cipher.setAAD(Buffer.from(`${jobId}\n${name}`));
  const ciphertext = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
}

/** Decrypts what {@link sealSecret} sealed; throws `JOB_SPEC_REJECTED` if it does not open. */
export function openSecret(sealed: Uint8Array, jobId: string, name: string, directoryKey: Uint8Array): string {
  try {
    const bytes = Buffer.from(sealed);
    const decipher = createDecipheriv("aes-256-gcm", secretKey(directoryKey), bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(`${jobId}\n${name}`));
    decipher.setAuthTag(bytes.subarray(bytes.length - AUTH_TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - AUTH_TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch (error) {
    throw new MalocherError("JOB_SPEC_REJECTED", `The secret ${name} of job ${jobId} cannot be decrypted with this directory's key.`, {
      cause: error,
    });
  }
}
