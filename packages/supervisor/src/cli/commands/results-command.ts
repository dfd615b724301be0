import { Command } from "commander";
import { finishedState } from "@malocher/store";
import { Malocher } from "../../malocher.js";
import { jsonLine, literalText } from "../json-line.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { cutText, keyText, nameAndTagsText, previewText, RESULT_TEXT_LIMIT } from "../job-text.js";

const OPTIONS = ["failed", "full", "dir", "json", "allowSharedDirWriters"] as const;

/** `malocher results [--failed]`: every finished job's result, a line each. */
export function resultsCommand(): Command {
  return withOptions(new Command("results").description("print every finished job's result"), OPTIONS, {
    failed: "only failed jobs (not cancelled ones), each with its error code and message",
  })
    .addHelpText("after", "\nExamples:\n  malocher results --failed\n  malocher results --json --dir /shared/alice/jobs > results.jsonl")
    .action(async (options: CliValues<(typeof OPTIONS)[number]>) => {
      // Long values and messages are cut, on a terminal and in a pipe alike; --json and --full keep them whole.
      const cut = (text: string) => (options.full ? text : cutText(text, RESULT_TEXT_LIMIT));
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      // Which job is which: what each runs (a preview of its arguments) and its key, from its spec.
      const jobs = options.json ? new Map() : new Map((await malocher.jobs({ states: ["succeeded", "failed", "cancelled"] })).map((job) => [job.jobId, job]));
      for await (const [jobId, result] of malocher.results({ loadClasses: false })) {
        const state = finishedState(result);
        if (options.failed && state !== "failed") continue;
        if (options.json) {
          process.stdout.write(jsonLine(result));
          continue;
        }
        const job = jobs.get(jobId);
        const who = `${jobId} ${previewText(job?.what)}${nameAndTagsText(result)}${keyText(job ?? {})}`;
        if (result.ok) process.stdout.write(`${who} ok ${result.host} ${cut(literalText(result.value))}\n`);
        else process.stdout.write(`${who} ${state.toUpperCase()} ${result.host} [${result.error.code ?? result.error.name}] ${cut(result.error.message)}\n`);
      }
    });
}
