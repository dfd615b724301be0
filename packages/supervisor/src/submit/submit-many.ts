import { setImmediate as nextTurn } from "node:timers/promises";
import { MalocherError, chunkMemberId, encodeJobSpec, encodeSpecChunk, newChunkName } from "@malocher/protocol";
import { checkDependenciesExist, submitChunk, type SpecChunk } from "@malocher/store";
import { announceSubmitted } from "./announce-submitted.js";
import type { JobOptions } from "./job-options.js";
import { buildJobSpec, prepareTemplate, type JobTarget, type JobTemplate } from "./prepare-job.js";

/**
 * Options of `submitMany`: those of `submit.with` for every job of the batch, except `key`
 * (which names one job; give jobs keys one by one with `submit.with({ key })`).
 */
export type BatchOptions = Omit<JobOptions, "key">;

/** The most jobs per chunk: one spec file, one marker file, one nudge and one turn of the event loop each. */
export const BATCH_CHUNK_JOBS = 1000;

/** A chunk takes no more jobs once its specs reach this many bytes (big arguments make fewer jobs per chunk). */
export const BATCH_CHUNK_BYTES = 1024 * 1024;

/**
 * Submits one job per argument list of `argLists` into `dir` and returns their ids in the same
 * order. The function is located and the options checked once; every argument list is checked
 * (`ARG_NOT_SERIALIZABLE` names `argLists[i][j]…`). An array (in memory already) has all its
 * specs made before anything is written, so a bad element leaves nothing submitted. A lazy
 * iterable is read and written in chunks; a bad element there stops the batch before its chunk
 * is written, and the error's `jobIds` are the jobs of the chunks before it, which were submitted.
 * A failing file system stops it the same way, after the last job that was queued whole.
 * The jobs of a chunk ({@link BATCH_CHUNK_JOBS} jobs, fewer when their specs pass
 * {@link BATCH_CHUNK_BYTES}) have their specs in one file and ids `<chunkName>-<index>` that
 * sort in submission order (see `submitChunk`). Agents are told once per chunk; the event loop
 * turns between chunks.
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
  try {
    // An array is in memory already: all its specs are made (and so checked) before any is written.
    const chunks = Array.isArray(argLists) ? [...chunksOf(dir, template, argLists)] : chunksOf(dir, template, argLists);
    for (const chunk of chunks) {
      const before = jobIds.length;
      submitChunk(dir, chunk, (jobId) => jobIds.push(jobId));
      announceSubmitted(dir, jobIds.length - before, template.options.run);
      await nextTurn();
    }
  } catch (error) {
    if (jobIds.length > 0) announceSubmitted(dir, Infinity);
    throw partlySubmitted(error, jobIds);
  }
  return jobIds;
}

/**
 * The chunks of the jobs of `argLists`, each spec made and signed as its argument list is read.
 * A chunk is kept as the bytes of its file only: an array's chunks all wait in memory until the
 * last is made, and one buffer per chunk costs the garbage collector far less than a record per job.
 */
function* chunksOf(dir: string, template: JobTemplate, argLists: Iterable<readonly unknown[]>): Generator<SpecChunk> {
  let name = "";
  let jobIds: string[] = [];
  let records: Uint8Array[] = [];
  let dependencies: Array<string[] | undefined> | undefined;
  let recordBytes = 0;
  let index = 0;
  /** Dependencies found to exist, once each for the whole batch (a fan-out names one input 10,000 times). */
  const existing = new Set<string>();
  const { nameAndTags } = template.options;
  const chunk = (): SpecChunk => ({ name, jobIds, bytes: encodeSpecChunk(records), ...(dependencies === undefined ? {} : { dependencies, nameAndTags }) });
  for (const args of argLists) {
    if (jobIds.length === BATCH_CHUNK_JOBS || recordBytes >= BATCH_CHUNK_BYTES) {
      yield chunk();
      jobIds = [];
      records = [];
      dependencies = undefined;
      recordBytes = 0;
    }
    if (jobIds.length === 0) name = newChunkName();
    const jobId = chunkMemberId(name, jobIds.length);
    const spec = buildJobSpec(template, argumentList(args, index), `argLists[${index}]`, jobId);
    if (spec.after !== undefined) {
      checkDependenciesExist(dir, spec.after, existing);
      (dependencies ??= new Array<string[] | undefined>(jobIds.length))[jobIds.length] = spec.after;
    }
    const record = encodeJobSpec(spec, template.directoryKey);
    jobIds.push(jobId);
    records.push(record);
    recordBytes += record.length;
    index++;
  }
  if (jobIds.length > 0) yield chunk();
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
