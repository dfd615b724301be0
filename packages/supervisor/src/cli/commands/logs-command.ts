import { Command } from "commander";
import { StringDecoder } from "node:string_decoder";
import { NO_RUN } from "@malocher/protocol";
import { Malocher } from "../../malocher.js";
import { withOptions, type CliValues } from "../cli-options.js";
import { jsonLine } from "../json-line.js";

const OPTIONS = ["follow", "dir", "json", "allowSharedDirWriters"] as const;

/** `malocher logs [-f] <jobId>`: a job's stdout and stderr, or follows them until the job ends. */
export function logsCommand(): Command {
  const command = new Command("logs")
    .description("print a job's stdout and stderr; with -f, follow them until the job ends (exit 1 if it failed)")
    .argument("<jobId>");
  return withOptions(command, OPTIONS)
    .addHelpText("after", "\nExamples:\n  malocher logs 0mhx3k2a1-3f9c2b7d41e0\n  malocher logs -f 0mhx3k2a1-3f9c2b7d41e0 --dir /shared/alice/jobs")
    .action(async (jobId: string, options: CliValues<(typeof OPTIONS)[number]>) => {
      const malocher = new Malocher({ dir: options.dir, allowSharedWriters: options.allowSharedDirWriters === true });
      if (options.follow) return follow(malocher, jobId, options.json === true);
      const logs = await malocher.logs(jobId);
      if (options.json) {
        process.stdout.write(jsonLine({ jobId, ...logs }));
        return;
      }
      process.stdout.write(logs.stdout);
      process.stderr.write(logs.stderr);
      if (logs.stdout === "" && logs.stderr === "") process.stderr.write(`malocher: no output of job ${jobId}: ${await whyNoOutput(malocher, jobId)}\n`);
    });
}

/** Why a job has no output, so that none is not taken for a job that printed nothing. */
async function whyNoOutput(malocher: Malocher, jobId: string): Promise<string> {
  const state = await malocher.state(jobId);
  if (state === "waiting" || state === "queued" || state === "retrying") return `it has not run yet (${state})`;
  if (state === "running") return "it printed nothing yet; -f follows it";
  const result = await malocher.result(jobId, { timeoutMs: 0 });
  if (result.attempts === 0) return `it never ran (${state}${result.ok ? "" : `: ${result.error.code}`})`;
  if (result.ok) return `it printed nothing (${state})`;
  const message = result.error.message.length > 200 ? `${result.error.message.slice(0, 200)}…` : result.error.message;
  return `it printed nothing (${state}: [${result.error.code ?? result.error.name}] ${message})`;
}

async function follow(malocher: Malocher, jobId: string, json: boolean): Promise<void> {
  const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  for await (const event of malocher.followLogs(jobId)) {
    if (event.type === "output") {
      if (json) process.stdout.write(jsonLine({ jobId, stream: event.stream, text: decoders[event.stream].write(event.data) }));
      else process[event.stream].write(event.data);
      continue;
    }
    const { result } = event;
    if (json) process.stdout.write(jsonLine({ type: "result", ...result }));
    else if (!result.ok) {
      // A job that ended without running (cancelled before it ran, a dependency failed) ran on no host.
      const how = result.error.code === "JOB_CANCELLED" ? "was cancelled" : "failed";
      const where = result.host === NO_RUN ? "" : ` on ${result.host}`;
      process.stderr.write(`malocher: job ${jobId} ${how}${where}: [${result.error.code ?? result.error.name}] ${result.error.message}\n`);
    }
    process.exitCode = result.ok ? 0 : 1;
  }
}
