/**
 * What starting the processes of one node costs in CPU, one process at a time on an otherwise
 * idle machine: a bare `node`, a `node` that registers tsx and loads a first module through it as a
 * warm worker does before it is ready (so that `.ts` job modules import), and a `node` that loads
 * the agent (its one-file bundle, as a node starts it, until it finds no launch config on its empty
 * stdin). Each process reports its own CPU (all its threads) as it exits.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface ProcessStartCpu {
  /** CPU-ms of `node -e 0`. */
  bareNodeMs: number;
  /** CPU-ms of a `node` that registers tsx, as each warm worker does before it is ready. */
  nodeWithTsxMs: number;
  /** CPU-ms of a `node` that loads the agent's bundle. */
  nodeWithAgentMs: number;
}

const AGENT_PACKAGE = fileURLToPath(new URL("../packages/agent/", import.meta.url));
const REPORT_CPU = "process.on('exit', () => { const u = process.cpuUsage(); process.stdout.write(String((u.user + u.system) / 1000)); });";

/** The CPU-ms `script` took, as its process reported when it exited (however it exited). */
function cpuMsOf(script: string): number {
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", `${REPORT_CPU}\n${script}`], { cwd: AGENT_PACKAGE, encoding: "utf8", input: "" });
  const cpuMs = Number(child.stdout);
  if (child.stdout === "" || !Number.isFinite(cpuMs)) throw new Error(`measuring a process start failed: ${child.stderr}`);
  return cpuMs;
}

/** Each start measured `times` times; the medians. */
export function measureProcessStartCpu(times: number): ProcessStartCpu {
  const median = (script: string) => {
    const values = Array.from({ length: times }, () => cpuMsOf(script)).sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)]!;
  };
  return {
    bareNodeMs: median(""),
    nodeWithTsxMs: median(
      "const { registerTypeScriptLoader } = await import('./dist/worker/typescript-loader.js'); await registerTypeScriptLoader(); await import('./dist/worker/typescript-warm-up.ts');",
    ),
    nodeWithAgentMs: median("await import('./dist/bundle/main.js');"),
  };
}
