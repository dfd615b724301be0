import { Buffer } from "node:buffer";
import { decodeJobSpec, directoryLayout, type JobSpec } from "@malocher/protocol";
import { readRegularFileSync } from "./safe-file.js";

/**
 * What a submission with a key asks for that the job of that key, submitted before, does not: its
 * function, command, arguments or dependencies ("other arguments", …), or undefined when they are the
 * same (or the job's spec cannot be read: nothing to compare). A key names one job, so that job
 * stands for the submission whatever it asked for: this says when that may not be what was meant.
 */
export function keyedJobDifference(dir: string, jobId: string, submitted: JobSpec, secretKey: Uint8Array): string | undefined {
  const existing = readKeyedJobSpec(dir, jobId, secretKey);
  if (existing === undefined) return undefined;
  if (existing.kind === "command" || submitted.kind === "command") {
    if (existing.kind !== "command" || submitted.kind !== "command") return "another kind of job";
    if (JSON.stringify(existing.argv) !== JSON.stringify(submitted.argv)) return "another command";
  } else {
    if (existing.fn.module !== submitted.fn.module || existing.fn.export !== submitted.fn.export) return "another function";
    if (!Buffer.from(existing.args).equals(Buffer.from(submitted.args))) return "other arguments";
  }
  if (JSON.stringify([...(existing.after ?? [])].sort()) !== JSON.stringify([...(submitted.after ?? [])].sort())) return "other dependencies";
  return undefined;
}

/** The spec of a keyed job (a job of its own spec file, never a batch's), read synchronously (`submit` is); undefined when it cannot be read or verified. */
export function readKeyedJobSpec(dir: string, jobId: string, secretKey: Uint8Array): JobSpec | undefined {
  try {
    return decodeJobSpec(readRegularFileSync(directoryLayout.specFile(dir, jobId)), jobId, secretKey);
  } catch {
    return undefined;
  }
}
