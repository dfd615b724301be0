/**
 * One supervisor of a side-by-side pair (see dashboard.ts): `node --import tsx
 * dashboard-supervisor.ts '<json>'` with `{ dir, jobs, options, dashboard }`. It gets ready (and,
 * with `dashboard`, opens a page that waits for it), says `ready` on stdout, starts W1 when a line
 * arrives on stdin, and prints its run as one JSON line: its own CPU time is the supervisor's.
 */
import { once } from "node:events";
import type { ProcessAllOptions } from "malocher";
import { CpuMeter } from "../cpu-meter.js";
import { dashboardWithPage } from "./dashboard.js";
import { dispatchWithProcessAll } from "./dispatch.js";

interface Input {
  dir: string;
  jobs: number;
  options: Omit<ProcessAllOptions, "dir">;
  dashboard: boolean;
}

const input = JSON.parse(process.argv[2] ?? "") as Input;
const served = input.dashboard ? await dashboardWithPage() : undefined;
try {
  const options = served === undefined ? input.options : { ...input.options, dashboard: served.options };
  process.stdout.write("ready\n");
  await once(process.stdin, "data");
  process.stdin.destroy();
  const run = await dispatchWithProcessAll(input.dir, input.jobs, options, new CpuMeter(() => []));
  process.stdout.write(`${JSON.stringify({ jobs: run.jobs, wallMs: run.cpu.wallMs, supervisorCpuMs: run.cpu.byClass.supervisor })}\n`);
} finally {
  served?.page.kill();
}
