import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  MALOCHER_VERSION,
  PROTOCOL_VERSION,
  MalocherError,
  decodeAgentFrame,
  decodeAgentMessage,
  dependencyFailed,
  firstFailureOf,
  decodeJobSpec,
  decodeSupervisorMessage,
  encodeAgentFrames,
  encodeJobSpec,
  encodeMessage,
  encodeValue,
  isJobId,
  newJobId,
  serializeError,
  shardOf,
  signFile,
} from "@malocher/protocol";
import { randomBytes } from "node:crypto";
import { Packr } from "msgpackr";

test("MALOCHER_VERSION is every package's version (agents and supervisors compare it)", () => {
  for (const pkg of ["protocol", "agent", "supervisor"]) {
    const { version } = JSON.parse(readFileSync(new URL(`../packages/${pkg}/package.json`, import.meta.url), "utf8"));
    assert.equal(version, MALOCHER_VERSION, `packages/${pkg}/package.json`);
  }
});

test("job ids are unique, sort by submission time and name a hex shard", () => {
  const ids = Array.from({ length: 10000 }, (_, i) => newJobId(1_700_000_000_000 + i));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  for (const id of ids.slice(0, 100)) {
    assert.ok(isJobId(id), id);
    assert.match(shardOf(id), /^[0-9a-f]$/);
  }
  assert.equal(isJobId("../../etc/passwd"), false);
  const sameMillisecond = Array.from({ length: 1000 }, () => newJobId(Date.now()));
  assert.deepEqual([...sameMillisecond].sort(), sameMillisecond, "ids made in one millisecond keep their order");
});

test("messages round-trip and malformed frames are refused with PROTOCOL_ERROR", () => {
  const hello = {
    type: "hello",
    agentId: "a-1",
    host: "node1",
    hostname: "n1",
    pid: 42,
    slots: 4,
    version: MALOCHER_VERSION,
    protocolVersion: 1,
  } as const;
  assert.deepEqual(decodeAgentMessage(encodeMessage(hello)), hello);
  assert.deepEqual(decodeSupervisorMessage(encodeMessage({ type: "stop", reason: "done" })), { type: "stop", reason: "done" });
  const packr = new Packr({ useRecords: false });
  const malformed = [
    packr.pack({ type: "hello", agentId: 7 }),
    packr.pack({ type: "teleport" }),
    packr.pack([1, 2, 3]),
    Buffer.from([0xc1, 0xff, 0x00]),
  ];
  for (const frame of malformed) {
    assert.throws(() => decodeAgentMessage(frame), (error: unknown) => error instanceof MalocherError && error.code === "PROTOCOL_ERROR");
  }
  assert.throws(() => decodeSupervisorMessage(packr.pack({ type: "hello" })), /PROTOCOL|Malformed/);
  const finished = { type: "jobFinished", jobId: "0mwwchezg-41e62dbbbee2", ok: true, durationMs: 3, resultFile: Buffer.from([1, 2, 3]) } as const;
  assert.deepEqual(decodeAgentMessage(encodeMessage(finished)), finished);
  assert.throws(() => decodeAgentMessage(packr.pack({ ...finished, resultFile: "not bytes" })), /PROTOCOL|Malformed/);
  const nudge = { type: "nudge" as const, jobIds: ["0mwwchezg-41e62dbbbee2"] };
  assert.deepEqual(decodeSupervisorMessage(encodeMessage(nudge)), nudge);
  assert.deepEqual(decodeSupervisorMessage(encodeMessage({ type: "nudge" })), { type: "nudge" });
  assert.throws(() => decodeSupervisorMessage(packr.pack({ type: "nudge", jobIds: ["../../etc/passwd"] })), /PROTOCOL|Malformed/);
});

test("an agent's messages travel in as few frames as fit, each checked as a message of its own", () => {
  const jobId = "0mwwchezg-41e62dbbbee2";
  const started = { type: "jobStarted", jobId, attempt: 1 } as const;
  const finished = { type: "jobFinished", jobId, ok: true, durationMs: 3, resultFile: Buffer.from([1, 2, 3]) } as const;
  const [one, ...none] = encodeAgentFrames([finished]);
  assert.equal(none.length, 0);
  assert.deepEqual(decodeAgentMessage(one!), finished, "one message is a plain frame");
  const frames = encodeAgentFrames([started, finished, { type: "heartbeat", running: 1, load: 0.5 }]);
  assert.equal(frames.length, 1);
  assert.deepEqual(
    decodeAgentFrame(frames[0]!).map((message) => message.type),
    ["jobStarted", "jobFinished", "heartbeat"],
  );
  // Large results go in frames of their own size: no frame grows past the limit.
  const big = { ...finished, resultFile: Buffer.alloc(60 * 1024) };
  const many = encodeAgentFrames(Array.from({ length: 40 }, () => big));
  assert.ok(many.length > 1 && many.every((frame) => frame.length < 1 << 20), `${many.length} frames`);
  assert.equal(many.flatMap((frame) => decodeAgentFrame(frame)).length, 40);
  const packr = new Packr({ useRecords: false });
  const isProtocolError = (error: unknown) => error instanceof MalocherError && error.code === "PROTOCOL_ERROR";
  const hello = { type: "hello", agentId: "a-1", host: "h", hostname: "h", pid: 1, slots: 1, version: MALOCHER_VERSION, protocolVersion: PROTOCOL_VERSION };
  for (const batch of [
    { type: "batch", messages: [] },
    { type: "batch", messages: "x" },
    { type: "batch", messages: [{ type: "jobStarted", jobId, attempt: 1 }] },
    { type: "batch", messages: [encodeMessage(started), encodeMessage({ type: "batch", messages: [encodeMessage(started)] } as never)] },
    { type: "batch", messages: [encodeMessage(hello as never)] },
    { type: "batch", messages: [encodeMessage({ ...started, jobId: "../../x" })] },
  ]) {
    assert.throws(() => decodeAgentFrame(packr.pack(batch)), isProtocolError, JSON.stringify(batch).slice(0, 120));
  }
});

test("a tampered, foreign or unsigned job spec is rejected before it is decoded", () => {
  const jobId = newJobId();
  const spec = {
    jobId,
    fn: { module: "file:///x.mjs", export: "f" },
    args: encodeValue([1]),
    cwd: "/",
    env: {},
    secretEnv: {},
    submittedAt: Date.now(),
    options: { timeoutMs: 1000, retries: 2 },
    codeHash: "ab".repeat(32),
  };
  const key = randomBytes(32);
  const bytes = encodeJobSpec(spec, key);
  assert.deepEqual(decodeJobSpec(bytes, jobId, key), spec);
  const isRejected = (error: unknown) => error instanceof MalocherError && error.code === "JOB_SPEC_REJECTED";
  assert.throws(() => decodeJobSpec(bytes.subarray(0, bytes.length - 5), jobId, key), isRejected);
  assert.throws(() => decodeJobSpec(Buffer.from("garbage"), jobId, key), isRejected);
  assert.throws(() => decodeJobSpec(bytes, newJobId(), key), isRejected, "a spec copied to another job id");
  assert.throws(() => decodeJobSpec(bytes, jobId, randomBytes(32)), isRejected, "another directory's key");
  for (const at of [0, 10, bytes.length - 40, bytes.length - 1]) {
    const tampered = Buffer.from(bytes);
    tampered[at] = (tampered[at] as number) ^ 1;
    assert.throws(() => decodeJobSpec(tampered, jobId, key), isRejected, `one byte changed at ${at}`);
  }
  // Signed with the key but not a spec: corrupt, not rejected.
  const isCorrupt = (error: unknown) => error instanceof MalocherError && error.code === "JOB_SPEC_CORRUPT";
  assert.throws(() => decodeJobSpec(signFile("spec", jobId, Buffer.from("garbage"), key), jobId, key), isCorrupt);
});

test("the first failure down a chain of DEPENDENCY_FAILED is found in both wordings, this version's and the earlier one's", () => {
  const root = dependencyFailed("0root0000-000000000001", { code: "JOB_THREW", message: "boom" });
  const middle = dependencyFailed("0midl0000-000000000002", root.error);
  assert.match(middle.error.message, /^The job was not run: job 0midl0000-000000000002, which it depends on, was not run either: job 0root0000-000000000001, further up the chain, failed with JOB_THREW: boom\. Retrying/);
  assert.equal(firstFailureOf(middle.error.message)?.jobId, "0root0000-000000000001");
  assert.equal(firstFailureOf(dependencyFailed("0next0000-000000000003", middle.error).error.message)?.jobId, "0root0000-000000000001", "named once, whatever the depth");
  const earlier = "The job was not run: job 0midl0000-000000000002, which it depends on, was not run either, because job 0root0000-000000000001, which failed with JOB_THREW: boom.";
  assert.deepEqual(firstFailureOf(earlier), { jobId: "0root0000-000000000001", how: "failed with JOB_THREW: boom." });
  assert.equal(firstFailureOf("The job threw: boom"), undefined);
});

test("a thrown value that is no Error is named by its content: a plain object as JSON, not [object Object]", () => {
  assert.equal(serializeError({ reason: 42, where: ["a"] }).message, 'a non-Error value was thrown: {"reason":42,"where":["a"]}');
  assert.equal(serializeError("boom").message, 'a non-Error value was thrown: "boom"');
  assert.equal(serializeError(7).message, "a non-Error value was thrown: 7");
  assert.equal(serializeError(new Map([[1, 2]])).message, "a non-Error value was thrown: [object Map]");
  assert.ok(serializeError({ big: "x".repeat(5000) }).message.endsWith("…"), "cut");
  const cyclic: Record<string, unknown> = {};
  cyclic["self"] = cyclic;
  assert.equal(serializeError(cyclic).message, "a non-Error value was thrown: [object Object]");
});
