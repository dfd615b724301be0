import { MalocherError } from "./malocher-error.js";
import { packRecord, unpackRecord } from "./record-codec.js";
import { bytesField, numberField, recordField, stringField, stringMapField } from "./record-fields.js";
import { DIRECTORY_FORMAT } from "./version.js";

/** Names an exported function: the agent runs `(await import(module))[export](...args)`. */
export interface FunctionRef {
  /** The module's URL (`file:///…/experiment.ts`). */
  module: string;
  /** The export's name (`"default"` for a default export). */
  export: string;
}

/** Everything an agent needs to run one job. Written once at submit, never changed. */
export interface JobSpec {
  jobId: string;
  fn: FunctionRef;
  /** The argument list, encoded with the value codec. */
  args: Uint8Array;
  /** The working directory the job runs in. */
  cwd: string;
  /** Variables added to the node's own environment. */
  env: Record<string, string>;
  /** Milliseconds since the epoch, on the submitter's clock. */
  submittedAt: number;
}

/** The bytes of a job spec file. */
export function encodeJobSpec(spec: JobSpec): Uint8Array {
  return packRecord({ format: DIRECTORY_FORMAT, ...spec });
}

/**
 * Reads a job spec file's bytes. Throws `JOB_SPEC_CORRUPT` for anything that is not a complete
 * spec of this format for `expectedJobId`.
 */
export function decodeJobSpec(bytes: Uint8Array, expectedJobId: string): JobSpec {
  try {
    const record = unpackRecord(bytes);
    const format = numberField(record, "format");
    if (format !== DIRECTORY_FORMAT) throw new TypeError(`format ${format}, expected ${DIRECTORY_FORMAT}`);
    const fn = recordField(record, "fn");
    const spec: JobSpec = {
      jobId: stringField(record, "jobId"),
      fn: { module: stringField(fn, "module"), export: stringField(fn, "export") },
      args: bytesField(record, "args"),
      cwd: stringField(record, "cwd"),
      env: stringMapField(record, "env"),
      submittedAt: numberField(record, "submittedAt"),
    };
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
