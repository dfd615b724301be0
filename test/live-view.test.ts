// The library's live view: result(jobId) for a job another process runs (and its timeout, abort
// and unknown ids), processAll's onProgress over sshd nodes, and jobs' names and tags in results,
// in `malocher results`/`status` (text and --json), and checked by the spec's decoder.
import { strict as assert } from "node:assert";
import { describe, test } from "node:test";
import { decodeJobSpec, encodeJobSpec, newJobId } from "@malocher/protocol";
import { processAll, result, submitMany, type ProgressReport } from "malocher";
import { slowDouble, square, train } from "./fixtures/jobs/jobs.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { malocherRejection } from "./support/errors.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";
import { within } from "./support/wait.js";

const TIMEOUT = { timeout: 60_000 };

const sshd = useSshNodes(2);

/** `malocher run` over the nodes, in a process of its own. */
function runElsewhere(dir: string, more: string[] = []) {
  const hosts = sshd.cluster.nodes.map((node) => node.machine).join(",");
  return runCli(["run", "--hosts", hosts, "--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", dir, "--quiet", ...more], { timeoutMs: 40_000 });
}

describe("result(jobId)", () => {
  test("resolves with the result of a job that another process runs", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "result");
    const id = malocher.submit.with({ name: "double 21" })(slowDouble, 21, 1000);
    const waiting = malocher.result(id, { timeoutMs: 40_000 });
    const run = runElsewhere(malocher.dir);
    const outcome = await waiting;
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(outcome.value, 42);
    assert.equal(outcome.jobId, id);
    assert.equal(outcome.name, "double 21");
    assert.ok(sshd.cluster.nodes.some((node) => node.machine === outcome.host));
    const finished = await run;
    assert.equal(finished.code, 0, describeRun(finished));
    assert.deepEqual(await malocher.result(id), outcome, "a finished job's result at once");
  });

  test("hears a cluster of this process at once, and gives up after timeoutMs or on abort", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "result-local");
    const queued = malocher.submit(square, 3);
    const timedOut = await malocherRejection(malocher.result(queued, { timeoutMs: 300 }));
    assert.equal(timedOut.code, "RESULT_WAIT_TIMED_OUT");
    assert.match(timedOut.message, /is queued/);
    const stop = new AbortController();
    const aborted = malocher.result(queued, { signal: stop.signal });
    stop.abort(new Error("no longer needed"));
    await assert.rejects(aborted, /no longer needed/);
    assert.equal((await malocherRejection(malocher.result(newJobId()))).code, "JOB_NOT_FOUND");
    assert.equal((await malocherRejection(malocher.result("not-an-id"))).code, "JOB_NOT_FOUND");

    const started = await malocher.startCluster(harnessSshOptions(sshd.cluster));
    try {
      await started.ready();
      const id = malocher.submit(square, 7);
      const outcome = await within(malocher.result(id), 20_000, "result() on a started cluster");
      assert.ok(outcome.ok && outcome.value === 49);
    } finally {
      await started.close(); // before the directory is removed
    }
  });
});

describe("processAll's onProgress", () => {
  test("reports counts and nodes at most about 4 times a second, ending with every job done", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "progress");
    await malocher.submitMany(slowDouble, Array.from({ length: 40 }, (_, i): [number, number] => [i, 100]));
    const seeds = [10, 11, 12, 13]; // train(13) throws
    for (const seed of seeds) malocher.submit(train, seed);
    const reports: Array<ProgressReport & { at: number }> = [];
    const results = await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), slots: 2, onProgress: (progress) => reports.push({ ...progress, at: Date.now() }) }));
    assert.equal(results.size, 44);
    const last = reports.at(-1)!;
    assert.deepEqual(
      { done: last.done, failed: last.failed, running: last.running, queued: last.queued, total: last.total, etaMs: last.etaMs },
      { done: 44, failed: 1, running: 0, queued: 0, total: 44, etaMs: undefined },
    );
    assert.ok(last.jobsPerSecond > 0);
    assert.deepEqual(last.nodes.map((node) => node.host).sort(), sshd.cluster.nodes.map((node) => node.machine).sort());
    assert.ok(last.nodes.every((node) => node.slots === 2 && node.slotsInUse === 0 && node.state === "ready"), JSON.stringify(last.nodes));
    assert.equal(last.nodes.reduce((sum, node) => sum + node.done, 0), 44);
    assert.ok(reports.some((report) => report.running > 0 && report.queued > 0 && report.etaMs !== undefined), "a report in the middle of the run");
    for (let i = 1; i < reports.length; i++) {
      assert.ok(reports[i]!.done >= reports[i - 1]!.done, "done never goes down");
      assert.ok(reports[i]!.done + reports[i]!.running + reports[i]!.queued === reports[i]!.total);
      // Every report but the final one keeps the interval (a few ms of timer slack).
      if (i < reports.length - 1) assert.ok(reports[i]!.at - reports[i - 1]!.at >= 240, `reports ${i - 1} and ${i} came ${reports[i]!.at - reports[i - 1]!.at} ms apart`);
    }
    const none: ProgressReport[] = [];
    await collect(malocher.processAll({ onProgress: (progress) => none.push(progress) }));
    assert.deepEqual(none.map((report) => [report.done, report.total]), [[0, 0]], "a run with nothing to do reports once");
  });
});

describe("names and tags", () => {
  test("are kept in the spec and the result, and shown by results and status, as text and --json", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "labels");
    const named = malocher.submit.with({ name: "square of 4", tags: ["sweep-1", "small"] })(square, 4);
    const batch = await malocher.submitMany(square, [[5], [6]], { tags: ["sweep-1"] });
    const plain = malocher.submit(square, 7);
    const pending = await malocher.status();
    assert.deepEqual(pending.tags, {
      "sweep-1": { waiting: 0, queued: 3, retrying: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 },
      small: { waiting: 0, queued: 1, retrying: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 },
    });
    const run = await runElsewhere(malocher.dir);
    assert.equal(run.code, 0, describeRun(run));

    const json = await runCli(["results", "--json", "--dir", malocher.dir]);
    const lines = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const byId = new Map(lines.map((line) => [line["jobId"], line]));
    assert.deepEqual([byId.get(named)?.["name"], byId.get(named)?.["tags"]], ["square of 4", ["sweep-1", "small"]]);
    assert.deepEqual(batch.map((id) => byId.get(id)?.["tags"]), [["sweep-1"], ["sweep-1"]]);
    assert.equal("name" in byId.get(plain)!, false);
    assert.equal("tags" in byId.get(plain)!, false);
    const text = await runCli(["results", "--dir", malocher.dir]);
    assert.match(text.stdout, new RegExp(`^${named} square\\(4\\) "square of 4" #sweep-1 #small ok `, "m"));
    assert.match(text.stdout, new RegExp(`^${plain} square\\(7\\) ok `, "m"));

    const status = await runCli(["status", "--json", "--dir", malocher.dir]);
    assert.deepEqual((JSON.parse(status.stdout) as { tags: unknown }).tags, {
      "sweep-1": { waiting: 0, queued: 0, retrying: 0, running: 0, succeeded: 3, failed: 0, cancelled: 0 },
      small: { waiting: 0, queued: 0, retrying: 0, running: 0, succeeded: 1, failed: 0, cancelled: 0 },
    });
    const statusText = await runCli(["status", "--dir", malocher.dir]);
    assert.match(statusText.stdout, /#sweep-1 +waiting 0 · queued 0 · retrying 0 · running 0 · succeeded 3/);

    const cancelled = malocher.submit.with({ name: "never ran", tags: ["x"] })(square, 1);
    await malocher.cancel(cancelled);
    const outcome = await malocher.result(cancelled);
    assert.deepEqual([outcome.ok, outcome.name, outcome.tags], [false, "never ran", ["x"]]);
  });

  test("bad names and tags are refused at submit, and a spec's decoder checks them", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "labels-bad");
    for (const options of [{ name: "" }, { name: 3 }, { tags: "a" }, { tags: ["ok", ""] }, { tags: [1] }]) {
      assert.throws(() => malocher.submit.with(options as never)(square, 1), (error: { code?: string }) => error.code === "INVALID_OPTIONS", JSON.stringify(options));
    }
    const key = new Uint8Array(32).fill(7);
    const jobId = newJobId();
    const spec = { jobId, fn: { module: "file:///x.js", export: "f" }, args: new Uint8Array(), cwd: "/", env: {}, secretEnv: {}, submittedAt: 1, options: {} };
    assert.deepEqual(decodeJobSpec(encodeJobSpec({ ...spec, name: "n", tags: ["a"] }, key), jobId, key).tags, ["a"]);
    assert.throws(() => decodeJobSpec(encodeJobSpec({ ...spec, tags: [1] as never }, key), jobId, key), (error: { code?: string }) => error.code === "JOB_SPEC_CORRUPT");
    assert.throws(() => decodeJobSpec(encodeJobSpec({ ...spec, name: 5 as never }, key), jobId, key), (error: { code?: string }) => error.code === "JOB_SPEC_CORRUPT");
  });
});

test("the package's own submitMany and result work on the default directory", TIMEOUT, async (t) => {
  const dir = tempDir("default-dir");
  t.after(() => removeDir(dir));
  process.env["MALOCHER_DIR"] = dir; // read on the default directory's first use, which is this one
  const ids = await submitMany(square, [[2], [3]]);
  await collect(processAll());
  const values = await Promise.all(ids.map(async (id) => {
    const outcome = await result(id);
    return outcome.ok ? outcome.value : outcome.error.message;
  }));
  assert.deepEqual(values, [4, 9]);
});
