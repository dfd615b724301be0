import { Command } from "commander";
import { MalocherError } from "@malocher/protocol";
import { Malocher } from "../../malocher.js";
import type { CommandJobOptions } from "../../submit/job-options.js";
import { runOptionsOf, withOptions, type CliValues } from "../cli-options.js";
import { commandLines, usesJobSlot } from "../command-lines.js";
import { jsonLine } from "../json-line.js";

/** The command of the examples in `submit --help` and `run --help`. */
export const COMMAND_EXAMPLE = "python train.py --seed {} ::: 1 2 3";

const OPTIONS = ["cwd", "env", "timeout", "killGrace", "retries", "retryOnError", "on", "slots", "after", "name", "tag", "once", "allowSharedDirWriters", "dir", "json"] as const;

/** `malocher submit -- <command> ::: a b c`: queues one command job per argument, as GNU parallel runs them. */
export function submitCommand(): Command {
  const command = new Command("submit")
    .description("queue a command as jobs, one per argument: {} is replaced by each argument after ::: (or each line of stdin; with --once, or on a terminal without :::, the command is one job)")
    .argument("<command...>", "the program and its arguments (no shell: use sh -c '…' for one), then ::: arguments");
  return withOptions(command, OPTIONS, {
    cwd: "the jobs' working directory (default: this one)",
    env: "a variable for the jobs (repeatable)",
    timeout: "kill each attempt of a job after this long: 500ms, 10s, 5m, 1h or 2d",
    retries: "retries after infrastructure failures",
    retryOnError: "also retry when the command fails",
    slots: "slots each job takes on its machine (default 1)",
    name: "a name for the jobs, for people (jobs --name finds them; shown by results and the dashboard)",
    tag: "a tag for the jobs (repeatable; jobs --tag finds them)",
  })
    .passThroughOptions()
    .addHelpText(
      "after",
      `\nExamples:\n  malocher submit -- ${COMMAND_EXAMPLE}   # 3 jobs; then: malocher run --hosts …\n` +
        "  malocher submit -- sh -c 'convert $0 $1' {1} {2} ::: a.png b.png ::: 10 20   # 4 jobs: every combination\n" +
        "  ls *.csv | malocher submit --json -- python load.py   # one job per line, the line appended\n" +
        "  malocher submit --once --after 0mhx3k2a1-3f9c2b7d41e0 -- python report.py   # one job, run once that job succeeded",
    )
    .action((words: string[], options: CliValues<(typeof OPTIONS)[number]>) => {
      if (options.name !== undefined && options.name.length > 1) throw new MalocherError("INVALID_OPTIONS", `--name is given once: the jobs' name (got ${options.name.length}: ${options.name.join(", ")}); --tag may be repeated.`);
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      const jobOptions: CommandJobOptions = {
        ...(options.name === undefined ? {} : { name: options.name[0]! }),
        ...(options.tag === undefined ? {} : { tags: options.tag }),
        ...(usesJobSlot(words) ? { replaceJobSlot: true } : {}),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...runOptionsOf(options),
        ...(options.on === undefined ? {} : { on: options.on }),
        ...(options.slots === undefined ? {} : { slots: options.slots }),
        ...(options.after === undefined ? {} : { after: options.after }),
      };
      for (const argv of commandLines(words, options.once === true)) {
        const jobId = malocher.submitCommand(argv, jobOptions);
        process.stdout.write(options.json ? jsonLine({ jobId, argv }) : `${jobId}\n`);
      }
    });
}
