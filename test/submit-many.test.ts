// The batch form submitMany(fn, argLists): ids in order, every job its own spec record, marker
// and result (also over SSH), a bad element refused by its path with nothing half-submitted, a
// lazy generator written in chunks, and the shared marker file of a chunk never changing a
// neighbour. A chunk's specs share one file: its jobs run, list, cancel, retry and clean one by
// one; the file goes once every job of it is cleaned; a damaged header or record fails only the
// jobs it holds; a batch that fails part way leaves the unqueued jobs of its chunk removed.
import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { claimJob, loadDirectoryKey, readJobSpecBytes, requeueClaim } from "@malocher/store";
import { chunkMemberId, chunkMemberOf, decodeJobSpec, directoryLayout, isJobId, shardOf, specChunkRecordRange } from "@malocher/protocol";
import type { JobResult } from "malocher";
import { failUntilGateOpens } from "./fixtures/jobs/cli-jobs.js";
import { echo, square } from "./fixtures/jobs/jobs.js";
import { describeRun, runCli } from "./fixtures/jobs/support.js";
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

  test("the jobs of a chunk run locally in order and list, cancel, retry and clean one by one; the chunk file goes with its last job", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch-life");
    const { dir } = malocher;
    const open = join(dir, "open-gate");
    const later = join(dir, "later-gate");
    writeFileSync(open, "");
    const gates = [open, open, later, open, open, join(dir, "never")];
    const ids = await malocher.submitMany(failUntilGateOpens, gates.map((gate, x): [string, number] => [gate, x]), { tags: ["life"] });
    const chunkName = chunkMemberOf(ids[0]!)!.chunkName;
    assert.ok(ids.every((jobId) => chunkMemberOf(jobId)?.chunkName === chunkName), "six jobs make one chunk");
    assert.deepEqual(readdirSync(directoryLayout.specsShardDir(dir, shardOf(chunkName))), [chunkName], "one spec file for the chunk");
    assert.equal(await malocher.state(ids[4]!), "queued");
    assert.deepEqual(await malocher.cancel(ids[4]!), { [ids[4]!]: "cancelled" });

    const ran = await collect(malocher.processAll({ slots: 2 }));
    assert.deepEqual([...ran.keys()].sort(), ids, "every job this process submitted is yielded");
    assert.equal((ran.get(ids[4]!) as { error?: { code?: string } }).error?.code, "JOB_CANCELLED", "the cancelled job did not run");
    const first = await collect(malocher.results());
    const outcome = (result: JobResult | undefined) => (result === undefined ? "none" : result.ok ? result.value : result.error.code);
    assert.deepEqual(ids.map((jobId) => outcome(first.get(jobId))), [0, 1, "JOB_THREW", 3, "JOB_CANCELLED", "JOB_THREW"]);
    const statusRun = await runCli(["status", "--json", "--dir", dir]);
    assert.equal(statusRun.code, 0, describeRun(statusRun));
    const status = JSON.parse(statusRun.stdout) as { total: number; counts: Record<string, number>; tags: Record<string, Record<string, number>> };
    assert.equal(status.total, 6);
    assert.deepEqual(status.counts, { waiting: 0, queued: 0, retrying: 0, running: 0, succeeded: 3, failed: 2, cancelled: 1 });
    assert.equal(status.tags["life"]?.failed, 2);
    const resultsRun = await runCli(["results", "--dir", dir]);
    assert.deepEqual(
      resultsRun.stdout.trim().split("\n").map((line) => line.replace(/ failUntilGateOpens\(.*?(?= #)/, "").split(" ").slice(0, 3).join(" ")),
      ids.map((jobId, x) => `${jobId} #life ${x === 4 ? "CANCELLED" : [2, 5].includes(x) ? "FAILED" : "ok"}`),
      `results lists every job of the chunk in submission order: ${describeRun(resultsRun)}`,
    );

    writeFileSync(later, "");
    const retried = await runCli(["retry", "--failed", "--dir", dir]);
    assert.match(retried.stdout, /^requeued 2 jobs/m, describeRun(retried));
    const second = await collect(malocher.processAll({ slots: 2 }));
    assert.deepEqual([...second.keys()].sort(), [ids[2], ids[5]]);
    assert.equal(outcome(second.get(ids[2]!)), 2, "the retried job ran again and succeeded");
    assert.equal(outcome(second.get(ids[5]!)), "JOB_THREW");

    const failedOnly = await malocher.clean({ only: "failed" });
    assert.deepEqual(failedOnly.map((job) => job.jobId), [ids[5]]);
    assert.ok(existsSync(directoryLayout.specChunkFile(dir, chunkName)), "the chunk file stays while other jobs of it are there");
    assert.ok(existsSync(directoryLayout.removedSpecFile(dir, ids[5]!)));
    assert.deepEqual(await malocher.unfinishedJobs(), [], "the cleaned job is not taken for one still to run");
    assert.equal((await malocher.status()).total, 5);
    assert.equal(await malocher.state(ids[5]!), undefined);
    await assert.rejects(malocher.result(ids[5]!, { timeoutMs: 5000 }), { code: "JOB_NOT_FOUND" }, "a cleaned job of a chunk is no job");
    await assert.rejects(malocher.result(chunkMemberId(chunkName, 999), { timeoutMs: 5000 }), { code: "JOB_NOT_FOUND" }, "an index past the chunk's jobs is no job");
    assert.deepEqual(await malocher.cancel(ids[5]!), { [ids[5]!]: "unknown" });
    const logsOfCleaned = await runCli(["logs", ids[5]!, "--dir", dir]);
    assert.notEqual(logsOfCleaned.code, 0, describeRun(logsOfCleaned));
    const key = loadDirectoryKey(dir, { create: false });
    for (const jobId of ids.slice(0, 5)) decodeJobSpec(await readJobSpecBytes(directoryLayout.specFile(dir, jobId), jobId), jobId, key);

    const chunkBytes = statSync(directoryLayout.specChunkFile(dir, chunkName)).size;
    const all = await malocher.clean();
    assert.deepEqual(all.map((job) => job.jobId), ids.slice(0, 5));
    assert.ok(all[4]!.bytes > chunkBytes, "the job cleaned last is credited with the chunk file's bytes");
    assert.deepEqual(readdirSync(directoryLayout.specsShardDir(dir, shardOf(chunkName))), [], "the chunk file and its removed markers are gone");
    assert.equal((await malocher.status()).total, 0);
  });

  test("a chunk holds up to 1000 jobs and takes no more once its specs pass 1 MiB", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch-bytes");
    const chunks = (ids: readonly string[]) => [...new Set(ids.map((jobId) => chunkMemberOf(jobId)!.chunkName))];
    const small = await malocher.submitMany(square, Array.from({ length: 2001 }, (_, i): [number] => [i]));
    assert.deepEqual(chunks(small).map((name) => small.filter((jobId) => jobId.startsWith(name)).length), [1000, 1000, 1]);
    const big = await malocher.submitMany(echo, Array.from({ length: 1000 }, (_, i): [string] => [`${i}`.padEnd(4000, ".")]));
    const sizes = chunks(big).map((name) => big.filter((jobId) => jobId.startsWith(name)).length);
    assert.ok(sizes.length >= 4 && sizes[0]! < 300, `chunks of ${sizes.join(", ")} jobs`);
    for (const name of chunks(big)) assert.ok(statSync(directoryLayout.specChunkFile(malocher.dir, name)).size < 1024 * 1024 + 8192);
    assert.deepEqual(await malocher.unfinishedJobs(), [...small, ...big]);
  });

  test("a damaged chunk header fails only its jobs and a chunk cut short only the job it cuts (JOB_SPEC_CORRUPT), a tampered record only its job (JOB_SPEC_REJECTED)", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch-corrupt");
    const { dir } = malocher;
    const broken = await malocher.submitMany(square, [[1], [2], [3]]);
    const tampered = await malocher.submitMany(square, [[4], [5], [6]]);
    const cut = await malocher.submitMany(square, [[8], [9]]);
    const single = malocher.submit(square, 7);
    truncateSync(directoryLayout.specFile(dir, cut[0]!), statSync(directoryLayout.specFile(dir, cut[0]!)).size - 10);
    const brokenFile = directoryLayout.specFile(dir, broken[0]!);
    overwrite(brokenFile, 0, Buffer.from("JUNK"));
    const tamperedFile = directoryLayout.specFile(dir, tampered[1]!);
    const { start } = specChunkRecordRange(readFileSync(tamperedFile), tampered[1]!);
    overwrite(tamperedFile, start + 3, Buffer.from([readFileSync(tamperedFile)[start + 3]! ^ 1]));
    assert.deepEqual((await malocher.unfinishedJobs()).sort(), [...broken, ...tampered, ...cut, single].sort(), "the jobs of the damaged chunk still list by their queue markers");

    const results = await collect(malocher.processAll({ slots: 2 }));
    const outcome = (jobId: string) => {
      const result = results.get(jobId);
      return result === undefined ? "none" : result.ok ? result.value : result.error.code;
    };
    assert.deepEqual(broken.map(outcome), ["JOB_SPEC_CORRUPT", "JOB_SPEC_CORRUPT", "JOB_SPEC_CORRUPT"]);
    const corrupt = results.get(broken[1]!);
    assert.match(corrupt?.ok === false ? corrupt.error.message : "", /spec chunk of job \S+ is corrupt \(it does not start like a spec chunk\)/);
    assert.deepEqual(tampered.map(outcome), [16, "JOB_SPEC_REJECTED", 36]);
    assert.deepEqual(cut.map(outcome), [64, "JOB_SPEC_CORRUPT"], "a chunk cut short fails the job whose record it cuts");
    assert.equal(outcome(single), 49);
  });

  test("a batch whose queue markers cannot be written stops after the last chunk queued; a chunk none of whose jobs was queued is removed", TIMEOUT, async (t) => {
    const malocher = freshMalocher(t, "batch-broken-fs");
    const { dir } = malocher;
    malocher.submit(square, 0); // prepares the directory
    const queued = directoryLayout.queuedDir(dir);
    function* sweep(): Generator<[number]> {
      for (let i = 0; i < 1500; i++) {
        // Element 1001 is read once the first chunk is written: from then on no marker can be made.
        if (i === 1001) {
          renameSync(queued, `${queued}.away`);
          writeFileSync(queued, "");
        }
        yield [i];
      }
    }
    const error = await malocherRejection(malocher.submitMany(square, sweep()));
    rmSync(queued);
    renameSync(`${queued}.away`, queued);
    assert.match(error.message, /ENOTDIR/);
    assert.match(error.message, /The first 1000 jobs of this batch were submitted/);
    assert.equal(error.jobIds.length, 1000);
    const specNames = () => readdirSync(directoryLayout.specsDir(dir), { recursive: true, encoding: "utf8" });
    const chunkFiles = () => specNames().filter((name) => /-[0-9a-f]{8}$/.test(name));
    assert.equal(chunkFiles().length, 1, "the chunk none of whose jobs could be queued is gone again");
    assert.deepEqual(specNames().filter((name) => name.endsWith(".removed")), []);
    const unfinished = await malocher.unfinishedJobs();
    assert.equal(unfinished.length, 1001, "the single job and the first chunk; none of the chunk that failed");
    assert.deepEqual(unfinished.filter((jobId) => chunkMemberOf(jobId) !== undefined), [...error.jobIds]);
    assert.equal((await malocher.status()).unqueued, 0, "no job is left with a spec but no marker");
    await malocher.clean();
    assert.deepEqual(chunkFiles(), [join(shardOf(error.jobIds[0]!), chunkMemberOf(error.jobIds[0]!)!.chunkName)], "clean keeps the chunk of queued jobs");
  });
});

/** Writes `bytes` into `file` at `position`, in place. */
function overwrite(file: string, position: number, bytes: Uint8Array): void {
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, position);
  } finally {
    closeSync(fd);
  }
}

