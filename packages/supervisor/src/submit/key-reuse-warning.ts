import type { KeyedJobOutcome } from "@malocher/store";

/** Keys warned about per process; then one last warning says no more come (a sweep may change them all). */
const MAX_WARNINGS = 3;
let warnings = 0;

/**
 * Warns (a Node process warning, `MALOCHER_KEY_REUSED`) that `submit.with({ key })` found the job
 * of `key` submitted with `difference` ("other arguments", "another function", "another command",
 * "other dependencies"), and that this job, as it was, stands for the submission: rerun if it had
 * failed, reused if it had run. A changed argument under an old key would otherwise be silently
 * ignored.
 */
export function warnKeyReused(key: string, jobId: string, difference: string, found: KeyedJobOutcome): void {
  if (warnings >= MAX_WARNINGS) return;
  warnings++;
  const what = found === "rerun" ? "it failed, and runs again" : found === "finished" ? "its result is reused" : "it is still to finish";
  const last = warnings === MAX_WARNINGS ? " (No more warnings of this kind in this process.)" : "";
  process.emitWarning(
    `submit with key ${JSON.stringify(key)}: job ${jobId} of that key was submitted with ${difference}, and it stands for this submission as it was (${what}). ` +
      `A key names one job: for a new one, use a key that says what differs, or \`malocher clean\` the old job first.${last}`,
    { code: "MALOCHER_KEY_REUSED" },
  );
}
