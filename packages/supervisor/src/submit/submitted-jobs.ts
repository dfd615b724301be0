import { existsSync } from "node:fs";

/**
 * The jobs this process submitted into each directory since its last `processAll` there, so that
 * `processAll` yields a result for every one of them: also for jobs that had finished before (a
 * keyed job reused as it was, or one another process ran meanwhile), which a run over the
 * unfinished jobs alone would leave out. A results table built from a script's run is then
 * whole on every run of the script. Kept per process, for every `Malocher` of a directory.
 */
/** A job this process submitted: whether `submit` found it finished by its key, and its function's module file. */
export interface SubmittedJob {
  reused: boolean;
  module?: string;
}

const byDirectory = new Map<string, Map<string, SubmittedJob>>();

/** Notes that this process submitted `jobId` into `dir`; `reused`: `submit` found it finished, by its key; `module`: its function's module URL. */
export function noteSubmitted(dir: string, jobId: string, reused = false, module?: string): void {
  let jobs = byDirectory.get(dir);
  if (jobs === undefined) byDirectory.set(dir, (jobs = new Map()));
  jobs.set(jobId, module === undefined ? { reused } : { reused, module });
}

/**
 * The jobs noted for `dir` since the last call, forgetting them; with `only` (a run of some jobs),
 * just those of them, forgetting only those.
 */
export function takeSubmitted(dir: string, only?: readonly string[]): Map<string, SubmittedJob> {
  const jobs = byDirectory.get(dir) ?? new Map<string, SubmittedJob>();
  if (only === undefined) {
    byDirectory.delete(dir);
    return jobs;
  }
  const taken = new Map<string, SubmittedJob>();
  for (const jobId of only) {
    const job = jobs.get(jobId);
    if (job === undefined) continue;
    taken.set(jobId, job);
    jobs.delete(jobId);
  }
  return taken;
}

/**
 * The other directories (still there) this process submitted jobs into that no `processAll` there
 * took yet, with how many (of `jobIds`, if given): what a run that finds nothing in `dir` was
 * likely meant for.
 */
export function submittedElsewhere(dir: string, jobIds?: readonly string[]): Array<{ dir: string; jobs: number }> {
  const elsewhere: Array<{ dir: string; jobs: number }> = [];
  for (const [other, jobs] of byDirectory) {
    if (other === dir || !existsSync(other)) continue;
    const count = jobIds === undefined ? jobs.size : jobIds.filter((jobId) => jobs.has(jobId)).length;
    if (count > 0) elsewhere.push({ dir: other, jobs: count });
  }
  return elsewhere;
}
