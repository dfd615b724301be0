#!/usr/bin/env node
/**
 * The `malocher` command. It only parses arguments and maps them onto the library API.
 */
import { Command } from "commander";
import { MALOCHER_VERSION, MalocherError } from "@malocher/protocol";
import { Malocher } from "../malocher.js";
import { readHosts } from "./read-hosts.js";
import { RunProgress } from "./run-progress.js";
import { jsonLine } from "./json-line.js";
import { dirOption, jsonOption, runOptionsOf, sharedWritersOption, addSlurmOptions, slurmOptionsOf, type RunOptionFlags, type SlurmFlags } from "./cli-options.js";
import { byteSize, envAssignment, integer } from "./option-parsers.js";
import { retryCommand } from "./retry-command.js";
import { cleanCommand } from "./clean-command.js";
import { logsCommand } from "./logs-command.js";
import { submitSubcommand, COMMAND_EXAMPLE } from "./submit-subcommand.js";
import { commandLines } from "./command-lines.js";
import { reportUsageErrorsWithCode, usageExitCode } from "./usage-errors.js";
import { countsText, nameAndTagsText } from "./job-text.js";
import { allocationLine } from "./progress-frame.js";

const program = new Command("malocher")
  .description("Run functions as jobs on SSH machines that share a file system.")
  .version(MALOCHER_VERSION)
  .enablePositionalOptions() // so that `submit` and `run` pass a command's own options through
  .showHelpAfterError()
  .addHelpText("after", "\nExample:\n  malocher run --hosts node1,node2 && malocher results --failed\n\n`malocher <command> --help` shows each command's options and examples.");


program.addCommand(submitSubcommand());

addSlurmOptions(program.command("run"))
  .description("start agents on the machines and run every queued job (or, given a command, its jobs); exits 1 if any job failed")
  .argument("[command...]", "submit this command as jobs first (as `malocher submit` does), run only those and print their output")
  .option("--hosts <file|list>", "a hosts file ([user@]host[:port] a line) or h1,h2,…; default: run locally")
  .option("--port <port>", "SSH port for machines that do not name one", integer("--port"))
  .option("--user <name>", "SSH user for machines that do not name one")
  .option("--identity <file>", "SSH private key file")
  .option("--known-hosts <file>", "OpenSSH known_hosts file (default ~/.ssh/known_hosts)")
  .option("--ssh-config <file>", "OpenSSH client config read instead of ~/.ssh/config and /etc/ssh/ssh_config (none: no config)")
  .option("--slots <n>", "jobs at once per machine (default: its CPU count)", integer("--slots"))
  .option("--timeout <ms>", "kill each attempt of a job after this long (jobs may set their own)", integer("--timeout"))
  .option("--retries <n>", "retries after infrastructure failures (default 3)", integer("--retries"))
  .option("--retry-on-error", "also retry jobs that throw or exit")
  .option("--keep-alive", "keep serving jobs submitted later, until interrupted")
  .option("--max-log-bytes <size>", "keep at most this much of each attempt's stdout and stderr, the tail (default 1M)", byteSize("--max-log-bytes"))
  .option("--env <NAME=value>", "a variable for every job of the run (repeatable); a job's own env wins", envAssignment("--env"))
  .option("--cwd <dir>", "working directory of the run's jobs that did not name their own")
  .option("--quiet", "print nothing but failures")
  .addOption(sharedWritersOption())
  .addOption(dirOption())
  .addOption(jsonOption())
  .passThroughOptions()
  .addHelpText(
    "after",
    "\nExamples:\n  malocher run --hosts node1,alice@node2:2222\n  malocher run --hosts hosts.txt --slots 4 --timeout 600000 --dir /shared/alice/jobs\n" +
      "  malocher run --hosts node1,node2 --env OMP_NUM_THREADS=1 --cwd /shared/alice/project\n" +
      "  malocher run --slurm-nodes 4 --slurm-time 02:00:00 --slurm-partition short\n" +
      `  malocher run --hosts node1,node2 -- ${COMMAND_EXAMPLE}`,
  )
  .action(async (command: string[], options: RunCliOptions) => {
    const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
    const jobs = command.length === 0 ? undefined : commandLines(command).map((argv) => malocher.submitCommand(argv));
    const mode = options.json ? "json" : options.quiet ? "quiet" : process.stderr.isTTY ? "tty" : "plain";
    const progress = new RunProgress(mode);
    let failed = 0;
    // Ctrl-C once drains (nothing new starts, running jobs finish); twice stops now and requeues.
    const drain = new AbortController();
    const stop = new AbortController();
    process.on("SIGINT", () => {
      if (!drain.signal.aborted) {
        progress.note("malocher: draining: running jobs finish, nothing new starts (Ctrl-C again to stop now)");
        drain.abort();
      } else stop.abort(new MalocherError("RUN_STOPPED", "stopped by Ctrl-C; running jobs were put back in the queue"));
    });
    try {
      const slurm = slurmOptionsOf(options);
      const run = malocher.processAll({
        ...(options.hosts === undefined ? {} : { sshMachines: readHosts(options.hosts) }),
        ...(slurm === undefined ? {} : { slurm }),
        ...(options.port === undefined ? {} : { sshPort: options.port }),
        ...(options.user === undefined ? {} : { sshUsername: options.user }),
        ...(options.identity === undefined ? {} : { sshPrivateKey: options.identity }),
        ...(options.knownHosts === undefined ? {} : { knownHosts: options.knownHosts }),
        ...(options.sshConfig === undefined ? {} : { sshConfig: options.sshConfig }),
        ...(options.slots === undefined ? {} : { slots: options.slots }),
        ...runOptionsOf(options),
        ...(options.keepAlive ? { keepAlive: true } : {}),
        ...(options.maxLogBytes === undefined ? {} : { maxLogBytes: options.maxLogBytes }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(jobs === undefined ? {} : { jobs }),
        signal: stop.signal,
        drainSignal: drain.signal,
        onEvent: (event) => progress.onEvent(event),
        onWarning: (warning) => progress.note(`malocher: WARNING: ${warning}`),
      });
      for await (const [jobId, result] of run) {
        if (!result.ok) failed++;
        progress.onResult(result.ok, () => `job ${jobId} failed on ${result.host}: ${result.ok ? "" : `[${result.error.code ?? result.error.name}] ${result.error.message}`}`);
        if (options.json) process.stdout.write(jsonLine({ type: "result", ...result }));
        else if (jobs !== undefined) {
          const logs = await malocher.logs(jobId); // like parallel: each command's whole output, as it finishes
          progress.print(logs.stdout, process.stdout);
          progress.print(logs.stderr, process.stderr);
        }
      }
    } finally {
      progress.finish();
    }
    process.exitCode = failed > 0 ? 1 : 0;
  });

addSlurmOptions(program.command("nodes"))
  .description("check that every machine can run jobs: SSH, host key, Node.js, the shared directory; exits 1 if any has a problem")
  .option("--hosts <file|list>", "a hosts file ([user@]host[:port] a line) or h1,h2,…")
  .option("--port <port>", "SSH port for machines that do not name one", integer("--port"))
  .option("--user <name>", "SSH user for machines that do not name one")
  .option("--identity <file>", "SSH private key file")
  .option("--known-hosts <file>", "OpenSSH known_hosts file (default ~/.ssh/known_hosts)")
  .option("--ssh-config <file>", "OpenSSH client config read instead of ~/.ssh/config and /etc/ssh/ssh_config (none: no config)")
  .addOption(sharedWritersOption())
  .addOption(dirOption())
  .addOption(jsonOption())
  .addHelpText(
    "after",
    "\nExamples:\n  malocher nodes --hosts node1,alice@node2:2222 --dir /shared/alice/jobs\n  malocher nodes --slurm-nodes 4 --slurm-time 02:00:00 --slurm-partition short   (sbatch --test-only)",
  )
  .action(async (options: NodesCliOptions) => {
    const slurm = slurmOptionsOf(options);
    if (options.hosts === undefined && slurm === undefined) throw new MalocherError("INVALID_OPTIONS", "name the machines to check with --hosts, or Slurm's settings with --slurm-nodes and --slurm-time");
    const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
    const nodes = await malocher.checkNodes({
      ...(options.hosts === undefined ? {} : { sshMachines: readHosts(options.hosts) }),
      ...(slurm === undefined ? {} : { slurm }),
      ...(options.port === undefined ? {} : { sshPort: options.port }),
      ...(options.user === undefined ? {} : { sshUsername: options.user }),
      ...(options.identity === undefined ? {} : { sshPrivateKey: options.identity }),
      ...(options.knownHosts === undefined ? {} : { knownHosts: options.knownHosts }),
      ...(options.sshConfig === undefined ? {} : { sshConfig: options.sshConfig }),
    });
    if (options.json) {
      for (const node of nodes) process.stdout.write(jsonLine(node));
    } else {
      const width = Math.max(...nodes.map((node) => node.host.length));
      for (const node of nodes) {
        const version = node.checks.find((check) => check.name === "node");
        const transport = node.transport === undefined ? "" : `, transport ${node.transport}`;
        const summary = node.ok ? `ok   ${version?.detail ?? ""}${transport}` : `FAIL ${node.checks.filter((check) => !check.ok).map((check) => check.name).join(", ")}`;
        console.log(`${node.host.padEnd(width)}  ${summary}`);
        for (const check of node.checks) {
          if (check.ok) continue;
          console.log(`  ${check.name.padEnd(10)} ${check.detail}`);
          if (check.fix !== undefined) console.log(`  ${"".padEnd(10)} fix: ${check.fix}`);
        }
      }
    }
    process.exitCode = nodes.every((node) => node.ok) ? 0 : 1;
  });

program
  .command("status")
  .description("count the directory's jobs per state and per node")
  .addOption(dirOption())
  .addOption(jsonOption())
  .addHelpText("after", "\nExample:\n  malocher status --dir /shared/alice/jobs")
  .action(async (options: { dir: string; json?: boolean }) => {
    const status = await new Malocher({ dir: options.dir }).status();
    if (options.json) {
      process.stdout.write(jsonLine(status));
      return;
    }
    const { counts } = status;
    console.log(`${status.dir}: ${status.total} jobs`);
    console.log(`  ${countsText(counts)}${status.unqueued > 0 ? ` · never queued ${status.unqueued}` : ""}`);
    for (const [host, node] of Object.entries(status.nodes)) {
      console.log(`  ${host.padEnd(24)} running ${node.running} · succeeded ${node.succeeded} · failed ${node.failed}`);
    }
    for (const [tag, byState] of Object.entries(status.tags)) console.log(`  #${tag.padEnd(23)} ${countsText(byState)}`);
    for (const allocation of status.allocations) console.log(`  ${allocationLine(allocation)}`);
  });

program
  .command("results")
  .description("print every finished job's result")
  .option("--failed", "only failed jobs, each with its error code and message")
  .addOption(dirOption())
  .addOption(jsonOption())
  .addHelpText("after", "\nExamples:\n  malocher results --failed\n  malocher results --json --dir /shared/alice/jobs > results.jsonl")
  .action(async (options: { dir: string; json?: boolean; failed?: boolean }) => {
    for await (const [jobId, result] of new Malocher({ dir: options.dir }).results({ loadClasses: false })) {
      if (options.failed && result.ok) continue;
      if (options.json) process.stdout.write(jsonLine(result));
      else if (result.ok) process.stdout.write(`${jobId}${nameAndTagsText(result)} ok ${result.host} ${jsonLine(result.value)}`);
      else process.stdout.write(`${jobId}${nameAndTagsText(result)} FAILED ${result.host} [${result.error.code ?? result.error.name}] ${result.error.message}\n`);
    }
  });

program
  .command("cancel")
  .description("cancel jobs: queued ones never start, running ones are killed")
  .argument("[jobIds...]")
  .option("--all", "every job that has no result yet")
  .addOption(dirOption())
  .addOption(jsonOption())
  .addHelpText("after", "\nExamples:\n  malocher cancel 0mhx3k2a1-3f9c2b7d41e0\n  malocher cancel --all --dir /shared/alice/jobs")
  .action(async (jobIds: string[], options: { dir: string; json?: boolean; all?: boolean }) => {
    const malocher = new Malocher({ dir: options.dir });
    if (options.all) jobIds = await malocher.unfinishedJobs();
    else if (jobIds.length === 0) throw new MalocherError("INVALID_OPTIONS", "name the jobs to cancel, or pass --all");
    const outcomes = await malocher.cancel(jobIds);
    if (options.json) {
      for (const [jobId, outcome] of Object.entries(outcomes)) process.stdout.write(jsonLine({ jobId, outcome }));
      return;
    }
    const counts = new Map<string, number>();
    for (const outcome of Object.values(outcomes)) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    const words: Record<string, string> = {
      cancelled: "cancelled before they ran",
      requested: "running, being killed",
      finished: "already finished (kept)",
      unknown: "unknown ids",
    };
    for (const [outcome, count] of counts) console.log(`${count} ${words[outcome] ?? outcome}`);
  });

program.addCommand(retryCommand());
program.addCommand(cleanCommand());
program.addCommand(logsCommand());

/** The SSH and directory options `run` and `nodes` share. */
interface NodesCliOptions extends SlurmFlags {
  hosts?: string;
  port?: number;
  user?: string;
  identity?: string;
  knownHosts?: string;
  sshConfig?: string;
  allowSharedDirWriters?: boolean;
  dir: string;
  json?: boolean;
}

interface RunCliOptions extends NodesCliOptions, RunOptionFlags {
  slots?: number;
  keepAlive?: boolean;
  maxLogBytes?: number;
  env?: Record<string, string>;
  cwd?: string;
  quiet?: boolean;
}

reportUsageErrorsWithCode(program);
program.parseAsync().catch((error: unknown) => {
  const usageExit = usageExitCode(error);
  if (usageExit !== undefined) {
    process.exitCode = usageExit; // commander printed the error or the help
    return;
  }
  if (error instanceof MalocherError) {
    process.stderr.write(`malocher: [${error.code}] ${error.message}\n`);
  } else {
    process.stderr.write(`malocher: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exitCode = 2;
});
