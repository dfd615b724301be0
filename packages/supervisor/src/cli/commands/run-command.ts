import { Command } from "commander";
import { constants as osConstants } from "node:os";
import { MalocherError } from "@malocher/protocol";
import { finishedState, prepareSharedDirectory } from "@malocher/store";
import { Malocher } from "../../malocher.js";
import { clusterSettings } from "../../cluster-options.js";
import type { ProcessAllOptions } from "../../process-all.js";
import { RunProgress } from "../run-progress.js";
import type { RunOutcome } from "../../run-tally.js";
import { jsonLine } from "../json-line.js";
import { refuseSshFlagsWithoutMachines, runOptionsOf, slurmOptionsOf, sshOptionsOf, SLURM_FLAGS, SSH_FLAGS, withOptions, type CliValues } from "../cli-options.js";
import { commandLines, usesJobSlot } from "../command-lines.js";
import { keyText, previewText } from "../job-text.js";
import { COMMAND_EXAMPLE } from "./submit-command.js";

/** Up to this many job ids, the error of a run that ran none of those it submitted names them to cancel. */
const MAX_IDS_TO_CANCEL = 20;

const OPTIONS = [
  ...SSH_FLAGS,
  ...SLURM_FLAGS,
  "slots",
  "timeout",
  "killGrace",
  "drainTimeout",
  "retries",
  "retryOnError",
  "keepAlive",
  "once",
  "maxLogBytes",
  "env",
  "cwd",
  "quiet",
  "dashboard",
  "dashboardPort",
  "dashboardHost",
  "dashboardReadOnly",
  "allowSharedDirWriters",
  "dir",
  "json",
] as const;

/** `malocher run [--hosts …] [-- command ::: args]`: starts agents and runs the queued jobs, printing progress. */
export function runCommand(): Command {
  const command = new Command("run")
    .description("start agents on the machines and run every queued job (or, given a command, its jobs); exits 1 if any job failed or was cancelled")
    .argument("[command...]", "submit this command as jobs first (as `malocher submit` does), run only those and print their output");
  return withOptions(command, OPTIONS, { hosts: "a hosts file ([slots/][user@]host[:port] [labels] a line) or h1,h2,…; default: run locally" })
    .passThroughOptions()
    .addHelpText(
      "after",
      "\nExamples:\n  malocher run --hosts node1,alice@node2:2222\n  malocher run --hosts hosts.txt --slots 4 --timeout 10m --dir /shared/alice/jobs\n" +
        "  malocher run --hosts node1,node2 --env OMP_NUM_THREADS=1 --cwd /shared/alice/project\n" +
        "  malocher run --slurm-nodes 4 --slurm-time 02:00:00 --slurm-partition short\n" +
        "  malocher run --hosts node1,node2 --dashboard-port 8470   # the web page on 127.0.0.1:8470 (--port is the nodes' SSH port)\n" +
        `  malocher run --hosts node1,node2 -- ${COMMAND_EXAMPLE}`,
    )
    .action(async (words: string[], options: CliValues<(typeof OPTIONS)[number]>) => {
      const allowSharedWriters = options.allowSharedDirWriters === true;
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters });
      // The machines first: a bad --hosts is refused before this command submits anything.
      const ssh = sshOptionsOf(options);
      const slurm = slurmOptionsOf(options);
      refuseSshFlagsWithoutMachines(options, slurm);
      // Nothing to submit and no waiting for jobs to come: the jobs must be there already. A mistyped
      // --dir would otherwise become a new, empty directory and the run report done 0/0.
      if (words.length === 0 && !options.keepAlive) prepareSharedDirectory(malocher.dir, { create: false, allowSharedWriters });
      const slot = usesJobSlot(words) ? { replaceJobSlot: true } : {};
      const mode = options.json ? "json" : options.quiet ? "quiet" : process.stderr.isTTY ? "tty" : "plain";
      const progress = new RunProgress(mode);
      /** The jobs whose last result failed or was cancelled, and which (a job retried while the run goes is yielded again). */
      const failed = new Map<string, RunOutcome>();
      /** Jobs still queued at the end (after a drain). */
      let left = 0;
      // Ctrl-C once drains (nothing new starts, running jobs finish); twice stops now and requeues.
      const drain = new AbortController();
      const stop = new AbortController();
      process.on("SIGINT", () => {
        if (!drain.signal.aborted) {
          progress.note("malocher: draining: running jobs finish, nothing new starts (Ctrl-C again to stop now)");
          drain.abort();
        } else stop.abort(new MalocherError("RUN_STOPPED", "stopped by Ctrl-C; running jobs were put back in the queue"));
      });
      // Killed, or its terminal or SSH session closed: stop now, as a second Ctrl-C does (the
      // agents end, their jobs go back to the queue, Slurm allocations are cancelled), then exit as
      // the signal would have (128 + its number). A second such signal ends the process at once.
      let stoppedBy: "SIGTERM" | "SIGHUP" | undefined;
      for (const signal of ["SIGTERM", "SIGHUP"] as const) {
        process.on(signal, function onEndingSignal() {
          if (stoppedBy !== undefined) {
            process.off(signal, onEndingSignal);
            process.kill(process.pid, signal);
            return;
          }
          stoppedBy = signal;
          stop.abort(new MalocherError("RUN_STOPPED", `stopped by ${signal}; running jobs were put back in the queue`));
        });
      }
      const runOptions: ProcessAllOptions = {
        ...ssh,
        ...(slurm === undefined ? {} : { slurm }),
        ...(options.slots === undefined ? {} : { slots: options.slots }),
        ...runOptionsOf(options),
        ...(options.keepAlive ? { keepAlive: true } : {}),
        ...(options.drainTimeout === undefined ? {} : { drainTimeoutMs: options.drainTimeout }),
        ...(options.maxLogBytes === undefined ? {} : { maxLogBytes: options.maxLogBytes }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.dashboard || options.dashboardPort !== undefined || options.dashboardHost !== undefined || options.dashboardReadOnly
          ? {
              dashboard: {
                ...(options.dashboardPort === undefined ? {} : { port: options.dashboardPort }),
                ...(options.dashboardHost === undefined ? {} : { host: options.dashboardHost }),
                ...(options.dashboardReadOnly ? { readOnly: true } : {}),
                onListening: (url: string) => (options.json ? void process.stdout.write(jsonLine({ type: "dashboard", url })) : progress.note(`malocher: dashboard at ${url}`)),
              },
            }
          : {}),
        signal: stop.signal,
        drainSignal: drain.signal,
        onEvent: (event) => progress.onEvent(event),
        onWarning: (warning) => progress.note(`malocher: WARNING: ${warning}`),
      };
      // Checked before this command submits anything: a refused option would leave its jobs queued.
      if (words.length > 0) clusterSettings(malocher.dir, { ...runOptions, onWarning: () => {} });
      const jobs = words.length === 0 ? undefined : commandLines(words, options.once === true).map((argv) => malocher.submitCommand(argv, slot));
      let refused = false;
      /** Results this run yielded. */
      let finishedHere = 0;
      try {
        const run = malocher.processAll({ ...runOptions, ...(jobs === undefined ? {} : { jobs }) });
        for await (const [jobId, result] of run) {
          finishedHere++;
          const previous = failed.get(jobId);
          const outcome = finishedState(result);
          failed.delete(jobId);
          if (outcome !== "succeeded") failed.set(jobId, outcome);
          // Which job failed: what it runs (its arguments, short) and its key.
          const job = result.ok || options.json ? undefined : (await malocher.jobs({ jobIds: [jobId] }))[0];
          const who = job === undefined ? jobId : `${jobId} (${previewText(job.what)}${keyText(job)})`;
          progress.onResult(outcome, previous, () => `job ${who} ${outcome === "cancelled" ? "was cancelled" : "failed"} ${result.attempts === 0 ? "without running" : `on ${result.host}`}: ${result.ok ? "" : `[${result.error.code ?? result.error.name}] ${result.error.message}`}`);
          if (options.json) process.stdout.write(jsonLine({ type: "result", ...result }));
          else if (jobs !== undefined) {
            const logs = await malocher.logs(jobId); // like parallel: each command's whole output, as it finishes
            progress.print(logs.stdout, process.stdout);
            progress.print(logs.stderr, process.stderr);
          }
        }
      } catch (error) {
        refused = true;
        // Nothing ran: say where the jobs are (they stay queued, for a run that can use a node);
        // after any error, where the jobs this command submitted are, if none of them finished.
        if (error instanceof MalocherError && (error.code === "NO_USABLE_NODES" || (jobs !== undefined && finishedHere === 0 && stoppedBy === undefined))) {
          const which = jobs === undefined ? "The queued jobs stay" : `The ${jobs.length} job${jobs.length === 1 ? "" : "s"} this command submitted stay`;
          const cancel =
            jobs === undefined ? "`malocher cancel <ids>`" : jobs.length > MAX_IDS_TO_CANCEL ? "`malocher cancel <ids>` (`malocher jobs --state queued` lists them)" : `\`malocher cancel ${jobs.join(" ")}\``;
          throw new MalocherError(error.code, `${error.message}\n${which} queued: a \`malocher run\` that can run them does, ${cancel} drops them.`, { cause: error });
        }
        if (stoppedBy === undefined) throw error;
      } finally {
        // Stopped (a second Ctrl-C, a signal) is no drain: the error that follows says what happened.
        left = progress.finish({ drained: drain.signal.aborted && !stop.signal.aborted, refused });
      }
      if (stoppedBy !== undefined) {
        process.stderr.write(`malocher: [RUN_STOPPED] stopped by ${stoppedBy}; running jobs were put back in the queue\n`);
        process.exitCode = 128 + osConstants.signals[stoppedBy];
        return;
      }
      // A drain that left jobs queued ends as an interrupted command does (128 + SIGINT).
      process.exitCode = failed.size > 0 ? 1 : drain.signal.aborted && left > 0 ? 130 : 0;
    });
}
