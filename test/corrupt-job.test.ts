import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { directoryLayout } from "@malocher/protocol";
import { Malocher, type JobResult } from "malocher";
import { triple } from "./fixtures/core/jobs.js";

test("a corrupt job file is rejected (its signature fails) and not run; every other job completes", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-corrupt-"));
  try {
    const malocher = new Malocher({ dir });
    const ids = [1, 2, 3, 4, 5].map((x) => malocher.submit(triple, x));
    const broken = ids[2] as string;
    writeFileSync(directoryLayout.specFile(dir, broken), "not a job spec");
    const results = new Map<string, JobResult>();
    for await (const [jobId, result] of malocher.processAll({ slots: 2 })) results.set(jobId, result);
    assert.equal(results.size, 5);
    const failed = results.get(broken);
    assert.ok(failed && !failed.ok);
    assert.equal(failed.error.code, "JOB_SPEC_REJECTED");
    assert.match(failed.error.message, /not signed with this directory's key/);
    assert.match(failed.error.message, /owner is root \(uid 0\)|owner is \S+ \(uid \d+\)/);
    assert.match(failed.error.message, /not run/);
    for (const [index, jobId] of ids.entries()) {
      if (jobId === broken) continue;
      const result = results.get(jobId);
      assert.ok(result?.ok, `job ${index} should succeed`);
      assert.equal(result.value, 3 * (index + 1));
      assert.equal(result.host, "local");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
