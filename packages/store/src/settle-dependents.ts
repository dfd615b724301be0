import { linkSync, renameSync, unlinkSync } from "node:fs";
import { link, readdir, rename, unlink } from "node:fs/promises";
import { isRealDirectorySync, makePrivateDir, makePrivateDirSync, readRegularFile, readRegularFileSync } from "./safe-file.js";
import { writeFileAtomic, writeFileAtomicSync } from "./write-file-atomic.js";
import { loadDirectoryKey } from "./directory-key.js";
import { dirname } from "node:path";
import { directoryLayout, isJobId, signFile, verifyFile, type StoredResult } from "@malocher/protocol";
import type { SettledDependents } from "./publish-result.js";
import { failWaitingJob, queueIfEmpty, armWaitingJobSync, removePlantedWaitingEntrySync } from "./wait-for-dependencies.js";
import { touchSignalFile } from "./signal-file.js";
import { DependencyStates, readJobDependencies } from "./dependency-state.js";
import { readStoredResult } from "./read-result.js";

/** Dependents settled at once (a fan-out of thousands must not open them all together). */
const SETTLED_AT_ONCE = 32;

/**
 * The jobs that were waiting for job `depId` when they were submitted (the reverse index). Most
 * jobs have none: their index directory is looked for first, synchronously (see `claimJob`).
 */
export async function listDependents(dir: string, depId: string): Promise<string[]> {
  const index = directoryLayout.dependentsOfDir(dir, depId);
  // Not through a symlink another account put there: its entries would be another directory's files (which `clean` removes).
  if (!isRealDirectorySync(index)) return [];
  const names = await readdir(index).catch((): string[] => []);
  return names.filter(isJobId);
}

/**
 * Settles the jobs waiting for `result`'s job, just published: a success removes its file from
 * each one's waiting directory and queues those left with none (the one `rmdir` that succeeds
 * does); a failure or cancel fails each with `DEPENDENCY_FAILED`, and so on down the chain. Idle
 * agents hear of jobs queued through the signal file.
 */
export async function settleDependents(dir: string, result: StoredResult, settled: SettledDependents = { queued: [], failed: [] }): Promise<void> {
  const dependents = await listDependents(dir, result.jobId);
  if (dependents.length === 0) return;
  const queuedBefore = settled.queued.length;
  const settleOne = async (jobId: string) => {
    if (!result.ok) {
      await failWaitingJob(dir, jobId, result.jobId, result.error, settled);
      return;
    }
    if (removePlantedWaitingEntrySync(dir, jobId)) return;
    await unlink(directoryLayout.waitingEntryFile(dir, jobId, result.jobId)).catch(() => {});
    if ((await queueIfEmpty(dir, jobId)).state === "queued") settled.queued.push(jobId);
  };
  for (let at = 0; at < dependents.length; at += SETTLED_AT_ONCE) {
    // A failure a retry set aside meanwhile fails no more of them: those left wait for its rerun (see failWaitingJob).
    if (!result.ok && at > 0 && (await new DependencyStates(dir).read(result.jobId)).state !== "failed") break;
    await Promise.all(dependents.slice(at, at + SETTLED_AT_ONCE).map(settleOne));
  }
  if (settled.queued.length > queuedBefore) touchSignalFile(dir);
}

/**
 * After `retry` of job `depId`: each job that ended `DEPENDENCY_FAILED` while waiting for it has
 * that result set aside (into `retried/`, like any retried failure) and waits again, and so do
 * the jobs that failed because of it, down the chain. A job that another dependency still fails
 * keeps its `DEPENDENCY_FAILED` result. Returns the ids armed again.
 */
export async function rearmDependents(dir: string, depId: string, states = new DependencyStates(dir)): Promise<string[]> {
  const rearmed: string[] = [];
  for (const jobId of await listDependents(dir, depId)) rearmed.push(...(await rearmDependent(dir, jobId, states)));
  return rearmed;
}

/**
 * One job of {@link rearmDependents}: if it ended `DEPENDENCY_FAILED` and none of its
 * dependencies has failed now, its result is set aside and it waits again, and so do the jobs
 * that failed because of it. Returns the ids armed again (none when it was left as it is, or when
 * another process set its result aside first).
 */
export async function rearmDependent(dir: string, jobId: string, states = new DependencyStates(dir)): Promise<string[]> {
  const bytes = await readRegularFile(directoryLayout.resultFile(dir, jobId)).catch(() => undefined);
  const result = bytes === undefined ? undefined : await readStoredResult(dir, jobId, bytes).catch(() => undefined);
  if (result === undefined || result.ok || result.error.code !== "DEPENDENCY_FAILED") return [];
  // Another of its dependencies still failed: it stays as it is (a rerun could only fail again).
  const after = (await readJobDependencies(dir, jobId)) ?? [];
  if (await states.anyFailed(after)) return [];
  if (!(await setAsideResult(dir, jobId, bytes))) return [];
  const armed = armWaitingJobSync(dir, jobId, after, states);
  if (armed.state === "blocked") {
    // A dependency failed since it was looked at: it fails again, and so stay its own dependents.
    await failWaitingJob(dir, jobId, armed.depId, armed.error);
    return [];
  }
  return [jobId, ...(await rearmDependents(dir, jobId, states))];
}

/**
 * Sets a job's failed result aside into `retried/` by one rename (results are write-once, so
 * this is how a failure makes room for a rerun); false when another process was first.
 * `expected`: the bytes of the failure the caller read. Another process may have set that one
 * aside and the job run again meanwhile: a result moved that is not it goes back (a chaos trial
 * saw two rearms set a success aside so), and this is false.
 */
export async function setAsideResult(dir: string, jobId: string, expected?: Uint8Array): Promise<boolean> {
  const setAside = directoryLayout.retriedResultFile(dir, jobId, Date.now());
  const resultFile = directoryLayout.resultFile(dir, jobId);
  await makePrivateDir(dirname(setAside)); // directories made before `retried/` existed
  try {
    await rename(resultFile, setAside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  const moved = await readRegularFile(setAside).catch(() => undefined);
  if (!isExpected(moved, expected)) {
    // Back where it was (a link: nothing there is overwritten), then out of retried/.
    if (await link(setAside, resultFile).then(() => true, () => false)) await unlink(setAside).catch(() => {});
    return false;
  }
  const retried = resigned(jobId, moved, loadDirectoryKey(dir, { create: false }));
  if (retried !== undefined) await writeFileAtomic(dir, setAside, retried);
  return true;
}

/** {@link setAsideResult}, synchronous (`submit` is), with the directory's `key` at hand. */
export function setAsideResultSync(dir: string, jobId: string, key: Uint8Array, expected?: Uint8Array): boolean {
  const setAside = directoryLayout.retriedResultFile(dir, jobId, Date.now());
  const resultFile = directoryLayout.resultFile(dir, jobId);
  makePrivateDirSync(dirname(setAside));
  try {
    renameSync(resultFile, setAside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  let moved: Buffer | undefined;
  try {
    moved = readRegularFileSync(setAside);
  } catch {
    moved = undefined;
  }
  if (!isExpected(moved, expected)) {
    try {
      linkSync(setAside, resultFile);
      unlinkSync(setAside);
    } catch {
      // Something is at the result path again: both stay.
    }
    return false;
  }
  const retried = resigned(jobId, moved, key);
  if (retried !== undefined) writeFileAtomicSync(dir, setAside, retried);
  return true;
}

/** Whether the file moved aside holds what the caller read (`expected`; without it, anything does). */
function isExpected(moved: Buffer | undefined, expected: Uint8Array | undefined): boolean {
  return expected === undefined || (moved !== undefined && moved.equals(expected));
}

/**
 * A set-aside result's bytes signed anew as a "retried" file: copied or moved back into
 * `results/`, it fails verification there instead of passing for the rerun's result (a replay).
 * Undefined for a file that was no result of ours to begin with (it is left as it is).
 */
function resigned(jobId: string, moved: Buffer | undefined, key: Uint8Array): Uint8Array | undefined {
  try {
    return moved === undefined ? undefined : signFile("retried", jobId, verifyFile("result", jobId, moved, key), key);
  } catch {
    return undefined;
  }
}
