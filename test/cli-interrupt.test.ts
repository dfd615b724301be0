import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { constants as osConstants } from "node:os";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Malocher } from "malocher";
import { slowly } from "./fixtures/core/jobs.js";
import { removeDir, tempDir } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";

const CLI = fileURLToPath(new URL("../packages/supervisor/dist/cli/main.js", import.meta.url));

function startRun(dir: string, ...options: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, "run", "--dir", dir, "--slots", "2", ...options], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Waits until at least `count` jobs of the directory run. */
function waitForRunning(malocher: Malocher, count: number): Promise<void> {
  return waitUntil(async () => (await malocher.status()).counts.running >= count, 30_000, `${count} jobs to start`);
}

test("malocher run: Ctrl-C once drains (running jobs finish, nothing new starts), and exits 130 as jobs stay queued", { timeout: 90_000 }, async () => {
  const dir = tempDir("drain");
  try {
    const malocher = new Malocher({ dir });
    for (let x = 0; x < 6; x++) malocher.submit(slowly, x, 2000);
    const run = startRun(dir);
    await waitForRunning(malocher, 2);
    run.child.kill("SIGINT");
    const code = await run.exited;
    assert.equal(code, 130, run.output());
    assert.match(run.output(), /draining/);
    assert.match(run.output(), /\nmalocher: drained: 4 jobs stay queued; `malocher run` runs them\n/, "the last lines say what is left");
    assert.doesNotMatch(run.output(), /went back to the queue/, "a drain that let its running jobs finish put none back");
    const { counts } = await malocher.status();
    assert.deepEqual({ succeeded: counts.succeeded, queued: counts.queued, running: counts.running }, { succeeded: 2, queued: 4, running: 0 });
  } finally {
    removeDir(dir);
  }
});

test("malocher run: a drain past --drain-timeout says that the running jobs went back to the queue, and why", { timeout: 90_000 }, async () => {
  const dir = tempDir("drain-deadline");
  try {
    const malocher = new Malocher({ dir });
    for (let x = 0; x < 4; x++) malocher.submit(slowly, x, 20_000);
    const run = startRun(dir, "--drain-timeout", "1s");
    await waitForRunning(malocher, 2);
    run.child.kill("SIGINT");
    const code = await run.exited;
    assert.equal(code, 130, run.output());
    assert.match(run.output(), /^local: 2 jobs it was running went back to the queue as its agent stopped: the drain's deadline \(drainTimeoutMs, 1000 ms\) passed$/m, run.output());
    assert.match(run.output(), /\nmalocher: drained: 4 jobs stay queued; `malocher run` runs them\n/, run.output());
    const { counts } = await malocher.status();
    assert.deepEqual({ succeeded: counts.succeeded, queued: counts.queued, running: counts.running }, { succeeded: 0, queued: 4, running: 0 });
    // The interrupted jobs' logs say so; the others never ran.
    const stderrs = await Promise.all((await malocher.jobs()).map(async (job) => (await malocher.logs(job.jobId)).stderr));
    const note = "--- malocher: attempt 1 on local was interrupted, as its agent stopped: the drain's deadline (drainTimeoutMs, 1000 ms) passed. It went back to the queue; its next run is attempt 1 again ---\n";
    assert.deepEqual(stderrs.sort(), ["", "", note, note], "two logs say why their run ended");
  } finally {
    removeDir(dir);
  }
});

test("malocher run: Ctrl-C twice stops now; running jobs go back to the queue", { timeout: 90_000 }, async () => {
  const dir = tempDir("stop");
  try {
    const malocher = new Malocher({ dir });
    for (let x = 0; x < 6; x++) malocher.submit(slowly, x, 20_000);
    const run = startRun(dir);
    await waitForRunning(malocher, 2);
    run.child.kill("SIGINT");
    await waitUntil(() => /draining/.test(run.output()), 30_000, "the first Ctrl-C to be taken");
    run.child.kill("SIGINT");
    const code = await run.exited;
    assert.equal(code, 2, run.output());
    assert.match(run.output(), /RUN_STOPPED/);
    assert.doesNotMatch(run.output(), /drained:/, "a stop is no drain");
    const { counts } = await malocher.status();
    assert.deepEqual({ succeeded: counts.succeeded, queued: counts.queued, running: counts.running }, { succeeded: 0, queued: 6, running: 0 });
  } finally {
    removeDir(dir);
  }
});

test("malocher run: SIGTERM, or SIGHUP (its terminal or SSH session closed), stops now as Ctrl-C twice does, and exits as the signal would (128 + its number)", { timeout: 90_000 }, async () => {
  for (const signal of ["SIGTERM", "SIGHUP"] as const) {
    const dir = tempDir("signal");
    try {
      const malocher = new Malocher({ dir });
      for (let x = 0; x < 4; x++) malocher.submit(slowly, x, 20_000);
      const run = startRun(dir);
      await waitForRunning(malocher, 2);
      run.child.kill(signal);
      const code = await run.exited;
      assert.equal(code, 128 + osConstants.signals[signal], run.output());
      assert.match(run.output(), new RegExp(`RUN_STOPPED\\] stopped by ${signal}; running jobs were put back in the queue`));
      const { counts } = await malocher.status();
      assert.deepEqual({ succeeded: counts.succeeded, queued: counts.queued, running: counts.running }, { succeeded: 0, queued: 4, running: 0 }, signal);
    } finally {
      removeDir(dir);
    }
  }
});
