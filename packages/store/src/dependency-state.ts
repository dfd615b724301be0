import { existsSync } from "node:fs";
import { readRegularFile, readRegularFileSync } from "./safe-file.js";
import { MalocherError, chunkMemberOf, decodeJobSpec, decodeStoredResult, directoryLayout, isJobId, type StoredResult } from "@malocher/protocol";
import { loadDirectoryKey } from "./directory-key.js";
import { readJobSpecBytes } from "./read-job-spec-bytes.js";
import { pathExists as pathExistsOf } from "./path-exists.js";
import { listWaitingIds } from "./wait-for-dependencies.js";

/** Where a job stands for the jobs that depend on it: it succeeded, it failed (or was cancelled), or it has no result yet. */
export type DependencyState =
  | { state: "succeeded" }
  | { state: "failed"; error: { code?: string; message: string } }
  | { state: "pending" };

/** The dependency state a stored result gives. */
export function dependencyStateOf(result: StoredResult | undefined): DependencyState {
  if (result === undefined) return { state: "pending" };
  return result.ok ? { state: "succeeded" } : { state: "failed", error: result.error };
}

/**
 * The state of a dependency whose result file could not be read: none yet (ENOENT), or, for a file
 * that is no result to read (a FIFO, a huge or foreign file: `SHARED_FILE_UNSAFE`), its failure;
 * any other error is thrown.
 */
function unreadState(error: unknown): DependencyState {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: "pending" };
  if (error instanceof MalocherError) return { state: "failed", error: { code: error.code, message: error.message } };
  throw error;
}

/**
 * Reads dependencies' states, remembering the succeeded ones (a success is final: only a failed
 * result is ever set aside, by `retry`), so that a batch of jobs over one input reads its result
 * once. A result that cannot be read or verified counts as that dependency's failure.
 */
export class DependencyStates {
  private readonly succeeded = new Set<string>();
  /** With `snapshot`: every state read, not only successes. */
  private readonly known = new Map<string, DependencyState>();
  private key: Uint8Array | undefined;

  /**
   * `snapshot`: remember every state read, for one sweep over many waiting jobs (a dependency that
   * finishes meanwhile is settled by whoever publishes its result; a sweep is only the fallback).
   */
  constructor(
    private readonly dir: string,
    private readonly snapshot = false,
  ) {}

  /** One dependency's state now (synchronous: `submit` is). */
  readSync(depId: string): DependencyState {
    if (this.succeeded.has(depId)) return { state: "succeeded" };
    let bytes: Buffer;
    try {
      bytes = readRegularFileSync(directoryLayout.resultFile(this.dir, depId));
    } catch (error) {
      return unreadState(error);
    }
    return this.remember(depId, bytes);
  }

  /** One dependency's state now. */
  async read(depId: string): Promise<DependencyState> {
    if (this.succeeded.has(depId)) return { state: "succeeded" };
    const known = this.known.get(depId);
    if (known !== undefined) return known;
    let state: DependencyState;
    try {
      state = this.remember(depId, await readRegularFile(directoryLayout.resultFile(this.dir, depId)));
    } catch (error) {
      state = unreadState(error);
    }
    if (this.snapshot) this.known.set(depId, state);
    return state;
  }

  /** Whether one of `depIds` failed or was cancelled: a job that depends on it could only fail again at once. */
  async anyFailed(depIds: readonly string[]): Promise<boolean> {
    for (const depId of depIds) if ((await this.read(depId)).state === "failed") return true;
    return false;
  }

  private remember(depId: string, bytes: Uint8Array): DependencyState {
    let state: DependencyState;
    try {
      this.key ??= loadDirectoryKey(this.dir, { create: false });
      state = dependencyStateOf(decodeStoredResult(bytes, depId, this.key));
    } catch (error) {
      state = { state: "failed", error: { code: "RESULT_UNREADABLE", message: `its result file cannot be read: ${(error as Error).message}` } };
    }
    if (state.state === "succeeded") this.succeeded.add(depId);
    return state;
  }
}

/**
 * Refuses dependencies that were never submitted to `dir` (or were cleaned): `JOB_NOT_FOUND`,
 * naming the first. Synchronous, for `submit`; `known` remembers ids found, across the jobs of a batch.
 */
export function checkDependenciesExist(dir: string, depIds: Iterable<string>, known: Set<string> = new Set()): void {
  for (const depId of depIds) {
    if (known.has(depId)) continue;
    if (!isJobId(depId) || !jobExistsSync(dir, depId)) {
      throw new MalocherError(
        "JOB_NOT_FOUND",
        `A job can only depend on jobs submitted before it: no job ${JSON.stringify(depId)} in ${dir}. ` +
          `Pass the id that submit() returned (resultOf(id), after: [id]).`,
      );
    }
    known.add(depId);
  }
}

/** Whether `jobId` has a spec in `dir` (its own file, or its chunk's and it is not removed). */
function jobExistsSync(dir: string, jobId: string): boolean {
  if (chunkMemberOf(jobId) === undefined) return existsSync(directoryLayout.specFile(dir, jobId));
  return existsSync(directoryLayout.specFile(dir, jobId)) && !existsSync(directoryLayout.removedSpecFile(dir, jobId));
}

/** The jobs `jobId` depends on, from its signed spec; undefined when the spec cannot be read or verified. */
export async function readJobDependencies(dir: string, jobId: string): Promise<string[] | undefined> {
  try {
    const bytes = await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId);
    return decodeJobSpec(bytes, jobId, loadDirectoryKey(dir, { create: false })).after ?? [];
  } catch {
    return undefined;
  }
}

/**
 * The jobs that `jobIds` wait for, directly or through others, that have no result yet (not
 * among `jobIds`): a run restricted to `jobIds` must run them too, or they would wait forever.
 * Only waiting jobs are looked into (a queued or running job's dependencies have succeeded), so a
 * directory without waiting jobs costs one listing.
 */
export async function listUnfinishedDependencies(dir: string, jobIds: Iterable<string>): Promise<string[]> {
  const waiting = await listWaitingIds(dir);
  if (waiting.size === 0) return [];
  const asked = new Set(jobIds);
  const seen = new Set(asked);
  const found: string[] = [];
  let frontier = [...asked].filter((jobId) => waiting.has(jobId));
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const jobId of frontier) {
      for (const depId of (await readJobDependencies(dir, jobId)) ?? []) {
        if (seen.has(depId)) continue;
        seen.add(depId);
        if (await pathExistsOf(directoryLayout.resultFile(dir, depId))) continue;
        found.push(depId);
        if (waiting.has(depId)) next.push(depId);
      }
    }
    frontier = next;
  }
  return found;
}
