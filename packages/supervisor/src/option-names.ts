import { MalocherError } from "@malocher/protocol";
import type { ClusterOptions } from "./cluster-options.js";
import type { RunOptions } from "./process-all.js";
import type { CommandJobOptions, JobOptions } from "./submit/job-options.js";
import type { DashboardOptions } from "./dashboard/dashboard-options.js";
import type { JobFilter } from "@malocher/store";
import type { SshOptions } from "./ssh/node-target.js";

/**
 * The option names of each entry point, as records over the options' types: the compiler then
 * insists that every option is listed and nothing else, so the lists cannot drift from the types.
 */
/** The SSH options that say how to reach machines, not which (all but `sshMachines`). */
export const SSH_SETTING_NAMES: Record<Exclude<keyof SshOptions, "sshMachines">, true> = {
  sshPort: true,
  sshUsername: true,
  sshPrivateKey: true,
  knownHosts: true,
  sshConfig: true,
  sshPassphrase: true,
  sshStrictHostKeyChecking: true,
};

export const CLUSTER_OPTION_NAMES: Record<keyof ClusterOptions, true> = {
  dir: true,
  slots: true,
  heartbeatTimeoutMs: true,
  leaseTimeoutMs: true,
  maxJobsPerWorker: true,
  maxWorkerMemoryMb: true,
  maxLogBytes: true,
  allowSharedWriters: true,
  maxNodeRestarts: true,
  killGraceMs: true,
  drainTimeoutMs: true,
  env: true,
  cwd: true,
  onWarning: true,
  slurm: true,
  dashboard: true,
  sshMachines: true,
  ...SSH_SETTING_NAMES,
  timeoutMs: true,
  retries: true,
  retryOnError: true,
};

export const DASHBOARD_OPTION_NAMES: Record<keyof DashboardOptions, true> = {
  port: true,
  host: true,
  readOnly: true,
  token: true,
  onListening: true,
  onWarning: true,
};

export const JOB_FILTER_NAMES: Record<keyof JobFilter, true> = {
  jobIds: true,
  states: true,
  names: true,
  tags: true,
  hosts: true,
};

export const RUN_OPTION_NAMES: Record<keyof RunOptions, true> = {
  jobs: true,
  onEvent: true,
  onProgress: true,
  signal: true,
  drainSignal: true,
  keepAlive: true,
};

export const JOB_OPTION_NAMES: Record<keyof JobOptions, true> = {
  cwd: true,
  env: true,
  key: true,
  name: true,
  tags: true,
  timeoutMs: true,
  retries: true,
  retryOnError: true,
  killGraceMs: true,
  on: true,
  slots: true,
  after: true,
};

export const COMMAND_JOB_OPTION_NAMES: Record<keyof CommandJobOptions, true> = { ...JOB_OPTION_NAMES, replaceJobSlot: true };

/** The names of one or more of the records above. */
export function optionNames(...records: Array<Record<string, true>>): string[] {
  return records.flatMap((record) => Object.keys(record));
}

/**
 * Refuses an option name that `known` lacks with `INVALID_OPTIONS`, naming it and the closest
 * known name: a misspelt option (`slrum`, `sshMachine`) is otherwise silently ignored, and a run
 * meant for a cluster goes local. `options` that is not an object is left to the caller's checks.
 *
 * @param where the entry point, for the message (`processAll`, `submit.with`)
 * @param prefix put before names in the message (`slurm.` for the options inside `slurm`)
 */
export function rejectUnknownNames(options: unknown, known: Record<string, true> | readonly string[], where: string, prefix = ""): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) return;
  const names = Array.isArray(known) ? known : Object.keys(known);
  for (const name of Object.keys(options)) {
    if (names.includes(name)) continue;
    const closest = closestName(name, names);
    const hint = closest === undefined ? "" : ` Did you mean ${prefix}${closest}?`;
    throw new MalocherError("INVALID_OPTIONS", `${where}: unknown option ${prefix}${name}.${hint} Known options: ${names.map((known) => prefix + known).join(", ")}.`);
  }
}

/**
 * The known name nearest to `name` (edit distance, ignoring case), if it is near enough to be a
 * slip: at most 2 edits, or a few more when they share their first 4 letters (`retry`, `retries`).
 */
function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    // An extension (`sshMachine` for `sshMachines`, `timeout` for `timeoutMs`) is a slip too.
    const distance = other.startsWith(lower) || lower.startsWith(other) ? Math.abs(other.length - lower.length) * 0.5 : editDistance(lower, other);
    const near = distance <= 2 || (lower.slice(0, 4) === other.slice(0, 4) && distance <= lower.length / 2 + 1);
    if (near && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Damerau-Levenshtein distance (a swap of neighbours counts as one edit: `slrum` → `slurm` is 1). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
