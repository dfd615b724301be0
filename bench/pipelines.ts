/**
 * The pipelines benchmark (issue 21): `node --import tsx bench/pipelines.ts [--quick] [--out FILE]`.
 * On one started local cluster (this machine's agent, a slot per CPU), in the same run and
 * interleaved: a fan-out/fan-in of 10,000 jobs over one input with dependencies, the same jobs
 * without them, and a chain; prints the cost per dependency edge and writes BENCHMARKS-PIPELINES.md
 * (or FILE). Needs a built workspace (`npm run build`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Malocher } from "malocher";
import { summarize, type Summary } from "./measurement.js";
import { chainPerHopMs, fanOutFanIn, fanOutFanInInline, type FanRun } from "./workloads/pipelines.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string", default: new URL("../BENCHMARKS-PIPELINES.md", import.meta.url).pathname },
  },
});
const settings = values.quick ? { mode: "quick", repeats: 1, jobs: 10_000, hops: 50 } : { mode: "full", repeats: 3, jobs: 10_000, hops: 200 };
const log = (line: string) => process.stderr.write(`${line}\n`);

const dir = mkdtempSync(join(tmpdir(), "malocher-bench-pipelines-"));
const malocher = new Malocher({ dir });
const cluster = await malocher.startCluster();
const withDeps: FanRun[] = [];
const inline: FanRun[] = [];
const hopMs: number[] = [];
const loadBefore = loadavg()[0] ?? 0;
try {
  await cluster.ready();
  for (let round = 0; round < settings.repeats; round++) {
    // Alternating which goes first, so that a slow moment of the machine does not hit one side only.
    const order = round % 2 === 0 ? [false, true] : [true, false];
    for (const dependent of order) {
      const run = dependent ? await fanOutFanIn(malocher, cluster, settings.jobs) : await fanOutFanInInline(malocher, cluster, settings.jobs);
      (dependent ? withDeps : inline).push(run);
      log(`${dependent ? "with dependencies" : "without"}: submit ${run.submitMs.toFixed(0)} ms, first submit to last result ${run.totalMs.toFixed(0)} ms`);
    }
    hopMs.push(await chainPerHopMs(malocher, cluster, settings.hops));
    log(`chain of ${settings.hops}: ${hopMs.at(-1)!.toFixed(1)} ms per hop`);
  }
} finally {
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
}

const total = (runs: FanRun[]) => summarize(runs.map((run) => run.totalMs));
const submit = (runs: FanRun[]) => summarize(runs.map((run) => run.submitMs));
const edges = 2 * settings.jobs;
const perEdgeUs = (a: Summary, b: Summary) => ((a.median - b.median) * 1000) / edges;
const jobs = settings.jobs + 2;
const fmt = (s: Summary, digits = 0) => `${s.median.toFixed(digits)}${s.samples.length > 1 ? ` (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : ""}`;
const lines = [
  "# Pipelines benchmark",
  "",
  `Written by \`node --import tsx bench/pipelines.ts${values.quick ? " --quick" : ""}\` (${settings.mode} run, ${settings.repeats} repeat(s)) on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC;`,
  `${cpus().length} CPUs, load average ${loadBefore.toFixed(2)} at the start (the machine is shared: absolute times vary, the ratios measured side by side in one run less).`,
  "One started local cluster (one agent, a slot per CPU) on the local file system; each measurement from the first submit to the last result.",
  "",
  "| measurement | with dependencies | without | ratio |",
  "|---|---|---|---|",
  `| fan-out/fan-in: prepare → ${settings.jobs.toLocaleString("en")} jobs → 1 (${jobs.toLocaleString("en")} jobs), ms | ${fmt(total(withDeps))} | ${fmt(total(inline))} | ${(total(withDeps).median / total(inline).median).toFixed(2)}× |`,
  `| the same, jobs/s | ${(jobs / (total(withDeps).median / 1000)).toFixed(0)} | ${(jobs / (total(inline).median / 1000)).toFixed(0)} | ${(total(inline).median / total(withDeps).median).toFixed(2)} |`,
  `| of it: submitting, ms | ${fmt(submit(withDeps))} | ${fmt(submit(inline))} | ${(submit(withDeps).median / submit(inline).median).toFixed(2)}× |`,
  `| cost per dependency edge (${edges.toLocaleString("en")} edges), µs | ${perEdgeUs(total(withDeps), total(inline)).toFixed(0)} | – | – |`,
  `| of it at submit, µs per edge | ${perEdgeUs(submit(withDeps), submit(inline)).toFixed(0)} | – | – |`,
  `| a chain of ${settings.hops} jobs, each taking the previous value: ms per hop | ${fmt(summarize(hopMs), 1)} | – | – |`,
  "",
  "Without dependencies, the fan-out's jobs get the input inline and the fan-in job the values as an array of the same size;",
  "with them, the jobs wait in `waiting/` and are queued as results are published (no polling).",
];
writeFileSync(values.out!, lines.join("\n") + "\n");
console.log(lines.join("\n"));
