/**
 * What the CPU does during W1, function by function: the supervisor's profile of one W1 run over
 * SSH (`node --cpu-prof`), and the agent's and warm workers' profiles of one run of the same jobs
 * on a local agent (their code is the same; over SSH their environment, and so a profiler, is out
 * of reach). Each run happens in a child process, {@link PROFILE_SCRIPT}.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ProcessAllOptions } from "malocher";
import { mainThreadProfileIn, summarizeCpuProfiles, type ProfileSummary } from "./cpu-profile.js";
import type { DispatchProfileAnswer, DispatchProfileRequest } from "./profile-dispatch.js";

const PROFILE_SCRIPT = fileURLToPath(new URL("./profile-dispatch.ts", import.meta.url));
const PRELOAD = fileURLToPath(new URL("./profile-on-signal.mjs", import.meta.url));

export interface RoleProfile extends ProfileSummary {
  /** The run's jobs/s (slower than unprofiled). */
  jobsPerSecond: number;
  /** The profile files (open them in Chrome's DevTools or VS Code). */
  files: string[];
}

export interface DispatchProfiles {
  supervisor: RoleProfile;
  agent: RoleProfile;
  /** Every warm worker's profile added up. */
  workers: RoleProfile;
}

export interface DispatchProfilePlan {
  jobs: number;
  sshOptions: Omit<ProcessAllOptions, "dir">;
  slots: number;
  nodeDaemons: number[];
  /** A fresh, empty shared directory for each of the two runs. */
  directories: [string, string];
  /** Where the profiles are kept. */
  outputDir: string;
  topFunctions: number;
}

export async function profileDispatch(plan: DispatchProfilePlan): Promise<DispatchProfiles> {
  const sshDir = join(plan.outputDir, "supervisor-ssh");
  const localDir = join(plan.outputDir, "local-agent-and-workers");
  mkdirSync(sshDir, { recursive: true });
  mkdirSync(localDir, { recursive: true });

  const overSsh: DispatchProfileRequest = { dir: plan.directories[0], jobs: plan.jobs, options: plan.sshOptions, nodeDaemons: plan.nodeDaemons };
  const sshRun = JSON.parse(await runNodeScript(["--cpu-prof", `--cpu-prof-dir=${sshDir}`, "--import", "tsx"], [JSON.stringify(overSsh)])) as DispatchProfileAnswer;
  const supervisorFile = mainThreadProfileIn(sshDir);

  const local: DispatchProfileRequest = { dir: plan.directories[1], jobs: plan.jobs, options: { slots: plan.slots }, nodeDaemons: [], signalProfiles: localDir };
  const env = { NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --import=${PRELOAD}`.trim(), MALOCHER_BENCH_PROFILE_DIR: localDir };
  const localRun = JSON.parse(await runNodeScript(["--import", "tsx"], [JSON.stringify(local)], env)) as DispatchProfileAnswer;
  if (!localRun.profiles) throw new Error("the local profile run returned no profiles");

  const role = (files: string[], jobsPerSecond: number): RoleProfile => ({ ...summarizeCpuProfiles(files, plan.topFunctions), jobsPerSecond, files });
  return {
    supervisor: role([supervisorFile], sshRun.jobsPerSecond),
    agent: role(localRun.profiles.agents, localRun.jobsPerSecond),
    workers: role(localRun.profiles.workers, localRun.jobsPerSecond),
  };
}

/** Runs `node [execArgv] profile-dispatch.ts args` with `env` added; its stdout; throws if it failed. */
function runNodeScript(execArgv: string[], args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, PROFILE_SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`profile run exited with ${code}: ${stderr.slice(-2000)}`))));
  });
}
