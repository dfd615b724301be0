/**
 * What serving the dashboard costs the supervisor while W1 runs (issue 20: less than 2 % of one
 * core). Two supervisors run W1 side by side, started at the same moment, each in a process of its
 * own with its own directory and agents: one plain, one with `processAll({ dashboard })` and a
 * page open on it. Both see the same machine at the same time, so what else loads it (a busy
 * machine moves a supervisor's CPU per job by more than the dashboard adds) weighs on both alike;
 * one after the other, the difference of two runs was mostly that noise. The dashboard's share of
 * a core is the difference of their CPU per job at W1's own rate (measured alone).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import type { DashboardOptions, ProcessAllOptions } from "malocher";
import { summarize, type Summary } from "../measurement.js";

/**
 * What an open page asks of the server, in a process of its own: it waits for the server, loads
 * what the page loads, follows `/api/events`, and after a `jobs` event (at most once a second)
 * fetches the overview and the first page of the jobs list, as the page's jobs view does (its
 * overview only listens): more than a page usually asks.
 */
const PAGE_SCRIPT = `
const { URL_BASE, TOKEN } = process.env;
const headers = { authorization: "Bearer " + TOKEN };
for (;;) {
  try { await fetch(URL_BASE + "/api/nodes", { headers }).then((r) => r.arrayBuffer()); break; } catch { await new Promise((resolve) => setTimeout(resolve, 20)); }
}
let due = false, last = 0;
async function refetch() {
  due = false; last = Date.now();
  await Promise.all([fetch(URL_BASE + "/api/overview", { headers }).then((r) => r.arrayBuffer()), fetch(URL_BASE + "/api/jobs?limit=50", { headers }).then((r) => r.arrayBuffer())]);
}
setInterval(() => { if (due && Date.now() - last >= 1000) refetch().catch(() => {}); }, 100);
await Promise.all([refetch(), fetch(URL_BASE + "/api/nodes", { headers }).then((r) => r.arrayBuffer()), fetch(URL_BASE + "/api/stream?minutes=5", { headers }).then((r) => r.arrayBuffer())]);
const response = await fetch(URL_BASE + "/api/events", { headers });
for await (const chunk of response.body) if (String(chunk).includes("event: jobs")) due = true;
`;

/** A page open on a dashboard that is to listen at `options` (a port and a token); it waits until it does. Kill it to close it. */
export function openPage(options: { port: number; token: string }): ChildProcess {
  return spawn(process.execPath, ["--input-type=module", "-e", PAGE_SCRIPT], {
    env: { ...process.env, URL_BASE: `http://127.0.0.1:${options.port}`, TOKEN: options.token },
    stdio: "ignore",
  });
}

/**
 * Dashboard options with a free port and a token chosen now, and a page process already waiting
 * for them: the page is started before the clock (a browser's start is not the supervisor's work).
 */
export async function dashboardWithPage(): Promise<{ options: DashboardOptions & { port: number; token: string }; page: ChildProcess }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.once("error", reject);
  });
  const options = { port, token: randomBytes(24).toString("base64url"), onListening: () => {} };
  return { options, page: openPage(options) };
}

/** One supervisor's W1: its jobs, wall time and CPU time. */
export interface SupervisorRun {
  jobs: number;
  wallMs: number;
  supervisorCpuMs: number;
}

/** W1 without and with the dashboard, side by side. */
export interface DashboardPair {
  plain: SupervisorRun;
  withDashboard: SupervisorRun;
}

const SUPERVISOR = new URL("./dashboard-supervisor.ts", import.meta.url).pathname;
/** A side-by-side W1 that takes longer than this is stuck (a W1 takes seconds): it fails, saying which side. */
const PAIR_TIMEOUT_MS = 10 * 60_000;

/**
 * Runs W1 (`jobs` no-op jobs submitted one by one, then `processAll(options)`) in two supervisor
 * processes at once, in `dirs[0]` plain and in `dirs[1]` with the dashboard and a page open.
 * `options` must survive JSON (no callbacks).
 */
export async function dashboardSideBySide(dirs: readonly [string, string], jobs: number, options: Omit<ProcessAllOptions, "dir">): Promise<DashboardPair> {
  const start = (dir: string, dashboard: boolean) => {
    const child = spawn(process.execPath, [...process.execArgv, SUPERVISOR, JSON.stringify({ dir, jobs, options, dashboard })], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async (what: string) => {
      const line = await lines.next();
      if (line.done) throw new Error(`the ${dashboard ? "dashboard's" : "plain"} supervisor ended before ${what}`);
      return line.value;
    };
    return { child, next };
  };
  const supervisors = [start(dirs[0], false), start(dirs[1], true)] as const;
  try {
    await Promise.all(supervisors.map((supervisor) => supervisor.next("it was ready")));
    for (const { child } of supervisors) child.stdin!.end("go\n");
    const finished = [false, false];
    const results = Promise.all(
      supervisors.map(async (supervisor, side) => {
        const run = JSON.parse(await supervisor.next("its result")) as SupervisorRun;
        finished[side] = true;
        return run;
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`W1 side by side did not finish within ${PAIR_TIMEOUT_MS / 60_000} min: ${finished[0] ? "" : "the plain supervisor "}${finished[1] ? "" : "the dashboard's supervisor "}hung`)), PAIR_TIMEOUT_MS);
    });
    const [plain, withDashboard] = await Promise.race([results, timeout]).finally(() => clearTimeout(timer));
    await Promise.all(supervisors.map(({ child }) => (child.exitCode === null ? once(child, "exit") : undefined)));
    return { plain: plain!, withDashboard: withDashboard! };
  } finally {
    for (const { child } of supervisors) if (child.exitCode === null) child.kill();
  }
}

/**
 * The share of one core the dashboard adds to the supervisor (0.01: 1 % of a core), per pair: its
 * supervisor's CPU per job less the plain one's, times `jobsPerMs`, W1's rate when it runs alone
 * (side by side each runs slower; per-job costs count at W1's rate, costs per second somewhat
 * more). The median of the pairs, with the smallest and largest.
 */
export function dashboardShare(pairs: readonly DashboardPair[], jobsPerMs: number): Summary {
  const perJob = (run: SupervisorRun) => run.supervisorCpuMs / run.jobs;
  return summarize(pairs.map((pair) => (perJob(pair.withDashboard) - perJob(pair.plain)) * jobsPerMs));
}
