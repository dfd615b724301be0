/**
 * Child process of the benchmark: one W1 dispatch run alone in a process, to be profiled. Either
 * the parent runs it under `node --cpu-prof` (the supervisor's profile), or with
 * `profile-on-signal.mjs` preloaded into the local agent and workers it starts (`signalProfiles`):
 * then at the last result it asks each of them for its profile (SIGUSR2) and waits for the files. Argument: JSON of {@link DispatchProfileRequest}; prints
 * {@link DispatchProfileAnswer} as JSON.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ProcessAllOptions } from "malocher";
import { CpuMeter } from "./cpu-meter.js";
import { descendsFrom, readProcessTable } from "./process-table.js";
import { delay } from "./wait.js";
import { isAlive } from "../test/support/processes.js";
import { dispatchWithProcessAll, type SubmitWay } from "./workloads/dispatch.js";

export interface DispatchProfileRequest {
  dir: string;
  jobs: number;
  options: Omit<ProcessAllOptions, "dir">;
  nodeDaemons: number[];
  /** Where profile-on-signal.mjs writes (its MALOCHER_BENCH_PROFILE_DIR); only for a local run. */
  signalProfiles?: string;
  /** How the jobs are submitted (default one by one). */
  way?: SubmitWay;
}

export interface DispatchProfileAnswer {
  jobsPerSecond: number;
  /** With `signalProfiles`: the profile file of each agent and worker. */
  profiles?: { agents: string[]; workers: string[] };
}

const PROFILE_DEADLINE_MS = 20_000;

const request = JSON.parse(process.argv[2] ?? "") as DispatchProfileRequest;
let profiles: DispatchProfileAnswer["profiles"];
const collectProfiles = async (): Promise<void> => {
  const dir = request.signalProfiles!;
  const table = readProcessTable();
  const ours = [...table.values()].filter((info) => info.pid !== process.pid && descendsFrom(table, info.pid, new Set([process.pid])));
  const agents = ours.filter((info) => info.command.includes("agent/dist/bundle/main.js")).map((info) => info.pid);
  const workers = ours.filter((info) => info.command.includes("worker-main.js")).map((info) => info.pid);
  const file = (pid: number) => join(dir, `${pid}.cpuprofile`);
  const pids = [...agents, ...workers];
  for (const pid of pids) process.kill(pid, "SIGUSR2");
  // A worker may end meanwhile (retired after maxJobsPerWorker jobs, or just starting and not yet
  // listening for the signal): it has no profile to give.
  const done = (pid: number) => existsSync(file(pid)) || !isAlive(pid);
  const deadline = Date.now() + PROFILE_DEADLINE_MS;
  while (!pids.every(done)) {
    if (Date.now() > deadline) throw new Error(`no profile from ${pids.filter((pid) => !done(pid)).join(", ")}`);
    await delay(50);
  }
  const written = (pid: number) => existsSync(file(pid));
  profiles = { agents: agents.filter(written).map(file), workers: workers.filter(written).map(file) };
};

const run = await dispatchWithProcessAll(
  request.dir,
  request.jobs,
  request.options,
  new CpuMeter(() => request.nodeDaemons),
  request.signalProfiles === undefined ? undefined : collectProfiles,
  request.way,
);
const answer: DispatchProfileAnswer = { jobsPerSecond: run.jobsPerSecond, ...(profiles ? { profiles } : {}) };
process.stdout.write(JSON.stringify(answer));
