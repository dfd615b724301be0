import { MalocherError } from "./malocher-error.js";
import type { AgentMessage, SupervisorMessage } from "./messages.js";
import { packRecord, unpackRecord } from "./record-codec.js";
import { isAgentId, isJobId } from "./job-id.js";
import { booleanField, bytesField, numberField, recordField, stringArrayField, stringField, stringMapField } from "./record-fields.js";
import { retryReason, type RetryReason } from "./retry-reason.js";

/** Encodes a message of either direction. */
export function encodeMessage(message: AgentMessage | SupervisorMessage): Uint8Array {
  return packRecord(message);
}

/**
 * A batch frame's messages together stay under this size, far below a frame's limit
 * (`MAX_FRAME_BYTES`): a message larger than it travels in a frame of its own.
 */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * Encodes an agent's messages into as few frames as fit: one message is a frame as
 * {@link encodeMessage} makes it; several are one `batch` frame that carries each one's encoding.
 * Read with {@link decodeAgentFrame}.
 */
export function encodeAgentFrames(messages: readonly AgentMessage[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  const close = () => {
    if (batch.length === 1) frames.push(batch[0]!);
    else if (batch.length > 1) frames.push(packRecord({ type: "batch", messages: batch }));
    batch = [];
    batchBytes = 0;
  };
  for (const message of messages) {
    const encoded = encodeMessage(message);
    if (batchBytes + encoded.length > MAX_BATCH_BYTES) close();
    batch.push(encoded);
    batchBytes += encoded.length;
  }
  close();
  return frames;
}

/**
 * Decodes and validates a frame from an agent after its `hello`: one message, or a `batch` of
 * them (each checked as a frame of its own; a batch holds no batch and no `hello`). Throws
 * `PROTOCOL_ERROR` on anything else.
 */
export function decodeAgentFrame(bytes: Uint8Array): AgentMessage[] {
  return decodeWith(bytes, (record, type) => {
    if (type !== "batch") {
      const message = readAgentMessage(record, type);
      return message === undefined ? undefined : [message];
    }
    const parts = record["messages"];
    if (!Array.isArray(parts) || parts.length === 0 || !parts.every((part) => part instanceof Uint8Array)) {
      throw new TypeError(`field "messages" must hold encoded messages`);
    }
    return parts.map((part: Uint8Array) => {
      const message = decodeAgentMessage(part);
      if (message.type === "hello") throw new TypeError("a hello travels alone");
      return message;
    });
  });
}

/** Decodes and validates one message from an agent; throws `PROTOCOL_ERROR` on anything else (a `batch` too: see {@link decodeAgentFrame}). */
export function decodeAgentMessage(bytes: Uint8Array): AgentMessage {
  return decodeWith(bytes, readAgentMessage);
}

function readAgentMessage(record: Record<string, unknown>, type: string): AgentMessage | undefined {
  switch (type) {
    case "hello":
      return {
        type,
        agentId: agentIdField(record, "agentId"),
        host: stringField(record, "host"),
        hostname: stringField(record, "hostname"),
        pid: numberField(record, "pid"),
        slots: numberField(record, "slots"),
        version: stringField(record, "version"),
        protocolVersion: numberField(record, "protocolVersion"),
      };
    case "warm":
      return { type };
    case "heartbeat":
      return {
        type,
        running: numberField(record, "running"),
        load: numberField(record, "load"),
        ...(record["cpu"] === undefined ? {} : { cpu: numberField(record, "cpu") }),
        ...(record["memoryUsed"] === undefined ? {} : { memoryUsed: numberField(record, "memoryUsed") }),
        ...(record["memoryTotal"] === undefined ? {} : { memoryTotal: numberField(record, "memoryTotal") }),
        ...(record["longestKillGraceMs"] === undefined ? {} : { longestKillGraceMs: numberField(record, "longestKillGraceMs") }),
      };
    case "jobStarted":
      return { type, jobId: jobIdField(record, "jobId"), attempt: numberField(record, "attempt"), ...(record["slot"] === undefined ? {} : { slot: numberField(record, "slot") }) };
    case "jobFinished":
      return {
        type,
        jobId: jobIdField(record, "jobId"),
        ok: booleanField(record, "ok"),
        durationMs: numberField(record, "durationMs"),
        ...(record["resultFile"] === undefined ? {} : { resultFile: bytesField(record, "resultFile") }),
      };
    case "jobRetrying":
      return { type, jobId: jobIdField(record, "jobId"), attempt: numberField(record, "attempt"), notBefore: numberField(record, "notBefore"), error: retryReasonField(record, "error") };
    case "misfit":
      return { type, jobId: jobIdField(record, "jobId"), reason: stringField(record, "reason") };
    case "dependentsSettled":
      return { type, jobId: jobIdField(record, "jobId"), queued: jobIdsField(record, "queued"), failed: jobIdsField(record, "failed") };
    case "jobsRequeued":
      return { type, jobIds: jobIdsField(record, "jobIds"), reason: stringField(record, "reason") };
    case "bye":
      return { type, reason: stringField(record, "reason") };
    default:
      return undefined;
  }
}

/** Decodes and validates a frame from a supervisor; throws `PROTOCOL_ERROR` on anything else. */
export function decodeSupervisorMessage(bytes: Uint8Array): SupervisorMessage {
  return decodeWith(bytes, (record, type) => {
    switch (type) {
      case "welcome": {
        const settings = recordField(record, "settings");
        return {
          type,
          ...(record["onlyJobs"] === undefined ? {} : { onlyJobs: jobIdsField(record, "onlyJobs") }),
          settings: {
            timeoutMs: numberField(settings, "timeoutMs"),
            retries: numberField(settings, "retries"),
            retryOnError: booleanField(settings, "retryOnError"),
            killGraceMs: numberField(settings, "killGraceMs"),
            drainTimeoutMs: numberField(settings, "drainTimeoutMs"),
            maxJobsPerWorker: numberField(settings, "maxJobsPerWorker"),
            maxWorkerMemoryMb: numberField(settings, "maxWorkerMemoryMb"),
            maxLogBytes: numberField(settings, "maxLogBytes"),
            env: stringMapField(settings, "env"),
            ...(settings["cwd"] === undefined ? {} : { cwd: stringField(settings, "cwd") }),
          },
        };
      }
      case "nudge":
        return record["jobIds"] === undefined ? { type } : { type, jobIds: jobIdsField(record, "jobIds") };
      case "drain":
        return { type };
      case "cancel":
        return { type, jobIds: jobIdsField(record, "jobIds") };
      case "stop":
        return { type, reason: stringField(record, "reason") };
      default:
        return undefined;
    }
  });
}

function decodeWith<T>(
  bytes: Uint8Array,
  read: (record: Record<string, unknown>, type: string) => T | undefined,
): T {
  let type = "?";
  try {
    const record = unpackRecord(bytes);
    type = stringField(record, "type");
    const message = read(record, type);
    if (message === undefined) throw new TypeError("unknown message type");
    return message;
  } catch (error) {
    if (error instanceof MalocherError && error.code === "PROTOCOL_ERROR") throw error; // a message of a batch: it says what is wrong with it
    throw new MalocherError("PROTOCOL_ERROR", `Malformed "${type}" frame: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Ids name files in the shared directory, so every id a message carries is checked at this
 * boundary: a peer that holds the token must still not make the other side touch
 * `0123456789/../../../tmp/x`.
 */
function jobIdField(record: Record<string, unknown>, key: string): string {
  const value = stringField(record, key);
  if (!isJobId(value)) throw new TypeError(`field "${key}" is not a job id: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

function jobIdsField(record: Record<string, unknown>, key: string): string[] {
  const values = stringArrayField(record, key);
  const bad = values.find((value) => !isJobId(value));
  if (bad !== undefined) throw new TypeError(`field "${key}" holds something that is not a job id: ${JSON.stringify(bad.slice(0, 80))}`);
  return values;
}

/** A failure's code and message as a retry's reason (its message's first line, cut: see `retryReason`). */
function retryReasonField(record: Record<string, unknown>, key: string): RetryReason {
  const reason = recordField(record, key);
  return retryReason(stringField(reason, "code"), stringField(reason, "message"));
}

function agentIdField(record: Record<string, unknown>, key: string): string {
  const value = stringField(record, key);
  if (!isAgentId(value)) throw new TypeError(`field "${key}" is not an agent id: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}
