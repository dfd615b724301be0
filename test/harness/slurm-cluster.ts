/**
 * Test harness: a real Slurm cluster on this one machine, the TypeScript twin of the lab script
 * `slurm-local.sh`: munged (started only when none runs), one slurmctld and N slurmd "nodes"
 * (n1..nN, each its own daemon, port and spool directory, all on 127.0.0.1), no accounting, no
 * systemd. Free ports, a temp state directory, and waiting for every node to be idle instead of
 * hoping for it; `close()` cancels every Slurm job, stops the daemons (SIGTERM, then SIGKILL) and
 * removes the directory.
 *
 * Needs Debian's `slurm-wlm` and `munge` (`apt-get install -y slurm-wlm munge`) and root (slurmd
 * runs jobs as their user). The daemons run in the foreground (`-D`) as children of the test
 * process, so their pids are ours to stop.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

const DEADLINE_MS = 30_000;
const TERM_GRACE_MS = 5_000;
const MUNGE_KEY = "/etc/munge/munge.key";

/** A running Slurm cluster. Always call {@link SlurmCluster.close} (in an `after()` hook). */
export interface SlurmCluster {
  /** Temp state directory: `slurm.conf`, `log/`, `state/`, `spool/`. */
  dir: string;
  /** Path of the cluster's `slurm.conf`. */
  conf: string;
  /** The node names, `n1`..`nN`. */
  nodes: string[];
  /** The environment for Slurm's commands (this process's, plus `SLURM_CONF`). */
  env: NodeJS.ProcessEnv;
  /** Runs a Slurm command (`squeue`, `scancel`, …) against this cluster; resolves with its stdout. */
  run(command: string, args: string[]): Promise<string>;
  /** The ids of the cluster's jobs that `squeue` still lists. */
  jobIds(): Promise<string[]>;
  /** Idempotent: cancels every job, stops the daemons it started and removes {@link dir}. */
  close(): Promise<void>;
}

/** Options of {@link startSlurmCluster}. */
export interface SlurmClusterOptions {
  /** CPUs of each node; default 2. */
  cpus?: number;
}

/** Whether Slurm's daemons and commands are installed. */
export function slurmInstalled(): boolean {
  return existsSync("/usr/sbin/slurmctld") && existsSync("/usr/sbin/slurmd") && existsSync("/usr/sbin/munged") && existsSync("/usr/bin/sbatch");
}

/** A TCP port that is free on 127.0.0.1 now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function mungedRuns(): boolean {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "munged") return true;
    } catch {}
  }
  return false;
}

/** Starts munged (as the `munge` user, in the foreground) unless one runs; returns it when we started it. */
async function ensureMunged(): Promise<ChildProcess | undefined> {
  if (mungedRuns()) return undefined;
  if (!existsSync(MUNGE_KEY) || readFileSync(MUNGE_KEY).length === 0) {
    mkdirSync("/etc/munge", { recursive: true });
    const key = Buffer.alloc(1024);
    for (let i = 0; i < key.length; i++) key[i] = Math.floor(Math.random() * 256);
    writeFileSync(MUNGE_KEY, key, { mode: 0o400 });
  }
  const { stdout } = await execFileAsync("id", ["-u", "munge"]);
  const uid = Number(stdout.trim());
  const gid = Number((await execFileAsync("id", ["-g", "munge"])).stdout.trim());
  chownSync(MUNGE_KEY, uid, gid);
  chmodSync(MUNGE_KEY, 0o400);
  for (const dir of ["/run/munge", "/var/log/munge", "/var/lib/munge"]) {
    mkdirSync(dir, { recursive: true });
    chownSync(dir, uid, gid);
  }
  const munged = spawn("runuser", ["-u", "munge", "--", "/usr/sbin/munged", "--foreground", "--force"], { stdio: "ignore" });
  const deadline = Date.now() + DEADLINE_MS;
  while (!existsSync("/run/munge/munge.socket.2")) {
    if (munged.exitCode !== null || Date.now() > deadline) throw new Error(`munged did not start (exit ${munged.exitCode})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return munged;
}

function slurmConf(dir: string, count: number, cpus: number, ctldPort: number, nodePorts: number[]): string {
  const host = hostname().split(".")[0] ?? "localhost";
  const lines = [
    "ClusterName=malochertest",
    `SlurmctldHost=${host}(127.0.0.1)`,
    `SlurmctldPort=${ctldPort}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/munge",
    `StateSaveLocation=${dir}/state`,
    `SlurmdSpoolDir=${dir}/spool/%n`,
    `SlurmctldPidFile=${dir}/slurmctld.pid`,
    `SlurmdPidFile=${dir}/slurmd.%n.pid`,
    `SlurmctldLogFile=${dir}/log/slurmctld.log`,
    `SlurmdLogFile=${dir}/log/slurmd.%n.log`,
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core",
    "SchedulerType=sched/backfill",
    "ReturnToService=2",
    "MpiDefault=none",
    "JobAcctGatherType=jobacct_gather/none",
    "AccountingStorageType=accounting_storage/none",
    "KillWait=5",
    "OverTimeLimit=0",
    "InactiveLimit=0",
    "MinJobAge=5",
    // Nodes may say more CPUs than this machine has (they run sleeps and small jobs side by side).
    "SlurmdParameters=config_overrides",
  ];
  for (let i = 1; i <= count; i++) {
    lines.push(`NodeName=n${i} NodeHostname=${host} NodeAddr=127.0.0.1 Port=${nodePorts[i - 1]} CPUs=${cpus} RealMemory=2000 State=UNKNOWN`);
  }
  lines.push(`PartitionName=lab Nodes=n[1-${count}] Default=YES MaxTime=INFINITE State=UP`);
  return `${lines.join("\n")}\n`;
}

/**
 * Starts a Slurm cluster of `count` nodes and waits until every node is idle.
 *
 * @example
 * ```ts
 * const slurm = await startSlurmCluster(2);
 * try { … processAll({ slurm: { nodes: 2, time: "1:00" }, … }) … } finally { await slurm.close(); }
 * ```
 */
export async function startSlurmCluster(count: number, options: SlurmClusterOptions = {}): Promise<SlurmCluster> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "malocher-slurm-")));
  for (const sub of ["log", "state", "spool"]) mkdirSync(join(dir, sub));
  const daemons: ChildProcess[] = [];
  let munged: ChildProcess | undefined;
  const conf = join(dir, "slurm.conf");
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: conf };
  const run = async (command: string, args: string[]) => (await execFileAsync(command, args, { env, timeout: 20_000 })).stdout;
  const jobIds = async () =>
    (await run("squeue", ["-h", "-o", "%i"]).catch(() => ""))
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "");
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      if (daemons.length > 0) {
        await run("scancel", ["--full", "--user", "root"]).catch(() => "");
        const deadline = Date.now() + 15_000;
        while ((await jobIds()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const steps = stepDaemonsOf(dir);
      await Promise.all([...daemons, ...(munged ? [munged] : [])].map(stop));
      for (const pid of steps) signalPid(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    munged = await ensureMunged();
    const ctldPort = await freePort();
    const nodePorts: number[] = [];
    for (let i = 0; i < count; i++) nodePorts.push(await freePort());
    writeFileSync(conf, slurmConf(dir, count, options.cpus ?? 2, ctldPort, nodePorts));
    daemons.push(spawn("/usr/sbin/slurmctld", ["-D", "-i", "-f", conf], { stdio: "ignore", env }));
    const nodes: string[] = [];
    for (let i = 1; i <= count; i++) {
      mkdirSync(join(dir, "spool", `n${i}`));
      nodes.push(`n${i}`);
      daemons.push(spawn("/usr/sbin/slurmd", ["-D", "-N", `n${i}`, "-f", conf], { stdio: "ignore", env }));
    }
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const dead = daemons.find((daemon) => daemon.exitCode !== null);
      if (dead !== undefined) throw new Error(`a Slurm daemon exited at start (${dead.spawnargs.join(" ")}); see ${dir}/log`);
      const idle = (await run("sinfo", ["-h", "-N", "-o", "%N %t"]).catch(() => ""))
        .split("\n")
        .filter((line) => / idle$/.test(line.trim())).length;
      if (idle >= count) break;
      if (Date.now() > deadline) throw new Error(`Slurm nodes not idle after ${DEADLINE_MS} ms; see ${dir}/log`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { dir, conf, nodes, env, run, jobIds, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {}
}

/** SIGTERM, then SIGKILL after a grace; resolves once the child has exited. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), TERM_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** The slurmstepd processes of this cluster's slurmds (they daemonize, so they are not our children; they inherit SLURM_CONF). */
function stepDaemonsOf(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/comm`, "utf8").startsWith("slurmstepd")) continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`SLURM_CONF=${dir}/slurm.conf`)) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}
