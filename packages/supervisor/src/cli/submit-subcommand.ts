import { Command } from "commander";
import { Malocher } from "../malocher.js";
import type { JobOptions } from "../submit/job-options.js";
import { dirOption, jsonOption, runOptionsOf, sharedWritersOption, type RunOptionFlags } from "./cli-options.js";
import { commandLines } from "./command-lines.js";
import { jsonLine } from "./json-line.js";
import { envAssignment, integer } from "./option-parsers.js";

/** The command of the examples in `submit --help` and `run --help`. */
export const COMMAND_EXAMPLE = "python train.py --seed {} ::: 1 2 3";

interface SubmitCliOptions extends RunOptionFlags {
  cwd?: string;
  env?: Record<string, string>;
  on?: string;
  slots?: number;
  allowSharedDirWriters?: boolean;
  dir: string;
  json?: boolean;
}

/** `malocher submit -- <command> ::: a b c`: queues one command job per argument, as GNU parallel runs them. */
export function submitSubcommand(): Command {
  return new Command("submit")
    .description("queue a command as jobs, one per argument: {} is replaced by each argument after ::: (or each line of stdin)")
    .argument("<command...>", "the program and its arguments (no shell: use sh -c '…' for one), then ::: arguments")
    .option("--cwd <dir>", "the jobs' working directory (default: this one)")
    .option("--env <NAME=value>", "a variable for the jobs (repeatable)", envAssignment("--env"))
    .option("--timeout <ms>", "kill each attempt of a job after this long", integer("--timeout"))
    .option("--retries <n>", "retries after infrastructure failures", integer("--retries"))
    .option("--retry-on-error", "also retry when the command fails")
    .option("--on <label>", "run only on machines with this label (hosts file: 8/host gpu)")
    .option("--slots <n>", "slots each job takes on its machine (default 1)", integer("--slots"))
    .addOption(sharedWritersOption())
    .addOption(dirOption())
    .addOption(jsonOption())
    .passThroughOptions()
    .addHelpText(
      "after",
      `\nExamples:\n  malocher submit -- ${COMMAND_EXAMPLE}   # 3 jobs; then: malocher run --hosts …\n` +
        "  malocher submit -- sh -c 'convert $0 $1' {1} {2} ::: a.png b.png ::: 10 20   # 4 jobs: every combination\n" +
        "  ls *.csv | malocher submit --json -- python load.py   # one job per line, the line appended",
    )
    .action((command: string[], options: SubmitCliOptions) => {
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      const jobOptions: JobOptions = {
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.env === undefined ? {} : { env: options.env }),
        ...runOptionsOf(options),
        ...(options.on === undefined ? {} : { on: options.on }),
        ...(options.slots === undefined ? {} : { slots: options.slots }),
      };
      for (const argv of commandLines(command)) {
        const jobId = malocher.submitCommand(argv, jobOptions);
        process.stdout.write(options.json ? jsonLine({ jobId, argv }) : `${jobId}\n`);
      }
    });
}
