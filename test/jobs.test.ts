// Job behaviour as a user sees it: failures are results (throw, process.exit, unserializable
// result), refusals happen at submit, data round-trips, output lands in the job's own log, cwd and
// env are the job's, async and .mjs jobs work. Mostly local mode; the failures also over SSH.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";
import { describe, test } from "node:test";
import { Malocher, type JobResult } from "malocher";
import {
  echo,
  exitIfFirst,
  printTag,
  returnsFunction,
  returnsModel,
  slowDouble,
  square,
  strayErrorOnEven,
  surroundings,
  train,
} from "./fixtures/jobs/jobs.js";
import { triple, tripleLater } from "./fixtures/jobs/mjs-jobs.mjs";
import { describeRun, fixtures, lastJsonLine, runCli, runFixture } from "./fixtures/jobs/support.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";

const TIMEOUT = { timeout: 30_000 };

const sshd = useSshNodes(3);

function failed(result: JobResult | undefined): Extract<JobResult, { ok: false }> {
  assert.ok(result !== undefined, "no result");
  if (result.ok) assert.fail(`expected a failure, got ${inspect(result)}`);
  return result as Extract<JobResult, { ok: false }>;
}

function succeeded(result: JobResult | undefined): Extract<JobResult, { ok: true }> {
  assert.ok(result !== undefined, "no result");
  if (!result.ok) assert.fail(`expected success, got ${inspect(result)}`);
  return result as Extract<JobResult, { ok: true }>;
}

describe("local mode", () => {
  test("a job that throws fails with JOB_THREW and the error's name and message; every other job succeeds", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const ids = new Map<number, string>();
    for (let seed = 10; seed < 20; seed++) ids.set(seed, malocher.submit(train, seed));
    const results = await collect(malocher.processAll());
    assert.equal(results.size, 10);
    const bad = failed(results.get(ids.get(13)!));
    assert.equal(bad.error.code, "JOB_THREW");
    assert.equal(bad.error.name, "UnluckySeedError");
    assert.equal(bad.error.message, "seed 13 is unlucky");
    assert.match(bad.error.stack ?? "", /jobs\.ts/, "the stack points into the job's module");
    assert.equal(bad.jobId, ids.get(13));
    assert.equal(bad.host, "local");
    assert.equal(bad.attempts, 1);
    assert.equal(typeof bad.durationMs, "number");
    for (const [seed, jobId] of ids) {
      if (seed === 13) continue;
      assert.deepEqual(succeeded(results.get(jobId)).value, { seed, loss: 1 / (seed + 1) });
    }
  });

  test("a job that calls process.exit(3) fails with JOB_EXITED; the next jobs run on a fresh worker", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const marker = join(malocher.dir, "exit-marker");
    const ids = Array.from({ length: 6 }, () => malocher.submit(exitIfFirst, marker));
    const results = await collect(malocher.processAll({ slots: 1 }));
    assert.deepEqual(new Set(results.keys()), new Set(ids));
    const order = [...results.values()];
    // With one slot, the first job to run is the one that exits, and it finishes first.
    const exited = failed(order[0]);
    assert.equal(exited.error.code, "JOB_EXITED");
    assert.match(exited.error.message, /exit code 3\b/);
    const exitedPid = Number(readFileSync(marker, "utf8"));
    assert.equal((await malocher.logs(exited.jobId)).stdout, `exiting from ${exitedPid}\n`, "the job's last words are in its log");
    const pids = order.slice(1).map((result) => (succeeded(result).value as { pid: number }).pid);
    assert.equal(pids.length, 5);
    assert.ok(!pids.includes(exitedPid), "the worker that exited is not used again");
    assert.equal(new Set(pids).size, 1, `one fresh warm worker runs the rest, got pids ${pids.join(", ")}`);
  });

  for (const how of ["rejection", "timer"] as const) {
    const what = how === "rejection" ? "an unhandled rejection" : "a throwing timer";
    test(`a job that leaves an error behind (${what}) fails alone with JOB_THREW; the job after it on the worker succeeds`, TIMEOUT, async (t) => {
      const malocher = freshMalocher(t, "jobs");
      const counter = join(malocher.dir, "counter");
      const ids = Array.from({ length: 8 }, () => malocher.submit(strayErrorOnEven, counter, how));
      // One slot: every odd job runs right after an even one that left an error behind.
      const results = await collect(malocher.processAll({ slots: 1 }));
      assert.deepEqual(new Set(results.keys()), new Set(ids));
      // Each job runs once (attempt 1): no agent crash or lost node made anything run again.
      const outcomes = [...results.values()].map(
        (result) =>
          `attempt ${result.attempts}: ` +
          (result.ok ? `job ${result.value} ok` : `${result.error.code}: ${result.error.message.split("\n")[0]}`),
      );
      const message = how === "rejection" ? "nobody handles this rejection" : "thrown from a timer";
      const expected = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => `attempt 1: ${n % 2 === 1 ? `job ${n} ok` : `JOB_THREW: ${message} (job ${n})`}`);
      assert.deepEqual(outcomes, expected);
    });
  }

  test("a job that returns a function or an instance of a class no module exports fails with RESULT_NOT_SERIALIZABLE naming the path", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const fnJob = malocher.submit(returnsFunction);
    const modelJob = malocher.submit(returnsModel);
    const fine = malocher.submit(square, 7);
    const results = await collect(malocher.processAll());
    const fn = failed(results.get(fnJob));
    assert.equal(fn.error.code, "RESULT_NOT_SERIALIZABLE");
    assert.match(fn.error.message, /result\.fn\b/);
    assert.match(fn.error.message, /function/);
    const model = failed(results.get(modelJob));
    assert.equal(model.error.code, "RESULT_NOT_SERIALIZABLE");
    assert.match(model.error.message, /result\.model: an instance of class Model.*does not export it/);
    assert.equal(succeeded(results.get(fine)).value, 49);
  });

  test("submit refuses, in the submitting process, functions an agent cannot import and unserializable arguments", TIMEOUT, async (t) => {
    const dir = tempDir("refusals");
    t.after(() => removeDir(dir));
    const run = await runFixture("refusals.ts", [dir]);
    assert.equal(run.code, 0, describeRun(run));
    interface Attempt {
      threw: boolean;
      isMalocherError?: boolean;
      code?: string;
      message?: string;
      jobId?: string;
    }
    const attempts = lastJsonLine<Record<string, Attempt>>(run);
    for (const name of ["notExported", "closure", "arrowInALocal"]) {
      const attempt = attempts[name]!;
      assert.equal(attempt.threw, true, `${name} must be refused`);
      assert.equal(attempt.isMalocherError, true, name);
      assert.equal(attempt.code, "FUNCTION_NOT_IMPORTABLE", name);
      assert.match(attempt.message ?? "", /export/i, `${name}: the message says to export it: ${attempt.message}`);
    }
    const expectedPaths: Record<string, RegExp> = {
      functionInArg: /args\[1\]\.model\.forward\b/,
      classInstanceInArg: /args\[1\]\.model\b/,
      symbolInArg: /args\[1\]\[0\]/,
    };
    for (const [name, path] of Object.entries(expectedPaths)) {
      const attempt = attempts[name]!;
      assert.equal(attempt.threw, true, `${name} must be refused`);
      assert.equal(attempt.isMalocherError, true, name);
      assert.equal(attempt.code, "ARG_NOT_SERIALIZABLE", name);
      assert.match(attempt.message ?? "", path, `${name}: ${attempt.message}`);
    }
    assert.equal(attempts["valid"]?.threw, false, JSON.stringify(attempts["valid"]));
    // The refused submits left nothing behind; the valid one is queued.
    const status = await new Malocher({ dir }).status();
    assert.equal(status.total, 1);
    assert.equal(status.counts.queued, 1);
  });

  test("typed arrays, Dates, Maps, Sets, BigInts and nested objects round-trip through a job", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const value = {
      u8: new Uint8Array([0, 1, 254, 255]),
      f32: new Float32Array([1.5, -2.25, Number.POSITIVE_INFINITY]),
      f64: new Float64Array([Math.PI, Number.NaN, -0.5, 1e300]),
      i16: new Int16Array([-32768, 32767]),
      big64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      date: new Date("2024-02-29T12:34:56.789Z"),
      map: new Map<unknown, unknown>([
        ["a", 1],
        [2, { nested: new Set(["x", "y"]) }],
      ]),
      set: new Set([1, "two", 3n]),
      bigints: [0n, -1n, 2n ** 64n + 1n, -(10n ** 40n)],
      nested: { a: { b: { c: [1, "x", null, undefined, true, { d: [new Date(0)] }] } }, empty: {} },
      text: "ünïcödé ✓ \u0000 end",
      numbers: [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 40, 0.1],
    };
    const jobId = malocher.submit(echo, value);
    const results = await collect(malocher.processAll());
    const back = succeeded(results.get(jobId)).value as typeof value;
    assert.deepStrictEqual(back, value);
    assert.ok(back.map instanceof Map && back.set instanceof Set && back.date instanceof Date);
    assert.ok(back.f64 instanceof Float64Array && back.big64 instanceof BigInt64Array);
    assert.equal(typeof back.bigints[2], "bigint");
  });

  test("a 100 MB typed array round-trips through a job", { timeout: 60_000 }, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const big = new Float64Array((100 * 1024 * 1024) / 8);
    for (let i = 0; i < big.length; i += 4096) big[i] = i;
    big[big.length - 1] = -1;
    const jobId = malocher.submit(echo, { big });
    const results = await collect(malocher.processAll({ slots: 1 }));
    const back = (succeeded(results.get(jobId)).value as { big: Float64Array }).big;
    assert.ok(back instanceof Float64Array);
    assert.equal(back.length, big.length);
    assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(big.buffer)), "same bytes");
  });

  test("each job's stdout and stderr land in its own log, also on one warm worker (20 jobs, 1 slot)", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const tags = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const tag = `tag-${i}-${Math.random().toString(36).slice(2, 8)}`;
      tags.set(malocher.submit(printTag, tag), tag);
    }
    const results = await collect(malocher.processAll({ slots: 1 }));
    assert.equal(results.size, 20);
    const pids = new Set([...results.values()].map((result) => (succeeded(result).value as { pid: number }).pid));
    assert.equal(pids.size, 1, "all 20 jobs ran on the same warm worker");
    for (const [jobId, tag] of tags) {
      const logs = await malocher.logs(jobId);
      assert.equal(logs.stdout, `out ${tag}\n`, `stdout of ${jobId}`);
      assert.equal(logs.stderr, `err ${tag}\n`, `stderr of ${jobId}`);
    }
    const [someId, someTag] = [...tags][7]!;
    const cli = await runCli(["logs", someId, "--dir", malocher.dir]);
    assert.equal(cli.code, 0, describeRun(cli));
    assert.equal(cli.stdout, `out ${someTag}\n`);
    assert.equal(cli.stderr, `err ${someTag}\n`);
  });

  test("cwd and env of submit.with() are the job's; the submitter's own environment is not copied", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const submitterCwd = tempDir("submitter-cwd");
    const otherCwd = tempDir("other-cwd");
    t.after(() => removeDir(submitterCwd));
    t.after(() => removeDir(otherCwd));
    const run = await runFixture("submit-surroundings.ts", [malocher.dir, otherCwd], {
      cwd: submitterCwd,
      env: { ...process.env, MALOCHER_TEST_SECRET: "hunter2" },
    });
    assert.equal(run.code, 0, describeRun(run));
    const submitted = lastJsonLine<{ plain: string; withOptions: string; cwd: string; secret: string | null }>(run);
    assert.equal(submitted.secret, "hunter2", "the submitter had the secret in its environment");
    assert.equal(process.env["MALOCHER_TEST_SECRET"], undefined);
    const results = await collect(malocher.processAll({ slots: 1 }));
    type Seen = ReturnType<typeof surroundings>;
    const plain = succeeded(results.get(submitted.plain)).value as Seen;
    const withOptions = succeeded(results.get(submitted.withOptions)).value as Seen;
    assert.equal(plain.cwd, submitterCwd, "a job runs in the submitter's working directory");
    assert.equal(withOptions.cwd, otherCwd);
    assert.equal(withOptions.x, "42");
    assert.equal(plain.x, null, "env given to one job does not leak into the next on the same worker");
    assert.equal(plain.secret, null, "the submitter's environment is not copied");
    assert.equal(withOptions.secret, null, "the submitter's environment is not copied");
  });

  test("async jobs (returning a promise) work", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const ids = [1, 2, 3].map((x) => malocher.submit(slowDouble, x, 100));
    const results = await collect(malocher.processAll());
    assert.deepEqual(
      ids.map((id) => succeeded(results.get(id)).value),
      [2, 4, 6],
    );
    for (const id of ids) assert.ok(results.get(id)!.durationMs >= 90, "durationMs covers the awaited time");
  });

  test(".mjs job modules work, also given as { module, export }", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const moduleUrl = pathToFileURL(join(fixtures, "mjs-jobs.mjs")).href;
    const a = malocher.submit(triple, 5);
    const b = malocher.submit(tripleLater, 7);
    const c = malocher.submit({ module: moduleUrl, export: "triple" }, 9);
    const results = await collect(malocher.processAll());
    assert.equal(succeeded(results.get(a)).value, 15);
    assert.deepEqual(succeeded(results.get(b)).value, { x: 7, triple: 21, where: moduleUrl });
    assert.equal(succeeded(results.get(c)).value, 27);
  });
});

describe("over SSH (3 nodes)", () => {
  test("a throwing, an exiting and an unserializable job fail as they do locally; every other job succeeds", { timeout: 45_000 }, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const machines = sshd.cluster.nodes.map((node) => node.machine);
    const threw = malocher.submit(train, 13);
    const exited = malocher.submit(exitIfFirst, join(malocher.dir, "exit-marker"));
    const unserializable = malocher.submit(returnsFunction);
    const good = new Map<string, number>();
    for (let x = 0; x < 12; x++) good.set(malocher.submit(square, x), x);
    const results = await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), slots: 2 }));
    assert.equal(results.size, 15);

    const thrown = failed(results.get(threw));
    assert.equal(thrown.error.code, "JOB_THREW");
    assert.equal(thrown.error.name, "UnluckySeedError");
    assert.equal(thrown.error.message, "seed 13 is unlucky");
    const exit = failed(results.get(exited));
    assert.equal(exit.error.code, "JOB_EXITED");
    assert.match(exit.error.message, /exit code 3\b/);
    const result = failed(results.get(unserializable));
    assert.equal(result.error.code, "RESULT_NOT_SERIALIZABLE");
    assert.match(result.error.message, /result\.fn\b/);
    for (const [jobId, x] of good) assert.equal(succeeded(results.get(jobId)).value, x * x);
    for (const [jobId, r] of results) {
      assert.ok(machines.includes(r.host), `job ${jobId} ran on ${r.host}, which is not one of ${machines.join(", ")}`);
      assert.equal(r.jobId, jobId);
      assert.equal(r.attempts, 1);
    }
  });

  test("cwd and env of submit.with() reach the job on a node; the submitter's environment does not", { timeout: 45_000 }, async (t) => {
    const malocher = freshMalocher(t, "jobs");
    const otherCwd = tempDir("ssh-cwd");
    t.after(() => removeDir(otherCwd));
    process.env["MALOCHER_TEST_SECRET"] = "hunter2";
    let plain: string;
    let withOptions: string;
    try {
      plain = malocher.submit(surroundings);
      withOptions = malocher.submit.with({ cwd: otherCwd, env: { MALOCHER_TEST_X: "42" } })(surroundings);
    } finally {
      delete process.env["MALOCHER_TEST_SECRET"];
    }
    const results = await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), sshMachines: [sshd.cluster.nodes[1]!.machine] }));
    type Seen = ReturnType<typeof surroundings>;
    const a = succeeded(results.get(plain)).value as Seen;
    const b = succeeded(results.get(withOptions)).value as Seen;
    assert.equal(a.cwd, process.cwd());
    assert.deepEqual([b.cwd, b.x], [otherCwd, "42"]);
    assert.equal(a.secret, null);
    assert.equal(b.secret, null);
    assert.equal(results.get(plain)!.host, sshd.cluster.nodes[1]!.machine);
  });
});
