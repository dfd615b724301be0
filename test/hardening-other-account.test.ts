/**
 * Files another account plants in a writer-mode directory (`allowSharedWriters`) that Malocher
 * cannot move or read: it must neither stop nor hang, and no job may be hidden. The victim runs as
 * the test account `malocher-other` (root passes every permission check); root plays the other
 * account. Skipped where the tests do not run as root.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdirSync, renameSync, writeFileSync, chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { ensureOtherUser, OTHER_USER } from "./harness/other-user.js";
import { removeDir, tempDir } from "./support/temp.js";

const VICTIM = fileURLToPath(new URL("./fixtures/hardening/victim.ts", import.meta.url));
const run = promisify(execFile);
const other = process.getuid?.() === 0 ? await ensureOtherUser() : undefined;
const skip = other === undefined ? "needs root, to run the victim as another account" : false;

interface Outcome {
  jobId: string;
  ok: boolean;
  value?: number;
  code?: string;
  message?: string;
}

/** A directory of the victim's, with `jobs` jobs `add(i, i)` queued by it; their ids. */
async function victimDirectory(prefix: string, jobs: number): Promise<{ dir: string; ids: string[] }> {
  const dir = tempDir(prefix);
  chownSync(dir, other!.uid, other!.gid);
  const ids = (await asVictim("submit", dir, String(jobs))).stdout.trim().split("\n");
  assert.equal(ids.length, jobs);
  return { dir, ids };
}

function asVictim(command: string, dir: string, arg: string): Promise<{ stdout: string; stderr: string }> {
  return run("runuser", ["-u", OTHER_USER, "--", process.execPath, "--import", "tsx", VICTIM, command, dir, arg], { timeout: 90_000, env: { ...process.env, HOME: dir } });
}

/** Runs every queued job as the victim; the outcome of each. */
async function processAsVictim(dir: string, leaseTimeoutMs = 15_000): Promise<{ outcomes: Map<string, Outcome>; stderr: string }> {
  const { stdout, stderr } = await asVictim("process", dir, String(leaseTimeoutMs));
  const outcomes = new Map<string, Outcome>();
  for (const line of stdout.trim().split("\n").filter(Boolean)) {
    const outcome = JSON.parse(line) as Outcome;
    outcomes.set(outcome.jobId, outcome);
  }
  return { outcomes, stderr };
}

test("a directory another account planted in the queue is passed over: the run goes on and every job completes", { skip, timeout: 120_000 }, async (t) => {
  const { dir, ids } = await victimDirectory("planted-queue-dir", 2);
  t.after(() => removeDir(dir));
  const planted = "0aaaaaaaa-000000000000";
  mkdirSync(directoryLayout.queuedFile(dir, planted), { mode: 0o755 }); // root's: the victim cannot move it
  const { outcomes, stderr } = await processAsVictim(dir);
  for (const [i, jobId] of ids.entries()) assert.deepEqual(outcomes.get(jobId), { jobId, ok: true, value: 2 * i }, stderr);
  assert.ok(existsSync(directoryLayout.queuedFile(dir, planted)), "passed over, left where it was");
});

test("a result another account planted that the victim cannot read does not hide the job: it is set aside and the job runs", { skip, timeout: 120_000 }, async (t) => {
  const { dir, ids } = await victimDirectory("planted-unreadable", 2);
  t.after(() => removeDir(dir));
  const resultFile = directoryLayout.resultFile(dir, ids[1]!);
  writeFileSync(resultFile, "junk");
  chmodSync(resultFile, 0o000);
  const { outcomes, stderr } = await processAsVictim(dir);
  assert.deepEqual(outcomes.get(ids[0]!), { jobId: ids[0], ok: true, value: 0 }, stderr);
  assert.deepEqual(outcomes.get(ids[1]!), { jobId: ids[1], ok: true, value: 2 }, stderr);
});

test("a claim another account planted where Malocher cannot take it back fails its job with what to remove, instead of a run that never ends", { skip, timeout: 120_000 }, async (t) => {
  const { dir, ids } = await victimDirectory("planted-claim", 2);
  t.after(() => removeDir(dir));
  const claimDir = directoryLayout.agentRunningDir(dir, "evil-agent");
  mkdirSync(claimDir, { mode: 0o755 }); // root's
  renameSync(directoryLayout.queuedFile(dir, ids[1]!), directoryLayout.runningFile(dir, "evil-agent", ids[1]!));
  const { outcomes, stderr } = await processAsVictim(dir, 5000);
  assert.deepEqual(outcomes.get(ids[0]!), { jobId: ids[0], ok: true, value: 0 }, stderr);
  const stuck = outcomes.get(ids[1]!);
  assert.equal(stuck?.code, "SHARED_FILE_UNSAFE", JSON.stringify(stuck));
  assert.ok(stuck.message?.includes(claimDir) && stuck.message.includes(`malocher retry ${ids[1]}`), stuck.message);
});
