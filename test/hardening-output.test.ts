/**
 * Issue 16, point 1: a function job that writes ~1 GB to stdout must not wedge its node, and an
 * agent always exits when its supervisor is gone, whatever its workers do.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Malocher } from "malocher";
import { CUT_NOTE_PREFIX, directoryLayout } from "@malocher/protocol";
import type { AgentLease } from "@malocher/store";
import { chatty, pendingAfterWriting } from "./fixtures/hardening/jobs.js";
import { isAlive } from "./support/processes.js";
import { collect } from "./support/results.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";

const SUPERVISE = fileURLToPath(new URL("./fixtures/faults/supervise.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

test("a job's output does not pile up in its worker: writes wait for the agent to read them", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("pile");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(pendingAfterWriting, 64);
  const result = (await collect(malocher.processAll({ slots: 1 }))).get(jobId);
  assert.ok(result?.ok, JSON.stringify(result));
  assert.equal(result.value, 0, "bytes of stdout still waiting in the worker when the job returned");
});

test("a job that writes 1 GB to stdout as strings completes, its log cut to maxLogBytes with the note", { timeout: 180_000 }, async (t) => {
  const dir = tempDir("chatty");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(chatty, 1000);
  const result = (await collect(malocher.processAll({ slots: 1, maxLogBytes: 64 * 1024 }))).get(jobId);
  assert.ok(result?.ok, JSON.stringify(result));
  assert.equal(result.value, 1000);
  const log = readFileSync(directoryLayout.stdoutFile(dir, jobId), "utf8");
  assert.ok(log.startsWith(CUT_NOTE_PREFIX), `the log starts with the cut note: ${log.slice(0, 120)}`);
  assert.ok(log.length < 80 * 1024, `the log holds the last 64 KiB and the note, not ${log.length} bytes`);
  assert.ok(log.endsWith("l".repeat(1000)), "the last words (the 1000th MiB is all 'l') are kept");
});

test("when its supervisor is killed while a job writes 1 GB, the agent exits", { timeout: 120_000 }, async (t) => {
  const dir = tempDir("chatty-orphan");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(chatty, 1000);
  const supervisor = spawn(process.execPath, ["--import", TSX, SUPERVISE, JSON.stringify({ dir, slots: 1 })], { stdio: "ignore" });
  t.after(() => void (supervisor.exitCode === null && supervisor.kill("SIGKILL")));
  const logPath = directoryLayout.stdoutFile(dir, jobId);
  const leases = join(dir, "agents");
  await waitUntil(() => {
    try {
      return statSync(logPath).size >= 1024 * 1024 && readdirSync(leases).length > 0;
    } catch {
      return false;
    }
  }, 60_000, "the job's log to reach maxLogBytes");
  const lease = JSON.parse(readFileSync(join(leases, readdirSync(leases)[0]!), "utf8")) as AgentLease;
  t.after(() => {
    for (const pid of [lease.pid, ...lease.processGroups.map((group) => -group)]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  });
  // Today's bug needed the worker to have handed its whole output to Node by now (it did so within
  // 100 ms of starting): then the agent waited forever for an end-of-job marker that never came.
  await sleep(3000);
  supervisor.kill("SIGKILL");
  await waitUntil(() => !isAlive(lease.pid), 30_000, `the agent (pid ${lease.pid}) to exit`);
});
