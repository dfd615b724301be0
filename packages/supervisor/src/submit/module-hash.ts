import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const hashes = new Map<string, string | undefined>();

/**
 * SHA-256 of a job module's file as it is when first submitted from this process, recorded in
 * each spec so that a result can say when the code that ran was different.
 */
export function moduleHash(moduleUrl: string): string | undefined {
  if (!hashes.has(moduleUrl)) {
    let hash: string | undefined;
    try {
      hash = createHash("sha256").update(readFileSync(fileURLToPath(moduleUrl))).digest("hex");
    } catch {
      hash = undefined; // the agent reports the import error
    }
    hashes.set(moduleUrl, hash);
  }
  return hashes.get(moduleUrl);
}
