// A run's env and cwd (`processAll({ env, cwd })`, `malocher run --env --cwd`) over sshd nodes:
// every job of the run gets them unless it set its own (its own env entries win, one by one), a
// later run without them leaves no trace in the warm workers, and bad values are refused.
import { strict as assert } from "node:assert";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { JobResult } from "malocher";
import { surroundings } from "./fixtures/jobs/jobs.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { malocherRejection } from "./support/errors.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";

const TIMEOUT = { timeout: 60_000 };
type Surroundings = ReturnType<typeof surroundings>;

const sshd = useSshNodes(2);

function valueOf(result: JobResult | undefined): Surroundings {
  assert.ok(result?.ok, JSON.stringify(result));
  return result.value as Surroundings;
}

test("processAll's env and cwd reach every job that did not set its own; a job's own entries win", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "run-env");
  const work = tempDir("run-cwd");
  t.after(() => removeDir(work));
  const own = join(work, "own");
  mkdirSync(own);
  const plain = [malocher.submit(surroundings), malocher.submit(surroundings), malocher.submit(surroundings)];
  const withOwn = malocher.submit.with({ env: { MALOCHER_TEST_X: "job" }, cwd: own })(surroundings);
  const env = { MALOCHER_TEST_X: "run", MALOCHER_TEST_SECRET: "run-only" };
  const results = await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), slots: 1, env, cwd: work }));
  for (const id of plain) assert.deepEqual({ ...valueOf(results.get(id)), pid: 0 }, { cwd: work, x: "run", secret: "run-only", pid: 0 });
  assert.deepEqual({ ...valueOf(results.get(withOwn)), pid: 0 }, { cwd: own, x: "job", secret: "run-only", pid: 0 });

  // A later run without them: the submitter's cwd (recorded at submit) and no run variables.
  const later = malocher.submit(surroundings);
  const again = await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), slots: 1 }));
  assert.deepEqual({ ...valueOf(again.get(later)), pid: 0 }, { cwd: process.cwd(), x: null, secret: null, pid: 0 });

  // A run's cwd that the nodes lack fails its jobs, saying where the directory came from.
  const lost = malocher.submit(surroundings);
  const missing = join(work, "not-there");
  const failed = (await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), slots: 1, cwd: missing }))).get(lost);
  assert.ok(failed && !failed.ok, JSON.stringify(failed));
  assert.equal(failed.error.code, "JOB_CWD_UNAVAILABLE");
  assert.match(failed.error.message, new RegExp(`${missing} does not exist on this node.*run --cwd`));
});

test("malocher run --env and --cwd apply to function and command jobs; bad values are refused with a code", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "run-env-cli");
  const work = tempDir("run-cwd-cli");
  t.after(() => removeDir(work));
  const fn = malocher.submit(surroundings);
  const hosts = sshd.cluster.nodes.map((node) => node.machine).join(",");
  const ssh = ["--hosts", hosts, "--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", malocher.dir];
  const vars = ["--env", "MALOCHER_TEST_X=a=b", "--env", "MALOCHER_TEST_SECRET=", "--cwd", work];
  const functions = await runCli(["run", ...ssh, ...vars, "--quiet"], { timeoutMs: 40_000 });
  assert.equal(functions.code, 0, describeRun(functions));
  assert.deepEqual({ ...valueOf(await malocher.result(fn)), pid: 0 }, { cwd: work, x: "a=b", secret: "", pid: 0 });

  const command = await runCli(["run", ...ssh, ...vars, "--", "sh", "-c", 'echo "$MALOCHER_TEST_X in $(pwd)"', ":::", "one"], { timeoutMs: 40_000 });
  assert.equal(command.code, 0, describeRun(command));
  assert.equal(command.stdout, `a=b in ${work}\n`, describeRun(command));

  for (const bad of [["--env", "NOVALUE"], ["--env", "=x"]]) {
    const refused = await runCli(["run", ...ssh, ...bad]);
    assert.equal(refused.code, 2, describeRun(refused));
    assert.match(refused.stderr, /\[INVALID_OPTIONS\] --env takes NAME=value/);
  }
  const badValue = await malocherRejection(collect(malocher.processAll({ env: { N: 1 as unknown as string } })));
  assert.equal(badValue.code, "INVALID_OPTIONS");
  assert.match(badValue.message, /env\.N is number/);
});
