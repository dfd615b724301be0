import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { directoryLayout, encodeJobSpec, encodeValue, newJobId } from "@malocher/protocol";
import { Malocher, MalocherError, secret, type JobResult } from "malocher";
import { add, hashOfEnv } from "./fixtures/security/jobs.js";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { OTHER_USER, ensureOtherUser } from "./harness/other-user.js";

/** Every file below `dir`, recursively. */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? allFiles(path) : entry.isFile() ? [path] : [];
  });
}

describe("the shared directory as a trust boundary", () => {
  let nodes: SshNodes;
  let root: string;
  const ssh = () => ({
    sshMachines: nodes.nodes.map((node) => node.machine),
    sshPrivateKey: nodes.privateKey,
    knownHosts: nodes.knownHosts,
    slots: 2,
  });

  before(async () => {
    assert.ok(await ensureOtherUser(), `the ${OTHER_USER} account`);
    nodes = await startSshNodes(2);
    root = mkdtempSync(join(tmpdir(), "malocher-security-"));
  });
  after(async () => {
    await nodes?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("a new directory is private (0700) and its key file is readable by the user alone (0600)", () => {
    const dir = join(root, "fresh");
    new Malocher({ dir }).submit(add, 1, 2);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(directoryLayout.secretKeyFile(dir)).mode & 0o777, 0o600);
  });

  it("a secret env value reaches the job but no file of the directory, no log and no command line", { timeout: 60_000 }, async () => {
    const dir = join(root, "secret");
    const token = `tok-${newJobId()}-do-not-leak`;
    const malocher = new Malocher({ dir });
    const ids = [0, 1, 2].map(() => malocher.submit.with({ env: { API_TOKEN: secret(token) } })(hashOfEnv, "API_TOKEN"));
    const plain = malocher.submit(hashOfEnv, "API_TOKEN");
    let seenOnCommandLine = false;
    const results = new Map<string, JobResult>();
    for await (const [jobId, result] of malocher.processAll({
      ...ssh(),
      onEvent: (event) => {
        if (event.type !== "jobStarted") return;
        for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
          try {
            if (readFileSync(`/proc/${pid}/cmdline`).includes(token)) seenOnCommandLine = true;
          } catch {}
        }
      },
    })) {
      results.set(jobId, result);
    }
    const expected = createHash("sha256").update(token).digest("hex");
    for (const jobId of ids) assert.deepEqual(results.get(jobId)?.ok && results.get(jobId), { ...results.get(jobId), ok: true, value: expected });
    assert.equal(results.get(plain)?.ok && (results.get(plain) as { value: unknown }).value, null, "a job without the secret does not see it");
    assert.equal(seenOnCommandLine, false, "the secret appeared on a command line");
    for (const file of allFiles(dir)) {
      assert.equal(readFileSync(file).includes(token), false, `the secret is in clear text in ${file}`);
    }
    assert.equal(String(secret(token)), "[secret]");
    assert.equal(JSON.stringify({ token: secret(token) }), '{"token":"[secret]"}');
  });

  it("a spec changed by one byte is rejected and not run; the honest jobs complete", { timeout: 60_000 }, async () => {
    const dir = join(root, "tampered");
    const malocher = new Malocher({ dir });
    const ids = [1, 2, 3, 4].map((x) => malocher.submit(add, x, 10));
    const tampered = ids[1] as string;
    const specFile = directoryLayout.specFile(dir, tampered);
    const bytes = readFileSync(specFile);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x01;
    writeFileSync(specFile, bytes);
    const results = new Map<string, JobResult>();
    for await (const [jobId, result] of malocher.processAll(ssh())) results.set(jobId, result);
    const rejected = results.get(tampered);
    assert.ok(rejected && !rejected.ok);
    assert.equal(rejected.error.code, "JOB_SPEC_REJECTED");
    for (const [index, jobId] of ids.entries()) {
      if (jobId === tampered) continue;
      const result = results.get(jobId);
      assert.ok(result?.ok);
      assert.equal(result.value, index + 1 + 10);
      assert.match(result.keyId ?? "", /^[0-9a-f]{16}$/, "results record the signing key's id");
      assert.equal(result.user, "root");
    }
  });

  it("a result changed after it was published is refused, not decoded", { timeout: 60_000 }, async () => {
    const dir = join(root, "result-tampered");
    const malocher = new Malocher({ dir });
    const jobId = malocher.submit(add, 2, 2);
    for await (const _ of malocher.processAll()) void _;
    const resultFile = directoryLayout.resultFile(dir, jobId);
    const bytes = readFileSync(resultFile);
    bytes[4] = (bytes[4] as number) ^ 0x01;
    writeFileSync(resultFile, bytes);
    const listed: JobResult[] = [];
    for await (const [, result] of malocher.results()) listed.push(result);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.ok, false);
    assert.equal(listed[0]?.ok === false && listed[0].error.code, "RESULT_UNREADABLE");
    assert.match(listed[0]?.ok === false ? listed[0].error.message : "", /not signed with this directory's key/);
  });

  it("a job planted by another account with its own key is rejected and reported with its owner", { timeout: 60_000 }, async () => {
    const dir = join(root, "shared-writers");
    const malocher = new Malocher({ dir, allowSharedWriters: true });
    const honest = [1, 2, 3].map((x) => malocher.submit(add, x, 100));
    // A group setup: the other account may write the queue (and reach it).
    chmodSync(root, 0o755);
    for (const sub of ["", "specs", "queued", "tmp"]) chmodSync(join(dir, sub), 0o777);
    for (const shard of readdirSync(join(dir, "specs"))) {
      chmodSync(join(dir, "specs", shard), 0o777);
      chmodSync(join(dir, "queued", shard), 0o777);
    }
    const planted = newJobId();
    const forgedSpec = encodeJobSpec(
      {
        jobId: planted,
        fn: { module: "file:///tmp/evil.mjs", export: "pwn" },
        args: encodeValue([]),
        cwd: "/",
        env: {},
        secretEnv: {},
        submittedAt: Date.now(),
        options: {},
      },
      Buffer.alloc(32, 7), // not the directory's key
    );
    const staging = join(root, `planted-${planted}`);
    writeFileSync(staging, forgedSpec);
    chmodSync(staging, 0o644);
    execFileSync("runuser", ["-u", OTHER_USER, "--", "cp", staging, directoryLayout.specFile(dir, planted)]);
    execFileSync("runuser", ["-u", OTHER_USER, "--", "touch", directoryLayout.queuedFile(dir, planted)]);
    const warnings: string[] = [];
    const results = new Map<string, JobResult>();
    for await (const [jobId, result] of malocher.processAll({ ...ssh(), allowSharedWriters: true, onWarning: (w) => warnings.push(w) })) {
      results.set(jobId, result);
    }
    assert.ok(warnings.length > 0, "allowSharedWriters warns every run");
    const rejected = results.get(planted);
    assert.ok(rejected && !rejected.ok, "the planted job has a failed result");
    assert.equal(rejected.error.code, "JOB_SPEC_REJECTED");
    assert.match(rejected.error.message, new RegExp(`owner is ${OTHER_USER}`));
    for (const [index, jobId] of honest.entries()) {
      const result = results.get(jobId);
      assert.ok(result?.ok);
      assert.equal(result.value, index + 1 + 100);
    }
  });

  it("a group- or world-writable directory is refused with the chmod that fixes it", async () => {
    const dir = join(root, "open");
    new Malocher({ dir }).submit(add, 1, 1);
    for (const mode of [0o770, 0o777]) {
      chmodSync(dir, mode);
      const malocher = new Malocher({ dir });
      assert.throws(
        () => malocher.submit(add, 1, 1),
        (error: unknown) =>
          error instanceof MalocherError && error.code === "SHARED_DIR_INSECURE" && error.message.includes(`chmod go-w '${dir}'`),
      );
      await assert.rejects(
        async () => {
          for await (const _ of malocher.processAll()) void _;
        },
        (error: unknown) => error instanceof MalocherError && error.code === "SHARED_DIR_INSECURE",
      );
    }
    chmodSync(dir, 0o700);
  });
});
