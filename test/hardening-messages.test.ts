/**
 * Issue 16, point 9: ids in messages name files in the shared directory, so every message
 * decoder refuses an id that is not one (defense in depth: sending takes the tunnel token).
 */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { Packr } from "msgpackr";
import { MalocherError, decodeAgentMessage, decodeSupervisorMessage, encodeMessage } from "@malocher/protocol";

const packr = new Packr({ structuredClone: true });
const TRAVERSAL = "0123456789/../../../../../tmp/pwned";
const refused = (error: unknown) => error instanceof MalocherError && error.code === "PROTOCOL_ERROR" && /not a job id|not an agent id/.test(error.message);

test("an agent message with a job id that is a path is refused", () => {
  for (const message of [
    { type: "misfit", jobId: TRAVERSAL, reason: "x" },
    { type: "jobStarted", jobId: TRAVERSAL, attempt: 1 },
    { type: "jobFinished", jobId: "../x", ok: true, durationMs: 1 },
    { type: "jobRetrying", jobId: "", attempt: 2, notBefore: 0, error: { code: "JOB_THREW", message: "x" } },
    { type: "jobsRequeued", jobIds: [TRAVERSAL], reason: "x" },
  ]) {
    assert.throws(() => decodeAgentMessage(encodeMessage(message as never)), refused, JSON.stringify(message));
  }
  const hello = { type: "hello", agentId: "../../etc", host: "h", hostname: "h", pid: 1, slots: 1, version: "0", protocolVersion: 1 };
  assert.throws(() => decodeAgentMessage(encodeMessage(hello as never)), refused);
});

test("a jobRetrying message carries why the attempt failed: its first line, cut; one without it is refused", () => {
  const jobId = "0mxdd6j85-17365e31fede";
  const long = `${"x".repeat(600)}\nsecond line`;
  const decoded = decodeAgentMessage(encodeMessage({ type: "jobRetrying", jobId, attempt: 2, notBefore: 1, error: { code: "JOB_THREW", message: long } }));
  assert.ok(decoded.type === "jobRetrying");
  assert.equal(decoded.error.code, "JOB_THREW");
  assert.equal(decoded.error.message, `${"x".repeat(499)}…`, "the first line, at most 500 characters");
  assert.throws(() => decodeAgentMessage(encodeMessage({ type: "jobRetrying", jobId, attempt: 2, notBefore: 1 } as never)), (error: unknown) => error instanceof MalocherError && error.code === "PROTOCOL_ERROR");
});

test("a supervisor message with a job id that is a path is refused", () => {
  assert.throws(() => decodeSupervisorMessage(packr.pack({ type: "cancel", jobIds: ["0mxbgxf6y-b47f8c662248", TRAVERSAL] })), refused);
  const fine = { type: "cancel", jobIds: ["0mxbgxf6y-b47f8c662248"] };
  assert.deepEqual(decodeSupervisorMessage(encodeMessage(fine as never)), fine);
});
