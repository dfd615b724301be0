/**
 * A focused measurement of W1 on a started cluster over SSH (issue 19's batch path):
 * `node --import tsx bench/profile-batch.ts [--nodes 4] [--slots 2] [--jobs 2000] [--rounds 2] [--profile]`.
 * Per round, the same jobs submitted both ways (one `submitMany`, and a `submit()` loop) on a
 * fresh started cluster each, and prints jobs/s and CPU-ms per job by kind of process (from
 * /proc, so also under load from others). With `--profile`, one agent and the supervisor are
 * profiled during each run: the agent through its inspector (SIGUSR1, then the DevTools protocol
 * on 127.0.0.1:9229; the SSH agents' environment is out of reach for NODE_OPTIONS), the
 * supervisor through `node:inspector` in this process; the top functions by self time are printed
 * and the files kept.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { startBenchNodes } from "./bench-nodes.js";
import { CpuMeter, PROCESS_CLASSES } from "./cpu-meter.js";
import { summarizeCpuProfiles } from "./cpu-profile.js";
import { descendsFrom, readProcessTable } from "./process-table.js";
import { delay } from "./wait.js";
import { dispatchOnStartedCluster, type SubmitWay } from "./workloads/dispatch.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "4" },
    slots: { type: "string", default: "2" },
    jobs: { type: "string", default: "2000" },
    rounds: { type: "string", default: "2" },
    profile: { type: "boolean", default: false },
  },
});
const nodeCount = Number(values.nodes);
const jobs = Number(values.jobs);
const nodes = await startBenchNodes(nodeCount);
const root = mkdtempSync(join(tmpdir(), "malocher-profile-batch-"));
const meter = new CpuMeter(() => nodes.daemonPids());
let directories = 0;
let nextId = 0;
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const way of (round % 2 === 0 ? ["batch", "oneByOne"] : ["oneByOne", "batch"]) as SubmitWay[]) {
      const dir = join(root, `w1-${++directories}`);
      const profiling = values.profile ? startProfiling(nodes.daemonPids()) : undefined;
      const run = await dispatchOnStartedCluster(dir, jobs, { ...nodes.clusterOptions(nodeCount), slots: Number(values.slots) }, meter, way, profiling?.begin);
      const perJob = (ms: number) => (ms / run.jobs).toFixed(2);
      const classes = PROCESS_CLASSES.filter((name) => run.cpu.byClass[name] > 0).map((name) => `${name} ${perJob(run.cpu.byClass[name])}`);
      console.log(
        `round ${round + 1} ${way.padEnd(8)}: ${run.jobsPerSecond.toFixed(0)} jobs/s; CPU-ms per job: whole machine ${perJob(run.cpu.machineBusyMs)} ` +
          `(busy ${((100 * run.cpu.machineBusyMs) / (run.cpu.wallMs * run.cpu.cores)).toFixed(0)} %); ${classes.join(", ")}`,
      );
      if (profiling) await profiling.report(root, `${way}-${round + 1}`);
      // No directory is removed between runs, as in the benchmark (see `SuiteContext.inFreshDirectory`).
    }
  }
} finally {
  await nodes.close();
  // Not removed here: on a file system without a journal, the next run's file creations would pay
  // for the thousands of inodes freed now (see `SuiteContext.inFreshDirectory` in suite.ts).
  console.log(`${values.profile ? "profiles and " : ""}the runs' directories kept in ${root}: remove it when done measuring`);
}

/**
 * Profiles this process (the supervisor) and one agent from `begin()` (called when the agents
 * are up, right before the clock starts) until `report()`.
 */
function startProfiling(daemons: number[]) {
  const session = new Session();
  let agent: { socket: WebSocket; pid: number } | undefined;
  return {
    async begin() {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
      const table = readProcessTable();
      const agents = [...table.values()].filter((info) => info.command.includes("agent/dist/bundle/main.js") && descendsFrom(table, info.pid, new Set(daemons)));
      const pid = agents[0]?.pid;
      if (pid === undefined) return;
      process.kill(pid, "SIGUSR1"); // opens its inspector on 127.0.0.1:9229
      let url: string | undefined;
      for (let tries = 0; tries < 50 && url === undefined; tries++) {
        await delay(50);
        url = await fetch("http://127.0.0.1:9229/json/list")
          .then((response) => response.json() as Promise<Array<{ webSocketDebuggerUrl: string }>>)
          .then((list) => list[0]?.webSocketDebuggerUrl)
          .catch(() => undefined);
      }
      if (url === undefined) throw new Error(`agent ${pid} opened no inspector on 127.0.0.1:9229`);
      const socket = new WebSocket(url);
      await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
      agent = { socket, pid };
      await cdp(socket, "Profiler.enable");
      await cdp(socket, "Profiler.start");
    },
    async report(dir: string, label: string) {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      const files: Array<[string, string]> = [];
      const supervisorFile = join(dir, `supervisor-${label}.cpuprofile`);
      writeFileSync(supervisorFile, JSON.stringify(profile));
      files.push(["supervisor", supervisorFile]);
      if (agent) {
        const answer = (await cdp(agent.socket, "Profiler.stop")) as { profile: unknown };
        agent.socket.close();
        const agentFile = join(dir, `agent-${label}.cpuprofile`);
        writeFileSync(agentFile, JSON.stringify(answer.profile));
        files.push([`agent ${agent.pid}`, agentFile]);
      }
      for (const [role, file] of files) {
        const summary = summarizeCpuProfiles([file], 15);
        const busy = summary.totalMs - summary.idleMs;
        console.log(`  ${role}: busy ${busy.toFixed(0)} of ${summary.totalMs.toFixed(0)} ms; ${summary.owners.slice(0, 5).map((o) => `${o.owner} ${o.selfMs.toFixed(0)}`).join(", ")}`);
        for (const fn of summary.functions) console.log(`    ${fn.selfMs.toFixed(1).padStart(7)} ms  ${fn.name}  ${fn.location}`);
      }
    },
  };
}

function cdp(socket: WebSocket, method: string): Promise<unknown> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (message.id !== id) return;
      socket.off("message", onMessage);
      if (message.error) reject(new Error(`${method}: ${message.error.message}`));
      else resolve(message.result);
    };
    socket.on("message", onMessage);
    socket.send(JSON.stringify({ id, method }));
  });
}
