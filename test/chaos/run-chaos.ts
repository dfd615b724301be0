/**
 * The chaos test: jobs of random length run over real sshd nodes while a fault injector kills
 * worker processes, agents, sshd sessions and the supervisor, and SIGSTOPs/SIGCONTs agents.
 * Afterwards every job must have exactly one correct result, and no process may be left over.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Malocher, type JobResult } from "malocher";
import { directoryLayout } from "@malocher/protocol";
import { startSshNodes, type SshNodes } from "../harness/sshd-nodes.js";
import { commandLine, pgrep, procIds, signal } from "../support/processes.js";
import { work } from "./jobs.js";

/** What a chaos run did and found. */
export interface ChaosReport {
  jobs: number;
  faults: Record<string, number>;
  resultsPublished: number;
  /** Result files beyond one per job: a second publication of a job's result (write-once makes it impossible). */
  duplicateResults: number;
  lost: number;
  wrongValues: number;
  failedResults: number;
  /** Runs beyond the first, caused by the faults (at-least-once execution). */
  repeatedRuns: number;
  orphanedProcesses: number;
  seconds: number;
}

export interface ChaosOptions {
  jobs: number;
  faults: number;
  nodes?: number;
  /** Every node sees the directory through its own sshfs mount. */
  sshfs?: boolean;
  log?: (line: string) => void;
}

const SUPERVISOR = fileURLToPath(new URL("./supervisor.ts", import.meta.url));
const FAULT_KINDS = ["killWorker", "killAgent", "killSshSession", "killSupervisor", "stopAgent"] as const;
type FaultKind = (typeof FAULT_KINDS)[number];

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const root = mkdtempSync(join(tmpdir(), "malocher-chaos-"));
  const baseline = countOurProcesses();
  let cluster: SshNodes | undefined;
  let supervisor: ChildProcess | undefined;
  try {
    cluster = await startSshNodes(options.nodes ?? 3, options.sshfs ? { sshfsShare: root } : {});
    const dir = join(root, "jobs");
    const runsDir = join(root, "runs");
    mkdirSync(runsDir);
    const malocher = new Malocher({ dir });
    const ids = new Map<string, number>();
    for (let i = 0; i < options.jobs; i++) ids.set(malocher.submit(work, i, 50 + Math.floor(Math.random() * 400), runsDir), i);
    const settings = JSON.stringify({
      dir,
      machines: cluster.nodes.map((node) => node.machine),
      privateKey: cluster.privateKey,
      knownHosts: cluster.knownHosts,
    });
    const startSupervisor = () => {
      const child = spawn(process.execPath, ["--import", "tsx", SUPERVISOR, settings], { stdio: ["ignore", "ignore", "pipe"] });
      child.stderr?.on("data", (chunk: Buffer) => log(chunk.toString().trimEnd()));
      return child;
    };
    supervisor = startSupervisor();
    const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
    const stopped: number[] = [];
    for (let n = 0; n < options.faults; n++) {
      await sleep(300 + Math.random() * 900);
      const kind = FAULT_KINDS[Math.floor(Math.random() * FAULT_KINDS.length)] as FaultKind;
      if (kind === "killSupervisor") {
        supervisor.kill("SIGKILL");
        await exited(supervisor);
        supervisor = startSupervisor();
        faults[kind]++;
        log(`fault ${n + 1}: killed the supervisor`);
        continue;
      }
      const pid = pick(kind === "killWorker" ? pgrep("worker-main.js") : pgrep("agent/dist/bundle/main.js"));
      if (pid === undefined) continue;
      if (kind === "killSshSession") {
        const sshd = parentOf(pid);
        if (sshd === undefined || !commandLine(sshd).startsWith("sshd")) continue;
        signal(sshd, "SIGKILL");
      } else if (kind === "stopAgent") {
        signal(pid, "SIGSTOP");
        stopped.push(pid);
        setTimeout(() => signal(pid, "SIGCONT"), 1000 + Math.random() * 4000);
      } else {
        signal(pid, "SIGKILL");
      }
      faults[kind]++;
      log(`fault ${n + 1}: ${kind} (pid ${pid})`);
    }
    await sleep(5500);
    for (const pid of stopped) signal(pid, "SIGCONT");
    // Let the last supervisor finish; if it died at the very end, a new one completes the run.
    for (let round = 0; round < 3; round++) {
      const code = await exited(supervisor);
      if (code === 0) break;
      supervisor = startSupervisor();
    }
    const results = new Map<string, JobResult>();
    let wrongValues = 0;
    let failedResults = 0;
    for await (const [jobId, result] of malocher.results()) {
      results.set(jobId, result);
      if (!result.ok) failedResults++;
      else if (result.value !== 2 * (ids.get(jobId) ?? NaN)) wrongValues++;
    }
    const resultFiles = readdirSync(directoryLayout.resultsDir(dir)).reduce(
      (count, shard) => count + readdirSync(join(directoryLayout.resultsDir(dir), shard)).length,
      0,
    );
    let runs = 0;
    for (const name of readdirSync(runsDir)) runs += readFileSync(join(runsDir, name), "utf8").trim().split("\n").length;
    await cluster.close();
    cluster = undefined;
    const orphaned = await waitForProcessCount(baseline, 15_000);
    return {
      jobs: options.jobs,
      faults,
      resultsPublished: results.size,
      duplicateResults: resultFiles - results.size,
      lost: [...ids.keys()].filter((jobId) => !results.has(jobId)).length,
      wrongValues,
      failedResults,
      repeatedRuns: runs - results.size,
      orphanedProcesses: orphaned,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } finally {
    supervisor?.kill("SIGKILL");
    await cluster?.close();
    rmSync(root, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function countOurProcesses(): number {
  return pgrep("worker-main.js").length + pgrep("agent/dist/bundle/main.js").length;
}

async function waitForProcessCount(baseline: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const extra = countOurProcesses() - baseline;
    if (extra <= 0 || Date.now() > deadline) return Math.max(0, extra);
    await sleep(200);
  }
}

function pick(values: number[]): number | undefined {
  return values[Math.floor(Math.random() * values.length)];
}

/** The parent of `pid`, or undefined if it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    return procIds(pid).ppid;
  } catch {
    return undefined;
  }
}
