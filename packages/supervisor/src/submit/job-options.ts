import { resolve } from "node:path";
import { MalocherError, isJobId, isLabel, type JobNameAndTags, type JobPlacement, type JobRunOptions } from "@malocher/protocol";
import { SecretValue } from "./secret.js";

/**
 * Per-job options, given as `submit.with(options)(fn, ...args)`. Run options (`timeoutMs`,
 * `retries`, `retryOnError`) set here win over those given to `processAll`.
 *
 * @example
 * ```ts
 * submit.with({ key: "seed-3", timeoutMs: 60_000, env: { OMP_NUM_THREADS: "1" } })(train, 3);
 * submit.with({ on: "gpu", slots: 4 })(train, 4); // a node labelled gpu, 4 of its slots
 * ```
 */
export interface JobOptions extends JobRunOptions, JobPlacement {
  /** Working directory of the job on the node; default the run's `cwd`, else the submitter's working directory. */
  cwd?: string;
  /**
   * Variables added to the node's own environment for this job (the submitter's is not copied);
   * they win over the run's `env`.
   * Values wrapped in `secret()` are stored encrypted and decrypted only for the job.
   */
  env?: Record<string, string | SecretValue>;
  /**
   * A name for the job, unique in the directory: submitting again with the same key returns the
   * id of the job already submitted (finished or not) instead of queuing it twice.
   */
  key?: string;
  /** A name for people, shown by `status`, `results` and in the result (`result.name`); need not be unique. */
  name?: string;
  /** Labels for people, shown with the name (`result.tags`), e.g. `["sweep-3", "lr=0.01"]`. */
  tags?: string[];
  /**
   * Ids of jobs (submitted before) that must succeed before this one runs, without passing their
   * values (for that, put `resultOf(id)` in the arguments). If one fails or is cancelled, this job
   * ends `DEPENDENCY_FAILED` without running.
   */
  after?: readonly string[];
}

/** The checked form of {@link JobOptions}. */
export interface ResolvedJobOptions {
  cwd: string;
  /** `cwd` was given (it then wins over a run's `cwd`), not the submitter's. */
  cwdNamed: boolean;
  env: Record<string, string>;
  secrets: Record<string, SecretValue>;
  key: string | undefined;
  nameAndTags: JobNameAndTags;
  run: JobRunOptions & JobPlacement;
  /** The jobs it runs after (each once). */
  after: string[];
}

/** Checks options given at submit and fills in the defaults. */
export function resolveJobOptions(options: JobOptions): ResolvedJobOptions {
  if (options.cwd !== undefined && typeof options.cwd !== "string") {
    throw new MalocherError("INVALID_OPTIONS", `submit.with({ cwd }) needs a path, got ${typeof options.cwd}.`);
  }
  const env: Record<string, string> = {};
  const secrets: Record<string, SecretValue> = {};
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value instanceof SecretValue) {
      secrets[name] = value;
      continue;
    }
    if (typeof value !== "string") {
      throw new MalocherError(
        "INVALID_OPTIONS",
        `submit.with({ env }) needs string values; env.${name} is ${typeof value}. Use String(value).`,
      );
    }
    env[name] = value;
  }
  if (options.key !== undefined && (typeof options.key !== "string" || options.key === "")) {
    throw new MalocherError("INVALID_OPTIONS", "submit.with({ key }) needs a non-empty string.");
  }
  return {
    cwd: options.cwd === undefined ? process.cwd() : resolve(options.cwd),
    cwdNamed: options.cwd !== undefined,
    env,
    secrets,
    key: options.key,
    nameAndTags: checkNameAndTags(options),
    run: { ...checkRunOptions(options, "submit.with"), ...checkPlacement(options) },
    after: checkAfter(options.after),
  };
}

/** Checks `after`: job ids (`JOB_NOT_FOUND` for anything else; whether they exist is checked at submit). */
function checkAfter(after: unknown): string[] {
  if (after === undefined) return [];
  if (!Array.isArray(after) && typeof after !== "string") {
    throw new MalocherError("INVALID_OPTIONS", "submit.with({ after }) needs an array of job ids, e.g. { after: [prepareId] }.");
  }
  const ids = typeof after === "string" ? [after] : (after as unknown[]);
  for (const id of ids) {
    if (typeof id !== "string" || !isJobId(id)) throw new MalocherError("JOB_NOT_FOUND", `submit.with({ after }) takes ids of submitted jobs, got ${JSON.stringify(id)}.`);
  }
  return [...new Set(ids as string[])];
}

/** Checks `on` and `slots`, keeping only those given. */
function checkPlacement(options: JobPlacement): JobPlacement {
  const placement: JobPlacement = {};
  if (options.on !== undefined) {
    if (typeof options.on !== "string" || !isLabel(options.on)) {
      throw new MalocherError("INVALID_OPTIONS", `submit.with({ on }) needs a label (letters, digits, ".", "_", "-"), got ${JSON.stringify(options.on)}.`);
    }
    placement.on = options.on;
  }
  if (options.slots !== undefined) {
    placement.slots = wholeNumber(options.slots, "submit.with({ slots })");
    if (placement.slots < 1) throw new MalocherError("INVALID_OPTIONS", "submit.with({ slots }) needs at least 1 slot.");
  }
  return placement;
}

const MAX_NAME_LENGTH = 200;

function checkNameAndTags(options: JobOptions): JobNameAndTags {
  const checked: JobNameAndTags = {};
  const valid = (value: unknown) => typeof value === "string" && value !== "" && value.length <= MAX_NAME_LENGTH;
  if (options.name !== undefined) {
    if (!valid(options.name)) {
      throw new MalocherError("INVALID_OPTIONS", `submit.with({ name }) needs a string of 1 to ${MAX_NAME_LENGTH} characters.`);
    }
    checked.name = options.name;
  }
  if (options.tags !== undefined) {
    if (!Array.isArray(options.tags) || !options.tags.every(valid)) {
      throw new MalocherError("INVALID_OPTIONS", `submit.with({ tags }) needs an array of strings of 1 to ${MAX_NAME_LENGTH} characters, e.g. ["sweep-3"].`);
    }
    checked.tags = [...options.tags];
  }
  return checked;
}

/** Checks `timeoutMs`, `retries`, `retryOnError` and `killGraceMs`, keeping only those given. */
export function checkRunOptions(options: JobRunOptions, where: string): JobRunOptions {
  const run: JobRunOptions = {};
  if (options.timeoutMs !== undefined) run.timeoutMs = wholeNumber(options.timeoutMs, `${where}({ timeoutMs })`);
  if (options.killGraceMs !== undefined) run.killGraceMs = wholeNumber(options.killGraceMs, `${where}({ killGraceMs })`);
  if (options.retries !== undefined) run.retries = wholeNumber(options.retries, `${where}({ retries })`);
  if (options.retryOnError !== undefined) {
    if (typeof options.retryOnError !== "boolean") {
      throw new MalocherError("INVALID_OPTIONS", `${where}({ retryOnError }) needs true or false.`);
    }
    run.retryOnError = options.retryOnError;
  }
  return run;
}

function wholeNumber(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new MalocherError("INVALID_OPTIONS", `${where} needs a whole number ≥ 0, got ${String(value)}.`);
  }
  return value;
}

/**
 * Options of `submitCommand`: those of `submit.with`, and `replaceJobSlot`: replace `{%}` in the
 * command's words, on the node, by the job slot that runs it (1 to the node's slots; the same
 * number is in the job's `MALOCHER_SLOT`), as GNU parallel's `{%}`, e.g. to pick a GPU.
 */
export interface CommandJobOptions extends JobOptions {
  replaceJobSlot?: boolean;
}
