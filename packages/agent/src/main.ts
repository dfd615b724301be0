/**
 * The agent's entry point, started by the supervisor (over SSH, or as a child in local mode) as
 * `node main.js`. The launch config (with the tunnel token) arrives as the first line on stdin;
 * the end of stdin means the SSH session is gone, and the agent stops its jobs and exits.
 * Started by Slurm (`srun node main.js --slurm <prefix>`, one task per node), it reads its launch
 * config from the file `<prefix>.<SLURM_PROCID>` instead (see `readSlurmLaunchFile`), and stops on
 * SIGTERM, its allocation's end, or losing its supervisor.
 * With the `stdio` transport (the node refuses port forwarding), the rest of stdin and all of
 * stdout carry length-prefixed message frames; everything else the agent says goes to stderr.
 */
import { existsSync } from "node:fs";
import { AGENT_STOP_MARGIN_MS, MalocherError, parseAgentLaunchConfig, type AgentLaunchConfig } from "@malocher/protocol";
import { readSlurmLaunchFile } from "./slurm/slurm-launch-file.js";
import { Agent } from "./agent.js";
import { knowAgentId, say } from "./say.js";
import { StdioLink } from "./link/stdio-link.js";
import { prepareSharedDirectory } from "@malocher/store";
import { loadDirectoryKey } from "@malocher/store";

/**
 * Reads stdin up to the first newline; stdin stays open (its end is our shutdown signal). Returns
 * the line and whatever came after it in the same chunk (frames, with the stdio transport).
 */
function readLaunchLine(): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline < 0) return;
      process.stdin.off("data", onData);
      process.stdin.off("end", onEnd);
      resolve({ line: buffered.subarray(0, newline).toString("utf8"), rest: buffered.subarray(newline + 1) });
    };
    const onEnd = () => reject(new MalocherError("AGENT_START_FAILED", "stdin closed before the launch config arrived"));
    process.stdin.on("data", onData);
    process.stdin.on("end", onEnd);
  });
}

/**
 * Takes stdout for the message frames: returns a writer to the real stdout and sends every other
 * write to it (console.log included, which writes through `process.stdout.write`) to stderr, so
 * that no stray line can corrupt the frame stream.
 */
function takeStdoutForFrames(): (bytes: Uint8Array) => void {
  const stdout = process.stdout;
  const writeFrame = stdout.write.bind(stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  stdout.write = ((...args: unknown[]) => stderrWrite(...args)) as typeof stdout.write;
  return (bytes) => void writeFrame(bytes);
}

// When the supervisor dies, our stdout and stderr go with it: a log line must not kill the
// shutdown that puts our jobs back in the queue.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

/**
 * The shared directory and the modules of the run's jobs exist where the submitter has them; a
 * node that lacks one is not sharing the submitter's file system at that path (a script and its
 * `.malocher` left in a local directory). Said once, here, rather than by every job.
 */
function refuseUnsharedPaths(config: AgentLaunchConfig): void {
  for (const [path, what] of [[config.dir, "the shared directory"], ...config.mustSee.map((module) => [module, "the module of the run's jobs"])] as const) {
    if (existsSync(path)) continue;
    throw new MalocherError(
      "SHARED_DIR_FORMAT",
      `${path}, ${what}, is not visible on ${config.host} at that path, though the machine that submitted the jobs has it: ` +
        "it must be on the file system every machine shares, mounted at the same path. Put the script and its .malocher " +
        "directory on the shared file system (e.g. a shared home) and run it from there; `malocher nodes --hosts …` checks each machine.",
    );
  }
}

async function main(): Promise<void> {
  const slurmAt = process.argv.indexOf("--slurm");
  if (slurmAt >= 0) return runInSlurm(process.argv[slurmAt + 1] ?? "");
  const { line, rest } = await readLaunchLine();
  const config = parseAgentLaunchConfig(line);
  knowAgentId(config.agentId);
  const writeFrame = config.transport === "stdio" ? takeStdoutForFrames() : undefined;
  refuseUnsharedPaths(config);
  const warnings = prepareSharedDirectory(config.dir, { create: false, allowSharedWriters: config.allowSharedWriters });
  for (const warning of warnings) say(`WARNING: ${warning}`);
  loadDirectoryKey(config.dir, { create: false });
  const agent =
    writeFrame === undefined ? new Agent(config) : new Agent(config, (events) => new StdioLink(process.stdin, rest, writeFrame, events));
  exitPastStopDeadline(agent);
  let asked = false;
  // A second signal (or the session's end after one) exits at once.
  const stop = (reason: string): void => {
    if (asked) return exitNow(`${reason} while stopping`);
    asked = true;
    void agent.stop(reason);
  };
  process.stdin.on("data", () => {}); // keep flowing so that "end" is seen
  process.stdin.on("end", () => stop("its SSH session ended (stdin closed)"));
  process.stdin.on("error", () => stop("its SSH session ended (stdin failed)"));
  for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
    process.on(signal, () => stop(`received ${signal}`));
  }
  await agent.run();
}

/**
 * Stopping is graceful (jobs killed, claims put back, lease removed), but must not depend on
 * anything a worker or the file system does: past its deadline the agent exits anyway, whoever
 * began the stop. Its workers watch its pid and take their process groups down with it, and its
 * claims are requeued once its lease stops changing. The deadline leaves every running job its
 * whole kill grace (see `agentStopDeadlineMs`), the longest of them decided as the stop begins.
 */
function exitPastStopDeadline(agent: Agent): void {
  void agent.stopping.then((reason) => {
    const deadlineMs = agent.stopDeadlineMs;
    const why = `stopping (${reason}) took longer than ${deadlineMs} ms (its jobs' longest kill grace and ${AGENT_STOP_MARGIN_MS} ms)`;
    setTimeout(() => exitNow(why), deadlineMs);
  });
}

function exitNow(why: string): never {
  say(`exiting at once: ${why}`);
  process.exit(3);
}

/** An agent that Slurm started: its config from its launch file; stdin is not ours (srun's /dev/null). */
async function runInSlurm(prefix: string): Promise<void> {
  const config: AgentLaunchConfig = await readSlurmLaunchFile(prefix, process.env);
  knowAgentId(config.agentId);
  refuseUnsharedPaths(config);
  const warnings = prepareSharedDirectory(config.dir, { create: false, allowSharedWriters: config.allowSharedWriters });
  for (const warning of warnings) say(`WARNING: ${warning}`);
  loadDirectoryKey(config.dir, { create: false });
  const agent = new Agent(config);
  exitPastStopDeadline(agent);
  for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
    process.on(signal, () => void agent.stop(`received ${signal} (Slurm ends the allocation)`));
  }
  await agent.run();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    say(message);
    process.exit(2);
  },
);
