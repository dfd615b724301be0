// `malocher retry` and `malocher clean` (and the library's retry, retryFailed, clean) on a
// directory run by 2 sshd nodes: failed jobs run again after a retry and their failed results are
// kept aside; an interrupted retry still ends in a rerun; clean removes finished jobs' files and
// nothing of queued or running jobs, and never a queue directory.
import { strict as assert } from "node:assert";
import { existsSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { retryFailed, type MalocherError } from "malocher";
import { SHARDED_DIRS, SHARDS, directoryLayout } from "@malocher/protocol";
import { printTag, square, train } from "./fixtures/jobs/jobs.js";
import { failUntilGateOpens, failUntilGateOpensThenWait, tickUntilGateOpens } from "./fixtures/jobs/cli-jobs.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { record, stopActiveRuns } from "./support/recording.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

const TIMEOUT = { timeout: 60_000 };

const sshd = useSshNodes(2);
afterEach(stopActiveRuns);

function cliRun(dir: string): ReturnType<typeof runCli> {
  const machines = sshd.cluster.nodes.map((node) => node.machine).join(",");
  return runCli(["run", "--hosts", machines, "--identity", sshd.cluster.privateKey, "--known-hosts", sshd.cluster.knownHosts, "--dir", dir], { timeoutMs: 30_000 });
}

/** The names in `retried/` of the job's shard that belong to `jobId`. */
function setAside(dir: string, jobId: string): string[] {
  return readdirSync(join(dir, "retried", jobId.charAt(10))).filter((name) => name.startsWith(`${jobId}.`));
}

test("retry --failed queues the failed jobs again, the next run runs them, and the failed results are kept aside", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "retry");
  const gate = join(malocher.dir, "gate");
  const flaky = [1, 2, 3].map((x) => malocher.submit(failUntilGateOpens, gate, x));
  const fine = [4, 5].map((x) => malocher.submit(square, x));

  const first = await cliRun(malocher.dir);
  assert.equal(first.code, 1, describeRun(first));
  assert.equal((await malocher.status()).counts.failed, 3);
  const failures = await runCli(["results", "--failed", "--dir", malocher.dir]);
  assert.deepEqual(
    failures.stdout.trim().split("\n").map((line) => line.replace(/ failUntilGateOpens\(.*? FAILED \S+ /, " FAILED <node> ")),
    flaky.map((jobId) => `${jobId} FAILED <node> [JOB_THREW] gate ${gate} is still closed`),
    "results --failed lists each failure with its code and message",
  );

  const retried = await runCli(["retry", "--failed", "--dir", malocher.dir]);
  assert.equal(retried.code, 0, describeRun(retried));
  assert.match(retried.stdout, /^requeued 3 jobs/m);
  const status = await malocher.status();
  assert.deepEqual([status.counts.queued, status.counts.failed, status.counts.succeeded], [3, 0, 2], "the failed jobs are queued again");
  for (const jobId of flaky) {
    assert.equal(await malocher.state(jobId), "queued");
    assert.equal(setAside(malocher.dir, jobId).length, 1, `the failed result of ${jobId} is kept in retried/`);
  }

  writeFileSync(gate, "");
  const second = await cliRun(malocher.dir);
  assert.equal(second.code, 0, describeRun(second));
  assert.match(second.stderr, /done 3\/3\b/, `only the retried jobs ran: ${describeRun(second)}`);
  const results = await collect(malocher.results());
  for (const [i, jobId] of flaky.entries()) {
    const result = results.get(jobId);
    assert.ok(result?.ok, `job ${jobId} succeeded on its rerun`);
    assert.equal(result.value, i + 1);
    assert.equal(result.attempts, 1, "the rerun is a fresh first attempt");
  }

  const again = await runCli(["retry", "--failed", "--dir", malocher.dir]);
  assert.match(again.stdout, /^requeued 0 jobs$/m, describeRun(again));
  const unknown = `${flaky[0]!.slice(0, 10)}000000000000`;
  // An id that is no job here: the others are handled, and the command fails saying which (a script must not take it for done).
  const named = await runCli(["retry", fine[0]!, unknown, "--json", "--dir", malocher.dir]);
  assert.equal(named.code, 2, describeRun(named));
  assert.equal(named.stderr, `malocher: [JOB_NOT_FOUND] No job ${unknown} in ${malocher.dir} (\`malocher jobs\` lists its jobs). The other jobs were handled as printed.\n`);
  assert.deepEqual(
    named.stdout.trim().split("\n").map((line) => JSON.parse(line) as unknown),
    [
      { jobId: fine[0], outcome: "notFailed" },
      { jobId: unknown, outcome: "unknown" },
    ],
  );
  // Only unknown ids: the error alone, no "requeued 0 jobs" before it.
  const onlyUnknown = await runCli(["retry", unknown, "--dir", malocher.dir]);
  assert.deepEqual([onlyUnknown.code, onlyUnknown.stdout], [2, ""], describeRun(onlyUnknown));
  assert.match(onlyUnknown.stderr, /^malocher: \[JOB_NOT_FOUND\] No job /);
  const cancelUnknown = await runCli(["cancel", unknown, "--dir", malocher.dir]);
  assert.equal(cancelUnknown.code, 2, describeRun(cancelUnknown));
  assert.equal(cancelUnknown.stdout, "");
  assert.match(cancelUnknown.stderr, new RegExp(`^malocher: \\[JOB_NOT_FOUND\\] No job ${unknown} in `));
  const nothing = await runCli(["retry", "--dir", malocher.dir]);
  assert.equal(nothing.code, 2, describeRun(nothing));
  assert.match(nothing.stderr, /\[INVALID_OPTIONS\] name the jobs to retry, or pass --failed/);
});

test("the library's retry and retryFailed; a retry interrupted after setting the result aside still ends in a rerun", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "retry");
  const bad = malocher.submit(train, 13);
  const good = malocher.submit(train, 12);
  await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
  assert.deepEqual(await malocher.retry([good, bad]), { [good]: "notFailed", [bad]: "requeued" });
  assert.equal(await malocher.state(bad), "queued");
  await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
  assert.equal(await malocher.state(bad), "failed", "train(13) fails every time");
  // A cancel request that came while the job was failing by itself does not cancel the rerun.
  writeFileSync(directoryLayout.cancelFile(malocher.dir, bad), "");
  assert.deepEqual(await retryFailed({ dir: malocher.dir }), [bad]);
  assert.equal(setAside(malocher.dir, bad).length, 2, "both failed results are kept");
  const third = await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
  const rerun = third.get(bad);
  assert.equal(rerun?.ok === false ? rerun.error.code : rerun, "JOB_THREW", "the rerun ran");

  // What a retry that died between its two steps leaves: the result set aside, no queue marker.
  renameSync(directoryLayout.resultFile(malocher.dir, bad), directoryLayout.retriedResultFile(malocher.dir, bad, Date.now()));
  assert.equal(await malocher.state(bad), undefined, "the job is nowhere");
  const recovered = await within(collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), leaseTimeoutMs: 1000 })), 30_000, "the rerun");
  assert.equal(recovered.get(bad)?.ok, false, "the job ran again");
  assert.equal(setAside(malocher.dir, bad).length, 3, "no failure record was lost");
});

test("a job retried while a run goes: the run waits for it and yields its new result (it used to end, killing it and leaving it queued)", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "retry-during-run");
  const [gate, release, last] = ["gate", "release", "last"].map((name) => join(malocher.dir, name)) as [string, string, string];
  const flaky = malocher.submit(failUntilGateOpensThenWait, gate, release, 7);
  const dependent = malocher.submit.with({ after: [flaky] })(square, 5); // fails DEPENDENCY_FAILED, then waits again after the retry
  const long = malocher.submit(tickUntilGateOpens, last, false);
  const yielded: Array<[string, boolean]> = [];
  const progress: Array<{ done: number; failed: number; total: number }> = [];
  let flakyStarts = 0;
  for await (const [jobId, result] of malocher.processAll({
    ...harnessSshOptions(sshd.cluster),
    onEvent: (event) => {
      if (event.type !== "jobStarted" || event.jobId !== flaky || ++flakyStarts !== 2) return;
      writeFileSync(last, ""); // the long job ends while the retried one runs
      const checkLastEnds = setInterval(() => {
        if (yielded.some(([id]) => id === long)) {
          clearInterval(checkLastEnds);
          writeFileSync(release, "");
        }
      }, 50);
    },
    onProgress: ({ done, failed, total }) => progress.push({ done, failed, total }),
  })) {
    yielded.push([jobId, result.ok]);
    if (jobId === flaky && !result.ok) {
      writeFileSync(gate, "");
      assert.deepEqual(await malocher.retry(flaky), { [flaky]: "requeued" });
    }
  }
  assert.deepEqual(yielded.filter(([jobId]) => jobId === flaky), [[flaky, false], [flaky, true]], "the retried job is yielded again, with its new result");
  // The dependent's DEPENDENCY_FAILED is yielded unless the retry superseded it first.
  assert.deepEqual(yielded.slice(-2), [[flaky, true], [dependent, true]], `the run waited for the dependent the retry queued again: ${JSON.stringify(yielded)}`);
  assert.deepEqual(new Map(yielded), new Map([[flaky, true], [dependent, true], [long, true]]), "each job's last result");
  assert.equal(flakyStarts, 2);
  const { counts } = await malocher.status();
  assert.deepEqual([counts.queued, counts.running, counts.succeeded, counts.failed], [0, 0, 3, 0], JSON.stringify(counts));
  assert.deepEqual(progress.at(-1), { done: 3, failed: 0, total: 3 }, "a retried job is one job of the run, its failure replaced");
});

test("a retried job's logs say where its earlier runs' output ends, also when the rerun writes nothing", TIMEOUT, async (t) => {
  // The earlier output read as the rerun's: a job that succeeded with a log saying "disk full".
  const malocher = freshMalocher(t, "retry-silent");
  const flag = join(malocher.dir, "flag");
  const job = malocher.submitCommand(["sh", "-c", 'if [ ! -e "$0" ]; then echo first-run-out; echo "first-run-err: disk full" >&2; exit 3; fi', flag]);
  await collect(malocher.processAll({ slots: 1 }));
  writeFileSync(flag, "");
  assert.deepEqual(await malocher.retry(job), { [job]: "requeued" });
  const rerun = await collect(malocher.processAll({ slots: 1 }));
  assert.equal(rerun.get(job)?.ok, true);
  const logs = await malocher.logs(job);
  const note = "--- malocher: the job was retried at \\S+; the output above is from earlier runs ---\\n";
  assert.match(logs.stdout, new RegExp(`^first-run-out\\n${note}$`));
  assert.match(logs.stderr, new RegExp(`^first-run-err: disk full\\n${note}$`));
});

test("a quick job retried while a run goes is yielded again with its new result, though it finished before the run heard it start", { timeout: 90_000 }, async (t) => {
  // Its start and its end reach the run together (the agent sends the start with a later frame
  // while it is busy), after its new result is there: that start used to be taken for the first
  // run's, heard late, and the new result was never yielded. Three rounds: it did so in about half.
  for (let round = 0; round < 3; round++) {
    const malocher = freshMalocher(t, `retry-quick-${round}`);
    const [gate, release, last] = ["gate", "release", "last"].map((name) => join(malocher.dir, name)) as [string, string, string];
    writeFileSync(release, ""); // once the gate is open, it returns at once
    const flaky = malocher.submit(failUntilGateOpensThenWait, gate, release, 7);
    const long = malocher.submit(tickUntilGateOpens, last, false);
    const yielded: Array<[string, boolean]> = [];
    for await (const [jobId, result] of malocher.processAll({ slots: 2 })) {
      yielded.push([jobId, result.ok]);
      if (jobId === flaky && !result.ok) {
        writeFileSync(gate, "");
        assert.deepEqual(await malocher.retry(flaky), { [flaky]: "requeued" });
        // The long job holds the run open until the retried one has its new result, and a little more.
        void waitUntil(async () => (await malocher.state(flaky)) === "succeeded", 30_000, "the retried job to succeed").then(() => setTimeout(() => writeFileSync(last, ""), 1000));
      }
    }
    assert.deepEqual(yielded, [[flaky, false], [flaky, true], [long, true]], `round ${round + 1}: the retried job is yielded again, with its new result`);
  }
});

test("clean removes finished jobs' files (by state and age), never a queued or running job's, never a queue directory", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "clean");
  const gate = join(malocher.dir, "gate");
  const printed = malocher.submit(printTag, "p");
  const failed = malocher.submit(train, 13);
  const keyed = malocher.submit.with({ key: "the-keyed-job" })(square, 3);
  await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
  await malocher.retry(failed);
  await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
  assert.equal(setAside(malocher.dir, failed).length, 1);

  const running = malocher.submit(tickUntilGateOpens, gate, false);
  const queued = malocher.submit(square, 4);
  const run = record(malocher, { ...harnessSshOptions(sshd.cluster), jobs: [running] });
  await waitUntil(async () => (await malocher.state(running)) === "running", 30_000, "the gated job to run");

  // Options of the wrong kind clean nothing (a string age once cleaned every finished job).
  for (const [options, named] of [[{ olderThanMs: "7d" }, /clean\(\{ olderThanMs \}\) needs milliseconds, .* got "7d" \(a string\)\. Nothing was cleaned\./], [{ only: "fail" }, /clean\(\{ only \}\) is "failed" or "succeeded", got "fail"/], [{ olderThanMs: 7n }, /got 7n \(a bigint\)/]] as const) {
    await assert.rejects(malocher.clean(options as never), (error: unknown) => (error as MalocherError).code === "INVALID_OPTIONS" && named.test((error as Error).message));
  }
  assert.equal(await malocher.state(printed), "succeeded", "nothing was cleaned");
  const tooYoung = await runCli(["clean", "--older-than", "1h", "--dir", malocher.dir]);
  assert.equal(tooYoung.code, 0, describeRun(tooYoung));
  assert.match(tooYoung.stdout, /removed nothing/);

  const files = (jobId: string) =>
    [
      directoryLayout.specFile(malocher.dir, jobId),
      directoryLayout.resultFile(malocher.dir, jobId),
      directoryLayout.stdoutFile(malocher.dir, jobId),
      directoryLayout.stderrFile(malocher.dir, jobId),
    ].filter(existsSync);
  assert.equal(files(printed).length, 4, "printTag has a spec, a result and two logs");
  const onlyFailed = await runCli(["clean", "--failed", "--dir", malocher.dir]);
  assert.equal(onlyFailed.code, 0, describeRun(onlyFailed));
  assert.match(onlyFailed.stdout, /^removed 1 finished job \(1 failed\), \d+(\.\d)? (bytes|KiB)$/m);
  assert.deepEqual(files(failed), []);
  assert.deepEqual(setAside(malocher.dir, failed), [], "its set-aside results went too");
  assert.equal(files(printed).length, 4, "succeeded jobs are kept");

  const rest = await runCli(["clean", "--older-than", "0s", "--json", "--dir", malocher.dir]);
  assert.equal(rest.code, 0, describeRun(rest));
  const removed = rest.stdout.trim().split("\n").map((line) => JSON.parse(line) as { jobId: string; state: string; bytes: number });
  assert.deepEqual(removed.map((job) => [job.jobId, job.state]), [[printed, "succeeded"], [keyed, "succeeded"]]);
  assert.ok(removed.every((job) => job.bytes > 0));
  assert.deepEqual(files(printed), []);
  assert.deepEqual(files(keyed), []);
  assert.notEqual(malocher.submit.with({ key: "the-keyed-job" })(square, 3), keyed, "the key file went with its job");

  assert.equal(await malocher.state(running), "running", "the running job was not touched");
  assert.ok(existsSync(directoryLayout.specFile(malocher.dir, running)));
  assert.equal(await malocher.state(queued), "queued", "the queued job was not touched");
  for (const top of SHARDED_DIRS) for (const shard of SHARDS) assert.ok(existsSync(join(malocher.dir, top, shard)), `${top}/${shard} is still there`);

  writeFileSync(gate, "");
  await within(run.done, 30_000, "the gated job's run");
  assert.equal(run.results.get(running)?.ok, true, "the running job finished normally");

  const bad = await runCli(["clean", "--older-than", "7 days", "--dir", malocher.dir]);
  assert.equal(bad.code, 2, describeRun(bad));
  assert.match(bad.stderr, /\[INVALID_OPTIONS\] --older-than takes a duration with a unit like 500ms, 10s, 5m, 1h or 2d/);
});
