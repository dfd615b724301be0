import { MalocherError } from "@malocher/protocol";

/**
 * Ends a command that acted on the jobs it was given (`cancel`, `retry`) with `JOB_NOT_FOUND`
 * (exit 2) when some of them are no jobs of the directory: a script with a mistyped id must not
 * take it for done. The others were handled, as printed.
 */
export function refuseUnknownJobs(outcomes: Record<string, string>, dir: string): void {
  const unknown = Object.keys(outcomes).filter((jobId) => outcomes[jobId] === "unknown");
  if (unknown.length === 0) return;
  const others = unknown.length < Object.keys(outcomes).length ? " The other jobs were handled as printed." : "";
  throw new MalocherError("JOB_NOT_FOUND", `No job ${unknown.join(", ")} in ${dir} (\`malocher jobs\` lists its jobs).${others}`);
}
