/**
 * Every option of the `malocher` command, once: its flags, its help text and how its value is
 * read. A command takes options from this table by name (`withOptions(command, ["dir", "json"])`),
 * so an option means the same and is read the same way wherever it appears, and the values a
 * command's action gets are typed from the table (`CliValues<"dir" | "json">`).
 */
import { Command, Option } from "commander";
import { MalocherError, type JobRunOptions } from "@malocher/protocol";
import type { SlurmOptions } from "../cluster/slurm/slurm-options.js";
import { defaultDirectory } from "../malocher.js";
import type { ClusterOptions } from "../cluster-options.js";
import { byteSize, duration, DURATION_EXAMPLES, envAssignment, integer, jobIdList, repeated, tcpPort } from "./option-parsers.js";
import { readHosts } from "./read-hosts.js";

interface OptionSpec {
  /** Commander's flags; the table's key is the attribute name they give (`--known-hosts` → `knownHosts`). */
  flags: string;
  help: string;
  parse?: (value: string, previous: never) => unknown;
  default?: { value: () => unknown; description: string };
  /** Attribute names of options this one cannot be given with. */
  conflicts?: readonly string[];
}

export const CLI_OPTIONS = {
  // where the jobs are
  dir: { flags: "--dir <path>", help: "the shared job directory", default: { value: defaultDirectory, description: "$MALOCHER_DIR or ./.malocher" } },
  json: { flags: "--json", help: "machine-readable output (JSON Lines)" },
  allowSharedDirWriters: { flags: "--allow-shared-dir-writers", help: "work in a directory other users can write to (warns each run)" },

  // the machines and how to log in to them (SSH_FLAGS)
  hosts: { flags: "--hosts <file|list>", help: "a hosts file ([slots/][user@]host[:port] [labels] a line) or h1,h2,…" },
  port: { flags: "--port <port>", help: "SSH port for machines that do not name one", parse: tcpPort("--port") },
  user: { flags: "--user <name>", help: "SSH user for machines that do not name one" },
  identity: { flags: "--identity <file>", help: "SSH private key file" },
  knownHosts: { flags: "--known-hosts <file>", help: "OpenSSH known_hosts file (default ~/.ssh/known_hosts)" },
  sshConfig: { flags: "--ssh-config <file>", help: "OpenSSH client config read instead of ~/.ssh/config and /etc/ssh/ssh_config (none: no config)" },

  // agents started through Slurm instead (SLURM_FLAGS)
  slurmNodes: { flags: "--slurm-nodes <n>", help: "start the agents through Slurm: nodes per allocation, one agent each", parse: integer("--slurm-nodes") },
  slurmTime: { flags: "--slurm-time <time>", help: "each allocation's time limit in Slurm's format (30:00, 02:00:00, 1-00:00:00)" },
  slurmPartition: { flags: "--slurm-partition <name>", help: "Slurm partition (sbatch --partition)" },
  slurmAccount: { flags: "--slurm-account <name>", help: "Slurm account (sbatch --account)" },
  slurmArg: { flags: "--slurm-arg <arg>", help: "one more sbatch argument, e.g. --slurm-arg=--qos=short (repeatable)", parse: repeated() },
  slurmLogin: { flags: "--slurm-login <host>", help: "run sbatch, squeue and scancel on this login host over SSH" },
  slurmMaxAllocations: { flags: "--slurm-max-allocations <n>", help: "allocations at once, at most (default 1)", parse: integer("--slurm-max-allocations") },
  slurmIdleTimeout: {
    flags: "--slurm-idle-timeout <duration>",
    help: `agents leave after this long without a job or without this process: ${DURATION_EXAMPLES} (default 60s)`,
    parse: duration("--slurm-idle-timeout"),
  },
  slurmSupervisorHost: { flags: "--slurm-supervisor-host <host>", help: "the name or address by which the nodes reach this machine (default its host name)" },

  // how jobs run
  slots: { flags: "--slots <n>", help: "jobs at once per machine (default: its CPU count)", parse: integer("--slots", 1) },
  timeout: { flags: "--timeout <duration>", help: `kill each attempt of a job after this long: ${DURATION_EXAMPLES} (jobs may set their own)`, parse: duration("--timeout") },
  killGrace: {
    flags: "--kill-grace <duration>",
    help: "a job that is ended (timeout, cancel, drain deadline, stop) gets SIGTERM, then SIGKILL this much later (default 5s)",
    parse: duration("--kill-grace"),
  },
  drainTimeout: {
    flags: "--drain-timeout <duration>",
    help: "after Ctrl-C, let running jobs finish for at most this long, then put them back in the queue (default: no limit)",
    parse: duration("--drain-timeout"),
  },
  retries: { flags: "--retries <n>", help: "retries after infrastructure failures (default 3)", parse: integer("--retries") },
  retryOnError: { flags: "--retry-on-error", help: "also retry jobs that throw or exit" },
  keepAlive: { flags: "--keep-alive", help: "keep serving jobs submitted later, until interrupted" },
  once: { flags: "--once", help: "queue the command once, as it is: no ::: arguments, stdin not read (for scripts)" },
  maxLogBytes: {
    flags: "--max-log-bytes <size>",
    help: "keep at most this much of each attempt's stdout and stderr, the tail (default 1M)",
    parse: byteSize("--max-log-bytes"),
  },
  env: { flags: "--env <NAME=value>", help: "a variable for every job of the run (repeatable); a job's own env wins", parse: envAssignment("--env") },
  cwd: { flags: "--cwd <dir>", help: "working directory of the run's jobs that did not name their own" },
  on: { flags: "--on <label>", help: "run only on machines with this label (hosts file: 8/host gpu)" },
  after: {
    flags: "--after <jobId...>",
    help: "run the jobs only after these jobs succeeded (ids, or id1,id2; repeatable); if one fails they end DEPENDENCY_FAILED",
    parse: jobIdList("--after"),
  },
  quiet: { flags: "--quiet", help: "print nothing but failures" },
  // The dashboard of a run (its web page's listener; `malocher dashboard` calls these --port and --host, as it has no SSH port or host filter)
  dashboard: { flags: "--dashboard", help: "serve the dashboard (web page) while the run goes on, on 127.0.0.1; prints its address" },
  dashboardPort: { flags: "--dashboard-port <port>", help: "the port the dashboard listens on (default: a free one); implies --dashboard", parse: integer("--dashboard-port") },
  dashboardHost: {
    flags: "--dashboard-host <address>",
    help: "the address the dashboard listens on (default 127.0.0.1: reach it from elsewhere with ssh -L; any other is warned about); implies --dashboard",
  },
  dashboardReadOnly: { flags: "--dashboard-read-only", help: "no cancel or retry on the dashboard: its page and API only read; implies --dashboard" },
  readOnly: { flags: "--read-only", help: "no cancel or retry: the page and the API only read" },

  // which jobs
  all: { flags: "--all", help: "every job that has no result yet" },
  failed: { flags: "--failed", help: "only failed jobs", conflicts: ["succeeded"] },
  succeeded: { flags: "--succeeded", help: "only succeeded jobs" },
  olderThan: {
    flags: "--older-than <duration>",
    help: `only jobs that finished at least this long ago: ${DURATION_EXAMPLES}`,
    parse: duration("--older-than"),
  },
  state: { flags: "--state <state>", help: "only jobs in this state: waiting, queued, retrying, running, succeeded, failed, cancelled (repeatable)", parse: repeated() },
  name: { flags: "--name <name>", help: "only jobs with this name (repeatable)", parse: repeated() },
  tag: { flags: "--tag <tag>", help: "only jobs with this tag (repeatable)", parse: repeated() },
  host: { flags: "--host <host>", help: "only jobs that ran (or run) on this machine (repeatable)", parse: repeated() },

  // output
  follow: { flags: "-f, --follow", help: "keep printing what the job writes until it has a result" },
  full: { flags: "--full", help: "print long values whole (they are cut on the terminal otherwise)" },
} as const satisfies Record<string, OptionSpec>;

export type CliOptionName = keyof typeof CLI_OPTIONS;

type ValueOf<S> = S extends { parse: (...args: never[]) => infer T } ? T : S extends { flags: `${string}<${string}>` } ? string : boolean;

/** The values of options `N` as a command's action gets them (`dir` always has one: its default). */
export type CliValues<N extends CliOptionName> = { [K in N]?: ValueOf<(typeof CLI_OPTIONS)[K]> } & ("dir" extends N ? { dir: string } : unknown);

/** The options that say which machines to use and how to log in to them, the same for every command that connects. */
export const SSH_FLAGS = ["hosts", "port", "user", "identity", "knownHosts", "sshConfig"] as const satisfies readonly CliOptionName[];

/** The options of agents started through Slurm (`run`, `nodes`). */
export const SLURM_FLAGS = [
  "slurmNodes",
  "slurmTime",
  "slurmPartition",
  "slurmAccount",
  "slurmArg",
  "slurmLogin",
  "slurmMaxAllocations",
  "slurmIdleTimeout",
  "slurmSupervisorHost",
] as const satisfies readonly CliOptionName[];

/** The option `name` of the table, with this command's own help text if it has one. */
export function cliOption(name: CliOptionName, help?: string): Option {
  const spec: OptionSpec = CLI_OPTIONS[name];
  const option = new Option(spec.flags, help ?? spec.help);
  if (spec.parse !== undefined) option.argParser(spec.parse as (value: string, previous: unknown) => unknown);
  if (spec.default !== undefined) option.default(spec.default.value(), spec.default.description);
  if (spec.conflicts !== undefined) option.conflicts([...spec.conflicts]);
  return option;
}

/** Adds the options `names` of the table to `command`; `help` gives some of them this command's own text. */
export function withOptions(command: Command, names: readonly CliOptionName[], help: Partial<Record<CliOptionName, string>> = {}): Command {
  for (const name of names) command.addOption(cliOption(name, help[name]));
  return command;
}

/**
 * Refuses SSH flags that would do nothing: `--port`, `--user`, … are for the `--hosts` machines
 * (and a `--slurm-login` host); without either, a run is local and would ignore them.
 */
export function refuseSshFlagsWithoutMachines(values: CliValues<(typeof SSH_FLAGS)[number]>, slurm: SlurmOptions | undefined): void {
  if (values.hosts !== undefined || slurm?.loginHost !== undefined) return;
  const given = SSH_FLAGS.filter((name) => name !== "hosts" && values[name] !== undefined).map((name) => CLI_OPTIONS[name].flags.split(" ")[0]!);
  if (given.length === 0) return;
  throw new MalocherError(
    "INVALID_OPTIONS",
    `${given.join(", ")} ${given.length === 1 ? "is" : "are"} for the --hosts machines (or the --slurm-login host); without --hosts the run is local and would ignore ${given.length === 1 ? "it" : "them"}.` +
      (given.includes("--port") ? " The dashboard's port is --dashboard-port." : ""),
  );
}

/** The cluster options the SSH flags give (only those given; `--hosts` read as a file or a list). */
export function sshOptionsOf(values: CliValues<(typeof SSH_FLAGS)[number]>): Partial<ClusterOptions> {
  return {
    ...(values.hosts === undefined ? {} : { sshMachines: readHosts(values.hosts) }),
    ...(values.port === undefined ? {} : { sshPort: values.port }),
    ...(values.user === undefined ? {} : { sshUsername: values.user }),
    ...(values.identity === undefined ? {} : { sshPrivateKey: values.identity }),
    ...(values.knownHosts === undefined ? {} : { knownHosts: values.knownHosts }),
    ...(values.sshConfig === undefined ? {} : { sshConfig: values.sshConfig }),
  };
}

/** The run options `--timeout`, `--kill-grace`, `--retries` and `--retry-on-error` give (`run` and `submit`), only those given. */
export function runOptionsOf(values: CliValues<"timeout" | "killGrace" | "retries" | "retryOnError">): JobRunOptions {
  return {
    ...(values.timeout === undefined ? {} : { timeoutMs: values.timeout }),
    ...(values.killGrace === undefined ? {} : { killGraceMs: values.killGrace }),
    ...(values.retries === undefined ? {} : { retries: values.retries }),
    ...(values.retryOnError ? { retryOnError: true } : {}),
  };
}

/** The `slurm` option the Slurm flags give; `undefined` when none was given. */
export function slurmOptionsOf(values: CliValues<(typeof SLURM_FLAGS)[number]>): SlurmOptions | undefined {
  if (SLURM_FLAGS.every((name) => values[name] === undefined)) return undefined;
  if (values.slurmNodes === undefined || values.slurmTime === undefined) {
    throw new MalocherError("INVALID_OPTIONS", "Slurm needs --slurm-nodes (nodes per allocation) and --slurm-time (each allocation's time limit, e.g. 30:00).");
  }
  return {
    nodes: values.slurmNodes,
    time: values.slurmTime,
    ...(values.slurmPartition === undefined ? {} : { partition: values.slurmPartition }),
    ...(values.slurmAccount === undefined ? {} : { account: values.slurmAccount }),
    ...(values.slurmArg === undefined ? {} : { sbatchArgs: values.slurmArg }),
    ...(values.slurmLogin === undefined ? {} : { loginHost: values.slurmLogin }),
    ...(values.slurmMaxAllocations === undefined ? {} : { maxAllocations: values.slurmMaxAllocations }),
    ...(values.slurmIdleTimeout === undefined ? {} : { idleTimeoutMs: values.slurmIdleTimeout }),
    ...(values.slurmSupervisorHost === undefined ? {} : { supervisorHost: values.slurmSupervisorHost }),
  };
}
