/**
 * The cold start alone, as the benchmark's "start until ready" rows measure it:
 * `node --import tsx bench/profile-start.ts [--nodes 16] [--rounds 3]`. Per round, a cluster of 1
 * node and one of `--nodes` nodes (same sshd nodes as the benchmark), each timed from
 * `startCluster` until every agent said hello and until `ready()` (every agent's warm workers
 * started too), with the CPU-ms per node by kind of process until the hello.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startBenchNodes } from "./bench-nodes.js";
import { CpuMeter, PROCESS_CLASSES } from "./cpu-meter.js";
import { measureClusterStart } from "./workloads/latency.js";

const { values } = parseArgs({ options: { nodes: { type: "string", default: "16" }, rounds: { type: "string", default: "3" } } });
const nodeCount = Number(values.nodes);
const nodes = await startBenchNodes(nodeCount);
const root = mkdtempSync(join(tmpdir(), "malocher-profile-start-"));
const meter = new CpuMeter(() => nodes.daemonPids());
let directories = 0;
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const count of [1, nodeCount]) {
      const start = await measureClusterStart(join(root, `start-${++directories}`), nodes.clusterOptions(count), meter);
      const perNode = PROCESS_CLASSES.filter((name) => start.helloCpu.byClass[name] > 0).map((name) => `${name} ${(start.helloCpu.byClass[name] / count).toFixed(0)}`);
      console.log(
        `round ${round + 1}, ${String(count).padStart(2)} node(s): hello ${start.helloMs.toFixed(0)} ms, ready ${start.warmMs.toFixed(0)} ms; ` +
          `CPU-ms per node until hello: ${perNode.join(", ")}`,
      );
    }
  }
} finally {
  await nodes.close();
  rmSync(root, { recursive: true, force: true });
}
