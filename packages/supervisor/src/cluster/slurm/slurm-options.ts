import { MalocherError } from "@malocher/protocol";

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

const KNOWN = ["nodes", "time", "partition", "account", "sbatchArgs", "loginHost", "maxAllocations", "idleTimeoutMs", "supervisorHost"] as const;

/**
 * Parses Slurm's time formats into ms: `minutes`, `minutes:seconds`, `hours:minutes:seconds`,
 * `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds`. `undefined` if it is none.
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
  return seconds > 0 ? seconds * 1000 : undefined;
}

/** Checks `processAll({ slurm })` and fills in the defaults. */
export function checkSlurmOptions(options: SlurmOptions): SlurmSettings {
  const where = "processAll({ slurm })";
  if (typeof options !== "object" || options === null) throw new MalocherError("INVALID_OPTIONS", `${where} needs an object like { nodes: 2, time: "30:00" }.`);
  rejectUnknownNames(options, KNOWN, "slurm.");
  if (!Number.isSafeInteger(options.nodes) || options.nodes < 1) {
    throw new MalocherError("INVALID_OPTIONS", `${where} needs nodes, a whole number ≥ 1 (nodes per allocation), got ${String(options.nodes)}.`);
  }
  const timeLimitMs = typeof options.time === "string" ? parseSlurmTime(options.time) : undefined;
  if (timeLimitMs === undefined) {
    throw new MalocherError("INVALID_OPTIONS", `${where} needs time, each allocation's time limit in Slurm's format ("30:00", "02:00:00", "1-00:00:00"), got ${JSON.stringify(options.time)}.`);
  }
  const word = (value: unknown, name: string) => {
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value === "" || /\s/.test(value)) throw new MalocherError("INVALID_OPTIONS", `${where}: ${name} needs one word, got ${JSON.stringify(value)}.`);
    return value;
  };
  const sbatchArgs = options.sbatchArgs ?? [];
  if (!Array.isArray(sbatchArgs) || !sbatchArgs.every((arg) => typeof arg === "string" && arg !== "")) {
    throw new MalocherError("INVALID_OPTIONS", `${where}: sbatchArgs needs an array of arguments, e.g. ["--qos=short"].`);
  }
  const count = (value: unknown, name: string, fallback: number) => {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw new MalocherError("INVALID_OPTIONS", `${where}: ${name} needs a whole number ≥ 1, got ${String(value)}.`);
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
 * Refuses option names that are not in `known`, with `INVALID_OPTIONS` naming the option and the
 * closest known name: a misspelt option (`slrum`, `sshMachine`) must not be silently ignored.
 */
export function rejectUnknownNames(options: object, known: readonly string[], prefix = ""): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const closest = closestName(name, known);
    const hint = closest === undefined ? "" : ` Did you mean ${prefix}${closest}?`;
    throw new MalocherError("INVALID_OPTIONS", `Unknown option ${prefix}${name}.${hint} Known options: ${known.map((k) => prefix + k).join(", ")}.`);
  }
}

/** The known name nearest to `name` (edit distance, ignoring case), if one is near enough. */
function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** Damerau-Levenshtein distance (adjacent swaps count as one edit: `slrum` → `slurm` is 1). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
