import { Command } from "commander";
import { MalocherError, firstFailureOf } from "@malocher/protocol";
import { Malocher } from "../../malocher.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { jsonLine } from "../json-line.js";
import { refuseUnknownJobs } from "../unknown-jobs.js";

const OPTIONS = ["failed", "dir", "json", "allowSharedDirWriters"] as const;
/** Of the jobs left failed behind a dependency, the results read to name the job to retry first. */
const NAMED_BLOCKED_AT_MOST = 20;

/** `malocher retry <jobId...> | --failed`: queues failed jobs again for the next `run`. */
export function retryCommand(): Command {
  const command = new Command("retry")
    .description("queue failed or cancelled jobs again (their results are kept aside until clean); the next run runs them")
    .argument("[jobIds...]");
  return withOptions(command, OPTIONS, { failed: "every failed job of the directory (not cancelled ones)" })
    .addHelpText("after", "\nExamples:\n  malocher retry --failed && malocher run --hosts hosts.txt\n  malocher retry 0mhx3k2a1-3f9c2b7d41e0 --dir /shared/alice/jobs")
    .action(async (jobIds: string[], options: CliValues<(typeof OPTIONS)[number]>) => {
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      if (options.failed === true && jobIds.length > 0) throw new MalocherError("INVALID_OPTIONS", "pass job ids or --failed, not both");
      if (options.failed !== true && jobIds.length === 0) throw new MalocherError("INVALID_OPTIONS", "name the jobs to retry, or pass --failed");
      const ids = options.failed === true ? (await malocher.jobs({ states: ["failed"] })).map((job) => job.jobId) : jobIds;
      const outcomes = await malocher.retry(ids);
      if (options.json) {
        for (const [jobId, outcome] of Object.entries(outcomes)) process.stdout.write(jsonLine({ jobId, outcome }));
        refuseUnknownJobs(outcomes, malocher.dir);
        return;
      }
      const having = (outcome: string) => Object.keys(outcomes).filter((jobId) => outcomes[jobId] === outcome);
      const requeued = having("requeued").length;
      // Only unknown ids: the error alone says it ("requeued 0 jobs" before it read as a retry that did nothing).
      if (ids.length === 0 || having("unknown").length < ids.length) console.log(`requeued ${requeued} job${requeued === 1 ? "" : "s"}${requeued > 0 ? "; `malocher run` runs them" : ""}`);
      if (having("notFailed").length > 0) console.log(`not failed (left alone): ${having("notFailed").join(" ")}`);
      const blocked = having("dependencyFailed");
      if (blocked.length > 0) {
        // The job to retry first: the one that failed first down each one's chain, as its failure
        // names it (read for the first few only: a fan-out may leave thousands behind one job).
        const first = new Set<string>();
        for (const jobId of blocked.slice(0, NAMED_BLOCKED_AT_MOST)) {
          const result = await malocher.result(jobId, { timeoutMs: 5000 }).catch(() => undefined);
          const found = result === undefined || result.ok ? undefined : firstFailureOf(result.error.message);
          if (found !== undefined) first.add(found.jobId);
        }
        const which = first.size === 0 ? "retry that one first" : `retry ${[...first].join(" ")} first`;
        console.log(`not requeued, a job they depend on failed or was cancelled (${which}; its dependents then wait for it again): ${blocked.join(" ")}`);
      }
      const stranded = having("moduleMissing");
      if (stranded.length > 0) {
        // Once per module, not once per job: its jobs would all fail to import it again.
        const byModule = new Map<string, number>();
        for (const job of await malocher.jobs({ jobIds: stranded })) {
          const module = job.what?.kind === "function" ? job.what.module : "?";
          byModule.set(module, (byModule.get(module) ?? 0) + 1);
        }
        for (const [module, count] of byModule) {
          console.log(
            `not requeued: ${count} failed job${count === 1 ? "" : "s"} of ${module}, which is no longer at that path (moved or deleted); ` +
              "a rerun would only fail to import it. Submit them again from where the module is now.",
          );
        }
      }
      refuseUnknownJobs(outcomes, malocher.dir);
    });
}
