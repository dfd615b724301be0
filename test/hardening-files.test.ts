/**
 * Issue 16, point 5: what another account that can write to the shared directory
 * (`--allow-shared-dir-writers`) could do with symlinks and loose modes. Malocher opens every file
 * it writes without following symlinks, creates its files 0600 and directories 0700 whatever the
 * umask, cuts logs through the open descriptor, and checks the whole tree.
 */
import { strict as assert } from "node:assert";
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Malocher } from "malocher";
import { MalocherError, directoryLayout } from "@malocher/protocol";
import { checkDirectorySecurity, prepareSharedDirectory, rewriteFileSync } from "@malocher/store";
import { say } from "./fixtures/hardening/jobs.js";
import { collect } from "./support/results.js";
import { removeDir, tempDir } from "./support/temp.js";

/** A file outside the Malocher directory that an attacker wants the victim to write or leak. */
function victimFile(root: string): string {
  const path = join(root, "victim");
  writeFileSync(path, "SECRET of the victim\n", { mode: 0o600 });
  return path;
}

test("a symlink planted at a job's log is neither written through nor copied when the log is cut", { timeout: 60_000 }, async (t) => {
  const root = tempDir("log-symlink");
  t.after(() => removeDir(root));
  const dir = join(root, "jobs");
  const victim = victimFile(root);
  const malocher = new Malocher({ dir });
  const short = malocher.submit(say, "short line");
  const long = malocher.submit(say, "x".repeat(100), 100); // 10 KB: cut to maxLogBytes
  for (const jobId of [short, long]) symlinkSync(victim, directoryLayout.stdoutFile(dir, jobId));
  const results = await collect(malocher.processAll({ slots: 1, maxLogBytes: 1024 }));
  assert.ok(results.get(short)?.ok && results.get(long)?.ok);
  assert.equal(readFileSync(victim, "utf8"), "SECRET of the victim\n", "the victim's file is unchanged");
  for (const jobId of [short, long]) {
    const log = directoryLayout.stdoutFile(dir, jobId);
    assert.ok(lstatSync(log).isFile(), "the log is a regular file of its own now");
    assert.doesNotMatch(readFileSync(log, "utf8"), /SECRET/, "the victim's file did not end up in the log");
  }
  assert.match(readFileSync(directoryLayout.stdoutFile(dir, short), "utf8"), /^short line\n$/);
  assert.match(readFileSync(directoryLayout.stdoutFile(dir, long), "utf8"), /bytes cut/);
});

test("the signal file is not written through a symlink", (t) => {
  const root = tempDir("signal-symlink");
  t.after(() => removeDir(root));
  const dir = join(root, "jobs");
  prepareSharedDirectory(dir, { create: true });
  const victim = victimFile(root);
  const signal = directoryLayout.signalFile(dir);
  readdirSync(dir); // exists
  removeDir(signal);
  symlinkSync(victim, signal);
  assert.throws(() => rewriteFileSync(signal, "1"), (error: unknown) => error instanceof MalocherError && error.code === "SHARED_FILE_UNSAFE");
  assert.equal(readFileSync(victim, "utf8"), "SECRET of the victim\n");
});

test("under umask 000 every file Malocher makes is 0600 and every directory 0700", { timeout: 60_000 }, async (t) => {
  const root = tempDir("umask");
  t.after(() => removeDir(root));
  const dir = join(root, "jobs");
  const before = process.umask(0);
  t.after(() => process.umask(before));
  const malocher = new Malocher({ dir });
  const jobId = malocher.submit(say, "hello");
  await malocher.submitMany(say, [["a"], ["b"]]);
  const results = await collect(malocher.processAll({ slots: 1 }));
  assert.ok(results.get(jobId)?.ok);
  const loose: string[] = [];
  const walk = (path: string): void => {
    const stats = lstatSync(path);
    const mode = stats.mode & 0o777;
    if (stats.isDirectory()) {
      if (mode !== 0o700) loose.push(`${path} ${mode.toString(8)}`);
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if ((mode & 0o077) !== 0) {
      loose.push(`${path} ${mode.toString(8)}`);
    }
  };
  walk(dir);
  assert.deepEqual(loose, [], "paths open to others");
});

test("the security check looks at the whole tree, not only the top", (t) => {
  const root = tempDir("tree");
  t.after(() => removeDir(root));
  const dir = join(root, "jobs");
  prepareSharedDirectory(dir, { create: true });
  assert.deepEqual(checkDirectorySecurity(dir), []);
  // What a umask of 000 used to leave, made readable at the top afterwards.
  chmodSync(join(dir, "specs", "0"), 0o777);
  chmodSync(dir, 0o755);
  assert.throws(
    () => checkDirectorySecurity(dir),
    (error: unknown) => error instanceof MalocherError && error.code === "SHARED_DIR_INSECURE" && error.message.includes(join(dir, "specs", "0")),
  );
  chmodSync(join(dir, "specs", "0"), 0o700);
  mkdirSync(join(root, "elsewhere"));
  symlinkSync(join(root, "elsewhere"), join(dir, "logs", "x"));
  assert.throws(() => checkDirectorySecurity(dir), /holds symlinks[^]*logs\/x/);
  // Writer mode allows other accounts' writes, not a symlink, through which files would be written elsewhere.
  assert.throws(() => checkDirectorySecurity(dir, { allowSharedWriters: true }), /holds symlinks[^]*logs\/x/);
  rmSync(join(dir, "logs", "x"));
  assert.deepEqual(checkDirectorySecurity(dir, { allowSharedWriters: true }), []);
});
