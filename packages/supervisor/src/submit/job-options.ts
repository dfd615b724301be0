import { resolve } from "node:path";
import { MalocherError } from "@malocher/protocol";

/**
 * Per-job options, given as `submit.with(options)(fn, ...args)`.
 *
 * @example
 * ```ts
 * submit.with({ cwd: "/shared/project", env: { OMP_NUM_THREADS: "1" } })(train, 3);
 * ```
 */
export interface JobOptions {
  /** Working directory of the job on the node; default the submitter's working directory. */
  cwd?: string;
  /** Variables added to the node's own environment for this job (the submitter's is not copied). */
  env?: Record<string, string>;
}

/** Checks options given at submit and fills in the defaults. */
export function resolveJobOptions(options: JobOptions): Required<JobOptions> {
  if (options.cwd !== undefined && typeof options.cwd !== "string") {
    throw new MalocherError("INVALID_OPTIONS", `submit.with({ cwd }) needs a path, got ${typeof options.cwd}.`);
  }
  const cwd = options.cwd === undefined ? process.cwd() : resolve(options.cwd);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (typeof value !== "string") {
      throw new MalocherError(
        "INVALID_OPTIONS",
        `submit.with({ env }) needs string values; env.${name} is ${typeof value}. Use String(value).`,
      );
    }
    env[name] = value;
  }
  return { cwd, env };
}
