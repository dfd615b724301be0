/**
 * The agent's entry point, started by the supervisor (over SSH, or as a child in local mode) as
 * `node main.js`. The launch config (with the tunnel token) arrives as the first line on stdin;
 * the end of stdin means the SSH session is gone, and the agent stops its jobs and exits.
 */
import { MalocherError, parseAgentLaunchConfig } from "@malocher/protocol";
import { Agent } from "./agent.js";
import { prepareSharedDirectory } from "./store/shared-directory.js";
import { loadDirectoryKey } from "./store/directory-key.js";

/** Reads stdin up to the first newline; stdin stays open (its end is our shutdown signal). */
function readLaunchLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      process.stdin.off("data", onData);
      process.stdin.off("end", onEnd);
      resolve(buffered.slice(0, newline));
    };
    const onEnd = () => reject(new MalocherError("AGENT_START_FAILED", "stdin closed before the launch config arrived"));
    process.stdin.on("data", onData);
    process.stdin.on("end", onEnd);
  });
}

// When the supervisor dies, our stdout and stderr go with it: a log line must not kill the
// shutdown that puts our jobs back in the queue.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

async function main(): Promise<void> {
  const config = parseAgentLaunchConfig(await readLaunchLine());
  const warnings = prepareSharedDirectory(config.dir, { create: false, allowSharedWriters: config.allowSharedWriters });
  for (const warning of warnings) process.stderr.write(`malocher agent: WARNING: ${warning}\n`);
  loadDirectoryKey(config.dir, { create: false });
  const agent = new Agent(config);
  process.stdin.on("data", () => {}); // keep flowing so that "end" is seen
  process.stdin.on("end", () => void agent.stop("its SSH session ended (stdin closed)"));
  process.stdin.on("error", () => void agent.stop("its SSH session ended (stdin failed)"));
  for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
    process.on(signal, () => void agent.stop(`received ${signal}`));
  }
  await agent.run();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`malocher agent: ${message}\n`);
    process.exit(2);
  },
);
