/**
 * The Dask peer: a Dask `SSHCluster` on the same sshd nodes, run by `dask-peer.py` under the
 * system's Python (Debian's `python3-distributed` and `python3-asyncssh`), which this module
 * drives one JSON line per request, as `gnu-parallel.ts` drives `parallel`. The Python process is
 * the Dask client; the scheduler runs on the first node, one worker (a nanny and its worker
 * process) on each node.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { SshNodes } from "../test/harness/sshd-nodes.js";

const SCRIPT = fileURLToPath(new URL("./dask-peer.py", import.meta.url));
/** Debian's Python, where apt installs Dask (a `python3` earlier in PATH, e.g. pyenv's, has not got it). */
export const SYSTEM_PYTHON = "/usr/bin/python3";
export const DASK_INSTALL = "apt-get install -y python3-distributed python3-asyncssh";
/** A request that takes longer than this means the peer hangs. */
const REQUEST_DEADLINE_MS = 300_000;

/** What the peer's Python found: versions, or why Dask is missing. */
export type DaskAvailability = { available: true; dask: string; distributed: string; asyncssh: string; python: string } | { available: false; why: string };

export class DaskPeer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: Interface,
    private readonly queue: AsyncIterator<string>,
    readonly versions: Extract<DaskAvailability, { available: true }>,
    private readonly stderrTail: () => string,
  ) {}

  /** Starts the peer's Python; says why not when Dask is not there. */
  static async open(): Promise<DaskPeer | { available: false; why: string }> {
    if (!existsSync(SYSTEM_PYTHON)) return { available: false, why: `${SYSTEM_PYTHON} does not exist (install Dask: \`${DASK_INSTALL}\`)` };
    const child = spawn(SYSTEM_PYTHON, [SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    const lines = createInterface({ input: child.stdout! });
    const queue = lines[Symbol.asyncIterator]();
    const first = await queue.next();
    if (first.done) {
      child.kill();
      return { available: false, why: `${SYSTEM_PYTHON} ${SCRIPT} ended at once: ${stderr.slice(-500)}` };
    }
    const hello = JSON.parse(first.value) as { ready: boolean; missing?: string; dask?: string; distributed?: string; asyncssh?: string; python?: string };
    if (!hello.ready) {
      child.kill();
      return { available: false, why: `Dask is not installed for ${SYSTEM_PYTHON} (${hello.missing}); install it with \`${DASK_INSTALL}\`` };
    }
    const versions = { available: true as const, dask: hello.dask!, distributed: hello.distributed!, asyncssh: hello.asyncssh!, python: hello.python! };
    return new DaskPeer(child, lines, queue, versions, () => stderr);
  }

  /** Pid of the Python process (the Dask client). */
  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Starts an `SSHCluster` with the scheduler on the first of `nodes` nodes and a worker with
   * `threads` threads on each of them; ms until every worker registered.
   */
  async start(sshd: SshNodes, nodes: number, threads: number): Promise<number> {
    const used = sshd.nodes.slice(0, nodes);
    const hosts = [used[0]!.address, ...used.map((node) => node.address)];
    const answer = await this.request({ op: "start", hosts, port: used[0]!.port, username: sshd.user, clientKey: sshd.privateKey, knownHosts: sshd.knownHosts, threads });
    return answer["ms"] as number;
  }

  async stop(): Promise<void> {
    await this.request({ op: "stop" });
  }

  /** ms of `client.map(echo, range(jobs))` and `gather`. */
  async batch(jobs: number): Promise<number> {
    return (await this.request({ op: "batch", jobs }))["ms"] as number;
  }

  /** Waits until the scheduler holds no task: the last run's released futures are forgotten. */
  async settle(): Promise<void> {
    await this.request({ op: "settle" });
  }

  /** ms of a `client.submit(echo, i)` loop and `gather`. */
  async oneByOne(jobs: number): Promise<number> {
    return (await this.request({ op: "oneByOne", jobs }))["ms"] as number;
  }

  /** One job per length, each sleeping that long: the total ms, and each job's [start, end] (epoch ms). */
  async sleep(lengthsMs: readonly number[]): Promise<{ ms: number; stamps: Array<[number, number]> }> {
    const answer = await this.request({ op: "sleep", lengthsMs });
    return { ms: answer["ms"] as number, stamps: answer["stamps"] as Array<[number, number]> };
  }

  /** Submit-to-result ms of `runs` single jobs, one after another. */
  async latency(runs: number): Promise<number[]> {
    return (await this.request({ op: "latency", runs }))["ms"] as number[];
  }

  /** Closes the cluster (if started) and ends the Python process. Idempotent. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
    this.lines.close();
  }

  private async request(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin!.write(JSON.stringify(request) + "\n");
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the Dask peer did not answer ${String(request["op"])} within ${REQUEST_DEADLINE_MS / 1000} s; its stderr: ${this.stderrTail().slice(-1500)}`)), REQUEST_DEADLINE_MS);
    });
    try {
      const line = await Promise.race([this.queue.next(), deadline]);
      if (line.done) throw new Error(`the Dask peer ended during ${String(request["op"])}; its stderr: ${this.stderrTail().slice(-1500)}`);
      const answer = JSON.parse(line.value) as Record<string, unknown>;
      if (answer["ok"] !== true) throw new Error(`the Dask peer's ${String(request["op"])} failed: ${String(answer["error"])}; its stderr: ${this.stderrTail().slice(-1500)}`);
      return answer;
    } finally {
      clearTimeout(timer);
    }
  }
}
