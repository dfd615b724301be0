import { Command } from "commander";
import { Malocher } from "../../malocher.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { jsonLine } from "../json-line.js";

const OPTIONS = ["olderThan", "failed", "succeeded", "dir", "json", "allowSharedDirWriters"] as const;

/** `malocher clean [--older-than 7d] [--failed|--succeeded]`: removes finished jobs' files. */
export function cleanCommand(): Command {
  const command = new Command("clean").description("remove finished jobs' files (spec, result, logs, key), and what supervisors that died left in slurm/; queued and running jobs are never touched");
  return withOptions(command, OPTIONS)
    .addHelpText("after", "\nExamples:\n  malocher clean --older-than 7d\n  malocher clean --succeeded --dir /shared/alice/jobs")
    .action(async (options: CliValues<(typeof OPTIONS)[number]>) => {
      const only = options.failed ? "failed" : options.succeeded ? "succeeded" : undefined;
      const removed = await new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true }).clean({
        ...(options.olderThan === undefined ? {} : { olderThanMs: options.olderThan }),
        ...(only === undefined ? {} : { only }),
      });
      if (options.json) {
        for (const job of removed) process.stdout.write(jsonLine(job));
        return;
      }
      const counts = { succeeded: 0, failed: 0, cancelled: 0 };
      for (const job of removed) counts[job.state]++;
      const bytes = removed.reduce((sum, job) => sum + job.bytes, 0);
      const states = Object.entries(counts)
        .filter(([, count]) => count > 0)
        .map(([state, count]) => `${count} ${state}`);
      console.log(
        removed.length === 0
          ? "removed nothing: no finished job matched (a finished job that a queued or waiting job still needs is kept)"
          : `removed ${removed.length} finished job${removed.length === 1 ? "" : "s"} (${states.join(", ")}), ${formatBytes(bytes)}`,
      );
    });
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
