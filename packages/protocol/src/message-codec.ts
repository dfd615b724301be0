import { MalocherError } from "./malocher-error.js";
import type { AgentMessage, SupervisorMessage } from "./messages.js";
import { packRecord, unpackRecord } from "./record-codec.js";
import { booleanField, bytesField, numberField, recordField, stringArrayField, stringField, stringMapField } from "./record-fields.js";

/** Encodes a message of either direction. */
export function encodeMessage(message: AgentMessage | SupervisorMessage): Uint8Array {
  return packRecord(message);
}

/** Decodes and validates a frame from an agent; throws `PROTOCOL_ERROR` on anything else. */
export function decodeAgentMessage(bytes: Uint8Array): AgentMessage {
  return decodeWith(bytes, (record, type) => {
    switch (type) {
      case "hello":
        return {
          type,
          agentId: stringField(record, "agentId"),
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
        };
      case "jobStarted":
        return { type, jobId: stringField(record, "jobId"), attempt: numberField(record, "attempt") };
      case "jobFinished":
        return {
          type,
          jobId: stringField(record, "jobId"),
          ok: booleanField(record, "ok"),
          durationMs: numberField(record, "durationMs"),
          ...(record["resultFile"] === undefined ? {} : { resultFile: bytesField(record, "resultFile") }),
        };
      case "jobRetrying":
        return { type, jobId: stringField(record, "jobId"), attempt: numberField(record, "attempt"), notBefore: numberField(record, "notBefore") };
      case "misfit":
        return { type, jobId: stringField(record, "jobId"), reason: stringField(record, "reason") };
      case "dependentsSettled":
        return { type, jobId: stringField(record, "jobId"), released: stringArrayField(record, "released"), failed: stringArrayField(record, "failed") };
      case "bye":
        return { type, reason: stringField(record, "reason") };
      default:
        return undefined;
    }
  });
}

/** Decodes and validates a frame from a supervisor; throws `PROTOCOL_ERROR` on anything else. */
export function decodeSupervisorMessage(bytes: Uint8Array): SupervisorMessage {
  return decodeWith(bytes, (record, type) => {
    switch (type) {
      case "welcome": {
        const settings = recordField(record, "settings");
        return {
          type,
          ...(record["onlyJobs"] === undefined ? {} : { onlyJobs: stringArrayField(record, "onlyJobs") }),
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
      case "drain":
        return { type };
      case "cancel":
        return { type, jobIds: stringArrayField(record, "jobIds") };
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
    throw new MalocherError("PROTOCOL_ERROR", `Malformed "${type}" frame: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
