// `malocher logs -f` following a job that runs on an sshd node, and `maxLogBytes`: a job printing
// far more than the cap leaves a log of its tail after a "[... N bytes cut ...]" note, which
// `logs` and `logs -f` show (also with the directory on every node's sshfs mount).
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, test, type TestContext } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { Malocher } from "malocher";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { printTag } from "./fixtures/jobs/jobs.js";
import { chatty, chattyDyingOnce, tickUntilGateOpens } from "./fixtures/jobs/cli-jobs.js";
import { cliMain, describeRun, runCli } from "./fixtures/jobs/support.js";
import { record, stopActiveRuns } from "./support/recording.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher, removeDir, tempDir } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

const TIMEOUT = { timeout: 60_000 };

const sshd = useSshNodes(2);
afterEach(stopActiveRuns);

/**
 * `malocher logs -f` in the background: its output so far, and its exit. It is killed when the
 * test ends, so that a test that fails before the job ends does not leave it following forever
 * (which kept the test file from ending).
 */
function follow(t: TestContext, dir: string, jobId: string): { stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [cliMain, "logs", "-f", jobId, "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => void child.kill("SIGKILL"));
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { stdout: () => stdout, stderr: () => stderr, exited };
}

for (const fail of [false, true]) {
  test(`logs -f prints a running job's output as it comes and exits ${fail ? 1 : 0} once the job ${fail ? "failed" : "succeeded"}`, TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "follow");
    const gate = join(malocher.dir, "gate");
    const jobId = malocher.submit(tickUntilGateOpens, gate, fail);
    const follower = follow(t, malocher.dir, jobId); // started while the job is still queued
    const run = record(malocher, harnessSshOptions(sshd.cluster));
    // Its stdout and stderr come through two pipes, in either order: wait for both.
    await waitUntil(() => /^tick 3$/m.test(follower.stdout()) && follower.stderr() !== "", 30_000, "the follower to show the 4th tick and the job's stderr");
    assert.equal(await malocher.state(jobId), "running", "the output arrived while the job ran");
    assert.equal(follower.stderr(), "waiting\n");
    writeFileSync(gate, "");
    const code = await within(follower.exited, 30_000, "logs -f to exit after the job ended");
    await within(run.done, 30_000, "the run");
    assert.equal(code, fail ? 1 : 0, `stdout:\n${follower.stdout()}\nstderr:\n${follower.stderr()}`);
    const lines = follower.stdout().trimEnd().split("\n");
    assert.equal(lines.at(-1), "done");
    const ticks = lines.slice(0, -1);
    assert.deepEqual(ticks, ticks.map((_, i) => `tick ${i}`), "every tick once, in order");
    assert.equal(follower.stdout(), (await malocher.logs(jobId)).stdout, "the follower printed exactly the log");
    if (fail) assert.match(follower.stderr(), new RegExp(`job ${jobId} failed on \\S+: \\[JOB_THREW\\] failing on purpose`));
  });
}

test("logs -f of a finished job prints its logs and exits; of an unknown job exits 2 with JOB_NOT_FOUND", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "follow");
  const jobId = malocher.submit(printTag, "t");
  await collect(malocher.processAll(harnessSshOptions(sshd.cluster)));
  const done = await runCli(["logs", "-f", jobId, "--dir", malocher.dir]);
  assert.equal(done.code, 0, describeRun(done));
  assert.deepEqual([done.stdout, done.stderr], ["out t\n", "err t\n"]);
  const json = await runCli(["logs", "-f", jobId, "--json", "--dir", malocher.dir]);
  const events = json.stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(events.slice(0, 2), [
    { jobId, stream: "stdout", text: "out t\n" },
    { jobId, stream: "stderr", text: "err t\n" },
  ]);
  assert.deepEqual([events[2]?.["type"], events[2]?.["jobId"], events[2]?.["ok"], events.length], ["result", jobId, true, 3], describeRun(json));
  // A job cancelled before it ran was cancelled, on no host (it said "failed on -").
  const cancelled = malocher.submit(printTag, "c");
  await malocher.cancel(cancelled);
  const toldCancelled = await runCli(["logs", "-f", cancelled, "--dir", malocher.dir]);
  assert.equal(toldCancelled.code, 1, describeRun(toldCancelled));
  assert.equal(toldCancelled.stderr, `malocher: job ${cancelled} was cancelled: [JOB_CANCELLED] The job was cancelled before it ran.\n`);
  const unknown = await runCli(["logs", "-f", `${jobId.slice(0, 10)}000000000000`, "--dir", malocher.dir]);
  assert.equal(unknown.code, 2, describeRun(unknown));
  assert.match(unknown.stderr, /\[JOB_NOT_FOUND\] There is no job/);
});

/**
 * A job prints 2 MiB, waits for a gate, prints 2 MiB more, with maxLogBytes 64 KiB: `logs -f`
 * shows the first 64 KiB while it runs, then the cut log; the log holds the note and the tail.
 */
async function followCutLog(t: TestContext, malocher: Malocher, nodes: SshNodes): Promise<void> {
  const cap = 64 * 1024;
  const gate = join(malocher.dir, "gate");
  const big = malocher.submit(chatty, 4 * 1024 * 1024, "big", gate); // 2 MiB, waits for the gate, 2 MiB
  const small = malocher.submit(printTag, "small");
  const follower = follow(t, malocher.dir, big);
  const run = record(malocher, { ...harnessSshOptions(nodes), maxLogBytes: cap });
  await waitUntil(() => follower.stdout().length === cap, 30_000, "the follower to show the first maxLogBytes");
  assert.equal(await malocher.state(big), "running");
  assert.equal(statSync(directoryLayout.stdoutFile(malocher.dir, big)).size, cap, "past the cap nothing more is written while the job runs");
  writeFileSync(gate, "");
  await within(run.done, 30_000, "the run");
  const result = run.results.get(big);
  assert.ok(result?.ok, "the chatty job succeeded");
  const written = result.value as number;

  const log = readFileSync(directoryLayout.stdoutFile(malocher.dir, big), "utf8");
  const note = /^\[\.\.\. (\d+) bytes cut: the job wrote more than maxLogBytes \(65536\); the last 65536 bytes follow \.\.\.\]\n/.exec(log);
  assert.ok(note, `the log starts with the cut note: ${log.slice(0, 120)}`);
  assert.equal(Number(note[1]), written - cap, "the note counts the bytes cut");
  const tail = log.slice(note[0].length);
  assert.equal(tail.length, cap, "the last maxLogBytes bytes are kept");
  assert.ok(tail.endsWith("last line big\n"), "the job's last words are kept");
  assert.ok(statSync(directoryLayout.stdoutFile(malocher.dir, big)).size < cap + 200);
  assert.equal((await malocher.logs(big)).stdout, log);
  assert.deepEqual(await malocher.logs(small), { stdout: "out small\n", stderr: "err small\n" });

  assert.equal(await within(follower.exited, 30_000, "logs -f of the chatty job"), 0, follower.stderr());
  assert.equal(follower.stdout().length, cap + log.length, "the follower printed the first maxLogBytes, then the cut log");
  assert.ok(follower.stdout().endsWith(log), "the follower ends with the cut note and the kept tail");
}

test("maxLogBytes keeps each attempt's tail after a cut note; logs and logs -f show it; small logs are untouched", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "maxlog");
  await followCutLog(t, malocher, sshd.cluster);
  const cli = await runCli(["run", "--max-log-bytes", "lots", "--dir", malocher.dir]);
  assert.equal(cli.code, 2, describeRun(cli));
  assert.match(cli.stderr, /\[INVALID_OPTIONS\] --max-log-bytes takes a size in bytes like 65536, 512k or 1M/);
});

test("sshfs: the agent cuts the log over sshfs and logs -f follows it from this host", TIMEOUT, async (t) => {
  const share = tempDir("logs-share");
  let nodes: SshNodes | undefined;
  t.after(async () => {
    await nodes?.close();
    removeDir(share);
  });
  nodes = await startSshNodes(2, { sshfsShare: share });
  await followCutLog(t, new Malocher({ dir: join(share, "jobs") }), nodes);
});

test("maxLogBytes applies to each attempt: a retried job's log keeps each attempt's note and tail", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "maxlog");
  const cap = 16 * 1024;
  const jobId = malocher.submit(chattyDyingOnce, 256 * 1024, join(malocher.dir, "first-attempt"));
  const results = await collect(malocher.processAll({ ...harnessSshOptions(sshd.cluster), maxLogBytes: cap }));
  const result = results.get(jobId);
  assert.ok(result?.ok && result.attempts === 2, `the job succeeded on its second attempt: ${JSON.stringify(result)}`);
  const log = (await malocher.logs(jobId)).stdout;
  const attempts = log.split(/(?=\[\.\.\. \d+ bytes cut)/);
  assert.equal(attempts.length, 2, `two cut attempts: ${log.slice(0, 200)}`);
  // The second attempt's output follows the line that says so (kept when that attempt's part was cut).
  const rerun = /--- malocher: a run of attempt 2 began on \S+ at \S+; the output above is from earlier runs ---\n$/.exec(attempts[0]!);
  assert.ok(rerun, `the second attempt's part follows its note: ${JSON.stringify(attempts[0]!.slice(-300))}`);
  attempts[0] = attempts[0]!.slice(0, rerun.index);
  for (const [i, tag] of ["first", "second"].entries()) {
    const attempt = attempts[i]!;
    const note = /^\[\.\.\. \d+ bytes cut[^\n]*\]\n/.exec(attempt);
    assert.ok(note, `attempt ${tag} starts with a cut note: ${JSON.stringify(attempt.slice(0, 300))}`);
    assert.equal(attempt.length - note[0].length, cap, `attempt ${tag} keeps maxLogBytes`);
    assert.ok(attempt.endsWith(`last line ${tag}\n`), `attempt ${tag} keeps its last line`);
  }
});
