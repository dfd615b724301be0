import { closeSync, constants, openSync, rmSync } from "node:fs";
import { enqueueJob } from "./queue-marker.js";
import { PRIVATE_FILE_MODE } from "./safe-file.js";
import { directoryLayout, type JobNameAndTags } from "@malocher/protocol";
import { writeFileOnceSync } from "./write-file-atomic.js";
import { DependencyStates } from "./dependency-state.js";
import { armWaitingJobSync, failWaitingJobSync } from "./wait-for-dependencies.js";

/**
 * The jobs of one chunk of a batch: member `i` has the id `jobIds[i]` (`chunkMemberId(name, i)`);
 * `bytes` is the chunk file (`encodeSpecChunk`). `dependencies[i]`: the jobs member `i` depends
 * on (its spec's `after`), when any member has some.
 */
export interface SpecChunk {
  name: string;
  jobIds: string[];
  bytes: Uint8Array;
  dependencies?: ReadonlyArray<readonly string[] | undefined>;
  /** The batch's name and tags, for a member that fails at once because a dependency failed. */
  nameAndTags?: JobNameAndTags;
}

/**
 * Puts a chunk of jobs in the queue: first the specs of all of them, written as one file
 * (`specs/<shard>/<chunkName>`, tmp then linked in, write-once), then each job's queue marker
 * in order; `onQueued` hears of each job once it is queued. A job is queued when its marker
 * exists, and its spec is there before that. One spec file per chunk instead of one per job:
 * creating a file costs the file system several times what linking one does (measured on ext4),
 * and the markers are links to one empty file (see `enqueueJob`).
 * A member with dependencies waits for them in `waiting/` instead of getting a marker (their
 * existence is the caller's to check first: `checkDependenciesExist`).
 * If a marker cannot be made, the jobs from that one on are not submitted and the error is
 * thrown: the chunk file goes again when none of its jobs was queued, otherwise each job left
 * out gets its `.removed` marker, so that nothing takes its spec for a job to run; should that
 * fail too, the error names the jobs a supervisor may still queue. A process that dies part way
 * leaves members with a spec but no marker, which a running supervisor queues after its grace
 * period, as for a job of its own.
 */
export function submitChunk(dir: string, chunk: SpecChunk, onQueued: (jobId: string) => void): void {
  if (!writeFileOnceSync(dir, directoryLayout.specChunkFile(dir, chunk.name), chunk.bytes)) {
    throw new Error(`the spec chunk ${chunk.name} exists already`);
  }
  let queued = 0;
  const states = chunk.dependencies === undefined ? undefined : new DependencyStates(dir);
  const madeDirs = new Set<string>();
  try {
    for (const [index, jobId] of chunk.jobIds.entries()) {
      const after = chunk.dependencies?.[index];
      if (after === undefined || after.length === 0 || states === undefined) enqueueJob(dir, jobId);
      else armBatchMember(dir, jobId, after, states, madeDirs, chunk.nameAndTags ?? {});
      queued++;
      onQueued(jobId);
    }
  } catch (error) {
    throw withdrawUnqueued(dir, chunk, queued, error);
  }
}

/** A member with dependencies waits for them (or is queued, or fails at once: see `armWaitingJobSync`). */
function armBatchMember(dir: string, jobId: string, after: readonly string[], states: DependencyStates, madeDirs: Set<string>, nameAndTags: JobNameAndTags): void {
  const armed = armWaitingJobSync(dir, jobId, after, states, madeDirs);
  if (armed.state === "blocked") failWaitingJobSync(dir, jobId, armed.depId, armed.error, nameAndTags, after);
}

/**
 * Takes back the jobs of `chunk` from index `queued` on after `error` stopped queueing them;
 * returns the error to throw (`error` itself, or one that names the jobs that could not be taken back).
 */
function withdrawUnqueued(dir: string, chunk: SpecChunk, queued: number, error: unknown): unknown {
  try {
    if (queued === 0) {
      rmSync(directoryLayout.specChunkFile(dir, chunk.name), { force: true });
      return error;
    }
  } catch {
    // Marked one by one below instead.
  }
  const left = chunk.jobIds.slice(queued).filter((jobId) => !markRemoved(directoryLayout.removedSpecFile(dir, jobId)));
  if (left.length === 0) return error;
  const reason = (error as Error)?.message ?? String(error);
  const shown = left.slice(0, 5).join(" ") + (left.length > 5 ? ` and ${left.length - 5} more` : "");
  return new Error(
    `${reason}; besides, ${left.length} job(s) of this batch that were not queued could not be marked removed, ` +
      `so a running supervisor may still queue them: once the file system is writable, \`malocher cancel ${shown}\`.`,
    { cause: error },
  );
}

/** Creates a `.removed` marker; whether it is there. */
function markRemoved(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, PRIVATE_FILE_MODE));
    return true;
  } catch {
    return false;
  }
}
