// Chunk member ids and the spec chunk format (the specs of one chunk of a submitMany batch in one
// file): ids sort in submission order and map to their chunk; each member's record is exactly a
// spec file of its own, found through the header; a damaged header is JOB_SPEC_CORRUPT and a
// record moved to another member's place is JOB_SPEC_REJECTED.
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SpecChunkCache, readJobSpecBytes } from "@malocher/store";
import {
  MAX_CHUNK_MEMBERS,
  MalocherError,
  SPEC_CHUNK_PREFIX_BYTES,
  chunkMemberId,
  chunkMemberOf,
  decodeJobSpec,
  directoryLayout,
  encodeJobSpec,
  encodeSpecChunk,
  encodeValue,
  isChunkName,
  isJobId,
  newChunkName,
  newJobId,
  shardOf,
  specChunkHeadBytes,
  specChunkMemberCount,
  specChunkRecordRange,
  type FunctionJobSpec,
} from "@malocher/protocol";

const isCorrupt = (error: unknown) => error instanceof MalocherError && error.code === "JOB_SPEC_CORRUPT";
const isRejected = (error: unknown) => error instanceof MalocherError && error.code === "JOB_SPEC_REJECTED";

function specOf(jobId: string, x: number): FunctionJobSpec {
  return {
    jobId,
    fn: { module: "file:///x.mjs", export: "f" },
    args: encodeValue([x]),
    cwd: "/",
    env: {},
    secretEnv: {},
    submittedAt: 1_700_000_000_000,
    options: {},
  };
}

/** A chunk of `count` members with arguments [0] … [count-1]. */
function chunkOf(count: number, key: Uint8Array): { jobIds: string[]; records: Uint8Array[]; bytes: Uint8Array } {
  const name = newChunkName();
  const jobIds = Array.from({ length: count }, (_, index) => chunkMemberId(name, index));
  const records = jobIds.map((jobId, index) => encodeJobSpec(specOf(jobId, index), key));
  return { jobIds, records, bytes: encodeSpecChunk(records) };
}

function recordOf(bytes: Uint8Array, jobId: string): Uint8Array {
  const { start, end } = specChunkRecordRange(bytes, jobId);
  return bytes.subarray(start, end);
}

test("chunk member ids are job ids that sort in submission order, share their chunk's shard and name their chunk and index", () => {
  const before = newJobId(1_700_000_000_000);
  const name = newChunkName(1_700_000_000_000);
  const members = [0, 1, 2, 15, 16, 255, 256, MAX_CHUNK_MEMBERS - 1].map((index) => chunkMemberId(name, index));
  const after = newJobId(1_700_000_000_000);
  assert.ok(isChunkName(name) && !isJobId(name), name);
  assert.match(members[3]!, /^[0-9a-z]{9}-[0-9a-f]{8}-00f$/);
  for (const [i, jobId] of members.entries()) {
    assert.ok(isJobId(jobId), jobId);
    assert.equal(shardOf(jobId), shardOf(name));
    assert.deepEqual(chunkMemberOf(jobId), { chunkName: name, index: [0, 1, 2, 15, 16, 255, 256, MAX_CHUNK_MEMBERS - 1][i] });
    assert.equal(directoryLayout.specFile("/d", jobId), directoryLayout.specChunkFile("/d", name), "a member's spec file is its chunk's");
  }
  assert.deepEqual([before, ...members, after].sort(), [before, ...members, after], "the chunk takes one millisecond of the id clock");
  assert.equal(chunkMemberOf(before), undefined, "a job of its own is no chunk member");
  assert.equal(directoryLayout.specFile("/d", before), `/d/specs/${shardOf(before)}/${before}`);
  assert.throws(() => chunkMemberId(name, MAX_CHUNK_MEMBERS), RangeError);
  for (const bad of [`${name}-1000`, `${name}-0g0`, `${name}-00`, `${name}.removed`, `../${name}-000`]) assert.equal(isJobId(bad), false, bad);
});

test("each member's record in a chunk is exactly its spec file's bytes and decodes as its own spec", () => {
  const key = randomBytes(32);
  const { jobIds, records, bytes } = chunkOf(300, key);
  assert.equal(specChunkMemberCount(bytes.subarray(0, SPEC_CHUNK_PREFIX_BYTES), "chunk"), 300);
  for (const [index, jobId] of jobIds.entries()) {
    // A reader needs only the head for its index and then its record.
    const head = bytes.subarray(0, specChunkHeadBytes(index));
    const { start, end } = specChunkRecordRange(head, jobId);
    assert.deepEqual(bytes.subarray(start, end), records[index]);
    const spec = decodeJobSpec(bytes.subarray(start, end), jobId, key) as FunctionJobSpec;
    assert.deepEqual(spec, specOf(jobId, index));
  }
  const single = chunkOf(1, key);
  assert.deepEqual(decodeJobSpec(recordOf(single.bytes, single.jobIds[0]!), single.jobIds[0]!, key), specOf(single.jobIds[0]!, 0));
  assert.throws(() => encodeSpecChunk([]), RangeError);
});

test("a member the chunk does not have, or a header that is cut short or damaged, is JOB_SPEC_CORRUPT", () => {
  const key = randomBytes(32);
  const { jobIds, bytes } = chunkOf(3, key);
  const name = chunkMemberOf(jobIds[0]!)!.chunkName;
  assert.throws(() => specChunkRecordRange(bytes, chunkMemberId(name, 3)), (error: unknown) => isCorrupt(error) && /3 members, none with index 3/.test((error as Error).message));
  assert.throws(() => specChunkRecordRange(bytes, newJobId()), isCorrupt, "a job of its own has no record in a chunk");
  assert.throws(() => specChunkRecordRange(bytes.subarray(0, 7), jobIds[0]!), (error: unknown) => isCorrupt(error) && /cut short/.test((error as Error).message));
  assert.throws(() => specChunkRecordRange(bytes.subarray(0, specChunkHeadBytes(2) - 1), jobIds[2]!), isCorrupt, "the offsets table cut short");
  assert.throws(() => specChunkMemberCount(bytes.subarray(0, 11), name), isCorrupt);
  const damaged = (at: number, value: number) => {
    const copy = Buffer.from(bytes);
    copy.writeUInt32LE(value, at);
    return copy;
  };
  assert.throws(() => specChunkRecordRange(damaged(0, 0x12345678), jobIds[0]!), (error: unknown) => isCorrupt(error) && /does not start like a spec chunk/.test((error as Error).message));
  assert.throws(() => specChunkRecordRange(damaged(4, 2), jobIds[0]!), (error: unknown) => isCorrupt(error) && /chunk format 2/.test((error as Error).message));
  assert.throws(() => specChunkRecordRange(damaged(8, 0), jobIds[0]!), isCorrupt, "no members");
  assert.throws(() => specChunkRecordRange(damaged(8, MAX_CHUNK_MEMBERS + 1), jobIds[0]!), isCorrupt, "more members than a chunk holds");
  assert.throws(() => specChunkRecordRange(damaged(12, 3), jobIds[0]!), isCorrupt, "a record starting inside the header");
  assert.throws(() => specChunkRecordRange(damaged(16, Buffer.from(bytes).readUInt32LE(12)), jobIds[0]!), isCorrupt, "an empty record");
});

test("a record swapped from another member, tampered with or signed with another key is JOB_SPEC_REJECTED", () => {
  const key = randomBytes(32);
  const { jobIds, records } = chunkOf(3, key);
  const swapped = encodeSpecChunk([records[1]!, records[0]!, records[2]!]);
  assert.throws(() => decodeJobSpec(recordOf(swapped, jobIds[0]!), jobIds[0]!, key), isRejected);
  assert.throws(() => decodeJobSpec(recordOf(swapped, jobIds[1]!), jobIds[1]!, key), isRejected);
  assert.deepEqual(decodeJobSpec(recordOf(swapped, jobIds[2]!), jobIds[2]!, key), specOf(jobIds[2]!, 2), "the others still decode");
  const tampered = Buffer.from(encodeSpecChunk(records));
  const { start } = specChunkRecordRange(tampered, jobIds[1]!);
  tampered[start + 5] = tampered[start + 5]! ^ 1;
  assert.throws(() => decodeJobSpec(recordOf(tampered, jobIds[1]!), jobIds[1]!, key), isRejected);
  assert.throws(() => decodeJobSpec(recordOf(encodeSpecChunk(records), jobIds[0]!), jobIds[0]!, randomBytes(32)), isRejected);
});

test("an agent's chunk cache gives each member its own record, as reading the record alone does, and a chunk cut short is JOB_SPEC_CORRUPT", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "malocher-chunk-cache-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = randomBytes(32);
  const chunks = new SpecChunkCache();
  const files = Array.from({ length: 6 }, (_, i) => {
    const chunk = chunkOf(50, key);
    const file = join(dir, `chunk-${i}`);
    writeFileSync(file, chunk.bytes);
    return { ...chunk, file };
  });
  // Six chunks, members in turn: more chunks than the cache keeps, so some are read again.
  for (let index = 0; index < 50; index += 7) {
    for (const { jobIds, records, file } of files) {
      const jobId = jobIds[index]!;
      const cached = await readJobSpecBytes(file, jobId, chunks);
      assert.deepEqual(cached, Buffer.from(records[index]!));
      assert.deepEqual(cached, await readJobSpecBytes(file, jobId), "the same bytes as reading the record alone");
      assert.deepEqual(decodeJobSpec(cached, jobId, key), specOf(jobId, index));
    }
  }
  const short = files[0]!;
  const shortFile = join(dir, "short");
  writeFileSync(shortFile, short.bytes);
  truncateSync(shortFile, short.bytes.length - 1);
  const last = short.jobIds.at(-1)!;
  await assert.rejects(readJobSpecBytes(shortFile, last, new SpecChunkCache()), isCorrupt, "the last record cut short, through the cache");
  await assert.rejects(readJobSpecBytes(shortFile, last), isCorrupt, "and read alone");
  await assert.rejects(readJobSpecBytes(join(dir, "missing"), last, chunks), (error: NodeJS.ErrnoException) => error.code === "ENOENT");
});
