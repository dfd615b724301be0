/**
 * Jobs that wait for the jobs they depend on (`resultOf`, `after`). A waiting job has a directory
 * `waiting/<shard>/<jobId>/` with one empty file per dependency not yet seen succeeded, and an
 * entry `dependents/<shard>/<depId>/<jobId>` in the reverse index for each of them, written
 * before the waiting directory appears. Whoever sees a dependency succeed removes its file and
 * tries to remove the directory: `rmdir` succeeds only on an empty directory and only once, so
 * exactly one process queues the job, and nobody ever reads a count. A failed or cancelled
 * dependency fails the job (`DEPENDENCY_FAILED`) instead: whoever renames the directory away
 * publishes that failure, whose own dependents then fail the same way, and then looks whether the
 * dependency still has its failure: a retry that set it aside meanwhile may have passed over the
 * job, whose result was not there yet, and the job waits again (`rearmDependent`).
 *
 * Who settles a waiting job: the publisher of a dependency's result (`settleDependents`, in
 * `publishResult`); its submitter, which looks at every dependency again once the directory is in
 * place (a result published in between found no directory to settle); and any supervisor's
 * sweep (`sweepWaitingJobs`), for a process that died between publishing a result and settling
 * its dependents. A job that died half-armed or half-queued (no marker anywhere) is armed again
 * by the orphan sweep (`recover-orphaned-jobs.ts`).
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync, unlinkSync } from "node:fs";
import { readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  SHARDS,
  cancelled,
  dependencyFailed,
  directoryLayout,
  encodeStoredResult,
  isJobId,
  outcomeWithoutRun,
  type JobNameAndTags,
} from "@malocher/protocol";
import { enqueueJob } from "./queue-marker.js";
import { tmpPath, writeFileOnceSync } from "./write-file-atomic.js";
import { DependencyStates } from "./dependency-state.js";
import { loadDirectoryKey } from "./directory-key.js";
import { publishResult, type SettledDependents } from "./publish-result.js";
import { readJobNameAndTags } from "./read-job-name-and-tags.js";
import { pathExists } from "./path-exists.js";
import { createFileSync, makePrivateDirSync, makeRealDirectorySync } from "./safe-file.js";
import { rearmDependent, setAsideResultSync } from "./settle-dependents.js";

/** Where a job stands after it was armed or settled: queued (by us), still waiting (or moved on by someone else), or blocked by a failed dependency. */
export type Settled =
  | { state: "queued" }
  | { state: "waiting" }
  | { state: "blocked"; depId: string; error: { code?: string; message: string } };

const IGNORED = new Set(["ENOENT", "EEXIST", "ENOTEMPTY"]);

/** Runs `run`; whether it succeeded, false when it threw one of `codes`. */
function succeeds(codes: ReadonlySet<string>, run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch (error) {
    if (codes.has((error as NodeJS.ErrnoException).code ?? "")) return false;
    throw error;
  }
}

const ENOENT = new Set(["ENOENT"]);

async function succeedsAsync(codes: ReadonlySet<string>, run: Promise<unknown>): Promise<boolean> {
  try {
    await run;
    return true;
  } catch (error) {
    if (codes.has((error as NodeJS.ErrnoException).code ?? "")) return false;
    throw error;
  }
}

/**
 * Puts job `jobId`, whose spec is written and which depends on `after`, where it belongs: queued
 * when every dependency has succeeded; otherwise waiting, with its waiting directory (built in
 * `tmp/` and renamed in, whole), settled once more after that. First, in either case, a
 * reverse-index entry per dependency (`dependents/`): for the dependencies still to come, so that
 * their results settle it; for the ones done, so that `clean` keeps their results until it ran.
 * `blocked`: a dependency failed; the caller fails the job (`failWaitingJobSync`,
 * `failWaitingJob`). Synchronous, for `submit`; also how a retried or orphaned job is armed again.
 * `madeDirs` remembers index directories made, across a batch.
 */
export function armWaitingJobSync(dir: string, jobId: string, after: readonly string[], states: DependencyStates, madeDirs: Set<string> = new Set()): Settled {
  const open = after.filter((depId) => states.readSync(depId).state !== "succeeded");
  for (const depId of after) {
    const index = directoryLayout.dependentsOfDir(dir, depId);
    if (!madeDirs.has(index)) {
      // Not into a symlink another account put there: the entry would be made in its target.
      makeRealDirectorySync(index);
      madeDirs.add(index);
    }
    succeeds(IGNORED, () => createFileSync(directoryLayout.dependentFile(dir, depId, jobId)));
  }
  if (open.length === 0) {
    succeeds(IGNORED, () => enqueueJob(dir, jobId));
    return { state: "queued" };
  }
  const building = tmpPath(dir);
  makePrivateDirSync(building);
  for (const depId of open) createFileSync(join(building, depId));
  const target = directoryLayout.waitingJobDir(dir, jobId);
  try {
    renameInto(building, target);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    // Waiting already (armed twice): settled below like any other.
    if (!IGNORED.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
  }
  return settleWaitingJobSync(dir, jobId, states);
}

/** Renames a built waiting directory into place, making its shard directory when it is missing (a directory made before `waiting/`). */
function renameInto(building: string, target: string): void {
  try {
    renameSync(building, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    renameSync(building, target);
  }
}

/** {@link settleWaitingJob}, synchronous. */
function settleWaitingJobSync(dir: string, jobId: string, states: DependencyStates): Settled {
  const waiting = directoryLayout.waitingJobDir(dir, jobId);
  if (removePlantedWaitingEntrySync(dir, jobId)) return { state: "waiting" };
  let entries: string[] = [];
  if (!succeeds(ENOENT, () => (entries = readdirSync(waiting)))) return { state: "waiting" }; // queued or failed by someone else meanwhile
  for (const depId of entries.filter(isJobId)) {
    const state = states.readSync(depId);
    if (state.state === "failed") return { state: "blocked", depId, error: state.error };
    if (state.state === "succeeded") succeeds(ENOENT, () => unlinkSync(join(waiting, depId)));
  }
  if (!succeeds(IGNORED, () => rmdirSync(waiting))) return { state: "waiting" };
  succeeds(IGNORED, () => enqueueJob(dir, jobId));
  return { state: "queued" };
}

/**
 * Looks at each dependency a waiting job still waits for: a succeeded one's file goes, a failed
 * one blocks it; once none is left, the one process whose `rmdir` succeeds queues the job.
 */
export async function settleWaitingJob(dir: string, jobId: string, states: DependencyStates): Promise<Settled> {
  const waiting = directoryLayout.waitingJobDir(dir, jobId);
  if (removePlantedWaitingEntrySync(dir, jobId)) return { state: "waiting" };
  let entries: string[];
  try {
    entries = await readdir(waiting);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: "waiting" };
    throw error;
  }
  for (const depId of entries.filter(isJobId)) {
    const state = await states.read(depId);
    if (state.state === "failed") return { state: "blocked", depId, error: state.error };
    if (state.state === "succeeded") await succeedsAsync(IGNORED, unlink(join(waiting, depId)));
  }
  return queueIfEmpty(dir, jobId);
}

/**
 * Removes what stands at job `jobId`'s waiting directory if it is no directory (a symlink or a file
 * another account put there: entries removed through a symlink would be another directory's
 * files); whether it removed one. The job, then in no state, is armed again by the orphan sweep
 * (see `recover-orphaned-jobs.ts`).
 */
export function removePlantedWaitingEntrySync(dir: string, jobId: string): boolean {
  const waiting = directoryLayout.waitingJobDir(dir, jobId);
  try {
    if (lstatSync(waiting).isDirectory()) return false;
  } catch {
    return false; // nothing there
  }
  // A directory renamed into place meanwhile is not removed (EISDIR; EPERM on macOS).
  return succeeds(UNLINK_RACES, () => unlinkSync(waiting));
}

/** What unlinking a planted waiting entry may meet when a real directory took its place, or it went. */
const UNLINK_RACES = new Set(["ENOENT", "EISDIR", "EPERM"]);

/** Queues a waiting job whose directory is empty, if this process is the one that removes it. */
export async function queueIfEmpty(dir: string, jobId: string): Promise<Settled> {
  if (removePlantedWaitingEntrySync(dir, jobId)) return { state: "waiting" };
  if (!(await succeedsAsync(IGNORED, rmdir(directoryLayout.waitingJobDir(dir, jobId))))) return { state: "waiting" };
  succeeds(IGNORED, () => enqueueJob(dir, jobId));
  return { state: "queued" };
}

/**
 * Fails a waiting job because its dependency `depId` failed with `depError`: its waiting
 * directory is renamed away (so of several processes exactly one goes on), then its
 * `DEPENDENCY_FAILED` result is published, which fails its own dependents in turn. False when the
 * job was not waiting (someone else queued or failed it). A process that dies in between
 * leaves the job nowhere, and the orphan sweep arms it again, which fails it again.
 */
export async function failWaitingJob(
  dir: string,
  jobId: string,
  depId: string,
  depError: { code?: string; message: string },
  settled?: SettledDependents,
): Promise<boolean> {
  const taken = tmpPath(dir);
  if (!(await succeedsAsync(ENOENT, rename(directoryLayout.waitingJobDir(dir, jobId), taken)))) return false;
  // A job someone asked to cancel ends cancelled, whatever its dependency did (`cancelJobs` marks a whole list first).
  const cancelledFirst = await pathExists(directoryLayout.cancelFile(dir, jobId));
  const failure = cancelledFirst ? cancelled("before it ran") : dependencyFailed(depId, depError);
  await publishResult(dir, outcomeWithoutRun(jobId, 0, failure, await readJobNameAndTags(dir, jobId)), settled);
  settled?.failed.push(jobId);
  await rm(taken, { recursive: true, force: true });
  // The failure we passed on may be gone by now: a retry set it aside, and its rearm (which sets
  // this job waiting again) may have looked here before our result was there. Then we do it.
  if (!cancelledFirst && (await new DependencyStates(dir).read(depId)).state !== "failed") {
    // Those armed again failed no more: they are not told as failed.
    const rearmed = new Set(await rearmDependent(dir, jobId));
    if (settled !== undefined && rearmed.size > 0) {
      let kept = 0;
      for (const id of settled.failed) if (!rearmed.has(id)) settled.failed[kept++] = id;
      settled.failed.length = kept;
    }
  }
  return true;
}

/**
 * {@link failWaitingJob} at submit, synchronous: a job just submitted (waiting for `after`) has no
 * dependents yet. Should the dependency's failure be gone once ours is written (a retry set it
 * aside, and passed over this job, whose result was not there yet), the job waits again.
 */
export function failWaitingJobSync(dir: string, jobId: string, depId: string, depError: { code?: string; message: string }, nameAndTags: JobNameAndTags, after: readonly string[]): void {
  const taken = tmpPath(dir);
  if (!succeeds(ENOENT, () => renameSync(directoryLayout.waitingJobDir(dir, jobId), taken))) return;
  const key = loadDirectoryKey(dir, { create: false });
  const bytes = encodeStoredResult(outcomeWithoutRun(jobId, 0, dependencyFailed(depId, depError), nameAndTags), key);
  writeFileOnceSync(dir, directoryLayout.resultFile(dir, jobId), bytes);
  rmSync(taken, { recursive: true, force: true });
  if (new DependencyStates(dir).readSync(depId).state === "failed" || !setAsideResultSync(dir, jobId, key, bytes)) return;
  const armed = armWaitingJobSync(dir, jobId, after, new DependencyStates(dir));
  if (armed.state === "blocked") failWaitingJobSync(dir, jobId, armed.depId, armed.error, nameAndTags, after);
}

/** Ids of the jobs waiting for dependencies. */
export async function listWaitingIds(dir: string): Promise<Set<string>> {
  const perShard = await Promise.all(SHARDS.map((shard) => readdir(directoryLayout.waitingShardDir(dir, shard)).catch((): string[] => [])));
  return new Set(perShard.flat().filter(isJobId));
}

/**
 * Settles every waiting job (a supervisor's sweep): one whose dependencies all succeeded is
 * queued, one with a failed dependency fails. Needed only after a process died between publishing
 * a result and settling its dependents. Returns what it queued and failed.
 */
export async function sweepWaitingJobs(dir: string): Promise<SettledDependents> {
  const settled: SettledDependents = { queued: [], failed: [] };
  const states = new DependencyStates(dir, true);
  for (const jobId of await listWaitingIds(dir)) {
    const outcome = await settleWaitingJob(dir, jobId, states);
    if (outcome.state === "queued") settled.queued.push(jobId);
    // A failure read before a retry set it aside (the states of one sweep are remembered) fails nothing: it is read again.
    else if (outcome.state === "blocked" && (await new DependencyStates(dir).read(outcome.depId)).state === "failed") {
      await failWaitingJob(dir, jobId, outcome.depId, outcome.error, settled);
    }
  }
  return settled;
}

/**
 * How many of `jobIds` wait for dependencies: fewer jobs than shards are looked up one by one
 * (a warm run of one job must not list 16 directories), more by listing `waiting/`.
 */
export async function countWaiting(dir: string, jobIds: ReadonlySet<string>): Promise<number> {
  if (jobIds.size >= SHARDS.length) return [...(await listWaitingIds(dir))].filter((jobId) => jobIds.has(jobId)).length;
  const found = await Promise.all([...jobIds].map((jobId) => succeedsAsync(ENOENT, stat(directoryLayout.waitingJobDir(dir, jobId)))));
  return found.filter(Boolean).length;
}
