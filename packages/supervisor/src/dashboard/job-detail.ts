import { MalocherError, decodeJobSpec, decodeValue, directoryLayout, isJobId, toJobResult } from "@malocher/protocol";
import { jobExists, listDependents, loadDirectoryKey, readJobSpecBytes, readStoredResult } from "./store-access.js";
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
  /** The jobs it runs after (`after`), with their states now. */
  after?: LinkedJob[];
  /** The jobs that run after it (the first {@link MAX_DEPENDENTS_SHOWN}), with their states now. */
  dependents?: LinkedJob[];
  /** How many jobs run after it, when more than are listed. */
  dependentCount?: number;
}

/** A job named on another's page, with its state (null: not known to the index). */
export interface LinkedJob {
  id: string;
  state: JobRow["state"] | null;
}

/** A fan-out's input can have thousands of dependents: its page lists this many. */
export const MAX_DEPENDENTS_SHOWN = 100;

/**
 * Reads one job's spec and result, and names the jobs it depends on and those that depend on it
 * (their states from `rowOf`); `JOB_NOT_FOUND` (404) for an id that is not a job here.
 */
export async function readJobDetail(dir: string, jobId: string, rowOf: (jobId: string) => JobRow | undefined): Promise<JobDetail> {
  const row = rowOf(jobId);
  const linked = (id: string): LinkedJob => ({ id, state: rowOf(id)?.state ?? null });
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
    if (spec.after !== undefined && spec.after.length > 0) detail.after = spec.after.map(linked);
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
  const dependents = await listDependents(dir, jobId);
  if (dependents.length > 0) {
    detail.dependents = dependents.sort().slice(0, MAX_DEPENDENTS_SHOWN).map(linked);
    if (dependents.length > MAX_DEPENDENTS_SHOWN) detail.dependentCount = dependents.length;
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
