// The batch form submitMany(fn, argLists): ids in order, every job its own spec, marker and
// result (also over SSH), a bad element refused by its path with nothing half-submitted, a lazy
// generator written in chunks, and the shared marker file of a chunk never changing a neighbour.
import { strict as assert } from "node:assert";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { describe, test } from "node:test";
import { claimJob, loadDirectoryKey, readJobSpecBytes, requeueClaim } from "@malocher/agent";
import { decodeJobSpec, directoryLayout, isJobId } from "@malocher/protocol";
import { echo, square } from "./fixtures/jobs/jobs.js";
import { malocherRejection } from "./support/errors.js";
import { collect } from "./support/results.js";
import { harnessSshOptions, useSshNodes } from "./support/ssh.js";
import { freshMalocher } from "./support/temp.js";

const TIMEOUT = { timeout: 60_000 };

const sshd = useSshNodes(2);

describe("submitMany", () => {
  test("returns one id per argument list in order; each job runs on the nodes with its own arguments and result", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch");
    const argLists = Array.from({ length: 1500 }, (_, i): [number] => [i]); // two chunks
    const ids = await malocher.submitMany(square, argLists);
    assert.equal(ids.length, argLists.length);
    assert.equal(new Set(ids).size, ids.length, "every job has its own id");
    assert.ok(ids.every(isJobId));
    const key = loadDirectoryKey(malocher.dir, { create: false });
    const spec = decodeJobSpec(await readJobSpecBytes(directoryLayout.specFile(malocher.dir, ids[1234]!), ids[1234]!), ids[1234]!, key);
    assert.deepEqual([spec.jobId, spec.kind === "command" ? "a command" : spec.fn.export], [ids[1234], "square"]);
    assert.deepEqual([...ids].sort(), ids, "ids made by one process sort in submission order");
    assert.equal((await malocher.status()).counts.queued, 1500);

    const results = await collect(
      malocher.processAll(harnessSshOptions(sshd.cluster)),
    );
    assert.equal(results.size, ids.length);
    const values = ids.map((id) => {
      const result = results.get(id);
      return result?.ok ? result.value : `no value: ${JSON.stringify(result)}`;
    });
    assert.deepEqual(values, argLists.map(([x]) => x * x), "the i-th id is the job of argLists[i]");
    assert.deepEqual(new Set([...results.values()].map((result) => result.host)), new Set(sshd.cluster.nodes.map((node) => node.machine)));
  });

  test("an argument that cannot be sent is refused by its path, and nothing of the batch is submitted", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch-bad");
    const argLists: unknown[][] = Array.from({ length: 100 }, (_, i) => [{ n: i }]);
    argLists[57] = [{ n: 57, callback: () => 57 }];
    const error = await malocherRejection(malocher.submitMany(echo, argLists as [unknown][]));
    assert.equal(error.code, "ARG_NOT_SERIALIZABLE");
    assert.match(error.message, /argLists\[57\]\[0\]\.callback/);
    assert.match(error.message, /Nothing of this batch was submitted/);
    assert.deepEqual(error.jobIds, []);
    assert.deepEqual(await malocher.unfinishedJobs(), [], "no job of the batch is in the directory");

    const notAList = await malocherRejection(malocher.submitMany(echo, [[1], 2 as unknown as [number]]));
    assert.equal(notAList.code, "ARG_NOT_SERIALIZABLE");
    assert.match(notAList.message, /argLists\[1\] is number, not an array of arguments/);
    const withKey = await malocherRejection(malocher.submitMany(echo, [[1]], { key: "k" } as never));
    assert.equal(withKey.code, "INVALID_OPTIONS");
    assert.deepEqual(await malocher.unfinishedJobs(), []);
  });

  test("a lazy generator of 10,000 argument lists is written in chunks; a bad element stops it after the chunks before", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch-lazy");
    let pulled = 0;
    function* sweep(count: number, badAt?: number): Generator<[unknown]> {
      for (let i = 0; i < count; i++) {
        pulled++;
        yield [i === badAt ? Symbol("bad") : { seed: i }];
      }
    }
    const ids = await malocher.submitMany(echo, sweep(10_000), { name: "sweep", tags: ["lazy"] });
    assert.equal(ids.length, 10_000);
    assert.equal(pulled, 10_000);
    const status = await malocher.status();
    assert.equal(status.counts.queued, 10_000);
    assert.equal(status.tags["lazy"]?.queued, 10_000);
    // The markers of a chunk share one inode (hard links), which claims and requeues never write into.
    const marker = statSync(directoryLayout.queuedFile(malocher.dir, ids[0]!));
    assert.equal(marker.size, 0);
    assert.equal(marker.ino, statSync(directoryLayout.queuedFile(malocher.dir, ids[999]!)).ino);

    const other = freshMalocher(t, "batch-lazy-bad");
    pulled = 0;
    const error = await malocherRejection(other.submitMany(echo, sweep(10_000, 2500)));
    assert.equal(error.code, "ARG_NOT_SERIALIZABLE");
    assert.match(error.message, /argLists\[2500\]\[0\]/);
    assert.match(error.message, /The first 2000 jobs of this batch were submitted/);
    assert.equal(pulled, 2501, "the generator is read no further than the bad element");
    assert.equal(error.jobIds.length, 2000);
    assert.deepEqual([...error.jobIds].sort(), await other.unfinishedJobs(), "exactly the jobs named in error.jobIds are in the directory");
    assert.equal((await other.status()).counts.queued, 2000, "and each of them is queued whole");
  });

  test("a retry of one job of a chunk rewrites only its own marker, not the linked markers of its neighbours", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch-retry");
    const [first, second] = await malocher.submitMany(square, [[1], [2]]);
    const agentId = "test-agent";
    mkdirSync(directoryLayout.agentRunningDir(malocher.dir, agentId), { recursive: true });
    assert.deepEqual(await claimJob(malocher.dir, agentId, first!), { jobId: first, attempt: 1 });
    assert.equal(await requeueClaim(malocher.dir, agentId, first!, 2), true);
    assert.equal(readFileSync(directoryLayout.queuedFile(malocher.dir, first!), "utf8"), "2");
    assert.equal(readFileSync(directoryLayout.queuedFile(malocher.dir, second!), "utf8"), "", "the neighbour is still attempt 1");
    assert.deepEqual(await claimJob(malocher.dir, agentId, second!), { jobId: second, attempt: 1 });
    assert.deepEqual(await claimJob(malocher.dir, agentId, first!), { jobId: first, attempt: 2 });
  });
});
