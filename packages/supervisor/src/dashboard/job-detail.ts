import { MalocherError, decodeJobSpec, decodeValue, directoryLayout, isJobId, toJobResult } from "@malocher/protocol";
import { jobExists, loadDirectoryKey, readJobSpecBytes, readStoredResult } from "./store-access.js";
import type { JobRow } from "./job-index.js";
import { previewValue } from "./value-preview.js";

/** One job as its page shows it (`GET /api/jobs/<id>`). */
export interface JobDetail {
  id: string;
  state: JobRow["state"];
  name?: string;
  tags?: string[];
  /** `module#export` for a function job, the argv for a command job. */
  function?: string;
  argv?: string[];
  argsPreview?: string;
  submittedAt?: number;
  cwd?: string;
  /** Names of the variables the job gets (values are not shown: they may be secret). */
  env?: string[];
  options?: Record<string, unknown>;
  host?: string;
  attempts?: number;
  durationMs?: number;
  finishedAt?: number;
  runningSince?: number;
  ok?: boolean;
  valuePreview?: string;
  error?: { name: string; code?: string; message: string; stack?: string; exitCode?: number | null; signal?: string | null };
  specError?: string;
  /** The jobs it runs after (`after`; the first {@link MAX_LINKED_SHOWN}), with their states now. */
  after?: LinkedJob[];
  /** How many jobs it runs after, when more than are listed. */
  afterCount?: number;
  /** The jobs that run after it (the first {@link MAX_LINKED_SHOWN}), with their states now. */
  dependents?: LinkedJob[];
  /** How many jobs run after it, when more than are listed. */
  dependentCount?: number;
}

/** A job named on another's page, with its state (null: not known to the index). */
export interface LinkedJob {
  id: string;
  state: JobRow["state"] | null;
}

/** A fan-out's input can have thousands of dependents, a fan-in thousands of dependencies: a page lists this many of each. */
export const MAX_LINKED_SHOWN = 100;

/** Where a job's page finds the states of other jobs and the jobs that depend on it. */
export interface JobLinks {
  /** A job's row in the index (undefined: not in the directory, or not listed yet). */
  rowOf(jobId: string): JobRow | undefined;
  /** Whether a job is surely gone from the directory: no row, and the index has read the directory. */
  isGone(jobId: string): boolean;
  /** The jobs that depend on a job, sorted (see `DependentsListing`). */
  dependentsOf(jobId: string): Promise<string[]>;
}

/** The first {@link MAX_LINKED_SHOWN} of `ids` with their states, and their count when there are more. */
function linkedJobs(ids: readonly string[], rowOf: JobLinks["rowOf"]): { jobs: LinkedJob[]; count?: number } {
  const jobs = ids.slice(0, MAX_LINKED_SHOWN).map((id) => ({ id, state: rowOf(id)?.state ?? null }));
  return ids.length > MAX_LINKED_SHOWN ? { jobs, count: ids.length } : { jobs };
}

/**
 * Reads one job's spec and result, and names the jobs it depends on and those that depend on it
 * (their states from `rowOf`); `JOB_NOT_FOUND` (404) for an id that is not a job here.
 */
export async function readJobDetail(dir: string, jobId: string, links: JobLinks): Promise<JobDetail> {
  const row = links.rowOf(jobId);
  if (!isJobId(jobId)) throw new MalocherError("INVALID_OPTIONS", `${JSON.stringify(jobId.slice(0, 100))} is not a job id.`);
  if (row === undefined && !(await jobExists(dir, jobId))) throw new MalocherError("JOB_NOT_FOUND", `No job ${jobId} in ${dir}.`);
  const detail: JobDetail = { id: jobId, state: row?.state };
  if (row?.runningSince !== undefined && row.state === "running") detail.runningSince = row.runningSince;
  if (row?.host !== undefined) detail.host = row.host;
  const key = loadDirectoryKey(dir, { create: false });
  try {
    const spec = decodeJobSpec(await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId), jobId, key);
    if (spec.name !== undefined) detail.name = spec.name;
    if (spec.tags !== undefined) detail.tags = spec.tags;
    detail.submittedAt = spec.submittedAt;
    detail.cwd = spec.cwd;
    detail.env = [...Object.keys(spec.env), ...Object.keys(spec.secretEnv)];
    detail.options = { ...spec.options };
    if (spec.after !== undefined && spec.after.length > 0) {
      const { jobs, count } = linkedJobs(spec.after, links.rowOf);
      detail.after = jobs;
      if (count !== undefined) detail.afterCount = count;
    }
    if (spec.kind === "command") detail.argv = spec.argv;
    else {
      detail.function = `${spec.fn.module}#${spec.fn.export}`;
      try {
        detail.argsPreview = previewValue(decodeValue(spec.args));
      } catch (error) {
        detail.argsPreview = `(cannot decode: ${(error as Error).message})`;
      }
    }
  } catch (error) {
    detail.specError = (error as Error).message;
  }
  // A dependent cleaned before this job left its entry in the index: it is no job here any more.
  const dependents = (await links.dependentsOf(jobId)).filter((id) => !links.isGone(id));
  if (dependents.length > 0) {
    const { jobs, count } = linkedJobs(dependents, links.rowOf);
    detail.dependents = jobs;
    if (count !== undefined) detail.dependentCount = count;
  }
  const stored = await readStoredResult(dir, jobId).catch((error: Error) => error);
  if (stored instanceof Error) {
    detail.ok = false;
    detail.error = { name: "MalocherError", code: "RESULT_UNREADABLE", message: stored.message };
  } else if (stored !== undefined) {
    detail.host = stored.host;
    detail.attempts = stored.attempts;
    detail.durationMs = stored.durationMs;
    detail.finishedAt = stored.finishedAt;
    detail.ok = stored.ok;
    if (stored.name !== undefined) detail.name = stored.name;
    if (stored.tags !== undefined) detail.tags = stored.tags;
    // Classes are not loaded: the dashboard never imports the user's modules (placeholders show their class's name).
    const result = await toJobResult(stored);
    if (result.ok) detail.valuePreview = previewValue(result.value);
    else {
      const { name, code, message, stack, exitCode, signal } = result.error;
      detail.error = { name, message, ...(code === undefined ? {} : { code }), ...(stack === undefined ? {} : { stack }), ...(exitCode === undefined ? {} : { exitCode }), ...(signal === undefined ? {} : { signal }) };
    }
  }
  return detail;
}
