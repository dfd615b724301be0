import { JOB_STATES, decodeJobSpec, decodeValue, directoryLayout, type JobSpec, type JobState } from "@malocher/protocol";
import { listJobIds, submittedAmong } from "./job-listing.js";
import { loadDirectoryKey } from "./directory-key.js";
import { readJobSpecBytes } from "./read-job-spec-bytes.js";
import { readStoredResult } from "./read-result.js";
import { decideJobState } from "./read-job-state.js";
import { hostOfAgent } from "./directory-status.js";
import { factsOf, readStateMarkers } from "./state-markers.js";

/** The states a job is listed in: a job's (`JOB_STATES`), and `unqueued`. */
export const LISTED_JOB_STATES: readonly string[] = [...JOB_STATES, "unqueued"];

/** One job as `malocher jobs` lists it: its state and what a person tells jobs apart by. */
export interface JobListing {
  jobId: string;
  /** Its state (`decideJobState`); `unqueued` for a spec whose queue marker was never written. */
  state: JobState | "unqueued";
  name?: string;
  tags?: string[];
  key?: string;
  /** The jobs it waits for, or waited for (`resultOf`, `after`). */
  after?: string[];
  /** Where it ran (finished) or runs (running): the machine as the user named it. */
  host?: string;
  /** Runs it took, and how long the last one ran (finished jobs). */
  attempts?: number;
  durationMs?: number;
  submittedAt?: number;
  /** What it runs: the function and its arguments (decoded, classes as placeholders), or the command's argv. */
  what?: { kind: "function"; module: string; export: string; args: unknown[] | undefined } | { kind: "command"; argv: string[] };
}

/** Which jobs {@link listJobs} lists: each given field must match (a list: any of its entries). */
export interface JobFilter {
  /** Only these jobs (unknown ids are left out). */
  jobIds?: readonly string[];
  states?: readonly string[];
  names?: readonly string[];
  tags?: readonly string[];
  hosts?: readonly string[];
}

/** Every job of `dir` with its state, name, key, host and what it runs, oldest first; only those `filter` admits. */
export async function listJobs(dir: string, filter: JobFilter = {}): Promise<JobListing[]> {
  // A few given jobs are looked up one by one, not found in a listing of the whole directory.
  const listIds = async () => (filter.jobIds === undefined ? listJobIds(dir) : [...(await submittedAmong(dir, new Set(filter.jobIds)))].sort());
  const [ids, markers] = await Promise.all([listIds(), readStateMarkers(dir)]);
  const secretKey = loadDirectoryKey(dir, { create: false });
  const hosts = new Map<string, string>();
  const listed: JobListing[] = [];
  for (const jobId of ids) {
    const result = await readStoredResult(dir, jobId).catch(() => undefined);
    const agentId = markers.claimedBy.get(jobId);
    const state = decideJobState(factsOf(markers, jobId, result)) ?? "unqueued";
    if (filter.states !== undefined && !filter.states.includes(state)) continue;
    const host = result?.host ?? (state === "running" && agentId !== undefined ? await hostOfAgent(dir, agentId, hosts) : undefined);
    if (filter.hosts !== undefined && (host === undefined || !filter.hosts.includes(host))) continue;
    const spec = await readSpec(dir, jobId, secretKey);
    const name = spec?.name ?? result?.name;
    const tags = spec?.tags ?? result?.tags;
    if (filter.names !== undefined && (name === undefined || !filter.names.includes(name))) continue;
    if (filter.tags !== undefined && !(tags ?? []).some((tag) => filter.tags!.includes(tag))) continue;
    listed.push({
      jobId,
      state,
      ...(name === undefined ? {} : { name }),
      ...(tags === undefined ? {} : { tags }),
      ...(spec?.key === undefined ? {} : { key: spec.key }),
      ...(spec?.after === undefined ? {} : { after: spec.after }),
      ...(host === undefined ? {} : { host }),
      ...(result === undefined ? {} : { attempts: result.attempts, durationMs: result.durationMs }),
      ...(spec === undefined ? {} : { submittedAt: spec.submittedAt, what: whatItRuns(spec) }),
    });
  }
  return listed;
}

/** A job's spec, or undefined when it cannot be read (the listing still shows the job). */
export async function readSpec(dir: string, jobId: string, secretKey: Uint8Array): Promise<JobSpec | undefined> {
  try {
    return decodeJobSpec(await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId), jobId, secretKey);
  } catch {
    return undefined;
  }
}

/** What a spec runs, for people: the function and its decoded arguments, or the command. */
export function whatItRuns(spec: JobSpec): NonNullable<JobListing["what"]> {
  if (spec.kind === "command") return { kind: "command", argv: spec.argv };
  let args: unknown[] | undefined;
  try {
    args = decodeValue(spec.args) as unknown[];
  } catch {
    args = undefined;
  }
  return { kind: "function", module: spec.fn.module, export: spec.fn.export, args };
}
