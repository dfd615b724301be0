import { newJobId, sealSecret, type JobSpecBase } from "@malocher/protocol";
import { resolveJobOptions, type JobOptions, type ResolvedJobOptions } from "./job-options.js";

/** The fields every job spec has, from the per-job options: a fresh id, cwd, env (secrets sealed), run options, name and tags. */
export function prepareJobBase(options: JobOptions, directoryKey: Uint8Array): JobSpecBase {
  return jobBaseOf(resolveJobOptions(options), directoryKey);
}

/**
 * The same from options checked already: what the jobs of a batch share, each with its own id
 * (`jobId`, default a fresh one) and sealed secrets.
 */
export function jobBaseOf(options: ResolvedJobOptions, directoryKey: Uint8Array, jobId: string = newJobId()): JobSpecBase {
  const { cwd, cwdNamed, env, secrets, run, nameAndTags, key, after } = options;
  const secretEnv: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(secrets)) secretEnv[name] = sealSecret(value.reveal(), jobId, name, directoryKey);
  const base: JobSpecBase = { jobId, cwd, ...(cwdNamed ? { cwdNamed } : {}), env, secretEnv, submittedAt: Date.now(), options: run, ...nameAndTags, ...(key === undefined ? {} : { key }) };
  if (after.length > 0) base.after = [...after];
  return base;
}
