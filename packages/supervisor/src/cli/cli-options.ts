import { Option, type Command } from "commander";
import { MalocherError, type JobRunOptions } from "@malocher/protocol";
import type { SlurmOptions } from "../cluster/slurm/slurm-options.js";
import { integer } from "./option-parsers.js";
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

/** The `--slurm-…` flags as commander gives them (`run` and `nodes`). */
export interface SlurmFlags {
  slurmNodes?: number;
  slurmTime?: string;
  slurmPartition?: string;
  slurmAccount?: string;
  slurmArg?: string[];
  slurmLogin?: string;
  slurmMaxAllocations?: number;
  slurmIdleTimeout?: number;
  slurmSupervisorHost?: string;
}

/** `--slurm-nodes`, `--slurm-time` and the rest: agents started through Slurm (`slurm` of `processAll`). */
export const slurmCliOptions = (): Option[] => [
  new Option("--slurm-nodes <n>", "start the agents through Slurm: nodes per allocation, one agent each").argParser(integer("--slurm-nodes")),
  new Option("--slurm-time <time>", "each allocation's time limit in Slurm's format (30:00, 02:00:00, 1-00:00:00)"),
  new Option("--slurm-partition <name>", "Slurm partition (sbatch --partition)"),
  new Option("--slurm-account <name>", "Slurm account (sbatch --account)"),
  new Option("--slurm-arg <arg>", "one more sbatch argument, e.g. --slurm-arg=--qos=short (repeatable)").argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
  new Option("--slurm-login <host>", "run sbatch, squeue and scancel on this login host over SSH"),
  new Option("--slurm-max-allocations <n>", "allocations at once, at most (default 1)").argParser(integer("--slurm-max-allocations")),
  new Option("--slurm-idle-timeout <ms>", "agents leave after this long without a job or without this process (default 60000)").argParser(integer("--slurm-idle-timeout")),
  new Option("--slurm-supervisor-host <host>", "the name or address by which the nodes reach this machine (default its host name)"),
];

/** Adds the `--slurm-…` options to `command` (`run`, `nodes`). */
export function addSlurmOptions(command: Command): Command {
  for (const option of slurmCliOptions()) command.addOption(option);
  return command;
}

/** The `slurm` option those flags name; `undefined` when none was given. */
export function slurmOptionsOf(flags: SlurmFlags): SlurmOptions | undefined {
  const given = Object.entries(flags).filter(([name, value]) => name.startsWith("slurm") && value !== undefined);
  if (given.length === 0) return undefined;
  if (flags.slurmNodes === undefined || flags.slurmTime === undefined) {
    throw new MalocherError("INVALID_OPTIONS", "Slurm needs --slurm-nodes (nodes per allocation) and --slurm-time (each allocation's time limit, e.g. 30:00).");
  }
  return {
    nodes: flags.slurmNodes,
    time: flags.slurmTime,
    ...(flags.slurmPartition === undefined ? {} : { partition: flags.slurmPartition }),
    ...(flags.slurmAccount === undefined ? {} : { account: flags.slurmAccount }),
    ...(flags.slurmArg === undefined ? {} : { sbatchArgs: flags.slurmArg }),
    ...(flags.slurmLogin === undefined ? {} : { loginHost: flags.slurmLogin }),
    ...(flags.slurmMaxAllocations === undefined ? {} : { maxAllocations: flags.slurmMaxAllocations }),
    ...(flags.slurmIdleTimeout === undefined ? {} : { idleTimeoutMs: flags.slurmIdleTimeout }),
    ...(flags.slurmSupervisorHost === undefined ? {} : { supervisorHost: flags.slurmSupervisorHost }),
  };
}
