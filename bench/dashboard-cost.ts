/**
 * What serving the dashboard costs while a W1-sized run goes on (issue 20: less than 2 % of a
 * core for the supervisor): `node --import tsx bench/dashboard-cost.ts [--jobs 2000] [--repeats 3]`.
 *
 * Each repeat runs `--jobs` no-op jobs (`echo(i)`, W1's job) with a local agent three ways:
 * - plain `processAll()`: the supervisor's CPU time without a dashboard;
 * - `processAll({ dashboard: true })` with a page open: the same run serving the dashboard;
 * - plain `processAll()` while a separate `malocher dashboard` process serves the directory (no
 *   live events: it learns everything from the directory) with a page open; its own CPU time.
 * A "page" is a separate process that does what the browser page does: it follows
 * `/api/events` and, at most once a second after a change, fetches the overview and the first
 * page of the jobs list. CPU times are this process's `process.cpuUsage()` and /proc for the
 * others; the share is CPU time over the run's wall time (100 % = one core).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Malocher, type ProcessAllOptions } from "malocher";
import { echo } from "./bench-jobs.js";
import { readProcess } from "./process-table.js";

const { values } = parseArgs({ options: { jobs: { type: "string", default: "2000" }, repeats: { type: "string", default: "3" } } });
const JOBS = Number(values.jobs);
const REPEATS = Number(values.repeats);
const CLI = new URL("../packages/supervisor/dist/cli/main.js", import.meta.url).pathname;

/** The page's part, in its own process: follows the events, refetches what the page would. */
const PAGE_SCRIPT = `
const { URL_BASE, TOKEN } = process.env;
const headers = { authorization: "Bearer " + TOKEN };
let due = false, last = 0;
async function refetch() {
  due = false; last = Date.now();
  await Promise.all([fetch(URL_BASE + "/api/overview", { headers }).then((r) => r.arrayBuffer()), fetch(URL_BASE + "/api/jobs?limit=50", { headers }).then((r) => r.arrayBuffer())]);
}
setInterval(() => { if (due && Date.now() - last >= 1000) refetch().catch(() => {}); }, 100);
await refetch();
const response = await fetch(URL_BASE + "/api/events", { headers });
for await (const chunk of response.body) if (String(chunk).includes("event: jobs")) due = true;
`;

interface Run {
  wallMs: number;
  supervisorCpuMs: number;
  dashboardCpuMs?: number;
}

function startPage(url: string): ChildProcess {
  const { origin, searchParams } = new URL(url);
  return spawn(process.execPath, ["--input-type=module", "-e", PAGE_SCRIPT], { env: { ...process.env, URL_BASE: origin, TOKEN: searchParams.get("token") ?? "" }, stdio: "ignore" });
}

async function run(mode: "plain" | "in-process" | "separate"): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "malocher-dashboard-cost-"));
  const malocher = new Malocher({ dir });
  const children: ChildProcess[] = [];
  try {
    const ids = await malocher.submitMany(echo, Array.from({ length: JOBS }, (_, i) => [i] as [number]));
    let separate: ChildProcess | undefined;
    if (mode === "separate") {
      separate = spawn(process.execPath, [CLI, "dashboard", "--dir", dir, "--json"], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(separate);
      const url = await new Promise<string>((resolve, reject) => {
        separate!.stdout!.once("data", (line: Buffer) => resolve((JSON.parse(String(line)) as { url: string }).url));
        separate!.once("exit", () => reject(new Error("malocher dashboard ended")));
      });
      children.push(startPage(url));
      await new Promise((resolve) => setTimeout(resolve, 1000)); // its first look at the queued jobs is not the run's cost
    }
    const options: Omit<ProcessAllOptions, "dir"> =
      mode === "in-process" ? { dashboard: { onListening: (url) => void children.push(startPage(url)) } } : {};
    const separateBefore = separate?.pid === undefined ? 0 : (readProcess(separate.pid)?.cpuMs ?? 0);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let received = 0;
    for await (const [, result] of malocher.processAll(options)) {
      if (!result.ok) throw new Error(result.error.message);
      received++;
    }
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    if (received !== ids.length) throw new Error(`${received} results of ${ids.length}`);
    const separateCpu = separate?.pid === undefined ? undefined : (readProcess(separate.pid)?.cpuMs ?? 0) - separateBefore;
    return { wallMs, supervisorCpuMs: (cpu.user + cpu.system) / 1000, ...(separateCpu === undefined ? {} : { dashboardCpuMs: separateCpu }) };
  } finally {
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percent = (cpuMs: number, wallMs: number) => `${((100 * cpuMs) / wallMs).toFixed(1)} %`;

const plain: Run[] = [];
const inProcess: Run[] = [];
const separate: Run[] = [];
for (let repeat = 0; repeat < REPEATS; repeat++) {
  plain.push(await run("plain"));
  inProcess.push(await run("in-process"));
  separate.push(await run("separate"));
  process.stderr.write(`repeat ${repeat + 1}/${REPEATS} done\n`);
}
const plainShare = median(plain.map((r) => r.supervisorCpuMs / r.wallMs));
const withShare = median(inProcess.map((r) => r.supervisorCpuMs / r.wallMs));
console.log(`${JOBS} no-op jobs, local agent, ${REPEATS} repeats (medians):`);
console.log(`  supervisor without dashboard: ${median(plain.map((r) => r.wallMs)).toFixed(0)} ms wall, CPU ${(100 * plainShare).toFixed(1)} % of a core`);
console.log(`  supervisor with processAll({ dashboard }) and a page open: ${median(inProcess.map((r) => r.wallMs)).toFixed(0)} ms wall, CPU ${(100 * withShare).toFixed(1)} % of a core`);
console.log(`  → the dashboard's share in the supervisor: ${(100 * (withShare - plainShare)).toFixed(1)} % of a core (target < 2 %)`);
const perJob = (runs: Run[]) => median(runs.map((r) => r.supervisorCpuMs)) / JOBS;
console.log(`  supervisor CPU per job: ${perJob(plain).toFixed(3)} ms without, ${perJob(inProcess).toFixed(3)} ms with the dashboard (the difference: ${(perJob(inProcess) - perJob(plain)).toFixed(3)} ms a job)`);
console.log(
  `  a separate \`malocher dashboard\` process with a page open during the plain run: ${percent(median(separate.map((r) => r.dashboardCpuMs ?? 0)), median(separate.map((r) => r.wallMs)))} of a core ` +
    `(${median(separate.map((r) => r.dashboardCpuMs ?? 0)).toFixed(0)} CPU-ms over ${median(separate.map((r) => r.wallMs)).toFixed(0)} ms)`,
);
