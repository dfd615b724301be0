// Hosts with capacity (issue 7): machines carry slots and labels (`2/host gpu`), jobs ask for a
// label (`on`) and for more than one slot; an agent never runs more than its host's slots, and a
// job that no node of the run can take fails at once with NO_NODE_FITS saying why, while every
// other job completes. Real sshd nodes.
import { strict as assert } from "node:assert";
import { rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import { MalocherError, type JobResult } from "malocher";
import { occupy } from "./fixtures/placement/jobs.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher } from "./support/temp.js";

const sshd = useSshNodes(3);

type Span = { start: number; end: number };

function span(result: JobResult | undefined): Span & { host: string } {
  assert.ok(result?.ok, `expected success: ${JSON.stringify(result)}`);
  return { ...(result.value as Span), host: result.host };
}

/** The most slots in use at once on `host`, from the jobs' start and end times. */
function peakSlots(runs: Array<Span & { host: string; slots: number }>, host: string): number {
  const edges = runs
    .filter((run) => run.host === host)
    .flatMap((run) => [
      { at: run.start, delta: run.slots },
      { at: run.end, delta: -run.slots },
    ])
    .sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let peak = 0;
  for (const edge of edges) peak = Math.max(peak, (now += edge.delta));
  return peak;
}

test("labelled jobs run only on nodes with the label, multi-slot jobs only where they fit, never above a node's slots", { timeout: 90_000 }, async (t) => {
  const [gpu, small, big] = sshd.cluster.nodes.map((node) => node.machine) as [string, string, string];
  const malocher = freshMalocher(t, "placement");
  const submitted: Array<{ jobId: string; slots: number; on?: string }> = [];
  for (let i = 0; i < 6; i++) submitted.push({ jobId: malocher.submit.with({ on: "gpu" })(occupy, 300), slots: 1, on: "gpu" });
  for (let i = 0; i < 4; i++) submitted.push({ jobId: malocher.submit.with({ slots: 3 })(occupy, 300), slots: 3 });
  for (let i = 0; i < 10; i++) submitted.push({ jobId: malocher.submit(occupy, 200), slots: 1 });
  const results = await collect(
    malocher.processAll({ ...harnessSshOptions(sshd.cluster), sshMachines: [`2/${gpu} gpu`, `1/${small}`, `4/${big} fast`] }),
  );
  const runs = submitted.map(({ jobId, slots, on }) => ({ ...span(results.get(jobId)), slots, on }));
  for (const run of runs.filter((r) => r.on === "gpu")) assert.equal(run.host, gpu, "a gpu job ran on the gpu node");
  for (const run of runs.filter((r) => r.slots === 3)) assert.equal(run.host, big, "a 3-slot job ran on the only node with 3 or more slots");
  assert.ok(peakSlots(runs, gpu) <= 2, `gpu node used ${peakSlots(runs, gpu)} of 2 slots`);
  assert.ok(peakSlots(runs, small) <= 1, `small node used ${peakSlots(runs, small)} of 1 slot`);
  assert.ok(peakSlots(runs, big) <= 4, `big node used ${peakSlots(runs, big)} of 4 slots`);
});

test("a job no node can take fails at once with NO_NODE_FITS saying what each node lacks; the others complete", { timeout: 90_000 }, async (t) => {
  const [gpu, small] = sshd.cluster.nodes.map((node) => node.machine) as [string, string];
  const malocher = freshMalocher(t, "placement-nofit");
  const tpu = malocher.submit.with({ on: "tpu" })(occupy, 10);
  const huge = malocher.submit.with({ slots: 8 })(occupy, 10);
  const fine = Array.from({ length: 4 }, () => malocher.submit(occupy, 50));
  const started = Date.now();
  const results = await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), sshMachines: [`2/${gpu} gpu`, `1/${small}`] }));
  for (const jobId of fine) span(results.get(jobId));
  const tpuResult = results.get(tpu);
  assert.ok(tpuResult !== undefined && !tpuResult.ok);
  assert.equal(tpuResult.error.code, "NO_NODE_FITS");
  assert.match(tpuResult.error.message, new RegExp(`${gpu}: it asks for label "tpu" and the node has labels gpu`));
  assert.match(tpuResult.error.message, new RegExp(`${small}: it asks for label "tpu" and the node has no labels`));
  const hugeResult = results.get(huge);
  assert.ok(hugeResult !== undefined && !hugeResult.ok);
  assert.equal(hugeResult.error.code, "NO_NODE_FITS");
  assert.match(hugeResult.error.message, /it asks for 8 slots and the node has 2/);
  assert.ok(Date.now() - started < 60_000);
});

test("submit refuses a label that is not one and a slot count below 1", (t) => {
  const malocher = freshMalocher(t, "placement-refusals");
  for (const options of [{ on: "gpu 1" }, { on: "" }, { slots: 0 }, { slots: 1.5 }]) {
    assert.throws(
      () => malocher.submit.with(options)(occupy, 1),
      (error: unknown) => error instanceof MalocherError && error.code === "INVALID_OPTIONS",
      JSON.stringify(options),
    );
  }
});

test("the CLI: a hosts file gives machines slots and labels, and `submit --on --slots` places command jobs", { timeout: 90_000 }, async (t) => {
  const [gpu, small] = sshd.cluster.nodes.map((node) => node.machine) as [string, string];
  const malocher = freshMalocher(t, "placement-cli");
  const hostsFile = join(malocher.dir, "..", `${basename(malocher.dir)}-hosts.txt`);
  writeFileSync(hostsFile, `# slots/machine labels\n2/${gpu} gpu\n1/${small}\n`);
  t.after(() => rmSync(hostsFile, { force: true }));
  const submitted = await runCli(["submit", "--dir", malocher.dir, "--json", "--on", "gpu", "--slots", "2", "--", "echo", ":::", "a", "b", "c"]);
  assert.equal(submitted.code, 0, describeRun(submitted));
  const ran = await runCli(
    ["run", "--hosts", hostsFile, "--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", malocher.dir, "--json"],
    { timeoutMs: 60_000 },
  );
  assert.equal(ran.code, 0, describeRun(ran));
  const results = await collect(malocher.results());
  assert.equal(results.size, 3);
  for (const result of results.values()) assert.equal(result.host, gpu, "every job ran on the labelled machine");
});
