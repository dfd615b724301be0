/**
 * Command jobs (issue 7, "shell-command jobs") through the library, on real sshd nodes:
 * `submitCommand(argv, options)` runs the program without a shell in the job's cwd with its env;
 * the result has `exitCode`, `signal` and the tails of stdout and stderr (the logs keep all of
 * it); a non-zero exit or a signal is `ok: false` with `COMMAND_FAILED`; a timeout, a cancel or
 * the death of its node's agent kills the command's whole process group; a process a command
 * leaves running in the background is killed when it exits.
 * Also the spec format: command specs round-trip, malformed ones are `JOB_SPEC_CORRUPT`.
 */
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";
import { MalocherError, secret, type CommandOutput, type JobResult, type Malocher } from "malocher";
import { COMMAND_OUTPUT_TAIL_BYTES, DIRECTORY_FORMAT, decodeJobSpec, encodeJobSpec, newJobId, signFile } from "@malocher/protocol";
import { Packr } from "msgpackr";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { commandLine, isAlive, procIds } from "./support/processes.js";
import { record, stopActiveRuns, type Recording } from "./support/recording.js";
import { collect } from "./support/results.js";
import { harnessSshOptions } from "./support/ssh.js";
import { freshMalocher } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

const TIMEOUT = { timeout: 40_000 };

let cluster: SshNodes;
before(async () => {
  cluster = await startSshNodes(2);
});
afterEach(stopActiveRuns);
after(async () => {
  await cluster?.close();
});

/** The result of `jobId`, failing the test when there is none. */
function resultOf(results: Map<string, JobResult>, jobId: string): JobResult {
  const result = results.get(jobId);
  assert.ok(result !== undefined, `job ${jobId} has a result`);
  return result;
}

function outputOf(result: JobResult): CommandOutput {
  assert.ok(result.ok, `the command succeeded: ${JSON.stringify(result)}`);
  return result.value as CommandOutput;
}

test("a command that exits 0: its value has the exit code and its output's tails, the logs all of it; cwd, env and secrets apply", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "command");
  const cwd = join(malocher.dir, "..", `work-${randomBytes(3).toString("hex")}`);
  mkdirSync(cwd);
  const greets = malocher.submitCommand(["sh", "-c", 'echo "out $0 in $(pwd) $GREETING $TOKEN"; echo "err $0" >&2', "one word"], {
    cwd,
    env: { GREETING: "hello", TOKEN: secret("s3cret") },
  });
  const chatty = malocher.submitCommand(["seq", "1", "3000"]);
  const noShell = malocher.submitCommand(["echo", "$HOME", "*", "a;b"]);
  const results = await collect(malocher.processAll(harnessSshOptions(cluster)));

  const greeting = resultOf(results, greets);
  assert.deepEqual(outputOf(greeting), {
    exitCode: 0,
    signal: null,
    stdout: `out one word in ${cwd} hello s3cret\n`,
    stderr: "err one word\n",
  });
  assert.ok(cluster.nodes.some((node) => node.machine === greeting.host), `ran on a harness node: ${greeting.host}`);
  assert.deepEqual(await malocher.logs(greets), { stdout: `out one word in ${cwd} hello s3cret\n`, stderr: "err one word\n" });

  const all = Array.from({ length: 3000 }, (_, i) => `${i + 1}\n`).join("");
  const tail = outputOf(resultOf(results, chatty)).stdout;
  assert.equal(tail.length, COMMAND_OUTPUT_TAIL_BYTES, "the result keeps the last 4 KiB");
  assert.equal(tail, all.slice(-COMMAND_OUTPUT_TAIL_BYTES));
  assert.equal((await malocher.logs(chatty)).stdout, all, "the log keeps everything");

  assert.equal(outputOf(resultOf(results, noShell)).stdout, "$HOME * a;b\n", "no shell expands the words");
});

test("a command that exits 3 fails with COMMAND_FAILED, its exit code and stderr's tail; signals, a missing program and a missing cwd fail too", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "command");
  const exits3 = malocher.submitCommand(["sh", "-c", "echo partial; echo 'cannot open data.csv' >&2; exit 3"]);
  const signalled = malocher.submitCommand(["sh", "-c", "kill -TERM $$"]);
  const missing = malocher.submitCommand(["no-such-program-malocher"]);
  const nowhere = malocher.submitCommand(["true"], { cwd: join(malocher.dir, "no-such-dir") });
  const results = await collect(malocher.processAll(harnessSshOptions(cluster)));

  const failed = resultOf(results, exits3);
  assert.ok(!failed.ok, JSON.stringify(failed));
  assert.equal(failed.error.code, "COMMAND_FAILED");
  assert.equal(failed.error.exitCode, 3);
  assert.equal(failed.error.signal, null);
  assert.equal(failed.error.stdout, "partial\n");
  assert.equal(failed.error.stderr, "cannot open data.csv\n");
  assert.match(failed.error.message, /exited with code 3.*\n?cannot open data\.csv/s);
  assert.equal(failed.attempts, 1, "a failing command is not retried by default");
  assert.deepEqual(await malocher.logs(exits3), { stdout: "partial\n", stderr: "cannot open data.csv\n" });

  const killed = resultOf(results, signalled);
  assert.ok(!killed.ok && killed.error.code === "COMMAND_FAILED", JSON.stringify(killed));
  assert.equal(killed.error.exitCode, null);
  assert.equal(killed.error.signal, "SIGTERM");
  assert.match(killed.error.message, /killed by SIGTERM/);

  const notStarted = resultOf(results, missing);
  assert.ok(!notStarted.ok && notStarted.error.code === "COMMAND_NOT_STARTED", JSON.stringify(notStarted));
  assert.match(notStarted.error.message, /no-such-program-malocher.*PATH/s);

  const noCwd = resultOf(results, nowhere);
  assert.ok(!noCwd.ok && noCwd.error.code === "JOB_CWD_UNAVAILABLE", JSON.stringify(noCwd));
});

/** A directory for pid files, and a reader of them. */
function pidFiles(malocher: Malocher): { dir: string; pid: (name: string) => number } {
  const dir = join(malocher.dir, "..", `pids-${randomBytes(3).toString("hex")}`);
  mkdirSync(dir);
  return { dir, pid: (name) => Number(readFileSync(join(dir, name), "utf8")) };
}

/**
 * Runs the queued jobs on one slot per node, plus a command that waits for a gate file: it keeps
 * the run (its agents and workers) going while the test looks at processes. `finish` opens the
 * gate and waits for the run to end well.
 */
function gatedRun(malocher: Malocher, dir: string): { run: Recording; finish: () => Promise<void> } {
  const gate = join(dir, "gate");
  const waits = malocher.submitCommand(["sh", "-c", `while [ ! -e ${gate} ]; do sleep 0.1; done`]);
  const run = record(malocher, { ...harnessSshOptions(cluster), slots: 1 });
  const finish = async () => {
    assert.ok(!run.finished, "the run went on meanwhile");
    writeFileSync(gate, "");
    await within(run.done, 20_000, "the run");
    assert.equal(run.error, undefined, String(run.error));
    assert.ok(resultOf(run.results, waits).ok);
  };
  return { run, finish };
}

test("timeoutMs and cancel kill the command's whole process group", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "command");
  const { dir, pid } = pidFiles(malocher);
  const hangs = malocher.submitCommand(["sh", "-c", `echo $$ > ${dir}/shell; sleep 300 & echo $! > ${dir}/child; wait`], { timeoutMs: 1500 });
  const cancelled = malocher.submitCommand(["sh", "-c", `sleep 300 & echo $! > ${dir}/cancelled; wait`]);
  const { run, finish } = gatedRun(malocher, dir);
  await waitUntil(() => existsSync(join(dir, "cancelled")), 20_000, "the command to cancel to start");
  assert.deepEqual(await malocher.cancel(cancelled), { [cancelled]: "requested" });
  await waitUntil(() => run.results.has(hangs) && run.results.has(cancelled), 20_000, "the results of the two commands");

  const timedOut = resultOf(run.results, hangs);
  assert.ok(!timedOut.ok && timedOut.error.code === "JOB_TIMED_OUT", JSON.stringify(timedOut));
  assert.equal(timedOut.attempts, 1);
  assert.ok(!isAlive(pid("shell")), "the command itself was killed");
  assert.ok(!isAlive(pid("child")), "what the command started was killed with it");
  const cancelledResult = resultOf(run.results, cancelled);
  assert.ok(!cancelledResult.ok && cancelledResult.error.code === "JOB_CANCELLED", JSON.stringify(cancelledResult));
  assert.ok(!isAlive(pid("cancelled")), "what the cancelled command started was killed");
  await finish();
});

test("a process a command leaves in the background is killed when the command exits, whether it holds its output or not", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "command");
  const { dir, pid } = pidFiles(malocher);
  // One at a time: a worker retired for one of them would take the other's leftover with it.
  const leaves = malocher.submitCommand(["sh", "-c", `sleep 300 & echo $! > ${dir}/left; echo started`]);
  const holding = gatedRun(malocher, dir);
  await waitUntil(() => holding.run.results.has(leaves), 20_000, "the result of the command");
  const started = resultOf(holding.run.results, leaves);
  assert.equal(outputOf(started).stdout, "started\n");
  assert.ok(started.durationMs < 10_000, `the job ended although its background process held its output: ${started.durationMs} ms`);
  await waitUntil(() => !isAlive(pid("left")), 10_000, "the background process holding the output to be killed");
  await holding.finish();

  rmSync(join(dir, "gate"));
  const leavesQuietly = malocher.submitCommand(["sh", "-c", `sleep 300 >/dev/null 2>&1 & echo $! > ${dir}/quiet`]);
  const quiet = gatedRun(malocher, dir);
  await waitUntil(() => quiet.run.results.has(leavesQuietly), 20_000, "the result of the quiet command");
  assert.ok(resultOf(quiet.run.results, leavesQuietly).ok);
  await waitUntil(() => !isAlive(pid("quiet")), 10_000, "the background process with its output elsewhere to be killed");
  await quiet.finish();
});

test("when a node's agent dies, its command is killed with its process group and runs again elsewhere", TIMEOUT, async (t) => {
  const malocher = freshMalocher(t, "command");
  const { dir, pid } = pidFiles(malocher);
  const script = `if [ -e ${dir}/ran ]; then echo again; else touch ${dir}/ran; echo $$ > ${dir}/shell; sleep 300 & echo $! > ${dir}/child; wait; fi`;
  const job = malocher.submitCommand(["sh", "-c", script]);
  const run = record(malocher, { ...harnessSshOptions(cluster), heartbeatTimeoutMs: 2000 });
  await waitUntil(() => existsSync(join(dir, "child")), 20_000, "the command to start");
  const worker = procIds(pid("shell")).ppid;
  const agent = procIds(worker).ppid;
  assert.match(commandLine(agent), /agent\/dist\/bundle\/main\.js/, "the command's worker is a child of the agent");
  process.kill(agent, "SIGKILL");
  await waitUntil(() => !isAlive(pid("shell")) && !isAlive(pid("child")), 10_000, "the lost agent's command and its child to be killed");
  await within(run.done, 30_000, "the run");
  assert.equal(run.error, undefined, String(run.error));
  const result = resultOf(run.results, job);
  assert.equal(outputOf(result).stdout, "again\n");
  assert.equal(result.attempts, 2);
});

test("submitCommand refuses an argv no node could run, with INVALID_COMMAND", (t) => {
  const malocher = freshMalocher(t, "command");
  const refusals: unknown[] = [[], [""], [42], ["echo", 7], ["echo", "a\0b"], "echo hi"];
  for (const argv of refusals) {
    assert.throws(
      () => malocher.submitCommand(argv as string[]),
      (error: unknown) => error instanceof MalocherError && error.code === "INVALID_COMMAND",
      JSON.stringify(argv),
    );
  }
});

test("command specs round-trip; a spec of an unknown kind or without a usable argv is JOB_SPEC_CORRUPT", () => {
  const key = randomBytes(32);
  const jobId = newJobId();
  const base = { jobId, cwd: "/", env: { A: "1" }, secretEnv: {}, submittedAt: Date.now(), options: { timeoutMs: 5 } };
  const spec = { kind: "command" as const, ...base, argv: ["python", "train.py", "--seed", "3"] };
  assert.deepEqual(decodeJobSpec(encodeJobSpec(spec, key), jobId, key), spec);
  const isCorrupt = (error: unknown) => error instanceof MalocherError && error.code === "JOB_SPEC_CORRUPT";
  const malformed: Record<string, unknown>[] = [
    { ...base, kind: "shell", argv: ["true"] },
    { ...base, kind: 7, argv: ["true"] },
    { ...base, kind: "command" },
    { ...base, kind: "command", argv: [] },
    { ...base, kind: "command", argv: [""] },
    { ...base, kind: "command", argv: ["echo", 1] },
    { ...base, kind: "command", argv: "echo hi" },
    { ...base, kind: "function", argv: ["true"] }, // a function job needs fn and args
  ];
  for (const record of malformed) {
    const bytes = signFile("spec", jobId, new Packr({ useRecords: false, mapsAsObjects: true }).pack({ format: DIRECTORY_FORMAT, ...record }), key);
    assert.throws(() => decodeJobSpec(bytes, jobId, key), isCorrupt, JSON.stringify(record));
  }
});
