import { setImmediate as nextTurn } from "node:timers/promises";
import { MalocherError, type JobSpec } from "@malocher/protocol";
import { submitJobs } from "../store/submit-jobs.js";
import { announceSubmitted } from "./announce-submitted.js";
import type { JobOptions } from "./job-options.js";
import { buildJobSpec, prepareTemplate, type JobTarget, type JobTemplate } from "./prepare-job.js";

/**
 * Options of `submitMany`: those of `submit.with` for every job of the batch, except `key`
 * (which names one job; give jobs keys one by one with `submit.with({ key })`).
 */
export type BatchOptions = Omit<JobOptions, "key">;

/** Jobs written per chunk: one marker file, one nudge and one turn of the event loop each. */
export const BATCH_CHUNK_JOBS = 1000;

/**
 * Submits one job per argument list of `argLists` into `dir` and returns their ids in the same
 * order. The function is located and the options checked once; every argument list is checked
 * (`ARG_NOT_SERIALIZABLE` names `argLists[i][j]…`). An array (in memory already) has all its
 * specs made before anything is written, so a bad element leaves nothing submitted. A lazy
 * iterable is read and written in chunks of {@link BATCH_CHUNK_JOBS}; a bad element there stops
 * the batch before its chunk is written, and the error's `jobIds` are the jobs of the chunks
 * before it, which were submitted.
 * A failing file system stops it the same way, after the last job that was queued whole.
 * Agents are told once per chunk; the event loop turns between chunks.
 */
export async function submitMany(
  dir: string,
  directoryKey: Uint8Array,
  target: JobTarget,
  argLists: Iterable<readonly unknown[]>,
  options: BatchOptions,
): Promise<string[]> {
  if ((options as JobOptions).key !== undefined) {
    throw new MalocherError("INVALID_OPTIONS", "submitMany() takes no key: a key names one job. Submit jobs with keys one by one: submit.with({ key })(fn, ...args).");
  }
  if (typeof (argLists as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== "function") {
    throw new MalocherError("INVALID_OPTIONS", "submitMany(fn, argLists) needs argLists to be an array (or another iterable) of argument arrays, e.g. [[1], [2], [3]].");
  }
  const template = prepareTemplate(target, options, directoryKey);
  const jobIds: string[] = [];
  const write = async (chunk: readonly JobSpec[]) => {
    submitJobs(dir, chunk, directoryKey, (jobId) => jobIds.push(jobId));
    announceSubmitted(dir);
    await nextTurn();
  };
  try {
    // An array is in memory already: all its specs are made (and so checked) before any is written.
    const specs = Array.isArray(argLists) ? [...specsOf(template, argLists)] : specsOf(template, argLists);
    let chunk: JobSpec[] = [];
    for (const spec of specs) {
      chunk.push(spec);
      if (chunk.length === BATCH_CHUNK_JOBS) {
        await write(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) await write(chunk);
  } catch (error) {
    if (jobIds.length > 0) announceSubmitted(dir);
    throw partlySubmitted(error, jobIds);
  }
  return jobIds;
}

/** The spec of each argument list, made as it is read. */
function* specsOf(template: JobTemplate, argLists: Iterable<readonly unknown[]>): Generator<JobSpec> {
  let index = 0;
  for (const args of argLists) {
    yield buildJobSpec(template, argumentList(args, index), `argLists[${index}]`);
    index++;
  }
}

function argumentList(args: unknown, index: number): readonly unknown[] {
  if (!Array.isArray(args)) {
    throw new MalocherError(
      "ARG_NOT_SERIALIZABLE",
      `argLists[${index}] is ${args === null ? "null" : typeof args}, not an array of arguments: give each job's arguments as an array, e.g. [[1], [2]].`,
    );
  }
  return args;
}

/** The error that stopped a batch, saying which of its jobs were submitted before it. */
function partlySubmitted(error: unknown, jobIds: readonly string[]): unknown {
  const done =
    jobIds.length === 0
      ? "Nothing of this batch was submitted."
      : `The first ${jobIds.length} jobs of this batch were submitted (their ids are in error.jobIds), none after them.`;
  if (error instanceof MalocherError) return new MalocherError(error.code, `${error.message} ${done}`, { cause: error.cause, jobIds });
  if (jobIds.length === 0) return error;
  return new MalocherError("INVALID_OPTIONS", `Reading argLists failed: ${(error as Error)?.message ?? String(error)} ${done}`, { cause: error, jobIds });
}
