/**
 * Every condition a Malocher user can act on has a code. One error class carries them all, so
 * callers switch on `error.code` instead of on classes.
 */
export const ERROR_CODES = [
  // submitting
  "FUNCTION_NOT_IMPORTABLE",
  "ARG_NOT_SERIALIZABLE",
  "INVALID_OPTIONS",
  "INVALID_COMMAND",
  // the shared directory
  "SHARED_DIR_FORMAT",
  "SHARED_DIR_INSECURE",
  "SHARED_FILE_UNSAFE",
  "JOB_SPEC_CORRUPT",
  "JOB_SPEC_REJECTED",
  "RESULT_REJECTED",
  "JOB_NOT_FOUND",
  "RESULT_WAIT_TIMED_OUT",
  // SSH and nodes
  "SSH_HOST_KEY_UNKNOWN",
  "SSH_HOST_KEY_MISMATCH",
  "SSH_AUTH_FAILED",
  "SSH_KEY_UNREADABLE",
  "SSH_UNREACHABLE",
  "SSH_FAILED",
  "AGENT_START_FAILED",
  "AGENT_VERSION_MISMATCH",
  "NODE_LOST",
  "NO_USABLE_NODES",
  "NO_NODE_FITS",
  "RUN_STOPPED",
  "TUNNEL_AUTH_FAILED",
  // Slurm
  "SLURM_NOT_AVAILABLE",
  "SLURM_SUBMIT_FAILED",
  // jobs (the codes of failed results)
  "JOB_THREW",
  "JOB_EXITED",
  "JOB_TIMED_OUT",
  "JOB_CANCELLED",
  "JOB_OUT_OF_MEMORY",
  "RESULT_UNREADABLE",
  "RESULT_WRITE_FAILED",
  "WORKER_CRASHED",
  "JOB_IMPORT_FAILED",
  "JOB_CWD_UNAVAILABLE",
  "RESULT_NOT_SERIALIZABLE",
  "COMMAND_FAILED",
  "COMMAND_NOT_STARTED",
  "DEPENDENCY_FAILED",
  // wire
  "PROTOCOL_ERROR",
] as const;

/** A code that says which condition a {@link MalocherError} reports. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The shape in which errors cross process boundaries and are stored in results. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/**
 * The one error class of Malocher. `code` says what happened; the message says what to do.
 *
 * @example
 * ```ts
 * try { submit(() => 1); } catch (e) {
 *   if (e instanceof MalocherError && e.code === "FUNCTION_NOT_IMPORTABLE") console.error(e.message);
 * }
 * ```
 */
export class MalocherError extends Error {
  override readonly name = "MalocherError";
  readonly code: ErrorCode;
  /** For errors that summarize others (`NO_USABLE_NODES`): each underlying error. */
  readonly errors: readonly MalocherError[];
  /** For a batch submit that stopped part way (`submitMany`): the ids of the jobs it did submit, in order. */
  readonly jobIds: readonly string[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; errors?: readonly MalocherError[]; jobIds?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errors = options.errors ?? [];
    this.jobIds = options.jobIds ?? [];
  }
}

/** Turns anything thrown into the plain `{name, message, stack, code}` shape. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const out: SerializedError = { name: error.name, message: error.message };
    if (error.stack !== undefined) out.stack = error.stack;
    if (code !== undefined && code !== null) out.code = String(code);
    return out;
  }
  return { name: "Error", message: `a non-Error value was thrown: ${describeThrown(error)}` };
}

/** What `make` returns, or undefined when it throws (a cycle for JSON, a throwing `toString`). */
function attempt(make: () => string | undefined): string | undefined {
  try {
    return make();
  } catch {
    return undefined;
  }
}

/** The most characters of a thrown non-Error value quoted in its message. */
const MAX_THROWN_CHARS = 1000;

/** A thrown non-Error value in words: a string or a plain object or array as JSON (`{"reason":42}`, not `[object Object]`), else as `String()` makes it. */
function describeThrown(value: unknown): string {
  const plain = typeof value === "string" || Array.isArray(value) || (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype);
  const text = (plain ? attempt(() => JSON.stringify(value)) : undefined) ?? attempt(() => String(value)) ?? typeof value;
  return text.length > MAX_THROWN_CHARS ? `${text.slice(0, MAX_THROWN_CHARS - 1)}…` : text;
}
