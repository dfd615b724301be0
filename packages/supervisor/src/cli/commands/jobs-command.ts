import { Command } from "commander";
import { MalocherError } from "@malocher/protocol";
import { LISTED_JOB_STATES } from "@malocher/store";
import { Malocher } from "../../malocher.js";
import { jsonLine } from "../json-line.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { durationText, keyText, nameAndTagsText, previewText } from "../job-text.js";

const OPTIONS = ["state", "name", "tag", "host", "dir", "json", "allowSharedDirWriters"] as const;

/** `malocher jobs [--state S] [--name N] [--tag T] [--host H]`: which job is which. */
export function jobsCommand(): Command {
  const command = new Command("jobs").description("list the directory's jobs, a line each: id, state, host, attempts, duration, name, key and what it runs");
  return withOptions(command, OPTIONS)
    .addHelpText(
      "after",
      "\nExamples:\n  malocher jobs --state running\n  malocher jobs --tag sweep-7 --state failed --json | jq -r .jobId\n  malocher jobs --host node2 --dir /shared/alice/jobs",
    )
    .action(async (options: CliValues<(typeof OPTIONS)[number]>) => {
      const unknown = options.state?.find((state) => !LISTED_JOB_STATES.includes(state));
      if (unknown !== undefined) throw new MalocherError("INVALID_OPTIONS", `--state takes one of ${LISTED_JOB_STATES.join(", ")}; got ${JSON.stringify(unknown)}.`);
      const jobs = await new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true }).jobs({
        ...(options.state === undefined ? {} : { states: options.state }),
        ...(options.name === undefined ? {} : { names: options.name }),
        ...(options.tag === undefined ? {} : { tags: options.tag }),
        ...(options.host === undefined ? {} : { hosts: options.host }),
      });
      if (options.json) {
        for (const job of jobs) process.stdout.write(jsonLine({ ...job, preview: previewText(job.what) }));
        return;
      }
      const hostWidth = Math.min(24, Math.max(4, ...jobs.map((job) => job.host?.length ?? 1)));
      for (const job of jobs) {
        const attempts = job.attempts === undefined ? "-" : `${job.attempts}×`;
        const duration = job.durationMs === undefined ? "-" : durationText(job.durationMs);
        const host = (job.host ?? "-").padEnd(hostWidth);
        process.stdout.write(`${job.jobId}  ${job.state.padEnd(9)}  ${host}  ${attempts.padStart(3)}  ${duration.padStart(9)}  ${previewText(job.what)}${nameAndTagsText(job)}${keyText(job)}\n`);
      }
    });
}
