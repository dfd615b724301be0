/**
 * The peer: GNU parallel running no-op jobs over the same nodes with `--sshlogin`, one SSH
 * session per job (`ssh -F config`), as `parallel --sshlogin` users run their jobs.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { now } from "./measurement.js";
import type { SshClientConfig } from "./ssh-client-config.js";

/**
 * What each job runs on its node. `node -e` is the fair equivalent of our job (start the runtime,
 * return the argument); `true` is the cheapest command there is, parallel's own lower bound.
 */
export type PeerCommand = "node -e" | "true";

export interface ParallelRun {
  /** The input file's argument count: one job each. */
  jobs: number;
  /** The first `nodes` of the config's logins. */
  nodes: number;
  jobsPerNode: number;
  command: PeerCommand;
  ssh: SshClientConfig;
  /** Where the input file goes. */
  workDir: string;
}

/** Runs the jobs through `parallel` and returns how long it took, in ms; throws if any job failed. */
export async function runThroughParallel(run: ParallelRun): Promise<number> {
  const input = join(run.workDir, `parallel-input-${run.jobs}`);
  writeFileSync(input, Array.from({ length: run.jobs }, (_, i) => `${i}\n`).join(""));
  // The node binary by its path: the nodes' sessions have the system's default PATH.
  const command = run.command === "true" ? "true" : `${process.execPath} -e 'console.log(process.argv[1])'`;
  const args = [
    "--will-cite",
    "--ssh", `ssh -F ${run.ssh.file}`,
    ...run.ssh.logins.slice(0, run.nodes).flatMap((login) => ["-S", `${run.jobsPerNode}/${login}`]),
    "-a", input,
    command,
  ];
  const started = now();
  const { code, stdout, stderr } = await spawnCollect("parallel", args);
  const ms = now() - started;
  if (code !== 0) throw new Error(`parallel exited with ${code}: ${stderr.slice(-2000)}`);
  if (run.command === "node -e") {
    const echoed = stdout.split("\n").filter((line) => line !== "").length;
    if (echoed !== run.jobs) throw new Error(`parallel: ${echoed} of ${run.jobs} jobs answered; stderr: ${stderr.slice(-2000)}`);
  }
  return ms;
}

function spawnCollect(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
