// The run semantics of processAll: what it yields and when it ends, results(), the `jobs` option,
// jobs from other processes (also submitting at the same time), scripts that exit by themselves
// (also after `break`), and the squares example end to end, locally and over SSH.
import { strict as assert } from "node:assert";
import { userInfo } from "node:os";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Malocher, MalocherError, results as topLevelResults, type JobResult } from "malocher";
import { echo, square, train } from "./fixtures/jobs/jobs.js";
import { describeRun, fixtures, killIfOurs, lastJsonLine, root, runFixture, runNode, tsx } from "./fixtures/jobs/support.js";
import { childrenOf, isAlive } from "./support/processes.js";
import { collect } from "./support/results.js";
import { envWithHarnessHome, useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";
import { waitFor } from "./support/wait.js";

const TIMEOUT = { timeout: 30_000 };

const sshd = useSshNodes(3);

/** The environment of a child that submits into `dir` with the top-level functions. */
function envWithDir(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, MALOCHER_DIR: dir };
}

/** The value of a successful result; a readable string for a failed one. */
function valueOf(result: JobResult | undefined): unknown {
  if (result === undefined) return "NO RESULT";
  return result.ok ? result.value : `FAILED ${result.error.code}: ${result.error.message}`;
}

function values(results: Map<string, JobResult>): unknown[] {
  return [...results.values()].map(valueOf);
}

describe("processAll and results", () => {
  test("a second processAll on a finished directory yields nothing and returns at once", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "run");
    const ids = [1, 2, 3, 4, 5].map((x) => malocher.submit(square, x));
    const first = await collect(malocher.processAll());
    assert.deepEqual(new Set(first.keys()), new Set(ids));
    assert.deepEqual(ids.map((id) => valueOf(first.get(id))), [1, 4, 9, 16, 25]);
    const started = Date.now();
    const second = await collect(malocher.processAll());
    assert.equal(second.size, 0);
    assert.ok(Date.now() - started < 5_000, `the second processAll took ${Date.now() - started} ms`);
  });

  test("results() yields every finished job, failed ones too, and nothing that has not run", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "run");
    const ids = [10, 11, 12, 13].map((seed) => malocher.submit(train, seed));
    await collect(malocher.processAll());
    const notRun = malocher.submit(square, 3);
    const all = await collect(malocher.results());
    assert.deepEqual(new Set(all.keys()), new Set(ids), "every finished job");
    const submittedAt = [...all.keys()].map((id) => id.slice(0, 9)); // job ids start with the submit time
    assert.deepEqual(submittedAt, [...submittedAt].sort(), "oldest job first");
    assert.equal(all.has(notRun), false);
    const failed = all.get(ids[3]!)!;
    assert.ok(!failed.ok && failed.error.code === "JOB_THREW");
    const first = all.get(ids[0]!)!;
    assert.deepEqual(first, {
      ok: true,
      value: { seed: 10, loss: 1 / 11 },
      jobId: ids[0],
      host: "local",
      attempts: 1,
      durationMs: first.durationMs,
      agentId: first.agentId,
      user: userInfo().username,
      keyId: first.keyId,
    });
    assert.match(first.agentId ?? "", /^local-[0-9a-f]{8}$/, "who ran it");
    assert.match(first.keyId ?? "", /^[0-9a-f]{16}$/, "which key signed it");
    // The package's top-level results() reads the same directory.
    const again = await collect(topLevelResults({ dir: malocher.dir }));
    assert.deepEqual([...again.keys()], [...all.keys()]);
  });

  test("jobs: [ids] yields only those jobs, also ones that had finished already", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "run");
    const done = malocher.submit(square, 100);
    await collect(malocher.processAll());
    const ids = Array.from({ length: 12 }, (_, x) => malocher.submit(square, x));
    const chosen = [ids[2]!, ids[5]!, ids[9]!, done];
    const results = await collect(malocher.processAll({ jobs: chosen }));
    assert.deepEqual(new Set(results.keys()), new Set(chosen));
    assert.deepEqual(chosen.map((id) => valueOf(results.get(id))), [4, 25, 81, 10000]);
  });

  test("results of every size arrive whole: small ones with the agent's message, large ones read from their file", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "run");
    const small = "s".repeat(100);
    const large = "L".repeat(200_000); // more than a "jobFinished" message carries
    const ids = [malocher.submit(echo, small), malocher.submit(echo, large)];
    const yielded = await collect(malocher.processAll());
    assert.deepEqual(ids.map((id) => valueOf(yielded.get(id))), [small, large]);
    const stored = await collect(malocher.results());
    assert.deepEqual(ids.map((id) => stored.get(id)), ids.map((id) => yielded.get(id)), "processAll yields what the result files hold");
  });

  test("jobs: [ids] runs only those jobs; the others stay queued", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "run");
    const ids = Array.from({ length: 12 }, (_, x) => malocher.submit(square, x));
    const chosen = [ids[2]!, ids[5]!, ids[9]!];
    const results = await collect(malocher.processAll({ jobs: chosen }));
    assert.deepEqual(new Set(results.keys()), new Set(chosen));
    const status = await malocher.status();
    assert.deepEqual(
      { queued: status.counts.queued, succeeded: status.counts.succeeded, running: status.counts.running },
      { queued: 9, succeeded: 3, running: 0 },
      "jobs outside `jobs` were not run",
    );
    const rest = await collect(malocher.processAll());
    assert.equal(rest.size, 9);
  });

  test("jobs: [ids] with an unknown id rejects with JOB_NOT_FOUND", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "run");
    malocher.submit(square, 1);
    await assert.rejects(collect(malocher.processAll({ jobs: ["000000000-0123456789ab"] })), (error: unknown) => {
      assert.ok(error instanceof MalocherError);
      assert.equal(error.code, "JOB_NOT_FOUND");
      assert.match(error.message, /000000000-0123456789ab/);
      return true;
    });
  });

  test("a run of another directory than the jobs': processAll() warns where they went, jobs: [ids] says so in JOB_NOT_FOUND; the jobs stay for their own run", TIMEOUT, async (t) => {
    const submittedTo = freshMalocher(t, "submitted-to");
    const other = freshMalocher(t, "other");
    const ids = [submittedTo.submit(square, 2), submittedTo.submit(square, 3)];
    const warnings: string[] = [];
    assert.equal((await collect(other.processAll({ onWarning: (warning) => warnings.push(warning) }))).size, 0);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    // Earlier tests of this process may have left jobs in directories of their own: those are named too.
    assert.match(warnings[0]!, new RegExp(`^processAll\\(\\) found no job to run in ${other.dir}; this process submitted .*\\b2 to ${submittedTo.dir}\\b.*: run them with the Malocher of their directory`));
    await assert.rejects(collect(other.processAll({ jobs: ids })), (error: unknown) => {
      assert.ok(error instanceof MalocherError);
      assert.equal(error.code, "JOB_NOT_FOUND");
      assert.match(error.message, new RegExp(`in ${other.dir}\\. Of them, this process submitted 2 to ${submittedTo.dir}: run them`), "only the directory of the jobs named");
      return true;
    });
    const ran = await collect(submittedTo.processAll({ slots: 2 }));
    assert.deepEqual(ids.map((jobId) => valueOf(ran.get(jobId))), [4, 9]);
  });

  test("jobs another process submitted before the call are run and yielded too", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "run");
    const run = await runFixture("submit-squares.ts", ["10", "100"], { env: envWithDir(malocher.dir) });
    assert.equal(run.code, 0, describeRun(run));
    const theirs = lastJsonLine<string[]>(run);
    const mine = malocher.submit(square, 3);
    const results = await collect(malocher.processAll());
    assert.deepEqual(new Set(results.keys()), new Set([...theirs, mine]));
    assert.deepEqual(
      theirs.map((id) => valueOf(results.get(id))),
      Array.from({ length: 10 }, (_, i) => (100 + i) ** 2),
    );
  });

  test("4 processes submitting 50 jobs each into one directory at once: 200 unique ids, all run", { timeout: 60_000 }, async (t) => {
    const malocher = freshMalocher(t, "run");
    const runs = await Promise.all(
      [0, 1, 2, 3].map((i) => runFixture("submit-squares.ts", ["50", String(i * 50)], { env: envWithDir(malocher.dir) })),
    );
    for (const run of runs) assert.equal(run.code, 0, describeRun(run));
    const ids = runs.flatMap((run) => lastJsonLine<string[]>(run));
    assert.equal(ids.length, 200);
    assert.equal(new Set(ids).size, 200, "job ids are unique");
    const status = await malocher.status();
    assert.equal(status.total, 200);
    assert.equal(status.counts.queued, 200);
    const results = await collect(malocher.processAll());
    assert.deepEqual(new Set(results.keys()), new Set(ids));
    const squares = values(results) as number[];
    assert.deepEqual(squares.sort((a, b) => a - b), Array.from({ length: 200 }, (_, x) => x * x));
  });
});

describe("scripts exit by themselves", () => {
  test("a script that only submits exits by itself, into ./.malocher by default", TIMEOUT, async (t) => {
    const cwd = tempDir("submit-only");
    t.after(() => removeDir(cwd));
    const env = { ...process.env };
    delete env["MALOCHER_DIR"];
    const run = await runFixture("submit-squares.ts", ["5"], { cwd, env, timeoutMs: 15_000 });
    assert.equal(run.timedOut, false, `the script did not exit by itself: ${describeRun(run)}`);
    assert.equal(run.code, 0, describeRun(run));
    const ids = lastJsonLine<string[]>(run);
    const status = await new Malocher({ dir: join(cwd, ".malocher") }).status();
    assert.equal(status.total, 5);
    assert.equal(status.counts.queued, 5);
    assert.equal(ids.length, 5);
  });

  test("a script that leaves the loop with break exits by itself, stops its agent, and the rest stays queued", TIMEOUT, async (t) => {
    const dir = tempDir("break");
    t.after(() => removeDir(dir));
    const run = await runFixture("break-early.ts", [dir, "8"], { timeoutMs: 20_000 });
    assert.equal(run.timedOut, false, `the script did not exit by itself after break: ${describeRun(run)}`);
    assert.equal(run.code, 0, describeRun(run));
    const report = lastJsonLine<{ ids: string[]; first: string; agents: number[]; workers: number[] }>(run);
    assert.equal(report.agents.length, 1, "one local agent ran");
    assert.ok(report.workers.length >= 1, "the agent had a worker");
    const pids = [...report.agents, ...report.workers];
    const gone = await waitFor(() => pids.every((pid) => !isAlive(pid)), 5_000);
    assert.ok(gone, `processes left behind after break: ${pids.filter(isAlive).join(", ")}`);
    const malocher = new Malocher({ dir });
    const status = await malocher.status();
    assert.equal(status.counts.running, 0, "no job is left claimed");
    assert.equal(status.counts.failed, 0, "the jobs the break interrupted did not fail");
    assert.ok(status.counts.succeeded >= 1);
    assert.equal(status.counts.queued, 8 - status.counts.succeeded, "the unfinished jobs stay queued");
    // A later run picks them up.
    const rest = await collect(malocher.processAll());
    assert.equal(rest.size, 8 - status.counts.succeeded);
    assert.ok([...rest.values()].every((result) => result.ok));
  });
});

/**
 * Starts run-slow.ts (3 jobs of 20 s, 2 slots), waits until 2 jobs run, and kills the script with
 * SIGKILL (just it, as the OOM killer or `kill -9` would). Returns the pids of the agent and its
 * workers as they were before the kill.
 */
async function killScriptWhileJobsRun(t: { after(fn: () => void): void }, dir: string, options: object): Promise<number[]> {
  const child = spawn(process.execPath, ["--import", tsx, join(fixtures, "run-slow.ts"), dir, "3", JSON.stringify({ ...options, slots: 2 })], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const pids: number[] = [];
  t.after(() => {
    for (const pid of [child.pid!, ...pids]) killIfOurs(pid);
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const twoStarted = await waitFor(() => (stdout.match(/^started /gm)?.length ?? 0) >= 2, 20_000);
  assert.ok(twoStarted, `two jobs did not start:\n${stdout}\n${stderr}`);
  for (const lease of readdirSync(join(dir, "agents"))) {
    const pid = (JSON.parse(readFileSync(join(dir, "agents", lease), "utf8")) as { pid: number }).pid;
    pids.push(pid, ...childrenOf(pid));
  }
  assert.ok(pids.length >= 3, `an agent with two workers runs: ${pids.join(", ")}`);
  process.kill(child.pid!, "SIGKILL");
  await exited;
  return pids;
}

describe("killing the script loses nothing", () => {
  for (const where of ["locally", "over SSH"] as const) {
    test(`${where}: after SIGKILL of the script, its agent stops the jobs, puts them back in the queue and exits`, TIMEOUT, async (t) => {
      const dir = tempDir("killed");
      t.after(() => removeDir(dir));
      const options =
        where === "locally"
          ? {}
          : {
              sshMachines: [sshd.cluster.nodes[0]!.machine],
              sshUsername: sshd.cluster.user,
              sshPrivateKey: sshd.cluster.privateKey,
              knownHosts: sshd.cluster.knownHosts,
            };
      const pids = await killScriptWhileJobsRun(t, dir, options);
      const gone = await waitFor(() => pids.every((pid) => !isAlive(pid)), 15_000);
      assert.ok(gone, `still running 15 s after the script died: ${pids.filter(isAlive).join(", ")}`);
      const status = await new Malocher({ dir }).status();
      assert.deepEqual(
        { queued: status.counts.queued, running: status.counts.running },
        { queued: 3, running: 0 },
        "the jobs the agent was running are back in the queue, not left claimed by a dead agent",
      );
      assert.deepEqual(readdirSync(join(dir, "agents")), [], "the agent removed its lease");
    });
  }
});

describe("the squares example", () => {
  const sumLine = /^sum of squares 0\.\.99 = 328350$/m;

  test("squares.ts runs locally and prints the sum", TIMEOUT, async (t) => {
    const cwd = tempDir("squares-ts");
    t.after(() => removeDir(cwd));
    const env = { ...process.env };
    delete env["MALOCHER_DIR"];
    const run = await runNode(["--import", tsx, join(root, "examples/squares/squares.ts")], { cwd, env, timeoutMs: 25_000 });
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stdout, sumLine);
    assert.equal(run.stdout.match(/\(on local\)$/gm)?.length, 100, describeRun(run));
    assert.ok(existsSync(join(cwd, ".malocher", "format")), "it used ./.malocher of its working directory");
  });

  test("squares.mjs runs locally with plain node and prints the sum", TIMEOUT, async (t) => {
    const dir = tempDir("squares-mjs");
    t.after(() => removeDir(dir));
    const run = await runNode([join(root, "examples/squares/squares.mjs")], { env: envWithDir(dir), timeoutMs: 25_000 });
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stdout, sumLine);
    assert.equal(run.stdout.match(/\(on local\)$/gm)?.length, 100, describeRun(run));
    assert.equal((await new Malocher({ dir }).status()).counts.succeeded, 100);
  });

  test("squares.ts runs over SSH with --hosts and OpenSSH's default key and known_hosts", TIMEOUT, async (t) => {
    const dir = tempDir("squares-ssh");
    t.after(() => removeDir(dir));
    const env = envWithHarnessHome(t, sshd.cluster, envWithDir(dir));
    const machines = sshd.cluster.nodes.map((node) => node.machine);
    const run = await runNode(["--import", tsx, join(root, "examples/squares/squares.ts"), "--hosts", machines.join(",")], {
      env,
      timeoutMs: 25_000,
    });
    assert.equal(run.code, 0, describeRun(run));
    assert.match(run.stdout, sumLine);
    const hosts = [...run.stdout.matchAll(/\(on (.+)\)$/gm)].map((match) => match[1]);
    assert.equal(hosts.length, 100, describeRun(run));
    for (const host of hosts) assert.ok(machines.includes(host!), `a job ran on ${host}`);
  });
});
