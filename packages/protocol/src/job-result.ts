import { MalocherError, type SerializedError } from "./malocher-error.js";
import { packRecord, unpackRecord } from "./record-codec.js";
import { booleanField, bytesField, numberField, recordField, stringArrayField, stringField } from "./record-fields.js";
import { decodeValue, decodeValueWithClasses } from "./value-codec.js";
import type { LoadClass } from "./class-ref.js";
import { DIRECTORY_FORMAT } from "./version.js";
import { keyIdOf, signFile, verifyFile } from "./signed-file.js";
import { readCommandOutput, type CommandOutput } from "./command-output.js";

/** Fields every result has, whether the job succeeded or not. */
export interface JobResultMeta {
  jobId: string;
  /** The machine as the user named it (`sshMachines` entry), or `"local"`. */
  host: string;
  /** How many runs it took (1 unless the job was retried). */
  attempts: number;
  /**
   * How long the last attempt ran on its worker, from its start to its end. The first job of a
   * module on a worker also imports the module (its top-level code runs then): compare durations
   * of jobs that ran after it on the same worker, or keep heavy set-up out of the module's top level.
   */
  durationMs: number;
  /** Present and true when the function's module file differed from the one at submit. */
  codeChanged?: boolean;
  /**
   * Present and true on a result `processAll` yields for a job that had finished before this
   * process submitted it again: `submit.with({ key })` found it by its key and reused it.
   */
  reused?: boolean;
  /** Who produced the result, for audits: the agent, the node's user, the signing key's id. */
  agentId?: string;
  user?: string;
  keyId?: string;
  /** The job's `name` and `tags` as submitted (`submit.with({ name, tags })`), when it had them. */
  name?: string;
  tags?: string[];
}

/**
 * The error of a failed job: what it threw, or what Malocher observed (`code`). A command job
 * that ran and failed (`COMMAND_FAILED`) also has its `exitCode`, `signal` and output tails.
 */
export interface JobError extends SerializedError, Partial<CommandOutput> {}

/**
 * The outcome of one job.
 *
 * @example
 * ```ts
 * if (result.ok) console.log(result.value); else console.error(result.error.code, result.error.message);
 * ```
 */
export type JobResult<T = unknown> =
  | (JobResultMeta & { ok: true; value: T })
  | (JobResultMeta & { ok: false; error: JobError });

/** Fields only stored results have. */
interface StoredMeta {
  agentId: string;
  finishedAt: number;
}

/**
 * A failure as stored: the plain error (readable by any process), and, when the job threw an
 * object the value codec can carry, that object encoded (its class, fields, cause chain).
 */
export interface StoredFailure {
  ok: false;
  error: JobError;
  thrown?: Uint8Array;
}

/** A result as stored in `results/`: the value stays encoded until someone asks for it. */
export type StoredResult =
  | (JobResultMeta & StoredMeta & { ok: true; value: Uint8Array })
  | (JobResultMeta & StoredMeta & StoredFailure);

/** The bytes of a result file, signed with the directory's key (whose id it records). */
export function encodeStoredResult(result: StoredResult, key: Uint8Array): Uint8Array {
  return signFile("result", result.jobId, packRecord({ format: DIRECTORY_FORMAT, ...result, keyId: keyIdOf(key) }), key);
}

/**
 * Reads a result file's bytes: checks the signature first (`RESULT_REJECTED`), then decodes
 * (`SHARED_DIR_FORMAT` on anything that is not a result of this format for `expectedJobId`).
 */
export function decodeStoredResult(bytes: Uint8Array, expectedJobId: string, key: Uint8Array): StoredResult {
  const body = verifyFile("result", expectedJobId, bytes, key);
  try {
    const record = unpackRecord(body);
    const format = numberField(record, "format");
    if (format !== DIRECTORY_FORMAT) throw new TypeError(`format ${format}, expected ${DIRECTORY_FORMAT}`);
    const meta = {
      jobId: stringField(record, "jobId"),
      host: stringField(record, "host"),
      attempts: numberField(record, "attempts"),
      durationMs: numberField(record, "durationMs"),
      agentId: stringField(record, "agentId"),
      finishedAt: numberField(record, "finishedAt"),
    };
    if (meta.jobId !== expectedJobId) throw new TypeError(`it names job ${meta.jobId}`);
    if (record["codeChanged"] === true) Object.assign(meta, { codeChanged: true });
    if (typeof record["user"] === "string") Object.assign(meta, { user: record["user"] });
    if (typeof record["keyId"] === "string") Object.assign(meta, { keyId: record["keyId"] });
    if (record["name"] !== undefined) Object.assign(meta, { name: stringField(record, "name") });
    if (record["tags"] !== undefined) Object.assign(meta, { tags: stringArrayField(record, "tags") });
    if (booleanField(record, "ok")) return { ...meta, ok: true, value: bytesField(record, "value") };
    const error = recordField(record, "error");
    const jobError: JobError = { name: stringField(error, "name"), message: stringField(error, "message") };
    if (typeof error["stack"] === "string") jobError.stack = error["stack"];
    if (typeof error["code"] === "string") jobError.code = error["code"];
    Object.assign(jobError, readCommandOutput(error));
    const thrown = record["thrown"];
    return { ...meta, ok: false, error: jobError, ...(thrown instanceof Uint8Array ? { thrown } : {}) };
  } catch (error) {
    throw new MalocherError(
      "SHARED_DIR_FORMAT",
      `The result file of job ${expectedJobId} is unreadable (${(error as Error).message}).`,
      { cause: error },
    );
  }
}

/**
 * Turns a stored result into the public {@link JobResult}, decoding the value and the thrown
 * error. `load` loads the classes of instances in them; without it (or when a class cannot be
 * loaded) they arrive as placeholders of their class's name. A thrown error that cannot be
 * decoded leaves the plain error in place.
 */
export async function toJobResult(stored: StoredResult, load?: LoadClass): Promise<JobResult> {
  const meta: JobResultMeta = {
    jobId: stored.jobId,
    host: stored.host,
    attempts: stored.attempts,
    durationMs: stored.durationMs,
    ...(stored.codeChanged ? { codeChanged: true } : {}),
    agentId: stored.agentId,
    ...(stored.user === undefined ? {} : { user: stored.user }),
    ...(stored.keyId === undefined ? {} : { keyId: stored.keyId }),
    ...(stored.name === undefined ? {} : { name: stored.name }),
    ...(stored.tags === undefined ? {} : { tags: stored.tags }),
  };
  if (!stored.ok) return { ok: false, error: await thrownError(stored, load), ...meta };
  return { ok: true, value: await decodeStoredValue(stored.value, load), ...meta };
}

/**
 * The error a job threw, with its class, when it was stored and decodes to an Error; it gets the
 * plain error's `code` (`JOB_THREW`) unless it has its own. Otherwise the plain error.
 */
async function thrownError(stored: StoredFailure, load: LoadClass | undefined): Promise<JobError> {
  if (stored.thrown === undefined) return stored.error;
  try {
    const thrown = await decodeStoredValue(stored.thrown, load);
    if (!(thrown instanceof Error)) return stored.error;
    if (!Object.prototype.hasOwnProperty.call(thrown, "code") && stored.error.code !== undefined) {
      Object.defineProperty(thrown, "code", { value: stored.error.code, writable: true, configurable: true, enumerable: false });
    }
    return thrown as JobError;
  } catch {
    return stored.error;
  }
}

/** A stored value, its class instances loaded with `load` (placeholders without it). */
function decodeStoredValue(bytes: Uint8Array, load: LoadClass | undefined): unknown {
  return load === undefined ? decodeValue(bytes, "SHARED_DIR_FORMAT") : decodeValueWithClasses(bytes, "SHARED_DIR_FORMAT", load, "placeholder");
}
