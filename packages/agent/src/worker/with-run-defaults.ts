import type { JobSpec, RunSettings } from "@malocher/protocol";

/**
 * The spec as the job runs it in this run: the run's `env` under the job's own entries (the
 * job's win), and the run's `cwd` unless the job named its own (`cwdNamed`).
 */
export function withRunDefaults<S extends JobSpec>(spec: S, run: Pick<RunSettings, "env" | "cwd">): S {
  const cwd = spec.cwdNamed === true || run.cwd === undefined ? spec.cwd : run.cwd;
  return { ...spec, cwd, env: { ...run.env, ...spec.env } };
}

/** What to do about a job's working directory that a node lacks, wherever it came from. */
export const CWD_FIX =
  "Submit from a directory on the shared file system, or name one that every node has: for the job (submit.with({ cwd }), submit --cwd) or for the run (processAll({ cwd }), run --cwd).";
