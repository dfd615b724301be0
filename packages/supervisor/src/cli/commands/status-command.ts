import { Command } from "commander";
import { Malocher } from "../../malocher.js";
import { jsonLine } from "../json-line.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { countsText } from "../job-text.js";
import { allocationLine } from "../progress-frame.js";

const OPTIONS = ["dir", "json", "allowSharedDirWriters"] as const;

/** `malocher status`: jobs per state, per node and per tag, and the Slurm allocations of running supervisors. */
export function statusCommand(): Command {
  return withOptions(new Command("status").description("count the directory's jobs per state and per node"), OPTIONS)
    .addHelpText("after", "\nExample:\n  malocher status --dir /shared/alice/jobs")
    .action(async (options: CliValues<(typeof OPTIONS)[number]>) => {
      const status = await new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true }).status();
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
      // Failed jobs whose result names no node (a dependency failed first; a result that cannot be read, listed below): the per-node lines would not add up.
      const onNoNode = counts.failed - Object.values(status.nodes).reduce((sum, node) => sum + node.failed, 0);
      if (onNoNode > 0 && Object.keys(status.nodes).length > 0) console.log(`  ${"(no node)".padEnd(24)} failed ${onNoNode}`);
      for (const [tag, byState] of Object.entries(status.tags)) console.log(`  #${tag.padEnd(23)} ${countsText(byState)}`);
      for (const allocation of status.allocations) console.log(`  ${allocationLine(allocation)}`);
      for (const { jobId, reason } of status.unreadable ?? []) console.log(`  ${jobId}: RESULT_UNREADABLE (counted as failed): ${reason}`);
    });
}
