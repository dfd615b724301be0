// A new user's first hour (issue 17), on real sshd nodes: a script that forgot `isMain` fails its
// job once instead of flooding the cluster; running a keyed script again after a fix reruns what
// failed and yields every job, the reused ones marked.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { Malocher, MalocherError } from "malocher";
import { describeRun, runCli, runFixture } from "./fixtures/jobs/support.js";
import { train } from "./fixtures/jobs/jobs.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { startSshNodes } from "./harness/sshd-nodes.js";
import { collect } from "./support/results.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";
import { within } from "./support/wait.js";
import { RunTally } from "../packages/supervisor/src/run-tally.js";
import { progressCounts } from "../packages/supervisor/src/cli/progress-frame.js";
import { previewText } from "../packages/supervisor/src/cli/job-text.js";
import { RunProgress } from "../packages/supervisor/src/cli/run-progress.js";
import { initProject } from "../packages/supervisor/src/init/init-project.js";
import { ResultOf } from "@malocher/protocol";

const TIMEOUT = { timeout: 150_000 };
const RUN_DEADLINE_MS = 90_000;

const sshd = useSshNodes(2);

test("a script without isMain: the worker's import refuses submit, the job fails JOB_IMPORT_FAILED saying to use isMain, and nothing else is submitted", TIMEOUT, async (t) => {
  const dir = tempDir("unguarded");
  t.after(() => removeDir(dir));
  const ran = await runFixture("unguarded-main.ts", [], {
    cwd: dir,
    env: { ...process.env, MALOCHER_DIR: dir, MALOCHER_TEST_RUN: JSON.stringify(harnessSshOptions(sshd.cluster)) },
    timeoutMs: RUN_DEADLINE_MS,
  });
  assert.equal(ran.code, 0, describeRun(ran));
  const lines = ran.stdout.trim().split("\n").map((line) => JSON.parse(line) as { jobId: string; ok: boolean; code?: string; message?: string });
  assert.equal(lines.length, 1, `one result, of the one job the script submitted: ${describeRun(ran)}`);
  const [failure] = lines as [(typeof lines)[number]];
  assert.equal(failure.ok, false);
  assert.equal(failure.code, "JOB_IMPORT_FAILED");
  assert.match(failure.message!, /submit\(\) was called while a Malocher worker imported file:\/\/.*unguarded-main\.ts to run a job from it/);
  assert.match(failure.message!, /wrap it in `if \(isMain\(import\.meta\)\) \{ … \}`/);
  const status = await new Malocher({ dir }).status();
  assert.equal(status.total, 1, "the worker submitted no job of its own");
});

test("run a keyed script again after a fix: failed jobs run again with the new code, finished ones are yielded as reused, a second processAll yields nothing old", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "rerun");
  const moduleDir = tempDir("rerun-module");
  t.after(() => removeDir(moduleDir));
  const modulePath = join(moduleDir, "sweep.mjs");
  writeFileSync(modulePath, 'export function work(x) { if (x % 2 === 1) throw new Error(`bug at ${x}`); return x * 10; }\n');
  const work = { module: pathToFileURL(modulePath).href, export: "work" };
  const sshOptions = harnessSshOptions(sshd.cluster);

  const submitAll = () => [0, 1, 2, 3].map((x) => malocher.submit.with({ key: `x-${x}` })(work, x));
  const firstIds = submitAll();
  const first = await within(collect(malocher.processAll(sshOptions)), RUN_DEADLINE_MS, "the first run");
  assert.deepEqual([...first.keys()].sort(), [...firstIds].sort());
  assert.deepEqual(firstIds.map((jobId) => first.get(jobId)!.ok), [true, false, true, false]);

  writeFileSync(modulePath, "export function work(x) { return x * 10; }\n"); // the fix
  const secondIds = submitAll();
  assert.deepEqual(secondIds, firstIds, "the keys name the same jobs");
  const second = await within(collect(malocher.processAll(sshOptions)), RUN_DEADLINE_MS, "the second run");
  assert.deepEqual([...second.keys()].sort(), [...firstIds].sort(), "every job the script submitted is yielded, finished or not");
  for (const [index, jobId] of firstIds.entries()) {
    const result = second.get(jobId)!;
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value, index * 10);
    assert.equal(result.reused, index % 2 === 0 ? true : undefined, `job ${index}: reused only when it had succeeded before`);
  }
  const retried = await malocher.results();
  let count = 0;
  for await (const [, result] of retried) count += result.ok ? 1 : 0;
  assert.equal(count, 4);

  const third = await within(collect(malocher.processAll(sshOptions)), RUN_DEADLINE_MS, "a third run without new submits");
  assert.equal(third.size, 0, "nothing old again");
});

test("malocher jobs lists a job whose argument is bytes too many to write out: their class and size, not a crash", TIMEOUT, async (t) => {
  // 130 MB of bytes as a JSON array was longer than a string can be: jobs, results and their --json stopped with a RangeError.
  const malocher = freshMalocher(t, "jobs-bytes");
  const big = malocher.submit(train, new Uint8Array(1_000_001) as never);
  const small = malocher.submit(train, new Uint8Array([1, 2]) as never);
  const listed = await runCli(["jobs", "--dir", malocher.dir]);
  assert.equal(listed.code, 0, describeRun(listed));
  assert.match(listed.stdout, new RegExp(`^${big} .*train\\(\\(Uint8Array, 1000001 bytes\\)\\)$`, "m"), describeRun(listed));
  assert.match(listed.stdout, new RegExp(`^${small} .*train\\(\\[1,2\\]\\)$`, "m"), describeRun(listed));
  const json = await runCli(["jobs", "--json", "--dir", malocher.dir]);
  const rows = new Map(json.stdout.trim().split("\n").map((line) => JSON.parse(line) as { jobId: string; what: { args: unknown[] } }).map((row) => [row.jobId, row.what.args]));
  assert.deepEqual(rows.get(big), [{ $class: "Uint8Array", byteLength: 1_000_001, omitted: true }]);
  assert.deepEqual(rows.get(small), [[1, 2]]);
});

test("malocher jobs tells jobs apart (state, name, key, host, attempts, duration, arguments), filters them; results and run failures show key and arguments", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "jobs");
  const good = malocher.submit.with({ key: "seed-12", name: "baseline", tags: ["sweep"] })(train, 12);
  const bad = malocher.submit.with({ key: "seed-13", tags: ["sweep"] })(train, 13);
  const command = malocher.submitCommand(["sh", "-c", "exit 3", "input-7.csv"], { name: "loader" });
  const machines = sshd.cluster.nodes.map((node) => node.machine);
  const ran = await runCli(["run", "--hosts", machines.join(","), "--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", malocher.dir], { timeoutMs: RUN_DEADLINE_MS });
  assert.equal(ran.code, 1, describeRun(ran));
  assert.match(ran.stderr, new RegExp(`job ${bad} \\(train\\(13\\) key=seed-13\\) failed on \\S+: \\[JOB_THREW\\] seed 13 is unlucky`), describeRun(ran));
  assert.match(ran.stderr, /\[COMMAND_FAILED\] The command sh -c 'exit 3' input-7\.csv exited with code 3/, "a failed command job's message names its argument");
  const queued = malocher.submit.with({ name: "later" })(train, 1);

  const listed = await runCli(["jobs", "--dir", malocher.dir]);
  assert.equal(listed.code, 0, describeRun(listed));
  const lines = listed.stdout.trim().split("\n");
  assert.equal(lines.length, 4, describeRun(listed));
  const lineOf = (jobId: string) => lines.find((line) => line.startsWith(`${jobId} `)) ?? assert.fail(`no line for ${jobId}:\n${listed.stdout}`);
  assert.match(lineOf(good), /^\S+ {2}succeeded {2}\S+ +1× +[\d.]+ m?s {2}train\(12\) "baseline" #sweep key=seed-12$/);
  assert.match(lineOf(bad), /^\S+ {2}failed {5}\S+ +1× +[\d.]+ m?s {2}train\(13\) #sweep key=seed-13$/);
  assert.match(lineOf(command), /failed .* sh -c "exit 3" input-7\.csv "loader"$/);
  assert.match(lineOf(queued), /^\S+ {2}queued {5}- +- +- {2}train\(1\) "later"$/);

  const json = await runCli(["jobs", "--json", "--state", "failed", "--tag", "sweep", "--dir", malocher.dir]);
  const rows = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(rows.map((row) => row["jobId"]), [bad], describeRun(json));
  const [row] = rows as [Record<string, unknown>];
  assert.equal(row["state"], "failed");
  assert.equal(row["key"], "seed-13");
  assert.ok(machines.includes(row["host"] as string), `host ${String(row["host"])}`);
  assert.equal(row["attempts"], 1);
  assert.equal(typeof row["durationMs"], "number");
  assert.equal(row["preview"], "train(13)");
  assert.deepEqual((row["what"] as { args: unknown[] }).args, [13]);

  const byName = await runCli(["jobs", "--json", "--name", "loader", "--name", "later", "--dir", malocher.dir]);
  assert.deepEqual(byName.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { jobId: string }).jobId), [command, queued]);
  const byHost = await runCli(["jobs", "--json", "--host", row["host"] as string, "--dir", malocher.dir]);
  assert.ok(byHost.stdout.includes(bad), describeRun(byHost));
  assert.ok(!byHost.stdout.includes(queued), "a queued job ran nowhere yet");
  const badState = await runCli(["jobs", "--state", "done", "--dir", malocher.dir]);
  assert.equal(badState.code, 2);
  assert.match(badState.stderr, /--state takes one of waiting, queued, retrying, running, succeeded, failed, cancelled, unqueued; got "done"/);

  const results = await runCli(["results", "--failed", "--dir", malocher.dir]);
  assert.match(results.stdout, new RegExp(`^${bad} train\\(13\\) #sweep key=seed-13 FAILED \\S+ \\[JOB_THREW\\] seed 13 is unlucky$`, "m"), describeRun(results));
});

test("a script outside the shared file system: processAll says once per node that the directory or the module is not visible there, and no job fails", TIMEOUT, async (t) => {
  const elsewhere = tempDir("elsewhere"); // on this machine only: the node does not see it
  const shared = tempDir("shared");
  t.after(() => removeDir(elsewhere));
  t.after(() => removeDir(shared));
  const cluster = await startSshNodes(1, { hidePaths: { 0: [elsewhere] } });
  t.after(() => cluster.close());
  writeFileSync(join(elsewhere, "work.mjs"), "export function work(x) { return x; }\n");
  const work = { module: pathToFileURL(join(elsewhere, "work.mjs")).href, export: "work" };

  for (const [dir, what, path] of [
    [join(elsewhere, ".malocher"), "the shared directory", join(elsewhere, ".malocher")],
    [join(shared, ".malocher"), "the module of the run's jobs", join(elsewhere, "work.mjs")],
  ] as const) {
    const malocher = new Malocher({ dir });
    const ids = [1, 2, 3].map((x) => malocher.submit(work, x));
    const yielded: string[] = [];
    const error = await within(
      (async () => {
        try {
          for await (const [jobId] of malocher.processAll(harnessSshOptions(cluster))) yielded.push(jobId);
        } catch (error) {
          return error as Error & { code?: string };
        }
        return undefined;
      })(),
      RUN_DEADLINE_MS,
      "the run",
    );
    assert.equal(yielded.length, 0, "no job failed");
    assert.equal(error?.code, "NO_USABLE_NODES", String(error));
    const said = `${path}, ${what}, is not visible on ${cluster.nodes[0]!.machine} at that path, though the machine that submitted the jobs has it: it must be on the file system every machine shares`;
    assert.ok(error.message.includes(said), error.message);
    assert.equal(error.message.split(said).length - 1, 1, "said once");
    for (const jobId of ids) assert.equal(await malocher.state(jobId), "queued", "the jobs stay queued for a run that can see them");
  }
  // `malocher run` from another process knows the modules from the queued jobs' specs.
  const ran = await runCli(["run", "--hosts", cluster.nodes[0]!.machine, "--identity", cluster.privateKey, "--known-hosts", cluster.knownHosts, "--dir", join(shared, ".malocher")], {
    timeoutMs: RUN_DEADLINE_MS,
  });
  assert.equal(ran.code, 2, describeRun(ran));
  assert.match(ran.stderr, /work\.mjs, the module of the run's jobs, is not visible on \S+ at that path/, describeRun(ran));
  assert.match(ran.stderr, /The queued jobs stay queued/);
});

test("a queued job whose module file was deleted fails alone (JOB_IMPORT_FAILED); the run's other jobs run, whoever runs them", TIMEOUT, async (t) => {
  const project = tempDir("deleted-module");
  t.after(() => removeDir(project));
  const source = 'export function twice(x) { return 2 * x; }\n';
  const [kept, deleted] = [join(project, "kept.mjs"), join(project, "deleted.mjs")];
  const ref = (file: string) => ({ module: pathToFileURL(file).href, export: "twice" });
  // The process that submitted them knows their modules; `malocher run`, another process, samples the queued jobs' specs.
  for (const runner of ["processAll", "malocher run"] as const) {
    for (const file of [kept, deleted]) writeFileSync(file, source);
    const malocher = new Malocher({ dir: join(project, `.malocher-${runner.replace(" ", "-")}`) });
    const gone = [4, 5].map((x) => malocher.submit(ref(deleted), x)); // first: the sample of a run from another process names it
    const good = [1, 2, 3].map((x) => malocher.submit(ref(kept), x));
    unlinkSync(deleted);
    if (runner === "processAll") await within(collect(malocher.processAll({ slots: 2 })), RUN_DEADLINE_MS, "the run");
    else {
      const ran = await runCli(["run", "--dir", malocher.dir, "--slots", "2"], { timeoutMs: RUN_DEADLINE_MS });
      assert.equal(ran.code, 1, `some jobs failed: ${describeRun(ran)}`);
    }
    for (const [i, jobId] of good.entries()) {
      const result = await malocher.result(jobId);
      assert.ok(result.ok && result.value === 2 * (i + 1), `${runner}: a job of the module that is there ran: ${JSON.stringify(result)}`);
    }
    for (const jobId of gone) {
      const result = await malocher.result(jobId);
      assert.ok(!result.ok && result.error.code === "JOB_IMPORT_FAILED", `${runner}: ${JSON.stringify(result)}`);
    }
  }
});

test("a typo in a host name says unknown host; run uses the good hosts and ends naming the one not used; with none usable, the jobs stay queued", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "typo");
  const [good] = sshd.cluster.nodes.map((node) => node.machine) as [string];
  const ssh = ["--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", malocher.dir];
  malocher.submit(train, 1);
  const nodes = await runCli(["nodes", "--hosts", `${good},nod2`, ...ssh], { timeoutMs: RUN_DEADLINE_MS });
  assert.equal(nodes.code, 1, describeRun(nodes));
  assert.match(nodes.stdout, /^nod2 +FAIL ssh\n {2}ssh +\[SSH_UNREACHABLE\] Unknown host nod2: the name does not resolve \(getaddrinfo ENOTFOUND\)/m, describeRun(nodes));
  assert.match(nodes.stdout, /fix: check the spelling of nod2/);
  assert.doesNotMatch(nodes.stdout, /authorized_keys|SSH_AUTH_FAILED/, "not a complaint about keys");

  const ran = await runCli(["run", "--hosts", `${good},nod2`, ...ssh], { timeoutMs: RUN_DEADLINE_MS });
  assert.equal(ran.code, 0, describeRun(ran));
  assert.match(ran.stderr, /\nmalocher: 1 host was not used: nod2 \(Unknown host nod2: the name does not resolve/, describeRun(ran));
  assert.equal((await malocher.status()).counts.succeeded, 1);

  const none = await runCli(["run", "--hosts", "nod2", ...ssh, "--", "echo", ":::", "x", "y"], { timeoutMs: RUN_DEADLINE_MS });
  assert.equal(none.code, 2, describeRun(none));
  assert.match(none.stderr, /\[NO_USABLE_NODES\][^]*Unknown host nod2[^]*\nThe 2 jobs this command submitted stay queued: a `malocher run` that can run them does, `malocher cancel \S+ \S+` drops them\./, describeRun(none));
  assert.equal((await malocher.status()).counts.queued, 2);
});

test("run -- command with options it refuses submits nothing: no jobs left queued behind the error", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "refused-run");
  const earlier = malocher.submitCommand(["true"]);
  const refusals: Array<[string[], RegExp]> = [
    [["--slurm-nodes", "1", "--slurm-time", "banana"], /\[INVALID_OPTIONS\].*time/],
    [["--slurm-nodes", "1", "--slurm-time", "5", "--timeout", "10m"], /\[INVALID_OPTIONS\] timeoutMs \(--timeout\) is 600000 ms, longer than a job can run/],
  ];
  for (const [flags, error] of refusals) {
    const run = await runCli(["run", ...flags, "--dir", malocher.dir, "--", "echo", "hello", ":::", "a", "b"], { timeoutMs: RUN_DEADLINE_MS });
    assert.equal(run.code, 2, describeRun(run));
    assert.match(run.stderr, error, describeRun(run));
  }
  assert.deepEqual((await malocher.jobs()).map((job) => job.jobId), [earlier], "nothing more was submitted");
});

test("the ETA knows running jobs' ages: a last job running far past the mean raises it instead of leaving it at 1 s", () => {
  let now = 0;
  const tally = new RunTally(0, () => now);
  tally.onEvent({ type: "run", pending: 100, nodes: 1 });
  for (let i = 0; i < 99; i++) {
    tally.onEvent({ type: "jobStarted", jobId: `j${i}`, host: "n", attempt: 1 });
    now += 100;
    tally.onEvent({ type: "jobFinished", jobId: `j${i}`, host: "n", ok: true, durationMs: 100 });
    tally.onResult("succeeded");
  }
  tally.onEvent({ type: "jobStarted", jobId: "slow", host: "n", attempt: 1 });
  const eta = (at: number) => {
    now = at;
    return tally.report().etaMs!;
  };
  assert.ok(eta(9_910) <= 150, `young, it needs about the mean: ${eta(9_910)}`);
  assert.ok(eta(20_000) >= 10_000, `10 s past its start, it is judged to need as long again: ${eta(20_000)}`);
  assert.ok(eta(40_000) >= 30_000, "and the ETA keeps growing while it runs");
  now = 40_000;
  tally.onEvent({ type: "jobFinished", jobId: "slow", host: "n", ok: true, durationMs: 30_100 });
  tally.onResult("succeeded");
  assert.equal(tally.report().etaMs, undefined, "nothing left");
});

test("during a drain the ETA is the running jobs' (the queued ones do not start), at most until its deadline, and none once they ended", () => {
  let now = 0;
  const tally = new RunTally(0, () => now);
  tally.onEvent({ type: "node", host: "n", state: "ready", slots: 2 });
  tally.onEvent({ type: "run", pending: 100, nodes: 1 });
  for (let i = 0; i < 10; i++) {
    tally.onEvent({ type: "jobStarted", jobId: `j${i}`, host: "n", attempt: 1 });
    now += 1000;
    tally.onEvent({ type: "jobFinished", jobId: `j${i}`, host: "n", ok: true, durationMs: 1000 });
    tally.onResult("succeeded");
  }
  tally.onEvent({ type: "jobStarted", jobId: "last", host: "n", attempt: 1 });
  now += 200;
  assert.ok(tally.report().etaMs! > 60_000, `90 jobs left at 1 job/s: ${tally.report().etaMs}`);
  tally.onEvent({ type: "draining" });
  assert.equal(tally.report().etaMs, 800, "only the running job's rest (the mean, 1 s, less its 0.2 s)");
  tally.onEvent({ type: "draining", deadlineAt: now + 300 });
  assert.equal(tally.report().etaMs, 300, "no longer than until the drain's deadline (drainTimeoutMs), when running jobs are stopped");
  tally.onEvent({ type: "jobFinished", jobId: "last", host: "n", ok: true, durationMs: 1000 });
  tally.onResult("succeeded");
  assert.equal(tally.report().etaMs, undefined, "nothing runs, nothing more starts");
});

test("the summary of unused hosts keeps an agent's own words when the first line only introduces them", () => {
  let written = "";
  const out = { write: (text: string) => ((written += text), true), columns: 80 } as unknown as NodeJS.WriteStream;
  const progress = new RunProgress("plain", out);
  const error = new MalocherError(
    "AGENT_START_FAILED",
    "The agent on n1 ended before it connected (exited with code 2). Its last output:\nmalocher agent n1-0c0ffee0: /p/work.mjs, the module of the run's jobs, is not visible on n1 at that path\n",
  );
  progress.onEvent({ type: "node", host: "n1", state: "failed", slots: 0, error });
  const crash = "The agent on n2 ended before it connected (exited with code 1). Its last output:\nfile:///a.js:1\nthrow new TypeError('boom');\n^\n\nTypeError: boom\n    at file:///a.js:1:7\n\nNode.js v20.20.2\n";
  progress.onEvent({ type: "node", host: "n2", state: "failed", slots: 0, error: new MalocherError("AGENT_START_FAILED", crash) });
  progress.finish();
  assert.match(written, /^malocher: 2 hosts were not used: n1 \(The agent on n1 ended before it connected \(exited with code 2\)\. Its last output: malocher agent n1-0c0ffee0: \/p\/work\.mjs, the module of the run's jobs, is not visible on n1 at that path\); n2 \(.* Its last output: TypeError: boom\)$/m, written);
});

test("init makes a fresh package an ES module, and leaves a CommonJS package with code of its own as it is, with an experiment.mts", (t) => {
  const fresh = tempDir("init-fresh");
  const own = tempDir("init-own");
  t.after(() => (removeDir(fresh), removeDir(own)));
  // As `npm init -y` leaves it: "type": "commonjs", and a main that names no file.
  writeFileSync(join(fresh, "package.json"), JSON.stringify({ name: "fresh", version: "1.0.0", main: "index.js", type: "commonjs" }));
  const freshSteps = initProject(fresh);
  assert.deepEqual(freshSteps.map((step) => [basename(step.file), step.action]), [["package.json", "updated"], ["experiment.ts", "created"], ["hosts.txt", "created"]]);
  assert.equal(JSON.parse(readFileSync(join(fresh, "package.json"), "utf8")).type, "module");
  // A package of its own whose files use require(): its type stays, the experiment is an .mts.
  const manifest = JSON.stringify({ name: "own", main: "index.js", type: "commonjs", scripts: { test: "node index.js" } });
  writeFileSync(join(own, "package.json"), manifest);
  writeFileSync(join(own, "index.js"), "module.exports = require('node:os').cpus().length;\n");
  const ownSteps = initProject(own);
  assert.deepEqual(ownSteps.map((step) => [basename(step.file), step.action]), [["package.json", "updated"], ["experiment.mts", "created"], ["hosts.txt", "created"]]);
  assert.match(ownSteps[0]!.detail!, /"type" kept \("commonjs": this package has code of its own\), so the experiment is experiment\.mts/);
  const after = JSON.parse(readFileSync(join(own, "package.json"), "utf8"));
  assert.equal(after.type, "commonjs");
  assert.equal(after.scripts.experiment, "tsx experiment.mts");
  assert.match(readFileSync(join(own, "experiment.mts"), "utf8"), /^\/\/ experiment\.mts, written by `malocher init`\. Run it with: npx tsx experiment\.mts/);
  assert.equal(existsSync(join(own, "experiment.ts")), false);
});

test("a pipeline job's preview shows resultOf(id) as written, so that the arguments after it still show", () => {
  const input = "0mxdd6j85-17365e31fede";
  const step = (args: unknown[]) => ({ kind: "function" as const, module: "file:///p/steps.ts", export: "step", args });
  assert.equal(previewText(step([new ResultOf(input), 2])), `step(resultOf(${input}), 2)`);
  assert.equal(previewText(step([{ from: [new ResultOf(input)] }, 3]), 200), `step({"from":[resultOf(${input})]}, 3)`);
});

test("a preview shows what JSON cannot hold as written in code: 1n, undefined, NaN, Infinity (it showed \"1\" and null)", () => {
  const add = (args: unknown[]) => ({ kind: "function" as const, module: "file:///p/add.ts", export: "add", args });
  assert.equal(previewText(add([1n, 2])), "add(1n, 2)");
  assert.equal(previewText(add([undefined, NaN, -Infinity])), "add(undefined, NaN, -Infinity)");
  assert.equal(previewText(add([{ n: 3n, gone: undefined, list: [NaN] }]), 200), 'add({"n":3n,"gone":undefined,"list":[NaN]})');
  assert.equal(previewText(add(["1", null])), 'add("1", null)', "a string and null stay as they were");
  assert.equal(previewText(add([new BigInt64Array([5n])])), "add([5n])");
  assert.equal(previewText(add(["\u0000malocher-literal:x"]), 200), 'add("\\u0000malocher-literal:x")', "a string that looks like a marker stays a string");
});

test("a run's counts tell cancelled jobs from failed ones, and a retried job's new result replaces how it ended before", () => {
  const tally = new RunTally(0, () => 1000);
  tally.onEvent({ type: "run", pending: 4, nodes: 1 });
  for (const outcome of ["succeeded", "failed", "cancelled", "cancelled"] as const) tally.onResult(outcome);
  const before = tally.report();
  assert.deepEqual([before.done, before.failed, before.cancelled], [4, 1, 2]);
  assert.equal(progressCounts(before), "done 1/4 · failed 1 · cancelled 2 · running 0 · queued 0");
  tally.onResult("succeeded", "cancelled");
  tally.onResult("cancelled", "failed");
  const after = tally.report();
  assert.deepEqual([after.done, after.failed, after.cancelled], [4, 0, 2]);
  assert.equal(progressCounts(after), "done 2/4 · failed 0 · cancelled 2 · running 0 · queued 0");
});

test("retry of failed jobs whose module moved says so once and leaves them, instead of failing them all again", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "moved");
  const moduleDir = tempDir("moved-module");
  t.after(() => removeDir(moduleDir));
  const modulePath = join(moduleDir, "sweep.mjs");
  writeFileSync(modulePath, "export function work(x) { throw new Error(`bug at ${x}`); }\n");
  const ids = [1, 2, 3].map((x) => malocher.submit({ module: pathToFileURL(modulePath).href, export: "work" }, x));
  const run = await within(collect(malocher.processAll(harnessSshOptions(sshd.cluster))), RUN_DEADLINE_MS, "the run");
  assert.ok([...run.values()].every((result) => !result.ok));
  renameSync(modulePath, join(moduleDir, "renamed.mjs"));

  const retried = await runCli(["retry", "--failed", "--dir", malocher.dir]);
  assert.equal(retried.code, 0, describeRun(retried));
  assert.equal(
    retried.stdout,
    "requeued 0 jobs\n" +
      `not requeued: 3 failed jobs of ${pathToFileURL(modulePath).href}, which is no longer at that path (moved or deleted); ` +
      "a rerun would only fail to import it. Submit them again from where the module is now.\n",
  );
  assert.deepEqual(await malocher.retry(ids[0]!), { [ids[0]!]: "moduleMissing" });
  for (const jobId of ids) assert.equal(await malocher.state(jobId), "failed");
});

test("{%} is the job slot that runs a command job, replaced on the node (1 to its slots)", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "slot");
  const [good] = sshd.cluster.nodes.map((node) => node.machine) as [string];
  const ran = await runCli(
    ["run", "--hosts", good, "--slots", "2", "--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", malocher.dir,
      "--", "sh", "-c", 'echo "$0 slot={%} env=$MALOCHER_SLOT"', "{}", ":::", "a", "b", "c", "d"],
    { timeoutMs: RUN_DEADLINE_MS },
  );
  assert.equal(ran.code, 0, describeRun(ran));
  const lines = ran.stdout.trim().split("\n").sort();
  assert.equal(lines.length, 4, describeRun(ran));
  for (const [index, line] of lines.entries()) {
    const match = /^([abcd]) slot=([12]) env=([12])$/.exec(line) ?? assert.fail(`not a slot line: ${line}`);
    assert.equal(match[1], "abcd"[index]);
    assert.equal(match[2], match[3], "{%} and MALOCHER_SLOT agree");
  }
});

test("submit of { module, export } whose module is no file here is refused at once (FUNCTION_NOT_IMPORTABLE), not a job that fails at its run", (t) => {
  const malocher = freshMalocher(t, "missing-module");
  const missing = join(malocher.dir, "..", "no-such-module.ts");
  assert.throws(
    () => malocher.submit({ module: pathToFileURL(missing).href, export: "train" }, 1),
    (error: unknown) => error instanceof MalocherError && error.code === "FUNCTION_NOT_IMPORTABLE" && error.message.includes(missing),
  );
  assert.throws(() => malocher.submit({ module: missing, export: "train" }, 1), { code: "FUNCTION_NOT_IMPORTABLE" });
});
