import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const hashes = new Map<string, { mtimeMs: number; hash: string }>();

/**
 * SHA-256 of a job module's file as it is at submit, recorded in each spec so that a result can
 * say when the code that ran was different. Rehashed only when the file's mtime changed.
 */
export function moduleHash(moduleUrl: string): string | undefined {
  let path: string;
  let mtimeMs: number;
  try {
    path = fileURLToPath(moduleUrl);
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return undefined; // a function's module that is gone meanwhile: the agent reports the import error
  }
  const known = hashes.get(moduleUrl);
  if (known?.mtimeMs === mtimeMs) return known.hash;
  try {
    const hash = createHash("sha256").update(readFileSync(path)).digest("hex");
    hashes.set(moduleUrl, { mtimeMs, hash });
    return hash;
  } catch {
    return undefined;
  }
}
