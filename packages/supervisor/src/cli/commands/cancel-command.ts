import { Command } from "commander";
import { MalocherError } from "@malocher/protocol";
import { Malocher } from "../../malocher.js";
import { jsonLine } from "../json-line.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { refuseUnknownJobs } from "../unknown-jobs.js";

const OPTIONS = ["all", "dir", "json", "allowSharedDirWriters"] as const;

const OUTCOME_WORDS: Record<string, string> = {
  cancelled: "cancelled before they ran",
  requested: "running, being killed",
  finished: "already finished (kept)",
};

/** `malocher cancel <jobId...> | --all`: queued jobs never start, running ones are killed. */
export function cancelCommand(): Command {
  const command = new Command("cancel").description("cancel jobs: queued ones never start, running ones are killed").argument("[jobIds...]");
  return withOptions(command, OPTIONS)
    .addHelpText("after", "\nExamples:\n  malocher cancel 0mhx3k2a1-3f9c2b7d41e0\n  malocher cancel --all --dir /shared/alice/jobs")
    .action(async (jobIds: string[], options: CliValues<(typeof OPTIONS)[number]>) => {
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      if (options.all) jobIds = await malocher.unfinishedJobs();
      else if (jobIds.length === 0) throw new MalocherError("INVALID_OPTIONS", "name the jobs to cancel, or pass --all");
      const outcomes = await malocher.cancel(jobIds);
      if (options.json) {
        for (const [jobId, outcome] of Object.entries(outcomes)) process.stdout.write(jsonLine({ jobId, outcome }));
      } else {
        const counts = new Map<string, number>();
        for (const outcome of Object.values(outcomes)) if (outcome !== "unknown") counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
        for (const [outcome, count] of counts) console.log(`${count} ${OUTCOME_WORDS[outcome] ?? outcome}`);
      }
      refuseUnknownJobs(outcomes, malocher.dir);
    });
}
