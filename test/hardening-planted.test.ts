/**
 * Issue 16, points 2-4: files planted in (or taken from) the shared directory must not hide a job,
 * hang a reader, bloat an agent or make a new key.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { Malocher, resultOf, type JobResult } from "malocher";
import { directoryLayout } from "@malocher/protocol";
import { DependencyStates } from "@malocher/store";
import { describeRun, runNode } from "./fixtures/jobs/support.js";
import { add, afterGate, failOnce } from "./fixtures/hardening/jobs.js";
import { collect } from "./support/results.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil, within } from "./support/wait.js";

const SUBMIT_WITH_KEY = fileURLToPath(new URL("./fixtures/faults/submit-with-key.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

function failedWith(result: JobResult | undefined, code: string): string {
  assert.ok(result !== undefined, "the job is reported");
  assert.ok(!result.ok, `expected ${code}, got ${JSON.stringify(result)}`);
  assert.equal(result.error.code, code, result.error.message);
  return result.error.message;
}

test("junk planted at a queued job's result path does not hide the job: it is set aside and the job runs", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-junk");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const planted = malocher.submit(add, 1, 2);
  const fine = malocher.submit(add, 2, 3);
  writeFileSync(directoryLayout.resultFile(dir, planted), "junk");
  const results = await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll");
  const fineResult = results.get(fine);
  assert.ok(fineResult?.ok && fineResult.value === 5, JSON.stringify(fineResult));
  const result = results.get(planted);
  assert.ok(result?.ok && result.value === 3, `the planted job ran: ${JSON.stringify(result)}`);
});

test("a failed result that retry set aside, put back into results/, does not pass for the rerun's (replay)", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("replay");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(failOnce, 42, join(dir, "..", `${basename(dir)}-ran`));
  t.after(() => removeDir(join(dir, "..", `${basename(dir)}-ran`)));
  failedWith((await collect(malocher.processAll({ slots: 1 }))).get(jobId), "JOB_THREW");
  assert.deepEqual(await malocher.retry(jobId), { [jobId]: "requeued" });
  const retried = join(dir, "retried", jobId.charAt(jobId.length - 1));
  const setAside = readdirSync(join(dir, "retried")).flatMap((shard) => readdirSync(join(dir, "retried", shard)).map((name) => join(dir, "retried", shard, name)));
  assert.equal(setAside.length, 1, `set aside: ${setAside.join(" ")} (${retried})`);
  copyFileSync(setAside[0]!, directoryLayout.resultFile(dir, jobId));
  const result = (await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll")).get(jobId);
  assert.ok(result?.ok && result.value === 42, `the rerun's result, not the old failure: ${JSON.stringify(result)}`);
});

test("a FIFO planted at a result path makes that result RESULT_UNREADABLE; reading results does not hang", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-fifo");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const fine = malocher.submit(add, 1, 1);
  const planted = malocher.submit(add, 2, 2);
  await collect(malocher.processAll({ slots: 1, jobs: [fine] }));
  execFileSync("mkfifo", [directoryLayout.resultFile(dir, planted)]);
  const results = await within(collect(malocher.results()), 10_000, "malocher.results()");
  assert.equal(results.get(fine)?.ok, true);
  assert.match(failedWith(results.get(planted), "RESULT_UNREADABLE"), /FIFO/);
  const state = await within(malocher.state(planted), 10_000, "malocher.state()");
  assert.ok(state !== undefined);
});

test("a planted 1.9 GB sparse spec is refused by its size, before it is read", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-sparse");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(add, 1, 2);
  truncateSync(directoryLayout.specFile(dir, jobId), 1900 * 1024 * 1024);
  const results = await collect(malocher.processAll({ slots: 1 }));
  assert.match(failedWith(results.get(jobId), "JOB_SPEC_REJECTED"), /holds 1992294400 bytes, more than the \d+ it may/);
});

test("a deleted key file is an error that says so, not a new key", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("no-key");
  t.after(() => removeDir(dir));
  const queued = new Malocher({ dir }).submit(add, 1, 2);
  unlinkSync(directoryLayout.secretKeyFile(dir));
  // The next submit, from a new process (this one holds the key in memory).
  const submit = await runNode(["--import", TSX, SUBMIT_WITH_KEY, dir, "some-key", "3"]);
  assert.notEqual(submit.code, 0, describeRun(submit));
  assert.match(submit.stderr, /key file .* is missing/);
  assert.equal(existsSync(directoryLayout.secretKeyFile(dir)), false, "no new key was made");
  assert.ok(queued);
});

test("a planted 3 GiB sparse result or log is refused by its size: the job runs, and no reader of results or logs dies of it", { timeout: 120_000 }, async (t) => {
  const dir = tempDir("planted-huge");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const planted = malocher.submit(add, 1, 2);
  const fine = malocher.submit(add, 2, 3);
  const huge = 3 * 1024 * 1024 * 1024; // past 2 GiB, Node's read() aborts the process
  writeFileSync(directoryLayout.resultFile(dir, planted), "");
  truncateSync(directoryLayout.resultFile(dir, planted), huge);
  const results = await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll");
  assert.ok(results.get(planted)?.ok && results.get(fine)?.ok, JSON.stringify([...results]));
  // Planted again after the run: what `results`, `status` and the dashboard read.
  unlinkSync(directoryLayout.resultFile(dir, fine));
  writeFileSync(directoryLayout.resultFile(dir, fine), "");
  truncateSync(directoryLayout.resultFile(dir, fine), huge);
  assert.match(failedWith((await within(collect(malocher.results()), 10_000, "results()")).get(fine), "RESULT_UNREADABLE"), /holds 3221225472 bytes, more than/);
  writeFileSync(directoryLayout.stdoutFile(dir, planted), "");
  truncateSync(directoryLayout.stdoutFile(dir, planted), huge);
  await assert.rejects(malocher.logs(planted), (error: Error & { code?: string }) => error.code === "SHARED_FILE_UNSAFE" && /holds 3221225472 bytes/.test(error.message));
});

test("clean goes on past a directory planted at a log's path", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-log-dir");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const ids = [malocher.submit(add, 1, 2), malocher.submit(add, 2, 3), malocher.submit(add, 3, 4)].sort();
  await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll");
  mkdirSync(directoryLayout.stdoutFile(dir, ids[0]!), { recursive: true });
  const cleaned = await malocher.clean();
  assert.deepEqual(cleaned.map((job) => job.jobId).sort(), ids);
});

test("a shard directory replaced by a symlink is refused, also with allowSharedWriters: nothing is written through it", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-shard-link");
  const elsewhere = tempDir("planted-shard-target");
  t.after(() => (removeDir(dir), removeDir(elsewhere)));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(add, 1, 2);
  const shard = dirname(directoryLayout.resultFile(dir, jobId));
  rmSync(shard, { recursive: true });
  symlinkSync(elsewhere, shard);
  await assert.rejects(
    collect(new Malocher({ dir, allowSharedWriters: true }).processAll({ slots: 1 })),
    (error: Error & { code?: string }) => error.code === "SHARED_DIR_INSECURE" && error.message.includes(`rm '${shard}'`),
  );
  assert.deepEqual(readdirSync(elsewhere), []);
});

test("in writer mode, a shard directory replaced by a symlink mid-run stops the agent before the job's result is written through it", { timeout: 120_000 }, async (t) => {
  const dir = tempDir("planted-shard-midrun");
  const elsewhere = tempDir("planted-shard-midrun-target");
  t.after(() => (removeDir(dir), removeDir(elsewhere)));
  const malocher = new Malocher({ dir, allowSharedWriters: true });
  const gate = join(dir, "..", `${basename(dir)}-gate`);
  t.after(() => rmSync(gate, { force: true }));
  const jobId = malocher.submit(afterGate, 7, gate);
  const run = collect(malocher.processAll({ slots: 1, maxNodeRestarts: 1 }));
  run.catch(() => {});
  await waitUntil(async () => (await malocher.state(jobId)) === "running", 30_000, "the job runs");
  const shard = dirname(directoryLayout.resultFile(dir, jobId));
  renameSync(shard, `${shard}.old`);
  symlinkSync(elsewhere, shard);
  // The agent stops at its next lease renewal and puts the job back; then the job could finish.
  await waitUntil(async () => (await malocher.state(jobId)) !== "running", 30_000, "the agent stops the job");
  writeFileSync(gate, "");
  await assert.rejects(within(run, 90_000, "processAll"), (error: Error) => /symlink/.test(error.message));
  assert.deepEqual(readdirSync(elsewhere), [], "nothing was written through the symlink");
});

/** A directory elsewhere with a file named like a job, as another directory of the user's has them. */
function elsewhereWithJobFile(t: { after(fn: () => void): void }, prefix: string): { elsewhere: string; file: string } {
  const elsewhere = tempDir(prefix);
  t.after(() => removeDir(elsewhere));
  const file = join(elsewhere, "0aaaaaaaa-000000000000");
  writeFileSync(file, "someone's result");
  return { elsewhere, file };
}

test("a dependents/ index planted as a symlink: clean deletes nothing through it, submit writes nothing through it", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-dependents");
  t.after(() => removeDir(dir));
  const { elsewhere, file } = elsewhereWithJobFile(t, "planted-dependents-target");
  const malocher = new Malocher({ dir, allowSharedWriters: true });
  const first = malocher.submit(add, 1, 2);
  await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll");
  const index = directoryLayout.dependentsOfDir(dir, first);
  mkdirSync(dirname(index), { recursive: true });
  symlinkSync(elsewhere, index);
  await malocher.clean();
  assert.ok(existsSync(file), "clean removed a file of another directory through the link");
  // Submitted again (clean removed it), with a job after it: its index entry goes into a directory of its own.
  const again = malocher.submit(add, 1, 2);
  const againIndex = directoryLayout.dependentsOfDir(dir, again);
  mkdirSync(dirname(againIndex), { recursive: true });
  symlinkSync(elsewhere, againIndex);
  const after = malocher.submit(add, resultOf(again), 10);
  assert.deepEqual(readdirSync(elsewhere), ["0aaaaaaaa-000000000000"], "nothing written through the link");
  assert.ok(lstatSync(againIndex).isDirectory(), "the link was replaced by a directory of ours");
  const results = await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll");
  const afterResult = results.get(after);
  assert.ok(afterResult?.ok && afterResult.value === 13, JSON.stringify(afterResult));
});

test("a waiting job's directory replaced by a symlink: nothing is removed through it, and the job still runs", { timeout: 90_000 }, async (t) => {
  const dir = tempDir("planted-waiting");
  t.after(() => removeDir(dir));
  const { file } = elsewhereWithJobFile(t, "planted-waiting-target");
  const malocher = new Malocher({ dir, allowSharedWriters: true });
  const gate = join(dir, "..", `${basename(dir)}-gate`);
  t.after(() => rmSync(gate, { force: true }));
  const first = malocher.submit(afterGate, 5, gate);
  const after = malocher.submit(add, resultOf(first), 1);
  const waiting = directoryLayout.waitingJobDir(dir, after);
  rmSync(waiting, { recursive: true });
  symlinkSync(dirname(file), waiting);
  // The link is named like the job's entry for its dependency: a settle would remove that file through it.
  renameSync(file, join(dirname(file), first));
  writeFileSync(gate, "");
  const results = await within(collect(malocher.processAll({ slots: 1, leaseTimeoutMs: 3000 })), 60_000, "processAll");
  const afterResult = results.get(after);
  assert.ok(afterResult?.ok && afterResult.value === 6, JSON.stringify(afterResult));
  assert.ok(existsSync(join(dirname(file), first)), "nothing removed through the link");
});

test("a FIFO at a dependency's result hangs no one: the dependent fails, submit and the worker do not block", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-dependency-fifo");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir, allowSharedWriters: true });
  const first = malocher.submit(add, 1, 2);
  await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll");
  const after = malocher.submit(add, resultOf(first), 10); // queued: its dependency succeeded
  const resultFile = directoryLayout.resultFile(dir, first);
  renameSync(resultFile, `${resultFile}.real`);
  execFileSync("mkfifo", [resultFile]);
  assert.equal(new DependencyStates(dir).readSync(first).state, "failed", "submit's synchronous read does not block on it");
  const result = (await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll")).get(after);
  assert.ok(result !== undefined && !result.ok && result.error.code === "DEPENDENCY_FAILED" && /FIFO/.test(result.error.message), JSON.stringify(result));
});

test("what another account plants in slurm/ hangs no status and shows nothing: a FIFO, a record from the far future", { timeout: 30_000 }, async (t) => {
  const dir = tempDir("planted-slurm");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir, allowSharedWriters: true });
  malocher.submit(add, 1, 2);
  mkdirSync(join(dir, "slurm"), { mode: 0o700 });
  execFileSync("mkfifo", [join(dir, "slurm", "slurm-abc-1.allocation")]);
  writeFileSync(join(dir, "slurm", "slurm-abd-1.allocation"), JSON.stringify({ id: "7", state: "pending", nodes: 1, seenAt: 9_999_999_999_999 }));
  writeFileSync(join(dir, "slurm", "slurm-abe-1.allocation"), JSON.stringify({ id: { class: "pwn" }, state: "pending", nodes: 1, seenAt: Date.now() }));
  const status = await within(malocher.status(), 10_000, "status()");
  assert.deepEqual(status.allocations, []);
  await within(malocher.clean(), 10_000, "clean()");
});

test("a retrying marker planted with a time far ahead does not keep its job waiting", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("planted-retrying");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir, allowSharedWriters: true });
  const jobId = malocher.submit(add, 2, 2);
  mkdirSync(directoryLayout.retryingDir(dir), { recursive: true });
  renameSync(directoryLayout.queuedFile(dir, jobId), directoryLayout.retryingFile(dir, jobId));
  writeFileSync(directoryLayout.retryingFile(dir, jobId), "1 8000000000000");
  const result = (await within(collect(malocher.processAll({ slots: 1 })), 30_000, "processAll")).get(jobId);
  assert.ok(result?.ok && result.value === 4, JSON.stringify(result));
});
