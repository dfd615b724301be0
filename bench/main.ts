/**
 * The benchmark of issue 6: `node --import tsx bench/main.ts [--quick] [--out FILE] [--dir DIR]`.
 * Starts real sshd nodes on loopback, measures W1–W4 and the limits, prints every result as a
 * ratio with the target, and writes BENCHMARKS.md (or FILE). Needs root (sshd), a built
 * workspace (`npm run build`) and GNU parallel.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { FULL, QUICK } from "./bench-settings.js";
import { describeEnvironment } from "./environment.js";
import { renderReport } from "./report.js";
import { hotPathMissesTarget } from "./result-rows.js";
import { runSuite } from "./suite.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string", default: new URL("../BENCHMARKS.md", import.meta.url).pathname },
    dir: { type: "string" },
  },
});

const settings = values.quick ? QUICK : FULL;
const baseDir = resolve(values.dir ?? tmpdir());
const startedAt = new Date();
const log = (line: string) => process.stderr.write(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

log(`${settings.mode} run: ${settings.repeats} repeat(s) of each measurement; shared directories under ${baseDir}`);
const results = await runSuite({ settings, baseDir, log, hotPathMissed: hotPathMissesTarget });
const report = renderReport(results, describeEnvironment(baseDir), startedAt);
writeFileSync(values.out, report.markdown + "\n");
console.log(report.console.join("\n"));
console.log(`\nwritten to ${values.out} (${(results.durationMs / 1000).toFixed(0)} s)`);
