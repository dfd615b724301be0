import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { Malocher, type JobResult } from "malocher";
import { bigResult, triple } from "./fixtures/core/jobs.js";

async function collect(malocher: Malocher, options = {}): Promise<Map<string, JobResult>> {
  const results = new Map<string, JobResult>();
  for await (const [jobId, result] of malocher.processAll({ slots: 2, ...options })) results.set(jobId, result);
  return results;
}

test("a full disk while publishing fails that job with RESULT_WRITE_FAILED; the agent keeps serving", { timeout: 60_000 }, async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "malocher-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint], { stdio: "ignore" });
  } catch {
    rmSync(mountPoint, { recursive: true, force: true });
    t.skip("cannot mount a small tmpfs here (needs root)");
    return;
  }
  try {
    const malocher = new Malocher({ dir: join(mountPoint, "jobs") });
    const big = malocher.submit(bigResult, 6);
    const small = [1, 2, 3].map((x) => malocher.submit(triple, x));
    const results = await collect(malocher);
    assert.equal(results.size, 4);
    const failed = results.get(big);
    assert.ok(failed && !failed.ok);
    assert.equal(failed.error.code, "RESULT_WRITE_FAILED");
    assert.match(failed.error.message, /no space left|ENOSPC/i);
    for (const [index, jobId] of small.entries()) {
      const result = results.get(jobId);
      assert.ok(result?.ok, `small job ${index} should succeed after the failed one`);
      assert.equal(result.value, 3 * (index + 1));
    }
  } finally {
    execFileSync("umount", [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

test("an unreadable result file is that job's RESULT_UNREADABLE, not the end of the listing", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-unreadable-"));
  try {
    const malocher = new Malocher({ dir });
    const ids = [1, 2, 3].map((x) => malocher.submit(triple, x));
    await collect(malocher);
    const broken = ids[1] as string;
    writeFileSync(directoryLayout.resultFile(dir, broken), "garbage");
    const listed = new Map<string, JobResult>();
    for await (const [jobId, result] of malocher.results()) listed.set(jobId, result);
    assert.equal(listed.size, 3);
    const unreadable = listed.get(broken);
    assert.ok(unreadable && !unreadable.ok);
    assert.equal(unreadable.error.code, "RESULT_UNREADABLE");
    assert.equal(listed.get(ids[0] as string)?.ok, true);
    const again = await collect(malocher, { jobs: ids });
    assert.equal(again.get(broken)?.ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
