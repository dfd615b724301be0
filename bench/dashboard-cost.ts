/**
 * What serving the dashboard costs while a W1-sized run goes on (issue 20: less than 2 % of a
 * core for the supervisor), on local agents: `node --import tsx bench/dashboard-cost.ts
 * [--jobs 2000] [--repeats 3] [--no-separate] [--profile DIR]` (`--repeats 0 --profile DIR`:
 * the profiles only). The main suite (`npm run bench`)
 * measures the same over its SSH nodes during W1, with the same code (bench/workloads/dashboard.ts).
 *
 * Each repeat runs W1's `--jobs` no-op jobs (`echo(i)`, submitted one by one, then `processAll`):
 * - alone, in this process: W1's rate, and the supervisor's CPU without a dashboard;
 * - twice side by side (bench/workloads/dashboard.ts), plain and with `processAll({ dashboard })`
 *   and a page open: the dashboard's share of a core, as the suite computes it;
 * - alone, while a separate `malocher dashboard` process serves the directory (no live events: it
 *   learns everything from the directory) with a page open: that process's CPU time.
 * A "page" is a process that does what the browser page does. CPU times are from /proc; a share
 * is CPU time over wall time (100 % = one core). `--profile DIR`: CPU profiles of this process
 * during the first W1 alone and during the first W1 alone with `processAll({ dashboard })`, for
 * looking at where the dashboard's time goes (a profiled run is slower).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Malocher } from "malocher";
import { echo } from "./bench-jobs.js";
import { CpuMeter } from "./cpu-meter.js";
import { dashboardShare, dashboardSideBySide, dashboardWithPage, openPage, type DashboardPair } from "./workloads/dashboard.js";
import { dispatchWithProcessAll, type DispatchRun } from "./workloads/dispatch.js";

const { values } = parseArgs({
  options: { jobs: { type: "string", default: "2000" }, repeats: { type: "string", default: "3" }, "no-separate": { type: "boolean", default: false }, profile: { type: "string" } },
});
const JOBS = Number(values.jobs);
const REPEATS = Number(values.repeats);
const PROFILE_DIR = values.profile === undefined ? undefined : resolve(values.profile);
const CLI = new URL("../packages/supervisor/dist/cli/main.js", import.meta.url).pathname;
const meter = new CpuMeter(() => []);

/** Profiles this process (the supervisor) while `work` runs, into `PROFILE_DIR/<name>.cpuprofile` (a profiled run is slower). */
async function profiled<T>(name: string | undefined, work: () => Promise<T>): Promise<T> {
  if (PROFILE_DIR === undefined || name === undefined) return work();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  try {
    return await work();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(join(PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
    process.stderr.write(`profile of the ${name} run: ${join(PROFILE_DIR, `${name}.cpuprofile`)}\n`);
  }
}

async function inFreshDirectory<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "malocher-dashboard-cost-"));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The plain run while a separate `malocher dashboard` serves the directory with a page open; also that process's CPU-ms. */
function withSeparateDashboard(): Promise<{ run: DispatchRun; dashboardCpuMs: number }> {
  return inFreshDirectory(async (dir) => {
    const children: ChildProcess[] = [];
    try {
      await new Malocher({ dir }).submitMany(echo, []); // creates the directory, which `malocher dashboard` wants to exist
      const separate = spawn(process.execPath, [CLI, "dashboard", "--dir", dir, "--json"], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(separate);
      const url = new URL(
        await new Promise<string>((resolve, reject) => {
          separate.stdout!.once("data", (line: Buffer) => resolve((JSON.parse(String(line)) as { url: string }).url));
          separate.once("exit", () => reject(new Error("malocher dashboard ended")));
        }),
      );
      children.push(openPage({ port: Number(url.port), token: url.searchParams.get("token") ?? "" }));
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the page's first load is not the run's
      const run = await dispatchWithProcessAll(dir, JOBS, {}, meter);
      return { run, dashboardCpuMs: run.cpu.byProcess.find((process) => process.pid === separate.pid)?.cpuMs ?? 0 };
    } finally {
      for (const child of children) child.kill();
    }
  });
}

const alone: DispatchRun[] = [];
const pairs: DashboardPair[] = [];
const separate: Array<{ run: DispatchRun; dashboardCpuMs: number }> = [];
if (PROFILE_DIR !== undefined) {
  await profiled("plain", () => inFreshDirectory((dir) => dispatchWithProcessAll(dir, JOBS, {}, meter)));
  await profiled("dashboard", () =>
    inFreshDirectory(async (dir) => {
      const { options, page } = await dashboardWithPage();
      try {
        return await dispatchWithProcessAll(dir, JOBS, { dashboard: options }, meter);
      } finally {
        page.kill();
      }
    }),
  );
}
for (let repeat = 0; repeat < REPEATS; repeat++) {
  alone.push(await inFreshDirectory((dir) => dispatchWithProcessAll(dir, JOBS, {}, meter)));
  pairs.push(await inFreshDirectory((plainDir) => inFreshDirectory((dashboardDir) => dashboardSideBySide([plainDir, dashboardDir], JOBS, {}))));
  if (!values["no-separate"]) separate.push(await withSeparateDashboard());
  process.stderr.write(`repeat ${repeat + 1}/${REPEATS} done\n`);
}

if (REPEATS === 0) process.exit(0); // --repeats 0 --profile DIR: the profiles only
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const share = (fraction: number) => `${(100 * fraction).toFixed(2)} %`;
const jobsPerMs = median(alone.map((run) => run.jobs / run.cpu.wallMs));
const perJob = (runs: Array<{ jobs: number; supervisorCpuMs: number }>) => `${median(runs.map((run) => run.supervisorCpuMs / run.jobs)).toFixed(3)} ms`;
const added = dashboardShare(pairs, jobsPerMs);
console.log(`W1's ${JOBS} no-op jobs on local agents, ${REPEATS} repeat(s) (medians):`);
console.log(
  `  W1 alone: ${median(alone.map((run) => run.cpu.wallMs)).toFixed(0)} ms wall (${(1000 * jobsPerMs).toFixed(0)} jobs/s), ` +
    `supervisor CPU ${share(median(alone.map((run) => run.cpu.byClass.supervisor / run.cpu.wallMs)))} of a core, ${perJob(alone.map((run) => ({ jobs: run.jobs, supervisorCpuMs: run.cpu.byClass.supervisor })))} per job`,
);
console.log(
  `  side by side: supervisor CPU per job ${perJob(pairs.map((pair) => pair.plain))} plain, ${perJob(pairs.map((pair) => pair.withDashboard))} with processAll({ dashboard }) and a page open ` +
    `(${median(pairs.map((pair) => pair.plain.wallMs)).toFixed(0)} and ${median(pairs.map((pair) => pair.withDashboard.wallMs)).toFixed(0)} ms wall)`,
);
console.log(
  `  → the dashboard's share of a core in the supervisor at W1's rate: ${share(added.median)}${REPEATS > 1 ? ` (${share(added.min)} – ${share(added.max)}; pairs: ${added.samples.map(share).join(", ")})` : ""}, ` +
    `target < 2 %: ${added.median < 0.02 ? "PASS" : "MISS"}`,
);
if (separate.length > 0) {
  const separateMs = median(separate.map((s) => s.dashboardCpuMs));
  const separateWall = median(separate.map((s) => s.run.cpu.wallMs));
  console.log(`  a separate \`malocher dashboard\` process with a page open during W1 alone: ${share(separateMs / separateWall)} of a core (${separateMs.toFixed(0)} CPU-ms over ${separateWall.toFixed(0)} ms)`);
}
