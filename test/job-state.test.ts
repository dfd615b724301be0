import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { newJobId } from "@malocher/protocol";
import { Malocher } from "malocher";
import { triple } from "./fixtures/core/jobs.js";

test("a job's state follows the directory: queued, succeeded, cancelled; unknown ids have none", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-state-"));
  try {
    const malocher = new Malocher({ dir });
    const jobId = malocher.submit(triple, 2);
    assert.equal(await malocher.state(jobId), "queued");
    for await (const _ of malocher.processAll()) void _;
    assert.equal(await malocher.state(jobId), "succeeded");
    assert.equal(await malocher.state(newJobId()), undefined);
    const cancelled = malocher.submit(triple, 3);
    await malocher.cancel(cancelled);
    assert.equal(await malocher.state(cancelled), "cancelled");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
