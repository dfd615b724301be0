// First queue markers are hard links to one empty file of the process (in tmp/), which goes when
// the process exits; a marker file that went missing from tmp/ is made again.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { directoryLayout, newJobId } from "@malocher/protocol";
import { enqueueJob, prepareSharedDirectory } from "@malocher/store";
import { removeDir, tempDir } from "./support/temp.js";

test("a process's first queue markers share one inode, and the process leaves nothing in tmp/", async (t) => {
  const dir = tempDir("empty-marker");
  t.after(() => removeDir(dir));
  prepareSharedDirectory(dir, { create: true });
  const jobIds = [newJobId(), newJobId(), newJobId()];
  const script = `import { enqueueJob } from "@malocher/store"; for (const id of ${JSON.stringify(jobIds)}) enqueueJob(${JSON.stringify(dir)}, id);`;
  execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: import.meta.dirname });
  const markers = jobIds.map((jobId) => statSync(directoryLayout.queuedFile(dir, jobId)));
  assert.equal(new Set(markers.map((marker) => marker.ino)).size, 1, "one inode");
  assert.deepEqual(
    markers.map((marker) => [marker.size, marker.nlink]),
    jobIds.map(() => [0, jobIds.length]),
    "empty, with a link per job and none left in tmp/",
  );
  assert.deepEqual(readdirSync(directoryLayout.tmpDir(dir)), []);
});

test("a job is queued also when the empty marker went missing from tmp/, and a queued job is refused (EEXIST)", async (t) => {
  const dir = tempDir("empty-marker-gone");
  t.after(() => removeDir(dir));
  prepareSharedDirectory(dir, { create: true });
  const [first, second] = [newJobId(), newJobId()];
  enqueueJob(dir, first);
  for (const name of readdirSync(directoryLayout.tmpDir(dir))) rmSync(join(directoryLayout.tmpDir(dir), name));
  enqueueJob(dir, second);
  const [a, b] = [first, second].map((jobId) => statSync(directoryLayout.queuedFile(dir, jobId)));
  assert.notEqual(a!.ino, b!.ino, "a new empty marker");
  assert.equal(a!.nlink, 1);
  assert.equal(b!.nlink, 2, "the queued job and the new empty marker in tmp/");
  assert.throws(() => enqueueJob(dir, second), { code: "EEXIST" });
});
