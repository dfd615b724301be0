import { MalocherError, shownValue, slurmStopMarginMs } from "@malocher/protocol";
import { rejectUnknownNames } from "../../option-names.js";

/**
 * Agents started through Slurm: one allocation of `nodes` nodes, one agent per node, for as long
 * as jobs remain (`processAll({ slurm })`, `startCluster({ slurm })`, `malocher run --slurm-nodes`).
 *
 * @example
 * ```ts
 * for await (const [id, r] of processAll({ slurm: { nodes: 4, time: "02:00:00", partition: "short" } })) { … }
 * ```
 */
export interface SlurmOptions {
  /** Nodes per allocation (one agent each). */
  nodes: number;
  /** Each allocation's time limit, in Slurm's format: `"30"` (minutes), `"30:00"`, `"02:00:00"`, `"1-00:00:00"`. */
  time: string;
  /** `--partition`. */
  partition?: string;
  /** `--account`. */
  account?: string;
  /** More `sbatch` arguments, each one word (`["--qos=short", "--constraint=avx2"]`). */
  sbatchArgs?: readonly string[];
  /**
   * Run `sbatch`, `squeue` and `scancel` on this host over SSH (ssh config, ProxyJump and
   * ssh-agent as for `sshMachines`) instead of on this machine.
   */
  loginHost?: string;
  /** Allocations at once, at most; default 1. A new one is asked for while jobs remain queued. */
  maxAllocations?: number;
  /**
   * An agent without a job this long leaves, and so does one whose supervisor is gone (then at most
   * this long after): its allocation ends instead of idling. Default 60000.
   */
  idleTimeoutMs?: number;
  /**
   * The host name or address by which the nodes reach this process's WebSocket (the agents dial
   * it); default this machine's host name. The supervisor listens there, and admits only agents
   * presenting the run's token.
   */
  supervisorHost?: string;
}

/** Checked Slurm options, with the defaults. */
export interface SlurmSettings {
  nodes: number;
  time: string;
  timeLimitMs: number;
  partition: string | undefined;
  account: string | undefined;
  sbatchArgs: string[];
  loginHost: string | undefined;
  maxAllocations: number;
  idleTimeoutMs: number;
  supervisorHost: string | undefined;
  /** Slurm's warning signal comes this long before the end (`--signal=B:USR1@<lead>`, in seconds there). */
  warningLeadMs: number;
  /** Agents stop this long before the end, putting running jobs back without counting an attempt. */
  stopMarginMs: number;
}

/**
 * Parses Slurm's time formats into ms: `minutes`, `minutes:seconds`, `hours:minutes:seconds`,
 * `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds`. `undefined` if it is none.
 * Rounded up to whole minutes, as Slurm keeps a time limit (`"0:10"` gives a minute): a limit
 * taken for 10 s would put Slurm's warning before the allocation's start.
 */
export function parseSlurmTime(time: string): number | undefined {
  const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(time.trim());
  if (match === null) return undefined;
  const [, days, a, b, c] = match;
  const n = (text: string | undefined) => (text === undefined ? 0 : Number(text));
  let seconds: number;
  if (days !== undefined) seconds = n(days) * 86400 + n(a) * 3600 + n(b) * 60 + n(c);
  else if (c !== undefined) seconds = n(a) * 3600 + n(b) * 60 + n(c);
  else if (b !== undefined) seconds = n(a) * 60 + n(b);
  else seconds = n(a) * 60;
  return seconds > 0 ? Math.ceil(seconds / 60) * 60_000 : undefined;
}

/** Each option of `processAll({ slurm })` with its flag of `malocher run` and `malocher nodes`, as errors name them. */
const FLAGS: Record<keyof SlurmOptions, string> = {
  nodes: "--slurm-nodes",
  time: "--slurm-time",
  partition: "--slurm-partition",
  account: "--slurm-account",
  sbatchArgs: "--slurm-arg",
  loginHost: "--slurm-login",
  maxAllocations: "--slurm-max-allocations",
  idleTimeoutMs: "--slurm-idle-timeout",
  supervisorHost: "--slurm-supervisor-host",
};

/** `slurm.time (--slurm-time)`: an option as the library and the CLI name it. */
function named(name: keyof SlurmOptions): string {
  return `slurm.${name} (${FLAGS[name]})`;
}

/** Checks `processAll({ slurm })` and fills in the defaults. */
export function checkSlurmOptions(options: SlurmOptions): SlurmSettings {
  if (typeof options !== "object" || options === null) throw new MalocherError("INVALID_OPTIONS", `processAll({ slurm }) needs an object like { nodes: 2, time: "30:00" }.`);
  rejectUnknownNames(options, Object.keys(FLAGS), "processAll({ slurm })", "slurm.");
  if (!Number.isSafeInteger(options.nodes) || options.nodes < 1) {
    throw new MalocherError("INVALID_OPTIONS", `${named("nodes")} needs a whole number ≥ 1 (nodes per allocation), got ${shownValue(options.nodes, "number")}.`);
  }
  const timeLimitMs = typeof options.time === "string" ? parseSlurmTime(options.time) : undefined;
  if (timeLimitMs === undefined) {
    throw new MalocherError("INVALID_OPTIONS", `${named("time")} needs each allocation's time limit in Slurm's format ("30:00", "02:00:00", "1-00:00:00"), got ${shownValue(options.time, "string")}.`);
  }
  const word = (value: unknown, name: keyof SlurmOptions) => {
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "" || /\s/.test(value)) throw new MalocherError("INVALID_OPTIONS", `${named(name)} needs one word, got ${shownValue(value, "string")}.`);
    return value;
  };
  const sbatchArgs = options.sbatchArgs ?? [];
  if (!Array.isArray(sbatchArgs) || !sbatchArgs.every((arg) => typeof arg === "string" && arg !== "")) {
    throw new MalocherError("INVALID_OPTIONS", `${named("sbatchArgs")} needs an array of arguments, e.g. ["--qos=short"].`);
  }
  const count = (value: unknown, name: keyof SlurmOptions, fallback: number) => {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new MalocherError("INVALID_OPTIONS", `${named(name)} needs a whole number ≥ 1, got ${shownValue(value, "number")}.`);
    return value;
  };
  // The warning's lead: a small share of the limit, at most 2 minutes (Slurm may send it up to a
  // minute early); agents stop a little before the end themselves, whatever the warning did.
  const warningLeadMs = Math.min(120_000, Math.max(10_000, Math.round(timeLimitMs / 10 / 1000) * 1000));
  const stopMarginMs = Math.min(30_000, Math.max(5_000, Math.round(timeLimitMs / 20)));
  return {
    nodes: options.nodes,
    time: options.time.trim(),
    timeLimitMs,
    partition: word(options.partition, "partition"),
    account: word(options.account, "account"),
    sbatchArgs: [...sbatchArgs],
    loginHost: word(options.loginHost, "loginHost"),
    maxAllocations: count(options.maxAllocations, "maxAllocations", 1),
    idleTimeoutMs: count(options.idleTimeoutMs, "idleTimeoutMs", 60_000),
    supervisorHost: word(options.supervisorHost, "supervisorHost"),
    warningLeadMs,
    stopMarginMs,
  };
}

/**
 * How long before an allocation's end its agents stop their jobs: the allocation's margin, or
 * longer when the jobs' kill grace needs it (SIGTERM, SIGKILL `killGraceMs` later, all before Slurm's own SIGTERM).
 */
export function agentStopMarginMs(slurm: SlurmSettings, killGraceMs: number): number {
  return slurmStopMarginMs(slurm.stopMarginMs, killGraceMs);
}

/** The longest any job can run in an allocation of this run: a `timeoutMs` above it fits in none. */
export function longestJobMs(slurm: SlurmSettings, killGraceMs: number): number {
  return slurm.timeLimitMs - agentStopMarginMs(slurm, killGraceMs);
}
