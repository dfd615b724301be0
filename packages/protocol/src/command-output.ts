import { describeType } from "./record-codec.js";
import { stringField } from "./record-fields.js";

/** How many bytes of the end of a command's stdout and stderr its result keeps (the logs keep all). */
export const COMMAND_OUTPUT_TAIL_BYTES = 4096;

/**
 * How a command job's process ended, with the tails of its output: the `value` of a command job
 * that succeeded, and part of the `error` of one that failed after it started.
 *
 * @example
 * ```ts
 * if (result.ok) console.log((result.value as CommandOutput).stdout);
 * else if (result.error.exitCode !== undefined) console.error(result.error.exitCode, result.error.stderr);
 * ```
 */
export interface CommandOutput {
  /** The exit code, or null when a signal ended the process. */
  exitCode: number | null;
  /** The signal that ended the process (`"SIGKILL"`), or null when it exited. */
  signal: string | null;
  /** The last {@link COMMAND_OUTPUT_TAIL_BYTES} bytes of its stdout, as UTF-8. */
  stdout: string;
  /** The last {@link COMMAND_OUTPUT_TAIL_BYTES} bytes of its stderr, as UTF-8. */
  stderr: string;
}

/** Reads the command fields of a stored error, if it has them (TypeError on a half or mistyped set). */
export function readCommandOutput(record: Record<string, unknown>): CommandOutput | undefined {
  if (!("exitCode" in record)) return undefined;
  const { exitCode, signal } = record;
  if (exitCode !== null && typeof exitCode !== "number") throw new TypeError(`field "exitCode" should be a number or null, got ${describeType(exitCode)}`);
  if (signal !== null && typeof signal !== "string") throw new TypeError(`field "signal" should be a string or null, got ${describeType(signal)}`);
  return { exitCode, signal, stdout: stringField(record, "stdout"), stderr: stringField(record, "stderr") };
}
