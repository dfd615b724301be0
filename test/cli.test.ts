// The `malocher` command as a user runs it: `run` over the 3 harness nodes from a hosts file,
// its exit codes and --json events, and `status`, `results`, `logs` on the directory it leaves.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { echo, printTag, square, train } from "./fixtures/jobs/jobs.js";
import { describeRun, runCli, type Run } from "./fixtures/jobs/support.js";
import { freshMalocher } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";
import { directoryLayout } from "@malocher/protocol";
import { doubleAfterGate } from "./fixtures/faults/jobs.js";

const TIMEOUT = { timeout: 40_000 };

let cluster: SshNodes;
let hostsFile: string;
let machines: string[];
before(async () => {
  cluster = await startSshNodes(3);
  machines = cluster.nodes.map((node) => node.machine);
  hostsFile = join(cluster.dir, "hosts");
  const [a, b, c] = machines;
  writeFileSync(hostsFile, `# the test cluster\n${a}   # first node\n\n  ${b}\n# ${c} is below\n${c}\n`);
});
after(async () => {
  await cluster?.close();
});

/** `malocher run` over the three nodes, given by the hosts file unless `hosts` says otherwise. */
function run(dir: string, more: string[] = [], hosts = hostsFile): Promise<Run> {
  const args = ["run", "--hosts", hosts, "--identity", cluster.privateKey, "--known-hosts", cluster.knownHosts, "--dir", dir];
  return runCli([...args, ...more], { timeoutMs: 30_000 });
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

test("run over a hosts file exits 0 when every job succeeded; status, results and logs describe the run", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli");
  const squares = new Map<string, number>();
  for (let x = 0; x < 9; x++) squares.set(malocher.submit(square, x), x);
  const tagged = malocher.submit(printTag, "hello from a node");
  const big = malocher.submit(echo, { n: 2n ** 70n, when: new Date(0) });

  const ran = await run(malocher.dir);
  assert.equal(ran.code, 0, describeRun(ran));
  assert.match(ran.stderr, /done 11\/11\b/, `the progress ends with the totals: ${describeRun(ran)}`);

  const status = await runCli(["status", "--json", "--dir", malocher.dir]);
  assert.equal(status.code, 0, describeRun(status));
  const [counts] = jsonLines(status.stdout) as [{ total: number; counts: Record<string, number>; nodes: Record<string, { succeeded: number; failed: number; running: number }> }];
  assert.equal(counts.total, 11);
  assert.deepEqual(counts.counts, { waiting: 0, queued: 0, retrying: 0, running: 0, succeeded: 11, failed: 0, cancelled: 0 });
  for (const host of Object.keys(counts.nodes)) assert.ok(machines.includes(host), `status names node ${host}`);
  assert.equal(Object.values(counts.nodes).reduce((sum, node) => sum + node.succeeded, 0), 11);

  const results = await runCli(["results", "--json", "--dir", malocher.dir]);
  assert.equal(results.code, 0, describeRun(results));
  const lines = jsonLines(results.stdout);
  assert.equal(lines.length, 11);
  for (const line of lines) {
    for (const field of ["jobId", "ok", "value", "host", "attempts", "durationMs"]) assert.ok(field in line, `${field} in ${JSON.stringify(line)}`);
    assert.equal(line["ok"], true);
    assert.ok(machines.includes(line["host"] as string));
    assert.equal(line["attempts"], 1);
    assert.equal(typeof line["durationMs"], "number");
    const jobId = line["jobId"] as string;
    if (squares.has(jobId)) assert.equal(line["value"], squares.get(jobId)! ** 2);
  }
  const bigLine = lines.find((line) => line["jobId"] === big);
  assert.deepEqual(bigLine?.["value"], { n: String(2n ** 70n), when: new Date(0).toISOString() });

  const logs = await runCli(["logs", tagged, "--dir", malocher.dir]);
  assert.equal(logs.code, 0, describeRun(logs));
  assert.equal(logs.stdout, "out hello from a node\n");
  assert.equal(logs.stderr, "err hello from a node\n");
  const logsJson = await runCli(["logs", tagged, "--json", "--dir", malocher.dir]);
  assert.deepEqual(jsonLines(logsJson.stdout), [{ jobId: tagged, stdout: "out hello from a node\n", stderr: "err hello from a node\n" }]);
});

test("run exits 1 when a job failed, and says which; results and status show the failure", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli");
  const ids = [11, 12, 13, 14].map((seed) => malocher.submit(train, seed));
  const bad = ids[2]!;

  const ran = await run(malocher.dir);
  assert.equal(ran.code, 1, describeRun(ran));
  assert.match(ran.stderr, new RegExp(`job ${bad} \\(train\\(13\\)\\) failed on \\S+: \\[JOB_THREW\\] seed 13 is unlucky`), describeRun(ran));

  const resultsRun = await runCli(["results", "--json", "--dir", malocher.dir]);
  const results = jsonLines(resultsRun.stdout);
  assert.equal(results.length, 4, describeRun(resultsRun));
  const failed = results.find((line) => line["jobId"] === bad);
  assert.equal(failed?.["ok"], false);
  assert.equal("value" in failed!, false);
  const error = failed?.["error"] as { name: string; message: string; code: string };
  assert.deepEqual([error.name, error.message, error.code], ["UnluckySeedError", "seed 13 is unlucky", "JOB_THREW"]);
  for (const field of ["host", "attempts", "durationMs"]) assert.ok(field in failed!, `${field} in the failed result`);

  const noOutput = await runCli(["logs", bad, "--dir", malocher.dir]);
  assert.equal(noOutput.stderr, `malocher: no output of job ${bad}: it printed nothing (failed: [JOB_THREW] seed 13 is unlucky)\n`, describeRun(noOutput));

  const onlyFailed = await runCli(["results", "--failed", "--dir", malocher.dir]);
  assert.equal(onlyFailed.code, 0, describeRun(onlyFailed));
  assert.equal(onlyFailed.stdout.trim().split("\n").length, 1, describeRun(onlyFailed));
  assert.match(onlyFailed.stdout, new RegExp(`^${bad} train\\(13\\) FAILED \\S+ \\[JOB_THREW\\] seed 13 is unlucky$`, "m"));

  const statusRun = await runCli(["status", "--json", "--dir", malocher.dir]);
  const [status] = jsonLines(statusRun.stdout) as [{ counts: Record<string, number> }];
  assert.equal(status.counts["failed"], 1, describeRun(statusRun));
  assert.equal(status.counts["succeeded"], 3, describeRun(statusRun));
});

test("run says which jobs of a lost node went back to the queue, and still runs them all", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli");
  const [gate, starts] = [join(malocher.dir, "gate"), join(malocher.dir, "starts")];
  const inputs = [0, 1, 2, 3, 4, 5];
  for (const x of inputs) malocher.submit(doubleAfterGate, x, gate, starts);
  const ran = run(malocher.dir, ["--slots", "2"]);
  // All six run, two on each node; then the first node's agent dies.
  await waitUntil(() => existsSync(starts) && readdirSync(starts).length === inputs.length, 20_000, "every job to start");
  const victim = machines[0]!;
  const lease = readdirSync(directoryLayout.agentsDir(malocher.dir))
    .filter((name) => !name.endsWith(".lost"))
    .map((name) => JSON.parse(readFileSync(directoryLayout.leaseFile(malocher.dir, name), "utf8")) as { host: string; pid: number })
    .find((candidate) => candidate.host === victim)!;
  process.kill(lease.pid, "SIGKILL");
  await waitUntil(() => readdirSync(starts).length === inputs.length + 2, 20_000, "the lost node's two jobs to start again");
  writeFileSync(gate, "");
  const done = await ran;
  assert.equal(done.code, 0, describeRun(done));
  assert.match(done.stderr, new RegExp(`^${victim}: 2 jobs it was running went back to the queue$`, "m"), describeRun(done));
  assert.match(done.stderr, /done 6\/6\b/, describeRun(done));
});

test("a host that cannot be reached is named, even when the run ends before its connection attempts do", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli");
  for (const x of [1, 2, 3]) malocher.submit(square, x);
  // Nothing listens on the port after the nodes': the connection is refused, and tried again for seconds.
  const unreachable = `${cluster.nodes[0]!.address}:${cluster.nodes[0]!.port + 1}`;
  const ran = await run(malocher.dir, [], `${machines[0]},${unreachable}`);
  assert.equal(ran.code, 0, describeRun(ran));
  assert.match(ran.stderr, /done 3\/3\b/, describeRun(ran));
  assert.match(ran.stderr, new RegExp(`^${unreachable}: connecting$`, "m"), describeRun(ran));
  assert.match(ran.stderr, new RegExp(`^malocher: 1 host was not used: ${unreachable} \\((still connecting when the run ended|.*ECONNREFUSED.*)\\)$`, "m"), describeRun(ran));
});

test("run --json (hosts as a list h1,h2,h3) prints the run's events and every result as JSON Lines", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli");
  const ids = [1, 2, 3, 4, 5, 6].map((x) => malocher.submit(square, x));
  const ran = await run(malocher.dir, ["--json"], machines.join(","));
  assert.equal(ran.code, 0, describeRun(ran));
  const events = jsonLines(ran.stdout);
  assert.deepEqual(events[0], { type: "run", pending: 6, nodes: 3 });
  const ready = new Set(events.filter((e) => e["type"] === "node" && e["state"] === "ready").map((e) => e["host"]));
  assert.deepEqual(ready, new Set(machines), "every node became ready");
  const started = events.filter((e) => e["type"] === "jobStarted").map((e) => e["jobId"]);
  const finished = events.filter((e) => e["type"] === "jobFinished").map((e) => e["jobId"]);
  assert.deepEqual(new Set(started), new Set(ids));
  assert.deepEqual(new Set(finished), new Set(ids));
  const results = events.filter((e) => e["type"] === "result");
  assert.deepEqual(new Set(results.map((e) => e["jobId"])), new Set(ids));
  for (const result of results) {
    assert.equal(result["ok"], true);
    assert.ok(machines.includes(result["host"] as string));
    assert.equal(result["value"], (ids.indexOf(result["jobId"] as string) + 1) ** 2);
    assert.equal(typeof result["durationMs"], "number");
    assert.equal(result["attempts"], 1);
  }
});

test("run exits 2 with [NO_USABLE_NODES] when the only host is unreachable", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli");
  malocher.submit(square, 2);
  const unreachable = `127.0.0.${cluster.nodes.length + 2}:${cluster.nodes[0]!.port}`; // no sshd there
  const ran = await runCli(
    ["run", "--hosts", unreachable, "--identity", cluster.privateKey, "--known-hosts", cluster.knownHosts, "--dir", malocher.dir],
    { timeoutMs: 30_000 },
  );
  assert.equal(ran.timedOut, false, describeRun(ran));
  assert.equal(ran.code, 2, describeRun(ran));
  assert.match(ran.stderr, /\[NO_USABLE_NODES\]/);
  assert.match(ran.stderr, /SSH_UNREACHABLE/);
  assert.ok(ran.stderr.includes(unreachable), "the message names the host");
  const status = await malocher.status();
  assert.equal(status.counts.queued, 1, "the job is still queued");
});

test("status, results, logs and run (with nothing to submit) exit 2 with a clear message on a directory or job that does not exist", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "cli");
  const missing = join(malocher.dir, "nothing-here");
  const status = await runCli(["status", "--dir", missing]);
  assert.equal(status.code, 2, describeRun(status));
  assert.match(status.stderr, /\[SHARED_DIR_FORMAT\].*not a Malocher directory/);
  const run = await runCli(["run", "--dir", missing]);
  assert.equal(run.code, 2, describeRun(run));
  assert.match(run.stderr, /\[SHARED_DIR_FORMAT\].*not a Malocher directory/);
  assert.ok(!existsSync(missing), "a mistyped --dir is not created");
  const queued = malocher.submit(square, 1);
  const logs = await runCli(["logs", "not-a-job", "--dir", malocher.dir]);
  assert.equal(logs.code, 2, describeRun(logs));
  assert.match(logs.stderr, /\[JOB_NOT_FOUND\]/);
  const notRun = await runCli(["logs", queued, "--dir", malocher.dir]);
  assert.equal(notRun.code, 0, describeRun(notRun));
  assert.equal(notRun.stderr, `malocher: no output of job ${queued}: it has not run yet (queued)\n`, "no output is said, not left blank");
});
