import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Malocher } from "malocher";
import { slowly } from "./fixtures/core/jobs.js";

const CLI = fileURLToPath(new URL("../packages/supervisor/dist/cli/main.js", import.meta.url));

function startRun(dir: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, "run", "--dir", dir, "--slots", "2"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForRunning(malocher: Malocher, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await malocher.status()).counts.running < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} jobs started within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("malocher run: Ctrl-C once drains (running jobs finish, nothing new starts)", { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-drain-"));
  try {
    const malocher = new Malocher({ dir });
    for (let x = 0; x < 6; x++) malocher.submit(slowly, x, 2000);
    const run = startRun(dir);
    await waitForRunning(malocher, 2);
    run.child.kill("SIGINT");
    const code = await run.exited;
    assert.equal(code, 0, run.output());
    assert.match(run.output(), /draining/);
    const { counts } = await malocher.status();
    assert.deepEqual({ succeeded: counts.succeeded, queued: counts.queued, running: counts.running }, { succeeded: 2, queued: 4, running: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("malocher run: Ctrl-C twice stops now; running jobs go back to the queue", { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-stop-"));
  try {
    const malocher = new Malocher({ dir });
    for (let x = 0; x < 6; x++) malocher.submit(slowly, x, 20_000);
    const run = startRun(dir);
    await waitForRunning(malocher, 2);
    run.child.kill("SIGINT");
    await waitFor(() => /draining/.test(run.output()), "the first Ctrl-C to be taken");
    run.child.kill("SIGINT");
    const code = await run.exited;
    assert.equal(code, 2, run.output());
    assert.match(run.output(), /RUN_STOPPED/);
    const { counts } = await malocher.status();
    assert.deepEqual({ succeeded: counts.succeeded, queued: counts.queued, running: counts.running }, { succeeded: 0, queued: 6, running: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
