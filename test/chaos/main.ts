/** `npm run chaos -- --jobs 1000 --faults 20 [--nodes 3] [--sshfs]`: the chaos test, bigger, by hand. */
import { parseArgs } from "node:util";
import { runChaos } from "./run-chaos.js";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "1000" },
    faults: { type: "string", default: "20" },
    nodes: { type: "string", default: "3" },
    sshfs: { type: "boolean", default: false },
  },
});
const report = await runChaos({
  jobs: Number(values.jobs),
  faults: Number(values.faults),
  nodes: Number(values.nodes),
  sshfs: values.sshfs,
  log: (line) => console.error(line),
});
console.log(JSON.stringify(report, null, 2));
const ok = report.lost === 0 && report.duplicateResults === 0 && report.wrongValues === 0 && report.failedResults === 0 && report.orphanedProcesses === 0;
console.log(ok ? "chaos: PASS" : "chaos: FAIL");
process.exitCode = ok ? 0 : 1;
