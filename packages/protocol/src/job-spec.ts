import { MalocherError } from "./malocher-error.js";
import { packRecord, unpackRecord } from "./record-codec.js";
import {
  booleanField,
  bytesField,
  bytesMapField,
  numberField,
  recordField,
  stringArrayField,
  stringField,
  stringMapField,
} from "./record-fields.js";
import { signFile, verifyFile } from "./signed-file.js";
import { DIRECTORY_FORMAT } from "./version.js";
import { isLabel } from "./placement.js";
import { isJobId } from "./job-id.js";

/** Names an exported function: the agent runs `(await import(module))[export](...args)`. */
export interface FunctionRef {
  /** The module's URL (`file:///…/experiment.ts`). */
  module: string;
  /** The export's name (`"default"` for a default export). */
  export: string;
}

/**
 * How a job is run; each field left out takes the value of the run (`processAll` options), then
 * Malocher's default.
 */
export interface JobRunOptions {
  /** Each attempt is killed after this long (0: no limit). */
  timeoutMs?: number;
  /** How many times an infrastructure failure (node lost, worker killed) is retried. */
  retries?: number;
  /** Also retry when the function throws or exits. */
  retryOnError?: boolean;
  /**
   * A job that is killed (timeout, cancel, drain deadline, shutdown) gets SIGTERM first, to its
   * whole process group, and SIGKILL this much later if anything of it still runs. Default 5000.
   */
  killGraceMs?: number;
}

/** Where a job may run; only jobs have these (a run's nodes have labels and slots instead). */
export interface JobPlacement {
  /** Run only on a node that carries this label (hosts file: `8/alice@gpu1 gpu`). */
  on?: string;
  /** How many of the node's slots the job takes while it runs (default 1). */
  slots?: number;
}

/** What every job spec has, whatever it runs. Written once at submit, never changed. */
export interface JobSpecBase {
  jobId: string;
  /** The working directory the job runs in: the one it named, else the submitter's (see `cwdNamed`). */
  cwd: string;
  /** The job named its cwd (`submit.with({ cwd })`); otherwise a run's `cwd` replaces the submitter's. */
  cwdNamed?: boolean;
  /** Variables added to the node's own environment. */
  env: Record<string, string>;
  /** Variables whose values are secret: sealed with the directory's key (see `sealSecret`). */
  secretEnv: Record<string, Uint8Array>;
  /** Milliseconds since the epoch, on the submitter's clock. */
  submittedAt: number;
  /** Per-job run options, which win over the run's, and where the job may run. */
  options: JobRunOptions & JobPlacement;
  /** The job's name and tags for people (`submit.with({ name, tags })`); copied into its result. */
  name?: string;
  tags?: string[];
  /** The key it was submitted with (`submit.with({ key })`), for people: the key's file decides. */
  key?: string;
  /**
   * The jobs this one depends on, each id once: those whose values its arguments take
   * (`resultOf(id)`) and those it was ordered after (`submit.with({ after })`). It runs only
   * once all of them succeeded; it ends `DEPENDENCY_FAILED` if one did not.
   */
  after?: string[];
}

/** A job's name and tags as stored in its spec and copied into its result. */
export type JobNameAndTags = Pick<JobSpecBase, "name" | "tags">;

/** A job that calls an exported function. Specs written without a `kind` are function jobs. */
export interface FunctionJobSpec extends JobSpecBase {
  kind?: "function";
  fn: FunctionRef;
  /** The argument list, encoded with the value codec. */
  args: Uint8Array;
  /** SHA-256 (hex) of the function's module file at submit, to notice code that changed since. */
  codeHash?: string;
}

/** A job that runs a program: `argv[0]` (looked up on the node's `PATH`) with the other words as its arguments, no shell. */
export interface CommandJobSpec extends JobSpecBase {
  kind: "command";
  argv: string[];
  /** `{%}` in `argv` is replaced, on the node, by the job slot that runs it (1 to the node's slots), as GNU parallel does. */
  replaceJobSlot?: boolean;
}

/** Everything an agent needs to run one job: a closed union on `kind`. */
export type JobSpec = FunctionJobSpec | CommandJobSpec;

/**
 * The largest job spec file: readers check a spec's size before they read it (a planted 2 GB
 * sparse file must not be read into memory to find out it is not signed), and `submit` refuses
 * arguments that would make a larger one.
 */
export const MAX_SPEC_BYTES = 1024 * 1024 * 1024;

/** The bytes of a job spec file, signed with the directory's key. */
export function encodeJobSpec(spec: JobSpec, key: Uint8Array): Uint8Array {
  const bytes = signFile("spec", spec.jobId, packRecord(Object.assign({ format: DIRECTORY_FORMAT }, spec)), key);
  if (bytes.length > MAX_SPEC_BYTES) {
    throw new MalocherError(
      "ARG_NOT_SERIALIZABLE",
      `The job's spec would take ${bytes.length} bytes, more than the ${MAX_SPEC_BYTES} a spec may: pass large data as a file path instead of an argument.`,
    );
  }
  return bytes;
}

/**
 * Reads a job spec file's bytes: first checks its signature (`JOB_SPEC_REJECTED`), then decodes
 * (`JOB_SPEC_CORRUPT` for anything that is not a complete spec of this format for `expectedJobId`).
 */
export function decodeJobSpec(bytes: Uint8Array, expectedJobId: string, key: Uint8Array): JobSpec {
  const body = verifyFile("spec", expectedJobId, bytes, key);
  try {
    const record = unpackRecord(body);
    const format = numberField(record, "format");
    if (format !== DIRECTORY_FORMAT) throw new TypeError(`format ${format}, expected ${DIRECTORY_FORMAT}`);
    const base: JobSpecBase = {
      jobId: stringField(record, "jobId"),
      cwd: stringField(record, "cwd"),
      env: stringMapField(record, "env"),
      secretEnv: bytesMapField(record, "secretEnv"),
      submittedAt: numberField(record, "submittedAt"),
      options: readRunOptions(record["options"]),
    };
    if (record["cwdNamed"] !== undefined) base.cwdNamed = booleanField(record, "cwdNamed");
    if (record["name"] !== undefined) base.name = stringField(record, "name");
    if (record["tags"] !== undefined) base.tags = stringArrayField(record, "tags");
    if (record["key"] !== undefined) base.key = stringField(record, "key");
    if (record["after"] !== undefined) base.after = jobIdsField(record, "after");
    const spec = readKindFields(record, base);
    if (spec.jobId !== expectedJobId) throw new TypeError(`it names job ${spec.jobId}`);
    return spec;
  } catch (error) {
    throw new MalocherError(
      "JOB_SPEC_CORRUPT",
      `The spec file of job ${expectedJobId} is corrupt (${(error as Error).message}); submit the job again.`,
      { cause: error },
    );
  }
}

/** The fields of the spec's kind (absent: a function job, as every spec written before commands existed). */
function readKindFields(record: Record<string, unknown>, base: JobSpecBase): JobSpec {
  const kind = record["kind"];
  if (kind === "command") {
    const argv = stringArrayField(record, "argv");
    if (argv.length === 0 || argv[0] === "") throw new TypeError('field "argv" should name a program');
    return record["replaceJobSlot"] === true ? { kind, ...base, argv, replaceJobSlot: true } : { kind, ...base, argv };
  }
  if (kind !== undefined && kind !== "function") throw new TypeError(`unknown job kind ${JSON.stringify(kind)}`);
  const fn = recordField(record, "fn");
  const spec: FunctionJobSpec = {
    ...(kind === undefined ? {} : { kind }),
    ...base,
    fn: { module: stringField(fn, "module"), export: stringField(fn, "export") },
    args: bytesField(record, "args"),
  };
  if (typeof record["codeHash"] === "string") spec.codeHash = record["codeHash"];
  return spec;
}

function jobIdsField(record: Record<string, unknown>, name: string): string[] {
  const ids = stringArrayField(record, name);
  if (!ids.every(isJobId)) throw new TypeError(`field "${name}" should hold job ids`);
  return ids;
}

function readRunOptions(value: unknown): JobRunOptions & JobPlacement {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null) throw new TypeError('field "options" should be a map');
  const record = value as Record<string, unknown>;
  const options: JobRunOptions & JobPlacement = {};
  if (record["timeoutMs"] !== undefined) options.timeoutMs = numberField(record, "timeoutMs");
  if (record["retries"] !== undefined) options.retries = numberField(record, "retries");
  if (record["retryOnError"] !== undefined) options.retryOnError = booleanField(record, "retryOnError");
  if (record["killGraceMs"] !== undefined) options.killGraceMs = numberField(record, "killGraceMs");
  if (record["on"] !== undefined) options.on = labelField(record, "on");
  if (record["slots"] !== undefined) options.slots = slotsField(record, "slots");
  return options;
}

function labelField(record: Record<string, unknown>, name: string): string {
  const label = stringField(record, name);
  if (!isLabel(label)) throw new TypeError(`field "${name}" should be a label (letters, digits, ".", "_", "-")`);
  return label;
}

function slotsField(record: Record<string, unknown>, name: string): number {
  const slots = numberField(record, name);
  if (!Number.isSafeInteger(slots) || slots < 1) throw new TypeError(`field "${name}" should be a whole number of slots, at least 1`);
  return slots;
}
