import { Option } from "commander";
import type { JobRunOptions } from "@malocher/protocol";
import { defaultDirectory } from "../malocher.js";

/** `--dir`, which every command takes. */
export const dirOption = () =>
  new Option("--dir <path>", "the shared job directory").default(defaultDirectory(), "$MALOCHER_DIR or ./.malocher");

/** `--json`, which every command takes. */
export const jsonOption = () => new Option("--json", "machine-readable output (JSON Lines)");

/** `--allow-shared-dir-writers`, for the commands that open the directory to work in it. */
export const sharedWritersOption = () =>
  new Option("--allow-shared-dir-writers", "work in a directory other users can write to (warns each run)");

/** `--timeout`, `--retries` and `--retry-on-error` as commander gives them (`run` and `submit`). */
export interface RunOptionFlags {
  timeout?: number;
  retries?: number;
  retryOnError?: boolean;
}

/** The run options those flags name, only those given. */
export function runOptionsOf(flags: RunOptionFlags): JobRunOptions {
  return {
    ...(flags.timeout === undefined ? {} : { timeoutMs: flags.timeout }),
    ...(flags.retries === undefined ? {} : { retries: flags.retries }),
    ...(flags.retryOnError ? { retryOnError: true } : {}),
  };
}
