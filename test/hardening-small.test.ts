/**
 * Issue 16, point 12: status goes on past one bad result; every command that reads the directory
 * takes --allow-shared-dir-writers; E2BIG is reported as such; a huge id is not echoed back whole.
 */
import { strict as assert } from "node:assert";
import { chmodSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { Malocher, MalocherError } from "malocher";
import { directoryLayout } from "@malocher/protocol";
import { add } from "./fixtures/hardening/jobs.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
import { collect } from "./support/results.js";
import { removeDir, tempDir } from "./support/temp.js";

test("status reports a result it cannot read and goes on; every command that reads the directory takes --allow-shared-dir-writers", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("small-status");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const bad = malocher.submit(add, 1, 2);
  const good = malocher.submit(add, 3, 4);
  await collect(malocher.processAll({ slots: 1 }));
  writeFileSync(directoryLayout.resultFile(dir, bad), "junk");
  const status = await runCli(["status", "--dir", dir]);
  assert.equal(status.code, 0, describeRun(status));
  assert.match(status.stdout, new RegExp(`${bad}: RESULT_UNREADABLE`));
  assert.match(status.stdout, /succeeded 1/);
  chmodSync(dir, 0o770);
  const commands = [["jobs"], ["results"], ["logs", good], ["status"], ["retry", "--failed"], ["cancel", "--all"], ["clean", "--succeeded"]];
  for (const command of commands) {
    if (command[0] !== "logs" && command[0] !== "cancel") {
      // (`logs` only reads a job's output, and `cancel` only adds markers: both do so in any directory.)
      const refused = await runCli([...command, "--dir", dir]);
      assert.match(refused.stderr, /SHARED_DIR_INSECURE[^]*--allow-shared-dir-writers/, `${command.join(" ")} without the flag: ${describeRun(refused)}`);
    }
    const run = await runCli([...command, "--dir", dir, "--allow-shared-dir-writers"]);
    assert.equal(run.code, 0, `${command.join(" ")}: ${describeRun(run)}`);
  }
});

test("a command whose environment is too large fails saying so (E2BIG), not 'check that it is installed'", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("small-e2big");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submitCommand(["true"], { env: { BIG: "x".repeat(3 * 1024 * 1024) } });
  const result = (await collect(malocher.processAll({ slots: 1 }))).get(jobId);
  assert.ok(result !== undefined && !result.ok, JSON.stringify(result)?.slice(0, 300));
  assert.equal(result.error.code, "COMMAND_NOT_STARTED");
  assert.match(result.error.message, /E2BIG/);
  assert.doesNotMatch(result.error.message, /installed/);
});

test("an id of 10,000 characters is not echoed back whole", async (t) => {
  const dir = tempDir("small-id");
  t.after(() => removeDir(dir));
  const malocher = new Malocher({ dir });
  malocher.submit(add, 1, 1);
  const huge = "x".repeat(10_000);
  for (const call of [() => malocher.logs(huge), () => malocher.state(huge), () => malocher.cancel(huge), () => malocher.result(huge)]) {
    await assert.rejects(call, (error: unknown) => error instanceof MalocherError && error.code === "JOB_NOT_FOUND" && error.message.length < 300);
  }
});
